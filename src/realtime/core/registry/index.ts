export { describeConnection, type ClientDescriptor } from './client-descriptor.js';
export { ConnectionRegistry, type ClientFilter, type MembershipChange } from './connection-registry.service.js';
export { Fanout } from './fanout.service.js';
export { TopicLimit } from './topic-limit.service.js';
export { GatewayPublisher, RealtimeTopics, type JoinPosition } from './realtime-topics.service.js';
export type { Joined, JoinedStream, StreamJoin } from './join-answer.js';
export { NOTHING_FOLLOWS, openWith, positionFields, sendThen, type ReplyThen } from './join-reply.js';
