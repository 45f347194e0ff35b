import { ApiProperty } from '@nestjs/swagger';

/** Every failure of the module's REST routes (`RealtimeHttpExceptionFilter`), as OpenAPI shows it. */
export class ErrorBody {
  @ApiProperty({ example: 400 })
  statusCode!: number;

  @ApiProperty({ description: "The status's reason phrase", example: 'Bad Request' })
  error!: string;

  @ApiProperty({ type: [String], description: 'Every reason', example: ['limit must not be less than 1'] })
  message!: string[];
}
