#!/usr/bin/env node
// Entry point for `npx enclave`; npm puts the pinned Node 24 first on PATH, which strips TypeScript types natively.
await import('../src/cli/main.ts');
