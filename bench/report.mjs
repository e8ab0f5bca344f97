// Small helpers the queue and kernel benchmarks share: settings from the environment, table cells,
// progress lines on stderr, and silencing the service's stdout (its first start prints the token).

/** A positive integer setting, such as BENCH_QUEUE_JOBS. */
export function intEnv(name, fallback) {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

/** A comma-separated setting, such as BENCH_QUEUE_STORES=pglite,postgres. */
export function listEnv(name, fallback) {
  return (process.env[name] ?? fallback)
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}

/** A number for a table cell, `-` when there is none. */
export function fixed(value, digits) {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

export function pad(text, width, left) {
  return left ? text.padEnd(width) : text.padStart(width);
}

/** The load averages, for the report's header. */
export function loadText(load) {
  return load.map((n) => n.toFixed(2)).join(' ');
}

/** A function printing `[tag] message` progress lines on stderr, away from the report. */
export function progressOf(tag) {
  return (message) => process.stderr.write(`[${tag}] ${message}\n`);
}

/** Runs `work` with this process's stdout swallowed. */
export async function quietStdout(work) {
  const write = process.stdout.write;
  process.stdout.write = (_chunk, encoding, callback) => {
    const cb = typeof encoding === 'function' ? encoding : callback;
    if (cb) cb();
    return true;
  };
  try {
    return await work();
  } finally {
    process.stdout.write = write;
  }
}
