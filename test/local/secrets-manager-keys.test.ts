import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  InvalidParameterException,
  InvalidRequestException,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
  TagResourceCommand,
  UpdateSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSecretsManager, type SecretsManagerStandIn } from '../../local/aws/secrets-manager.js';
import { rejectionOf } from '../helpers/rejection.js';

/**
 * The Secrets Manager stand-in keeps what the product's secrets carry besides their value, through the real SDK: the
 * customer-managed key a secret is created under or moved to (CreateSecret, UpdateSecret), its tags (CreateSecret,
 * TagResource), and refuses a malformed key reference or tag as the service does.
 */

const REGION = 'eu-central-1';
const SECRET_VALUE = 'pSSt-never-echo-me-9c1d';
const KEY_ARN = `arn:aws:kms:${REGION}:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

let sm: SecretsManagerStandIn;
let client: SecretsManagerClient;
let seq = 0;
const uniqueName = (): string => `keys/t${++seq}/personio`;

beforeAll(async () => {
  sm = await startSecretsManager({ port: 0, region: REGION });
  client = new SecretsManagerClient({ endpoint: sm.url, region: REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
});

afterAll(async () => {
  client.destroy();
  await sm.close();
});

describe('Secrets Manager stand-in: keys and tags', () => {
  it('records the KMS key and the tags a CreateSecret names, as DescribeSecret shows them', async () => {
    // Prepare
    const byArn = uniqueName();
    const byAlias = uniqueName();
    const tags = [
      { Key: 'dado:tenant', Value: 'acme-1' },
      { Key: 'dado:stage', Value: 'prod' },
    ];

    // Act
    await client.send(new CreateSecretCommand({ Name: byArn, SecretString: SECRET_VALUE, KmsKeyId: KEY_ARN, Tags: tags }));
    await client.send(new CreateSecretCommand({ Name: byAlias, SecretString: SECRET_VALUE, KmsKeyId: 'alias/dado-prod-secrets' }));
    const [describedByArn, describedByAlias] = await Promise.all([byArn, byAlias].map((SecretId) => client.send(new DescribeSecretCommand({ SecretId }))));

    // Assess
    expect(describedByArn).toMatchObject({ KmsKeyId: KEY_ARN, Tags: tags });
    expect(describedByAlias).toMatchObject({ KmsKeyId: 'alias/dado-prod-secrets', Tags: [] });
  });

  it('leaves KmsKeyId out of the description of a secret under the AWS-managed key', async () => {
    // Prepare
    const name = uniqueName();
    await client.send(new CreateSecretCommand({ Name: name, SecretString: 'v' }));

    // Act
    const described = await client.send(new DescribeSecretCommand({ SecretId: name }));

    // Assess
    expect(described).not.toHaveProperty('KmsKeyId');
  });

  it.each([
    ['not a key reference', 'my-secrets-key'],
    ['an alias without alias/', 'dado-prod-secrets'],
    ['a key ARN in another Region', KEY_ARN.replace(REGION, 'us-east-1')],
    ['an S3 ARN', 'arn:aws:s3:::bucket'],
  ])('refuses a KmsKeyId that is %s with InvalidParameterException, and creates nothing', async (_case, kmsKeyId) => {
    // Prepare
    const name = uniqueName();

    // Act
    const error = await rejectionOf(client.send(new CreateSecretCommand({ Name: name, SecretString: SECRET_VALUE, KmsKeyId: kmsKeyId })));
    const read = await rejectionOf(client.send(new GetSecretValueCommand({ SecretId: name })));

    // Assess
    expect(error).toBeInstanceOf(InvalidParameterException);
    expect(error.message).not.toContain(kmsKeyId);
    expect(read).toBeInstanceOf(ResourceNotFoundException);
  });

  it.each([
    [
      'an empty key',
      [{ Key: '', Value: 'v' }],
      "Value at 'tags.1.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1",
    ],
    [
      'a key over 128 characters',
      [{ Key: 'k'.repeat(129), Value: 'v' }],
      "Value at 'tags.1.member.key' failed to satisfy constraint: Member must have length less than or equal to 128",
    ],
    [
      'a value with a character tags do not allow',
      [
        { Key: 'dado:stage', Value: 'prod' },
        { Key: 'dado:tenant', Value: 'a#b' },
      ],
      "Value at 'tags.2.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern",
    ],
    ['a tag without a key', [{ Value: 'v' }], "Value null at 'tags.1.member.key' failed to satisfy constraint: Member must not be null"],
  ])('refuses %s with ValidationException, and creates nothing', async (_case, tags, problem) => {
    // Prepare
    const name = uniqueName();

    // Act
    const error = await rejectionOf(
      client.send(new CreateSecretCommand({ Name: name, SecretString: SECRET_VALUE, Tags: tags as { Key: string; Value: string }[] })),
    );
    const read = await rejectionOf(client.send(new GetSecretValueCommand({ SecretId: name })));

    // Assess
    expect(error.name).toBe('ValidationException');
    expect(error.message).toContain(problem);
    expect(read).toBeInstanceOf(ResourceNotFoundException);
  });

  it('moves a secret onto a key with UpdateSecret, storing the new value as AWSCURRENT and keeping the old as AWSPREVIOUS', async () => {
    // Prepare: a secret under the AWS-managed key, as one created before the stage had its own
    const name = uniqueName();
    const first = await client.send(new CreateSecretCommand({ Name: name, SecretString: 'v1' }));
    const token = '12121212-3434-4565-8787-909090909090';

    // Act
    const updated = await client.send(new UpdateSecretCommand({ SecretId: name, SecretString: 'v2', KmsKeyId: KEY_ARN, ClientRequestToken: token }));
    const retried = await client.send(new UpdateSecretCommand({ SecretId: name, SecretString: 'v2', KmsKeyId: KEY_ARN, ClientRequestToken: token }));
    const conflict = await rejectionOf(client.send(new UpdateSecretCommand({ SecretId: name, SecretString: 'other', ClientRequestToken: token })));
    const described = await client.send(new DescribeSecretCommand({ SecretId: name }));
    const current = await client.send(new GetSecretValueCommand({ SecretId: name }));
    const previous = await client.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPREVIOUS' }));

    // Assess
    expect(updated).toMatchObject({ ARN: first.ARN, Name: name, VersionId: token });
    expect(retried.VersionId).toBe(token);
    expect(conflict).toBeInstanceOf(ResourceExistsException);
    expect(described.KmsKeyId).toBe(KEY_ARN);
    expect(described.VersionIdsToStages).toEqual({ [first.VersionId as string]: ['AWSPREVIOUS'], [token]: ['AWSCURRENT'] });
    expect(current.SecretString).toBe('v2');
    expect(previous.SecretString).toBe('v1');
  });

  it('changes only the key when UpdateSecret carries no value, and refuses a malformed key or a secret marked for deletion', async () => {
    // Prepare
    const name = uniqueName();
    const deleted = uniqueName();
    const created = await client.send(new CreateSecretCommand({ Name: name, SecretString: 'v1' }));
    await client.send(new CreateSecretCommand({ Name: deleted, SecretString: 'v1' }));
    await client.send(new DeleteSecretCommand({ SecretId: deleted, RecoveryWindowInDays: 7 }));

    // Act
    const moved = await client.send(new UpdateSecretCommand({ SecretId: name, KmsKeyId: 'alias/dado-prod-secrets' }));
    const malformed = await rejectionOf(client.send(new UpdateSecretCommand({ SecretId: name, KmsKeyId: 'nope' })));
    const whileDeleted = await rejectionOf(client.send(new UpdateSecretCommand({ SecretId: deleted, SecretString: 'v2', KmsKeyId: KEY_ARN })));
    const described = await client.send(new DescribeSecretCommand({ SecretId: name }));

    // Assess
    expect(moved.VersionId).toBeUndefined();
    expect(malformed).toBeInstanceOf(InvalidParameterException);
    expect(whileDeleted).toBeInstanceOf(InvalidRequestException);
    expect(described).toMatchObject({ KmsKeyId: 'alias/dado-prod-secrets', VersionIdsToStages: { [created.VersionId as string]: ['AWSCURRENT'] } });
  });

  it('adds tags with TagResource, replacing the value of a key the secret has, and validates them like CreateSecret', async () => {
    // Prepare
    const name = uniqueName();
    await client.send(new CreateSecretCommand({ Name: name, SecretString: 'v', Tags: [{ Key: 'dado:stage', Value: 'staging' }] }));

    // Act
    await client.send(
      new TagResourceCommand({
        SecretId: name,
        Tags: [
          { Key: 'dado:tenant', Value: 'acme-1' },
          { Key: 'dado:stage', Value: 'prod' },
        ],
      }),
    );
    const invalid = await rejectionOf(client.send(new TagResourceCommand({ SecretId: name, Tags: [{ Key: '', Value: 'x' }] })));
    const missing = await rejectionOf(client.send(new TagResourceCommand({ SecretId: 'no/such/secret', Tags: [{ Key: 'k', Value: 'v' }] })));
    const described = await client.send(new DescribeSecretCommand({ SecretId: name }));

    // Assess
    expect(described.Tags).toEqual([
      { Key: 'dado:stage', Value: 'prod' },
      { Key: 'dado:tenant', Value: 'acme-1' },
    ]);
    expect(invalid.name).toBe('ValidationException');
    expect(missing).toBeInstanceOf(ResourceNotFoundException);
  });
});
