import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** The Swagger UI files served under `/ws/docs/`, read once from `swagger-ui-dist`. */
const ASSET_TYPES: Readonly<Record<string, string>> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
};

export interface DocsAsset {
  readonly body: string;
  readonly contentType: string;
}

const dist = join(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'), '..');
const assets = new Map<string, DocsAsset>();

export function docsAsset(name: string): DocsAsset | undefined {
  const contentType = ASSET_TYPES[name];
  if (!contentType)
    return name === 'docs.js' ? { body: INIT_SCRIPT, contentType: ASSET_TYPES['swagger-ui-bundle.js'] } : undefined;
  let asset = assets.get(name);
  if (!asset) assets.set(name, (asset = { body: readFileSync(join(dist, name), 'utf8'), contentType }));
  return asset;
}

/**
 * Starts Swagger UI on the document beside it, sending the admin token with every request (the
 * document's own included): the one the dashboard keeps in this tab, or one asked for.
 */
const INIT_SCRIPT = `(() => {
  'use strict';
  const KEY = 'realtime-admin-token';
  let token = sessionStorage.getItem(KEY);
  if (!token) {
    token = window.prompt('Admin token (WS_ADMIN_TOKEN or an admin JWT)') || '';
    if (token) sessionStorage.setItem(KEY, token);
  }
  window.ui = SwaggerUIBundle({
    url: location.pathname.replace(/\\/?$/, '') + '-json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    requestInterceptor: (request) => {
      if (token) request.headers.Authorization = 'Bearer ' + token;
      return request;
    },
  });
})();
`;

/** The page: no inline script or style, so that its policy allows only files of this origin. */
export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Realtime admin API</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/docs.js"></script>
</body>
</html>
`;

/** Swagger UI sets style attributes, hence `'unsafe-inline'` for styles; scripts only from this origin. */
export const DOCS_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
