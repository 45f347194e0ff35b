// Scenario `client`: the browser bundle of the client package (issue 25), minified and gzipped with
// esbuild, for the whole package, the four clients together and each client alone (bench/client-size.mjs).
import { clientSizes, sizeTable } from '../../client-size.mjs';

export default {
  name: 'client',
  async run() {
    const sizes = await clientSizes();
    const table = sizeTable(sizes);
    console.log(table);
    return [
      '## 9. The client package in a browser bundle',
      '',
      'esbuild (bundle, minify, ESM, browser), then gzip level 9. For scale: `socket.io-client` is about 14.7 KB ' +
        'and `centrifuge-js` about 23 KB minified + gzipped.',
      '',
      table,
    ];
  },
};
