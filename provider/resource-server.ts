import * as crypto from 'node:crypto';

import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { z } from 'zod';

import { formatZodError } from '../common/approval';
import { HttpError, readJson, sendError, sendJson, type RouteHandler } from './http';
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
export function resourceServerRoutes(options: { issuer: string; resource: string; jwks: JSONWebKeySet }): RouteHandler {
  const keySet = createLocalJWKSet(options.jwks);

  return async (req, res, url) => {
    if (url.pathname !== '/api/payments') return false;
    if (req.method !== 'POST') {
      sendError(res, 405, 'invalid_request', 'use POST');
      return true;
    }

    const bearer = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/.exec(req.headers.authorization ?? '')?.[1];
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
      req.resume();
      sendJson(res, 401, { error: 'invalid_token', error_description: (err as Error).message }, {
        'www-authenticate': 'Bearer error="invalid_token"',
      });
      return true;
    }

    let body: PaymentBody;
    try {
      const parsed = PaymentBodySchema.safeParse(await readJson(req));
      if (!parsed.success) throw new HttpError(400, 'invalid_request', formatZodError(parsed.error));
      body = parsed.data;
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      sendError(res, err.status, err.error, err.message);
      return true;
    }

    if (!covers(payload, body)) {
      sendJson(res, 403, {
        error: 'insufficient_authorization_details',
        error_description: 'no approved payment_initiation matches this payment',
      });
      return true;
    }
    sendJson(res, 201, {
      paymentId: `pay_${crypto.randomUUID()}`,
      status: 'executed',
      amount: body.amount,
      currency: body.currency,
      creditorName: body.creditorName,
    });
    return true;
  };
}
