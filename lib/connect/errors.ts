export type ConnectErrorCode =
  | 'invalid_request'
  | 'invalid_json'
  | 'forbidden'
  | 'actor_required'
  | 'invalid_actor'
  | 'body_too_large'
  | 'invalid_tenant_id'
  | 'invalid_mapping'
  | 'not_found'
  | 'method_not_allowed'
  | 'invalid_credentials'
  | 'email_not_readable'
  | 'status_not_readable'
  | 'personio_unavailable'
  | 'personio_rate_limited'
  | 'not_connected'
  | 'disconnected'
  | 'import_running'
  | 'conflict'
  | 'run_not_found'
  | 'run_not_held'
  | 'run_superseded'
  | 'secrets_unavailable'
  | 'schedule_unavailable'
  | 'import_unavailable'
  | 'imports_paused'
  | 'internal_error';

/** Every code with its HTTP status: the API's contract (docs/openapi.yaml lists the same). */
export const statusByCode: Record<ConnectErrorCode, number> = {
  invalid_request: 400,
  invalid_json: 400,
  forbidden: 403,
  actor_required: 400,
  invalid_actor: 400,
  body_too_large: 413,
  invalid_tenant_id: 400,
  invalid_mapping: 400,
  not_found: 404,
  method_not_allowed: 405,
  invalid_credentials: 422,
  email_not_readable: 422,
  status_not_readable: 422,
  personio_unavailable: 502,
  personio_rate_limited: 503,
  not_connected: 404,
  disconnected: 409,
  import_running: 409,
  conflict: 409,
  run_not_found: 404,
  run_not_held: 409,
  run_superseded: 409,
  secrets_unavailable: 503,
  schedule_unavailable: 503,
  import_unavailable: 503,
  imports_paused: 503,
  internal_error: 500,
};

/** An answer the admin sees: a stable code, a message to act on, optional details (never a secret). */
export class ConnectError extends Error {
  override readonly name = 'ConnectError';
  constructor(
    readonly code: ConnectErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  get status(): number {
    return statusByCode[this.code];
  }
}
