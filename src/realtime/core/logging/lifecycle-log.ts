import { Logger } from '@nestjs/common';

type Fields = Record<string, string | number | boolean | undefined>;

/**
 * Structured lifecycle and security events as `event key=value …` lines (JSON lines with
 * `LOG_FORMAT=json`). Callers pass fields, never raw URLs or headers, so no token is logged.
 */
export class LifecycleLog {
  private readonly logger = new Logger('Realtime');

  info(event: string, fields: Fields): void {
    this.logger.log(format(event, fields));
  }

  security(event: string, fields: Fields): void {
    this.logger.warn(format(`security.${event}`, fields));
  }

  error(event: string, fields: Fields): void {
    this.logger.error(format(event, fields));
  }
}

function format(event: string, fields: Fields): string {
  let line = event;
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const text = String(value);
    line += ` ${key}=${/[\s"=]/.test(text) ? JSON.stringify(text) : text}`;
  }
  return line;
}
