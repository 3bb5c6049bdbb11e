/**
 * How long a message that failed transiently stays invisible before SQS delivers it again: 10 s, 20 s, 40 s, … with
 * jitter (so the messages of one throttled burst do not come back in step), never more than 5 minutes. The queue's
 * redrive policy still sets the message aside after its fifth receive.
 */
export function retryVisibilitySeconds(receiveCount: number, random: () => number = Math.random): number {
  const base = Math.min(300, 10 * 2 ** Math.max(0, Math.min(receiveCount, 10) - 1));
  return Math.round(base * (0.75 + random() * 0.5));
}
