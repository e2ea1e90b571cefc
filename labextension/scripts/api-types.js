// Regenerates src/api-types.ts (committed) from the OpenAPI document of this
// checkout's hal_jupyter, written by `python -m hal_jupyter.server.openapi`:
// no server needed. Not part of `jlpm build`, so that building the panel (pip
// install) needs no Python package; tests/test_api_types.py fails when the
// committed file is stale and says to run `jlpm build:api-types`.
//
//   node scripts/api-types.js [output]   (default: src/api-types.ts; $PYTHON picks the interpreter)
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..', '..');
const output = path.resolve(process.argv[2] || path.join(__dirname, '..', 'src', 'api-types.ts'));
// run from the checkout's root: `python -m` puts it first on sys.path, so its hal_jupyter is the one read
const document = execFileSync(process.env.PYTHON || 'python', ['-m', 'hal_jupyter.server.openapi'], {
  cwd: root,
  encoding: 'utf8',
  env: { ...process.env, PYTHONPATH: [root, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter) }
});
const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'hal-openapi-'));
const source = path.join(folder, 'openapi.json');
fs.writeFileSync(source, document);
try {
  const cli = path.join(path.dirname(require.resolve('openapi-typescript/package.json')), 'bin', 'cli.js');
  execFileSync(process.execPath, [cli, source, '--enum-values', '--default-non-nullable', 'false', '--output', output], { stdio: 'inherit' });
} finally {
  fs.rmSync(folder, { recursive: true, force: true });
}
