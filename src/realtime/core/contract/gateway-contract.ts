/** A JSON Schema (draft-07, the subset AsyncAPI 3 takes as its default schema format). */
export type JsonSchema = { readonly [keyword: string]: unknown };

/** One kind of frame of a gateway, with the JSON Schema of its payload. */
export interface MessageContract {
  /** Unique within its gateway and direction, e.g. `join_room`, `room_joined`, `error`. */
  readonly name: string;
  readonly summary: string;
  readonly payload: JsonSchema;
}

/**
 * A gateway's wire contract, kept beside its definition: what the AsyncAPI document publishes and
 * what the e2e suites check every frame against (so that the document cannot drift from the code).
 */
export interface GatewayContract {
  /** A human title, e.g. `Chat rooms`. */
  readonly title: string;
  readonly description: string;
  /** Each path parameter (`:name` in the definition's paths), described. */
  readonly parameters?: Readonly<Record<string, string>>;
  /** Query parameters of the upgrade besides `token` (e.g. the resume positions), as a JSON Schema object. */
  readonly query?: JsonSchema;
  /** Frames a client sends (the server's `receive` operations). */
  readonly receives: readonly MessageContract[];
  /** Frames the server sends (its `send` operations). */
  readonly sends: readonly MessageContract[];
}
