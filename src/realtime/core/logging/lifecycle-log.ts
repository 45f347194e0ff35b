import { Logger } from '@nestjs/common';

type Fields = Record<string, string | number | boolean | undefined>;

/**
 * Structured lifecycle and security events as `event key=value …` lines (JSON lines with
 * `LOG_FORMAT=json`). Callers pass fields, never raw URLs or headers, so no token is logged.
 */
export class LifecycleLog {
  private readonly logger = new Logger('Realtime');

  info(event: string, fields: Fields): void {
    // Formatted only when written: a connect's line is on the upgrade path.
    if (Logger.isLevelEnabled('log')) this.logger.log(format(event, fields));
  }

  security(event: string, fields: Fields): void {
    this.logger.warn(format(`security.${event}`, fields));
  }

  error(event: string, fields: Fields): void {
    this.logger.error(format(event, fields));
  }
}

/** Control characters (C0, DEL, C1) and the Unicode line separators: never written raw to a log. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const CONTROLS = new RegExp(CONTROL.source, 'g');

/** `text` with every control character written as a `\uXXXX` escape (no terminal escape injection). */
export function escapeControl(text: string): string {
  return text.replace(CONTROLS, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `key=value`, the value quoted (JSON string syntax) when it has spaces, quotes, `=` or control characters. */
function format(event: string, fields: Fields): string {
  let line = event;
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const text = String(value);
    const plain = !/[\s"=\\]/.test(text) && !CONTROL.test(text);
    line += ` ${key}=${plain ? text : escapeControl(JSON.stringify(text))}`;
  }
  return line;
}
