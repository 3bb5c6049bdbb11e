import { CodedError } from '../util/errors.js';

/**
 * Why the receiver refused a delivery, or could not take it: each code is one answer (receive.ts `answers`). A refusal's
 * message never carries the token or the body, and the 401s share one message so it says nothing about which check
 * failed.
 */
export type WebhookErrorCode = 'payload_too_large' | 'unauthorized' | 'malformed_body' | 'company_mismatch' | 'unavailable';

export class WebhookError extends CodedError<WebhookErrorCode> {
  override readonly name = 'WebhookError';
}
