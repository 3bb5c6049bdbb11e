/** The one dummy identity every local AWS stand-in and event uses: region, account and credentials. */

export const LOCAL_REGION = 'eu-central-1';
/** The same dummy account in queue ARNs and secret ARNs. */
export const LOCAL_ACCOUNT_ID = '000000000000';
/** Dummy credentials: the local services accept any, the SDK insists on some. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/**
 * The IAM role local callers of the connect API sign as (API Gateway puts the caller in requestContext.authorizer.iam;
 * locally the event builders do): the local stage's only allowed caller.
 */
export const LOCAL_CALLER_ROLE_ARN = `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/dado-backend-local`;
