// Jobs that record when they start and end, two event-loop turns apart: for tests of in-process locks.

export const tick = () => new Promise((resolve) => setImmediate(resolve));

export function recorder() {
  const events: string[] = [];
  const job =
    (name: string, fail = false) =>
    async () => {
      events.push(`${name} start`);
      await tick();
      await tick();
      events.push(`${name} end`);
      if (fail) throw new Error(name);
      return name;
    };
  return { events, job };
}
