import * as z from 'zod';

/**
 * Personio's v2 payloads connect uses: the client-credentials token and webhook management. Lenient where Personio
 * may add or omit fields; strict only on what we act on (the token, a webhook's id and url).
 */

export const v2TokenSchema = z.object({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.number().optional(),
  /** Space-separated granted scopes; absent means Personio did not say. */
  scope: z.string().optional(),
});

export const webhookSchema = z.object({
  id: z.union([z.string().min(1), z.number()]).transform(String),
  url: z.string(),
  description: z.string().nullish(),
  status: z.string().optional(),
  auth_type: z.string().optional(),
  enabled_events: z.array(z.string()).optional(),
});
export type Webhook = z.output<typeof webhookSchema>;

/**
 * A page of webhooks. Personio's v2 lists wrap items in `_data` with `_meta.links.next.href` for the next page; a
 * plain `data` envelope or a bare array are accepted too, since the listing's exact envelope is not pinned down.
 */
export const webhookListSchema = z.union([
  z.array(webhookSchema).transform((data) => ({ data, next: undefined as string | undefined })),
  z
    .object({
      _data: z.array(webhookSchema).optional(),
      data: z.array(webhookSchema).optional(),
      _meta: z.object({ links: z.object({ next: z.object({ href: z.string().nullish() }).nullish() }).nullish() }).nullish(),
    })
    .transform((page) => ({ data: page._data ?? page.data ?? [], next: page._meta?.links?.next?.href ?? undefined })),
]);

/** v2 error envelopes: `{errors: [{title, detail}]}`, or v1's `{error: {message}}`. */
export const v2ErrorSchema = z.object({
  errors: z.array(z.object({ title: z.string().optional(), detail: z.string().optional() })).optional(),
  error: z.object({ message: z.string().optional() }).optional(),
});
