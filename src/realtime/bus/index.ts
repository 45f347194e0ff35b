export {
  EVENT_BUS,
  type BusHandler,
  type BusMessage,
  type BusStatus,
  type EventBus,
  type PublishReceipt,
} from './event-bus.js';
export { eventBusProvider } from './event-bus.provider.js';
export { EventBusLifecycle } from './event-bus.lifecycle.js';
export { BusCounters } from './event-bus.js';
export { StreamStyles } from './stream-styles.js';
export {
  BROADCAST,
  type HistoryEntry,
  type HistoryRead,
  type PositionStyle,
  type Positions,
  type ResumeFrom,
  type StreamPosition,
} from './stream-position.js';
