import * as z from 'zod';

/**
 * Tenant ids end up in secret names, DynamoDB keys and log lines, so they are validated before any
 * use: no `/`, no `..`, nothing that could reach another tenant's secret or rows.
 */
export const tenantIdSchema = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/, 'lower-case letters, digits and inner hyphens, 1 to 64 characters');

export type TenantId = z.infer<typeof tenantIdSchema>;
