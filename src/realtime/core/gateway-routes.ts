import type { GatewayName } from './gateway-protocol.js';

export interface RouteMatch {
  gateway: GatewayName;
  pattern: string;
  params: Record<string, string>;
}

interface CompiledRoute {
  gateway: GatewayName;
  pattern: string;
  regex: RegExp;
  names: string[];
}

const SEGMENT = '([A-Za-z0-9_.~-]{1,128})';
/** A notify client id; the scheduler's and checkpoint's path words are not client ids. */
const CLIENT_ID = '(?!(?:experiments|tasks|projects|user|checkpoints)$)([A-Za-z0-9_.-]{1,64})';

/**
 * Every upgrade path of SPEC.md §3–6, most specific first: fixed paths win over
 * `/ws/:clientId`. A gateway serves its routes once it is registered.
 */
export const GATEWAY_ROUTES: ReadonlyArray<{ gateway: GatewayName; pattern: string }> = [
  { gateway: 'chat', pattern: '/api/v1/ws/connect' },
  { gateway: 'scheduler', pattern: '/ws/experiments/:experimentId' },
  { gateway: 'scheduler', pattern: '/ws/tasks/:taskId' },
  { gateway: 'scheduler', pattern: '/ws/projects/:projectId' },
  { gateway: 'scheduler', pattern: '/ws/user' },
  { gateway: 'checkpoint', pattern: '/ws/checkpoints' },
  { gateway: 'notify', pattern: '/ws' },
  { gateway: 'notify', pattern: '/ws/:clientId' },
];

function compile(gateway: GatewayName, pattern: string): CompiledRoute {
  const names: string[] = [];
  const source = pattern
    .split('/')
    .map((part) => {
      if (!part.startsWith(':')) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(part.slice(1));
      return part === ':clientId' ? CLIENT_ID : SEGMENT;
    })
    .join('/');
  return { gateway, pattern, names, regex: new RegExp(`^${source}/?$`) };
}

/** Matches an upgrade's path against the route table. */
export class GatewayRouter {
  private readonly routes = GATEWAY_ROUTES.map(({ gateway, pattern }) => compile(gateway, pattern));

  match(pathname: string): RouteMatch | undefined {
    for (const route of this.routes) {
      const found = route.regex.exec(pathname);
      if (!found) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => (params[name] = decodeURIComponent(found[i + 1])));
      return { gateway: route.gateway, pattern: route.pattern, params };
    }
    return undefined;
  }
}
