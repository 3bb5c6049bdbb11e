import * as z from 'zod';

/** Fields of the user record that come from Personio (DESIGN §4); tenantId, userId, active and managerUserId are derived. */
export const userFieldNames = [
  'email',
  'firstName',
  'preferredName',
  'lastName',
  'position',
  'team',
  'department',
  'office',
  'employmentType',
  'hireDate',
  'terminationDate',
  'birthday',
  'status',
  'managerPersonioId',
] as const;
export type UserFieldName = (typeof userFieldNames)[number];

/** The attribute each field reads by default. The birthday has no fixed key: it is resolved per tenant. */
const defaultSources: Record<UserFieldName, string | null> = {
  email: 'email',
  firstName: 'first_name',
  preferredName: 'preferred_name',
  lastName: 'last_name',
  position: 'position',
  team: 'team',
  department: 'department',
  office: 'office',
  employmentType: 'employment_type',
  hireDate: 'hire_date',
  terminationDate: 'termination_date',
  birthday: null,
  status: 'status',
  managerPersonioId: 'supervisor',
};

export const BIRTHDAY_UNIVERSAL_ID = 'date_of_birth';

const attributeKey = z.string().regex(/^[a-z][a-z0-9_]{0,99}$/, 'a Personio attribute key such as first_name or dynamic_123');
const customName = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'letters, digits and _, starting with a letter');

/**
 * A tenant's mapping: for each field, the Personio attribute it is imported from, or null when the
 * field is not imported (never written). Custom fields map a name the admin chose to a `dynamic_*` key.
 */
export const mappingSchema = z
  .object({
    fields: z
      .object(Object.fromEntries(userFieldNames.map((f) => [f, attributeKey.nullable()])) as Record<UserFieldName, z.ZodNullable<typeof attributeKey>>)
      .strict(),
    customFields: z.record(customName, attributeKey.regex(/^dynamic_\d+$/, 'a custom attribute key (dynamic_<id>)')).default({}),
  })
  .strict()
  .refine((m) => m.fields.email !== null, { message: 'email must be imported: Dado cannot create users without it', path: ['fields', 'email'] });

export type Mapping = z.output<typeof mappingSchema>;

/** The default mapping with the tenant's birthday attribute filled in when Personio has one. */
export function defaultMapping(birthdayAttribute: string | null = null): Mapping {
  return { fields: { ...defaultSources, birthday: birthdayAttribute }, customFields: {} };
}

/** Attributes to request from Personio: what the mapping reads plus what every import needs. */
export function projection(mapping: Mapping): string[] {
  const keys = new Set(['id', 'email', 'status', 'last_modified_at']);
  for (const source of Object.values(mapping.fields)) if (source) keys.add(source);
  for (const source of Object.values(mapping.customFields)) keys.add(source);
  return [...keys].sort();
}
