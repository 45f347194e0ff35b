export type { NotifyFrame, NotifyInbound, NotifyMessage } from './notify-events.js';
export { NOTIFY_FEATURE } from './notify.feature.js';
export { NotifyPublisher, type LogLevel } from './notify.publisher.js';
export type { NotifyOptions } from './notify.options.js';
