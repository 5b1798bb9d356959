// Holds a call of an async method until the test lets it go: for races, a test stops one request at a
// chosen step (a slow store, a slow log), does something else meanwhile, then releases it.

export interface Held {
  /** Resolves when the first call to hold arrives. */
  readonly reached: Promise<void>;
  /** Lets every held call (and every later one) go on; calling it again does nothing. */
  readonly release: () => void;
  /** Puts the original method back. */
  readonly restore: () => void;
}

export interface HoldOptions {
  /** Hold only the first call for which `when` is true; later ones run straight through. */
  readonly once?: boolean;
  /** Hold the call after the original returned (its result is handed back on release), not before it runs. */
  readonly afterCall?: boolean;
}

type AsyncMethod = (...args: never[]) => Promise<unknown>;

/**
 * Wraps `obj[method]`: a call for which `when(...args)` is true waits (before the original runs, or after
 * with `afterCall`) until `release` is called. Calls made after the release are not held.
 */
export function hold<K extends PropertyKey, O extends Record<K, AsyncMethod>>(obj: O, method: K, when: (...args: Parameters<O[K]>) => boolean, options: HoldOptions = {}): Held {
  const original = obj[method];
  const own = Object.prototype.hasOwnProperty.call(obj, method);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let reach!: () => void;
  const reached = new Promise<void>((r) => (reach = r));
  let held = false;
  const wait = async (args: Parameters<O[K]>) => {
    if (!when(...args) || (options.once && held)) return;
    held = true;
    reach();
    await gate;
  };
  const call = (args: Parameters<O[K]>) => Reflect.apply(original, obj, args);
  const wrapped = options.afterCall
    ? async (...args: Parameters<O[K]>) => {
        const out = await call(args);
        await wait(args);
        return out;
      }
    : async (...args: Parameters<O[K]>) => {
        await wait(args);
        return call(args);
      };
  obj[method] = wrapped as unknown as O[K];
  return {
    reached,
    release,
    restore: () => {
      if (own) obj[method] = original;
      else Reflect.deleteProperty(obj, method);
    },
  };
}

/** Runs `body`, then releases what `held` holds and puts the method back, whatever happened. */
export async function whileHeld<T>(held: Held, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } finally {
    held.release();
    held.restore();
  }
}
