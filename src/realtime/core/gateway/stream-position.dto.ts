import { applyDecorators } from '@nestjs/common';
import { Type } from 'class-transformer';
import {
  IsInt,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';

/** A position a client resumes a stream from (SPEC.md §11), in any gateway's frames. */
export class StreamPositionDto {
  @IsInt({ message: 'since.offset must be an integer' })
  @Min(0, { message: 'since.offset must not be negative' })
  @Max(Number.MAX_SAFE_INTEGER, { message: 'since.offset is too large' })
  offset!: number;

  @IsString({ message: 'since.epoch must be a string' })
  @IsNotEmpty({ message: 'since.epoch must not be empty' })
  @MaxLength(64, { message: 'since.epoch is too long' })
  epoch!: string;
}

/** An optional `since` field of a frame or of its params: a `StreamPositionDto`, validated whole. */
export const SinceField = (): PropertyDecorator =>
  applyDecorators(
    IsOptional(),
    IsObject({ message: 'since must be an object' }),
    ValidateNested(),
    Type(() => StreamPositionDto),
  );
