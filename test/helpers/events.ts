// The runner's event factories are the tests' too: one definition of what AWS delivers.
export { httpEvent, iamCaller, LOCAL_ACTOR, lambdaContext, scheduledEvent, sqsEvent } from '../../local/runner/events.js';
