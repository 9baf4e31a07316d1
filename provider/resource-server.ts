import * as crypto from 'node:crypto';

import type Router from '@koa/router';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { z } from 'zod';

import { formatZodError } from '../common/approval';
import { HttpError, readJson, sendError } from './http';
import { PaymentInitiationSchema } from './rar';

const PaymentBodySchema = z.object({
  amount: z.string().min(1),
  currency: z.string().min(1),
  creditorName: z.string().min(1),
});
type PaymentBody = z.infer<typeof PaymentBodySchema>;

/** The payment must be exactly one the user approved: same amount string, currency and creditor. */
function covers(payload: JWTPayload, payment: PaymentBody): boolean {
  const details = Array.isArray(payload.authorization_details) ? payload.authorization_details : [];
  return details.some((detail: unknown) => {
    const parsed = PaymentInitiationSchema.safeParse(detail);
    return (
      parsed.success &&
      parsed.data.instructedAmount.amount === payment.amount &&
      parsed.data.instructedAmount.currency === payment.currency &&
      parsed.data.creditorName === payment.creditorName
    );
  });
}

export interface ExecutedPayment {
  paymentId: string;
  idempotencyKey?: string;
  amount: string;
  currency: string;
  creditorName: string;
  at: string;
}

/**
 * The payments the demo API executed (in memory: a demo, not a bank), and the Idempotency-Key each was made under:
 * the same key pays once, and answers the first payment again.
 */
export class PaymentLedger {
  private readonly byKey = new Map<string, { payment: ExecutedPayment; bodySha256: string }>();
  readonly executed: ExecutedPayment[] = [];
  private static readonly MAX = 10_000;

  /** The earlier payment under this key; 'conflict' when the key was used for another payment. */
  earlier(key: string | undefined, bodySha256: string): ExecutedPayment | 'conflict' | undefined {
    const seen = key === undefined ? undefined : this.byKey.get(key);
    if (!seen) return undefined;
    return seen.bodySha256 === bodySha256 ? seen.payment : 'conflict';
  }

  record(payment: ExecutedPayment, bodySha256: string): void {
    this.executed.push(payment);
    if (payment.idempotencyKey) this.byKey.set(payment.idempotencyKey, { payment, bodySha256 });
    if (this.executed.length > PaymentLedger.MAX) this.executed.shift();
  }
}

/**
 * Demo protected API: `POST /api/payments` executes a payment when the bearer JWT access token (issued by this
 * provider for `resource`) carries a payment_initiation authorization_details entry matching it. An
 * `Idempotency-Key` pays once: the same key and body answer the first payment again (200), another body 422.
 */
export function resourceServerRoutes(
  router: Router,
  options: { issuer: string; resource: string; jwks: JSONWebKeySet; ledger: PaymentLedger },
): void {
  const keySet = createLocalJWKSet(options.jwks);

  router.post('/api/payments', async (ctx) => {
    const bearer = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/.exec(ctx.get('authorization'))?.[1];
    let payload: JWTPayload;
    try {
      if (!bearer) throw new Error('missing bearer token');
      ({ payload } = await jwtVerify(bearer, keySet, {
        issuer: options.issuer,
        audience: options.resource,
        typ: 'at+jwt',
        algorithms: ['RS256'],
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      ctx.req.resume();
      ctx.set('WWW-Authenticate', 'Bearer error="invalid_token"');
      sendError(ctx, 401, 'invalid_token', (err as Error).message);
      return;
    }

    const parsed = PaymentBodySchema.safeParse(await readJson(ctx.req));
    if (!parsed.success) throw new HttpError(400, 'invalid_request', formatZodError(parsed.error));
    const body = parsed.data;

    if (!covers(payload, body)) {
      const description = 'no approved payment_initiation matches this payment';
      throw new HttpError(403, 'insufficient_authorization_details', description);
    }
    const idempotencyKey = ctx.get('idempotency-key') || undefined;
    const bodySha256 = crypto.createHash('sha256').update(JSON.stringify(body)).digest('hex');
    const earlier = options.ledger.earlier(idempotencyKey, bodySha256);
    if (earlier === 'conflict') {
      throw new HttpError(422, 'invalid_request', 'this Idempotency-Key was used for another payment');
    }
    const payment = earlier ?? {
      paymentId: `pay_${crypto.randomUUID()}`,
      idempotencyKey,
      amount: body.amount,
      currency: body.currency,
      creditorName: body.creditorName,
      at: new Date().toISOString(),
    };
    if (!earlier) options.ledger.record(payment, bodySha256);
    ctx.status = earlier ? 200 : 201;
    ctx.body = {
      paymentId: payment.paymentId,
      status: 'executed',
      amount: payment.amount,
      currency: payment.currency,
      creditorName: payment.creditorName,
    };
  });

  router.all('/api/payments', () => {
    throw new HttpError(405, 'invalid_request', 'use POST');
  });
}
