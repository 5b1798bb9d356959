#!/usr/bin/env node
// Entry point for `npx enclave`. npm puts the pinned Node 24 (a devDependency) first on PATH; Node 24
// runs the TypeScript sources directly. Any older Node gets one clear line instead of a syntax error.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`enclave: invalid_argument: Node.js 24 or newer is required (this is ${process.version}); run it through npm (npx enclave, npm start) so the pinned Node is used\n`);
  process.exit(2);
}
// Before any TypeScript source is loaded: see compile-cache.js.
const { enableCompileCache } = await import('./compile-cache.js');
enableCompileCache();
await import('../src/cli/main.ts');
