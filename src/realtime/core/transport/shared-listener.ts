/**
 * One event listener for every emitter of a kind: `handle` gets the emitter the event came from
 * (and the event's first two arguments), so that no emitter keeps a closure of its own.
 */
export function sharedListener<Emitter, A = undefined, B = undefined>(
  handle: (emitter: Emitter, a: A, b: B) => void,
): (this: Emitter, a: A, b: B) => void {
  return function (this: Emitter, a: A, b: B): void {
    handle(this, a, b);
  };
}
