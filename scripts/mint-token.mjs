#!/usr/bin/env node
// Mints a development JWT for the realtime gateways:
//   npm run token -- --sub 42 --username alice [--roles admin,ops] [--acl project:1,channel:*] [--expires 3600]
// Signs with JWT_SECRET (from the environment or .env), else with the server's development secret.
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const DEV_JWT_SECRET = 'dev-insecure-secret-change-me-0123456789'; // = src/config/environment.ts

const { values } = parseArgs({
  options: {
    sub: { type: 'string', default: '1' },
    username: { type: 'string' },
    roles: { type: 'string', default: '' },
    acl: { type: 'string' },
    expires: { type: 'string', default: '3600' },
    issuer: { type: 'string' },
    audience: { type: 'string' },
    secret: { type: 'string' },
  },
});

function fromDotEnv(name) {
  if (!existsSync('.env')) return undefined;
  const line = readFileSync('.env', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}=`));
  return line?.slice(name.length + 1).trim() || undefined;
}

const list = (text) =>
  text
    ? text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;
const base64url = (value) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

const secret = values.secret ?? process.env.JWT_SECRET ?? fromDotEnv('JWT_SECRET') ?? DEV_JWT_SECRET;
const now = Math.floor(Date.now() / 1000);
const payload = {
  sub: values.sub,
  username: values.username ?? `user${values.sub}`,
  roles: list(values.roles) ?? [],
  ...(values.acl !== undefined && { acl: list(values.acl) ?? [] }),
  ...((values.issuer ?? process.env.JWT_ISSUER) && { iss: values.issuer ?? process.env.JWT_ISSUER }),
  ...((values.audience ?? process.env.JWT_AUDIENCE) && { aud: values.audience ?? process.env.JWT_AUDIENCE }),
  iat: now,
  exp: now + Number(values.expires),
};
const unsigned = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url(payload)}`;
const signature = createHmac('sha256', secret).update(unsigned).digest('base64url');
process.stdout.write(`${unsigned}.${signature}\n`);
