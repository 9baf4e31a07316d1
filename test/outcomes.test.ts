/**
 * The outcome table (common/outcomes.ts) is the one definition of failure types, status words and exit codes: the
 * README's outcome table, its list of exit codes and the CLI's help must say the same.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { main } from '../client/cli';
import { REPO_ROOT } from '../devstack/ts-process';
import { ApprovalFailureType, ExitCode, exitCodeList, FAILURE_OUTCOMES, failureOutcome } from '../common/outcomes';

const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');

interface ReadmeRow {
  outcome: string;
  type: string | undefined;
  status: string | undefined;
  exitCode: number;
}

/** The rows of the table under "## Outcomes": outcome | when | failure type | status | exit code. */
function readmeOutcomeRows(): ReadmeRow[] {
  const section = readme.split(/^## Outcomes$/m)[1]?.split(/^## /m)[0] ?? '';
  const lines = section.split('\n').filter((line) => line.startsWith('|'));
  const header = lines[0]?.split('|').map((cell) => cell.trim());
  expect(header).toEqual(['', 'outcome', 'when', 'failure type', 'status', 'exit code', '']);
  const unquote = (cell: string) => (cell === '—' ? undefined : (/^`([^`]+)`$/.exec(cell)?.[1] ?? cell));
  return lines.slice(2).map((line) => {
    const cells = line.split('|').map((cell) => cell.trim());
    const [outcome, type, status, exitCode] = [
      cells[1]!,
      cells[cells.length - 4]!,
      cells[cells.length - 3]!,
      cells[cells.length - 2]!,
    ];
    return { outcome, type: unquote(type), status: unquote(status), exitCode: Number(exitCode) };
  });
}

it('has a row for every failure type, and nothing else but the tokens', () => {
  const rows = readmeOutcomeRows();
  expect(
    rows
      .filter((row) => row.type !== undefined)
      .map((row) => row.type)
      .sort(),
  ).toEqual(Object.keys(FAILURE_OUTCOMES).sort());
  expect(rows.filter((row) => row.type === undefined)).toEqual([
    { outcome: 'tokens', type: undefined, status: 'approved', exitCode: ExitCode.Ok },
  ]);
});

it.each(Object.entries(FAILURE_OUTCOMES))('the README row of %s has its status word and exit code', (type, outcome) => {
  const row = readmeOutcomeRows().find((candidate) => candidate.type === type);
  expect({ status: row?.status, exitCode: row?.exitCode }).toEqual({
    status: 'status' in outcome ? outcome.status : undefined,
    exitCode: outcome.exitCode,
  });
});

it('the README lists the exit codes of the table', () => {
  expect(readme.replace(/\s+/g, ' ')).toContain(`Exit codes: ${exitCodeList()}.`);
  expect(exitCodeList()).toBe(
    '0 approved (status, cancel: done), 1 other failure, 2 bad usage or a request refused before it started, 3 denied, 4 expired, ' +
      '5 cancel: the approval had already ended, nothing changed (the HTTP API answers 409)',
  );
});

it('ciba --help lists the same exit codes', async () => {
  const lines: string[] = [];
  expect(await main(['--help'], (line) => lines.push(line))).toBe(ExitCode.Ok);
  expect(lines.join('\n')).toContain(`Exit codes: ${exitCodeList()}.`);
});

it('names every failure type once in ApprovalFailureType, and the exit codes of denied and expired', () => {
  expect(Object.values(ApprovalFailureType).sort()).toEqual(Object.keys(FAILURE_OUTCOMES).sort());
  expect(new Set(Object.values(ApprovalFailureType)).size).toBe(Object.keys(FAILURE_OUTCOMES).length);
  expect(failureOutcome('ApprovalDenied')?.exitCode).toBe(ExitCode.Denied);
  expect(failureOutcome('ApprovalExpired')?.exitCode).toBe(ExitCode.Expired);
  expect(failureOutcome('toString')).toBeUndefined();
  expect(failureOutcome('SomethingNew')).toBeUndefined();
});
