export { ClusterPresence, type VanishedListener } from './cluster-presence.service.js';
export { ClusterView, type ClusterTiming } from './cluster-view.service.js';
export { UserSlot, UserSlots } from './user-slots.service.js';
