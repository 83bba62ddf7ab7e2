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
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
