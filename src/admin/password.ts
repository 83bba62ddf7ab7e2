// Password hashes: scrypt (RFC 7914) through node:crypto, a fresh 16-byte salt per hash, stored as a
// PHC string `$scrypt$ln=17,r=8,p=1$<salt>$<hash>` so the parameters travel with the hash: raising
// the cost later still verifies old hashes, and they are re-hashed at the next successful sign-in.
import crypto from 'node:crypto';

export interface ScryptParams {
  /** log2 of N, the CPU/memory cost. */
  ln: number;
  r: number;
  p: number;
}

const KEY_BYTES = 32;
const SALT_BYTES = 16;
const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/** At most this many scrypt computations at once: each holds 128 * N * r bytes (128 MiB at ln=17). */
const MAX_CONCURRENT = 2;
let running = 0;
const waiting: (() => void)[] = [];

async function limited<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.ln;
  // NIST SP 800-63B 5.1.1.2: normalize Unicode so the same password typed on another keyboard matches.
  const input = Buffer.from(password.normalize('NFKC'), 'utf8');
  return limited(
    () =>
      new Promise<Buffer>((resolve, reject) => {
        crypto.scrypt(input, salt, KEY_BYTES, { N, r: params.r, p: params.p, maxmem: 256 * N * params.r }, (err, key) =>
          err ? reject(err) : resolve(key),
        );
      }),
  );
}

export async function hashPassword(password: string, params: ScryptParams): Promise<string> {
  const salt = crypto.randomBytes(SALT_BYTES);
  const key = await derive(password, salt, params);
  const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(key)}`;
}

export function parseHash(stored: string): (ScryptParams & { salt: Buffer; key: Buffer }) | undefined {
  const m = PHC.exec(stored);
  if (!m) return undefined;
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (ln < 1 || ln > 24 || r < 1 || p < 1) return undefined;
  return { ln, r, p, salt: Buffer.from(m[4], 'base64'), key: Buffer.from(m[5], 'base64') };
}

/** Constant-time comparison of the derived key; false for a hash this code cannot read. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed) return false;
  const key = await derive(password, parsed.salt, parsed);
  return key.length === parsed.key.length && crypto.timingSafeEqual(key, parsed.key);
}

export function needsRehash(stored: string, params: ScryptParams): boolean {
  const parsed = parseHash(stored);
  return !parsed || parsed.ln !== params.ln || parsed.r !== params.r || parsed.p !== params.p;
}

/**
 * A hash of a random password with the current parameters: verified against when the user name is
 * unknown, so an unknown name takes as long to refuse as a wrong password.
 */
export function decoyHash(params: ScryptParams): Promise<string> {
  return hashPassword(crypto.randomBytes(18).toString('base64'), params);
}

/** Refusal reason for a new password, or undefined when it is acceptable (NIST SP 800-63B 5.1.1.2). */
export function passwordProblem(password: string, minLength: number, username?: string): string | undefined {
  const chars = [...password.normalize('NFKC')].length;
  if (chars < minLength) return `the password must have at least ${minLength} characters`;
  if (chars > 1024) return 'the password must have at most 1024 characters';
  if (username && password.toLowerCase().includes(username.toLowerCase())) return 'the password must not contain the user name';
  if (/^(.)\1*$/u.test(password)) return 'the password must not repeat one character';
  return undefined;
}
