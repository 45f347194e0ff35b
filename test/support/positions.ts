/** Matchers for the stream positions every join reply and event carries (SPEC.md §11, docs/protocol.md). */

/** Where a stream is, in a join's reply: `offset` and `epoch`. */
export const anyPosition = (): { offset: unknown; epoch: unknown } => ({
  offset: expect.any(Number),
  epoch: expect.stringMatching(/^[0-9a-z]{8}$/),
});

/** The fields a one-stream event carries: `stream`, `offset`, `epoch`. */
export const inStream = (stream: string): { stream: string; offset: unknown; epoch: unknown } => ({
  stream,
  ...anyPosition(),
});

type Frame = Record<string, any>;

/**
 * An event frame with its position fields checked for form and taken off, so that tests of a seed's
 * own fields compare exactly what the seed defines (the recovery tests check the positions themselves).
 */
export function seedFields(frame: Frame): Frame {
  const { stream, offset, epoch, positions, ...seed } = frame;
  if (positions !== undefined) {
    for (const position of Object.values(positions as Record<string, any>)) expectPosition(position);
    return seed;
  }
  if (stream === undefined && offset === undefined && epoch === undefined) return frame;
  expect(typeof stream).toBe('string');
  expectPosition({ offset, epoch });
  return seed;
}

function expectPosition(position: any): void {
  expect(position).toEqual(anyPosition());
  expect(Number.isSafeInteger(position.offset) && position.offset > 0).toBe(true);
}
