import type { Adapter, AdapterPayload } from 'oidc-provider';

import type { FileStore } from './file-store';

/**
 * Records outlive their expiry by this many seconds, like oidc-provider's own memory adapter (expiresIn +
 * clockTolerance): an expired CIBA request then answers `expired_token` for a while instead of `invalid_grant`.
 */
const EXPIRY_GRACE_SECONDS = 15;

/** oidc-provider adapter keeping every model (requests, grants, tokens, ...) in the provider's FileStore. */
export class FileAdapter implements Adapter {
  constructor(
    private readonly model: string,
    private readonly store: FileStore,
  ) {}

  static keyPrefix(model: string): string {
    return `${model}:`;
  }

  private key(id: string): string {
    return `${this.model}:${id}`;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    this.store.set(this.key(id), payload, expiresIn === undefined ? undefined : expiresIn + EXPIRY_GRACE_SECONDS);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return this.store.get<AdapterPayload>(this.key(id));
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.findBy((payload) => payload.uid === uid);
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.findBy((payload) => payload.userCode === userCode);
  }

  async consume(id: string): Promise<void> {
    const payload = this.store.get<AdapterPayload>(this.key(id));
    if (payload) this.store.update(this.key(id), { ...payload, consumed: Math.floor(Date.now() / 1000) });
  }

  async destroy(id: string): Promise<void> {
    this.store.delete(this.key(id));
  }

  /** Removes this model's records of the grant (oidc-provider calls it once per model). */
  async revokeByGrantId(grantId: string): Promise<void> {
    const keys = this.store
      .list<AdapterPayload>(FileAdapter.keyPrefix(this.model))
      .filter(([, payload]) => payload.grantId === grantId)
      .map(([key]) => key);
    this.store.delete(...keys);
  }

  private findBy(match: (payload: AdapterPayload) => boolean): AdapterPayload | undefined {
    return this.store.list<AdapterPayload>(FileAdapter.keyPrefix(this.model)).find(([, p]) => match(p))?.[1];
  }
}
