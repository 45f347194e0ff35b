// Types of charts.mjs (plain JavaScript, run by the benchmark under `node`; the tests import it).

export interface ChartSeries {
  key: string;
  name: string;
  /** A CSS colour; by default the palette's, in order. */
  colour?: string;
}

export interface ChartGroup {
  label: string;
  values: Record<string, number>;
}

export interface BarChart {
  title: string;
  unit: string;
  note?: string;
  series: ChartSeries[];
  groups: ChartGroup[];
}

export declare function label(value: number): string;
export declare function ticks(max: number): number[];
export declare function barChart(chart: BarChart): string;
