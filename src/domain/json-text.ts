import { randomBytes } from 'node:crypto';

/**
 * A JSON value held as its text, serialised already: written to a JSON column as is, and read from one without
 * parsing, to be written into a response as is. Anything else that serialises it (`JSON.stringify`) gets the
 * parsed value, so it is never wrong, only slower, wherever it ends up.
 */
export class JsonText {
  constructor(readonly text: string) {}

  toJSON(): unknown {
    if (pending) return `${MARK}${pending.push(this.text) - 1}`;
    return JSON.parse(this.text) as unknown;
  }
}

// While stringifyWithJsonText runs, each JsonText stands in as a string no input can hold (every store refuses
// NUL characters, and the rest is random per process), and its text replaces that string afterwards.
const NONCE = randomBytes(12).toString('hex');
const MARK = `\u0000${NONCE}:`;
const MARKED = new RegExp(`"\\\\u0000${NONCE}:(\\d+)"`, 'g');
let pending: string[] | null = null;

/** `JSON.stringify`, with each JsonText's text written in place rather than parsed and written again. */
export function stringifyWithJsonText(value: unknown): string {
  const outer = pending;
  const texts: string[] = [];
  pending = texts;
  try {
    const json = JSON.stringify(value);
    return texts.length === 0 ? json : json.replace(MARKED, (_, index: string) => texts[Number(index)]!);
  } finally {
    pending = outer;
  }
}
