/**
 * The contract for other languages (CONTRACT.md, contract/*.json) is generated from the code that enforces it; a
 * committed file that differs from what the code generates today is stale (`npm run contract` rewrites them).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ApprovalRequestSchema } from '../common/approval';
import { CONTRACT_DIR, contractFiles } from '../contract/generate';

describe('contract/ for callers in other languages', () => {
  const files = contractFiles();

  it.each(Object.keys(files))('contract/%s is up to date (npm run contract)', (name) => {
    expect(readFileSync(path.join(CONTRACT_DIR, name), 'utf8')).toBe(files[name]);
  });

  it('the request schema accepts what the zod schema accepts, in its durations too', () => {
    const schema = JSON.parse(files['approval-request.schema.json']!) as {
      required: string[];
      properties: Record<string, { anyOf?: Array<{ type: string }> }>;
    };
    expect(schema.required).toEqual(['bindingMessage']);
    expect(schema.properties.approvalTimeout!.anyOf!.map((s) => s.type)).toEqual(['integer', 'string']);
    for (const approvalTimeout of [3600, '90s', '24h']) {
      expect(
        ApprovalRequestSchema.safeParse({ loginHint: 'a@example.com', bindingMessage: 'x', approvalTimeout }).success,
      ).toBe(true);
    }
    // The one rule added by hand (a zod refinement): exactly one user hint, as the zod schema says.
    const request = { bindingMessage: 'x' };
    expect(ApprovalRequestSchema.safeParse(request).success).toBe(false);
    expect(ApprovalRequestSchema.safeParse({ ...request, loginHint: 'a', idTokenHint: 'b' }).success).toBe(false);
    expect(ApprovalRequestSchema.safeParse({ ...request, loginHintToken: 't' }).success).toBe(true);
    expect(() => z.toJSONSchema(ApprovalRequestSchema, { io: 'input', unrepresentable: 'throw' })).not.toThrow();
  });
});
