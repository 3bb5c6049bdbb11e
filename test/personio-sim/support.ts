import { expect } from 'vitest';
import type { PersonioSim, SimOptions } from '../../local/personio-sim/index.js';

/** What the simulator's tests share: raw HTTP calls, authentication, and readers for Personio's wrapped attributes. */

export interface Attribute {
  label: string;
  value: unknown;
  type: string;
  universal_id: string | null;
}
export interface Employee {
  type: string;
  attributes: Record<string, Attribute>;
}
export interface Page {
  success: boolean;
  metadata: { total_elements: number; current_page: number; total_pages: number };
  offset: number;
  limit: number;
  data: Employee[];
}
export interface Answer<T = unknown> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

export const CREDENTIAL = { client_id: 'sim-client-id', client_secret: 'sim-client-secret' };
/** Keeps the shared simulators' rate limits out of the way of tests that are not about them. */
export const UNLIMITED: SimOptions = { employeesPerSecond: 1e6, employeesPerMinute: 1e6, ipPerMinute: 1e6, authPerMinute: 1e6 };

export async function call<T = unknown>(url: string, init?: RequestInit): Promise<Answer<T>> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    // Non-JSON bodies (502 HTML, malformed pages) are asserted on `text`.
  }
  return { status: response.status, body: body as T, text, headers: response.headers };
}

export async function authenticate(sim: PersonioSim, credential: { client_id: string; client_secret: string } = CREDENTIAL): Promise<string> {
  const answer = await call<{ data: { token: string } }>(`${sim.url}/v1/auth`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(credential),
  });
  expect(answer.status).toBe(200);
  return answer.body.data.token;
}

export function get<T = unknown>(sim: PersonioSim, path: string, token: string | null): Promise<Answer<T>> {
  return call<T>(`${sim.url}${path}`, token === null ? {} : { headers: { authorization: `Bearer ${token}` } });
}

export function ids(page: Page): number[] {
  return page.data.map((e) => e.attributes['id']?.value as number);
}

export function value(employee: { attributes: Record<string, unknown> }, key: string): unknown {
  return (employee.attributes[key] as Attribute | undefined)?.value;
}

/** Personio's offset forms (`+01:00`, `+0100`, `Z`) to epoch ms, written independently of the simulator's parser. */
export function epochMs(stamp: string): number {
  return Date.parse(stamp.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
}

export const personioError = (code: number, message: string) => ({ success: false, error: { code, message } });
