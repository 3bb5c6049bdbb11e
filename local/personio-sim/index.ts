export { DEFAULT_COMPANY_ID, DEFAULT_SIM_CREDENTIAL, startPersonioSim } from './server.js';
export { defaultKnobs } from './knobs.js';
export { WEBHOOK_EVENTS } from './webhook-registry.js';
export type {
  PersonioSim,
  SimCredential,
  SimDeliveryRecord,
  SimEmployeeView,
  SimKnobs,
  SimOptions,
  SimStats,
  SimWebhook,
  SimWebhookAuthType,
  SimWebhookStatus,
} from './types.js';
