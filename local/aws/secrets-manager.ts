import { randomInt, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './identity.js';
import { closeServer, listenOn } from './ports.js';
import { ApiError, parseJsonObject, readBody, sendJson, type Json } from './http.js';

/**
 * A stand-in for AWS Secrets Manager: no emulator can be installed offline, and the product must run
 * the real `@aws-sdk/client-secrets-manager` unchanged (it only sees AWS_ENDPOINT_URL_SECRETS_MANAGER).
 * So this speaks the real wire protocol (AWS JSON 1.1) and mirrors the service's error names,
 * HTTP statuses and messages for the operations the product uses. State lives in memory.
 *
 * Wire details the SDK depends on:
 * - the SDK (AwsJson1_1Protocol) takes the error name from the body's `__type` first, then a `code`
 *   field, then the `x-amzn-errortype` header; both `__type` and the header are sent, like AWS does;
 * - the message is read from `message` or `Message`. Secrets Manager's own errors carry `Message`
 *   (that is the member name in its model); the front end's errors (SerializationException,
 *   UnknownOperationException, ValidationException) carry `message`;
 * - dates are epoch seconds as JSON numbers.
 *
 * No response, error or log line ever contains a secret value: messages name fields, never values.
 */

export interface SecretsManagerOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  region?: string;
}

export interface SecretsManagerStandIn {
  url: string;
  port: number;
  /** Requests received per operation (including ones answered with an error or while unavailable). */
  calls(): Record<string, number>;
  /** While true every request is answered 503 ServiceUnavailable, as when the service is down. */
  setUnavailable(v: boolean): void;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;
const CURRENT = 'AWSCURRENT';
const PREVIOUS = 'AWSPREVIOUS';
const NAME_PATTERN = /^[A-Za-z0-9/_+=.@-]+$/;
const SUFFIX_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

interface Version {
  id: string;
  secretString?: string;
  secretBinary?: string;
  stages: Set<string>;
  created: number;
}

interface Secret {
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

const notFound = (): ApiError => new ApiError(400, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
const markedForDeletion = (): ApiError =>
  new ApiError(400, 'InvalidRequestException', "You can't perform this operation on the secret because it was marked for deletion.");

const nowSeconds = (): number => Date.now() / 1000;

function randomSuffix(): string {
  let out = '';
  for (let i = 0; i < 6; i++) out += SUFFIX_ALPHABET[randomInt(SUFFIX_ALPHABET.length)];
  return out;
}

/** AWS field names are PascalCase on the wire but camelCase in validation messages. */
const memberName = (field: string): string => field.charAt(0).toLowerCase() + field.slice(1);

function optionalString(body: Json, field: string, limits: { min?: number; max?: number } = {}): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw new ApiError(400, 'SerializationException', `Unexpected value type for field '${field}': expected a string.`, true);
  }
  const { min = 0, max = Number.POSITIVE_INFINITY } = limits;
  if (value.length < min) {
    throw validation(`Value at '${memberName(field)}' failed to satisfy constraint: Member must have length greater than or equal to ${min}`);
  }
  if (value.length > max) {
    throw validation(`Value at '${memberName(field)}' failed to satisfy constraint: Member must have length less than or equal to ${max}`);
  }
  return value;
}

function requiredString(body: Json, field: string, limits: { min?: number; max?: number } = {}): string {
  const value = optionalString(body, field, limits);
  if (value === undefined) throw validation(`Value null at '${memberName(field)}' failed to satisfy constraint: Member must not be null`);
  return value;
}

function optionalBoolean(body: Json, field: string): boolean | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') {
    throw new ApiError(400, 'SerializationException', `Unexpected value type for field '${field}': expected a boolean.`, true);
  }
  return value;
}

function optionalInteger(body: Json, field: string): number | undefined {
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

function parseTags(body: Json): { Key: string; Value: string }[] {
  const raw = body['Tags'];
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new ApiError(400, 'SerializationException', "Unexpected value type for field 'Tags': expected a list.", true);
  return raw.map((tag: unknown) => {
    if (typeof tag !== 'object' || tag === null) {
      throw new ApiError(400, 'SerializationException', "Unexpected value type in field 'Tags': expected a structure.", true);
    }
    const t = tag as Json;
    return { Key: optionalString(t, 'Key', { min: 1, max: 128 }) ?? '', Value: optionalString(t, 'Value', { max: 256 }) ?? '' };
  });
}

/** SecretString xor SecretBinary, as CreateSecret and PutSecretValue both require. */
function parseValue(body: Json, required: boolean): { secretString?: string; secretBinary?: string } | undefined {
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

const sameValue = (v: Version, value: { secretString?: string; secretBinary?: string }): boolean =>
  v.secretString === value.secretString && v.secretBinary === value.secretBinary;

class SecretStore {
  private readonly secrets = new Map<string, Secret>();

  constructor(private readonly region: string) {}

  handle(operation: string, body: Json): Json {
    this.purgeExpired();
    switch (operation) {
      case 'CreateSecret':
        return this.createSecret(body);
      case 'GetSecretValue':
        return this.getSecretValue(body);
      case 'PutSecretValue':
        return this.putSecretValue(body);
      case 'DescribeSecret':
        return this.describeSecret(body);
      case 'DeleteSecret':
        return this.deleteSecret(body);
      case 'RestoreSecret':
        return this.restoreSecret(body);
      default:
        throw new ApiError(400, 'UnknownOperationException', `Operation ${operation} is not supported by the local Secrets Manager.`, true);
    }
  }

  /** AWS removes a secret once its recovery window has passed. */
  private purgeExpired(): void {
    const now = nowSeconds();
    for (const [name, secret] of this.secrets) {
      if (secret.deletionDate !== undefined && secret.deletionDate <= now) this.secrets.delete(name);
    }
  }

  /** SecretId may be the name, the full ARN, or the ARN without its random suffix (a partial ARN). */
  private find(secretId: string): Secret | undefined {
    if (!secretId.startsWith('arn:')) return this.secrets.get(secretId);
    for (const secret of this.secrets.values()) {
      if (secret.arn === secretId || secret.arn.slice(0, -7) === secretId) return secret;
    }
    return undefined;
  }

  private require(body: Json): Secret {
    const secret = this.find(requiredString(body, 'SecretId', { min: 1, max: 2048 }));
    if (!secret) throw notFound();
    return secret;
  }

  private createSecret(body: Json): Json {
    const name = requiredString(body, 'Name', { min: 1, max: 512 });
    const token = optionalString(body, 'ClientRequestToken', { min: 32, max: 64 });
    const description = optionalString(body, 'Description', { max: 2048 });
    const kmsKeyId = optionalString(body, 'KmsKeyId', { max: 2048 });
    const tags = parseTags(body);
    const value = parseValue(body, false);
    if (!NAME_PATTERN.test(name)) {
      throw new ApiError(
        400,
        'InvalidParameterException',
        'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
      );
    }

    const existing = this.secrets.get(name);
    if (existing) {
      if (existing.deletionDate !== undefined) {
        throw new ApiError(400, 'InvalidRequestException', "You can't create this secret because a secret with this name is already scheduled for deletion.");
      }
      // A retry of the same request (same token, same value) succeeds without a change, as documented for ClientRequestToken.
      const version = token === undefined ? undefined : existing.versions.get(token);
      if (version && value && sameValue(version, value)) return { ARN: existing.arn, Name: existing.name, VersionId: version.id };
      throw new ApiError(400, 'ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
    }

    const now = nowSeconds();
    const secret: Secret = {
      name,
      arn: `arn:aws:secretsmanager:${this.region}:${LOCAL_ACCOUNT_ID}:secret:${name}-${randomSuffix()}`,
      tags,
      created: now,
      lastChanged: now,
      versions: new Map(),
      ...(description !== undefined && { description }),
      ...(kmsKeyId !== undefined && { kmsKeyId }),
    };
    this.secrets.set(name, secret);
    if (!value) return { ARN: secret.arn, Name: secret.name };
    const version = this.addVersion(secret, token ?? randomUUID(), value, [CURRENT]);
    return { ARN: secret.arn, Name: secret.name, VersionId: version.id };
  }

  private getSecretValue(body: Json): Json {
    const secret = this.require(body);
    const versionId = optionalString(body, 'VersionId', { min: 32, max: 64 });
    const stage = optionalString(body, 'VersionStage', { min: 1, max: 256 });
    if (secret.deletionDate !== undefined) throw markedForDeletion();

    let version: Version | undefined;
    if (versionId !== undefined) {
      version = secret.versions.get(versionId);
      if (!version || (stage !== undefined && !version.stages.has(stage))) {
        throw new ApiError(400, 'ResourceNotFoundException', `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`);
      }
    } else {
      const label = stage ?? CURRENT;
      version = [...secret.versions.values()].find((v) => v.stages.has(label));
      if (!version) {
        throw new ApiError(400, 'ResourceNotFoundException', `Secrets Manager can't find the specified secret value for staging label: ${label}`);
      }
    }

    // AWS records the access date only, never the time of day.
    secret.lastAccessed = Math.floor(Date.now() / 86_400_000) * 86_400;
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.id,
      ...(version.secretString !== undefined && { SecretString: version.secretString }),
      ...(version.secretBinary !== undefined && { SecretBinary: version.secretBinary }),
      VersionStages: [...version.stages],
      CreatedDate: version.created,
    };
  }

  private putSecretValue(body: Json): Json {
    const secret = this.require(body);
    const token = optionalString(body, 'ClientRequestToken', { min: 32, max: 64 });
    const value = parseValue(body, true) as { secretString?: string; secretBinary?: string };
    const stages = this.parseStages(body);
    if (secret.deletionDate !== undefined) throw markedForDeletion();

    const existing = token === undefined ? undefined : secret.versions.get(token);
    if (existing) {
      if (!sameValue(existing, value)) {
        throw new ApiError(400, 'ResourceExistsException', "You can't modify an existing version, you can only create a new version.");
      }
      return { ARN: secret.arn, Name: secret.name, VersionId: existing.id, VersionStages: [...existing.stages] };
    }
    const version = this.addVersion(secret, token ?? randomUUID(), value, stages);
    secret.lastChanged = nowSeconds();
    return { ARN: secret.arn, Name: secret.name, VersionId: version.id, VersionStages: [...version.stages] };
  }

  private parseStages(body: Json): string[] {
    const raw = body['VersionStages'];
    if (raw === undefined || raw === null) return [CURRENT];
    if (!Array.isArray(raw) || raw.some((s) => typeof s !== 'string')) {
      throw new ApiError(400, 'SerializationException', "Unexpected value type for field 'VersionStages': expected a list of strings.", true);
    }
    return raw as string[];
  }

  /** Moves the given labels onto a new version; the version that loses AWSCURRENT becomes AWSPREVIOUS. */
  private addVersion(secret: Secret, id: string, value: { secretString?: string; secretBinary?: string }, stages: string[]): Version {
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

  private describeSecret(body: Json): Json {
    const secret = this.require(body);
    const versionIdsToStages: Record<string, string[]> = {};
    // Versions without labels are deprecated, and AWS leaves them out of the description.
    for (const v of secret.versions.values()) if (v.stages.size > 0) versionIdsToStages[v.id] = [...v.stages];
    return {
      ARN: secret.arn,
      Name: secret.name,
      ...(secret.description !== undefined && { Description: secret.description }),
      ...(secret.kmsKeyId !== undefined && { KmsKeyId: secret.kmsKeyId }),
      RotationEnabled: false,
      LastChangedDate: secret.lastChanged,
      ...(secret.lastAccessed !== undefined && { LastAccessedDate: secret.lastAccessed }),
      ...(secret.deletedDate !== undefined && { DeletedDate: secret.deletedDate }),
      Tags: secret.tags,
      VersionIdsToStages: versionIdsToStages,
      CreatedDate: secret.created,
    };
  }

  private deleteSecret(body: Json): Json {
    const secretId = requiredString(body, 'SecretId', { min: 1, max: 2048 });
    const window = optionalInteger(body, 'RecoveryWindowInDays');
    const force = optionalBoolean(body, 'ForceDeleteWithoutRecovery') ?? false;
    if (force && window !== undefined) {
      throw new ApiError(400, 'InvalidParameterException', "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
    }
    if (window !== undefined && (window < 7 || window > 30)) {
      throw new ApiError(400, 'InvalidParameterException', 'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).');
    }

    const secret = this.find(secretId);
    const now = nowSeconds();
    if (!secret) {
      // AWS answers a forced delete of a missing secret with success, so cleanup code can be idempotent.
      if (force && !secretId.startsWith('arn:')) {
        return { ARN: `arn:aws:secretsmanager:${this.region}:${LOCAL_ACCOUNT_ID}:secret:${secretId}-${randomSuffix()}`, Name: secretId, DeletionDate: now };
      }
      throw notFound();
    }
    if (force) {
      this.secrets.delete(secret.name);
      return { ARN: secret.arn, Name: secret.name, DeletionDate: now };
    }
    if (secret.deletionDate !== undefined) throw markedForDeletion();
    secret.deletedDate = now;
    secret.deletionDate = now + (window ?? 30) * 86_400;
    secret.lastChanged = now;
    return { ARN: secret.arn, Name: secret.name, DeletionDate: secret.deletionDate };
  }

  private restoreSecret(body: Json): Json {
    const secret = this.require(body);
    if (secret.deletionDate !== undefined) {
      delete secret.deletionDate;
      delete secret.deletedDate;
      secret.lastChanged = nowSeconds();
    }
    return { ARN: secret.arn, Name: secret.name };
  }
}

const readRequest = (req: IncomingMessage) =>
  readBody(req, MAX_BODY_BYTES, () => new ApiError(413, 'SerializationException', 'Request body is too large.', true));
const parseJson = (text: string) => parseJsonObject(text, (message) => new ApiError(400, 'SerializationException', message, true));
const send = (res: ServerResponse, status: number, body: Json, errorType?: string) => sendJson(res, status, body, 'application/x-amz-json-1.1', errorType);

function sendError(res: ServerResponse, error: ApiError): void {
  send(res, error.status, { __type: error.type, [error.lowerCaseMessage ? 'message' : 'Message']: error.message }, error.type);
}

export async function startSecretsManager(opts: SecretsManagerOptions = {}): Promise<SecretsManagerStandIn> {
  const host = opts.host ?? '127.0.0.1';
  const store = new SecretStore(opts.region ?? LOCAL_REGION);
  const counts: Record<string, number> = {};
  let unavailable = false;

  const server = createServer((req, res) => {
    void (async () => {
      try {
        const target = req.headers['x-amz-target'];
        const operation = typeof target === 'string' && target.startsWith('secretsmanager.') ? target.slice('secretsmanager.'.length) : undefined;
        if (operation !== undefined) counts[operation] = (counts[operation] ?? 0) + 1;
        if (unavailable) {
          // Drain the body first so the connection stays usable for the SDK's retry.
          await readRequest(req);
          throw new ApiError(503, 'ServiceUnavailable', 'The service is unavailable. Please try again later.', true);
        }
        if (req.method !== 'POST' || operation === undefined) {
          await readRequest(req);
          throw new ApiError(400, 'UnknownOperationException', 'Expected POST / with X-Amz-Target: secretsmanager.<Operation>.', true);
        }
        const body = parseJson(await readRequest(req));
        send(res, 200, store.handle(operation, body));
      } catch (error) {
        if (res.headersSent) return;
        if (error instanceof ApiError) {
          sendError(res, error);
        } else {
          // An unexpected failure inside the stand-in; its message could hold request data, so it is not echoed.
          sendError(res, new ApiError(500, 'InternalServiceError', 'An error occurred on the server side.'));
        }
      }
    })();
  });

  const port = await listenOn(server, opts.port ?? 0, host);
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    calls: () => ({ ...counts }),
    setUnavailable: (v: boolean) => {
      unavailable = v;
    },
    close: () => (closing ??= closeServer(server)),
  };
}
