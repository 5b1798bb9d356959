// A line diff (Myers, "An O(ND) Difference Algorithm and Its Variations", 1986) printed as a unified
// diff with context, for showing a proposed policy set against the active one.

export type Edit = { readonly op: ' ' | '-' | '+'; readonly line: string };

/** The shortest edit script turning `a` into `b`, line by line. */
export function diffLines(a: readonly string[], b: readonly string[]): Edit[] {
  const n = a.length;
  const m = b.length;
  const off = n + m + 1;
  const v = new Int32Array(2 * off + 1);
  const at = (arr: Int32Array, k: number) => arr[off + k] ?? 0;
  // trace[d] is the furthest-reaching x on each diagonal k before step d.
  const trace: Int32Array[] = [];
  search: for (let d = 0; d <= n + m; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && at(v, k - 1) < at(v, k + 1)) ? at(v, k + 1) : at(v, k - 1) + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) break search;
    }
  }
  const edits: Edit[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const frontier = trace[d] ?? v;
    const k = x - y;
    const prevK = k === -d || (k !== d && at(frontier, k - 1) < at(frontier, k + 1)) ? k + 1 : k - 1;
    const prevX = at(frontier, prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      x--;
      y--;
      edits.push({ op: ' ', line: a[x] ?? '' });
    }
    if (d === 0) break;
    if (x === prevX) edits.push({ op: '+', line: b[--y] ?? '' });
    else edits.push({ op: '-', line: a[--x] ?? '' });
  }
  return edits.reverse();
}

/** A unified diff of two texts with `context` lines around each change; empty when they are equal. */
export function unifiedDiff(before: string, after: string, labels: { readonly from: string; readonly to: string }, context = 3): string {
  const a = before.split('\n');
  const b = after.split('\n');
  const edits = diffLines(a, b);
  if (edits.every((e) => e.op === ' ')) return '';
  const out = [`--- ${labels.from}`, `+++ ${labels.to}`];
  let i = 0;
  let lineA = 1;
  let lineB = 1;
  while (i < edits.length) {
    if (edits[i]?.op === ' ') {
      i++;
      lineA++;
      lineB++;
      continue;
    }
    // A hunk: back up `context` lines, then run until `2 * context` unchanged lines follow a change.
    const start = Math.max(0, i - context);
    let end = i;
    let quiet = 0;
    while (end < edits.length && quiet <= 2 * context) {
      quiet = edits[end]?.op === ' ' ? quiet + 1 : 0;
      end++;
    }
    end = Math.min(edits.length, end - Math.max(0, quiet - context));
    const back = i - start;
    const hunk = edits.slice(start, end);
    const countA = hunk.filter((e) => e.op !== '+').length;
    const countB = hunk.filter((e) => e.op !== '-').length;
    out.push(`@@ -${lineA - back},${countA} +${lineB - back},${countB} @@`);
    for (const e of hunk) out.push(`${e.op}${e.line}`);
    for (const e of edits.slice(i, end)) {
      if (e.op !== '+') lineA++;
      if (e.op !== '-') lineB++;
    }
    i = end;
  }
  return `${out.join('\n')}\n`;
}
