// Bounds on how deeply a Cedar policy may nest, checked on the text before it reaches the engine.
// cedar-wasm parses and evaluates recursively on the WebAssembly module's own stack; a policy nested a
// few hundred levels deep overflows it, and an overflow there corrupts the module's memory: every later
// decision traps until the process restarts. Measured with cedar-wasm 4.x: 150 nested parentheses or
// 120 nested records trap the parser; a chain of 500 `+` or `if … then` evaluates with a trap. The
// limits below stay far under those, and far over what a readable policy uses.

/** Brackets `(`, `[`, `{` open inside one another. */
export const MAX_POLICY_NESTING = 24;
/**
 * Operators, member accesses (`.a`, `["a"]`), `if`s and `when`/`unless` clauses after the first in one policy
 * (each can add one level to the expression tree: the clauses of a policy are joined by `&&`).
 */
export const MAX_POLICY_OPERATORS = 128;

const OPENERS = new Set(['(', '[', '{']);
const CLOSERS = new Set([')', ']', '}']);
const KEYWORD_OPERATORS = new Set(['if', 'in', 'has', 'like', 'is']);
// Every clause after a policy's first joins its condition with one more `&&`: a policy of 1,000
// `unless { false }` clauses, no bracket nested and no operator between them, trapped cedar-wasm's parser,
// and one of 400 its evaluator.
const CLAUSES = new Set(['when', 'unless']);
// Longest first, so `&&` is not read as two `&` and `<=` not as `<`.
const SYMBOL_OPERATORS = ['&&', '||', '==', '!=', '<=', '>=', '<', '>', '+', '-', '*', '!', '.'];

/** A problem of the text: the limit it exceeds and where (1-based line:column). */
export interface ComplexityProblem {
  readonly message: string;
  readonly line: number;
  readonly column: number;
}

/**
 * The first place the text exceeds a limit, or undefined. Strings and `//` comments are skipped; a
 * policy ends at a `;` outside any bracket. The scan is lexical only: what it passes still goes through
 * Cedar's parser and validator.
 */
export function policyComplexityProblem(text: string): ComplexityProblem | undefined {
  let depth = 0;
  let operators = 0;
  let clauses = 0;
  let line = 1;
  let lineStart = 0;
  // Whether the last token ended a value (a name, a string, `)` or `]`): a `[` after one indexes it
  // (`context["a"]["a"]…`), which deepens the tree as `.a` does without nesting any bracket.
  let afterValue = false;
  const at = (i: number, message: string): ComplexityProblem => ({ message, line, column: i - lineStart + 1 });
  for (let i = 0; i < text.length; ) {
    const ch = text[i] as string;
    if (ch === '\n' || ch === '\r') {
      // Cedar's lexer ends a line (and a `//` comment) at either; `\r\n` counts once.
      if (ch === '\n' || text[i + 1] !== '\n') {
        line += 1;
        lineStart = i + 1;
      }
      i += 1;
    } else if (/\s/u.test(ch)) {
      // Any white space Cedar's lexer skips (form feed and vertical tab too) keeps an index an index.
      i += 1;
    } else if (ch === '"') {
      // Cedar strings: backslash escapes, no raw newlines that matter here (counted anyway).
      for (i += 1; i < text.length && text[i] !== '"'; i += 1) {
        if (text[i] === '\\') i += 1;
        else if (text[i] === '\n') {
          line += 1;
          lineStart = i + 1;
        }
      }
      i += 1;
      afterValue = true;
    } else if (ch === '/' && text[i + 1] === '/') {
      // To the end of the line as Cedar's lexer sees it (`//[^\n\r]*`): a comment that ran on past a
      // `\r` would hide the policy after it from this check, not from Cedar.
      while (i < text.length && text[i] !== '\n' && text[i] !== '\r') i += 1;
    } else if (OPENERS.has(ch)) {
      if (ch === '[' && afterValue && ++operators > MAX_POLICY_OPERATORS) return at(i, `a policy has more than ${MAX_POLICY_OPERATORS} operators`);
      afterValue = false;
      depth += 1;
      if (depth > MAX_POLICY_NESTING) return at(i, `brackets nest more than ${MAX_POLICY_NESTING} deep`);
      i += 1;
    } else if (CLOSERS.has(ch)) {
      depth = Math.max(0, depth - 1);
      i += 1;
      afterValue = ch !== '}';
    } else if (ch === ';' && depth === 0) {
      operators = 0;
      clauses = 0;
      afterValue = false;
      i += 1;
    } else if (/[A-Za-z_]/.test(ch)) {
      let j = i + 1;
      while (j < text.length && /[A-Za-z0-9_]/.test(text[j] as string)) j += 1;
      const word = text.slice(i, j);
      const keyword = KEYWORD_OPERATORS.has(word) || (CLAUSES.has(word) && ++clauses > 1);
      if (keyword && ++operators > MAX_POLICY_OPERATORS) return at(i, `a policy has more than ${MAX_POLICY_OPERATORS} operators`);
      afterValue = !keyword;
      i = j;
    } else {
      const op = SYMBOL_OPERATORS.find((s) => text.startsWith(s, i));
      if (op !== undefined && ++operators > MAX_POLICY_OPERATORS) return at(i, `a policy has more than ${MAX_POLICY_OPERATORS} operators`);
      afterValue = false;
      i += op?.length ?? 1;
    }
  }
  return undefined;
}
