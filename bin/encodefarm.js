#!/usr/bin/env node
// The CLI is TypeScript; tsx compiles it on the fly so a fresh clone runs after `npm install`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../core/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
