/**
 * The baseline: no Temporal, no worker. In this process, each approval is oauth4webapi's CIBA example
 * (examples/ciba.ts): a backchannel authentication request, then a poll of the token endpoint every `interval`
 * seconds, 5 s more after each slow_down, until the token response. Same provider, same client, same request
 * parameters as the workflow's (activities/ciba-protocol.ts backchannelParameters).
 */
import * as oauth from 'oauth4webapi';
import { backchannelParameters } from '../../activities/ciba-protocol';
import { ApprovalRequestSchema } from '../../common/approval';
import { sleep, waitUntil } from './measure';
import type { ApprovalRecord } from './records';
import type { Fleet } from './run';
import { CLIENT_ID, CLIENT_SECRET, HTTP_TIMEOUT_MS } from './stack';

export async function baselineFleet(issuer: string): Promise<Fleet> {
  const issuerUrl = new URL(issuer);
  // The local provider speaks plain http on loopback; the worker's timeout per request.
  const httpOptions = {
    [oauth.allowInsecureRequests]: true,
    signal: () => AbortSignal.timeout(HTTP_TIMEOUT_MS),
  };
  const as = await oauth
    .discoveryRequest(issuerUrl, httpOptions)
    .then((response) => oauth.processDiscoveryResponse(issuerUrl, response));
  const client: oauth.Client = { client_id: CLIENT_ID };
  const clientAuth = oauth.ClientSecretBasic(CLIENT_SECRET);
  const loops: Array<Promise<void>> = [];
  let ended = 0;
  let stopped = false;

  async function pollUntilAnswered(record: ApprovalRecord, authReqId: string, interval: number): Promise<void> {
    try {
      let success: oauth.TokenEndpointResponse | undefined;
      while (success === undefined && !stopped) {
        await sleep(interval * 1000);
        const response = await oauth.backchannelAuthenticationGrantRequest(
          as,
          client,
          clientAuth,
          authReqId,
          httpOptions,
        );
        success = await oauth
          .processBackchannelAuthenticationGrantResponse(as, client, response)
          .catch((error: unknown) => {
            if (error instanceof oauth.ResponseBodyError) {
              if (error.error === 'slow_down') interval += 5;
              if (error.error === 'slow_down' || error.error === 'authorization_pending') return undefined;
            }
            throw error;
          });
      }
      record.resultMs = Date.now();
      record.outcome = success?.access_token ? 'approved' : 'stopped';
    } catch (error) {
      record.resultMs = Date.now();
      record.outcome = error instanceof oauth.ResponseBodyError ? error.error : `error: ${(error as Error).message}`;
    } finally {
      ended++;
    }
  }

  return {
    pids: {},

    async burst(records, request) {
      await Promise.all(
        records.map(async (record) => {
          record.startCallMs = Date.now();
          try {
            const parameters = backchannelParameters(ApprovalRequestSchema.parse(request(record)));
            const response = await oauth.backchannelAuthenticationRequest(
              as,
              client,
              clientAuth,
              parameters,
              httpOptions,
            );
            const { auth_req_id, interval = 5 } = await oauth.processBackchannelAuthenticationResponse(
              as,
              client,
              response,
            );
            record.startAckMs = Date.now();
            loops.push(pollUntilAnswered(record, auth_req_id, interval));
          } catch (error) {
            record.outcome = `initiation failed: ${(error as Error).message}`;
            ended++;
          }
        }),
      );
    },

    async ended() {
      return { count: ended };
    },

    async results(records, timeoutMs) {
      await waitUntil(
        async () => (ended >= records.length ? true : undefined),
        'baseline: every loop ended',
        timeoutMs,
        100,
      );
      await Promise.all(loops);
    },

    async stop() {
      stopped = true;
    },
  };
}
