/** The bounds of the reconnect delay, in milliseconds. */
export interface BackoffOptions {
  /** The shortest delay, and the base of the exponential. @default 500 */
  minDelayMs?: number;
  /** The longest delay. @default 20000 */
  maxDelayMs?: number;
}

export const DEFAULT_MIN_DELAY_MS = 500;
export const DEFAULT_MAX_DELAY_MS = 20_000;

/**
 * The delay before reconnect attempt `attempt` (0 for the first): full jitter applied after the cap,
 *
 *     cap   = min(maxDelayMs, minDelayMs × 2^(attempt + 1))
 *     delay = minDelayMs + random() × (cap − minDelayMs)
 *
 * so every delay lies in [minDelayMs, cap] (the first in [min, 2 × min]: jittered too, or clients that
 * lose one server together would all come back after exactly the minimum), and clients that lost their server together keep
 * spreading their returns over the whole window even once the cap is reached (a client that jitters
 * before capping, as Socket.IO's does, waits exactly the maximum every time from then on).
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const min = options.minDelayMs ?? DEFAULT_MIN_DELAY_MS;
  const max = Math.max(min, options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS);
  const cap = Math.min(max, min * 2 ** Math.min(attempt + 1, 30));
  return min + random() * (cap - min);
}
