import { UseGuards } from '@nestjs/common';
import { ConnectedSocket, MessageBody, SubscribeMessage } from '@nestjs/websockets';
import {
  FALLBACK_HANDLER,
  framePipe,
  RealtimeError,
  RealtimeGateway,
  type InboundFrame,
} from '../core/gateway/index.js';
import type { Connection } from '../core/transport/index.js';
import { sendThen } from '../core/registry/index.js';
import { CheckpointRequestGuard, OpenMethod } from './checkpoint-request.guard.js';
import { CheckpointRpc } from './checkpoint-rpc.service.js';
import { CHECKPOINT_GATEWAY, type RpcResponse } from './checkpoint.definition.js';
import {
  AuthenticateParams,
  CheckpointParams,
  CheckpointRefParams,
  CompactParams,
  CreateSessionParams,
  SessionParams,
  SubscribeParams,
} from './checkpoint.dto.js';
import { CheckpointService } from './checkpoint.service.js';

/** Absent `params` are `{}` (seed 003 defaults every parameter). */
const emptyParams = { transform: (params: unknown): unknown => params ?? {} };

/** The request's `params`, validated by its method's DTO. */
/** Seed 003 checks `session_id` before any other parameter. */
const paramsPipe = framePipe(['session_id']);

const Params = (): ParameterDecorator => MessageBody('params', emptyParams, paramsPipe);

/**
 * `/ws/checkpoints`: seed 003's JSON-RPC over WebSocket (SPEC.md §5), every method of its service,
 * each for the connection's principal (the service decides what that principal may see).
 */
@RealtimeGateway(CHECKPOINT_GATEWAY)
@UseGuards(CheckpointRequestGuard)
export class CheckpointGateway {
  constructor(
    private readonly rpc: CheckpointRpc,
    private readonly checkpoints: CheckpointService,
  ) {}

  @OpenMethod()
  @SubscribeMessage('authenticate')
  async authenticate(
    @ConnectedSocket() connection: Connection,
    @MessageBody() frame: InboundFrame,
    @Params() params: AuthenticateParams,
  ): Promise<RpcResponse> {
    return ok(frame, await this.rpc.authenticate(connection, params.token));
  }

  @SubscribeMessage('create_session')
  async createSession(
    @ConnectedSocket() connection: Connection,
    @MessageBody() frame: InboundFrame,
    @Params() params: CreateSessionParams,
  ): Promise<RpcResponse> {
    return ok(frame, await this.checkpoints.createSession(params.name, this.rpc.principal(connection)));
  }

  @SubscribeMessage('list_checkpoints')
  async list(
    @ConnectedSocket() connection: Connection,
    @MessageBody() frame: InboundFrame,
    @Params() params: SessionParams,
  ): Promise<RpcResponse> {
    return ok(frame, await this.checkpoints.listCheckpoints(params.session_id, this.rpc.principal(connection)));
  }

  @SubscribeMessage('checkpoint')
  async checkpoint(
    @ConnectedSocket() connection: Connection,
    @MessageBody() frame: InboundFrame,
    @Params() params: CheckpointParams,
  ): Promise<RpcResponse> {
    const { session_id, message, state } = params;
    return ok(frame, await this.checkpoints.checkpoint(session_id, message, state, this.rpc.principal(connection)));
  }

  @SubscribeMessage('restore')
  async restore(
    @ConnectedSocket() connection: Connection,
    @MessageBody() frame: InboundFrame,
    @Params() params: CheckpointRefParams,
  ): Promise<RpcResponse> {
    const { session_id, checkpoint_id } = params;
    return ok(frame, await this.checkpoints.restore(session_id, checkpoint_id, this.rpc.principal(connection)));
  }

  @SubscribeMessage('delete_checkpoint')
  async delete(
    @ConnectedSocket() connection: Connection,
    @MessageBody() frame: InboundFrame,
    @Params() params: CheckpointRefParams,
  ): Promise<RpcResponse> {
    await this.checkpoints.deleteCheckpoint(params.session_id, params.checkpoint_id, this.rpc.principal(connection));
    return ok(frame, { deleted: true });
  }

  @SubscribeMessage('compact')
  async compact(
    @ConnectedSocket() connection: Connection,
    @MessageBody() frame: InboundFrame,
    @Params() params: CompactParams,
  ): Promise<RpcResponse> {
    const remaining = await this.checkpoints.compact(params.session_id, params.keep, this.rpc.principal(connection));
    return ok(frame, { remaining });
  }

  /** The response, then the events missed since `params.since` (SPEC.md §11). */
  @SubscribeMessage('subscribe')
  async subscribe(
    @ConnectedSocket() connection: Connection,
    @MessageBody() frame: InboundFrame,
    @Params() params: SubscribeParams,
  ): Promise<void> {
    const { reply, release } = await this.rpc.subscribe(connection, params.session_id, params.since);
    sendThen(connection, { reply: ok(frame, reply), release });
  }

  @SubscribeMessage('unsubscribe')
  unsubscribe(
    @ConnectedSocket() connection: Connection,
    @MessageBody() frame: InboundFrame,
    @Params() params: SessionParams,
  ): RpcResponse {
    return ok(frame, this.rpc.unsubscribe(connection, params.session_id));
  }

  /** Any other method: unknown, but only an authenticated connection may learn that (the guard). */
  @SubscribeMessage(FALLBACK_HANDLER)
  unknown(@MessageBody() frame: InboundFrame): never {
    throw new RealtimeError('unknown_type', `Unknown method: ${String(frame.method)}`);
  }

  @SubscribeMessage('metrics')
  async metrics(@MessageBody() frame: InboundFrame): Promise<RpcResponse> {
    return ok(frame, await this.rpc.metrics());
  }
}

function ok(frame: InboundFrame, result: unknown): RpcResponse {
  return { id: frame.id as string, success: true, result };
}
