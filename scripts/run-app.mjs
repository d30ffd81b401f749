// `npm run app`: the desktop app from this checkout. better-sqlite3 in node_modules is compiled for
// Node (the CLI and the tests use it); Electron has another ABI, so a second copy is compiled for
// it under .electron-native/ (once per Electron version) and the coordinator's utility process is
// told to load that one (ENCODEFARM_SQLITE_BINDING). Packaged apps do not need this: electron-builder
// rebuilds the module for Electron. Needs the internet the first time (Electron and its headers).
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const require = createRequire(path.join(root, 'package.json'));
const electronVersion = JSON.parse(readFileSync(path.join(root, 'node_modules/electron/package.json'), 'utf8')).version;
const dir = path.join(root, '.electron-native', electronVersion, 'better-sqlite3');
const binding = path.join(dir, 'build', 'Release', 'better_sqlite3.node');

if (!existsSync(binding)) {
  console.log(`compiling better-sqlite3 for Electron ${electronVersion} into ${path.relative(root, dir)} …`);
  cpSync(path.join(root, 'node_modules/better-sqlite3'), dir, { recursive: true, filter: (src) => !src.split(path.sep).includes('build') });
  writeFileSync(path.join(dir, '.npmrc'), ''); // no inherited nodedir: the headers must be Electron's
  execFileSync(
    process.platform === 'win32' ? 'npx.cmd' : 'npx',
    ['--yes', 'node-gyp@11', 'rebuild', '--release', `--target=${electronVersion}`, '--runtime=electron', '--dist-url=https://electronjs.org/headers', `--arch=${process.arch}`],
    { cwd: dir, stdio: 'inherit', env: { ...process.env, npm_config_nodedir: '' } },
  );
}

const electron = require('electron'); // the path of the Electron binary (install.js fetched it)
const child = spawn(electron, [root, ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, ENCODEFARM_SQLITE_BINDING: binding },
});
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 0)));
