// SIGHUP for a server (`enclave serve`, `enclave witness serve`): with TLS, the certificate and key are
// read again and presented from the next handshake, a renewal without a restart; without TLS there is
// nothing to reload and it says so. Either way the signal never ends the server: its default action would,
// and a service manager's "reload" sends it.
import type { TlsCredentials } from '../http/tls-credentials.ts';
import type { Output } from './output.ts';

/** What a reload replaces the certificate of. */
export interface TlsListener {
  replaceTls(credentials: TlsCredentials): void;
}

/** One line naming a certificate (describeCertificate, passed in: this module loads no TLS code itself). */
type Describe = (leaf: TlsCredentials['leaf']) => string;

export interface Hangups {
  /** TLS is served: SIGHUP reloads with `read` once it listens (at once then, if one came while it started). */
  reloadWith(read: () => TlsCredentials, describe: Describe): void;
  /** No TLS: SIGHUP says there is nothing to reload (`why`: which setting is absent). */
  nothingToReload(why: string): void;
  /** Listening: from now on a SIGHUP reloads. */
  serving(server: TlsListener): void;
  /** Closing: SIGHUP is noted, nothing is reloaded. */
  closing(): void;
  stop(): void;
}

type Mode = { readonly tls: true; readonly read: () => TlsCredentials; readonly describe: Describe } | { readonly tls: false; readonly why: string };

/**
 * Takes SIGHUP from now until stop(): call it first thing in a server's start, before the configuration
 * is read, the heap-limit restart (heap-limits.ts) and the stores open. Until reloadWith or
 * nothingToReload says which applies, a SIGHUP is only remembered. With TLS, a pair that fails the checks
 * is refused in one line and the one in use stays.
 */
function takeHangups(out: Output): Hangups {
  let mode: Mode | undefined;
  let server: TlsListener | undefined;
  let missed = false;
  let closing = false;
  const handle = (now: Mode) => {
    if (!now.tls) out.note(`SIGHUP: nothing to reload (it reloads the TLS certificate and key, and ${now.why}); the server carries on`);
    else if (closing) out.note('SIGHUP: the server is closing; the TLS certificate is not reloaded');
    else if (server === undefined) {
      // The files may be replaced while the stores open: they are read again once it listens.
      missed = true;
      out.note('SIGHUP: the server is starting; it reads the TLS certificate and key again once it listens');
    } else {
      try {
        const next = now.read();
        server.replaceTls(next);
        for (const w of next.warnings) out.warn(`Warning: ${w}`);
        out.note(`SIGHUP: TLS certificate reloaded: ${now.describe(next.leaf)}`);
      } catch (err) {
        out.warn(`SIGHUP: TLS certificate not reloaded, the one in use stays: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  };
  const onHangup = () => {
    // Before the configuration says whether there is TLS: told once it does.
    if (mode === undefined) missed = true;
    else handle(mode);
  };
  process.on('SIGHUP', onHangup);
  /** Handles a SIGHUP that came before `mode` was known or while the server started, if one did. */
  const handleMissed = () => {
    if (!missed || mode === undefined) return;
    missed = false;
    handle(mode);
  };
  return {
    reloadWith(read, describe) {
      mode = { tls: true, read, describe };
      handleMissed();
    },
    nothingToReload(why) {
      mode = { tls: false, why };
      handleMissed();
    },
    serving(listening) {
      server = listening;
      handleMissed();
    },
    closing() {
      closing = true;
    },
    stop() {
      process.off('SIGHUP', onHangup);
    },
  };
}

/** Runs a server's `start` (to its end) with SIGHUP taken throughout (takeHangups), first thing. */
export async function withHangups(out: Output, start: (hangups: Hangups) => Promise<void>): Promise<void> {
  const hangups = takeHangups(out);
  try {
    await start(hangups);
  } finally {
    hangups.stop();
  }
}
