// (b) The server under test: the real enclave (buildServer) over the seeded data directory, unsealed
// with the development shares the seed wrote. Nothing is bypassed: every request is authenticated,
// decided, looked up (record and subject) and decrypted exactly as in production.
import { buildServer } from '../../src/http/server.ts';
import { loadConfig } from '../../src/services/config-loader.ts';
import { openEnclave } from '../../src/services/enclave.ts';
import { readDevShares } from '../../src/services/dev-shares.ts';
import type { BenchServer } from './bench-server.ts';

export async function buildGatedServer(configPath: string): Promise<BenchServer> {
  const enclave = await openEnclave(loadConfig(configPath));
  try {
    for (const share of readDevShares(enclave.config.dataDir) ?? []) await enclave.seal.submit(share);
    if (enclave.keyring.sealed) throw new Error('the bench enclave did not unseal from its development shares');
    const app = await buildServer(enclave);
    return {
      app,
      async close() {
        await app.close();
        await enclave.close();
      },
    };
  } catch (err) {
    await enclave.close();
    throw err;
  }
}
