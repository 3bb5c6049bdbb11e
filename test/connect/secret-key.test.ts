import { CreateSecretCommand, DescribeSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localNames, startLocalEnvironment, type LocalEnvironment } from '../../local/runner/environment.js';
import { apiCaller } from '../helpers/connect-support.js';

/**
 * Where connect puts a tenant's Personio credentials, through the real handler on the local stack: under the stage's
 * customer-managed key (SECRETS_KMS_KEY_ID), tagged with the tenant and the stage; and a secret an earlier release
 * created under the AWS-managed key moves onto the stage's key the next time the tenant connects.
 */

const CREDENTIAL = { clientId: 'sim-client-id', clientSecret: 'sim-client-secret' };
const LOCAL_STAGE = 'local';

describe("a tenant's secret", () => {
  let env: LocalEnvironment;
  let secrets: SecretsManagerClient;
  const call = apiCaller(() => env);
  const secretName = (tenantId: string) => `${localNames.secretPrefix}${tenantId}`;
  const describeSecret = (tenantId: string) => secrets.send(new DescribeSecretCommand({ SecretId: secretName(tenantId) }));
  const tagsOf = (tenantId: string) => [
    { Key: 'dado:tenant', Value: tenantId },
    { Key: 'dado:stage', Value: LOCAL_STAGE },
  ];

  beforeAll(async () => {
    env = await startLocalEnvironment({ simulator: { employees: 5 } });
    secrets = new SecretsManagerClient({});
  }, 60_000);

  afterAll(async () => {
    secrets?.destroy();
    await env?.stop();
  });

  it("is created under the stage's key, tagged with its tenant and the stage", async () => {
    // Act
    const connected = await call('PUT', '/tenants/keyed-new/personio', CREDENTIAL);
    const described = await describeSecret('keyed-new');

    // Assess
    expect(connected.status).toBe(200);
    expect(described.KmsKeyId).toBe(localNames.secretsKmsKeyId);
    expect(described.Tags).toEqual(tagsOf('keyed-new'));
  });

  it("moves onto the stage's key, and is tagged, when a tenant whose secret predates the key connects again", async () => {
    // Prepare: the secret as an earlier release created it, under the AWS-managed key and without tags
    const old = { clientId: 'sim-client-id', clientSecret: 'an-earlier-secret' };
    await secrets.send(new CreateSecretCommand({ Name: secretName('keyed-old'), SecretString: JSON.stringify(old) }));
    const before = await describeSecret('keyed-old');

    // Act
    const connected = await call('PUT', '/tenants/keyed-old/personio', CREDENTIAL);
    const after = await describeSecret('keyed-old');
    const current = await secrets.send(new GetSecretValueCommand({ SecretId: secretName('keyed-old') }));
    const previous = await secrets.send(new GetSecretValueCommand({ SecretId: secretName('keyed-old'), VersionStage: 'AWSPREVIOUS' }));

    // Assess
    expect(before.KmsKeyId).toBeUndefined();
    expect(connected.status).toBe(200);
    expect(after.KmsKeyId).toBe(localNames.secretsKmsKeyId);
    expect(after.Tags).toEqual(tagsOf('keyed-old'));
    expect(JSON.parse(current.SecretString ?? '{}')).toEqual(CREDENTIAL);
    expect(JSON.parse(previous.SecretString ?? '{}')).toEqual(old);
  });

  it('keeps its key and tags through a disconnect and a reconnect', async () => {
    // Prepare
    await call('PUT', '/tenants/keyed-back/personio', CREDENTIAL);
    const disconnected = await call('DELETE', '/tenants/keyed-back/personio');
    const whileDisconnected = await describeSecret('keyed-back');

    // Act
    const reconnected = await call('PUT', '/tenants/keyed-back/personio', CREDENTIAL);
    const described = await describeSecret('keyed-back');

    // Assess
    expect(disconnected.status).toBe(200);
    expect(whileDisconnected.DeletedDate).toBeInstanceOf(Date);
    expect(reconnected.status).toBe(200);
    expect(described.DeletedDate).toBeUndefined();
    expect(described.KmsKeyId).toBe(localNames.secretsKmsKeyId);
    expect(described.Tags).toEqual(tagsOf('keyed-back'));
  });
});
