import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import { readFileSync, writeFileSync } from 'node:fs';
import { GatewayCatalog } from '../src/realtime/index.js';
import { WhiteboardModule } from './host-gateway/whiteboard.module.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';

/**
 * SPEC §2: the AsyncAPI 3 document of every registered gateway, generated from their contracts,
 * served at GET /ws/asyncapi.json and kept in docs/asyncapi.json (`npm run asyncapi` rewrites it).
 */

const DOCS_FILE = 'docs/asyncapi.json';

/** The document as the repository keeps it: served by an app without host gateways, on localhost:3000. */
const asStored = (document: Record<string, any>): string =>
  `${JSON.stringify({ ...document, servers: { realtime: { ...document.servers.realtime, host: 'localhost:3000' } } }, null, 2)}\n`;

async function validate(document: unknown): Promise<string[]> {
  const { diagnostics } = await new Parser().parse(JSON.stringify(document));
  return diagnostics
    .filter((diagnostic) => Number(diagnostic.severity) === Number(DiagnosticSeverity.Error))
    .map((diagnostic) => `${diagnostic.path.join('.')}: ${diagnostic.message}`);
}

describe('the AsyncAPI document (SPEC §2)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({}, [WhiteboardModule]);
  });
  afterAll(() => t.close());

  it('is served to admins only', async () => {
    expect((await t.http('GET', '/ws/asyncapi.json')).status).toBe(401);
    const served = await t.http('GET', '/ws/asyncapi.json', { token: ADMIN_TOKEN });
    expect(served.status).toBe(200);
    expect(served.body).toMatchObject({ asyncapi: '3.0.0', servers: { realtime: { protocol: 'ws' } } });
  });

  it('parses and validates with @asyncapi/parser, host gateways included', async () => {
    const { body } = await t.http('GET', '/ws/asyncapi.json', { token: ADMIN_TOKEN });
    expect(await validate(body)).toEqual([]);
  });

  it('has a channel per path of every registered gateway, each with frames both ways and an error frame', async () => {
    const { body } = await t.http('GET', '/ws/asyncapi.json', { token: ADMIN_TOKEN });
    const addresses = Object.values(body.channels as Record<string, any>).map((channel) => channel.address);
    const paths = t.app.get(GatewayCatalog).definitions.flatMap((definition) => definition.paths);
    expect(addresses).toEqual(paths.map((path) => path.replace(/:(\w+)/g, '{$1}')));
    for (const channel of Object.values(body.channels as Record<string, any>)) {
      const keys = Object.keys(channel.messages);
      expect({ address: channel.address, receives: keys.some((key) => key.startsWith('receive.')) }).toEqual({
        address: channel.address,
        receives: true,
      });
      expect({ address: channel.address, errors: keys.some((key) => /^send\..*error/.test(key)) }).toEqual({
        address: channel.address,
        errors: true,
      });
      for (const name of channel.address.match(/\{(\w+)\}/g) ?? []) {
        expect(channel.parameters[name.slice(1, -1)]).toEqual({ description: expect.any(String) });
      }
    }
  });

  it('is the one in docs/ for an app without host gateways (npm run asyncapi rewrites it)', async () => {
    const plain = await startTestApp();
    try {
      const { body } = await plain.http('GET', '/ws/asyncapi.json', { token: ADMIN_TOKEN });
      if (process.env.ASYNCAPI_WRITE) writeFileSync(DOCS_FILE, asStored(body));
      expect(await validate(JSON.parse(readFileSync(DOCS_FILE, 'utf8')))).toEqual([]);
      expect(readFileSync(DOCS_FILE, 'utf8')).toBe(asStored(body));
    } finally {
      await plain.close();
    }
  });
});
