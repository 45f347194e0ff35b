export { ClusterPresence, type LeaveCause } from './cluster-presence.service.js';
export { ClusterView } from './cluster-view.service.js';
export { UserSlot, UserSlots } from './user-slots.service.js';
