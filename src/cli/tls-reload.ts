// SIGHUP for a server with TLS (`enclave serve`, `enclave witness serve`): the certificate and key are
// read again and presented from the next handshake, a renewal without a restart.
import type { TlsCredentials } from '../http/tls-credentials.ts';
import type { Output } from './output.ts';

/** What a reload replaces the certificate of. */
export interface TlsListener {
  replaceTls(credentials: TlsCredentials): void;
}

export interface Hangups {
  /** Listening: SIGHUP reloads from now on, at once if one came while it started. */
  serving(server: TlsListener): void;
  /** Closing: SIGHUP is noted, nothing is reloaded. */
  closing(): void;
  stop(): void;
}

/**
 * On SIGHUP, the certificate and key are read again and presented from the next handshake (a renewal
 * without a restart, which would seal the enclave). A pair that fails the checks is refused in one line
 * and the one in use stays. The signal is taken from the first reading until the stores are closed: with
 * no listener its default action ends the process, in the middle of opening or closing the stores.
 */
export function reloadOnHangup(read: () => TlsCredentials, describe: (leaf: TlsCredentials['leaf']) => string, out: Output): Hangups {
  let server: TlsListener | undefined;
  let missed = false;
  let closing = false;
  const reload = (to: TlsListener) => {
    try {
      const next = read();
      to.replaceTls(next);
      for (const w of next.warnings) out.warn(`Warning: ${w}`);
      out.note(`SIGHUP: TLS certificate reloaded: ${describe(next.leaf)}`);
    } catch (err) {
      out.warn(`SIGHUP: TLS certificate not reloaded, the one in use stays: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const onHangup = () => {
    if (closing) {
      out.note('SIGHUP: the server is closing; the TLS certificate is not reloaded');
    } else if (server === undefined) {
      // The files may be replaced while the stores open: they are read again once it listens.
      missed = true;
      out.note('SIGHUP: the server is starting; it reads the TLS certificate and key again once it listens');
    } else {
      reload(server);
    }
  };
  process.on('SIGHUP', onHangup);
  return {
    serving(listening) {
      server = listening;
      if (missed) reload(listening);
    },
    closing() {
      closing = true;
    },
    stop() {
      process.off('SIGHUP', onHangup);
    },
  };
}
