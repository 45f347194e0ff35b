import type { PublishReceipt } from '../bus/index.js';
import { RealtimeError } from '../core/gateway/index.js';

/** The status of `POST /ws/publish` or `/ws/send-message` that waits for Redis: accepted, not stored yet. */
export const BUFFERED_STATUS = 202;

export const NOT_STORED = new RealtimeError(
  'unavailable',
  'Not stored: Redis failed while the event was being stored; it may or may not have been published, retry',
);

/**
 * How a REST publish answers with its receipt (issue 26: an acknowledged publish is never lost): 200
 * once stored, with the event's positions (when history is on); 202 `buffered` while Redis is away;
 * a 503 when Redis failed while storing it.
 */
export function receiptFields(receipt: PublishReceipt): { stored: true; positions?: object } | { buffered: true } {
  if (receipt.status === 'failed') throw NOT_STORED;
  if (receipt.status === 'buffered') return { buffered: true };
  return receipt.positions ? { stored: true, positions: receipt.positions } : { stored: true };
}

/** The platform's response, as far as setting a status goes (Express and Fastify both have it). */
export interface StatusSettable {
  status(code: number): unknown;
}

/** 202 for a buffered publish; the 200 of the route otherwise. */
export function answerStatus(response: StatusSettable, fields: object): void {
  if ('buffered' in fields) response.status(BUFFERED_STATUS);
}
