// Markdown for bench/RESULTS.md: figures, tables, and this app's figures over its peers'.
import { KINDS, PEERS } from './harness.mjs';

export const NAMES = { ws: 'bare `ws`', socketio: 'Socket.IO 4', app: 'this app' };
const SHORT = { ws: 'ws', socketio: 'Socket.IO' };
/** Each server's colour in every chart. */
const COLOURS = { ws: '#8c8c8c', socketio: '#4c78a8', app: '#e45756' };

/** `value` with `digits` decimals; a dash when there is none. */
export const fixed = (value, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : '–');
export const whole = (value) => (Number.isFinite(value) ? String(Math.round(value)) : '–');
export const mib = (bytes) => fixed(bytes / 1048576, 1);

/** A markdown table: `header` cells, then one line per row of cells. */
export function table(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)];
}

/**
 * This app's figures over each peer's, and over the best peer's (per metric, the lower cost or the
 * higher rate), for one group of results `byKind` ({ws, socketio, app}). `metrics`: `{pick, higher}`.
 */
export function ratioRows(label, byKind, metrics) {
  const ratio = (peer, { pick }) => fixed(pick(byKind.app) / pick(byKind[peer]));
  const best = ({ pick, higher }) => {
    const [winner] = PEERS.filter((peer) => byKind[peer]).sort((a, b) =>
      higher ? pick(byKind[b]) - pick(byKind[a]) : pick(byKind[a]) - pick(byKind[b]),
    );
    return `${ratio(winner, { pick })} (${SHORT[winner]})`;
  };
  return [
    ...PEERS.filter((peer) => byKind[peer]).map((peer) => [
      ...label,
      NAMES[peer],
      ...metrics.map((metric) => ratio(peer, metric)),
    ]),
    [...label, '**best peer**', ...metrics.map(best)],
  ];
}

/** Results grouped by `key(result)`, each group as `{key, byKind}` in first-seen order. */
export function groupBy(results, key) {
  const groups = new Map();
  for (const result of results) {
    const name = key(result);
    if (!groups.has(name)) groups.set(name, { key: name, byKind: {} });
    groups.get(name).byKind[result.kind] = result;
  }
  return [...groups.values()];
}

/**
 * A chart (see charts.mjs) of one figure per server: `pick(result)`, one group of bars per
 * `groupOf(result)`; written as bench/charts/`file`.svg.
 */
export function kindChart(file, { title, unit, note }, results, groupOf, pick) {
  const kinds = KINDS.filter((kind) => results.some((result) => result.kind === kind));
  return {
    file,
    title,
    unit,
    note,
    series: kinds.map((key) => ({ key, name: NAMES[key].replaceAll('`', ''), colour: COLOURS[key] })),
    groups: groupBy(results, groupOf).map(({ key, byKind }) => ({
      label: String(key),
      values: Object.fromEntries(kinds.map((kind) => [kind, byKind[kind] ? pick(byKind[kind]) : NaN])),
    })),
  };
}
