/**
 * The text, cut to at most `max` UTF-16 units with an ellipsis when it is longer; never splits a surrogate pair, so
 * what is stored or shown stays valid Unicode.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, Math.max(0, max - 1));
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}
