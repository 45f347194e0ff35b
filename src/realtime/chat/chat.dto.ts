import { Type } from 'class-transformer';
import { IsDefined, IsNotEmpty, IsObject, IsString, ValidateNested } from 'class-validator';

/** `join_room` / `leave_room`: a frame that names a room. */
export class RoomFrameDto {
  @IsDefined({ message: 'Missing room' })
  @IsString({ message: 'room must be a string' })
  room!: string;
}

export class MessageDataDto {
  @IsString({ message: 'Invalid content: content must be a string' })
  @IsNotEmpty({ message: 'Invalid content: content must not be empty' })
  content!: string;
}

/** `send_message`: a room and `data.content`. */
export class SendMessageFrameDto extends RoomFrameDto {
  @IsDefined({ message: 'Invalid content: data.content is required' })
  @IsObject({ message: 'Invalid content: data must be an object' })
  @ValidateNested()
  @Type(() => MessageDataDto)
  data!: MessageDataDto;
}
