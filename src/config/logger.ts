import pino, { type Logger } from 'pino';

// Secrets never reach the log, whatever object they ride in on.
const SECRET_KEYS = ['password', 'passphrase', 'challenge', 'challengePassword', 'token', 'secret', 'privateKey', 'key', 'unlockToken', 'bootstrapToken', 'totp', 'cookie', 'authorization'];

export const REDACT_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  ...SECRET_KEYS.map((k) => `*.*.${k}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'ward' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    destination ?? bufferedStdout(),
  );
}

// Lines are gathered up to 4 KiB before one write (an fs.write a line cost about 45 us, measured
// under check-in load) and never held longer than a quarter second; pino flushes what is left when
// the process exits. The audit trail is in the database, not here, so a kill -9 loses log lines only.
function bufferedStdout(): pino.DestinationStream {
  const dest = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  setInterval(() => {
    try {
      dest.flush();
    } catch {
      // a write still in flight: the next tick takes it
    }
  }, 250).unref();
  return dest;
}

/**
 * The access log: one line a request, on the stream and at the level of `log`, in pino's line
 * format. Its fields are fixed (request id, method, path without the query, status, time, address),
 * so it needs no redaction, and it is written here rather than through pino: pino's generic
 * serialisation, about 6 us a line in a loop, read 25-30 us a line in the daemon under scepclient,
 * and a fixed line is half of that (docs/reliability.md, session 6).
 */
export class AccessLog {
  private readonly stream: pino.DestinationStream;
  private readonly bindings: string;

  constructor(
    private readonly log: Logger,
    bindings: Record<string, unknown>,
  ) {
    this.stream = (log as unknown as Record<symbol, pino.DestinationStream>)[pino.symbols.streamSym];
    this.bindings = JSON.stringify({ service: 'ward', ...bindings }).slice(1, -1);
  }

  /** `ms` is rounded to a tenth; `ip` may be unknown (the socket was gone). */
  request(requestId: string, method: string, path: string, status: number, ms: number, ip: string | null): void {
    if (!this.log.isLevelEnabled('info')) return;
    this.stream.write(
      `{"level":30,"time":"${new Date().toISOString()}",${this.bindings},"requestId":${JSON.stringify(requestId)},` +
        `"method":${JSON.stringify(method)},"path":${JSON.stringify(path)},"status":${status},"ms":${Math.round(ms * 10) / 10},` +
        `"ip":${JSON.stringify(ip)},"msg":"request"}\n`,
    );
  }
}
