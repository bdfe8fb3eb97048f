#!/usr/bin/env node
// Launcher: the CLI is TypeScript compiled to dist/ by `npm run build`.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('promptgraph: dist/src/cli/main.js is missing: run npm run build first\n');
  process.exit(1);
}
const { main } = await import(entry.href);
// exitCode rather than exit(): lets stdout drain; the CLI releases the device so node can exit.
process.exitCode = await main(process.argv.slice(2));
