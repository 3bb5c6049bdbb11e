import * as z from 'zod';

/**
 * Personio's v1 payloads. Strict where a wrong shape means a broken response (envelope, `success`,
 * `data` array); lenient where Personio is loose (numbers as strings, nulls, unknown attribute types,
 * missing metadata).
 */

const looseInt = z
  .union([
    z.number(),
    z
      .string()
      .trim()
      .regex(/^-?\d+$/),
  ])
  .transform((v) => Number(v));

export const attributeSchema = z.object({
  value: z.unknown(),
  type: z.string().optional(),
  universal_id: z.string().nullish(),
  label: z.string().nullish(),
});

const rawEmployeeSchema = z.object({
  type: z.string().optional(),
  attributes: z.record(z.string(), attributeSchema),
});

export const employeesPageSchema = z.object({
  success: z.literal(true),
  metadata: z
    .object({
      total_elements: looseInt.optional(),
      current_page: looseInt.optional(),
      total_pages: looseInt.optional(),
    })
    .optional(),
  offset: looseInt.optional(),
  limit: looseInt.optional(),
  data: z.array(rawEmployeeSchema),
});

export const employeeByIdSchema = z.object({ success: z.literal(true), data: rawEmployeeSchema });

export const authResponseSchema = z.object({
  success: z.literal(true),
  data: z.object({
    token: z.string().min(1),
    // Optional in the spec; Personio's tokens live 24 h.
    expires_in: looseInt.optional(),
  }),
});

const attributeInfoSchema = z.object({
  key: z.string().min(1),
  label: z.string().catch(''),
  type: z.string().catch('standard'),
  universal_id: z
    .string()
    .nullish()
    .transform((v) => v ?? null),
  options: z
    .array(z.unknown())
    .nullish()
    .transform((v) => (v ?? []).map(String)),
});

export const attributesResponseSchema = z.object({ success: z.literal(true), data: z.array(attributeInfoSchema) });

export const errorEnvelopeSchema = z.object({
  success: z.literal(false).optional(),
  error: z.object({ code: z.unknown().optional(), message: z.string().optional() }).optional(),
});

export type RawEmployee = z.infer<typeof rawEmployeeSchema>;
export type EmployeesPage = z.infer<typeof employeesPageSchema>;
export type AttributeInfo = z.infer<typeof attributeInfoSchema>;
