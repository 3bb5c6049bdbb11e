import { request } from 'node:http';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  InvalidParameterException,
  InvalidRequestException,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  RestoreSecretCommand,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSecretsManager, type SecretsManagerStandIn } from '../../local/aws/secrets-manager.js';
import { rejectionOf } from '../helpers/rejection.js';

const REGION = 'eu-central-1';
const SECRET_VALUE = 'pSSt-never-echo-me-7f3a';

let sm: SecretsManagerStandIn;
let client: SecretsManagerClient;
let seq = 0;
const uniqueName = (): string => `tenants/t${++seq}/personio`;

/** The raw wire answer, for what the SDK hides (status, headers, exact body). */
async function rawCall(target: string | undefined, body: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const url = new URL(sm.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: '/',
        headers: { 'Content-Type': 'application/x-amz-json-1.1', ...(target !== undefined && { 'X-Amz-Target': target }) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  sm = await startSecretsManager({ port: 0, region: REGION });
  client = new SecretsManagerClient({
    endpoint: sm.url,
    region: REGION,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});

afterAll(async () => {
  client.destroy();
  await sm.close();
});

describe('Secrets Manager stand-in through the real SDK', () => {
  it('creates a secret and reads it back by name and by ARN', async () => {
    // Prepare
    const name = uniqueName();

    // Act
    const created = await client.send(new CreateSecretCommand({ Name: name, SecretString: SECRET_VALUE, Description: 'Personio credentials' }));
    const byName = await client.send(new GetSecretValueCommand({ SecretId: name }));
    const byArn = await client.send(new GetSecretValueCommand({ SecretId: created.ARN }));

    // Assess
    expect(created.ARN).toMatch(new RegExp(`^arn:aws:secretsmanager:${REGION}:000000000000:secret:${name}-[A-Za-z0-9]{6}$`));
    expect(created.Name).toBe(name);
    expect(created.VersionId).toEqual(expect.any(String));
    expect(byName).toMatchObject({ ARN: created.ARN, Name: name, VersionId: created.VersionId, SecretString: SECRET_VALUE, VersionStages: ['AWSCURRENT'] });
    expect(byName.CreatedDate).toBeInstanceOf(Date);
    expect(Math.abs((byName.CreatedDate as Date).getTime() - Date.now())).toBeLessThan(60_000);
    expect(byArn.SecretString).toBe(SECRET_VALUE);
  });

  it('moves AWSCURRENT to a new version on PutSecretValue and keeps the old one as AWSPREVIOUS', async () => {
    // Prepare
    const name = uniqueName();
    const first = await client.send(new CreateSecretCommand({ Name: name, SecretString: 'v1' }));

    // Act
    const second = await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'v2' }));
    const current = await client.send(new GetSecretValueCommand({ SecretId: name }));
    const previous = await client.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPREVIOUS' }));
    const oldById = await client.send(new GetSecretValueCommand({ SecretId: name, VersionId: first.VersionId }));

    // Assess
    expect(second.VersionId).not.toBe(first.VersionId);
    expect(second.VersionStages).toEqual(['AWSCURRENT']);
    expect(current).toMatchObject({ SecretString: 'v2', VersionId: second.VersionId, VersionStages: ['AWSCURRENT'] });
    expect(previous).toMatchObject({ SecretString: 'v1', VersionId: first.VersionId, VersionStages: ['AWSPREVIOUS'] });
    expect(oldById.SecretString).toBe('v1');
  });

  it('treats a repeated ClientRequestToken with the same value as a no-op and with another value as a conflict', async () => {
    // Prepare
    const name = uniqueName();
    await client.send(new CreateSecretCommand({ Name: name, SecretString: 'v1' }));
    const token = '11111111-2222-4333-8444-555555555555';
    const put = await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: SECRET_VALUE, ClientRequestToken: token }));

    // Act
    const retried = await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: SECRET_VALUE, ClientRequestToken: token }));
    const conflict = await rejectionOf(client.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'other', ClientRequestToken: token })));
    const described = await client.send(new DescribeSecretCommand({ SecretId: name }));

    // Assess
    expect(put.VersionId).toBe(token);
    expect(retried.VersionId).toBe(token);
    expect(conflict).toBeInstanceOf(ResourceExistsException);
    expect(Object.keys(described.VersionIdsToStages ?? {})).toHaveLength(2);
    expect(described.VersionIdsToStages?.[token]).toEqual(['AWSCURRENT']);
  });

  it('lets a retried CreateSecret with the same token succeed but refuses another create of the same name', async () => {
    // Prepare
    const name = uniqueName();
    const token = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
    const created = await client.send(new CreateSecretCommand({ Name: name, SecretString: SECRET_VALUE, ClientRequestToken: token }));

    // Act
    const retried = await client.send(new CreateSecretCommand({ Name: name, SecretString: SECRET_VALUE, ClientRequestToken: token }));
    const duplicate = await rejectionOf(client.send(new CreateSecretCommand({ Name: name, SecretString: SECRET_VALUE })));

    // Assess
    expect(retried).toMatchObject({ ARN: created.ARN, VersionId: token });
    expect(duplicate).toBeInstanceOf(ResourceExistsException);
    expect(duplicate.name).toBe('ResourceExistsException');
    expect(duplicate.message).toBe(`The operation failed because the secret ${name} already exists.`);
  });

  it('describes a secret with its versions, tags and dates', async () => {
    // Prepare
    const name = uniqueName();
    const created = await client.send(
      new CreateSecretCommand({ Name: name, SecretString: 'v1', Description: 'creds', Tags: [{ Key: 'tenant', Value: 't1' }] }),
    );
    const put = await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'v2' }));

    // Act
    const described = await client.send(new DescribeSecretCommand({ SecretId: created.ARN }));

    // Assess
    expect(described).toMatchObject({ ARN: created.ARN, Name: name, Description: 'creds', Tags: [{ Key: 'tenant', Value: 't1' }] });
    expect(described.VersionIdsToStages).toEqual({ [created.VersionId as string]: ['AWSPREVIOUS'], [put.VersionId as string]: ['AWSCURRENT'] });
    expect(described.CreatedDate).toBeInstanceOf(Date);
    expect(described.LastChangedDate).toBeInstanceOf(Date);
    expect(described.DeletedDate).toBeUndefined();
  });

  it('blocks reads and re-creation of a secret scheduled for deletion until it is restored', async () => {
    // Prepare
    const name = uniqueName();
    await client.send(new CreateSecretCommand({ Name: name, SecretString: SECRET_VALUE }));

    // Act
    const deleted = await client.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
    const readWhileDeleted = await rejectionOf(client.send(new GetSecretValueCommand({ SecretId: name })));
    const createWhileDeleted = await rejectionOf(client.send(new CreateSecretCommand({ Name: name, SecretString: 'x' })));
    const describedWhileDeleted = await client.send(new DescribeSecretCommand({ SecretId: name }));
    await client.send(new RestoreSecretCommand({ SecretId: name }));
    const afterRestore = await client.send(new GetSecretValueCommand({ SecretId: name }));

    // Assess
    const days = ((deleted.DeletionDate as Date).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThan(7.1);
    expect(readWhileDeleted).toBeInstanceOf(InvalidRequestException);
    expect(readWhileDeleted.message).toBe("You can't perform this operation on the secret because it was marked for deletion.");
    expect(createWhileDeleted).toBeInstanceOf(InvalidRequestException);
    expect(createWhileDeleted.message).toBe("You can't create this secret because a secret with this name is already scheduled for deletion.");
    expect(describedWhileDeleted.DeletedDate).toBeInstanceOf(Date);
    expect(afterRestore.SecretString).toBe(SECRET_VALUE);
  });

  it('defaults the recovery window to 30 days', async () => {
    // Prepare
    const name = uniqueName();
    await client.send(new CreateSecretCommand({ Name: name, SecretString: 'v' }));

    // Act
    const deleted = await client.send(new DeleteSecretCommand({ SecretId: name }));

    // Assess
    const days = ((deleted.DeletionDate as Date).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThan(30.1);
  });

  it('removes a force-deleted secret at once, so its name is free again', async () => {
    // Prepare
    const name = uniqueName();
    await client.send(new CreateSecretCommand({ Name: name, SecretString: SECRET_VALUE }));

    // Act
    await client.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
    const read = await rejectionOf(client.send(new GetSecretValueCommand({ SecretId: name })));
    const recreated = await client.send(new CreateSecretCommand({ Name: name, SecretString: 'again' }));

    // Assess
    expect(read).toBeInstanceOf(ResourceNotFoundException);
    expect(read.name).toBe('ResourceNotFoundException');
    expect(read.message).toBe("Secrets Manager can't find the specified secret.");
    expect((read as ResourceNotFoundException).$metadata.httpStatusCode).toBe(400);
    expect(recreated.Name).toBe(name);
  });

  it('rejects a delete with both a recovery window and ForceDeleteWithoutRecovery, or a window out of range', async () => {
    // Prepare
    const name = uniqueName();
    await client.send(new CreateSecretCommand({ Name: name, SecretString: 'v' }));

    // Act
    const both = await rejectionOf(client.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7, ForceDeleteWithoutRecovery: true })));
    const tooShort = await rejectionOf(client.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 6 })));
    const stillThere = await client.send(new GetSecretValueCommand({ SecretId: name }));

    // Assess
    expect(both).toBeInstanceOf(InvalidParameterException);
    expect(tooShort).toBeInstanceOf(InvalidParameterException);
    expect(stillThere.SecretString).toBe('v');
  });

  it('answers ResourceNotFoundException for a secret that never existed', async () => {
    // Act
    const error = await rejectionOf(client.send(new GetSecretValueCommand({ SecretId: 'no/such/secret' })));

    // Assess
    expect(error).toBeInstanceOf(ResourceNotFoundException);
    expect(error).toBeInstanceOf(SecretsManagerServiceException);
  });

  it('answers a missing required parameter with ValidationException, as the AWS front end does', async () => {
    // Act
    const error = await rejectionOf(client.send(new GetSecretValueCommand({} as { SecretId: string })));

    // Assess
    expect(error).toBeInstanceOf(SecretsManagerServiceException);
    expect(error.name).toBe('ValidationException');
    expect(error.message).toBe("1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null");
  });
});

describe('Secrets Manager stand-in on the wire', () => {
  it('answers malformed JSON with SerializationException and an unknown operation with UnknownOperationException', async () => {
    // Act
    const malformed = await rawCall('secretsmanager.GetSecretValue', '{"SecretId": ');
    const unknown = await rawCall('secretsmanager.RotateEverything', '{}');
    const noTarget = await rawCall(undefined, '{}');

    // Assess
    expect(malformed.status).toBe(400);
    expect(malformed.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(JSON.parse(malformed.body)).toMatchObject({ __type: 'SerializationException' });
    expect(malformed.headers['x-amzn-errortype']).toBe('SerializationException');
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.body)).toMatchObject({ __type: 'UnknownOperationException' });
    expect(noTarget.status).toBe(400);
    expect(JSON.parse(noTarget.body)).toMatchObject({ __type: 'UnknownOperationException' });
  });

  it('sends dates as epoch seconds and the service error message as Message', async () => {
    // Prepare
    const name = uniqueName();
    await client.send(new CreateSecretCommand({ Name: name, SecretString: 'v' }));

    // Act
    const got = await rawCall('secretsmanager.GetSecretValue', JSON.stringify({ SecretId: name }));
    const missing = await rawCall('secretsmanager.GetSecretValue', JSON.stringify({ SecretId: 'missing' }));

    // Assess
    const body = JSON.parse(got.body) as { CreatedDate: unknown };
    expect(typeof body.CreatedDate).toBe('number');
    expect(Math.abs((body.CreatedDate as number) - Date.now() / 1000)).toBeLessThan(60);
    expect(JSON.parse(missing.body)).toEqual({ __type: 'ResourceNotFoundException', Message: "Secrets Manager can't find the specified secret." });
    expect(missing.headers['x-amzn-requestid']).toEqual(expect.any(String));
  });

  it('never puts a secret value into an error it returns', async () => {
    // Prepare
    const name = uniqueName();
    const token = '99999999-8888-4777-8666-555555555555';
    await client.send(new CreateSecretCommand({ Name: name, SecretString: 'v1' }));
    await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'v2', ClientRequestToken: token }));

    // Act
    const answers = await Promise.all([
      // V8's JSON.parse error quotes the input around an unexpected token; the stand-in must not pass it on.
      rawCall('secretsmanager.PutSecretValue', `{"SecretId":"${name}","SecretString":${SECRET_VALUE}}`),
      rawCall('secretsmanager.PutSecretValue', `{"SecretId":"${name}","SecretString":"${SECRET_VALUE}"`),
      rawCall('secretsmanager.PutSecretValue', JSON.stringify({ SecretId: name, SecretString: { value: SECRET_VALUE } })),
      rawCall('secretsmanager.PutSecretValue', JSON.stringify({ SecretId: name, SecretString: SECRET_VALUE, ClientRequestToken: token })),
      rawCall('secretsmanager.PutSecretValue', JSON.stringify({ SecretId: name, SecretString: SECRET_VALUE, SecretBinary: 'AAAA' })),
      rawCall('secretsmanager.CreateSecret', JSON.stringify({ Name: name, SecretString: SECRET_VALUE })),
      rawCall('secretsmanager.CreateSecret', JSON.stringify({ Name: 'bad name!', SecretString: SECRET_VALUE })),
      rawCall('secretsmanager.PutSecretValue', JSON.stringify({ SecretId: 'missing', SecretString: SECRET_VALUE })),
      rawCall('secretsmanager.PutSecretValue', JSON.stringify({ SecretId: name, SecretString: SECRET_VALUE.repeat(5000) })),
    ]);

    // Assess
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      // A fragment counts too: parser messages quote a few characters around the failure.
      expect(answer.body).not.toContain(SECRET_VALUE.slice(0, 8));
    }
  });

  it('fails calls while unavailable and serves them again afterwards', async () => {
    // Prepare
    const name = uniqueName();
    await client.send(new CreateSecretCommand({ Name: name, SecretString: 'v' }));
    const oneShot = new SecretsManagerClient({
      endpoint: sm.url,
      region: REGION,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    const before = sm.calls()['GetSecretValue'] ?? 0;

    // Act
    sm.setUnavailable(true);
    const error = await rejectionOf(oneShot.send(new GetSecretValueCommand({ SecretId: name })));
    sm.setUnavailable(false);
    const recovered = await oneShot.send(new GetSecretValueCommand({ SecretId: name }));
    oneShot.destroy();

    // Assess
    expect(error).toBeInstanceOf(SecretsManagerServiceException);
    expect(error.name).toBe('ServiceUnavailable');
    expect((error as SecretsManagerServiceException).$metadata.httpStatusCode).toBe(503);
    expect((error as SecretsManagerServiceException).$fault).toBe('server');
    expect(recovered.SecretString).toBe('v');
    expect(sm.calls()['GetSecretValue']).toBe(before + 2);
  });
});
