import { OwnedIds } from '../core/cluster/owned-ids.service.js';
import type { RealtimeFeature } from '../core/gateway/index.js';
import { NotifyGateway } from './notify.gateway.js';
import { NotifyPublisher } from './notify.publisher.js';
import { NotifyService } from './notify.service.js';
import { SendMessageController } from './send-message.controller.js';

/** The notify gateway as `RealtimeModule` registers it. */
export const NOTIFY_FEATURE: RealtimeFeature = {
  providers: [OwnedIds, NotifyService, NotifyPublisher, NotifyGateway],
  controllers: [SendMessageController],
  exports: [NotifyPublisher],
};
