import { Injectable, type INestApplication } from '@nestjs/common';

/**
 * The application the module runs in, as `RealtimeWsAdapter` is given it: what needs the whole
 * application (scanning its controllers for the OpenAPI document) reads it from here.
 */
@Injectable()
export class ApplicationRef {
  app?: INestApplication;
}
