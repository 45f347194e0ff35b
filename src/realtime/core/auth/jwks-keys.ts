import { createPublicKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, customFetch } from 'jose';
import type { JwksSettings } from '../../config/index.js';
import { LifecycleLog } from '../logging/lifecycle-log.js';
import { isRecord } from '../text/json-decode.js';

/** A JWKS document larger than this is refused unread (a provider is not expected to publish more). */
const MAX_DOCUMENT_BYTES = 1_048_576;

/** Counted fetches of the key set, for `/metrics`. */
export interface JwksCounters {
  fetched: number;
  failed: number;
}

/**
 * The provider's signing keys (a JWKS endpoint), as `KeyObject`s by `kid`, so that a token whose key
 * is known verifies synchronously like one checked against a static key. `jose`'s remote key set
 * fetches (with its timeout, `Accept` header and shape check) and de-duplicates concurrent fetches;
 * this class decides when: an unknown `kid` fetches again at most once per cooldown (a flood of
 * random `kid`s costs one fetch per cooldown), a stale set is refreshed in the background, and
 * while the provider is unreachable the last set it served keeps working.
 */
export class JwksKeys {
  readonly counters: JwksCounters = { fetched: 0, failed: 0 };
  private keys = new Map<string, KeyObject>();
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private attemptedAt = Number.NEGATIVE_INFINITY;
  private pending?: Promise<void>;
  private readonly remote: ReturnType<typeof createRemoteJWKSet>;
  private readonly log = new LifecycleLog();

  constructor(private readonly settings: JwksSettings) {
    this.remote = createRemoteJWKSet(new URL(settings.url), {
      timeoutDuration: settings.timeoutMs,
      // The class decides when to fetch: jose's own schedule never runs (its key lookup is unused).
      cacheMaxAge: Number.POSITIVE_INFINITY,
      cooldownDuration: 0,
      [customFetch]: boundedFetch,
    });
  }

  /** The key of `kid` when it is known now (no `kid`: the only key, when there is one). */
  known(kid: string | undefined): KeyObject | undefined {
    if (Date.now() - this.fetchedAt > this.settings.cacheMaxAgeMs) void this.fetchIfCool();
    if (kid !== undefined) return this.keys.get(kid);
    return this.keys.size === 1 ? this.keys.values().next().value : undefined;
  }

  /** The key of an unknown `kid` after fetching the set again, when the cooldown allows a fetch. */
  async lookup(kid: string | undefined): Promise<KeyObject | undefined> {
    await this.fetchIfCool();
    return this.known(kid);
  }

  /** Fetches the set (once at a time, at most once per cooldown); failures keep the last set. */
  private fetchIfCool(): Promise<void> {
    if (this.pending) return this.pending;
    if (Date.now() - this.attemptedAt < this.settings.cooldownMs) return Promise.resolve();
    this.attemptedAt = Date.now();
    this.pending = this.remote
      .reload()
      .then(() => {
        const keys = keyObjects(this.remote.jwks());
        if (keys.size === 0) throw new Error('no usable signing key in the JWKS document');
        this.keys = keys;
        this.fetchedAt = Date.now();
        this.counters.fetched++;
      })
      .catch((error: unknown) => {
        // The last good set stays; the failure is counted and logged (at most once per cooldown), and retried after it.
        this.counters.failed++;
        this.log.security('jwks_fetch_failed', {
          reason: error instanceof Error ? error.message : String(error),
          keys_kept: this.keys.size,
        });
      })
      .finally(() => (this.pending = undefined));
    return this.pending;
  }
}

/** The usable public keys of a JWKS document: RSA and EC keys with a `kid` (or the single key without). */
function keyObjects(document: unknown): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  const list: unknown = isRecord(document) ? document.keys : undefined;
  if (!Array.isArray(list)) return keys;
  for (const jwk of list) {
    if (!isRecord(jwk) || (jwk.kty !== 'RSA' && jwk.kty !== 'EC')) continue;
    if (jwk.use !== undefined && jwk.use !== 'sig') continue;
    try {
      const key = createPublicKey({ key: jwk as never, format: 'jwk' });
      keys.set(typeof jwk.kid === 'string' ? jwk.kid : '', key);
    } catch {
      // A key node cannot read is skipped, like one of an unsupported type.
    }
  }
  if (keys.size > 1) keys.delete('');
  return keys;
}

/** `fetch`, refusing a document over `MAX_DOCUMENT_BYTES` without reading more of it. */
async function boundedFetch(url: string, init: RequestInit): Promise<Response> {
  const response = await fetch(url, init);
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > MAX_DOCUMENT_BYTES || !response.body) {
    await response.body?.cancel();
    if (declared > MAX_DOCUMENT_BYTES) throw new Error('JWKS document too large');
    return response;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  // Leaving the loop early cancels the body: the rest of an oversized document is never read.
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > MAX_DOCUMENT_BYTES) throw new Error('JWKS document too large');
    chunks.push(chunk);
  }
  return new Response(Buffer.concat(chunks), { status: response.status, headers: response.headers });
}
