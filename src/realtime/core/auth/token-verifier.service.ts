import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { REALTIME_CONFIG, type RealtimeConfig } from '../../config/index.js';
import { isRecord } from '../text/json-decode.js';
import { JwksKeys } from './jwks-keys.js';
import { principalOf, type Principal } from './principal.js';

const RSA_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
const EC_ALGORITHMS = ['ES256', 'ES384', 'ES512'];

/** A verification's outcome: synchronous for a known key, a promise when a key set must be fetched first. */
export type Verified = Principal | undefined | Promise<Principal | undefined>;

/**
 * Verifies JWTs against a static key (`JWT_SECRET` for HS256, `JWT_PUBLIC_KEY`) or the provider's
 * key set (`JWT_JWKS_URL`, chosen by `kid`). Keys are `crypto.KeyObject`s built once (HS256 with a
 * string secret costs ~30× more per call), and the accepted algorithms follow each key's type, so
 * `alg: none` and algorithm confusion never verify.
 * @publicApi
 */
@Injectable()
export class TokenVerifier implements OnModuleInit {
  private readonly jwt: JwtService;
  /** None when no key is configured (a host authenticator decides alone): every token is then invalid. */
  private readonly staticKey?: { key: KeyObject; algorithms: string[] };
  private readonly jwks?: JwksKeys;

  constructor(@Inject(REALTIME_CONFIG) config: RealtimeConfig) {
    const { publicKey, secret, issuer, audience, clockToleranceSec, jwks } = config.auth;
    if (jwks) {
      this.jwks = new JwksKeys(jwks);
    } else if (publicKey) {
      const key = createPublicKey(publicKey.replace(/\\n/g, '\n'));
      this.staticKey = { key, algorithms: algorithmsOf(key) };
    } else if (secret) {
      this.staticKey = { key: createSecretKey(Buffer.from(secret)), algorithms: ['HS256'] };
    }
    this.jwt = new JwtService({
      verifyOptions: {
        issuer: issuer || undefined,
        audience: audience || undefined,
        clockTolerance: clockToleranceSec,
      },
    });
  }

  /** The provider's keys are fetched before the first upgrade (a provider that is down is retried later). */
  async onModuleInit(): Promise<void> {
    await this.jwks?.lookup(undefined);
  }

  /** Key set fetches, for `/metrics` (undefined without JWKS). */
  get jwksCounters(): JwksKeys['counters'] | undefined {
    return this.jwks?.counters;
  }

  /** The principal of a valid token, or undefined for any invalid, expired or unsigned one. */
  verify(token: string): Verified {
    if (this.staticKey) return this.check(token, this.staticKey.key, this.staticKey.algorithms);
    const jwks = this.jwks;
    if (!jwks) return undefined;
    const kid = keyIdOf(token);
    if (kid === null) return undefined;
    const key = jwks.known(kid);
    if (key) return this.check(token, key, algorithmsOf(key));
    return jwks.lookup(kid).then((found) => (found ? this.check(token, found, algorithmsOf(found)) : undefined));
  }

  private check(token: string, key: KeyObject, algorithms: string[]): Principal | undefined {
    try {
      return principalOf(
        this.jwt.verify<Record<string, unknown>>(token, { secret: key as never, algorithms: algorithms as never }),
      );
    } catch {
      return undefined;
    }
  }
}

function algorithmsOf(key: KeyObject): string[] {
  if (key.type === 'secret') return ['HS256'];
  return key.asymmetricKeyType === 'ec' ? EC_ALGORITHMS : RSA_ALGORITHMS;
}

/** The header's `kid` (undefined when absent), or null for a token whose header is not readable. */
function keyIdOf(token: string): string | undefined | null {
  const dot = token.indexOf('.');
  if (dot <= 0 || dot > 4096) return null;
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString());
    if (!isRecord(header)) return null;
    if (header.kid === undefined) return undefined;
    return typeof header.kid === 'string' ? header.kid : null;
  } catch {
    return null;
  }
}
