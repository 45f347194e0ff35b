import { Inject, Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { REALTIME_CONFIG, type RealtimeConfig } from '../../config/index.js';
import type { Principal } from './principal.js';
import { clipClientString } from '../text/clip.js';

type Claims = Record<string, unknown>;

const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
] as const;

/**
 * Verifies JWTs for every gateway and the admin API. The key is built once as a
 * `crypto.KeyObject` (HS256 with a string secret costs ~30× more per call), and the accepted
 * algorithms follow the key type, so `alg: none` and algorithm confusion never verify.
 */
@Injectable()
export class TokenVerifier {
  private readonly jwt: JwtService;
  private readonly key: KeyObject;
  private readonly algorithms: string[];

  constructor(@Inject(REALTIME_CONFIG) config: RealtimeConfig) {
    const { publicKey, secret, issuer, audience, clockToleranceSec } = config.auth;
    if (publicKey) {
      this.key = createPublicKey(publicKey.replace(/\\n/g, '\n'));
      this.algorithms = ASYMMETRIC_ALGORITHMS.filter((alg) =>
        this.key.asymmetricKeyType === 'ec' ? alg.startsWith('ES') : !alg.startsWith('ES'),
      );
    } else {
      if (!secret) throw new Error('Realtime auth needs a JWT secret or a public key');
      this.key = createSecretKey(Buffer.from(secret));
      this.algorithms = ['HS256'];
    }
    this.jwt = new JwtService({
      verifyOptions: {
        algorithms: this.algorithms as never,
        issuer: issuer || undefined,
        audience: audience || undefined,
        clockTolerance: clockToleranceSec,
      },
    });
  }

  /** The principal of a valid token, or undefined for any invalid, expired or unsigned one. */
  verify(token: string): Principal | undefined {
    let claims: Claims;
    try {
      claims = this.jwt.verify<Claims>(token, { secret: this.key as never });
    } catch {
      return undefined;
    }
    return toPrincipal(claims);
  }
}

function toPrincipal(claims: Claims): Principal | undefined {
  const sub = claims.sub;
  if ((typeof sub !== 'string' || sub === '') && typeof sub !== 'number') return undefined;
  const roles = Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [];
  const acl = Array.isArray(claims.acl) ? claims.acl.filter((p): p is string => typeof p === 'string') : undefined;
  const username = [claims.username, claims.preferred_username].find((v) => typeof v === 'string' && v !== '');
  return {
    sub: String(sub),
    userId: sub,
    username: clipClientString((username as string | undefined) ?? String(sub)),
    roles,
    acl,
    exp: typeof claims.exp === 'number' ? claims.exp : undefined,
  };
}
