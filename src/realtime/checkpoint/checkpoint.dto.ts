import {
  IsDefined,
  IsInt,
  IsOptional,
  IsString,
  MaxLength,
  Min,
  Validate,
  ValidatorConstraint,
  type ValidationArguments,
  type ValidatorConstraintInterface,
} from 'class-validator';
import { SinceField, type StreamPositionDto } from '../core/gateway/index.js';
import { UUID } from './checkpoint-events.js';

/** Seed 003's two session_id errors: absent (or not a string) and not a UUID. */
@ValidatorConstraint({ name: 'sessionId' })
class SessionIdConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value === 'string' && UUID.test(value);
  }

  defaultMessage(args: ValidationArguments): string {
    return typeof args.value === 'string' ? 'Invalid session_id format' : 'Missing session_id parameter';
  }
}

export class AuthenticateParams {
  @IsDefined({ message: 'Invalid authentication token' })
  token!: unknown;
}

export class CreateSessionParams {
  @IsOptional()
  @IsString({ message: 'name must be a string' })
  @MaxLength(256, { message: 'name must be at most 256 characters' })
  name?: string;
}

export class SessionParams {
  @Validate(SessionIdConstraint)
  session_id!: string;
}

/** `subscribe`: a session, and optionally the last position the client saw in it (SPEC.md §11). */
export class SubscribeParams extends SessionParams {
  @SinceField()
  since?: StreamPositionDto;
}

export class CheckpointParams extends SessionParams {
  @IsOptional()
  @IsString({ message: 'message must be a string' })
  @MaxLength(4096, { message: 'message must be at most 4096 characters' })
  message?: string;

  @IsOptional()
  state?: unknown;
}

export class CheckpointRefParams extends SessionParams {
  @IsString({ message: 'Missing checkpoint_id parameter' })
  checkpoint_id!: string;
}

export class CompactParams extends SessionParams {
  @IsInt({ message: 'keep must be an integer' })
  @Min(0, { message: 'keep must be at least 0' })
  keep!: number;
}
