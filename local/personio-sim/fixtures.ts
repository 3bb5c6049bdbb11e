import { readFileSync } from 'node:fs';
import * as z from 'zod';

/**
 * What the simulator takes from Personio's own examples (fixtures/*.example.json): the attribute shape every employee
 * carries and the attribute listing. Read once at import; a fixture that lacks a piece fails loudly here.
 */

/** One `{label, value, type, universal_id}` attribute as Personio wraps it (salary fields add `currency`). */
export type Attribute = { label: string; value: unknown; type: string; universal_id: string | null } & Record<string, unknown>;
export type Attributes = Record<string, Attribute>;

/** An entry of GET /v1/company/employees/attributes. */
export interface AttributeDefinition {
  key: string;
  label: string;
  type: string;
  universal_id: string | null;
  options: string[];
}

export function loadFixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
}

const attributeSchema = z.looseObject({
  label: z.string(),
  value: z.unknown(),
  type: z.string(),
  universal_id: z.string().nullable(),
});
const exampleEmployeeSchema = z.object({ attributes: z.record(z.string(), attributeSchema) });

function exampleAttributes(fixture: string, pick: (body: unknown) => unknown): Attributes {
  return exampleEmployeeSchema.parse(pick(loadFixture(fixture))).attributes as Attributes;
}

const listEmployee = exampleAttributes('v1-employees-list.example.json', (b) => z.object({ data: z.array(z.unknown()) }).parse(b).data[0]);
const byIdEmployee = exampleAttributes('v1-employee-by-id.example.json', (b) => z.object({ data: z.unknown() }).parse(b).data);
const attributesListing = z
  .object({
    data: z.array(z.object({ key: z.string(), label: z.string(), type: z.string(), universal_id: z.string().nullable(), options: z.array(z.string()) })),
  })
  .parse(loadFixture('v1-employee-attributes.example.json')).data;

export function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`Personio fixture lacks ${what}`);
  return value;
}

export const BIRTHDAY_KEY = 'dynamic_180883';
export const LANGUAGES_KEY = 'dynamic_3';
export const MARITAL_KEY = 'dynamic_2';
const RELATION_KEYS = ['supervisor', 'department', 'office', 'team'] as const;
export const relationKeys: ReadonlySet<string> = new Set(RELATION_KEYS);

function listedDefinition(key: string): AttributeDefinition {
  return required(
    attributesListing.find((a) => a.key === key),
    `attribute ${key}`,
  );
}
export const languagesDefinition = listedDefinition(LANGUAGES_KEY);
export const maritalDefinition = listedDefinition(MARITAL_KEY);

/**
 * The attribute template: the list example's employee, minus `vacation_day_balance` (removed from the live API on
 * 8 Apr 2024 and already absent from the by-id example), plus the by-id example's birthday (relabelled the way a
 * German tenant names it), and the tags/list attributes of the attributes example.
 */
export function baseTemplate(): Attributes {
  const template: Attributes = {};
  for (const [key, attribute] of Object.entries(listEmployee)) {
    if (key !== 'vacation_day_balance') template[key] = attribute;
  }
  template[BIRTHDAY_KEY] = { ...required(byIdEmployee[BIRTHDAY_KEY], 'a birthday attribute'), label: 'Geburtstag' };
  for (const definition of [languagesDefinition, maritalDefinition]) {
    template[definition.key] = { label: definition.label, value: null, universal_id: definition.universal_id, type: definition.type };
  }
  return template;
}
