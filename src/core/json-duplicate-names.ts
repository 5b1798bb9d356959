// JSON.parse keeps the last of two members with one name (RFC 8259 §4 leaves it to the parser), so a
// record exported with a name twice would be read as whichever the parser picked, and the other value
// lost without a word. Sources that take JSON from outside refuse such text instead.

/** A name that appears twice in one object of `text` (valid JSON), and how deep that object is (1: the top). */
export interface DuplicateName {
  readonly name: string;
  readonly depth: number;
}

/** The first member name given twice in one object, or undefined; `text` must already parse as JSON. */
export function duplicateName(text: string): DuplicateName | undefined {
  // One entry per open object (its names so far) or array (null).
  const open: (Set<string> | null)[] = [];
  let atName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const names = open.at(-1);
      if (atName && names) {
        const name = JSON.parse(text.slice(i, end + 1)) as string;
        if (names.has(name)) return { name, depth: open.length };
        names.add(name);
        atName = false;
      }
      i = end;
    } else if (c === '{') {
      open.push(new Set());
      atName = true;
    } else if (c === '[') {
      open.push(null);
    } else if (c === '}' || c === ']') {
      open.pop();
    } else if (c === ',') {
      atName = open.at(-1) != null;
    }
  }
  return undefined;
}
