// What the seal status says of the configuration to officers about to unseal (config-digest.ts): the
// governed sections edited since the last unseal, which the unseal logs.

/** The note for `configuration_changed`, or undefined when nothing changed (or an older server said nothing). */
export function configurationNote(changed: readonly string[] | null | undefined): string | undefined {
  if (changed === null) return 'no configuration was recorded at the last unseal, so what changed cannot be shown';
  if (changed === undefined || changed.length === 0) return undefined;
  return `the configuration changed since the last unseal: ${changed.join(', ')}`;
}

/** The note as a sentence of its own, saying that the unseal logs the digests. */
export function configurationLine(changed: readonly string[] | null | undefined): string | undefined {
  const note = configurationNote(changed);
  return note === undefined ? undefined : `${note.charAt(0).toUpperCase()}${note.slice(1)} (the unseal logs its digests)`;
}
