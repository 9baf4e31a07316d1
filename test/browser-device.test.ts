/**
 * The local provider's device page in a real browser (Debian's Chromium under playwright-core), against the real
 * stack: an approval waits in Temporal while the user reads the request on the page and clicks Approve or Deny.
 * Also: every member of a known type beside its sentence (nothing the token grants is hidden; mixed scripts flagged),
 * text with invisible or direction-changing characters refused before it can reach the page, an authorization_details
 * type the page does not know (a key/value table, never JSON; client-sent markup stays text), a request decided in
 * another tab, and an expired one. Screenshots go to docs/screenshots/device-*.png.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';

import { ApprovalFailedError, InvalidApprovalRequestError, newStartSeal } from '../client/approvals';
import type { ApprovalResult, AuthorizationDetail } from '../common/approval';
import { paymentAuthorizationDetails, paymentBindingMessage, type Payment } from '../common/payment';
import { launchChromium } from '../devstack/chromium';
import { REPO_ROOT } from '../devstack/ts-process';
import { paymentAgent } from '../workflows/payment-agent';
import { isPending, jwtPayload, waitForApprovalState } from './support/approvals';
import {
  agentQueues,
  CLIENT_ID,
  CLIENT_SECRET,
  providerLog,
  uniqueBindingMessage,
  WITH_SAMPLE_AGENT,
} from './support/stack';
import { HANG_DETECTOR_MS } from './support/wait';
import { useProviderFixture } from './support/worker-fixture';

// Above the hang detectors of the waits a test makes in a row.
jest.setTimeout(4 * HANG_DETECTOR_MS);

const SCREENSHOTS = path.join(REPO_ROOT, 'docs', 'screenshots');
/** A type the provider accepts (IDP_EXTRA_AUTHORIZATION_DETAILS_TYPES) and the device page has no sentence for. */
const TRIP_TYPE = 'urn:example:trip-booking';

const fixture = useProviderFixture(
  'browser-device',
  { IDP_EXTRA_AUTHORIZATION_DETAILS_TYPES: TRIP_TYPE },
  WITH_SAMPLE_AGENT,
);

let browser: Browser | undefined;
let context: BrowserContext;

beforeAll(async () => {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  // Installs Debian's chromium first when it is missing (devstack/chromium.ts).
  browser = await launchChromium({ timeoutMs: HANG_DETECTOR_MS });
  // Fixed viewport, locale and time zone: screenshots that only change when the page does.
  context = await browser.newContext({
    viewport: { width: 800, height: 600 },
    deviceScaleFactor: 1,
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  context.setDefaultTimeout(HANG_DETECTOR_MS);
});

afterAll(async () => {
  await context?.close();
  await browser?.close();
});

/** The device page filtered to one user's requests. */
async function openDevice(user: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${fixture.provider.issuer}/device?user=${encodeURIComponent(user)}`);
  return page;
}

/** The card of one request (auth_req_id is base64url: safe inside the quotes). */
function card(page: Page, authReqId: string): Locator {
  return page.locator(`.card[data-auth-req-id="${authReqId}"]`);
}

/** Waits until the card says what became of the request (`.state`, no buttons) and returns that text. */
async function settledState(cardOf: Locator, text: string): Promise<string> {
  const state = cardOf.locator('.state', { hasText: text });
  await state.waitFor({ state: 'visible' });
  expect(await cardOf.locator('button').count()).toBe(0);
  return state.innerText();
}

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({
    path: path.join(SCREENSHOTS, name),
    fullPage: true,
    animations: 'disabled',
    caret: 'hide',
    // The expiry time changes with every run.
    mask: [page.locator('.expires')],
    maskColor: '#e1e4e8',
  });
}

async function startApproval(
  bindingMessage: string,
  authorizationDetails: AuthorizationDetail[],
  extra: { loginHint?: string; requestedExpiry?: number; maxAsks?: number } = {},
) {
  const { workflowId } = await fixture.approvals.start({
    loginHint: extra.loginHint ?? 'alice@example.com',
    bindingMessage,
    authorizationDetails,
    scope: 'openid payments:write',
    requestedExpiry: extra.requestedExpiry,
    askAgain: { maxAsks: extra.maxAsks ?? 3 },
  });
  const state = await waitForApprovalState(fixture.temporal, workflowId, isPending);
  return { workflowId, authReqId: state.authReqId! };
}

async function approvalFailure(workflowId: string): Promise<ApprovalFailedError> {
  const error = await fixture.approvals.result(workflowId).then(
    () => {
      throw new Error(`expected approval ${workflowId} to fail`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApprovalFailedError);
  return error as ApprovalFailedError;
}

/** Every string in a JSON value (member names aside). */
function stringLeaves(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (value === null || typeof value !== 'object') return [];
  return Object.values(value).flatMap(stringLeaves);
}

/** A backchannel request sent straight to the provider, bypassing our clients and their schema. */
async function bcAuthorizeDirectly(
  form: Record<string, string>,
): Promise<{ status: number; body: Record<string, any> }> {
  const response = await fetch(`${fixture.provider.issuer}/bc-authorize`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ scope: 'openid payments:write', login_hint: 'alice@example.com', ...form }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

// First in the file: its screenshot shows this request alone.
test('a payment with members beyond its sentence: the page shows each one, labelled by its path, and flags mixed scripts', async () => {
  // The incident: the sentence says "Pay 50.00 USD to ExampleCorp"; the token would grant every member.
  const [payment] = paymentAuthorizationDetails({ amount: '50.00', currency: 'USD', creditorName: 'Ex\u0430mpleCorp' });
  const detail = {
    ...payment!,
    actions: ['standing_order_every_day'],
    creditorAccount: { iban: 'XX00ATTACKER0000000001' },
    debtorAccount: { iban: 'DE02120300000000202051', owner: { name: 'Alice Example' } },
  };
  const { workflowId, authReqId } = await startApproval('Pay 50.00 USD to ExampleCorp', [detail]);
  const page = await openDevice('alice@example.com');
  const request = card(page, authReqId);
  await request.waitFor({ state: 'visible' });

  // The sentence first, its creditor flagged: a Cyrillic "а" among Latin letters.
  expect(await request.locator('.line').allInnerTexts()).toEqual(['Pay 50.00 USD to Ex\u0430mpleCorp']);
  expect(await request.locator('div.warning').allInnerTexts()).toEqual([
    '⚠ Creditor name "Ex\u0430mpleCorp" mixes Latin and Cyrillic letters: look-alike letters may differ',
  ]);
  // Then every member the sentence does not say, each labelled by its path (the raw path as the label's title).
  const more = request.locator('.more > table.kv > tbody > tr');
  expect(await more.locator(':scope > th').allInnerTexts()).toEqual([
    'Actions',
    'Creditor account › IBAN',
    'Debtor account › IBAN',
    'Debtor account › Owner › Name',
  ]);
  expect(await more.locator(':scope > th').evaluateAll((ths) => ths.map((th) => th.getAttribute('title')))).toEqual([
    'actions',
    'creditorAccount.iban',
    'debtorAccount.iban',
    'debtorAccount.owner.name',
  ]);
  expect(await more.locator(':scope > td').allTextContents()).toEqual([
    'standing_order_every_day',
    'XX00ATTACKER0000000001',
    'DE02120300000000202051',
    'Alice Example',
  ]);
  expect(await more.locator(':scope > td li').allTextContents()).toEqual(['standing_order_every_day']);
  // Nothing omitted: every value the token would carry is on the card (the type is what the sentence says).
  const text = await request.innerText();
  const { type: _type, ...members } = detail;
  for (const value of stringLeaves(members)) expect(text).toContain(value);
  expect(text).not.toContain('{');
  await screenshot(page, 'device-payment.png');

  // Having seen where the money would go, the user denies.
  await request.getByRole('button', { name: 'Deny' }).click();
  expect(await settledState(request, 'Denied')).toBe('Denied. You denied this request.');
  expect((await approvalFailure(workflowId)).type).toBe('ApprovalDenied');
  await page.close();
});

test('a right-to-left override is refused by our client (naming the field) and by the provider sent it directly; the page never shows it', async () => {
  const page = await openDevice('alice@example.com');
  const [payment] = paymentAuthorizationDetails({ amount: '50.00', currency: 'USD', creditorName: 'ExampleCorp' });
  // Shown as "Examplecorp" (the override reverses what follows it), it is "Exampleproc": another name.
  const reversed = { ...payment!, creditorName: 'Example\u202Eproc' };

  // Our client: a typed error naming the field and the character; nothing reaches the provider.
  const byClient = uniqueBindingMessage('Pay 50.00 USD to ExampleCorp');
  const refused = await fixture.approvals
    .start({ loginHint: 'alice@example.com', bindingMessage: byClient, authorizationDetails: [reversed] })
    .catch((error: unknown) => error);
  expect(refused).toBeInstanceOf(InvalidApprovalRequestError);
  expect((refused as Error).message).toBe(
    'authorizationDetails: authorizationDetails[0].creditorName contains U+202E RIGHT-TO-LEFT OVERRIDE, a bidi ' +
      'control character',
  );
  expect(await providerLog(fixture.provider.issuer, { bindingMessage: byClient })).toEqual([]);

  // The provider, sent the same details or binding message directly: invalid_authorization_details,
  // invalid_binding_message, each naming the character.
  const direct = uniqueBindingMessage('Pay 50.00 USD to ExampleCorp');
  const details = await bcAuthorizeDirectly({
    binding_message: direct,
    authorization_details: JSON.stringify([reversed]),
  });
  expect(details).toEqual({
    status: 400,
    body: {
      error: 'invalid_authorization_details',
      error_description:
        'payment_initiation: creditorName contains U+202E RIGHT-TO-LEFT OVERRIDE, a bidi control character',
    },
  });
  const message = await bcAuthorizeDirectly({ binding_message: 'Pay 50.00 USD to Example\u202Eproc' });
  expect(message).toEqual({
    status: 400,
    body: {
      error: 'invalid_binding_message',
      error_description: 'binding_message contains U+202E RIGHT-TO-LEFT OVERRIDE, a bidi control character',
    },
  });

  // A request sent after them reaches the page; they never do.
  const after = uniqueBindingMessage('After the refused ones');
  const sentinel = await startApproval(
    after,
    paymentAuthorizationDetails({ amount: '1.00', currency: 'EUR', creditorName: 'Initech' }),
  );
  await card(page, sentinel.authReqId).waitFor({ state: 'visible' });
  const shown = await page.locator('#list').innerText();
  for (const absent of [byClient, direct, '\u202E']) expect(shown).not.toContain(absent);
  const kept = (await (
    await fetch(`${fixture.provider.issuer}/device/requests?status=all&user=alice@example.com`)
  ).json()) as Array<{ binding_message: string | null; authorization_details: unknown }>;
  expect(kept.some((item) => item.binding_message === after)).toBe(true);
  expect(kept.some((item) => [byClient, direct].includes(item.binding_message ?? ''))).toBe(false);
  expect(JSON.stringify(kept)).not.toContain('\u202E');
  await fixture.approvals.cancel(sentinel.workflowId);
  await page.close();
});

test('a payment agent waits; the page shows amount, currency and creditor; Approve hands the agent its tokens', async () => {
  const payment: Payment = { amount: '73.25', currency: 'EUR', creditorName: 'Globex Ltd' };
  const workflowId = `browser-approve-${Date.now()}`;
  const agent = await fixture.temporal.workflow.start(paymentAgent, {
    workflowId,
    taskQueue: agentQueues(fixture.env).taskQueue,
    args: [
      {
        approvalTaskQueue: agentQueues(fixture.env).approvalTaskQueue,
        loginHint: 'alice@example.com',
        payment,
        seal: newStartSeal(workflowId),
      },
    ],
  });
  const approvalId = `${workflowId}/approval/payment`;
  const { authReqId } = await waitForApprovalState(fixture.temporal, approvalId, isPending);

  const page = await openDevice('alice@example.com');
  const request = card(page, authReqId!);
  await request.waitFor({ state: 'visible' });
  const text = await request.innerText();
  expect(text).toContain(paymentBindingMessage(payment));
  expect(await request.locator('.line').allInnerTexts()).toEqual(['Pay 73.25 EUR to Globex Ltd']);
  for (const part of ['73.25', 'EUR', 'Globex Ltd']) expect(text).toContain(part);
  expect(text).not.toContain('{');
  // The one member the sentence does not say, beside it; nothing to warn about.
  expect(await request.locator('.more th').allTextContents()).toEqual(['Actions']);
  expect(await request.locator('.more td li').allTextContents()).toEqual(['initiate']);
  expect(await request.locator('.warning').count()).toBe(0);

  await request.getByRole('button', { name: 'Approve' }).click();
  expect(await settledState(request, 'Approved')).toBe('Approved. You approved this request.');

  expect(await agent.result()).toMatchObject({ status: 'executed', paymentId: expect.any(String) });
  const tokens: ApprovalResult = await fixture.temporal.workflow.getHandle(approvalId).result();
  expect(tokens.accessToken).toEqual(expect.any(String));
  expect(tokens.idToken).toEqual(expect.any(String));
  expect(tokens.authorizationDetails).toEqual(paymentAuthorizationDetails(payment));
  expect(jwtPayload(tokens.accessToken).authorization_details).toEqual(paymentAuthorizationDetails(payment));
  await page.close();
});

test('Deny on the page ends the waiting approval ApprovalDenied', async () => {
  const payment: Payment = { amount: '12.00', currency: 'USD', creditorName: 'Initech' };
  const { workflowId, authReqId } = await startApproval(
    uniqueBindingMessage('Pay 12.00 USD to Initech'),
    paymentAuthorizationDetails(payment),
  );
  const page = await openDevice('alice@example.com');
  const request = card(page, authReqId);
  await request.waitFor({ state: 'visible' });
  expect(await request.locator('.line').allInnerTexts()).toEqual(['Pay 12.00 USD to Initech']);

  await request.getByRole('button', { name: 'Deny' }).click();
  expect(await settledState(request, 'Denied')).toBe('Denied. You denied this request.');
  expect((await approvalFailure(workflowId)).type).toBe('ApprovalDenied');
  await page.close();
});

test('an unknown authorization_details type is a key/value table (nested rows and lists), not JSON', async () => {
  const trip = {
    type: TRIP_TYPE,
    traveller: 'Bob Example',
    maxPrice: { amount: '640.00', currency: 'EUR' },
    flights: [
      { from: 'ZRH', to: 'LIS', date: '2026-12-03' },
      { from: 'LIS', to: 'ZRH', date: '2026-12-07' },
    ],
    refundable: false,
    seat_class: 'economy',
  };
  const { workflowId, authReqId } = await startApproval('Book flights ZRH to LIS for Bob', [trip], {
    loginHint: 'bob@example.com',
  });
  const page = await openDevice('bob@example.com');
  const request = card(page, authReqId);
  await request.waitFor({ state: 'visible' });

  const text = await request.innerText();
  expect(text).not.toMatch(/[{}]/);
  expect(text).not.toContain('"');
  expect(await request.locator('.detail-type').innerText()).toBe(`Request of type ${TRIP_TYPE}`);
  // The top-level table: one row per member other than `type`, labels in words, values as text.
  const table = request.locator('.detail > table.kv');
  const rows = table.locator(':scope > tbody > tr');
  expect(await rows.locator(':scope > th').allInnerTexts()).toEqual([
    'Traveller',
    'Max price',
    'Flights',
    'Refundable',
    'Seat class',
  ]);
  const cell = (label: string) => rows.filter({ has: page.locator(`:scope > th`, { hasText: label }) }).locator('td');
  expect(await cell('Traveller').first().innerText()).toBe('Bob Example');
  expect(await cell('Refundable').first().innerText()).toBe('no');
  // A nested object is a nested table; an array is a list of nested tables.
  const price = cell('Max price').first().locator('table.kv tr');
  expect(await price.allInnerTexts()).toEqual(['Amount\t640.00', 'Currency\tEUR']);
  const flights = cell('Flights').first().locator(':scope > ul > li');
  expect(await flights.count()).toBe(2);
  expect(await flights.nth(1).locator('tr').allInnerTexts()).toEqual(['From\tLIS', 'To\tZRH', 'Date\t2026-12-07']);
  await screenshot(page, 'device-unknown-type.png');

  await request.getByRole('button', { name: 'Approve' }).click();
  await settledState(request, 'Approved');
  const tokens = await fixture.approvals.result(workflowId);
  expect(tokens.authorizationDetails).toEqual([trip]);
  await page.close();
});

test('markup in client-sent values stays text', async () => {
  const hostile = {
    type: TRIP_TYPE,
    traveller: '<img src=x onerror="document.title=\'pwned\'">',
    '<b>key</b>': ['<script>document.title="pwned"</script>'],
  };
  const { workflowId, authReqId } = await startApproval(uniqueBindingMessage('Hostile values'), [hostile], {
    loginHint: 'bob@example.com',
  });
  const page = await openDevice('bob@example.com');
  const request = card(page, authReqId);
  await request.waitFor({ state: 'visible' });
  const title = await page.title();
  expect(await request.locator('td').first().innerText()).toBe(hostile.traveller);
  expect(await request.locator('th').nth(1).innerText()).toBe('<b>key</b>');
  expect(await request.locator('li').innerText()).toBe('<script>document.title="pwned"</script>');
  expect(await request.locator('img, script, b').count()).toBe(0);
  expect(title).toBe('Authentication device');
  await fixture.approvals.cancel(workflowId);
  await page.close();
});

/**
 * A tab that stops learning: from the first list that holds the request with this binding message, every refresh
 * answers that list again, with the request still pending. Open it before the request exists.
 */
async function openStaleDevice(user: string, bindingMessage: string): Promise<Page> {
  const page = await context.newPage();
  let frozen: Array<Record<string, unknown>> | undefined;
  await page.route(/\/device\/requests\?/, async (route) => {
    if (!frozen) {
      const items = (await (await route.fetch()).json()) as Array<Record<string, unknown>>;
      if (!items.some((item) => item.binding_message === bindingMessage)) return route.fulfill({ json: items });
      frozen = items.map((item) => (item.binding_message === bindingMessage ? { ...item, status: 'pending' } : item));
    }
    return route.fulfill({ json: frozen });
  });
  await page.goto(`${fixture.provider.issuer}/device?user=${encodeURIComponent(user)}`);
  return page;
}

test('a request decided in another tab: the other tabs say so, and a click on a stale one shows it, not an error', async () => {
  const bindingMessage = uniqueBindingMessage('Pay 9.99 EUR to Hooli');
  const stalePage = await openStaleDevice('alice@example.com', bindingMessage);
  const here = await openDevice('alice@example.com');
  const other = await openDevice('alice@example.com');
  const { workflowId, authReqId } = await startApproval(
    bindingMessage,
    paymentAuthorizationDetails({ amount: '9.99', currency: 'EUR', creditorName: 'Hooli' }),
  );
  for (const page of [stalePage, here, other]) {
    await card(page, authReqId).getByRole('button', { name: 'Approve' }).waitFor();
  }

  await card(here, authReqId).getByRole('button', { name: 'Approve' }).click();
  expect(await settledState(card(here, authReqId), 'Approved')).toBe('Approved. You approved this request.');
  // The other live tab learns it on its next refresh.
  expect(await settledState(card(other, authReqId), 'elsewhere')).toBe('Already approved elsewhere.');
  // The stale tab still offers the buttons; Deny there shows what happened instead of an error.
  await card(stalePage, authReqId).getByRole('button', { name: 'Deny' }).click();
  expect(await settledState(card(stalePage, authReqId), 'elsewhere')).toBe('Already approved elsewhere.');
  expect(await stalePage.title()).toBe('Authentication device');

  // The approval went through as approved: the deny that came second changed nothing.
  const tokens = await fixture.approvals.result(workflowId);
  expect(tokens.accessToken).toEqual(expect.any(String));
  for (const page of [stalePage, here, other]) await page.close();
});

test('an expired request says "expired" and offers no buttons; a click on a stale one shows that too', async () => {
  const bindingMessage = uniqueBindingMessage('Pay 5.00 EUR to Vandelay');
  // Both tabs are open before the request exists: each sees it on a refresh, however slow the machine.
  const stalePage = await openStaleDevice('alice@example.com', bindingMessage);
  const live = await openDevice('alice@example.com');
  const { workflowId, authReqId } = await startApproval(
    bindingMessage,
    paymentAuthorizationDetails({ amount: '5.00', currency: 'EUR', creditorName: 'Vandelay' }),
    { requestedExpiry: 10, maxAsks: 1 },
  );
  await card(stalePage, authReqId).getByRole('button', { name: 'Approve' }).waitFor();

  // Nobody answers: the ask expires at the provider, and with no ask left the approval ends expired.
  expect((await approvalFailure(workflowId)).type).toBe('ApprovalExpired');

  expect(await settledState(card(live, authReqId), 'Expired')).toMatch(/^Expired/);
  await card(stalePage, authReqId).getByRole('button', { name: 'Approve' }).click();
  expect(await settledState(card(stalePage, authReqId), 'Expired')).toMatch(/^Expired/);
  for (const page of [stalePage, live]) await page.close();
});
