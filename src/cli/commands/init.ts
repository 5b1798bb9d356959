// `enclave init`: the commented starter configuration, the data directory, and the root key split into
// one unseal share per officer, printed once.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { ID_PATTERN } from '../../core/api-ids.ts';
import type { CliContext } from '../context.ts';
import { usageError } from '../fail.ts';
import { DEFAULT_CONFIG, examples, integerIn, nameList } from '../options.ts';
import { describePackets, describeShares } from '../officer-packets.ts';
import { columns, displayPath, Output } from '../output.ts';

interface InitOptions {
  readonly dir: string;
  readonly dev?: boolean;
  readonly officers?: string[];
  readonly threshold?: number;
  readonly recipients?: Record<string, string>;
  readonly json?: boolean;
}

const DEFAULT_OFFICERS = ['alice', 'bob', 'carol'];

/** `alice=age1…,bob=age1…`: officer → age public key (the key itself is checked with the configuration). */
function recipientList(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of value.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const eq = item.indexOf('=');
    const officer = item.slice(0, eq);
    if (eq < 1 || !new RegExp(ID_PATTERN).test(officer)) throw new InvalidArgumentError(`expected officer=age1… items, e.g. alice=age1…; got "${item.slice(0, 40)}"`);
    if (Object.hasOwn(out, officer)) throw new InvalidArgumentError(`officer ${officer} is named twice`);
    out[officer] = item.slice(eq + 1);
  }
  return out;
}
/** Shamir's scheme over GF(256) gives at most 255 shares (seal.officers has the same limit). */
const MAX_OFFICERS = 255;

export function registerInit(program: Command, { io }: CliContext): void {
  program
    .command('init')
    .summary('write a starter configuration and data directory, and split the root key')
    .description(
      `Writes DIR/${DEFAULT_CONFIG} (a commented starter configuration) and DIR/data (made 0700, also when it exists, with its files 0600; refused where that cannot be done), creates the root key and splits it with Shamir's scheme into one unseal share per gatekeeper officer; THRESHOLD of them unseal the enclave. Each officer also gets a first bearer token (gatekeeper.bootstrap.role); every later token is proposed and approved by a quorum. Shares and tokens are printed once and stored nowhere (tokens as hashes only). If DIR/${DEFAULT_CONFIG} already exists it is used as it is. An already initialized directory is refused: nothing is changed.`,
    )
    .option('-d, --dir <dir>', 'directory for the configuration and the data directory', '.')
    .option('--officers <names>', `comma-separated officers, one share each (default: ${DEFAULT_OFFICERS.join(',')})`, nameList)
    .option('--threshold <k>', 'how many shares unseal the enclave (default: 2)', integerIn(2, 255))
    .option('--recipients <officer=key,…>', "each officer's age public key (`enclave officer keygen`): every share and token is printed encrypted to its officer, so you read none (seal.recipients; the officers default to these names)", recipientList)
    .option('--dev', 'development mode: also write a file from which `serve --dev-unseal` unseals without the officers')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      examples(
        'enclave init --dir ./prod --officers alice,bob,carol --threshold 2',
        'enclave init --dir ./scratch --dev          # for trying things out, never for real data',
        'enclave init --dir ./prod --recipients alice=age1…,bob=age1…,carol=age1… --threshold 2',
      ),
    )
    .action(async (opts: InitOptions) => {
      const out = new Output(io, { json: opts.json === true });
      const { CONFIG_FILE, initEnclave } = await import('../../services/init-service.ts');
      const configPath = join(opts.dir, CONFIG_FILE);
      if (existsSync(configPath) && (opts.officers !== undefined || opts.threshold !== undefined || opts.recipients !== undefined)) {
        throw usageError(`${configPath} already exists; set seal.officers, seal.threshold and seal.recipients there instead of --officers/--threshold/--recipients`);
      }
      const officers = opts.officers ?? (opts.recipients === undefined ? DEFAULT_OFFICERS : Object.keys(opts.recipients));
      const threshold = opts.threshold ?? 2;
      const badName = officers.find((o) => !new RegExp(ID_PATTERN).test(o));
      if (badName !== undefined) throw usageError(`--officers: "${badName}" is not a valid name (lower case letters, digits, - and _, starting with a letter)`);
      if (officers.length < 2) throw usageError('--officers needs at least two names: one person alone never holds the root key');
      if (officers.length > MAX_OFFICERS) throw usageError(`--officers takes at most ${MAX_OFFICERS} names (one Shamir share each; got ${officers.length})`);
      if (threshold > officers.length) throw usageError(`--threshold ${threshold} is more than the ${officers.length} officers`);
      if (existsSync(configPath)) {
        // A configuration that is there already: a storage URL init cannot open is refused naming the
        // file and the key, before anything is created (opening the store would name neither).
        const { loadConfig } = await import('../../services/config-loader.ts');
        const { checkStorageUrls } = await import('../../storage/open-store.ts');
        checkStorageUrls(loadConfig(configPath), configPath);
      }
      const result = await initEnclave(opts.dir, { officers, threshold, dev: opts.dev === true, ...(opts.recipients === undefined ? {} : { recipients: opts.recipients }) });
      const shown = displayPath;
      out.result(
        {
          config: result.configPath,
          data_dir: result.dataDir,
          wrote_config: result.wroteConfig,
          threshold: result.threshold,
          // With seal.recipients nothing of a share or token is shown in clear: each officer's is in their packet.
          ...(result.packets === undefined ? { shares: result.shares, tokens: result.tokens } : { packets: result.packets, tokens: result.tokens.map((t) => ({ officer: t.officer, id: t.id })) }),
          dev_unseal_file: result.devUnsealPath,
        },
        () =>
          [
            `Initialized the enclave in ${shown(opts.dir)}`,
            `  configuration  ${shown(result.configPath)}${result.wroteConfig ? ' (commented starter; review it before storing real data)' : ' (existing file, used as it is)'}`,
            `  data           ${shown(result.dataDir)}`,
            '',
            ...(result.packets === undefined
              ? [
                  describeShares(result.shares, `Unseal shares: any ${result.threshold} of these ${result.shares.length} unseal the enclave.`),
                  '',
                  `Bootstrap tokens, one per officer (shown once; only their hashes are stored). Every later token needs ${result.tokens.length > 1 ? 'approval by other officers' : 'approval'}:`,
                  columns(result.tokens.map((t) => [t.officer, t.secret])),
                ]
              : [describePackets(result.packets, `Unseal shares (any ${result.threshold} of these ${result.packets.length} unseal the enclave) and bootstrap tokens, shown once and stored nowhere`)]),
            '',
            'Next:',
            `  enclave serve --config ${shown(result.configPath)}${result.devUnsealPath ? ' --dev-unseal' : ''}`,
            result.packets === undefined
              ? `  enclave unseal --config ${shown(result.configPath)}    # ${result.threshold} officers, each entering their share`
              : `  enclave unseal --config ${shown(result.configPath)} --identity <your key file> < <your block>    # ${result.threshold} officers`,
            `  ENCLAVE_TOKEN=<your token> enclave token create --config ${shown(result.configPath)} --principal app --org platform --role service`,
            '  # … and other officers approve it: enclave token approve <proposal>',
          ].join('\n'),
      );
      if (result.devUnsealPath !== null) {
        out.warn(`DEVELOPMENT MODE: wrote ${shown(result.devUnsealPath)}, from which \`enclave serve --dev-unseal\` unseals without the officers; never use in production`);
      }
    });
}
