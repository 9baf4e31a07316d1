/**
 * How an approval reads in the Temporal UI: the list's summary, the details table, and the current details (pure
 * functions; test/approval.test.ts checks them on a real run, decoded as the UI decodes them).
 */
import { approvalDetails, approvalSummary, listSummary, maskedUser } from '../common/approval-summary';
import type { ApprovalState } from '../common/approval';
import { currentDetails } from '../workflows/current-details';

const payment = {
  type: 'payment_initiation',
  instructedAmount: { currency: 'USD', amount: '50.00' },
  creditorName: 'ExampleCorp',
};

describe('the summary in the list', () => {
  it('says what is asked in words, and who only in part', () => {
    expect(
      approvalSummary({ loginHint: 'alice@example.com', bindingMessage: 'x', authorizationDetails: [payment] }),
    ).toBe('Pay 50.00 USD to ExampleCorp · alice@…');
    expect(
      approvalSummary({
        loginHint: 'alice@example.com',
        bindingMessage: 'x',
        authorizationDetails: [payment, { type: 'account_information', actions: ['read'] }],
      }),
    ).toBe('Pay 50.00 USD to ExampleCorp (+1 more) · alice@…');
    expect(approvalSummary({ loginHint: 'bob', bindingMessage: 'Deploy to prod' })).toBe('Deploy to prod · b…');
  });

  it('shows no more of the user than a hint of who', () => {
    expect(maskedUser({ bindingMessage: 'x', loginHint: 'user-123456' })).toBe('user…');
    expect(maskedUser({ bindingMessage: 'x', loginHint: '{"format":"iss_sub","iss":"https://i","sub":"s"}' })).toBe(
      'user by issuer and subject',
    );
    expect(maskedUser({ bindingMessage: 'x', loginHintToken: 'secret-token' })).toBe('user by login_hint_token');
    expect(maskedUser({ bindingMessage: 'x', idTokenHint: 'eyJ...' })).toBe('user by id_token_hint');
  });

  it('never throws, whatever an agent passes before validation', () => {
    const odd = { bindingMessage: 'x', authorizationDetails: 'nope' } as unknown as Parameters<
      typeof approvalSummary
    >[0];
    expect(approvalSummary(odd)).toBe('x · no user');
    expect(approvalDetails(odd)).toBe('**x** · no user');
  });

  it('is at most 200 bytes of UTF-8 (the UI limit), cut at a whole character', () => {
    const summary = approvalSummary({ loginHint: 'a@b', bindingMessage: 'Überweisung ✓ '.repeat(30) });
    expect(Buffer.byteLength(summary)).toBeLessThanOrEqual(200);
    expect(Buffer.byteLength(summary)).toBeGreaterThan(195);
    expect(summary.endsWith('…')).toBe(true);
    expect(listSummary({ loginHint: 'alice@example.com', bindingMessage: 'x', authorizationDetails: [payment] })).toBe(
      'Pay 50.00 USD to ExampleCorp',
    );
  });
});

describe('the details table', () => {
  it('lists every member of every entry, any type, as text', () => {
    const details = approvalDetails({
      loginHint: 'alice@example.com',
      bindingMessage: 'Pay 50.00 USD to ExampleCorp',
      authorizationDetails: [payment, { type: 'custom_thing', limits: { max: 3 }, tags: ['a|b', '<script>'] }],
    });
    expect(details).toContain('**1. Pay 50.00 USD to ExampleCorp**');
    expect(details).toContain('| instructedAmount.amount | 50.00 |');
    expect(details).toContain('**2. custom\\_thing**');
    expect(details).toContain('| limits.max | 3 |');
    // Client-sent text is escaped: no table break, no markup.
    expect(details).toContain('| tags\\[0\\] | a\\|b |');
    expect(details).toContain('| tags\\[1\\] | \\<script\\> |');
  });
});

describe('the current details', () => {
  const waiting: ApprovalState = {
    status: 'pending',
    bindingMessage: 'Pay 50.00 USD to ExampleCorp',
    approvalDeadline: '2026-11-27T10:00:00.000Z',
    askCount: 2,
    asks: [
      { number: 1, reason: 'first', askedAt: '2026-11-26T10:00:00.000Z', authReqId: 'secret-1', outcome: 'expired' },
      {
        number: 2,
        reason: 'expired',
        askedAt: '2026-11-26T10:05:00.000Z',
        authReqId: 'secret-2',
        expiresAt: '2026-11-26T10:10:00.000Z',
      },
    ],
    continuedAsNew: 0,
    authReqId: 'secret-2',
    polls: 7,
    slowDowns: 1,
    lastPollAt: '2026-11-26T10:06:00.000Z',
    lastPollOutcome: 'authorization_pending',
  };

  it('tell which ask and why, the next poll, the expiry and the last answer, without the auth_req_id', () => {
    const text = currentDetails(waiting, {
      nextPollAtMs: Date.parse('2026-11-26T10:06:10Z'),
      pollingMode: 'timer',
      intervalSeconds: 10,
      maxAsks: 3,
    });
    expect(text.split('\n')).toEqual([
      '**pending**: waiting for the user to decide',
      '',
      '- ask 2 of at most 3 (sent again: the previous ask expired undecided), sent 2026-11-26 10:05:00 UTC',
      '- the ask expires 2026-11-26 10:10:00 UTC',
      '- next poll 2026-11-26 10:06:10 UTC (every 10 s)',
      '- last provider answer: authorization_pending, 2026-11-26 10:06:00 UTC',
      '- polls 7, slow_downs 1; approval deadline 2026-11-27 10:00:00 UTC',
    ]);
    expect(text).not.toContain('secret');
  });

  it('in compact mode point to the polling activity, and at the end say how it ended', () => {
    expect(currentDetails(waiting, { pollingMode: 'compact', intervalSeconds: 5, maxAsks: 3 })).toContain(
      'polled inside the worker every 5 s (compact mode)',
    );
    const denied = currentDetails(
      { ...waiting, status: 'denied', failure: { type: 'ApprovalDenied', message: 'the user denied the request' } },
      { maxAsks: 3 },
    );
    expect(denied.split('\n')[0]).toBe('**denied**: the user denied the request');
    expect(denied).not.toContain('next poll');
  });
});
