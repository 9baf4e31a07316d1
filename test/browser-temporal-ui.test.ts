/**
 * The Temporal Web UI in a real browser (Debian's Chromium under playwright-core): an operator finds a waiting
 * approval by its status (the CibaApprovalStatus search attribute) and reads, decrypted through the codec server,
 * the summary, details and current details the approval gives itself. The expected text comes from what the
 * approval reports through the Temporal client (describe(), the workflow metadata query), so the test checks that
 * the UI shows the same, whatever the wording. Screenshot: docs/screenshots/temporal-ui-*.png.
 *
 * Runs its own dev server with the UI on (the shared test server is headless) and `--ui-codec-endpoint` pointing at
 * a codec server with the test stack's payload key, as `npm start` does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { Browser, BrowserContext, Page } from 'playwright-core';

import { temporalSettings } from '../common/config';
import { ENCRYPTED_ENCODING } from '../common/payload-codec';
import { paymentAuthorizationDetails } from '../common/payment';
import { launchChromium } from '../devstack/chromium';
import { startCodecServer, type RunningCodecServer } from '../devstack/codec-server';
import { getFreePort } from '../devstack/ports';
import { startTemporalDevServer, type RunningTemporal } from '../devstack/temporal-server';
import { REPO_ROOT } from '../devstack/ts-process';
import { isPending, waitForApprovalState } from './support/approvals';
import { stackEnv, startProvider, TEST_LOG_DIR, type StartedProvider } from './support/stack';
import { HANG_DETECTOR_MS, waitUntil } from './support/wait';
import { startWorkerWithClients, stopWorkerWithClients, type WorkerWithClients } from './support/worker-fixture';

jest.setTimeout(4 * HANG_DETECTOR_MS);

const SCREENSHOTS = path.join(REPO_ROOT, 'docs', 'screenshots');

let browser: Browser | undefined;
let context: BrowserContext;
let codecServer: RunningCodecServer | undefined;
let temporal: RunningTemporal | undefined;
let provider: StartedProvider | undefined;
const running: Partial<WorkerWithClients> = {};
let uiUrl: string;

beforeAll(async () => {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await launchChromium({ timeoutMs: HANG_DETECTOR_MS });
  context = await browser.newContext({
    viewport: { width: 1400, height: 1000 },
    deviceScaleFactor: 1,
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  context.setDefaultTimeout(HANG_DETECTOR_MS);

  // This dev server is the test's own: a fixed task queue keeps the screenshots the same from run to run.
  // The client puts the summary without the user in CibaSummary too (opt-in): the list's column for it.
  const env = stackEnv('browser-ui', { CIBA_SUMMARY_SEARCH_ATTRIBUTE: 'true' });
  const uiPort = await getFreePort();
  uiUrl = `http://127.0.0.1:${uiPort}`;
  codecServer = await startCodecServer(temporalSettings(env).payloadCodec, {
    auth: { mode: 'local' },
    uiOrigins: [uiUrl],
  });
  temporal = await startTemporalDevServer({
    port: 0,
    uiPort,
    dbFile: false,
    extraArgs: ['--ui-codec-endpoint', codecServer.url],
    logFile: path.join(TEST_LOG_DIR, `temporal-ui-${Date.now()}.log`),
    repoRoot: REPO_ROOT,
  });
  // A polling interval long enough that the current details (next poll, last answer) stay the same for a while.
  provider = await startProvider({ IDP_POLL_INTERVAL: '10' });
  Object.assign(env, { TEMPORAL_ADDRESS: temporal.address, CIBA_ISSUER: provider.issuer });
  Object.assign(running, await startWorkerWithClients(env, 'worker-browser-ui'));
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await stopWorkerWithClients(running);
  await provider?.kill('SIGTERM');
  await temporal?.stop();
  await codecServer?.stop();
});

/**
 * The text a Markdown value (summary, details, current details) shows once rendered, as fragments: each line, each
 * table cell, without emphasis, list markers or backslash escapes. The UI renders Markdown; the test compares text.
 */
function markdownFragments(markdown: string): string[] {
  const fragments: string[] = [];
  for (const raw of markdown.split('\n')) {
    const line = raw.trim();
    if (!line || /^\|?\s*:?-{3,}/.test(line)) continue; // blank, or a table's separator row
    const cells = line.startsWith('|') ? line.split(/(?<!\\)\|/).filter((cell) => cell.trim()) : [line];
    for (const cell of cells) {
      const text = cell
        .replace(/\*\*|__/g, '')
        .trim()
        .replace(/^(?:[-*+]|\d+\.)\s+/, '')
        .replace(/\\([\\`*_{}[\]()#+\-.!|~<>])/g, '$1');
      if (text.trim()) fragments.push(normalise(text));
    }
  }
  return fragments;
}

const normalise = (text: string) => text.replace(/\s+/g, ' ').trim();

/** The fragments of `markdown` that `shown` (the UI's rendered text) lacks. */
function missing(markdown: string, shown: string): string[] {
  const text = normalise(shown);
  const fragments = markdownFragments(markdown);
  if (!fragments.length) throw new Error(`nothing to compare in ${JSON.stringify(markdown)}`);
  return fragments.filter((fragment) => !text.includes(fragment));
}

/** The UI renders each user-metadata value in an iframe of its own. */
async function metadataText(page: Page, id: 'summary' | 'details' | 'current-details'): Promise<string> {
  const body = page.frameLocator(`#user-metadata-${id}`).locator('body');
  await body.waitFor({ state: 'attached' });
  return body.innerText();
}

/** The approval's current details now, as the workflow answers the SDK's metadata query. */
async function currentDetails(workflowId: string): Promise<string> {
  const metadata = await running
    .temporal!.workflow.getHandle(workflowId)
    .query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return metadata.currentDetails ?? '';
}

/** Waits until the UI shows the current details the workflow reports at that moment (pressing R for freshness). */
async function waitForCurrentDetailsShown(page: Page, workflowId: string, accept: (details: string) => boolean) {
  return waitUntil(
    async () => {
      const expected = await currentDetails(workflowId);
      if (!accept(expected)) return false;
      const shown = await metadataText(page, 'current-details');
      if (missing(expected, shown).length === 0) return { expected, shown };
      await page.keyboard.press('r'); // the UI's own refresh of the current details
      return false;
    },
    'the UI shows the current details the workflow reports',
    HANG_DETECTOR_MS,
    1000,
  );
}

test('an operator finds a waiting approval by CibaApprovalStatus and reads its summary and current details, decrypted', async () => {
  const payment = { amount: '50.00', currency: 'USD', creditorName: 'ExampleCorp' };
  // A fixed key (this dev server is the test's own, in memory): the same workflow ID in every screenshot.
  const { workflowId } = await running.approvals!.start(
    {
      loginHint: 'alice@example.com',
      bindingMessage: 'Pay 50.00 USD to ExampleCorp',
      authorizationDetails: paymentAuthorizationDetails(payment),
    },
    { key: 'order-4711' },
  );
  await waitForApprovalState(running.temporal!, workflowId, isPending);
  // What the approval says about itself, decoded by this client's codec.
  const handle = running.temporal!.workflow.getHandle(workflowId);
  const description = await handle.describe();
  const summary = await description.staticSummary();
  const details = await description.staticDetails();
  expect(summary).toEqual(expect.any(String));
  expect(details).toEqual(expect.any(String));
  // Encrypted on the server: what the UI shows below went through the codec server.
  const stored = description.raw.executionConfig?.userMetadata;
  for (const payload of [stored?.summary, stored?.details]) {
    expect(Buffer.from(payload?.metadata?.encoding ?? []).toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(payload?.data ?? []).toString('latin1')).not.toContain(payment.creditorName);
  }
  // Visibility is eventually consistent: wait until a list by status finds it, as the UI's list will.
  const byStatus = `CibaApprovalStatus="pending"`;
  await waitUntil(async () => {
    for await (const listed of running.temporal!.workflow.list({ query: `${byStatus} AND WorkflowId="${workflowId}"` }))
      return listed.workflowId === workflowId;
    return false;
  }, 'the approval is listed as pending');

  // The workflows list, filtered by the approval's status.
  const page = await context.newPage();
  await page.goto(`${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(byStatus)}`);
  const link = page.getByRole('link', { name: workflowId, exact: true });
  await link.waitFor();
  // The list's summary: the CibaSummary column, added once as an operator would (the UI keeps its columns).
  await page.getByRole('button', { name: 'Configure Columns' }).click();
  await page.getByRole('button', { name: 'Add CibaSummary column' }).click();
  // Next to the workflow ID (past Run ID, Type, Start, End), then close the drawer.
  for (let i = 0; i < 4; i++) await page.getByRole('button', { name: 'Move CibaSummary column up' }).click();
  await page.getByRole('button', { name: 'Close Workflows Table configuration' }).click();
  const listSummary = (await description.searchAttributes).CibaSummary?.[0];
  expect(listSummary).toBe('Pay 50.00 USD to ExampleCorp');
  await page.getByRole('row').filter({ hasText: workflowId }).getByText(String(listSummary), { exact: true }).waitFor();
  await page.screenshot({ path: path.join(SCREENSHOTS, 'temporal-ui-pending-list.png'), animations: 'disabled' });
  await link.click();
  await page.waitForURL((url) => url.pathname.includes(`/workflows/${workflowId}/`));

  // Its page: summary, details and current details (User Metadata), the same text as the client reads.
  await page.getByRole('tab', { name: 'User Metadata' }).click();
  await waitUntil(
    async () => missing(summary!, await metadataText(page, 'summary')).length === 0,
    'the UI shows the summary',
  );
  expect(normalise(await metadataText(page, 'summary'))).toBe(normalise(summary!));
  expect(missing(details!, await metadataText(page, 'details'))).toEqual([]);
  const first = await waitForCurrentDetailsShown(page, workflowId, () => true);
  expect(missing(first.expected, first.shown)).toEqual([]);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'temporal-ui-approval.png'), animations: 'disabled' });

  // Kept up to date while it waits: after the next poll the workflow reports new current details, and so does the UI.
  const later = await waitForCurrentDetailsShown(page, workflowId, (now) => now !== first.expected);
  expect(later.expected).not.toBe(first.expected);
  expect(missing(later.expected, later.shown)).toEqual([]);

  await running.approvals!.cancel(workflowId);
  await page.close();
});
