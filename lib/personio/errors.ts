/** Stable codes an admin, a run report or the worker can act on; never parse Personio's (often German) messages. */
export type PersonioErrorCode = 'invalid_credentials' | 'forbidden' | 'not_found' | 'rate_limited' | 'unavailable' | 'bad_response' | 'timeout';

const retryableCodes: ReadonlySet<PersonioErrorCode> = new Set(['rate_limited', 'unavailable', 'timeout']);

export class PersonioError extends Error {
  override readonly name = 'PersonioError';
  readonly code: PersonioErrorCode;
  /** HTTP status of the last answer, when there was one. */
  readonly status: number | undefined;
  /** Personio's own message from its error envelope, for the report; never contains our secret or token. */
  readonly personioMessage: string | undefined;

  constructor(code: PersonioErrorCode, message: string, options: { status?: number; personioMessage?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.status = options.status;
    this.personioMessage = options.personioMessage;
  }

  /** Whether a later attempt (a new run, a redelivered message) may succeed without anyone changing anything. */
  get retryable(): boolean {
    return retryableCodes.has(this.code);
  }
}
