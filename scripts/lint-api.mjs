// Lints the OpenAPI document with redocly.yaml and fails on any error or warning (zero-warnings policy).
// Problems listed in .redocly.lint-ignore.yaml are skipped by Redocly itself and never reach this script.
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const result = spawnSync(
  process.execPath,
  [
    join(root, 'node_modules', '.bin', 'redocly'),
    'lint',
    '--config',
    'redocly.yaml',
    // A config warning means a rule we think is on is silently ignored, so it fails too.
    '--lint-config',
    'error',
    // checkstyle is the machine-readable format that keeps line and column numbers.
    '--format',
    'checkstyle',
    '--max-problems',
    '100000',
  ],
  {
    cwd: root,
    encoding: 'utf8',
    // Redocly's telemetry and update check would reach the network.
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
  },
);

/** Decodes the XML entities Redocly's checkstyle output uses. */
function unescapeXml(text) {
  return text.replace(/&(quot|apos|lt|gt|amp|#\d+);/g, (_, entity) => {
    const named = { quot: '"', apos: "'", lt: '<', gt: '>', amp: '&' };
    return named[entity] ?? String.fromCodePoint(Number(entity.slice(1)));
  });
}

/** Reads `name="value"` attributes of one XML tag. */
function attributes(tag) {
  return Object.fromEntries([...tag.matchAll(/(\w+)="([^"]*)"/g)].map(([, key, value]) => [key, unescapeXml(value)]));
}

const problems = [];
for (const [, fileTag, body] of result.stdout.matchAll(/<file ([^>]*)>([\s\S]*?)<\/file>/g)) {
  const file = attributes(fileTag).name;
  for (const [errorTag] of body.matchAll(/<error [^>]*\/>/g)) problems.push({ file, ...attributes(errorTag) });
}

if (problems.length > 0) {
  for (const p of problems)
    console.error(`${p.file}:${p.line}:${p.column}  ${p.severity}  ${p.message}  (${p.source})`);
  const errors = problems.filter((p) => p.severity === 'error').length;
  console.error(`\nAPI lint failed: ${errors} error(s), ${problems.length - errors} warning(s). Warnings fail too.`);
  process.exit(1);
}
if (result.status !== 0) {
  // No lint problems but a failure: the config or the document could not be read. Show Redocly's own report.
  process.stderr.write(result.stderr || result.error?.message || '');
  console.error(`\nAPI lint failed: redocly lint exited with ${result.status ?? result.signal}.`);
  process.exit(1);
}
console.log('API lint: no errors, no warnings.');
