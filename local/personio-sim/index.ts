export { DEFAULT_SIM_CREDENTIAL, startPersonioSim } from './server.js';
export { defaultKnobs } from './knobs.js';
export type { PersonioSim, SimCredential, SimEmployeeView, SimKnobs, SimOptions, SimStats } from './types.js';
