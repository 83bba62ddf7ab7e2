// sd_notify(3) readiness for the Type=notify unit: systemd waits for READY=1 on $NOTIFY_SOCKET, a unix
// datagram socket. Node has no unix datagram sockets, so the stock `systemd-notify` tool sends it; the
// unit sets NotifyAccess=all so systemd accepts it from this child, and systemd-notify (>= 246) waits
// until systemd has read the message, so its quick exit cannot make systemd drop it.
import { spawn } from 'node:child_process';
import type { Logger } from 'pino';

/** Tells systemd Ward is ready (no-op outside systemd). Resolves true once systemd-notify succeeded. */
export function notifyReady(status: string, log?: Logger, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (!env.NOTIFY_SOCKET) return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn('systemd-notify', ['--ready', `--status=${status}`], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', (e) => {
      log?.error({ err: e.message }, 'sd_notify: cannot run systemd-notify; systemd will time out waiting for READY=1');
      resolve(false);
    });
    child.on('close', (code) => {
      if (code !== 0) log?.error({ code, stderr: err.trim() }, 'sd_notify: systemd-notify --ready failed');
      else log?.info('sd_notify: READY=1 sent');
      resolve(code === 0);
    });
  });
}
