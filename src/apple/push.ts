// Wake-ups after a command is queued: finds the enrollment's push token and PushMagic, sends the
// APNs push through ApnsClient with the imported push certificate, and records what APNs said
// (a 410 marks the token dead until the next TokenUpdate). Disabled in config: a no-op, and
// queued commands wait for the device's next check-in.
import fs from 'node:fs';
import type { Logger } from 'pino';
import { SYSTEM_ACTOR, type AuditLog } from '../audit';
import type { AppleConfig } from '../config/sections/apple';
import { ApnsClient, type PushResult } from './apns';
import type { Escrow } from './escrow';
import type { AppleStore } from './store';

export type WakeResult = PushResult | { status: 'disabled' } | { status: 'no-push-certificate' } | { status: 'no-token'; reason: string };

export const PUSH_KEY_CONTEXT = 'apple.push-key';

export class PushService {
  private client?: ApnsClient;
  private clientCertId?: number;
  private readonly tokenOwners = new Map<string, string>();

  constructor(
    private readonly cfg: AppleConfig['apns'],
    private readonly store: AppleStore,
    private readonly escrow: Escrow,
    private readonly audit: AuditLog,
    private readonly log?: Logger,
  ) {}

  get enabled(): boolean {
    return this.cfg.enabled;
  }

  /** Sends the wake-up for an enrollment (device or user channel id). Never throws. */
  async wake(enrollmentId: string): Promise<WakeResult> {
    if (!this.cfg.enabled) return { status: 'disabled' };
    try {
      const target = this.targetOf(enrollmentId);
      if ('reason' in target) return { status: 'no-token', reason: target.reason };
      const client = this.apns();
      if (!client) return { status: 'no-push-certificate' };
      // Tokens are unique per enrollment: remember whose this one is for a 410 answer.
      if (this.tokenOwners.size >= 50_000) this.tokenOwners.clear();
      this.tokenOwners.set(target.token.toString('hex'), enrollmentId);
      return await client.push(target);
    } catch (e) {
      this.log?.warn({ err: (e as Error).message, enrollmentId }, 'apple: push failed');
      return { status: 'failed', reason: (e as Error).message, attempts: 0 };
    }
  }

  private targetOf(enrollmentId: string): { token: Buffer; pushMagic: string } | { reason: string } {
    const row = this.store.pushTarget(enrollmentId);
    if (!row) return { reason: 'unknown enrollment' };
    if (row.status === 'checked-out') return { reason: 'checked out' };
    if (!row.pushToken || !row.pushMagic) return { reason: 'no TokenUpdate yet' };
    if (row.pushDeadAt) return { reason: `token unregistered at ${row.pushDeadAt}` };
    return { token: row.pushToken, pushMagic: row.pushMagic };
  }

  /** The APNs client for the newest imported push certificate (rebuilt after an import). */
  private apns(): ApnsClient | undefined {
    const id = this.store.currentPushCertificateId();
    if (id === undefined) return undefined;
    if (this.client && this.clientCertId === id) return this.client;
    const row = this.store.currentPushCertificate()!;
    const key = this.escrow.open(row.sealedKey, PUSH_KEY_CONTEXT).toString('utf8');
    void this.client?.close();
    this.client = new ApnsClient({
      url: this.cfg.url,
      certificate: row.certificatePem,
      key,
      topic: row.topic,
      proxy: this.cfg.proxy,
      ca: this.cfg.caFile ? fs.readFileSync(this.cfg.caFile) : undefined,
      maxAttempts: this.cfg.maxAttempts,
      backoffMs: this.cfg.backoffMs,
      maxBackoffMs: this.cfg.maxBackoffMs,
      onUnregistered: (token, at) => this.unregistered(token, at),
    });
    this.clientCertId = id;
    return this.client;
  }

  private unregistered(token: Buffer, at: Date): void {
    const enrollmentId = this.tokenOwners.get(token.toString('hex'));
    if (!enrollmentId) return;
    // Only if the device has not sent a fresh TokenUpdate meanwhile (markPushDead matches the token).
    this.store.db.write(() => {
      if (this.store.markPushDead(enrollmentId, token, at.toISOString())) {
        this.audit.record({
          action: 'apple.push.token_unregistered',
          actor: SYSTEM_ACTOR,
          target: { type: 'apple-enrollment', id: enrollmentId },
          details: { apns: '410 Unregistered' },
        });
      }
    });
  }

  async close(): Promise<void> {
    await this.client?.close();
    this.client = undefined;
  }
}
