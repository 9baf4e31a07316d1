/**
 * The exit codes of `ciba` are defined once (ExitCode, FAILURE_OUTCOMES in common/outcomes.ts): the README's exit-code
 * table (between `<!-- exit-codes -->` and `<!-- /exit-codes -->`) and `ciba --help` are renderings of it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { main } from '../client/cli';
import { REPO_ROOT } from '../devstack/ts-process';
import { ExitCode, exitCodeMarkdown, exitCodeRows, FAILURE_OUTCOMES } from '../common/outcomes';

const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');

it('the README exit-code table is exitCodeMarkdown()', () => {
  const block = /<!-- exit-codes -->\n([\s\S]*?)\n<!-- \/exit-codes -->/.exec(readme)?.[1];
  if (block === undefined) {
    throw new Error(
      `README.md has no <!-- exit-codes --> ... <!-- /exit-codes --> block; it must hold:\n${exitCodeMarkdown()}`,
    );
  }
  expect(block.trim()).toBe(exitCodeMarkdown());
});

it('every exit code has a row, and every failure type is in the row of its exit code', () => {
  const rows = exitCodeRows();
  expect(rows.map((row) => row.code)).toEqual(Object.values(ExitCode));
  for (const [type, outcome] of Object.entries(FAILURE_OUTCOMES)) {
    expect(rows.filter((row) => row.outcomes.includes(type)).map((row) => row.code)).toEqual([outcome.exitCode]);
  }
  expect(rows.find((row) => row.code === ExitCode.Ok)?.outcomes).toEqual(['tokens']);
  expect(exitCodeMarkdown().split('\n')).toHaveLength(2 + rows.length);
});

it('ciba --help prints the exit-code table', async () => {
  const lines: string[] = [];
  expect(await main(['--help'], (line) => lines.push(line))).toBe(ExitCode.Ok);
  const help = lines.join('\n');
  for (const row of exitCodeRows()) {
    expect(help).toContain(`  ${row.code}  ${row.meaning}${row.outcomes.length ? `: ${row.outcomes.join(', ')}` : ''}`);
  }
});
