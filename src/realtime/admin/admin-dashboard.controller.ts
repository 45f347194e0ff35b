import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Get, Header, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RealtimeController } from '../http/index.js';

/** Beside this module in `src/` (ts-jest) and in `dist/` (copied there by the nest-cli `assets`). */
const PAGE_URL = new URL('./dashboard/admin.html', import.meta.url);

/** The page and the headers it is served with. */
export interface DashboardPage {
  readonly html: string;
  readonly contentSecurityPolicy: string;
  /** Why the page could not be read, when it could not (a build without the asset). */
  readonly missing?: string;
}

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** Hashes of the inline `<script>`/`<style>` blocks: only this page's own code and style may run. */
const inlineHashes = (html: string, tag: 'script' | 'style'): string[] =>
  [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((match) => sha256(match[1]));

/**
 * Reads the dashboard once and derives its Content-Security-Policy: no origin but this one for
 * requests, no script or style but the page's own (by hash), no framing, no forms posted elsewhere.
 */
export function loadDashboardPage(url: URL = PAGE_URL): DashboardPage {
  let html: string;
  let missing: string | undefined;
  try {
    // As the browser's HTML parser does before hashing: a CRLF checkout still matches its hashes.
    html = readFileSync(url, 'utf8').replace(/\r\n?/g, '\n');
  } catch (error) {
    missing = `${fileURLToPath(url)}: ${(error as Error).message}`;
    html =
      '<!doctype html><meta charset="utf-8"><title>Realtime admin</title>' +
      '<p>The admin dashboard page is missing from this build (realtime/admin/dashboard/admin.html).</p>';
  }
  const scripts = inlineHashes(html, 'script');
  const styles = inlineHashes(html, 'style');
  const contentSecurityPolicy = [
    "default-src 'none'",
    `script-src ${scripts.length ? scripts.join(' ') : "'none'"}`,
    `style-src ${styles.length ? styles.join(' ') : "'none'"}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { html, contentSecurityPolicy, missing };
}

const page = loadDashboardPage();

/**
 * `GET /ws/admin`: the admin dashboard (SPEC.md §8). The page is public and holds no secret: it asks
 * for the admin token, keeps it in `sessionStorage` and calls the admin REST API beside it with
 * `Authorization: Bearer`, which is where the access check happens.
 */
@RealtimeController('ws')
@ApiTags('admin')
export class AdminDashboardController {
  constructor() {
    if (page.missing) new Logger(AdminDashboardController.name).warn(`Admin dashboard not found: ${page.missing}`);
  }

  @Get('admin')
  @ApiProduces('text/html')
  @ApiOkResponse({ description: 'The admin dashboard page (it asks for the admin token)' })
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Content-Security-Policy', page.contentSecurityPolicy)
  @Header('X-Content-Type-Options', 'nosniff')
  @Header('Cache-Control', 'no-store')
  @Header('Referrer-Policy', 'no-referrer')
  @Header('X-Frame-Options', 'DENY')
  @Header('Cross-Origin-Opener-Policy', 'same-origin')
  dashboard(): string {
    return page.html;
  }
}
