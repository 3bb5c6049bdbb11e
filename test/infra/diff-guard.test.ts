import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, CfnResource, Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { findBlockedChanges, main, parseGuardArgs, parseResourceChanges, runCdk } from '../../infra/diff-guard.js';

// `npm run diff` / `npm run deploy` (infra/diff-guard.ts). The samples are the installed CDK CLI's own output
// (`cdk diff --template <deployed> --app <assembly>`, on this stack's template with one change each).

const harmless = `Stack DadoPersonioImport
IAM Statement Changes
┌───┬──────────┬────────┬─────────────────────────┬──────────────────────────────┬───────────┐
│   │ Resource │ Effect │ Action                  │ Principal                    │ Condition │
├───┼──────────┼────────┼─────────────────────────┼──────────────────────────────┼───────────┤
│ + │ *        │ Allow  │ scheduler:ListSchedules │ AWS:\${Functions/SweeperRole} │           │
└───┴──────────┴────────┴─────────────────────────┴──────────────────────────────┴───────────┘
(NOTE: There may be security-related changes not in this list. See https://github.com/aws/aws-cdk/issues/1299)

Resources
[~] AWS::IAM::Policy Functions/SweeperRole/DefaultPolicy FunctionsSweeperRoleDefaultPolicy33A9CF42
 └─ [~] PolicyDocument
     └─ [~] .Statement:
         └─ @@ -75,5 +75,10 @@
            [ ]     }
            [+]   },
            [+]   {
            [+]     "Action": "scheduler:ListSchedules",
            [+]     "Effect": "Allow",
            [+]     "Resource": "*"
            [ ]   }
            [ ] ]
[~] AWS::Lambda::Function Functions/Fetch FunctionsFetch40CC01F5
 └─ [~] Timeout
     ├─ [-] 900
     └─ [+] 800
[~] AWS::SQS::Queue ImportQueue/Queue ImportQueueF3D6FFB8
 └─ [~] VisibilityTimeout
     ├─ [-] 1080
     └─ [+] 1200
[+] AWS::DynamoDB::GlobalTable Tables/Audit TablesAudit5D1E2F3A
[~] Output FetchFunctionName: {"Value":{"Ref":"FunctionsFetch40CC01F5"}}



✨  Number of stacks with differences: 1
`;

const tableReplaced = `Stack DadoPersonioImport
Resources
[~] AWS::DynamoDB::GlobalTable Tables/Users TablesUsersBA34CAA2 replace
 ├─ [~] AttributeDefinitions
 │   └─ @@ -10,5 +10,9 @@
 │      [ ]   {
 │      [+]   {
 │      [+]     "AttributeName": "userId",
 │      [ ]   }
 └─ [~] KeySchema (requires replacement)
     └─ @@ -4,7 +4,7 @@
        [-]     "AttributeName": "sk",
        [+]     "AttributeName": "userId",
        [ ]     "KeyType": "RANGE"



✨  Number of stacks with differences: 1
`;

const fetchReplaced = `Stack DadoPersonioImport
Resources
[~] AWS::Lambda::Function Functions/Fetch FunctionsFetch40CC01F5 replace
 └─ [+] FunctionName (requires replacement)
     └─ DadoPersonioImport-fetch



✨  Number of stacks with differences: 1
`;

const roleReplaced = `Stack DadoPersonioImport
Resources
[~] AWS::IAM::Role Schedules/SchedulerRole SchedulesSchedulerRole7E9E230C replace
 └─ [+] RoleName (requires replacement)
     └─ DadoPersonioImport-scheduler-eu-central-1
[~] AWS::IAM::Role Functions/WorkerRole FunctionsWorkerRole79C414AF replace
 └─ [+] RoleName (requires replacement)
     └─ DadoPersonioImport-worker



✨  Number of stacks with differences: 1
`;

const renamed = `Stack DadoPersonioImport
Resources
[-] AWS::DynamoDB::GlobalTable Tables/Users TablesUsersBA34CAA2 orphan
[-] AWS::Lambda::Function Functions/Fetch FunctionsFetch40CC01F5 destroy
[-] AWS::SQS::Queue ImportQueue/DeadLetterQueue ImportQueueDeadLetterQueue55B282B3 destroy
[-] AWS::Lambda::Function Functions/Worker FunctionsWorker8C5E072F destroy
[+] AWS::DynamoDB::GlobalTable Tables/Users TablesUsersRenamed00000000
[+] AWS::Lambda::Function Functions/Fetch FunctionsFetchRenamed0000



✨  Number of stacks with differences: 1
`;

/** The colors the CLI prints on a terminal (FORCE_COLOR), and a "may be replaced" impact. */
const esc = String.fromCharCode(27);
const coloredMayReplace = `Stack ${esc}[1mDadoPersonioImport${esc}[22m
${esc}[0m${esc}[4m${esc}[1mResources${esc}[22m${esc}[24m${esc}[0m
${esc}[0m${esc}[33m[~]${esc}[39m ${esc}[36mAWS::KMS::Key${esc}[39m Keys/Secrets ${esc}[90mKeysSecrets1A2B3C4D${esc}[39m ${esc}[3m${esc}[33mmay be replaced${esc}[39m${esc}[23m${esc}[0m
 └─ [~] KeySpec (may cause replacement)
`;

describe('reading cdk diff', () => {
  it('finds every resource line with its change, type, path, logical id and impact, and nothing else', () => {
    // Act
    const changes = parseResourceChanges(harmless + renamed);

    // Assess
    expect(changes).toEqual([
      {
        stack: 'DadoPersonioImport',
        change: 'update',
        type: 'AWS::IAM::Policy',
        path: 'Functions/SweeperRole/DefaultPolicy',
        logicalId: 'FunctionsSweeperRoleDefaultPolicy33A9CF42',
      },
      { stack: 'DadoPersonioImport', change: 'update', type: 'AWS::Lambda::Function', path: 'Functions/Fetch', logicalId: 'FunctionsFetch40CC01F5' },
      { stack: 'DadoPersonioImport', change: 'update', type: 'AWS::SQS::Queue', path: 'ImportQueue/Queue', logicalId: 'ImportQueueF3D6FFB8' },
      { stack: 'DadoPersonioImport', change: 'add', type: 'AWS::DynamoDB::GlobalTable', path: 'Tables/Audit', logicalId: 'TablesAudit5D1E2F3A' },
      {
        stack: 'DadoPersonioImport',
        change: 'remove',
        type: 'AWS::DynamoDB::GlobalTable',
        path: 'Tables/Users',
        logicalId: 'TablesUsersBA34CAA2',
        impact: 'orphan',
      },
      {
        stack: 'DadoPersonioImport',
        change: 'remove',
        type: 'AWS::Lambda::Function',
        path: 'Functions/Fetch',
        logicalId: 'FunctionsFetch40CC01F5',
        impact: 'destroy',
      },
      {
        stack: 'DadoPersonioImport',
        change: 'remove',
        type: 'AWS::SQS::Queue',
        path: 'ImportQueue/DeadLetterQueue',
        logicalId: 'ImportQueueDeadLetterQueue55B282B3',
        impact: 'destroy',
      },
      {
        stack: 'DadoPersonioImport',
        change: 'remove',
        type: 'AWS::Lambda::Function',
        path: 'Functions/Worker',
        logicalId: 'FunctionsWorker8C5E072F',
        impact: 'destroy',
      },
      { stack: 'DadoPersonioImport', change: 'add', type: 'AWS::DynamoDB::GlobalTable', path: 'Tables/Users', logicalId: 'TablesUsersRenamed00000000' },
      { stack: 'DadoPersonioImport', change: 'add', type: 'AWS::Lambda::Function', path: 'Functions/Fetch', logicalId: 'FunctionsFetchRenamed0000' },
    ]);
  });

  it('reads a line without a construct path (synthesized without path metadata) and a colored one', () => {
    // Act
    const bare = parseResourceChanges('Resources\n[~] AWS::SQS::Queue ImportQueueF3D6FFB8 replace\n');
    const colored = parseResourceChanges(coloredMayReplace);

    // Assess
    expect(bare).toEqual([{ stack: '', change: 'update', type: 'AWS::SQS::Queue', logicalId: 'ImportQueueF3D6FFB8', impact: 'replace' }]);
    expect(colored).toEqual([
      {
        stack: 'DadoPersonioImport',
        change: 'update',
        type: 'AWS::KMS::Key',
        path: 'Keys/Secrets',
        logicalId: 'KeysSecrets1A2B3C4D',
        impact: 'may be replaced',
      },
    ]);
  });
});

describe('what the guard blocks', () => {
  const blockedIds = (output: string, allowed?: string[]) => findBlockedChanges(output, new Set(allowed)).map((b) => `${b.logicalId} ${b.impact ?? 'removed'}`);

  it('lets in-place updates and additions through, protected resources included', () => {
    expect(blockedIds(harmless)).toEqual([]);
  });

  it('blocks a table replaced by a key schema change, saying the new table is empty', () => {
    // Act
    const [blocked] = findBlockedChanges(tableReplaced);

    // Assess
    expect(blocked).toMatchObject({ logicalId: 'TablesUsersBA34CAA2', type: 'AWS::DynamoDB::GlobalTable', impact: 'replace' });
    expect(blocked?.consequence).toMatch(/new, empty table/);
  });

  it('blocks a replaced fetch function, whose ARN every tenant schedule stores', () => {
    expect(findBlockedChanges(fetchReplaced)).toEqual([
      expect.objectContaining({ logicalId: 'FunctionsFetch40CC01F5', impact: 'replace', consequence: expect.stringContaining('schedule') }),
    ]);
  });

  it("blocks the scheduler role's replacement, not another role's", () => {
    expect(blockedIds(roleReplaced)).toEqual(['SchedulesSchedulerRole7E9E230C replace']);
  });

  it('blocks the deletion of a renamed table (orphaned), queue and fetch, not of another function', () => {
    expect(blockedIds(renamed)).toEqual(['TablesUsersBA34CAA2 orphan', 'FunctionsFetch40CC01F5 destroy', 'ImportQueueDeadLetterQueue55B282B3 destroy']);
  });

  it('blocks what only may be replaced', () => {
    expect(blockedIds(coloredMayReplace)).toEqual(['KeysSecrets1A2B3C4D may be replaced']);
  });

  it('lets through exactly the logical ids allowed with --allow-replacement', () => {
    expect(blockedIds(renamed, ['TablesUsersBA34CAA2', 'FunctionsFetch40CC01F5'])).toEqual(['ImportQueueDeadLetterQueue55B282B3 destroy']);
  });
});

describe('npm run diff / npm run deploy', () => {
  /** The CLI as the guard sees it: each call recorded, each answered with a canned exit code and output. */
  const fakeCdk = (answers: Record<string, { code: number; output: string }>) => {
    const calls: string[][] = [];
    const run = async (args: readonly string[]) => {
      calls.push([...args]);
      return answers[args[0] ?? ''] ?? { code: 0, output: '' };
    };
    return { calls, run };
  };
  /** Runs `fn` with console.error captured (the guard's report), and returns both. */
  const captured = async <T>(fn: () => Promise<T>): Promise<{ result: T; report: string }> => {
    const error = console.error;
    const lines: string[] = [];
    console.error = (...args: unknown[]) => void lines.push(args.join(' '));
    try {
      return { result: await fn(), report: lines.join('\n') };
    } finally {
      console.error = error;
    }
  };
  const quiet = async <T>(fn: () => Promise<T>): Promise<T> => (await captured(fn)).result;

  it('takes --allow-replacement (repeated, or with =) for itself and hands every other argument to the CDK CLI', () => {
    // Act
    const args = parseGuardArgs(['deploy', '-c', 'dado:stage=prod', '--allow-replacement', 'A1', '--profile', 'p', '--allow-replacement=B2']);

    // Assess
    expect(args).toEqual({ command: 'deploy', allowed: new Set(['A1', 'B2']), cdkArgs: ['-c', 'dado:stage=prod', '--profile', 'p'] });
    expect(() => parseGuardArgs(['deploy', '--allow-replacement'])).toThrow(/logical id/);
    expect(() => parseGuardArgs(['synth'])).toThrow(/usage/);
  });

  it('deploys after a clean diff, from the assembly the diff synthesized, asking before security changes', async () => {
    // Prepare
    const cdk = fakeCdk({ diff: { code: 0, output: harmless } });

    // Act
    const code = await main(['deploy', '-c', 'dado:stage=prod'], cdk.run);

    // Assess
    expect(code).toBe(0);
    expect(cdk.calls).toEqual([
      ['diff', '-c', 'dado:stage=prod'],
      ['deploy', '--app', 'cdk.out', '--require-approval', 'broadening', '-c', 'dado:stage=prod'],
    ]);
  });

  it('deploys nothing when the diff shows a protected replacement, or when the diff itself failed', async () => {
    // Prepare
    const blocked = fakeCdk({ diff: { code: 0, output: fetchReplaced } });
    const failed = fakeCdk({ diff: { code: 1, output: 'Unable to resolve AWS account to use.' } });

    // Act
    const codes = await quiet(async () => [await main(['deploy'], blocked.run), await main(['deploy'], failed.run)]);

    // Assess
    expect(codes).toEqual([1, 1]);
    expect([...blocked.calls, ...failed.calls].map((c) => c[0])).toEqual(['diff', 'diff']);
  });

  it('deploys an allowed replacement, with the output directory and approval level given', async () => {
    // Prepare
    const cdk = fakeCdk({ diff: { code: 0, output: fetchReplaced + roleReplaced } });

    // Act
    const code = await quiet(() =>
      main(
        [
          'deploy',
          '--allow-replacement',
          'FunctionsFetch40CC01F5',
          '--allow-replacement',
          'SchedulesSchedulerRole7E9E230C',
          '-o',
          'out',
          '--require-approval',
          'any-change',
        ],
        cdk.run,
      ),
    );

    // Assess
    expect(code).toBe(0);
    expect(cdk.calls[1]).toEqual(['deploy', '--app', 'out', '-o', 'out', '--require-approval', 'any-change']);
  });

  it('fails when the diff has resource changes it cannot read (a new CLI output format)', async () => {
    // Prepare
    const cdk = fakeCdk({ diff: { code: 0, output: 'Stack X\nResources\n~~ AWS::SQS::Queue ImportQueueF3D6FFB8 => replaced\n' } });

    // Act
    const { result, report } = await captured(() => main(['diff'], cdk.run));

    // Assess
    expect(result).toBe(1);
    expect(report).toMatch(/output format changed/);
  });

  it("blocks a replacement in the installed CDK CLI's own diff output", async () => {
    // Prepare: a deployed template, and an assembly in which the fetch function gained a physical name
    const dir = mkdtempSync(join(tmpdir(), 'diff-guard-'));
    const app = new App({ outdir: join(dir, 'assembly') });
    const stack = new Stack(app, 'DadoPersonioImport');
    const fetch = new CfnResource(new Construct(stack, 'Functions'), 'Fetch', {
      type: 'AWS::Lambda::Function',
      properties: {
        FunctionName: 'DadoPersonioImport-fetch',
        Role: 'arn:aws:iam::111111111111:role/r',
        Code: { ZipFile: 'x' },
        Runtime: 'nodejs24.x',
        Handler: 'index.handler',
      },
    });
    fetch.overrideLogicalId('FunctionsFetch40CC01F5');
    const assembly = app.synth();
    const deployed = JSON.parse(readFileSync(join(assembly.directory, 'DadoPersonioImport.template.json'), 'utf8'));
    delete deployed.Resources.FunctionsFetch40CC01F5.Properties.FunctionName;
    writeFileSync(join(dir, 'deployed.json'), JSON.stringify(deployed));
    const silent = (args: readonly string[]) => runCdk(args, { echo: false, cwd: dir });

    // Act
    const { result, report } = await captured(() => main(['diff', '--app', assembly.directory, '--template', join(dir, 'deployed.json')], silent));

    // Assess: blocked by the guard (not a failed CLI), naming the resource and the way through
    expect(result).toBe(1);
    expect(report).toContain('FunctionsFetch40CC01F5 (AWS::Lambda::Function, Functions/Fetch in DadoPersonioImport): replace.');
    expect(report).toContain('--allow-replacement FunctionsFetch40CC01F5');
  });
});
