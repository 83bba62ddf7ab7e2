// The admin device list's paging, shared by the platform stores (src/apple/store.ts,
// src/android/store.ts). Each store writes its own SQL over its display_name column (migration
// 0010); this only picks the statement and counts.
import type Database from 'better-sqlite3';
import type { WardDb } from './index';

/** A page of the admin device list: `search` already ASCII-lowercased (src/admin/fleets.ts). */
export interface DevicePageOptions {
  search?: string;
  sort: 'name' | 'lastSeen';
  limit: number;
  offset: number;
}

export interface DeviceListStatements {
  pageByName: Database.Statement;
  pageByLastSeen: Database.Statement;
  keysByName: Database.Statement;
  keysByLastSeen: Database.Statement;
  /** count(*) with the search filter (@needle). */
  countMatching: Database.Statement;
  /** count(*) of every device: the b-tree count, no scan. */
  countAll: Database.Statement;
}

export interface DeviceListKey {
  id: string;
  name: string;
  lastSeenAt: string | null;
}

const BY_NAME = 'display_name COLLATE NOCASE, id';
const BY_LAST_SEEN = `last_seen_at DESC, ${BY_NAME}`;
const KEYS = 'id, display_name AS name, last_seen_at AS seen';

/**
 * The list's statements over a platform's device table: `match` is that store's search filter on
 * @needle (its own columns). Ordered by the display_name index, or last check-in first.
 */
export function prepareDeviceList(db: WardDb, table: string, match: string): DeviceListStatements {
  const page = (columns: string, order: string) =>
    db.sqlite.prepare(`SELECT ${columns} FROM ${table} WHERE ${match} ORDER BY ${order} LIMIT CAST(@limit AS INTEGER) OFFSET CAST(@offset AS INTEGER)`);
  return {
    pageByName: page('*', BY_NAME),
    pageByLastSeen: page('*', BY_LAST_SEEN),
    keysByName: page(KEYS, BY_NAME),
    keysByLastSeen: page(KEYS, BY_LAST_SEEN),
    countMatching: db.sqlite.prepare(`SELECT count(*) FROM ${table} WHERE ${match}`),
    countAll: db.sqlite.prepare(`SELECT count(*) FROM ${table}`),
  };
}

/** Full rows of one page, in the list's order, and how many devices match. */
export function devicePageOf<Row, T>(s: DeviceListStatements, opts: DevicePageOptions, map: (r: Row) => T): { devices: T[]; total: number } {
  const needle = opts.search || null;
  const rows = (opts.sort === 'lastSeen' ? s.pageByLastSeen : s.pageByName).all({ needle, limit: opts.limit, offset: opts.offset }) as Row[];
  return { devices: rows.map(map), total: matching(s, needle) };
}

/** The same page's sort keys only (id, display_name, last_seen_at), for merging platforms' lists. */
export function deviceKeysOf(s: DeviceListStatements, opts: DevicePageOptions): { keys: DeviceListKey[]; total: number } {
  const needle = opts.search || null;
  const rows = (opts.sort === 'lastSeen' ? s.keysByLastSeen : s.keysByName).all({ needle, limit: opts.limit, offset: opts.offset }) as { id: string; name: string; seen: string | null }[];
  return { keys: rows.map((r) => ({ id: r.id, name: r.name, lastSeenAt: r.seen })), total: matching(s, needle) };
}

function matching(s: DeviceListStatements, needle: string | null): number {
  return (needle ? s.countMatching.pluck().get({ needle }) : s.countAll.pluck().get()) as number;
}
