/**
 * Which data an agent needs: a need matches a key or description when every word of the need is a word of it,
 * ignoring case and separators ("API config" matches "api_config" and "Api-Config", "config" does not match
 * "configuration").
 */
export const wordsOf = (text: string) => text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);

export function matchesNeed(need: string, dataKey: string, description: string | null): boolean {
  const wanted = wordsOf(need);
  if (wanted.length === 0) return false;
  return [wordsOf(dataKey), wordsOf(description ?? '')].some((words) => wanted.every((word) => words.includes(word)));
}
