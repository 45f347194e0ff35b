import { Inject, Injectable } from '@nestjs/common';
import { REALTIME_CONFIG, type RealtimeConfig } from '../config/index.js';
import { RealtimeError } from '../core/gateway/index.js';

const DOCS_OFF = RealtimeError.notFound('API documents are off');

/** `apiDocs: false` turns every document route into a 404. */
@Injectable()
export class ApiDocsSwitch {
  constructor(@Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig) {}

  ensureOn(): void {
    if (!this.config.apiDocs) throw DOCS_OFF;
  }
}
