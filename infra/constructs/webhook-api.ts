import { Duration } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, type HttpRoute, type HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledge } from '../nag.js';
import { retainedLogGroup } from './common.js';

/** The public route's path below the API's URL; connect registers `<base URL><tenantId>` with Personio. */
export const WEBHOOK_PATH_PREFIX = '/webhooks/personio/';

/**
 * Stage throttling of the public route. What the limit refuses (429) Personio does not retry (it documents retries for
 * timeouts and 5xx only): a refused delivery waits for the tenant's daily reconciliation, and a leaver's access with
 * it. So the limit is set for the fleet's bulk changes (an HR admin editing thousands of employees at once, across
 * tenants at the same time), not for ordinary traffic: 500 requests/s with a burst of 2,000. A delivery costs one
 * invocation of ~50 ms, one GetItem and, when authenticated, one PutItem and one SendMessage, so that is ~25
 * concurrent functions at most; the limit still bounds what a flood of unauthenticated requests can cost.
 */
export const webhookThrottle = { rateLimit: 500, burstLimit: 2_000 } as const;

interface WebhookApiProps {
  handler: IFunction;
  logRetention: RetentionDays;
}

/**
 * A separate, public HTTP API for Personio's deliveries: exactly one route, `POST /webhooks/personio/{tenantId}`,
 * without an authorizer (Personio can sign no request; the tenant's token in the Authorization header is the
 * authentication, checked by the function in constant time). Kept apart from the IAM-authorized connect API, so that
 * no change to one can open the other.
 */
export class WebhookApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly route: HttpRoute;
  readonly accessLogs: LogGroup;
  /** `<endpoint>/webhooks/personio/`: what connect registers, a tenant id appended (WEBHOOK_BASE_URL). */
  readonly baseUrl: string;

  constructor(scope: Construct, id: string, props: WebhookApiProps) {
    super(scope, id);
    this.api = new HttpApi(this, 'Api', {
      description: 'Dado × Personio webhook receiver (public: the token in the Authorization header authenticates)',
      createDefaultStage: false,
    });
    this.accessLogs = retainedLogGroup(this, 'AccessLogs', props.logRetention);
    this.stage = this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: webhookThrottle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        // Who sent what where and how it ended; never a header value (the Authorization header is the token) or the body.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            requestTime: '$context.requestTime',
            sourceIp: '$context.identity.sourceIp',
            method: '$context.httpMethod',
            path: '$context.path',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            latencyMs: '$context.responseLatency',
            integrationLatencyMs: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });
    [this.route] = this.api.addRoutes({
      path: `${WEBHOOK_PATH_PREFIX}{tenantId}`,
      methods: [HttpMethod.POST],
      integration: new HttpLambdaIntegration('Webhook', props.handler, {
        // Above the function's own timeout, so its answer (or error) always arrives first. Personio gives up after
        // 3 s and retries; a function that still finishes has queued the change once, and the retry is a duplicate.
        timeout: Duration.seconds(6),
      }),
    }) as [HttpRoute];
    acknowledge(
      this.route,
      'AwsSolutions-APIG4',
      'Public by design: Personio cannot sign requests or use Cognito. The function authenticates each delivery by the tenant token in the Authorization header (sha256 compared in constant time), refusing unknown tenants and wrong tokens with one 401; the stage is throttled.',
    );
    this.baseUrl = `${this.api.apiEndpoint}${WEBHOOK_PATH_PREFIX}`;
  }
}
