/**
 * The request property on the real stack (fast-check, few runs: each is a real approval): every generated request
 * is either refused before anything starts, with a named error, or starts an approval that reaches the user's device
 * or ends in a typed failure. Nothing crashes, nothing hangs.
 */
import fc from 'fast-check';
import { InvalidApprovalRequestError } from '../client/approvals';
import { MIN_REQUESTED_EXPIRY_SECONDS, type ApprovalRequestInput } from '../common/approval';
import { FAILURE_OUTCOMES } from '../common/outcomes';
import { waitForApprovalState } from './support/approvals';
import { HANG_DETECTOR_MS } from './support/wait';
import { useWorkerFixture } from './support/worker-fixture';

// 25 real approvals in a row: a hang detector for all of them, not a speed limit.
jest.setTimeout(6 * HANG_DETECTOR_MS);

const fixture = useWorkerFixture('properties-stack');

const detail = fc.oneof(
  fc.record({ type: fc.constantFrom('payment_initiation', 'account_information', 'unknown_type') }),
  fc.record({
    type: fc.constant('payment_initiation'),
    instructedAmount: fc.record({ currency: fc.constantFrom('USD', 'EUR'), amount: fc.constantFrom('5.00', '50.00') }),
    creditorName: fc.string({ minLength: 1, maxLength: 30 }),
  }),
  fc.jsonValue({ maxDepth: 2 }),
);
const request = fc.record(
  {
    loginHint: fc.oneof(
      fc.constantFrom('alice@example.com', 'bob', 'mallory@example.com', '{"format":"iss_sub"'),
      fc.string({ maxLength: 20 }),
    ),
    bindingMessage: fc.oneof(fc.constantFrom('Pay 50.00 USD to ExampleCorp', '   '), fc.string({ maxLength: 70 })),
    authorizationDetails: fc.array(detail, { minLength: 1, maxLength: 6 }),
    // 1 to 9 s is below the schema's floor (approval-request.test.ts tests it): lifted to it, so that the few runs
    // still reach an approval.
    requestedExpiry: fc
      .oneof(fc.integer({ min: 1, max: 600 }), fc.integer())
      .map((seconds) =>
        seconds >= 1 && seconds < MIN_REQUESTED_EXPIRY_SECONDS ? MIN_REQUESTED_EXPIRY_SECONDS : seconds,
      ),
  },
  { requiredKeys: ['loginHint', 'bindingMessage'] },
);

const KNOWN = new Set<string>(Object.keys(FAILURE_OUTCOMES));
const isSettled = (status: string) => status !== 'initiating';

it('every generated request is refused with a named error, or reaches the device or a typed failure', async () => {
  const seen = { refused: 0, pending: 0, failed: 0 };
  await fc.assert(
    fc.asyncProperty(request, async (input) => {
      const started = await fixture.approvals.start(input as ApprovalRequestInput).catch((error: unknown) => error);
      if (started instanceof InvalidApprovalRequestError) {
        seen.refused += 1;
        expect(started.message).toMatch(/\S/);
        return;
      }
      if (started instanceof Error) throw started;
      const { workflowId } = started as { workflowId: string };
      const state = await waitForApprovalState(fixture.temporal, workflowId, (s) => isSettled(s.status));
      if (state.status === 'pending') {
        seen.pending += 1;
        await fixture.approvals.cancel(workflowId);
      } else {
        seen.failed += 1;
        expect(state.status).toBe('failed');
        expect(KNOWN.has(state.failure!.type)).toBe(true);
      }
    }),
    { numRuns: 25, seed: 20261126 },
  );
  // The generator reaches every kind of outcome, so the property says something about each.
  expect(seen.refused).toBeGreaterThan(0);
  expect(seen.pending + seen.failed).toBeGreaterThan(0);
});
