// The second factor: TOTP (RFC 6238) over HOTP (RFC 4226) with HMAC-SHA-1, 30-second steps and six
// digits, the parameters every authenticator app understands; secrets travel as otpauth:// URIs
// (Google Authenticator "Key Uri Format") in RFC 4648 base32.
import crypto from 'node:crypto';

export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** RFC 6238 section 5.2: accept one step of drift either way. */
export const TOTP_WINDOW = 1;
/** RFC 4226 section 4 R6: at least 128 bits; 160 bits matches the HMAC-SHA-1 block use of RFC 4226 appendix. */
export const TOTP_SECRET_BYTES = 20;

/** RFC 4226 section 5.3: HOTP value of `counter` (dynamic truncation, then modulo 10^digits). */
export function hotp(secret: Buffer, counter: number, digits = TOTP_DIGITS): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = crypto.createHmac('sha1', secret).update(msg).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const bin = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(bin).padStart(digits, '0');
}

/** RFC 6238 section 4.2: T = floor((now - T0) / X), T0 = 0. */
export function totpStep(nowMs = Date.now(), period = TOTP_PERIOD_SECONDS): number {
  return Math.floor(nowMs / 1000 / period);
}

export function totp(secret: Buffer, nowMs = Date.now()): string {
  return hotp(secret, totpStep(nowMs));
}

export type TotpCheck = { ok: true; step: number } | { ok: false; reason: 'malformed' | 'mismatch' | 'reused' };

/**
 * Checks a code against the steps now-1, now and now+1. A matching step at or below `lastStep` (the
 * highest step accepted before) is refused: RFC 6238 section 5.2 says a verifier must not accept the
 * second attempt of the same OTP.
 */
export function verifyTotp(secret: Buffer, code: string, lastStep: number, nowMs = Date.now()): TotpCheck {
  if (!/^\d{6}$/.test(code)) return { ok: false, reason: 'malformed' };
  const now = totpStep(nowMs);
  const given = Buffer.from(code);
  let matched: number | undefined;
  // Every candidate is computed and compared, so timing does not tell which step matched.
  for (let step = now - TOTP_WINDOW; step <= now + TOTP_WINDOW; step++) {
    if (crypto.timingSafeEqual(Buffer.from(hotp(secret, step)), given)) matched ??= step;
  }
  if (matched === undefined) return { ok: false, reason: 'mismatch' };
  if (matched <= lastStep) return { ok: false, reason: 'reused' };
  return { ok: true, step: matched };
}

export function newTotpSecret(): Buffer {
  return crypto.randomBytes(TOTP_SECRET_BYTES);
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 section 6 base32, without padding (as otpauth URIs carry it). */
export function base32Encode(buf: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

export function base32Decode(text: string): Buffer {
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    const v = B32.indexOf(ch);
    if (v < 0) throw new Error(`not base32: ${JSON.stringify(ch)}`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30 */
export function otpauthUri(secret: Buffer, account: string, issuer: string): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  const q = new URLSearchParams({
    secret: base32Encode(secret),
    issuer,
    algorithm: 'SHA1',
    digits: String(TOTP_DIGITS),
    period: String(TOTP_PERIOD_SECONDS),
  });
  return `otpauth://totp/${label}?${q.toString().replace(/\+/g, '%20')}`;
}
