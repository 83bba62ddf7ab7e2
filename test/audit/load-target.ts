// A Ward process for the SIGKILL test: the real startWard plus one test route that records an audit
// event per request and answers only after it committed. Usage: node load-target.js CONFIG
import pino from 'pino';
import { loadConfig } from '../../src/config';
import { startWard } from '../../src/main';

async function main(): Promise<void> {
  const cfg = loadConfig(process.argv[2]);
  const ward = await startWard(cfg, pino({ level: 'warn' }));
  ward.listeners.plain.post('/test/audit-event', (ctx) => {
    const n = Number(ctx.query.n);
    const event = ward.audit.record({
      action: 'test.load.recorded',
      actor: { type: 'system', id: 'load' },
      requestId: ctx.state.requestId ?? null,
      details: { n },
    });
    ctx.body = { seq: event.seq, n };
  });
  process.stdout.write(`${JSON.stringify({ ready: true, port: ward.ports.httpPort })}\n`);
}

void main();
