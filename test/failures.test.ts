/** How failures become the approval's own (workflows/failures.ts): pure functions over Temporal's failure classes. */
import { ActivityFailure, ApplicationFailure, CancelledFailure, RetryState, TimeoutFailure } from '@temporalio/common';
import { ActivityFailureType, ApprovalFailureType } from '../common/outcomes';
import { afterSendFailure, approvalFailure, asApprovalFailure, endedWith, MAX_SENDS } from '../workflows/failures';

/** What the workflow sees when an activity failed with `cause`. */
function activityFailure(cause: Error): ActivityFailure {
  return new ActivityFailure(
    'Activity task failed',
    'requestBackchannelAuthentication',
    '1',
    RetryState.NON_RETRYABLE_FAILURE,
    'worker',
    cause,
  );
}

describe('approvalFailure', () => {
  it('is non-retryable and typed, with the details as its one detail', () => {
    const failure = approvalFailure(ApprovalFailureType.Lost, 'lost', { possibleAnswers: ['approved', 'denied'] });
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({
      type: 'ApprovalLost',
      message: 'lost',
      nonRetryable: true,
      details: [{ possibleAnswers: ['approved', 'denied'] }],
    });
    expect(approvalFailure(ApprovalFailureType.Denied, 'no').details).toBeUndefined();
  });
});

describe('afterSendFailure', () => {
  const notSent = (retryAfterSeconds?: number) =>
    activityFailure(
      ApplicationFailure.create({
        message: 'connect ECONNREFUSED',
        type: ActivityFailureType.InitiationNotSent,
        nonRetryable: true,
        details: retryAfterSeconds === undefined ? undefined : [{ retryAfterSeconds }],
      }),
    );

  it('sends again a request that certainly did not reach the provider, backing off exponentially', () => {
    expect(afterSendFailure(notSent(), 1)).toEqual({ kind: 'send_again', afterSeconds: 2 });
    expect(afterSendFailure(notSent(), 3)).toEqual({ kind: 'send_again', afterSeconds: 8 });
  });

  it('honours a longer Retry-After', () => {
    expect(afterSendFailure(notSent(30), 1)).toEqual({ kind: 'send_again', afterSeconds: 30 });
    expect(afterSendFailure(notSent(1), 2)).toEqual({ kind: 'send_again', afterSeconds: 4 });
  });

  it(`ends ProviderUnavailable after ${MAX_SENDS} sendings`, () => {
    const next = afterSendFailure(notSent(), MAX_SENDS);
    expect(next.kind).toBe('fail');
    expect(next.kind === 'fail' && next.error).toMatchObject({
      type: 'ProviderUnavailable',
      nonRetryable: true,
      message: `the provider could not be reached after ${MAX_SENDS} attempts: connect ECONNREFUSED`,
    });
  });

  it('never sends again a request that may have reached the provider (timeout, untyped failure): ApprovalInitiationUncertain', () => {
    for (const cause of [
      new TimeoutFailure('timed out', undefined, 'START_TO_CLOSE'),
      ApplicationFailure.retryable('boom'),
    ]) {
      const next = afterSendFailure(activityFailure(cause), 1);
      expect(next.kind === 'fail' && next.error).toMatchObject({
        type: 'ApprovalInitiationUncertain',
        nonRetryable: true,
        message: expect.stringContaining('it is not sent again automatically'),
      });
    }
  });

  it("ends with the activity's own failure when it is final (a provider rejection), and with a cancellation as it is", () => {
    const rejected = activityFailure(
      ApplicationFailure.nonRetryable('unknown user', ApprovalFailureType.ProviderRejected),
    );
    expect(afterSendFailure(rejected, 1)).toEqual({ kind: 'fail', error: rejected });
    const cancelled = activityFailure(new CancelledFailure('cancelled'));
    expect(afterSendFailure(cancelled, 1)).toEqual({ kind: 'fail', error: cancelled });
  });
});

describe('asApprovalFailure', () => {
  it("surfaces an activity's final typed failure as the approval's own, details included", () => {
    const failure = asApprovalFailure(
      activityFailure(
        ApplicationFailure.create({
          message: 'rejected',
          type: 'CibaProviderError',
          nonRetryable: true,
          details: [{ error: 'x' }],
        }),
      ),
    );
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).not.toBeInstanceOf(ActivityFailure);
    expect(failure).toMatchObject({
      type: 'CibaProviderError',
      message: 'rejected',
      nonRetryable: true,
      details: [{ error: 'x' }],
    });
  });

  it('turns any other activity failure into ActivityFailed', () => {
    expect(asApprovalFailure(activityFailure(ApplicationFailure.retryable('boom')))).toMatchObject({
      type: ApprovalFailureType.ActivityFailed,
      message: 'boom',
      nonRetryable: true,
    });
  });

  it('leaves cancellations and the workflow’s own failures as they are', () => {
    const cancelled = activityFailure(new CancelledFailure('cancelled'));
    expect(asApprovalFailure(cancelled)).toBe(cancelled);
    const denied = approvalFailure(ApprovalFailureType.Denied, 'no');
    expect(asApprovalFailure(denied)).toBe(denied);
  });
});

describe('endedWith', () => {
  it.each([
    [ApprovalFailureType.Denied, 'denied'],
    [ApprovalFailureType.Expired, 'expired'],
    [ApprovalFailureType.Lost, 'failed'],
    [ApprovalFailureType.AuthorizationDetailsNotGranted, 'failed'],
    [ApprovalFailureType.ActivityFailed, 'failed'],
    ['SomethingNew', 'failed'],
  ])('%s leaves the status %s, and the failure for the status query', (type, status) => {
    expect(endedWith(ApplicationFailure.nonRetryable('why', type))).toEqual({
      status,
      failure: { type, message: 'why' },
    });
  });

  it('a cancellation leaves cancelled; anything else failed, without a failure type', () => {
    expect(endedWith(new CancelledFailure('cancelled'))).toEqual({ status: 'cancelled' });
    expect(endedWith(new Error('bug'))).toEqual({ status: 'failed' });
  });
});
