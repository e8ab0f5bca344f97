import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** What `assay login` stores: where the service is, the key, and the tenant and project it works in. */
export interface Settings {
  url: string;
  token: string;
  tenantId: string;
  projectId: string;
}

/** The settings file: `$XDG_CONFIG_HOME/assay/config.json`, else `~/.config/assay/config.json`. */
export function settingsPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : undefined;
  return path.join(base ?? path.join(os.homedir(), '.config'), 'assay', 'config.json');
}

/** Reads the settings file; undefined when there is none. A file that is not ours is an error, not a silent reset. */
export function readSettings(file = settingsPath()): Partial<Settings> | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`${file} is not a JSON object`);
  const out: Partial<Settings> = {};
  for (const key of ['url', 'token', 'tenantId', 'projectId'] as const) {
    const v = (value as Record<string, unknown>)[key];
    if (typeof v === 'string') out[key] = v;
  }
  return out;
}

/**
 * Writes the settings with mode 0600 (the directory 0700). The file is written beside the old one
 * and renamed over it, so a reader never sees half a file and the key is never world-readable,
 * not even for a moment.
 */
export function writeSettings(settings: Settings, file = settingsPath()): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(temp, 'w', 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(settings, null, 2) + '\n');
    fs.fchmodSync(fd, 0o600); // the mode given to open is reduced by the umask; this is not
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temp, file);
}
