/** The Node built-ins the file helpers load. */
export type NodeBuiltin = 'node:fs' | 'node:path' | 'node:stream' | 'node:crypto';

/**
 * Loads a Node built-in when a file helper runs (an upload from a path, a download to disk), never
 * when the client loads. The specifier is a variable and marked for bundlers, so that a browser
 * build neither bundles nor refuses it.
 */
export function nodeModule<T>(name: NodeBuiltin): Promise<T> {
  return import(/* webpackIgnore: true */ /* @vite-ignore */ name) as Promise<T>;
}
