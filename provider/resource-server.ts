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

/**
 * Demo protected API: `POST /api/payments` executes a payment when the bearer JWT access token (issued by this
 * provider for `resource`) carries a payment_initiation authorization_details entry matching it.
 */
export function resourceServerRoutes(
  router: Router,
  options: { issuer: string; resource: string; jwks: JSONWebKeySet },
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
    ctx.status = 201;
    ctx.body = {
      paymentId: `pay_${crypto.randomUUID()}`,
      status: 'executed',
      amount: body.amount,
      currency: body.currency,
      creditorName: body.creditorName,
    };
  });

  router.all('/api/payments', () => {
    throw new HttpError(405, 'invalid_request', 'use POST');
  });
}
