// Type-aware linting; `npm run lint` fails on any warning (--max-warnings 0).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'coverage/**', '.enclave*/**', 'scratch/**', 'bench/.work/**'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      // node:test registers tests with calls that return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }],
      }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'ExportAllDeclaration', message: 'Use explicit exports in index.ts.' }],
    },
  },
  {
    // The core has no I/O: it never imports an adapter, node I/O modules or a service.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['**/storage/**', '**/http/**', '**/cli/**', '**/services/**', '**/crypto/**'], message: 'core must not depend on outer layers' },
        { group: ['node:fs', 'node:fs/*', 'node:sqlite', 'node:net', 'node:http', 'node:child_process', 'fastify', 'pg'], message: 'core has no I/O' },
      ] }],
    },
  },
);
