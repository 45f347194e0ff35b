// `npm test`: every unit and e2e test, in two passes so that the suite stays short on two cores.
// First every file whose assertions do not time one client against others' load, two at a time;
// then, alone, the files that do (a bystander's round trip under a flood, slow consumers, write
// batching, cluster races and costs, the spread of 1,000 reconnecting clients, a rolling restart's event-loop lag), so that nothing else runs beside them but what they start.
// With arguments (`npm test -- test/chat.e2e-spec.ts -t join`), jest runs them one file at a time.
import { spawnSync } from 'node:child_process';

/** Files measured against time or load: run last, one at a time. */
const ALONE = [
  'test/hostile-bounds.e2e-spec.ts',
  'test/hostile-clients.e2e-spec.ts',
  'test/hostile-clients-process.e2e-spec.ts',
  'test/hostile-input.e2e-spec.ts',
  'test/checkpoint-flood.e2e-spec.ts',
  'test/slow-consumer.e2e-spec.ts',
  'test/notify-slow-consumer.e2e-spec.ts',
  'test/write-batching.e2e-spec.ts',
  'test/cluster-races.e2e-spec.ts',
  'test/cluster-costs.e2e-spec.ts',
  'test/client-core.e2e-spec.ts',
  'test/rolling-restart.e2e-spec.ts',
  // `npm pack` runs `prepack` (nest build), which empties dist/ under any process test beside it.
  'test/packaging.e2e-spec.ts',
];

const JEST = ['--experimental-vm-modules', '--no-warnings=ExperimentalWarning', 'node_modules/jest/bin/jest.js'];
const escape = (path) => path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const alonePattern = `(${ALONE.map(escape).join('|')})$`;

function jest(args) {
  const { status, signal } = spawnSync(process.execPath, [...JEST, ...args], { stdio: 'inherit' });
  return signal ? 1 : (status ?? 1);
}

const given = process.argv.slice(2);
if (given.length > 0) process.exit(jest(['--runInBand', ...given]));

const together = jest(['--maxWorkers=2', '--testPathIgnorePatterns', alonePattern]);
const alone = jest(['--runInBand', alonePattern]);
if (together !== 0 || alone !== 0)
  console.error(
    `npm test: ${together !== 0 ? 'the parallel pass' : ''}${together !== 0 && alone !== 0 ? ' and ' : ''}${alone !== 0 ? 'the pass of files run alone' : ''} failed`,
  );
process.exit(together || alone);
