/** One EMF log line as CloudWatch reads it: the metric definition, and the line's dimension and metric values. */
export interface EmfBlob {
  definition: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] };
  values: Record<string, unknown>;
}

/** The EMF lines among what was written to stdout (Powertools prints one JSON object per line). */
export function emfBlobs(chunks: readonly string[]): EmfBlob[] {
  return chunks
    .join('')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{') && l.includes('"_aws"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .flatMap((b) => {
      const aws = b['_aws'] as { CloudWatchMetrics?: EmfBlob['definition'][] } | undefined;
      return (aws?.CloudWatchMetrics ?? []).map((definition) => ({ definition, values: b }));
    });
}

/** The sum of one metric's values over the lines with these dimension values (a value may be a list: Powertools batches). */
export function sumOf(blobs: readonly EmfBlob[], metric: string, dimensions: Record<string, string> = {}): number {
  let sum = 0;
  for (const { definition, values } of blobs) {
    if (!definition.Metrics.some((m) => m.Name === metric)) continue;
    if (Object.entries(dimensions).some(([k, v]) => values[k] !== v)) continue;
    const value = values[metric];
    for (const n of Array.isArray(value) ? value : [value]) sum += Number(n);
  }
  return sum;
}
