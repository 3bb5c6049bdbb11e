import { Duration, Stack } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, type HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { retainedLogGroup } from './common.js';

/**
 * Stage throttling. The API serves Dado's settings page (an admin connecting or looking at a tenant), a handful of
 * requests a minute; each connect also calls Personio's auth endpoint (limited to 60/min). The limits only stop a
 * runaway caller from burning Personio's limits and Lambda concurrency.
 */
export const apiThrottle = { rateLimit: 10, burstLimit: 20 } as const;

interface ConnectApiProps {
  handler: IFunction;
  logRetention: RetentionDays;
}

/**
 * HTTP API in front of connect, IAM-authorized: callers sign requests with SigV4 and need `execute-api:Invoke` on
 * `routeArn`. Every route under /tenants goes to connect, which routes and answers 404/405 itself.
 */
export class ConnectApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogs: LogGroup;
  /** What a caller's policy needs for execute-api:Invoke. */
  readonly routeArn: string;

  constructor(scope: Construct, id: string, props: ConnectApiProps) {
    super(scope, id);
    this.api = new HttpApi(this, 'Api', {
      description: 'Dado × Personio connect API (IAM auth)',
      createDefaultStage: false,
    });
    this.accessLogs = retainedLogGroup(this, 'AccessLogs', props.logRetention);
    this.stage = this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: apiThrottle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        // JSON, one line per request: who called (the IAM caller), what, and how it ended.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            requestTime: '$context.requestTime',
            caller: '$context.identity.userArn',
            accountId: '$context.identity.accountId',
            sourceIp: '$context.identity.sourceIp',
            method: '$context.httpMethod',
            path: '$context.path',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            latencyMs: '$context.responseLatency',
            integrationLatencyMs: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
            authorizerError: '$context.authorizer.error',
          }),
        ),
      },
    });
    this.api.addRoutes({
      path: '/tenants/{proxy+}',
      methods: [HttpMethod.ANY],
      authorizer: new HttpIamAuthorizer(),
      integration: new HttpLambdaIntegration('Connect', props.handler, {
        // Above connect's own timeout, so the function's answer (or error) always arrives first.
        timeout: Duration.seconds(29),
      }),
    });
    this.routeArn = Stack.of(this).formatArn({ service: 'execute-api', resource: this.api.apiId, resourceName: '$default/*/tenants/*' });
  }
}
