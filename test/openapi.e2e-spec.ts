import { chromium, type Browser } from 'playwright-core';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';
import { hsToken } from './support/tokens.js';

/**
 * SPEC §8: the REST API's OpenAPI document (`@nestjs/swagger`, from the controllers and DTOs) at
 * GET /ws/docs-json and Swagger UI at /ws/docs, behind the admin credentials, configurable off.
 */

/** Every route the module's REST side serves, as Express lists them (the Swagger UI's own files aside). */
function servedRoutes(t: TestApp): string[] {
  const express = t.app.getHttpAdapter().getInstance() as { router: { stack: Array<{ route?: any }> } };
  return express.router.stack
    .flatMap((layer) =>
      layer.route
        ? Object.keys(layer.route.methods).map((method) => `${method.toUpperCase()} ${layer.route.path as string}`)
        : [],
    )
    .filter((route) => !/ \/ws\/docs(\/|$)/.test(route))
    .map((route) => route.replace(/:(\w+)/g, '{$1}'))
    .sort();
}

describe('the OpenAPI document and Swagger UI (SPEC §8)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('is served to admins only', async () => {
    expect((await t.http('GET', '/ws/docs-json')).status).toBe(401);
    expect((await t.http('GET', '/ws/docs-json', { token: hsToken({ sub: 'joe' }) })).status).toBe(403);
    const { status, body } = await t.http('GET', '/ws/docs-json', { token: ADMIN_TOKEN });
    expect(status).toBe(200);
    expect(body.openapi).toMatch(/^3\./);
    expect(body.components.securitySchemes.admin).toEqual({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description: expect.any(String),
    });
  });

  it('lists every route of the module, with its statuses and the admin scheme where credentials are needed', async () => {
    const { body } = await t.http('GET', '/ws/docs-json', { token: ADMIN_TOKEN });
    const documented = Object.entries(body.paths as Record<string, Record<string, any>>)
      .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    expect(documented).toEqual(servedRoutes(t));
    expect(documented).toEqual(
      expect.arrayContaining(['GET /ws/health', 'GET /ws/clients/{clientId}', 'POST /ws/publish', 'GET /metrics']),
    );

    const open = ['GET /ws/health', 'GET /metrics', 'GET /ws/admin'];
    for (const route of documented) {
      const [method, path] = route.split(' ');
      const operation = body.paths[path][method.toLowerCase()];
      expect({ route, ok: Object.keys(operation.responses).some((code) => /^2/.test(code)) }).toEqual({
        route,
        ok: true,
      });
      if (open.includes(route)) {
        expect({ route, security: operation.security }).toEqual({ route, security: undefined });
      } else if (route === 'POST /ws/ticket') {
        // Any user who authenticates like an upgrade: a JWT, or the host authenticator's own credential.
        expect({ security: operation.security, refused: Object.keys(operation.responses).sort() }).toEqual({
          security: [{ user: [] }],
          refused: ['200', '401', '503'],
        });
      } else {
        expect({ route, security: operation.security, refused: Object.keys(operation.responses) }).toEqual({
          route,
          security: [{ admin: [] }],
          refused: expect.arrayContaining(['401', '403']),
        });
      }
    }
  });

  it('describes the bodies and queries with their DTOs, and the one error shape', async () => {
    const { body } = await t.http('GET', '/ws/docs-json', { token: ADMIN_TOKEN });
    const schemas = body.components.schemas;
    expect(schemas.ErrorBody.properties).toEqual({
      statusCode: expect.objectContaining({ type: 'number' }),
      error: expect.objectContaining({ type: 'string' }),
      message: expect.objectContaining({ type: 'array' }),
    });
    expect(schemas.SendMessageDto.required).toEqual(['type', 'content']);
    expect(schemas.PublishChatEventDto.required).toEqual(['room', 'type', 'data']);
    expect(schemas.PublishSchedulerEventDto.required).toEqual(['type', 'data', 'scope']);
    const publish = body.paths['/ws/publish'].post.requestBody.content['application/json'].schema;
    expect(publish.oneOf.map((option: any) => option.allOf[0].$ref)).toEqual([
      '#/components/schemas/PublishChatEventDto',
      '#/components/schemas/PublishSchedulerEventDto',
    ]);
    const clients = body.paths['/ws/clients'].get;
    expect(clients.parameters.map((parameter: any) => `${parameter.in} ${parameter.name}`).sort()).toEqual([
      'query cursor',
      'query gateway',
      'query limit',
      'query user',
    ]);
    expect(clients.responses['400'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/ErrorBody',
    });
  });

  it('serves Swagger UI, which shows the operations to an admin under a strict policy', async () => {
    const page = await fetch(`${t.baseUrl}/ws/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect((await fetch(`${t.baseUrl}/ws/docs/swagger-ui-bundle.js`)).status).toBe(200);
    expect((await fetch(`${t.baseUrl}/ws/docs/package.json`)).status).toBe(404);

    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
      const tab = await browser.newPage();
      const problems: string[] = [];
      tab.on('pageerror', (error) => problems.push(error.message));
      // A failed request is told by its URL (the browser's own favicon.ico request aside).
      tab.on('response', (response) => {
        if (response.status() >= 400 && !response.url().endsWith('/favicon.ico')) {
          problems.push(`${response.status()} ${response.url()}`);
        }
      });
      tab.on('console', (message) => {
        if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
          problems.push(message.text());
      });
      await tab.addInitScript(
        (token) => (globalThis as any).sessionStorage.setItem('realtime-admin-token', token),
        ADMIN_TOKEN,
      );
      await tab.goto(`${t.baseUrl}/ws/docs`);
      await tab.waitForSelector('.opblock', { timeout: 15_000 });
      const operations = await tab.locator('.opblock-summary-path').allTextContents();
      expect(operations).toEqual(expect.arrayContaining(['/ws/stats', '/ws/publish', '/ws/send-message']));
      expect(problems).toEqual([]);
    } finally {
      await browser?.close();
    }
  });
});

describe('API documents turned off (apiDocs: false)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ apiDocs: false });
  });
  afterAll(() => t.close());

  it.each(['/ws/docs-json', '/ws/asyncapi.json', '/ws/docs', '/ws/docs/swagger-ui-bundle.js'])(
    'answers %s with 404, credentials or not',
    async (path) => {
      expect((await t.http('GET', path, { token: ADMIN_TOKEN })).status).toBe(404);
    },
  );
});
