/**
 * Summarises `node --cpu-prof` profiles (bench/start-costs.ts with CIBA_BENCH_PROFILE_DIR): per thread, the total
 * sampled time and the functions with the most inclusive time (each sample counted once per function on its stack),
 * and the share of a few frames that name where a workflow's start goes (docs/bench-start-costs.md).
 *
 *   node --import tsx bench/cpu-profile-summary.ts DIR [--top 25] [--per 200]
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Frames whose inclusive time says where a workflow's start goes. */
const NAMED: Record<string, (frame: ProfileNode['callFrame']) => boolean> = {
  'promise hook (stack trace per promise)': (f) => f.functionName === 'init' && f.url.includes('vm-shared'),
  'workflow modules evaluated (importWorkflows)': (f) => f.functionName === 'importWorkflows',
  'interceptor modules evaluated (importInterceptors)': (f) => f.functionName === 'importInterceptors',
  'zod module code (evaluated or run)': (f) => /\/zod\//.test(f.url) || /node_modules\/zod\//.test(f.functionName),
  'request validation (validate)': (f) => f.functionName === 'validate',
  'activation (activate)': (f) => f.functionName === 'activate',
  'garbage collector': (f) => f.functionName === '(garbage collector)',
};

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, per: { type: 'string' } },
});
const dir = positionals[0];
if (!dir) throw new Error('usage: cpu-profile-summary.ts DIR [--top 25] [--per N]');
const per = values.per === undefined ? undefined : Number(values.per);

for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
  const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (n: ProfileNode) =>
    `${n.callFrame.functionName || '(anonymous)'} ${path.basename(n.callFrame.url) || ''}:${n.callFrame.lineNumber + 1}`;
  const inclusive = new Map<string, number>();
  const named = new Map<string, number>();
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const leaf = byId.get(id)!;
    if (leaf.callFrame.functionName === '(idle)') {
      idle += dt;
      return;
    }
    total += dt;
    const seen = new Set<string>();
    const seenNamed = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at)!;
      const k = key(node);
      if (!seen.has(k)) {
        seen.add(k);
        inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
      }
      for (const [name, matches] of Object.entries(NAMED)) {
        if (!seenNamed.has(name) && matches(node.callFrame)) {
          seenNamed.add(name);
          named.set(name, (named.get(name) ?? 0) + dt);
        }
      }
    }
  });
  const ms = (us: number) => `${(us / 1000).toFixed(0)} ms`;
  const pct = (us: number) => `${((100 * us) / total).toFixed(1)} %`;
  const perStart = (us: number) => (per ? `, ${(us / 1000 / per).toFixed(2)} ms per start` : '');
  console.log(`\n${file}: ${ms(total)} busy, ${ms(idle)} idle${perStart(total)}`);
  for (const [name, us] of named) console.log(`  ${pct(us).padStart(7)}  ${name} (${ms(us)}${perStart(us)})`);
  console.log('  top functions by inclusive time:');
  for (const [k, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
    console.log(`  ${pct(us).padStart(7)}  ${k}`);
  }
}
