export { API_VERSION, buildServer, type ServerOptions } from './server.ts';
export { ERROR_STATUS } from './error-status.ts';
export { sendError, toEnclaveError, type ErrorBody } from './error-handler.ts';
