/**
 * Hosts one deployed function bundle (`node bundle-host.mjs <bundle>/index.mjs`, forked with an IPC channel by
 * test/helpers/bundled-handlers.ts), as Lambda's Node.js runtime hosts it: the bundle is imported once (the cold
 * start), then each invocation the parent sends is answered with the handler's result or error.
 *
 * Plain JavaScript on purpose: this process loads Node and the bundle, nothing else (no tsx, no project sources), so
 * whatever the bundle needs at run time must be in it. Its environment is exactly what the parent gives it.
 *
 * Messages, parent → host: `{ type: 'invoke', id, event, context }`, where `context` holds the serializable fields of
 * a Lambda Context and `remainingMs` (the host rebuilds getRemainingTimeInMillis from it).
 * Host → parent: `{ type: 'ready', initMs, environment, sourceMaps }` once the bundle is loaded (`environment`: the
 * names of the variables the process started with), or
 * `{ type: 'init-error', error }` (and the host exits); then `{ type: 'result', id, ok, result | error }` per invocation.
 */
import { pathToFileURL } from 'node:url';

/** Written to stderr before Node reports an uncaught exception or unhandled rejection; the parent looks for it. */
const UNCAUGHT_MARKER = '[bundle-host] uncaught';

process.on('uncaughtExceptionMonitor', (error, origin) => {
  process.stderr.write(`${UNCAUGHT_MARKER} (${origin}): ${error instanceof Error ? error.stack : String(error)}\n`);
});
// The parent went away (or closed the channel): nothing will invoke this environment again.
process.on('disconnect', () => process.exit(0));

/** What of an error crosses the channel: the handler's errors carry no secrets (lib's messages never quote one). */
function serializeError(error) {
  if (!(error instanceof Error)) return { name: 'NonError', message: String(error) };
  const code = /** @type {{ code?: unknown }} */ (error).code;
  return { name: error.name, message: error.message, stack: error.stack, ...(typeof code === 'string' ? { code } : {}) };
}

async function main() {
  // Before the bundle's init, which may add variables of its own (Powertools sets AWS_SDK_UA_APP_ID).
  const environment = Object.keys(process.env).sort();
  const file = process.argv[2];
  if (!file) throw new Error('usage: bundle-host.mjs <bundle file>');
  const started = performance.now();
  let handler;
  try {
    const bundle = await import(pathToFileURL(file).href);
    handler = bundle.handler;
    if (typeof handler !== 'function') throw new Error(`${file} exports no handler function (exports: ${Object.keys(bundle).join(', ') || 'none'})`);
  } catch (error) {
    process.send({ type: 'init-error', error: serializeError(error) }, () => process.exit(1));
    return;
  }

  process.on('message', async (message) => {
    if (message?.type !== 'invoke') return;
    const { id, event, context: fields } = message;
    const { remainingMs, ...rest } = fields;
    const deadline = Date.now() + remainingMs;
    const context = {
      callbackWaitsForEmptyEventLoop: true,
      ...rest,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    };
    let answer;
    try {
      // Lambda answers with the JSON of the result; so does this channel (serialization 'json').
      answer = { type: 'result', id, ok: true, result: await handler(event, context) };
    } catch (error) {
      answer = { type: 'result', id, ok: false, error: serializeError(error) };
    }
    try {
      process.send(answer);
    } catch (error) {
      process.send({ type: 'result', id, ok: false, error: serializeError(new Error(`The result could not be sent: ${error?.message ?? error}`)) });
    }
  });

  process.send({
    type: 'ready',
    initMs: Math.round(performance.now() - started),
    environment,
    sourceMaps: process.sourceMapsEnabled === true,
  });
}

await main();
