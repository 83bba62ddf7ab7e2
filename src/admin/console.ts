// The web console: a few static files Ward serves itself (src/admin/console/), no CDN, no web fonts,
// nothing fetched from outside. A strict Content-Security-Policy makes that a rule the browser enforces:
// scripts, styles and API calls from this origin only, no inline script, no framing.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type Router from '@koa/router';
import type { Logger } from 'pino';
import { packageRoot } from '../config';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/**
 * The assets: beside the compiled code when a release copied them there (dist/admin/console), else
 * in the source tree of the install folder (src/admin/console: builds, tests, `make run`).
 */
export function consoleDir(): string {
  const compiled = path.join(__dirname, 'console');
  if (fs.existsSync(path.join(compiled, 'index.html'))) return compiled;
  return path.join(packageRoot(), 'src', 'admin', 'console');
}

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of fs.readdirSync(dir)) {
    const type = TYPES[path.extname(name)];
    if (!type) continue;
    const body = fs.readFileSync(path.join(dir, name));
    assets.set(name, { body, type, etag: `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
  }
  return assets;
}

export function mountConsole(router: Router, log?: Logger, dir = consoleDir()): void {
  let assets: Map<string, Asset>;
  try {
    assets = loadAssets(dir);
  } catch (e) {
    log?.error({ err: (e as Error).message, dir }, 'admin: console assets missing; the console is not served');
    return;
  }
  const serve = (name: string) => (ctx: import('koa').Context) => {
    const asset = assets.get(name);
    if (!asset) return;
    ctx.set('Content-Security-Policy', CONSOLE_CSP);
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
    ctx.set('Cross-Origin-Resource-Policy', 'same-origin');
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('ETag', asset.etag);
    if (ctx.get('if-none-match') === asset.etag) {
      ctx.status = 304;
      return;
    }
    ctx.type = asset.type;
    ctx.body = asset.body;
  };
  router.get('/', (ctx) => {
    ctx.redirect('/console/');
  });
  const index = serve('index.html');
  // One route for both: the router's non-strict matching treats /console and /console/ alike.
  router.get('/console', (ctx) => (ctx.path === '/console/' ? index(ctx) : ctx.redirect('/console/')));
  for (const name of assets.keys()) {
    if (name !== 'index.html') router.get(`/console/${name}`, serve(name));
  }
}
