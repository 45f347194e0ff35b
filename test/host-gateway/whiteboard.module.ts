import { Module } from '@nestjs/common';
import { AnsweredByInterceptor, WhiteboardGateway, EditorGuard } from './whiteboard.gateway.js';

/**
 * The host's own module: it imports nothing of the realtime module's internals and registers its
 * gateway as any Nest gateway, beside `RealtimeModule.forRoot(…)` (global, so `RealtimeTopics` is injectable).
 */
@Module({ providers: [WhiteboardGateway, EditorGuard, AnsweredByInterceptor] })
export class WhiteboardModule {}
