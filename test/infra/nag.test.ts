import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, NagPack, ServerlessChecks } from 'cdk-nag';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseDeploymentConfig } from '../../infra/config.js';
import { addNagPacks } from '../../infra/nag.js';
import { addProduct } from '../../infra/product.js';

interface Report {
  pluginReports: { pluginName: string; violations: { ruleName: string; severity: string; violatingConstructs: { constructPath: string }[] }[] }[];
}

const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;

/** Synthesizes like `cdk synth` and returns the thrown error (if any) and the validation report CDK wrote. */
function synthesize(app: App, outdir: string): { error: unknown; report: Report } {
  let error: unknown;
  try {
    app.synth();
  } catch (e) {
    error = e;
  }
  return { error, report: JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as Report };
}

const findingsOf = (report: Report): string[] =>
  report.pluginReports.flatMap((r) => r.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} (${v.severity}) at ${c.constructPath}`)));

describe('cdk-nag (AwsSolutions and Serverless packs)', () => {
  let app: App;
  let result: { error: unknown; report: Report };

  beforeAll(() => {
    // Prepare: the deployable app, exactly as infra/app.ts builds it from cdk.json
    const outdir = mkdtempSync(join(tmpdir(), 'infra-nag-'));
    app = new App({ context, outdir });
    addProduct(app, parseDeploymentConfig(context));

    // Act
    result = synthesize(app, outdir);
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('synthesizes with no unacknowledged error or warning', () => {
    // Assess
    expect(result.error).toBeUndefined();
    expect(findingsOf(result.report)).toEqual([]);
  });

  it.each(['staging', 'prod'])('synthesizes the committed %s stage with no unacknowledged error or warning', (stage) => {
    // Prepare: each stage's own settings change the template (e-mail subscriptions, imported topics, operator roles)
    const outdir = mkdtempSync(join(tmpdir(), `infra-nag-${stage}-`));
    const stageApp = new App({ context, outdir });
    addProduct(stageApp, parseDeploymentConfig({ ...context, 'dado:stage': stage }));

    // Act
    const stageResult = synthesize(stageApp, outdir);

    // Assess
    expect(stageResult.error).toBeUndefined();
    expect(findingsOf(stageResult.report)).toEqual([]);
  });

  it('would report an unacknowledged finding, error or warning (the check above can fail)', () => {
    // Prepare: a bare queue and an untraced function, checked by the same packs
    const outdir = mkdtempSync(join(tmpdir(), 'infra-nag-probe-'));
    const probe = new App({ outdir });
    const stack = new Stack(probe, 'Probe');
    new Queue(stack, 'BareQueue');
    new LambdaFunction(stack, 'BareFunction', {
      runtime: Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: Code.fromInline('exports.handler = async () => {}'),
    });
    addNagPacks(probe);
    vi.spyOn(console, 'error').mockImplementation(() => {});

    // Act
    const { error, report } = synthesize(probe, outdir);

    // Assess
    expect(String(error)).toMatch(/Validation ?failed/i);
    expect(findingsOf(report)).toEqual(
      expect.arrayContaining([
        'AwsSolutions-SQS4 (error) at Probe/BareQueue/Resource',
        'Serverless-SQSRedrivePolicy (error) at Probe/BareQueue/Resource',
        'Serverless-LambdaTracing (warning) at Probe/BareFunction/Resource',
      ]),
    );
  });

  it('gives every acknowledgement a reason', () => {
    // Act
    const acknowledgements = collectAcknowledgements(app);

    // Assess
    expect(acknowledgements.length).toBeGreaterThan(0);
    for (const { id, path, reason } of acknowledgements) expect(reason.length, `${id} at ${path}`).toBeGreaterThanOrEqual(40);
  });

  it('acknowledges exactly the findings that exist: none left open, none stale', () => {
    // Prepare: what the packs find when acknowledgements are ignored
    vi.spyOn(NagPack.prototype as unknown as { isAcknowledged: () => boolean }, 'isAcknowledged').mockReturnValue(false);
    const raw = [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
      pack.validateScope(app).violations.flatMap((v) => v.violatingResources.map((r) => ({ id: v.ruleName, path: r.constructPath ?? '' }))),
    );
    const acknowledgements = collectAcknowledgements(app);
    const covers = (ack: { id: string; path: string }, finding: { id: string; path: string }) =>
      ack.id === finding.id && (finding.path === ack.path || finding.path.startsWith(`${ack.path}/`));

    // Assess
    expect(raw.length).toBeGreaterThan(0);
    expect(raw.filter((f) => !acknowledgements.some((a) => covers(a, f)))).toEqual([]);
    expect(acknowledgements.filter((a) => !raw.some((f) => covers(a, f))).map((a) => `${a.id} at ${a.path}`)).toEqual([]);
  });
});

/** Every `Validations.of(x).acknowledge(...)` in the tree: rule id, construct path and reason. */
function collectAcknowledgements(app: App): { id: string; path: string; reason: string }[] {
  return app.node
    .findAll()
    .flatMap((construct) =>
      construct.node.metadata
        .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((m) =>
          Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({ id: id.replace(/^annotation::/i, ''), path: construct.node.path, reason })),
        ),
    );
}
