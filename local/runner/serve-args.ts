import { DEFAULT_SIM_CREDENTIAL } from '../personio-sim/index.js';
import { parseFlags, UsageError, wholeNumber } from './args.js';

export interface ServeArgs {
  port: number;
  /** Port of the webhook route (POST /webhooks/personio/{tenantId}), which connect registers with Personio. */
  webhookPort: number;
  /** Each change event published to the local event bus, one JSON line per entry. */
  events: string | undefined;
  employees: number;
  /** Another Personio's API root; connect then takes that Personio's Client ID and Secret in its body. */
  personioUrl: string | undefined;
  /** The credential the simulator accepts (when there is a simulator). */
  simulatorCredential: { clientId: string; clientSecret: string };
  /** True when the simulator's credential is the documented default, which may be printed. */
  defaultCredential: boolean;
  verbose: boolean;
  help: boolean;
}

export const serveUsage = `Usage: npm run serve -- [options]

Serves the connect API on the local stack (DynamoDB Local, SQS, the Secrets Manager, Scheduler and Lambda
stand-ins) through the real connect handler, against the Personio simulator or another Personio. "Import now"
really imports: the fetch and the worker run in this process. No IAM auth locally; routes, validation and
errors are the deployed API's.

  --port P             port of the API on 127.0.0.1 (default 3000)
  --webhook-port P     port of the webhook route POST /webhooks/personio/{tenantId} on 127.0.0.1, the URL connect
                       registers with Personio (default: the API's port + 1)
  --events FILE        write each change event published to the local event bus as one JSON line
  --personio-url URL   use this Personio API root instead of the simulator (a sandbox, a stand-in); connect
                       (PUT /tenants/{t}/personio) then takes that Personio's Client ID and Secret in its body,
                       as in production
  --employees N        employees in the simulator (default 200)
  --client-id ID       the Client ID the simulator accepts (or PERSONIO_CLIENT_ID; the flag wins;
                       default ${DEFAULT_SIM_CREDENTIAL.clientId})
  --client-secret S    the Client Secret the simulator accepts (or PERSONIO_CLIENT_SECRET; the flag wins;
                       default ${DEFAULT_SIM_CREDENTIAL.clientSecret}); the variable keeps it out of your shell
                       history and npm's echo of the command
  --verbose            show the handlers' log lines
  --help               this text`;

const URL_PATTERN = /^https?:\/\/[^\s]+$/;

export function parseServeArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ServeArgs {
  const values = parseFlags(argv, {
    port: { type: 'string' },
    'webhook-port': { type: 'string' },
    events: { type: 'string' },
    'personio-url': { type: 'string' },
    employees: { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    verbose: { type: 'boolean' },
    help: { type: 'boolean' },
  });
  const personioUrl = values['personio-url'];
  if (personioUrl !== undefined) {
    if (!URL_PATTERN.test(personioUrl)) throw new UsageError('--personio-url must be an http(s) URL');
    // The simulator's options mean nothing against another Personio; refusing them beats ignoring them.
    for (const flag of ['employees', 'client-id', 'client-secret'] as const)
      if (values[flag] !== undefined)
        throw new UsageError(`--${flag} configures the simulator and does not go with --personio-url (connect takes that Personio's credentials in its body)`);
  }
  // Without --personio-url the variables name the simulator's credential; with it, they are not read (connect's body
  // carries the credential), so a shell that exports them for npm start does not get in the way.
  const fromEnv = personioUrl === undefined;
  const clientId = values['client-id'] ?? (fromEnv ? env['PERSONIO_CLIENT_ID'] : undefined);
  const clientSecret = values['client-secret'] ?? (fromEnv ? env['PERSONIO_CLIENT_SECRET'] : undefined);
  if ((clientId === undefined) !== (clientSecret === undefined))
    throw new UsageError(
      'The simulator takes a Client ID and a Client Secret together (--client-id and --client-secret, or PERSONIO_CLIENT_ID and PERSONIO_CLIENT_SECRET)',
    );
  if (clientId === '' || clientSecret === '') throw new UsageError('The Client ID and Client Secret must not be empty');
  const simulatorCredential = clientId !== undefined && clientSecret !== undefined ? { clientId, clientSecret } : DEFAULT_SIM_CREDENTIAL;
  const port = wholeNumber('port', values.port, 3000, 1, 65_535);
  const webhookPort = wholeNumber('webhook-port', values['webhook-port'], port === 65_535 ? 65_534 : port + 1, 1, 65_535);
  if (webhookPort === port) throw new UsageError('--webhook-port must differ from --port');
  return {
    port,
    webhookPort,
    events: values.events,
    employees: wholeNumber('employees', values.employees, 200, 1, 200_000),
    personioUrl,
    simulatorCredential,
    defaultCredential: simulatorCredential === DEFAULT_SIM_CREDENTIAL,
    verbose: values.verbose ?? false,
    help: values.help ?? false,
  };
}
