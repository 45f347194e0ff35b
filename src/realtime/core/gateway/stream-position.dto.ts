import { IsInt, IsNotEmpty, IsString, Max, MaxLength, Min } from 'class-validator';

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
