/** A stream sequence `{unixMs}-{n}` as numbers (checked independently of the product's own parser). */
export function seqKey(sequence: string): [number, number] {
  const match = /^(\d+)-(\d+)$/.exec(sequence);
  if (!match) throw new Error(`not a {unixMs}-{n} sequence: ${JSON.stringify(sequence)}`);
  return [Number(match[1]), Number(match[2])];
}

/** Orders sequences as (ms, n) number pairs, never as strings. */
export function compareSeq(a: string, b: string) {
  const [am, an] = seqKey(a);
  const [bm, bn] = seqKey(b);
  return am - bm || an - bn;
}
