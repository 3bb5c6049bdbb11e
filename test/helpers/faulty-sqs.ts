import {
  RequestThrottled,
  SendMessageBatchCommand,
  type BatchResultErrorEntry,
  type SendMessageBatchCommandOutput,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';

/**
 * A wrapper around an SQS client's `send` that injects what real SQS does and local-aws-sqs never does. Faults
 * are injected at the SDK's edge (after the SDK's own retries would have run), so a thrown error here is what
 * product code sees once the SDK has given up. Entries a rule fails never reach the wrapped client; the rest
 * are really sent, so whatever the caller re-sends can be checked on the queue afterwards.
 *
 * Only SendMessageBatch is touched; every other command passes through unchanged. Rules apply in this order:
 * `throttle`, then `refuse-invalid-characters`, then each `fail-entries` in the order given (an entry is failed
 * by the first rule that takes it).
 */
export type SqsFaultRule =
  /**
   * The whole SendMessageBatch call throws RequestThrottled (SQS's throttling error) for `calls`
   * SendMessageBatch calls after the first `after` (default 0) went through: nothing of such a batch lands.
   */
  | { kind: 'throttle'; calls: number; after?: number }
  /**
   * As real SQS does: an entry whose body holds a character outside #x9 | #xA | #xD | #x20-#xD7FF |
   * #xE000-#xFFFD | #x10000-#x10FFFF (U+FFFE, U+FFFF, control characters, lone surrogates) comes back as a
   * Failed entry with SenderFault and Code InvalidMessageContents, while the batch's other entries land.
   */
  | { kind: 'refuse-invalid-characters' }
  /**
   * Entries come back in Failed with `code` (e.g. InternalError, ServiceUnavailable, InvalidMessageContents)
   * and `senderFault` (default false: SQS's side, worth re-sending). Which entries: those of the first
   * `calls` SendMessageBatch calls (default: every call) that `match` accepts (default: all), at most
   * `times` entries over the client's life (default: unbounded).
   */
  | {
      kind: 'fail-entries';
      code: string;
      senderFault?: boolean;
      calls?: number;
      match?: (entry: SendMessageBatchRequestEntry, call: number) => boolean;
      times?: number;
    };

export interface InjectedFault {
  /** 1-based number of the SendMessageBatch call. */
  call: number;
  kind: SqsFaultRule['kind'];
  /** The entry failed (none for a throttled call). */
  entryId?: string;
  code: string;
}

export interface FaultySqs extends Pick<SQSClient, 'send'> {
  /** Every fault injected so far, so a test can show its faults did happen. */
  readonly injected: readonly InjectedFault[];
  /** SendMessageBatch calls made so far, faulty or not. */
  readonly batchCalls: number;
}

const SQS_INVALID_CHARACTER = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** Whether real SQS would refuse this message body. */
export function sqsRefusesBody(body: string): boolean {
  return SQS_INVALID_CHARACTER.test(body);
}

export function faultySqs(sqs: Pick<SQSClient, 'send'>, rules: readonly SqsFaultRule[]): FaultySqs {
  const injected: InjectedFault[] = [];
  const used = new Map<SqsFaultRule, number>();
  let batchCalls = 0;

  async function sendBatch(command: SendMessageBatchCommand): Promise<SendMessageBatchCommandOutput> {
    const call = ++batchCalls;
    for (const rule of rules) {
      if (rule.kind === 'throttle' && call > (rule.after ?? 0) && call <= (rule.after ?? 0) + rule.calls) {
        injected.push({ call, kind: rule.kind, code: 'RequestThrottled' });
        throw new RequestThrottled({ message: 'Rate exceeded (injected)', $metadata: { httpStatusCode: 400 } });
      }
    }
    const failed: BatchResultErrorEntry[] = [];
    const passed: SendMessageBatchRequestEntry[] = [];
    for (const entry of command.input.Entries ?? []) {
      const failure = failureFor(entry, call);
      if (!failure) {
        passed.push(entry);
        continue;
      }
      injected.push({ call, kind: failure.kind, entryId: entry.Id ?? '', code: failure.Code ?? '' });
      failed.push({ Id: failure.Id, SenderFault: failure.SenderFault, Code: failure.Code, Message: failure.Message });
    }
    // SQS answers an empty batch with EmptyBatchRequest, so a batch failed whole never reaches the wrapped client.
    const output: SendMessageBatchCommandOutput =
      passed.length > 0
        ? await sqs.send(new SendMessageBatchCommand({ ...command.input, Entries: passed }))
        : { Successful: [], Failed: [], $metadata: { httpStatusCode: 200 } };
    return { ...output, Failed: [...(output.Failed ?? []), ...failed] };
  }

  function failureFor(entry: SendMessageBatchRequestEntry, call: number): (BatchResultErrorEntry & { kind: SqsFaultRule['kind'] }) | undefined {
    const Id = entry.Id ?? '';
    if (rules.some((r) => r.kind === 'refuse-invalid-characters') && sqsRefusesBody(entry.MessageBody ?? '')) {
      // Real SQS names the character's code point, never the body.
      return {
        kind: 'refuse-invalid-characters',
        Id,
        SenderFault: true,
        Code: 'InvalidMessageContents',
        Message: 'Invalid binary character was found in the message body.',
      };
    }
    for (const rule of rules) {
      if (rule.kind !== 'fail-entries') continue;
      if (rule.calls !== undefined && call > rule.calls) continue;
      if ((used.get(rule) ?? 0) >= (rule.times ?? Infinity)) continue;
      if (rule.match && !rule.match(entry, call)) continue;
      used.set(rule, (used.get(rule) ?? 0) + 1);
      return { kind: rule.kind, Id, SenderFault: rule.senderFault ?? false, Code: rule.code, Message: `Injected ${rule.code}.` };
    }
    return undefined;
  }

  const send = ((command: unknown, ...rest: unknown[]) =>
    command instanceof SendMessageBatchCommand
      ? sendBatch(command)
      : (sqs.send as (c: unknown, ...r: unknown[]) => Promise<unknown>)(command, ...rest)) as SQSClient['send'];

  return {
    send,
    get injected() {
      return injected;
    },
    get batchCalls() {
      return batchCalls;
    },
  };
}
