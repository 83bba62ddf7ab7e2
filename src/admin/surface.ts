// The admin surface as main.ts builds it: the services (accounts, sessions, tokens, device actions),
// the /api/v1 routes of the route table, the console, and attach() for the other domains.
import fs from 'node:fs';
import path from 'node:path';
import type Router from '@koa/router';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit';
import { type WardConfig, packageRoot } from '../config';
import type { AdminConfig } from '../config/sections/admin';
import type { WardDb } from '../db';
import type { Health, HealthResult } from '../http';
import type { CertificateAuthority } from '../pki';
import { AdminAccounts } from './accounts';
import { mountConsole } from './console';
import { DeviceOperations } from './devices';
import type { AdminDomains, DomainName } from './domains';
import { handlers } from './handlers';
import { pipeline } from './pipeline';
import { API_PREFIX, ROUTES, type RouteSpec } from './routes';
import { SecretSeal } from './sealing';
import { AdminSessions } from './sessions';
import { AdminStore } from './store';
import { ApiTokens } from './tokens';

/** The admin section with its computed defaults filled in. */
export function adminConfigOf(cfg: WardConfig): AdminConfig & { totp: { issuer: string; keyFile: string } } {
  const a = cfg.admin as AdminConfig;
  const keyFile = a.totp.keyFile ? path.resolve(cfg.configDir, a.totp.keyFile) : path.join(cfg.pki.dir, 'admin-totp.key');
  return { ...a, totp: { issuer: a.totp.issuer ?? `Ward ${cfg.hostname}`, keyFile } };
}

export interface AdminServices {
  store: AdminStore;
  accounts: AdminAccounts;
  sessions: AdminSessions;
  tokens: ApiTokens;
  config: ReturnType<typeof adminConfigOf>;
}

/** The services alone (wardctl uses these; the daemon adds routes on top). */
export function adminServices(cfg: WardConfig, db: WardDb, audit: AuditLog): AdminServices {
  const config = adminConfigOf(cfg);
  const store = new AdminStore(db);
  const sessions = new AdminSessions(db, store, audit, config.session);
  const accounts = new AdminAccounts(db, store, audit, SecretSeal.open(config.totp.keyFile), {
    password: config.password, lockout: config.lockout, totpIssuer: config.totp.issuer,
  }, sessions);
  const tokens = new ApiTokens(db, store, audit, config.tokens);
  return { store, accounts, sessions, tokens, config };
}

export interface AdminDeps {
  cfg: WardConfig;
  db: WardDb;
  audit: AuditLog;
  ca: CertificateAuthority;
  health: Health;
  log?: Logger;
}

export interface AdminSurface extends AdminServices {
  devices: DeviceOperations;
  /** Switches on the routes of the domains given (call before the listeners start, or any time after).
   * Fleets add up (several per platform are fine); every other domain is attached once. */
  attach(domains: AdminDomains): void;
  /** Domains attached so far ('devices' once any fleet is). */
  attached(): DomainName[];
  /** Routes this Ward serves now (the OpenAPI document lists exactly these). */
  served(): RouteSpec[];
  /** Scheduled: ends run-out sessions, expires unapproved wipe requests. */
  housekeeping(): { sessions: number; wipeRequests: number };
  health(): HealthResult;
}

function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

export function mountAdmin(router: Router, deps: AdminDeps): AdminSurface {
  const services = adminServices(deps.cfg, deps.db, deps.audit);
  const devices = new DeviceOperations(deps.db, services.store, deps.audit, services.config.wipe);
  const domains: AdminDomains = {};
  const registered = new Set<string>();
  const has = (name: DomainName): boolean => (name === 'devices' ? !!domains.fleets?.length : !!domains[name]);
  const surface: AdminSurface = {
    ...services,
    devices,
    attach,
    attached: () => (['devices', 'compliance', 'policies', 'challenges', 'appleEnrollment', 'androidEnrollment', 'auditBundles', 'auditEvents'] as DomainName[]).filter(has),
    served: () => ROUTES.filter((r) => registered.has(r.id)),
    housekeeping: () => ({ sessions: services.sessions.purge(), wipeRequests: devices.expireOverdue() }),
    health: () => ({
      ok: true,
      details: {
        enabledAdmins: services.store.countEnabled('admin'),
        sessions: services.store.sessionCount(),
        twoPersonWipe: services.config.wipe.requireSecondAdmin,
        domains: surface.attached(),
      },
    }),
  };
  const table = handlers({
    cfg: deps.cfg, admin: services.config, ca: deps.ca, health: deps.health, accounts: services.accounts, sessions: services.sessions,
    tokens: services.tokens, devices, domains, version: packageVersion(), served: surface.served,
  });
  const pipelineDeps = {
    audit: deps.audit, sessions: services.sessions, tokens: services.tokens,
    bodyLimit: deps.cfg.limits.bodyBytes, uploadLimit: services.config.auditUploadBytes,
  };

  function registerReady(): void {
    for (const route of ROUTES) {
      if (registered.has(route.id) || (route.needs && !route.needs.every(has))) continue;
      const handler = table[route.id];
      if (!handler) throw new Error(`admin: route ${route.id} has no handler`);
      const method = route.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
      router[method](API_PREFIX + route.path, pipeline(route, handler, pipelineDeps));
      registered.add(route.id);
    }
  }

  function attach(more: AdminDomains): void {
    for (const fleet of more.fleets ?? []) devices.addFleet(fleet);
    const { fleets, ...rest } = more;
    if (fleets?.length) domains.fleets = [...(domains.fleets ?? []), ...fleets];
    for (const [k, v] of Object.entries(rest)) {
      if (v === undefined) continue;
      if (domains[k as keyof AdminDomains]) throw new Error(`admin: ${k} is already attached`);
      (domains as Record<string, unknown>)[k] = v;
    }
    devices.compliance = domains.compliance;
    registerReady();
  }

  registerReady();
  mountConsole(router, deps.log);
  return surface;
}
