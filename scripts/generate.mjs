// Builds generated/ from openapi/: the bundled document (JSON and YAML), its TypeScript types and the Redoc HTML page.
// `node scripts/generate.mjs` rewrites generated/; `--check` builds into a temp dir and fails if generated/ differs.
// The client package (client/) gets its own copy of the types, client/src/generated/api.ts, checked the same way.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addCodeSamples } from './code-samples.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const generatedDir = join(root, 'generated');
const check = process.argv.includes('--check');
// The types as the client package compiles them: the same text as generated/api.d.ts under a header, as a
// module of its own so that its build emits them next to its code (tsc does not copy a .d.ts).
const clientTypesFile = join(root, 'client', 'src', 'generated', 'api.ts');
const clientTypesHeader =
  '// Written by `npm run generate` (scripts/generate.mjs) from the contract: a copy of generated/api.d.ts.\n' +
  '// Do not edit; `npm run check:generated` fails when it drifts.\n';
/** The client's types file for the `api.d.ts` built in `outDir`. */
function clientTypes(outDir) {
  return clientTypesHeader + readFileSync(join(outDir, 'api.d.ts'), 'utf8');
}

// Redocly's telemetry and update check would reach the network; a fixed TZ and locale keep output stable.
const env = {
  ...process.env,
  REDOCLY_TELEMETRY: 'off',
  REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
  TZ: 'UTC',
  LC_ALL: 'C',
};

/** Runs a CLI from node_modules/.bin on this Node binary and throws with its output if it fails. */
function run(bin, args, cwd = root) {
  const result = spawnSync(process.execPath, [join(root, 'node_modules', '.bin', bin), ...args], {
    cwd,
    env,
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    process.stderr.write(result.stdout + result.stderr);
    throw new Error(`${bin} ${args.join(' ')} failed (exit ${result.status ?? result.signal})`);
  }
}

/** Writes every generated file into `outDir`. */
function build(outDir) {
  const bundled = join(outDir, 'openapi.json');
  // Config problems are reported by `npm run lint:api`; here they would only repeat on every run.
  run('redocly', ['bundle', 'openapi/openapi.yaml', '--config', 'redocly.yaml', '--lint-config', 'off', '-o', bundled]);
  // Request samples in curl, Python and TypeScript, made from the examples (Redocly writes JSON.stringify's layout).
  writeFileSync(bundled, JSON.stringify(addCodeSamples(JSON.parse(readFileSync(bundled, 'utf8'))), null, 2));
  // The YAML is the bundled JSON written again by the same bundler, so both hold the same document.
  run('redocly', [
    'bundle',
    bundled,
    '--config',
    'redocly.yaml',
    '--lint-config',
    'off',
    '-o',
    join(outDir, 'openapi.yaml'),
  ]);
  // openapi-typescript reads redocly.yaml's `apis` instead of its argument when it finds one in its cwd,
  // so it runs inside the temp dir, where there is none.
  // Defaults do not make a field required: the same schemas describe requests, where defaulted fields may be absent.
  run('openapi-typescript', [bundled, '--default-non-nullable=false', '-o', join(outDir, 'api.d.ts')], outDir);
  // --inlineBundle embeds Redoc itself; without it the page loads its script from Redocly's CDN.
  run('redocly', [
    'build-docs',
    bundled,
    '--config',
    'redocly.yaml',
    '--lint-config',
    'off',
    '--inlineBundle',
    '-o',
    join(outDir, 'docs', 'index.html'),
  ]);
  makeSelfContained(join(outDir, 'docs', 'index.html'));
}

// Redoc's footer still fetches its logo from a CDN after the page loads; an empty inline SVG takes its place.
const emptySvg = 'data:image/svg+xml,%3Csvg xmlns=%22http://www.w3.org/2000/svg%22/%3E';

/** Inlines the CDN logo and fails if a script or stylesheet would still be loaded from the network. */
function makeSelfContained(htmlFile) {
  const html = readFileSync(htmlFile, 'utf8').replace(/https:\/\/cdn\.redoc\.ly\/[\w./-]+\.svg/g, emptySvg);
  // Requests made later by Redoc's own code are caught by test/docs/docs-page.test.ts.
  const external = html.match(/<(?:script|link)\b[^>]*\b(?:src|href)=["']?(?:https?:)?\/\/[^\s"'>]+/i);
  if (external) throw new Error(`${htmlFile} would load from the network: ${external[0]}`);
  writeFileSync(htmlFile, html);
}

/** Lists the files under `dir` as sorted paths relative to it. */
function listFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

/** Compares two trees byte for byte and returns one line per drifting file. */
function compare(expectedDir, actualDir) {
  const expected = listFiles(expectedDir);
  const actual = listFiles(actualDir);
  const drift = [];
  for (const file of expected) {
    if (!actual.includes(file)) drift.push(`missing     generated/${file}`);
    else if (!readFileSync(join(expectedDir, file)).equals(readFileSync(join(actualDir, file)))) {
      drift.push(`outdated    generated/${file}`);
    }
  }
  for (const file of actual) if (!expected.includes(file)) drift.push(`unexpected  generated/${file}`);
  return drift;
}

const tempDir = mkdtempSync(join(tmpdir(), 'assay-generated-'));
try {
  build(tempDir);
  if (check) {
    const drift = compare(tempDir, generatedDir);
    if (!existsSync(clientTypesFile)) drift.push('missing     client/src/generated/api.ts');
    else if (readFileSync(clientTypesFile, 'utf8') !== clientTypes(tempDir)) {
      drift.push('outdated    client/src/generated/api.ts');
    }
    if (drift.length > 0) {
      console.error(`generated/ or the client's types do not match openapi/ (${drift.length} file(s)):`);
      for (const line of drift) console.error(`  ${line}`);
      console.error('Run `npm run generate` and commit generated/ and client/src/generated/.');
      process.exitCode = 1;
    } else {
      console.log(`generated/ is up to date (${listFiles(tempDir).length} files), and client/src/generated/api.ts.`);
    }
  } else {
    // Replace the whole directory so files of removed outputs do not linger.
    rmSync(generatedDir, { recursive: true, force: true });
    cpSync(tempDir, generatedDir, { recursive: true });
    mkdirSync(dirname(clientTypesFile), { recursive: true });
    writeFileSync(clientTypesFile, clientTypes(tempDir));
    console.log(
      `Wrote ${listFiles(generatedDir)
        .map((file) => `generated/${file}`)
        .join(', ')} and client/src/generated/api.ts.`,
    );
  }
} finally {
  rmSync(tempDir, { recursive: true, force: true });
}
