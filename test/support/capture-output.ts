/** What the process prints while a test runs, and the checks that nothing in it tells of a crash. */

export interface Captured {
  lines: string[];
  restore(): void;
}

/** Captures what the process writes to stdout/stderr (the Nest logger, console, crashes). */
export function captureOutput(): Captured {
  const lines: string[] = [];
  const streams = [process.stdout, process.stderr];
  const originals = streams.map((stream) => stream.write);
  for (const stream of streams) {
    stream.write = (chunk: unknown, ...rest: unknown[]) => {
      lines.push(...String(chunk).split('\n'));
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    };
  }
  return {
    lines,
    restore: () => streams.forEach((stream, i) => (stream.write = originals[i])),
  };
}

export const STACK_LINE = /^\s+at\s/;

/** No stack trace in `output`. */
export function expectNoStack(output: Captured): void {
  expect(output.lines.filter((line) => STACK_LINE.test(line))).toEqual([]);
}

/** No stack trace, unhandled error or internal-error log in `output`. */
export function expectNoCrash(output: Captured): void {
  expectNoStack(output);
  expect(output.lines.filter((line) => /Unhandled|handler_failed|Internal server error/.test(line))).toEqual([]);
}

/** Nothing a hostile frame sent put these keys on `Object.prototype`. */
export function expectUnpolluted(keys: readonly string[]): void {
  for (const key of keys) expect(({} as Record<string, unknown>)[key]).toBeUndefined();
}
