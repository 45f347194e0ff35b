import type { IncomingMessage } from 'node:http';
import { selectSubprotocol, upgradeCredential } from './upgrade-credentials.js';

const request = (headers: Record<string, string>): IncomingMessage => ({ headers }) as unknown as IncomingMessage;
const bearer = (token: string): string => `base64url.bearer.${Buffer.from(token).toString('base64url')}`;

describe('upgradeCredential', () => {
  const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln';

  it('takes, in order: the subprotocol bearer, the ticket, the query token, the Authorization header', () => {
    const all = request({
      'sec-websocket-protocol': `realtime.v1, ${bearer('from-protocol')}`,
      authorization: 'Bearer h',
    });
    expect(upgradeCredential(all, new URLSearchParams('ticket=t&token=q'), true)).toEqual({ token: 'from-protocol' });
    const header = request({ authorization: 'Bearer from-header' });
    expect(upgradeCredential(header, new URLSearchParams('ticket=t&token=q'), true)).toEqual({ ticket: 't' });
    expect(upgradeCredential(header, new URLSearchParams('token=q'), true)).toEqual({ token: 'q' });
    expect(upgradeCredential(header, new URLSearchParams('token=q'), false)).toEqual({ token: 'from-header' });
    expect(upgradeCredential(request({}), new URLSearchParams('token=q'), false)).toEqual({});
  });

  it('takes the credentials out of the query, so nothing after it sees them', () => {
    const query = new URLSearchParams('token=q&ticket=t&offset=3');
    upgradeCredential(request({}), query, true);
    expect(query.toString()).toBe('offset=3');
  });

  it('decodes any token from base64url, characters a subprotocol cannot carry included', () => {
    const opaque = 'opaque token/with=chars,and spaces';
    expect(
      upgradeCredential(
        request({ 'sec-websocket-protocol': `realtime.v1,${bearer(opaque)}` }),
        new URLSearchParams(),
        true,
      ),
    ).toEqual({ token: opaque });
    expect(upgradeCredential(request({ 'sec-websocket-protocol': bearer(JWT) }), new URLSearchParams(), true)).toEqual({
      token: JWT,
    });
  });

  it.each([
    ['two bearer entries', `realtime.v1, ${bearer('a')}, ${bearer('b')}`],
    ['the same bearer twice', `${bearer('a')}, ${bearer('a')}`],
    ['an empty bearer', 'realtime.v1, base64url.bearer.'],
    ['padding', `realtime.v1, ${bearer('ab')}==`],
    ['characters outside base64url', 'realtime.v1, base64url.bearer.a+b/c'],
  ])('is malformed with %s', (_case, header) => {
    expect(
      upgradeCredential(request({ 'sec-websocket-protocol': header }), new URLSearchParams('token=q'), true),
    ).toEqual({
      malformed: true,
    });
  });
});

describe('selectSubprotocol', () => {
  it('selects realtime.v1, never the bearer entry, when a bearer is offered', () => {
    expect(selectSubprotocol(new Set([bearer('secret'), 'realtime.v1']))).toBe('realtime.v1');
    expect(selectSubprotocol(new Set(['other', bearer('secret'), 'realtime.v1']))).toBe('realtime.v1');
  });

  it('selects nothing for a bearer offered without realtime.v1', () => {
    expect(selectSubprotocol(new Set([bearer('secret')]))).toBe(false);
    expect(selectSubprotocol(new Set(['graphql-ws', bearer('secret')]))).toBe(false);
  });

  it('selects the first protocol offered without a bearer, as ws does', () => {
    expect(selectSubprotocol(new Set(['graphql-ws', 'realtime.v1']))).toBe('graphql-ws');
  });
});
