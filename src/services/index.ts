export { loadConfig, parseConfigText } from './config-loader.ts';
export { openEnclave, type Enclave, type OpenOptions } from './enclave.ts';
export { CONFIG_FILE, DEV_UNSEAL_FILE, initEnclave, readDevShares, type InitResult } from './init-service.ts';
export { KEY_ID, Keyring } from './keyring.ts';
export { SealService, type OfficerShare, type SealRecord, type SealStatus } from './seal-service.ts';
export { SiteRouter, type Located } from './site-router.ts';
export { starterConfig, type StarterOptions } from './starter-config.ts';
export { TokenService, type IssuedToken, type TokenRequest } from './token-service.ts';
export { Vault, type ImportResult, type RecordPage, type RecordView, type RehomeResult, type SubjectView } from './vault.ts';
