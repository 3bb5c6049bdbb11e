import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The HTTP plumbing the AWS stand-ins share: bodies with a size limit, JSON objects, AWS-style JSON answers. */

export type Json = Record<string, unknown>;

/** An error the stand-in answers as AWS does: status, `x-amzn-ErrorType` and a `__type` body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    /** Front-end errors spell the field `message`; the services' own errors use `Message`. */
    readonly lowerCaseMessage = false,
  ) {
    super(message);
  }
}

export async function readBody(req: IncomingMessage, limit: number, tooLarge: () => Error): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** An empty body is `{}`; the parser's own message is dropped because V8 quotes the input in it. */
export function parseJsonObject(text: string, invalid: (message: string) => Error): Json {
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid('The request body is not valid JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid('The request body must be a JSON object.');
  return parsed as Json;
}

export function sendJson(res: ServerResponse, status: number, body: Json, contentType: string, errorType?: string): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(payload),
    'x-amzn-RequestId': randomUUID(),
    ...(errorType !== undefined && { 'x-amzn-ErrorType': errorType }),
  });
  res.end(payload);
}
