import { randomUUID } from 'node:crypto';
import { ApiError, type Json } from '../http.js';
import { LOCAL_ACCOUNT_ID } from '../identity.js';
import {
  addVersion,
  CURRENT,
  markedForDeletion,
  notFound,
  nowSeconds,
  randomSuffix,
  sameValue,
  type Secret,
  type SecretValue,
  type Version,
} from './secret.js';
import { optionalBoolean, optionalInteger, optionalString, parseKmsKeyId, parseStages, parseTags, parseValue, requiredString } from './validation.js';

/** The operations the product uses, on secrets held in memory, with the service's rules for names, versions and deletion. */

const NAME_PATTERN = /^[A-Za-z0-9/_+=.@-]+$/;

export class SecretStore {
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
      case 'UpdateSecret':
        return this.updateSecret(body);
      case 'TagResource':
        return this.tagResource(body);
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
    const kmsKeyId = parseKmsKeyId(body, this.region);
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
    const version = addVersion(secret, token ?? randomUUID(), value, [CURRENT]);
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
    const value = parseValue(body, true) as SecretValue;
    const stages = parseStages(body, CURRENT);
    if (secret.deletionDate !== undefined) throw markedForDeletion();

    const version = this.newVersion(secret, token, value, stages);
    return { ARN: secret.arn, Name: secret.name, VersionId: version.id, VersionStages: [...version.stages] };
  }

  /**
   * The secret's description, its key (AWS re-encrypts the AWSCURRENT, AWSPENDING and AWSPREVIOUS versions with a new
   * one; the stand-in records it), and with a value, a new AWSCURRENT version, as PutSecretValue would.
   */
  private updateSecret(body: Json): Json {
    const secret = this.require(body);
    const token = optionalString(body, 'ClientRequestToken', { min: 32, max: 64 });
    const description = optionalString(body, 'Description', { max: 2048 });
    const kmsKeyId = parseKmsKeyId(body, this.region);
    const value = parseValue(body, false);
    if (secret.deletionDate !== undefined) throw markedForDeletion();

    if (description !== undefined) secret.description = description;
    if (kmsKeyId !== undefined) secret.kmsKeyId = kmsKeyId;
    secret.lastChanged = nowSeconds();
    if (!value) return { ARN: secret.arn, Name: secret.name };
    const version = this.newVersion(secret, token, value, [CURRENT]);
    return { ARN: secret.arn, Name: secret.name, VersionId: version.id };
  }

  /** Adds tags to a secret, replacing the value of a key it already has. */
  private tagResource(body: Json): Json {
    const secret = this.require(body);
    const tags = parseTags(body, true);
    for (const tag of tags) {
      const existing = secret.tags.find((t) => t.Key === tag.Key);
      if (existing) existing.Value = tag.Value;
      else secret.tags.push(tag);
    }
    return {};
  }

  /** A new version, or the one a retried request (same token, same value) already made; another value under a used token is refused. */
  private newVersion(secret: Secret, token: string | undefined, value: SecretValue, stages: string[]): Version {
    const existing = token === undefined ? undefined : secret.versions.get(token);
    if (existing) {
      if (!sameValue(existing, value)) {
        throw new ApiError(400, 'ResourceExistsException', "You can't modify an existing version, you can only create a new version.");
      }
      return existing;
    }
    const version = addVersion(secret, token ?? randomUUID(), value, stages);
    secret.lastChanged = nowSeconds();
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
