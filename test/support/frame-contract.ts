import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { expect } from '@jest/globals';
import type { Frame } from './test-client.js';

/**
 * Every frame a test client sends or receives is checked against the AsyncAPI document of the
 * app under test (SPEC §2; the document is generated from the gateways' own contracts), so that the
 * document cannot drift from the code. A frame that does not validate fails the test that saw it
 * (`expectNoContractViolations`, run after each test by `frame-contract.setup.ts`). A test that
 * sends an invalid frame on purpose marks it: `client.send(frame, { invalid: true })`.
 */

type Json = Record<string, any>;

/** One direction of a channel: its messages, each compiled on first use (a file pays only for what it sees). */
interface Direction {
  names: string[];
  schemas: Array<{ id: string; payload: object }>;
}

interface Channel {
  pattern: RegExp;
  /** Literal segments: a fixed path wins over a parameter (`/ws/user` over `/ws/{clientId}`). */
  fixed: number;
  address: string;
  receive: Direction;
  send: Direction;
}

const ajv = new Ajv({ allErrors: false, strict: false });
(addFormats as unknown as (ajv: Ajv) => void)(ajv);

let channels: Channel[] = [];
const compiled = new Map<string, ValidateFunction>();
const violations: string[] = [];

/** Checks frames from now on against `document` (an AsyncAPI 3 document as the app serves it). */
export function useContract(document: Json): void {
  channels = Object.values(document.channels as Json).map((channel: Json) => {
    const address: string = channel.address;
    const segments = address.split('/').filter(Boolean);
    const direction = (action: 'receive' | 'send'): Direction => {
      const names: string[] = [];
      const schemas: Direction['schemas'] = [];
      for (const [key, ref] of Object.entries(channel.messages as Json)) {
        if (!key.startsWith(`${action}.`)) continue;
        const id = String((ref as Json).$ref).replace('#/components/messages/', '');
        const message = document.components.messages[id];
        names.push(message.name);
        schemas.push({ id, payload: message.payload });
      }
      return { names, schemas };
    };
    return {
      address,
      fixed: segments.filter((segment) => !segment.startsWith('{')).length,
      pattern: new RegExp(
        `^/${segments.map((s) => (s.startsWith('{') ? '[^/]+' : s.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))).join('/')}$`,
      ),
      receive: direction('receive'),
      send: direction('send'),
    };
  });
}

/** The channel a client of `url` talks on; none for a path no gateway serves. */
export function channelOf(url: string): Channel | undefined {
  const path = new URL(url).pathname;
  let best: Channel | undefined;
  for (const channel of channels) {
    if (channel.pattern.test(path) && (!best || channel.fixed > best.fixed)) best = channel;
  }
  return best;
}

/**
 * Records a violation when `frame` matches none of the channel's messages in that direction
 * (`receive`: what a client sends; `send`: what the server sends).
 */
export function checkFrame(channel: Channel | undefined, action: 'receive' | 'send', frame: unknown): void {
  if (!channel || channel[action].schemas.length === 0) return;
  const { names, schemas } = channel[action];
  // The message named like the frame's type or method first: most frames need one compiled schema.
  const named = (frame as Frame | null)?.type ?? (frame as Frame | null)?.method;
  const likely = names.indexOf(typeof named === 'string' ? named : '');
  if (likely >= 0 && validatorOf(schemas[likely])(frame)) return;
  if (schemas.some((schema, index) => index !== likely && validatorOf(schema)(frame))) return;
  const detail = likely >= 0 ? ` (as ${names[likely]}: ${ajv.errorsText(validatorOf(schemas[likely]).errors)})` : '';
  const who = action === 'send' ? 'server sent' : 'client sent';
  violations.push(
    `${channel.address}: ${who} a frame no message of the AsyncAPI document describes${detail}: ${JSON.stringify(frame).slice(0, 400)}`,
  );
}

function validatorOf({ id, payload }: { id: string; payload: object }): ValidateFunction {
  let validate = compiled.get(id);
  if (!validate) compiled.set(id, (validate = ajv.compile(payload)));
  return validate;
}

/** Fails with every violation recorded since the last call (and forgets them). */
export function expectNoContractViolations(): void {
  const found = violations.splice(0);
  expect(found).toEqual([]);
}
