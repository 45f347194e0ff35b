// The browser client's size (issue 25): client/src bundled by esbuild as an app would ship it
// (bundled, minified, ESM, for browsers), in bytes minified and minified + gzip (level 9):
//   - the whole package (client/src/index.ts, everything it exports);
//   - the gateway clients together (one entry importing every gateway client: the same figure as
//     the package once index.ts exports all four, less its helpers such as backoffDelay);
//   - each gateway's client alone (an entry importing only that class: what tree shaking leaves of
//     `import { ChatClient } from 'nest-realtime-client'`).
// A gateway client whose file does not exist yet is skipped and said so. `clientSizes()` returns
// the figures (for the benchmark's report), `sizeTable()` words them as markdown.
//   node bench/client-size.mjs
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'client', 'src');

/** Each gateway's client: its class and the file that defines it (under client/src). */
export const GATEWAY_CLIENTS = [
  { exportName: 'ChatClient', file: 'chat-client.ts' },
  { exportName: 'SchedulerClient', file: 'scheduler-client.ts' },
  { exportName: 'CheckpointClient', file: 'checkpoint-client.ts' },
  { exportName: 'NotifyClient', file: 'notify-client.ts' },
];

const exists = (file) => existsSync(join(SRC, file));
const reexport = ({ exportName, file }) => `export { ${exportName} } from './${file.replace(/\.ts$/, '.js')}';`;

/** The minified ESM bundle of `contents` (an entry module in client/src), as a browser app would ship it. */
async function bundle(contents, sourcefile) {
  const result = await build({
    stdin: { contents, resolveDir: SRC, sourcefile, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
  });
  return result.outputFiles[0].contents;
}

function measure(name, entry, code) {
  return { name, entry, minified: code.length, gzip: gzipSync(code, { level: 9 }).length };
}

/**
 * The size of each bundle: `{ name, entry, minified, gzip }` in bytes, or `{ name, entry, skipped }`
 * for a gateway client not written yet.
 */
export async function clientSizes() {
  const sizes = [measure('the package', 'client/src/index.ts', await bundle(`export * from './index.js';`, 'all.ts'))];
  const present = GATEWAY_CLIENTS.filter((client) => exists(client.file));
  const missing = GATEWAY_CLIENTS.filter((client) => !exists(client.file));
  const together = `${present.map((client) => client.exportName).join(' + ')}`;
  sizes.push(
    measure(
      `the gateway clients together${missing.length > 0 ? ` (${present.length} of ${GATEWAY_CLIENTS.length})` : ''}`,
      together,
      await bundle(present.map(reexport).join('\n'), 'together.ts'),
    ),
  );
  for (const client of GATEWAY_CLIENTS) {
    const entry = `client/src/${client.file}`;
    if (!exists(client.file)) {
      sizes.push({ name: client.exportName, entry, skipped: 'file does not exist yet' });
      continue;
    }
    const code = await bundle(reexport(client), `only-${client.exportName}.ts`);
    // The entry kept what it names: the class, exported under its name.
    if (!new RegExp(`\\b(as ${client.exportName}|${client.exportName})\\s*[,}]`).test(Buffer.from(code).toString()))
      throw new Error(`${entry}: the bundle does not export ${client.exportName}`);
    sizes.push(measure(client.exportName, entry, code));
  }
  return sizes;
}

const kb = (bytes) => `${(bytes / 1024).toFixed(2)} KB`;

/** The figures as a markdown table. */
export function sizeTable(sizes) {
  const rows = sizes.map((size) =>
    size.skipped
      ? `| ${size.name} | \`${size.entry}\` | skipped: ${size.skipped} | |`
      : `| ${size.name} | \`${size.entry}\` | ${size.minified} B (${kb(size.minified)}) | ${size.gzip} B (${kb(size.gzip)}) |`,
  );
  return ['| bundle | entry | minified | minified + gzip -9 |', '| --- | --- | ---: | ---: |', ...rows].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const sizes = await clientSizes();
  console.log('Browser bundle of the client (esbuild: bundle, minify, format esm, platform browser; gzip level 9)\n');
  console.log(sizeTable(sizes));
  const skipped = sizes.filter((size) => size.skipped);
  if (skipped.length > 0)
    console.log(`\nNot measured: ${skipped.map((size) => size.entry).join(', ')} (not written yet).`);
}
