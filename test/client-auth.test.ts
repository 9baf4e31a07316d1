/**
 * Client authentication with private_key_jwt (RFC 7523, OIDC Core 9) against a local provider of this file's own,
 * whose client `ciba-agent-jwt` is registered with a JWKS generated here: an approval through a worker, CibaClient
 * with each key type, wrong keys, discovery, and the key pair the provider generates when given no JWKS.
 */
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, type JWK } from 'jose';
import {
  CibaClient,
  ProviderError,
  type BackchannelAcknowledgment,
  type PollOutcome,
} from '../activities/ciba-protocol';
import { ApprovalFailedError } from '../client/approvals';
import { ApprovalRequestSchema } from '../common/approval';
import { loadWorkerConfig } from '../worker/config';
import {
  Device,
  providerLog,
  sleep,
  stackEnv,
  startProvider,
  uniqueBindingMessage,
  uniqueTaskQueue,
  type StartedProvider,
} from './support/stack';
import { HANG_DETECTOR_MS } from './support/wait';
import { startWorkerWithClients, stopWorkerWithClients } from './support/worker-fixture';

// Above the hang detectors of the waits a test makes in a row (workers started and stopped).
jest.setTimeout(3 * HANG_DETECTOR_MS);

const JWT_CLIENT = 'ciba-agent-jwt';

interface TestKey {
  /** PKCS#8 PEM of the private key. */
  pem: string;
  /** The private key as a JWK, with the kid the provider knows it by. */
  privateJwk: JWK;
  /** What the provider is given: public half, kid and alg (so a key is used for that alg only). */
  publicJwk: JWK;
}

async function testKey(alg: 'RS256' | 'ES256' | 'EdDSA', kid?: string): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const keyId = kid ?? (await calculateJwkThumbprint(publicJwk));
  return {
    pem: await exportPKCS8(privateKey),
    privateJwk: { ...(await exportJWK(privateKey)), kid: keyId },
    publicJwk: { ...publicJwk, kid: keyId, alg, use: 'sig' },
  };
}

let idp: StartedProvider;
let device: Device;
let rsa: TestKey;
let ec: TestKey;
let ed: TestKey;
let keyDir: string;

beforeAll(async () => {
  // RSA: known by its RFC 7638 thumbprint (the worker's default kid); EC and Ed25519: by a kid of their own.
  [rsa, ec, ed] = await Promise.all([testKey('RS256'), testKey('ES256', 'ec-key-1'), testKey('EdDSA', 'ed-key-1')]);
  idp = await startProvider({ IDP_CLIENT_JWKS: JSON.stringify({ keys: [rsa.publicJwk, ec.publicJwk, ed.publicJwk] }) });
  device = new Device(idp.issuer);
  keyDir = mkdtempSync(path.join(os.tmpdir(), 'ciba-client-key-'));
});

afterAll(async () => {
  await idp?.kill('SIGTERM');
});

/** Worker variables for the private_key_jwt client of this file's provider. */
function jwtEnv(overrides: Record<string, string>): Record<string, string> {
  return stackEnv(uniqueTaskQueue('client-auth'), {
    CIBA_ISSUER: idp.issuer,
    CIBA_CLIENT_ID: JWT_CLIENT,
    CIBA_CLIENT_AUTH_METHOD: 'private_key_jwt',
    CIBA_CLIENT_SECRET: '',
    ...overrides,
  });
}

function keyFile(name: string, pem: string): string {
  const file = path.join(keyDir, name);
  writeFileSync(file, pem, { mode: 0o600 });
  return file;
}

function approvalRequest(bindingMessage: string) {
  return ApprovalRequestSchema.parse({ loginHint: 'alice@example.com', bindingMessage });
}

/** Polls at the provider's interval until the request is decided (answers, not timings, are asserted). */
async function pollUntilDecided(client: CibaClient, ack: BackchannelAcknowledgment): Promise<PollOutcome> {
  let interval = ack.interval ?? 5;
  for (let attempt = 0; attempt < 30; attempt++) {
    await sleep(interval * 1000);
    const outcome = await client.pollToken(ack.authReqId);
    if (outcome.kind === 'slow_down') interval = outcome.interval ?? interval + 5;
    else if (outcome.kind !== 'authorization_pending') return outcome;
  }
  throw new Error(`request ${ack.authReqId} still pending`);
}

/** Waits until `file` contains `text` (a process's log, written as its output arrives). */
async function waitForLine(file: string, text: string, timeoutMs = HANG_DETECTOR_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!readFileSync(file, 'utf8').includes(text)) {
    if (Date.now() > deadline) throw new Error(`${file} does not mention ${text}`);
    await sleep(100);
  }
}

describe('private_key_jwt', () => {
  it('completes an approval through a worker whose RSA key is a PEM file, and the provider saw that client', async () => {
    const env = jwtEnv({ CIBA_CLIENT_PRIVATE_KEY_FILE: keyFile('rsa.pem', rsa.pem) });
    const workerAndClients = await startWorkerWithClients(env, 'worker-client-auth');
    const { worker, approvals } = workerAndClients;
    try {
      const bindingMessage = uniqueBindingMessage('JWT approval');
      const { workflowId } = await approvals.start({ loginHint: 'alice@example.com', bindingMessage });
      const request = await device.waitFor(bindingMessage);
      await device.decide(request.auth_req_id, 'approve');

      const tokens = await approvals.result(workflowId);
      expect(tokens.tokenType.toLowerCase()).toBe('bearer');
      expect(tokens.accessToken).toEqual(expect.any(String));
      expect(tokens.idToken).toEqual(expect.any(String));

      const log = await providerLog(idp.issuer, { bindingMessage });
      expect(log.map((e) => `${e.endpoint} ${e.status}`)).toEqual(
        expect.arrayContaining(['bc-authorize 200', 'token 200']),
      );
      expect(new Set(log.map((e) => e.clientId))).toEqual(new Set([JWT_CLIENT]));
      // The worker's log names neither the key nor its file content.
      expect(readFileSync(worker.logFile, 'utf8')).not.toContain(rsa.pem.split('\n')[1]!);
    } finally {
      await stopWorkerWithClients(workerAndClients);
    }
  });

  const keyTypes: Array<[string, () => Record<string, string>, { keyId: string; signingAlg: string }]> = [
    [
      'an EC P-256 private JWK (its own kid, ES256)',
      () => ({ CIBA_CLIENT_PRIVATE_KEY: JSON.stringify(ec.privateJwk) }),
      { keyId: 'ec-key-1', signingAlg: 'ES256' },
    ],
    [
      'an Ed25519 PEM with CIBA_CLIENT_KEY_ID (EdDSA)',
      () => ({ CIBA_CLIENT_PRIVATE_KEY: ed.pem, CIBA_CLIENT_KEY_ID: 'ed-key-1' }),
      { keyId: 'ed-key-1', signingAlg: 'EdDSA' },
    ],
  ];
  it.each(keyTypes)('CibaClient gets tokens with %s', async (_name, variables, expected) => {
    const config = loadWorkerConfig(jwtEnv(variables()));
    expect(config.ciba.clientAuth).toMatchObject({ method: 'private_key_jwt', ...expected });
    const client = await CibaClient.create(config.ciba);
    try {
      const bindingMessage = uniqueBindingMessage('JWT direct');
      const ack = await client.requestBackchannelAuthentication(approvalRequest(bindingMessage));
      await device.decide(ack.authReqId, 'approve');
      const outcome = await pollUntilDecided(client, ack);
      expect(outcome).toMatchObject({ kind: 'approved', tokens: { accessToken: expect.any(String) } });

      const log = await providerLog(idp.issuer, { authReqId: ack.authReqId });
      expect(log.length).toBeGreaterThanOrEqual(2);
      expect(log.every((e) => e.clientId === JWT_CLIENT && !e.error?.startsWith('invalid_client'))).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('a key the provider does not know is refused with invalid_client, even under a registered kid', async () => {
    const stranger = await testKey('RS256');
    const config = loadWorkerConfig(
      jwtEnv({ CIBA_CLIENT_PRIVATE_KEY: stranger.pem, CIBA_CLIENT_KEY_ID: rsa.publicJwk.kid! }),
    );
    const client = new CibaClient(config.ciba); // the synchronous constructor: the key is imported at the first request
    try {
      const bindingMessage = uniqueBindingMessage('JWT stranger');
      const error = await client
        .requestBackchannelAuthentication(approvalRequest(bindingMessage))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ error: 'invalid_client', status: 401 });

      const log = await providerLog(idp.issuer, { bindingMessage });
      expect(log).toEqual([
        expect.objectContaining({
          endpoint: 'bc-authorize',
          status: 401,
          error: 'invalid_client',
          clientId: JWT_CLIENT,
        }),
      ]);
      expect(log[0]!.authReqId).toBeUndefined();
    } finally {
      await client.close();
    }
  });

  it('a wrong key ends the approval in CibaProviderError carrying invalid_client', async () => {
    const stranger = await testKey('ES256', 'ec-key-1'); // the registered EC key's kid, another key
    const env = jwtEnv({ CIBA_CLIENT_PRIVATE_KEY: JSON.stringify(stranger.privateJwk) });
    const workerAndClients = await startWorkerWithClients(env, 'worker-client-auth-wrong-key');
    const { approvals } = workerAndClients;
    try {
      const { workflowId } = await approvals.start({
        loginHint: 'alice@example.com',
        bindingMessage: uniqueBindingMessage('JWT wrong key'),
      });
      const error = await approvals.result(workflowId).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ApprovalFailedError);
      expect((error as ApprovalFailedError).type).toBe('CibaProviderError');
      expect((error as ApprovalFailedError).details[0]).toMatchObject({ error: 'invalid_client' });
    } finally {
      await stopWorkerWithClients(workerAndClients);
    }
  });

  it('discovery advertises private_key_jwt and its signing algorithms', async () => {
    const metadata = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      string[]
    >;
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(['client_secret_basic', 'client_secret_post', 'private_key_jwt']),
    );
    expect(metadata.token_endpoint_auth_signing_alg_values_supported).toEqual(
      expect.arrayContaining(['RS256', 'ES256', 'EdDSA']),
    );
  });
});

describe('the provider without IDP_CLIENT_JWKS', () => {
  it('generates a key pair at first start (private key 0600 in its data folder, path logged) that the worker can use', async () => {
    const own = await startProvider();
    try {
      const file = path.join(own.dataDir, 'client-jwt-key.pem');
      expect(existsSync(file)).toBe(true);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      await waitForLine(own.logFile, file); // stderr may reach the log file after the ready line

      const config = loadWorkerConfig({ ...jwtEnv({ CIBA_CLIENT_PRIVATE_KEY_FILE: file }), CIBA_ISSUER: own.issuer });
      const client = await CibaClient.create(config.ciba);
      try {
        const bindingMessage = uniqueBindingMessage('JWT generated');
        const ack = await client.requestBackchannelAuthentication(approvalRequest(bindingMessage));
        expect(ack.authReqId).toEqual(expect.any(String));
        expect(await providerLog(own.issuer, { bindingMessage })).toEqual([
          expect.objectContaining({ endpoint: 'bc-authorize', status: 200, clientId: JWT_CLIENT }),
        ]);
      } finally {
        await client.close();
      }
    } finally {
      await own.kill('SIGTERM');
    }
  });
});
