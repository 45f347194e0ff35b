import type { GatewayDefinition } from '../gateway/gateway-definition.js';
import { DEFAULT_TOKEN_REFRESH } from '../gateway/token-refresh-frames.js';
import type { GatewayContract, JsonSchema, MessageContract } from './gateway-contract.js';

/** Where the document says the server is, and what it calls itself. */
export interface AsyncApiInfo {
  title: string;
  version: string;
  description?: string;
  /** `host:port` of the server (and an optional path prefix), e.g. `localhost:3000`. */
  host: string;
  /** `ws` or `wss`. */
  protocol: 'ws' | 'wss';
}

type Json = Record<string, unknown>;

/** `:name` path segments as AsyncAPI's `{name}`. */
const addressOf = (path: string): string => path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');

/** A channel id from a path: `/ws/experiments/:experimentId` → `ws-experiments-experimentId`. */
const channelIdOf = (path: string): string =>
  path
    .replace(/^\/+/, '')
    .replace(/[:/]+/g, '-')
    .replace(/[^A-Za-z0-9_-]/g, '') || 'root';

const messageKey = (gateway: string, direction: 'receive' | 'send', name: string): string =>
  `${gateway}.${direction}.${name}`.replace(/[^A-Za-z0-9_.-]/g, '_');

/**
 * The AsyncAPI 3 document of the gateways given (the registered ones, host gateways included): one
 * channel per upgrade path with its parameters, one operation per frame kind and direction, every
 * frame's payload as a JSON Schema. Gateways without a contract are listed with no messages.
 */
export function asyncApiDocument(definitions: readonly GatewayDefinition[], info: AsyncApiInfo): Json {
  const channels: Json = {};
  const operations: Json = {};
  const messages: Json = {};
  for (const definition of definitions) {
    const contract = withTokenRefresh(definition);
    const refs = (direction: 'receive' | 'send', list: readonly MessageContract[]): Json => {
      const out: Json = {};
      for (const message of list) {
        const key = messageKey(definition.gateway, direction, message.name);
        messages[key] = {
          name: message.name,
          title: message.name,
          summary: message.summary,
          contentType: 'application/json',
          payload: message.payload,
        };
        out[`${direction}.${message.name}`] = { $ref: `#/components/messages/${key}` };
      }
      return out;
    };
    const channelMessages = contract ? { ...refs('receive', contract.receives), ...refs('send', contract.sends) } : {};
    for (const path of definition.paths) {
      const id = channelIdOf(path);
      const parameters = [...path.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)/g)].map((match) => match[1]);
      channels[id] = {
        address: addressOf(path),
        title: contract?.title ?? definition.gateway,
        description: contract?.description,
        messages: channelMessages,
        ...(parameters.length > 0 && {
          parameters: Object.fromEntries(
            parameters.map((name) => [name, { description: contract?.parameters?.[name] ?? name }]),
          ),
        }),
        bindings: { ws: { method: 'GET', query: upgradeQuery(contract?.query), bindingVersion: '0.1.0' } },
        tags: [{ name: definition.gateway }],
      };
      for (const [direction, list] of [
        ['receive', contract?.receives ?? []],
        ['send', contract?.sends ?? []],
      ] as const) {
        if (list.length === 0) continue;
        operations[`${id}.${direction}`] = {
          action: direction,
          channel: { $ref: `#/channels/${id}` },
          summary: direction === 'receive' ? 'Frames a client sends' : 'Frames the server sends',
          messages: list.map((message) => ({ $ref: `#/channels/${id}/messages/${direction}.${message.name}` })),
        };
      }
    }
  }
  return {
    asyncapi: '3.0.0',
    info: { title: info.title, version: info.version, ...(info.description && { description: info.description }) },
    defaultContentType: 'application/json',
    servers: {
      realtime: {
        host: info.host,
        protocol: info.protocol,
        description: 'Every gateway, on one port; upgrades are routed by path.',
        security: [
          { $ref: '#/components/securitySchemes/subprotocolBearer' },
          { $ref: '#/components/securitySchemes/ticket' },
          { $ref: '#/components/securitySchemes/bearer' },
          { $ref: '#/components/securitySchemes/queryToken' },
        ],
      },
    },
    channels,
    operations,
    components: {
      messages,
      securitySchemes: {
        subprotocolBearer: {
          type: 'httpApiKey',
          name: 'Sec-WebSocket-Protocol',
          in: 'header',
          description:
            'Offer `realtime.v1` and `base64url.bearer.<the token, base64url without padding>`; the server selects `realtime.v1`',
        },
        ticket: {
          type: 'httpApiKey',
          name: 'ticket',
          in: 'query',
          description: 'A one-time connect ticket from `POST /ws/ticket` (valid 30 s by default, single use)',
        },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Authorization: Bearer <JWT>' },
        queryToken: {
          type: 'httpApiKey',
          name: 'token',
          in: 'query',
          description: 'The JWT as ?token= (for seed clients; off with WS_ALLOW_QUERY_TOKEN=false)',
        },
      },
    },
  };
}

/** The upgrade's query: `token`, and the gateway's own parameters. */
function upgradeQuery(own: JsonSchema | undefined): JsonSchema {
  const ownProperties = (own?.properties ?? {}) as Json;
  return {
    type: 'object',
    properties: {
      ticket: { type: 'string', description: 'A one-time connect ticket (`POST /ws/ticket`)' },
      token: {
        type: 'string',
        description: 'The JWT (unless WS_ALLOW_QUERY_TOKEN=false); prefer a ticket or the subprotocol',
      },
      ...ownProperties,
    },
  };
}

/** The gateway's contract with its refresh frames (its own wording, or the default's) added. */
function withTokenRefresh(definition: GatewayDefinition): GatewayContract | undefined {
  const contract = definition.contract;
  if (!contract) return undefined;
  const refresh = (definition.tokenRefresh ?? DEFAULT_TOKEN_REFRESH).contract;
  const add = (list: readonly MessageContract[], message?: MessageContract): readonly MessageContract[] =>
    message && !list.some((known) => known.name === message.name) ? [...list, message] : list;
  return {
    ...contract,
    receives: add(contract.receives, refresh.request),
    sends: add(add(contract.sends, refresh.refreshed), refresh.expiring),
  };
}
