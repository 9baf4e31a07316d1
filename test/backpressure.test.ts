/**
 * Backpressure in the protocol module: at most maxConcurrentRequests requests reach the provider at once; the others
 * wait their turn in the worker, and one that waits too long gives up unsent (so an initiation is sent again instead
 * of ending uncertain). A small HTTP server stands in for a provider that holds its answers until the test lets go.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CibaClient, TransportError } from '../activities/ciba-protocol';
import { createCibaActivities } from '../activities/activities';
import { PROVIDER_PROFILES } from '../common/provider-profile';
import { waitUntil } from './support/wait';

let server: http.Server;
let issuer: string;
const held: http.ServerResponse[] = [];
let tokenRequests = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          issuer,
          token_endpoint: `${issuer}/token`,
          backchannel_authentication_endpoint: `${issuer}/bc`,
        }),
      );
      return;
    }
    tokenRequests++;
    req.resume();
    held.push(res); // answered when the test releases it
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function release(): void {
  for (const res of held.splice(0)) {
    res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'authorization_pending' }));
  }
}

it('holds requests beyond the limit in the worker, and gives up unsent on one that waits too long', async () => {
  const ciba = new CibaClient({
    issuer: new URL(issuer),
    clientId: 'agent',
    clientAuth: { method: 'client_secret_basic', clientSecret: 'secret' },
    httpTimeoutMs: 60_000,
    maxConcurrentRequests: 1,
    maxTurnWaitMs: 300,
  });
  try {
    await ciba.authorizationServer();
    const first = ciba.pollToken('r1');
    await waitUntil(() => tokenRequests === 1, 'the first poll at the provider');

    // The provider holds the first: the second waits its turn, then gives up without being sent.
    const second = await ciba.pollToken('r2').catch((error: unknown) => error);
    expect(second).toBeInstanceOf(TransportError);
    expect(second).toMatchObject({ requestSent: false, code: 'CIBA_NO_TURN' });
    expect(tokenRequests).toBe(1);

    // An initiation that got no turn is InitiationNotSent: the workflow may send it again.
    const activities = createCibaActivities(ciba, PROVIDER_PROFILES.generic);
    const initiation = await activities
      .requestBackchannelAuthentication({ loginHint: 'alice', bindingMessage: 'Pay', scope: 'openid' } as never)
      .catch((error: unknown) => error);
    expect(initiation).toMatchObject({ type: 'InitiationNotSent', nonRetryable: true });
    expect(tokenRequests).toBe(1);

    // Once the first is answered, the next one is sent.
    const third = ciba.pollToken('r3');
    release();
    expect(await first).toEqual({ kind: 'authorization_pending' });
    await waitUntil(() => tokenRequests === 2, 'the next poll at the provider');
    release();
    expect(await third).toEqual({ kind: 'authorization_pending' });
  } finally {
    release();
    await ciba.close();
  }
});
