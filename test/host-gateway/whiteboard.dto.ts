import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { SinceField, StreamPositionDto } from '../../src/realtime/index.js';

export class JoinFrameDto {
  @IsIn(['join'])
  type!: 'join';

  @IsOptional()
  @IsString()
  @MaxLength(64)
  id?: string;

  /** Where the client's copy of the document's cursors stopped: the events after it are sent first. */
  @SinceField()
  since?: StreamPositionDto;
}

export class MoveFrameDto {
  @IsIn(['move'])
  type!: 'move';

  @IsOptional()
  @IsString()
  @MaxLength(64)
  id?: string;

  @Max(100_000, { message: 'x is too large' })
  @Min(0, { message: 'x must not be negative' })
  @IsInt({ message: 'x must be an integer' })
  x!: number;

  @Max(100_000, { message: 'y is too large' })
  @Min(0, { message: 'y must not be negative' })
  @IsInt({ message: 'y must be an integer' })
  y!: number;
}
