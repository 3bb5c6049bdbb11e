import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { type ChangeMessage, changeMessageSchema } from './change.js';

export interface ChangeSender {
  send(message: ChangeMessage): Promise<void>;
}

/**
 * Puts one change on the changes queue. One SendMessage per delivery: Personio delivers one change per request, and the
 * answer waits for SQS's confirmation (nothing is batched across requests). SQS's errors propagate unchanged.
 */
export class ChangesQueueSender implements ChangeSender {
  constructor(
    private readonly sqs: Pick<SQSClient, 'send'>,
    private readonly queueUrl: string,
  ) {}

  async send(message: ChangeMessage): Promise<void> {
    await this.sqs.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(changeMessageSchema.parse(message)) }));
  }
}
