/**
 * Values built once per workflow isolate and shared by every workflow it runs afterwards.
 *
 * The SDK evaluates a bundle's workflow modules again for every new workflow (its reusable V8 context keeps module
 * state per workflow), so whatever a module builds at its top level, every workflow builds again. This module is
 * preloaded instead (`bundlerOptions.preloadModules`, worker/bundler-options.ts): evaluated once per workflow thread,
 * before any workflow, so its map outlives each workflow. The SDK freezes what preloaded modules export; the map is not
 * exported, and stays writable.
 *
 * Only for values that are pure and never mutated by their users: validators, tables. Where this module is not
 * preloaded (a bundle built without the option, `reuseV8Context: false`), each workflow evaluates it and builds its own
 * values: slower, the same results.
 */
const values = new Map<string, unknown>();

/** The value built under `key` in this isolate, built now by `build` if it is the first to ask. */
export function sharedPerIsolate<T>(key: string, build: () => T): T {
  if (values.has(key)) return values.get(key) as T;
  const value = build();
  values.set(key, value);
  return value;
}
