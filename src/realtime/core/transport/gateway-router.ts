import type { GatewayDefinition } from '../gateway/gateway-definition.js';
import type { GatewayName } from '../gateway/gateway-name.js';

export interface RouteMatch {
  gateway: GatewayName;
  pattern: string;
  params: Readonly<Record<string, string>>;
}

interface Route {
  gateway: GatewayName;
  pattern: string;
  segments: string[];
  regex: RegExp;
  names: string[];
}

/** The params of every path without any: one object, not one per connection. */
const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

/** What a path parameter matches unless its gateway constrains it. */
const DEFAULT_PARAM = '[A-Za-z0-9_.~-]{1,128}';

type RouteSource = Pick<GatewayDefinition, 'gateway' | 'paths' | 'paramPatterns'>;

/**
 * Matches an upgrade's path against the paths of every registered gateway. Precedence is
 * derived, not hand-ordered: at each segment a fixed word wins over a parameter, and a
 * parameter never captures a word that another route has fixed at the same place
 * (`/ws/user` is the scheduler's, so it is never the notify client id `user`).
 */
export class GatewayRouter {
  private routes: Route[] = [];
  private readonly sources: RouteSource[] = [];

  add(source: RouteSource): void {
    this.sources.push(source);
    this.routes = this.compileAll();
  }

  match(pathname: string): RouteMatch | undefined {
    for (const route of this.routes) {
      const found = route.regex.exec(pathname);
      if (!found) continue;
      if (route.names.length === 0) return { gateway: route.gateway, pattern: route.pattern, params: NO_PARAMS };
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => (params[name] = decodeURIComponent(found[i + 1])));
      return { gateway: route.gateway, pattern: route.pattern, params };
    }
    return undefined;
  }

  private compileAll(): Route[] {
    const declared = this.sources.flatMap((source) =>
      source.paths.map((pattern) => ({ source, pattern, segments: pattern.split('/') })),
    );
    return declared
      .map(({ source, pattern, segments }) => {
        const names: string[] = [];
        const parts = segments.map((segment, index) => {
          if (!segment.startsWith(':')) return escapeRegex(segment);
          const name = segment.slice(1);
          names.push(name);
          const reserved = fixedWordsAt(declared, segments, index);
          const guard = reserved.length > 0 ? `(?!(?:${reserved.map(escapeRegex).join('|')})(?:/|$))` : '';
          return `${guard}(${source.paramPatterns?.[name] ?? DEFAULT_PARAM})`;
        });
        return { gateway: source.gateway, pattern, segments, names, regex: new RegExp(`^${parts.join('/')}/?$`) };
      })
      .sort(bySpecificity);
  }
}

/** The fixed words other routes have at `index` after the same fixed prefix. */
function fixedWordsAt(routes: Array<{ segments: string[] }>, segments: string[], index: number): string[] {
  const prefix = segments.slice(0, index);
  const words = new Set<string>();
  for (const other of routes) {
    const word = other.segments[index];
    if (word === undefined || word.startsWith(':')) continue;
    if (prefix.every((segment, i) => segment === other.segments[i])) words.add(word);
  }
  return [...words];
}

/** Fixed segments before parameters, segment by segment; then the longer path first. */
function bySpecificity(a: Route, b: Route): number {
  for (let i = 0; i < Math.min(a.segments.length, b.segments.length); i++) {
    const rank = Number(a.segments[i].startsWith(':')) - Number(b.segments[i].startsWith(':'));
    if (rank !== 0) return rank;
  }
  return b.segments.length - a.segments.length;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Whether a request path has a `.` or `..` segment (percent-encoded ones too): such a path is not
 * normalized into another route but answered 404 (SPEC.md §10.1).
 */
export function hasDotSegment(rawUrl: string): boolean {
  const query = rawUrl.indexOf('?');
  const path = query < 0 ? rawUrl : rawUrl.slice(0, query);
  for (const segment of path.split('/')) {
    if (segment === '' || segment.length > 6) continue;
    const decoded = segment.includes('%') ? segment.replace(/%2e/gi, '.') : segment;
    if (decoded === '.' || decoded === '..') return true;
  }
  return false;
}
