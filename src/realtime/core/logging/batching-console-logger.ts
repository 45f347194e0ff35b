import { ConsoleLogger, type ConsoleLoggerOptions, type LogLevel } from '@nestjs/common';

type Stream = 'stdout' | 'stderr';

/** How long a line may wait for the ones after it. */
const FLUSH_INTERVAL_MS = 20;

/**
 * Nest's `ConsoleLogger`, with its lines written in batches: the stream is corked at a line and
 * uncorked 20 ms later (or when the process exits), so that a burst of connects costs one `write`
 * to the log pipe, not one per line (a line's syscall was a tenth of a connect's CPU). Timestamps,
 * which have a second's resolution, are formatted once per second, and colours are only on for a
 * terminal (not for a pipe to a log shipper) unless `colors` says otherwise.
 */
export class BatchingConsoleLogger extends ConsoleLogger {
  private static readonly corked = new Set<Stream>();
  private static exitHooked = false;
  private static timestampSecond = -1;
  private static timestamp = '';

  constructor(context: string, options: ConsoleLoggerOptions = {}) {
    const terminal = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
    super(context, { colors: !options.json && terminal, ...options });
  }

  protected override printMessages(
    messages: unknown[],
    context?: string,
    logLevel?: LogLevel,
    writeStreamType?: Stream,
    errorStack?: unknown,
    params?: Record<string, unknown>,
  ): void {
    if (!this.options.forceConsole) BatchingConsoleLogger.corkUntilFlush(writeStreamType ?? 'stdout');
    super.printMessages(messages, context, logLevel, writeStreamType, errorStack, params);
  }

  protected override getTimestamp(): string {
    const second = Math.floor(Date.now() / 1000);
    if (second !== BatchingConsoleLogger.timestampSecond) {
      BatchingConsoleLogger.timestampSecond = second;
      BatchingConsoleLogger.timestamp = super.getTimestamp();
    }
    return BatchingConsoleLogger.timestamp;
  }

  private static corkUntilFlush(stream: Stream): void {
    if (this.corked.has(stream)) return;
    // An unref'd timer: a process with nothing else to do exits, and its exit flushes.
    if (this.corked.size === 0) setTimeout(() => this.uncorkAll(), FLUSH_INTERVAL_MS).unref();
    if (!this.exitHooked) {
      this.exitHooked = true;
      // Writes to pipes and files are synchronous at exit: nothing corked is lost.
      process.on('exit', () => this.uncorkAll());
    }
    this.corked.add(stream);
    process[stream].cork();
  }

  private static uncorkAll(): void {
    for (const stream of this.corked) process[stream].uncork();
    this.corked.clear();
  }
}
