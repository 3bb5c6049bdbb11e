/** `SET #f0 = :v0, …` over arbitrary attribute names (some, like `status`, are reserved words). */
export function setExpression(values: Record<string, unknown>): { expression: string; names: Record<string, string>; values: Record<string, unknown> } {
  const names: Record<string, string> = {};
  const placeholders: Record<string, unknown> = {};
  const parts = Object.entries(values).map(([k, v], i) => {
    names[`#f${i}`] = k;
    placeholders[`:v${i}`] = v;
    return `#f${i} = :v${i}`;
  });
  return { expression: parts.join(', '), names, values: placeholders };
}
