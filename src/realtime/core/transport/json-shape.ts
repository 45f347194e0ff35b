const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;

/** How far a JSON text may go: nesting, and object keys plus array elements in all. */
export interface JsonShapeLimits {
  maxDepth: number;
  maxElements: number;
}

/** Which limit a text passes, if any. */
export type JsonShapeExcess = 'depth' | 'elements' | undefined;

const isWhitespace = (code: number): boolean => code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;

/**
 * Whether `text` nests deeper than `maxDepth` or holds more than `maxElements` object keys plus
 * array elements, strings aside: one linear scan, before anything is built (SPEC.md §10.1). The
 * counts are exact for valid JSON; for invalid JSON they only decide which error comes first.
 */
export function jsonShapeExcess(text: string, { maxDepth, maxElements }: JsonShapeLimits): JsonShapeExcess {
  let depth = 0;
  let elements = 0;
  let inString = false;
  /** Per open level (at most `maxDepth`): whether it is an array, whose commas separate elements. */
  const arrays: boolean[] = [];
  /** Just after `[`: the next non-blank character starts the first element, unless it is `]`. */
  let arrayOpened = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === BACKSLASH) i++;
      else if (code === QUOTE) inString = false;
      continue;
    }
    if (arrayOpened && !isWhitespace(code)) {
      arrayOpened = false;
      if (code !== CLOSE_ARRAY && ++elements > maxElements) return 'elements';
    }
    if (code === QUOTE) {
      inString = true;
    } else if (code === OPEN_OBJECT || code === OPEN_ARRAY) {
      if (++depth > maxDepth) return 'depth';
      arrays[depth] = code === OPEN_ARRAY;
      arrayOpened = code === OPEN_ARRAY;
    } else if (code === CLOSE_OBJECT || code === CLOSE_ARRAY) {
      depth--;
    } else if (code === COLON || (code === COMMA && arrays[depth] === true)) {
      // A key of an object (its colon), or a further element of an array.
      if (++elements > maxElements) return 'elements';
    }
  }
  return undefined;
}
