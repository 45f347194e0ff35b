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

interface Direction {
  names: string[];
  validators: ValidateFunction[];
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
      const validators: ValidateFunction[] = [];
      for (const [key, ref] of Object.entries(channel.messages as Json)) {
        if (!key.startsWith(`${action}.`)) continue;
        const id = String((ref as Json).$ref).replace('#/components/messages/', '');
        const message = document.components.messages[id];
        let validate = compiled.get(id);
        if (!validate) compiled.set(id, (validate = ajv.compile(message.payload)));
        names.push(message.name);
        validators.push(validate);
      }
      return { names, validators };
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
  if (!channel || channel[action].validators.length === 0) return;
  const { names, validators } = channel[action];
  if (validators.some((validate) => validate(frame))) return;
  const type = (frame as Frame | null)?.type;
  const likely = names.indexOf(typeof type === 'string' ? type : '');
  const detail = likely >= 0 ? ` (as ${names[likely]}: ${ajv.errorsText(validators[likely].errors)})` : '';
  const who = action === 'send' ? 'server sent' : 'client sent';
  violations.push(
    `${channel.address}: ${who} a frame no message of the AsyncAPI document describes${detail}: ${JSON.stringify(frame).slice(0, 400)}`,
  );
}

/** Fails with every violation recorded since the last call (and forgets them). */
export function expectNoContractViolations(): void {
  const found = violations.splice(0);
  expect(found).toEqual([]);
}
