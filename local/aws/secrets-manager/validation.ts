import { ApiError, type Json } from '../http.js';
import type { SecretValue } from './secret.js';

/**
 * Reading request fields the way Secrets Manager's front end checks them: a value of the wrong JSON type is a
 * SerializationException, a value out of bounds a ValidationException; both name the field, never its value.
 */

/** AWS field names are PascalCase on the wire but camelCase in validation messages. */
const memberName = (field: string): string => field.charAt(0).toLowerCase() + field.slice(1);

export function optionalString(body: Json, field: string, limits: { min?: number; max?: number; member?: string } = {}): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw new ApiError(400, 'SerializationException', `Unexpected value type for field '${field}': expected a string.`, true);
  }
  const { min = 0, max = Number.POSITIVE_INFINITY, member = memberName(field) } = limits;
  if (value.length < min) {
    throw validation(`Value at '${member}' failed to satisfy constraint: Member must have length greater than or equal to ${min}`);
  }
  if (value.length > max) {
    throw validation(`Value at '${member}' failed to satisfy constraint: Member must have length less than or equal to ${max}`);
  }
  return value;
}

export function requiredString(body: Json, field: string, limits: { min?: number; max?: number } = {}): string {
  const value = optionalString(body, field, limits);
  if (value === undefined) throw validation(`Value null at '${memberName(field)}' failed to satisfy constraint: Member must not be null`);
  return value;
}

export function optionalBoolean(body: Json, field: string): boolean | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') {
    throw new ApiError(400, 'SerializationException', `Unexpected value type for field '${field}': expected a boolean.`, true);
  }
  return value;
}

export function optionalInteger(body: Json, field: string): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new ApiError(400, 'SerializationException', `Unexpected value type for field '${field}': expected an integer.`, true);
  }
  return value;
}

function validation(problem: string): ApiError {
  return new ApiError(400, 'ValidationException', `1 validation error detected: ${problem}`, true);
}

/** Secrets Manager's pattern for tag keys and values: letters, spaces, digits and `_ . : / = + - @`. */
const TAG_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** `Tags` as CreateSecret and TagResource take it: each key 1-128 and value 0-256 characters of TAG_PATTERN. */
export function parseTags(body: Json, required = false): { Key: string; Value: string }[] {
  const raw = body['Tags'];
  if (raw === undefined || raw === null) {
    if (required) throw validation("Value null at 'tags' failed to satisfy constraint: Member must not be null");
    return [];
  }
  if (!Array.isArray(raw)) throw new ApiError(400, 'SerializationException', "Unexpected value type for field 'Tags': expected a list.", true);
  return raw.map((tag: unknown, i) => {
    if (typeof tag !== 'object' || tag === null) {
      throw new ApiError(400, 'SerializationException', "Unexpected value type in field 'Tags': expected a structure.", true);
    }
    const member = `tags.${i + 1}.member`;
    const t = tag as Json;
    const key = optionalString(t, 'Key', { member: `${member}.key`, min: 1, max: 128 });
    if (key === undefined) throw validation(`Value null at '${member}.key' failed to satisfy constraint: Member must not be null`);
    const value = optionalString(t, 'Value', { member: `${member}.value`, max: 256 }) ?? '';
    for (const [name, text] of [
      ['key', key],
      ['value', value],
    ] as const) {
      if (!TAG_PATTERN.test(text)) {
        throw validation(
          `Value at '${member}.${name}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$`,
        );
      }
    }
    return { Key: key, Value: value };
  });
}

const KEY_ID = '(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})';
const ALIAS = 'alias/[a-zA-Z0-9/_-]{1,250}';
const KMS_KEY_REFERENCE = new RegExp(`^(?:${KEY_ID}|${ALIAS}|arn:aws[a-z-]*:kms:([a-z0-9-]+):\\d{12}:(?:key/${KEY_ID}|${ALIAS}))$`);

/**
 * `KmsKeyId` (CreateSecret, UpdateSecret): a key id, key ARN, alias name or alias ARN, of a key in this Region. The
 * service hands it to KMS, and answers a key KMS cannot resolve with InvalidParameterException (boto/boto3#1533); the
 * stand-in has no KMS, so it refuses what cannot name a key here and records the rest as given.
 */
export function parseKmsKeyId(body: Json, region: string): string | undefined {
  const kmsKeyId = optionalString(body, 'KmsKeyId', { max: 2048 });
  if (kmsKeyId === undefined) return undefined;
  const match = KMS_KEY_REFERENCE.exec(kmsKeyId);
  if (!match || (match[1] !== undefined && match[1] !== region)) {
    throw new ApiError(400, 'InvalidParameterException', 'The KmsKeyId is not a KMS key id, key ARN, alias name or alias ARN in this Region.');
  }
  return kmsKeyId;
}

/** SecretString xor SecretBinary, as CreateSecret and PutSecretValue both require. */
export function parseValue(body: Json, required: boolean): SecretValue | undefined {
  const secretString = optionalString(body, 'SecretString', { max: 65536 });
  const secretBinary = optionalString(body, 'SecretBinary', { max: 87384 }); // base64 of 64 KiB
  if (secretString !== undefined && secretBinary !== undefined) {
    throw new ApiError(400, 'InvalidParameterException', "You can't specify both a binary secret value and a string secret value in the same secret.");
  }
  if (secretString === undefined && secretBinary === undefined) {
    if (required) throw new ApiError(400, 'InvalidRequestException', 'You must provide either SecretString or SecretBinary.');
    return undefined;
  }
  return secretString !== undefined ? { secretString } : { secretBinary: secretBinary as string };
}

export function parseStages(body: Json, defaultStage: string): string[] {
  const raw = body['VersionStages'];
  if (raw === undefined || raw === null) return [defaultStage];
  if (!Array.isArray(raw) || raw.some((s) => typeof s !== 'string')) {
    throw new ApiError(400, 'SerializationException', "Unexpected value type for field 'VersionStages': expected a list of strings.", true);
  }
  return raw as string[];
}
