import { Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AUTH_REQUIRED, RealtimeError, type InboundFrame } from '../core/gateway/index.js';
import type { Connection } from '../core/transport/index.js';
import { CheckpointRpc } from './checkpoint-rpc.service.js';

const OPEN_METHOD = 'checkpoint:open-method';

/** Marks the one method a connection may call before it is authenticated. */
export const OpenMethod = (): MethodDecorator => SetMetadata(OPEN_METHOD, true);

/**
 * Before any method runs (and before its params are validated): the request is counted, `params`
 * must be an object when present, and only `authenticate` is open to an unauthenticated connection.
 */
@Injectable()
export class CheckpointRequestGuard implements CanActivate {
  constructor(
    private readonly rpc: CheckpointRpc,
    private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const ws = context.switchToWs();
    const connection = ws.getClient<Connection>();
    const params = ws.getData<InboundFrame>().params;
    this.rpc.countRequest();
    if (!this.reflector.get<boolean>(OPEN_METHOD, context.getHandler()) && !this.rpc.isAuthenticated(connection)) {
      throw AUTH_REQUIRED;
    }
    if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params))) {
      throw RealtimeError.badFrame('params must be an object');
    }
    return true;
  }
}
