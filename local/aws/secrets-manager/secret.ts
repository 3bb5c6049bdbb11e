import { randomInt } from 'node:crypto';
import { ApiError } from '../http.js';

/** A secret as the stand-in keeps it: its metadata and its versions, each carrying the staging labels that point at it. */

export const CURRENT = 'AWSCURRENT';
export const PREVIOUS = 'AWSPREVIOUS';
const SUFFIX_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export type SecretValue = { secretString?: string; secretBinary?: string };

export interface Version {
  id: string;
  secretString?: string;
  secretBinary?: string;
  stages: Set<string>;
  created: number;
}

export interface Secret {
  name: string;
  arn: string;
  description?: string;
  kmsKeyId?: string;
  tags: { Key: string; Value: string }[];
  created: number;
  lastChanged: number;
  lastAccessed?: number;
  deletionDate?: number;
  deletedDate?: number;
  versions: Map<string, Version>;
}

export const notFound = (): ApiError => new ApiError(400, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
export const markedForDeletion = (): ApiError =>
  new ApiError(400, 'InvalidRequestException', "You can't perform this operation on the secret because it was marked for deletion.");

export const nowSeconds = (): number => Date.now() / 1000;

export function randomSuffix(): string {
  let out = '';
  for (let i = 0; i < 6; i++) out += SUFFIX_ALPHABET[randomInt(SUFFIX_ALPHABET.length)];
  return out;
}

export const sameValue = (v: Version, value: SecretValue): boolean => v.secretString === value.secretString && v.secretBinary === value.secretBinary;

/** Moves the given labels onto a new version; the version that loses AWSCURRENT becomes AWSPREVIOUS. */
export function addVersion(secret: Secret, id: string, value: SecretValue, stages: string[]): Version {
  const version: Version = { id, ...value, stages: new Set(stages), created: nowSeconds() };
  for (const other of secret.versions.values()) {
    if (stages.includes(CURRENT) && other.stages.has(CURRENT)) {
      for (const v of secret.versions.values()) v.stages.delete(PREVIOUS);
      other.stages.add(PREVIOUS);
    }
    for (const stage of stages) other.stages.delete(stage);
  }
  secret.versions.set(id, version);
  return version;
}
