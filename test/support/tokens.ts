import { createSign, generateKeyPairSync, createHmac } from 'node:crypto';

export const TEST_SECRET = 'test-secret-0123456789-0123456789-abcdef';

const b64 = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

export interface Claims {
  sub?: string | number;
  username?: string;
  preferred_username?: string;
  roles?: string[];
  acl?: string[];
  exp?: number;
  iat?: number;
  iss?: string;
  aud?: string;
  [key: string]: unknown;
}

/** An HS256 token, valid for an hour unless `claims.exp` says otherwise. */
export function hsToken(claims: Claims, secret = TEST_SECRET): string {
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ iat: now, exp: now + 3600, ...claims })}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

/** An unsigned `alg: none` token. */
export function noneToken(claims: Claims): string {
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
}

export function rsaKeys(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

export function rsToken(claims: Claims, privateKey: string): string {
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ iat: now, exp: now + 3600, ...claims })}`;
  return `${unsigned}.${createSign('RSA-SHA256').update(unsigned).sign(privateKey).toString('base64url')}`;
}

/** A token signed with HS256 using the RSA public key as the secret: algorithm confusion. */
export function confusedToken(claims: Claims, publicKey: string): string {
  return hsToken(claims, publicKey);
}
