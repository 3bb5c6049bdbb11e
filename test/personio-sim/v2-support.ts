import { expect } from 'vitest';
import type { PersonioSim } from '../../local/personio-sim/index.js';
import { type Answer, CREDENTIAL, call } from './support.js';

/** v2 calls for the simulator's tests: the form-encoded token request and bearer-authenticated JSON calls. */

export interface V2Token {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
}

export interface Problem {
  personio_trace_id: string;
  timestamp: string;
  errors: { title: string; detail: string; type: string; _meta?: Record<string, unknown> }[];
}

export interface Webhook {
  id: string;
  url: string;
  description: string;
  status: string;
  auth_type: string;
  enabled_events: string[];
  created_at: string;
  updated_at: string;
}

export function requestToken<T = V2Token>(
  sim: PersonioSim,
  fields: Record<string, string>,
  contentType = 'application/x-www-form-urlencoded',
): Promise<Answer<T>> {
  return call<T>(`${sim.url}/v2/auth/token`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: contentType.includes('json') ? JSON.stringify(fields) : new URLSearchParams(fields).toString(),
  });
}

export async function v2Token(sim: PersonioSim, credential: { client_id: string; client_secret: string } = CREDENTIAL): Promise<string> {
  const answer = await requestToken(sim, { grant_type: 'client_credentials', ...credential });
  expect(answer.status).toBe(200);
  return answer.body.access_token;
}

export function v2<T = unknown>(sim: PersonioSim, method: string, path: string, token: string | null, body?: unknown): Promise<Answer<T>> {
  const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return call<T>(`${sim.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
}

export function registration(url: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    url,
    description: 'Dado import',
    status: 'ENABLED',
    auth_type: 'TOKEN',
    token: 'Bearer webhook-token-for-tests-0123456789',
    enabled_events: ['person.created', 'person.updated', 'person.deleted', 'employment.updated', 'employment.terminated', 'employment.deleted'],
    ...overrides,
  };
}
