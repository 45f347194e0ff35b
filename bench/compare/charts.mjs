// SVG charts of the benchmark's main tables, written beside bench/RESULTS.md: grouped bars (one
// group per row of a table, one bar per server), a value over each bar, an axis from zero with round
// ticks. Plain SVG text: no browser, no library, readable on GitHub and in any viewer.

const WIDTH = 760;
const HEIGHT = 380;
const MARGIN = { top: 56, right: 24, bottom: 64, left: 72 };
/** One colour per series, in the order given (peers first, this app last). */
const COLOURS = ['#8c8c8c', '#4c78a8', '#e45756', '#54a24b', '#f58518', '#b279a2'];

/** Series `s`'s own colour, or the palette's. */
const colourOf = (series, s) => series[s].colour ?? COLOURS[s % COLOURS.length];

const escape = (text) =>
  String(text).replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c]);

/** A value as the chart prints it: 3 significant digits, no exponent. */
export function label(value) {
  if (!Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  if (abs >= 100) return String(Math.round(value));
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** Round ticks from 0 to at least `max`: 1, 2 or 5 × 10^k apart, about five of them. */
export function ticks(max) {
  if (!(max > 0)) return [0, 1];
  const raw = max / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= raw);
  const count = Math.ceil(max / step - 1e-9);
  return Array.from({ length: count + 1 }, (_, i) => Number((i * step).toPrecision(12)));
}

/**
 * A grouped bar chart as SVG text.
 * - `title`, `unit` (the axis), `note` (a line under the title: lower or higher is better);
 * - `series`: `[{key, name, colour?}]`, one bar each per group, in this order;
 * - `groups`: `[{label, values: {[key]: number}}]`; a missing or non-finite value draws no bar.
 */
export function barChart({ title, unit, note, series, groups }) {
  const plot = { width: WIDTH - MARGIN.left - MARGIN.right, height: HEIGHT - MARGIN.top - MARGIN.bottom };
  const values = groups.flatMap((group) => series.map(({ key }) => group.values[key])).filter(Number.isFinite);
  const axis = ticks(Math.max(0, ...values));
  const top = axis[axis.length - 1];
  const y = (value) => MARGIN.top + plot.height - (plot.height * value) / top;
  const groupWidth = plot.width / Math.max(1, groups.length);
  const barWidth = Math.min(48, (groupWidth * 0.8) / series.length);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" ` +
      `font-family="Helvetica, Arial, sans-serif" font-size="12" role="img" aria-label="${escape(title)}">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escape(title)}</text>`,
  ];
  if (note) parts.push(`<text x="${WIDTH / 2}" y="40" text-anchor="middle" fill="#555555">${escape(note)}</text>`);
  for (const tick of axis) {
    parts.push(
      `<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(tick)}" y2="${y(tick)}" stroke="#e0e0e0"/>`,
      `<text x="${MARGIN.left - 6}" y="${y(tick) + 4}" text-anchor="end" fill="#555555">${tick}</text>`,
    );
  }
  parts.push(
    `<text transform="translate(16 ${MARGIN.top + plot.height / 2}) rotate(-90)" text-anchor="middle" fill="#333333">${escape(unit)}</text>`,
  );
  for (const [g, group] of groups.entries()) {
    const centre = MARGIN.left + groupWidth * (g + 0.5);
    const first = centre - (barWidth * series.length) / 2;
    for (const [s, { key, name }] of series.entries()) {
      const value = group.values[key];
      const fill = colourOf(series, s);
      if (!Number.isFinite(value)) continue;
      const x = first + s * barWidth;
      const height = Math.max(0, y(0) - y(value));
      parts.push(
        `<rect class="bar" data-series="${escape(key)}" data-group="${escape(group.label)}" data-value="${value}" ` +
          `x="${x + 1}" y="${y(0) - height}" width="${barWidth - 2}" height="${height}" fill="${fill}">` +
          `<title>${escape(`${name}, ${group.label}: ${label(value)} ${unit}`)}</title></rect>`,
        `<text x="${x + barWidth / 2}" y="${y(0) - height - 4}" text-anchor="middle" font-size="10">${label(value)}</text>`,
      );
    }
    parts.push(
      `<text x="${centre}" y="${y(0) + 18}" text-anchor="middle" fill="#333333">${escape(group.label)}</text>`,
    );
  }
  parts.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y(0)}" y2="${y(0)}" stroke="#333333"/>`);
  // The legend, centred under the groups' labels.
  const legendWidth = series.reduce((sum, { name }) => sum + 24 + name.length * 7, 0);
  let x = (WIDTH - legendWidth) / 2;
  for (const [s, { name }] of series.entries()) {
    parts.push(
      `<rect x="${x}" y="${HEIGHT - 24}" width="12" height="12" fill="${colourOf(series, s)}"/>`,
      `<text x="${x + 16}" y="${HEIGHT - 14}">${escape(name)}</text>`,
    );
    x += 24 + name.length * 7;
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
