import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { barChart, label, ticks } from '../bench/compare/charts.mjs';

/**
 * Issue 26: `npm run bench` draws its main tables as SVG beside bench/RESULTS.md. The charts are
 * read here as a browser reads them (headless Chromium): well-formed SVG, one bar per value, each
 * bar's height in proportion to its value on an axis from zero, no bar where there is no value.
 */
const CHROMIUM = '/usr/bin/chromium';

/** The part of the page's DOM the checks use (the tests compile without the DOM library). */
interface SvgNode {
  textContent: string | null;
  getAttribute(name: string): string | null;
  getBBox(): { y: number; height: number };
}
interface BrowserGlobals {
  DOMParser: new () => {
    parseFromString(
      source: string,
      type: string,
    ): {
      documentElement: unknown;
      getElementsByTagName(name: string): { length: number };
    };
  };
  document: {
    body: { appendChild(node: unknown): void };
    importNode(node: unknown, deep: boolean): unknown;
    querySelectorAll(selector: string): Iterable<SvgNode>;
  };
}

interface Bar {
  series: string;
  group: string;
  value: number;
  height: number;
  bottom: number;
}

describe('benchmark charts (bench/compare/charts.mjs)', () => {
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`This test needs Chromium at ${CHROMIUM}: \`apt-get install -y chromium\` (.ci/run does so).`);
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
  });

  /** The chart parsed as image/svg+xml by the browser: parse errors, its bars, its text. */
  async function render(svg: string): Promise<{ errors: number; bars: Bar[]; text: string[] }> {
    const page = await browser.newPage();
    try {
      return await page.evaluate((source) => {
        const { DOMParser, document } = globalThis as unknown as BrowserGlobals;
        const doc = new DOMParser().parseFromString(source, 'image/svg+xml');
        document.body.appendChild(document.importNode(doc.documentElement, true));
        const bars = [...document.querySelectorAll('rect.bar')].map((rect) => {
          const box = rect.getBBox();
          return {
            series: rect.getAttribute('data-series') ?? '',
            group: rect.getAttribute('data-group') ?? '',
            value: Number(rect.getAttribute('data-value')),
            height: box.height,
            bottom: box.y + box.height,
          };
        });
        return {
          errors: doc.getElementsByTagName('parsererror').length,
          bars,
          text: [...document.querySelectorAll('svg > text')].map((node) => node.textContent ?? ''),
        };
      }, svg);
    } finally {
      await page.close();
    }
  }

  const series = [
    { key: 'ws', name: 'bare ws' },
    { key: 'socketio', name: 'Socket.IO 4' },
    { key: 'app', name: 'this app <&>' },
  ];

  it('draws one bar per value, in proportion, from one baseline, with its value and the legend', async () => {
    const chart = barChart({
      title: 'CPU per delivery',
      unit: 'µs',
      note: 'lower is better',
      series,
      groups: [
        { label: '100', values: { ws: 12, socketio: 20, app: 6.5 } },
        { label: '1000', values: { ws: 11.9, socketio: 7.1, app: 1.3 } },
      ],
    });
    const { errors, bars, text } = await render(chart);
    expect(errors).toBe(0);
    expect(bars.map((bar) => `${bar.group}/${bar.series}`)).toEqual([
      '100/ws',
      '100/socketio',
      '100/app',
      '1000/ws',
      '1000/socketio',
      '1000/app',
    ]);
    const perUnit = bars[0].height / bars[0].value;
    for (const bar of bars) {
      expect(bar.height / bar.value).toBeCloseTo(perUnit, 3);
      expect(bar.bottom).toBeCloseTo(bars[0].bottom, 3);
    }
    // The tallest bar fits under the top tick (20 → axis to 20).
    expect(text).toEqual(
      expect.arrayContaining(['CPU per delivery', 'lower is better', '0', '5', '10', '15', '20', '6.50', '1.30']),
    );
    expect(text).toEqual(expect.arrayContaining(series.map(({ name }) => name)));
  });

  it('draws no bar for a missing or non-finite value, and an empty chart without failing', async () => {
    const { errors, bars } = await render(
      barChart({
        title: 'storm',
        unit: 'ms',
        series,
        groups: [{ label: 'killed', values: { socketio: 1500, app: Number.NaN } }],
      }),
    );
    expect(errors).toBe(0);
    expect(bars.map((bar) => bar.series)).toEqual(['socketio']);
    const empty = await render(barChart({ title: 'nothing', unit: 'ms', series, groups: [] }));
    expect(empty.errors).toBe(0);
    expect(empty.bars).toEqual([]);
  });

  it('ticks are round steps from zero reaching the largest value; labels keep three figures', () => {
    expect(ticks(20)).toEqual([0, 5, 10, 15, 20]);
    expect(ticks(21)).toEqual([0, 5, 10, 15, 20, 25]);
    expect(ticks(0.37)).toEqual([0, 0.1, 0.2, 0.3, 0.4]);
    expect(ticks(6981)).toEqual([0, 2000, 4000, 6000, 8000]);
    expect(ticks(0)).toEqual([0, 1]);
    expect([label(1234.5), label(12.345), label(1.2345), label(Number.NaN)]).toEqual(['1235', '12.3', '1.23', '–']);
  });
});
