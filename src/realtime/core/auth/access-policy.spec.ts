import { DefaultAccessPolicy, matchesPattern } from './access-policy.js';
import type { Principal } from './principal.js';

const user = (sub: string, extra: Partial<Principal> = {}): Principal => ({
  sub,
  userId: sub,
  username: sub,
  roles: [],
  ...extra,
});

describe('DefaultAccessPolicy (SPEC §7)', () => {
  const open = new DefaultAccessPolicy({ requireAcl: false });
  const strict = new DefaultAccessPolicy({ requireAcl: true });

  it('lets a user reach only their own user resource; admins any', () => {
    expect(open.canAccess(user('1'), { type: 'user', id: '1' })).toBe(true);
    expect(open.canAccess(user('1'), { type: 'user', id: '2' })).toBe(false);
    expect(open.canAccess(user('1', { acl: ['user:*'] }), { type: 'user', id: '2' })).toBe(false);
    expect(open.canAccess(user('1', { roles: ['admin'] }), { type: 'user', id: '2' })).toBe(true);
  });

  it('without acl: everything but system and worker (admins only), unless requireAcl', () => {
    expect(open.canAccess(user('1'), { type: 'project', id: '9' })).toBe(true);
    expect(open.canAccess(user('1'), { type: 'system' })).toBe(false);
    expect(open.canAccess(user('1'), { type: 'worker', id: 'w' })).toBe(false);
    expect(open.canAccess(user('1', { roles: ['admin'] }), { type: 'system' })).toBe(true);
    expect(strict.canAccess(user('1'), { type: 'project', id: '9' })).toBe(false);
    expect(strict.canAccess(user('1'), { type: 'user', id: '1' })).toBe(true);
  });

  it('with acl: exactly what the patterns match', () => {
    const p = user('1', { acl: ['project:123', 'channel:*', 'experiment:exp-1', 'system'] });
    expect(open.canAccess(p, { type: 'project', id: '123' })).toBe(true);
    expect(open.canAccess(p, { type: 'project', id: '124' })).toBe(false);
    expect(open.canAccess(p, { type: 'channel', id: '5' })).toBe(true);
    expect(open.canAccess(p, { type: 'experiment', id: 'exp-1' })).toBe(true);
    expect(open.canAccess(p, { type: 'task', id: '1' })).toBe(false);
    expect(open.canAccess(p, { type: 'system' })).toBe(true);
    expect(open.canAccess(user('1', { acl: [] }), { type: 'channel', id: '5' })).toBe(false);
  });

  it('matches patterns by type and id, not by prefix', () => {
    expect(matchesPattern('project:12', { type: 'project', id: '123' })).toBe(false);
    expect(matchesPattern('proj:*', { type: 'project', id: '1' })).toBe(false);
    expect(matchesPattern('system', { type: 'system', id: 'x' })).toBe(false);
  });
});
