// The device list pages in SQL (migration 0010, the stores' devicePage): at 100,000 Apple devices a
// page is an index walk (EXPLAIN QUERY PLAN), and on names mixing case, ties, punctuation, non-ASCII
// and astral characters the SQL order, the SQL name and the SQL search are exactly what the admin
// list's JS comparator, name and search give over the whole fleet (the merge relies on it).
import t from 'tap';
import { type AndroidDeviceSource, type AppleDeviceSource, androidFleetOf, appleFleetOf } from '../../src/admin';
import type { DeviceFleet, DeviceQuery } from '../../src/admin/domains';
import { AndroidStore } from '../../src/android/store';
import { deviceOrder } from '../../src/admin/devices';
import { ADMIN_CTX, call, startAdminWard, tokenCredential } from './support';

t.setTimeout(300_000);

const APPLE = 100_000;
const ANDROID = 5_000;

/** Deterministic choices (no Math.random: a failure must reproduce). */
function picker(seed: number) {
  let x = seed;
  return <T>(xs: readonly T[]): T => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return xs[(x >>> 8) % xs.length];
  };
}

const NAMES = ['Ward 4B iPad', 'ward 4b ipad', 'WARD 4B IPAD', 'Ward 4B iPad 2', 'ICU tablet', 'icu Tablet', '_kiosk', '[kiosk]', 'Zeta', 'zeta', 'Émile bed',
  'émile bed', '😀 bed', '\uE000 bed', 'a', 'A', 'ab', 'aB', ''] as const;
const SEEN = [null, '2026-11-01T08:00:00.000Z', '2026-11-01T08:00:00.000Z', '2026-11-02T07:59:59.000Z', '2026-11-02T08:00:00.000Z'] as const;

t.test('100,000 Apple and 5,000 Android devices: an index walk per page, in exactly the full sort order', async (t) => {
  const ward = await startAdminWard();
  t.teardown(() => ward.stop());
  const sql = ward.db.sqlite;
  const pick = picker(7);

  const appleRow = sql.prepare(`INSERT INTO apple_devices (id, enrollment_type, status, group_name, cert_serial, topic, serial_number, model, model_name,
    product_name, device_name, authenticated_at, last_seen_at) VALUES (?, 'device', 'enrolled', 'default', ?, 'com.apple.mgmt.test', ?, 'iPad13,18', ?, ?, ?, ?, ?)`);
  ward.db.write(() => {
    for (let i = 0; i < APPLE; i++) {
      // ids differing only in case: the tie-break on id is case-sensitive (BINARY).
      const id = `${pick(['UDID', 'udid', 'Udid'])}-${String(i % 40_000).padStart(5, '0')}-${i}`;
      const named = pick([true, true, true, false]);
      appleRow.run(id, `cert-${i}`, pick([null, `SER${i % 97}`, `ser${i % 97}`]), pick([null, 'iPad', 'ipad Pro']), pick([null, 'iPad13,18']),
        named ? `${pick(NAMES)}${pick(['', '', ` ${i % 50}`])}` : null, '2026-01-01T00:00:00.000Z', pick(SEEN));
    }
  });
  const { record: token } = ward.android.createToken({ mode: 'fully_managed' }, ADMIN_CTX);
  const androidRow = sql.prepare(`INSERT INTO android_devices (id, installation_id, token_id, mode, policy_group, state, cert_serial, facts, status,
    last_seen_at, enrolled_at) VALUES (?, ?, ?, 'fully_managed', 'default', 'active', ?, ?, ?, ?, '2026-01-01T00:00:00.000Z')`);
  ward.db.write(() => {
    for (let i = 0; i < ANDROID; i++) {
      const facts = { manufacturer: pick(['Google', 'google', 'GOOGLE', 'Samsung', '', null, 42]), model: pick(['Pixel 8', 'pixel 8', 'Google Pixel 8', 'GOOGLE pixel', 'SM-T500', '', null, 7]),
        serialNumber: pick([`ANDR${i % 31}`, `andr${i % 31}`, '', null]) };
      const status = pick([null, { model: 'Pixel 9' }, { model: '' }, { model: 5 }, { battery: 80 }]);
      androidRow.run(`${pick(['and', 'AND'])}-${String(i).padStart(5, '0')}`, `inst-${i}`, token.id, `acert-${i}`, JSON.stringify(facts), status && JSON.stringify(status),
        pick(SEEN.slice(1)));
    }
  });

  const svc = ward.apple.service;
  const paged: [string, DeviceFleet, DeviceFleet][] = [
    ['Apple', appleFleetOf(svc), appleFleetOf({ devices: (o) => svc.devices(o), device: () => undefined, command: () => undefined, queueCommand: async () => ({ uuid: '' }) } satisfies AppleDeviceSource)],
    ['Android', androidFleetOf(ward.android), androidFleetOf({ devices: (l, o) => ward.android.devices(l, o), device: () => undefined, commandsOf: () => [], queueCommand: () => { throw new Error('unused'); } } satisfies AndroidDeviceSource)],
  ];
  const ids = async (fleet: DeviceFleet, q: Omit<DeviceQuery, 'limit' | 'offset'>, limit = APPLE + ANDROID, offset = 0) => {
    const page = await fleet.list({ ...q, limit, offset });
    return { ids: page.devices.map((d) => d.id), names: page.devices.map((d) => d.name), total: page.total };
  };

  for (const [platform, sqlFleet, wholeFleet] of paged) {
    for (const q of [{ sort: 'name' as const }, { sort: 'lastSeen' as const }, { q: ' IPAD ' }, { q: 'Émile' }, { q: 'andr1' }, { q: 'pixel 8', sort: 'lastSeen' as const }]) {
      const got = await ids(sqlFleet, q);
      const want = await ids(wholeFleet, q);
      t.equal(got.total, want.total, `${platform} ${JSON.stringify(q)}: the same total`);
      t.ok(got.ids.length === want.ids.length && got.ids.every((id, i) => id === want.ids[i]), `${platform} ${JSON.stringify(q)}: SQL order = the JS sort of the whole fleet (${want.ids.length} devices)`);
    }
    const all = await ids(wholeFleet, { sort: 'name' });
    const middle = await ids(sqlFleet, { sort: 'name' }, 50, 1_000);
    t.same(middle.ids, all.ids.slice(1_000, 1_050), `${platform}: a page from the middle is that slice of the full order`);
  }

  // Through the API, both fleets merged: each page is that slice of the whole fleet's order.
  const op = tokenCredential(ward, 'operator');
  for (const q of [{ sort: 'name' }, { sort: 'lastSeen' }, { q: 'ward 4b' }] as Record<string, string>[]) {
    const whole = (await Promise.all(paged.map(([, , f]) => f.list({ ...q, limit: APPLE + ANDROID, offset: 0 })))).flatMap((p) => p.devices).sort(deviceOrder(q.sort as DeviceQuery['sort']));
    for (const offset of [0, 4_990, 60_000, Math.min(100_000, whole.length - 20)]) {
      const params = new URLSearchParams({ ...q, limit: '50', offset: String(offset) });
      const page = (await call(ward, op, 'GET', `/devices?${params}`)).json() as { devices: { id: string }[]; total: number };
      t.same([page.total, page.devices.map((d) => d.id)], [whole.length, whole.slice(offset, offset + 50).map((d) => d.id)], `GET /devices?${params}: the merged page is that slice of the full order`);
    }
  }

  // The SQL name (what the index orders) is the name the list shows.
  for (const [table, fleet] of [['apple_devices', paged[0][2]], ['android_devices', paged[1][2]]] as const) {
    const shown = new Map((await fleet.list({ limit: APPLE + ANDROID, offset: 0 })).devices.map((d) => [d.id, d.name]));
    const rows = sql.prepare(`SELECT id, display_name FROM ${table}`).all() as { id: string; display_name: string }[];
    t.ok(rows.length > 0 && rows.every((r) => shown.get(r.id) === r.display_name), `${table}.display_name = the name the list shows, for all ${rows.length}`);
  }
  // Ties and case really are in the data: otherwise the order checks above prove little.
  const folded = sql.prepare('SELECT count(*) FROM (SELECT lower(display_name) AS n FROM apple_devices GROUP BY n HAVING count(DISTINCT display_name) > 1)').pluck().get() as number;
  t.ok(folded > 10, `names equal but for case: ${folded} groups`);

  // A page reads the index in order and stops: no temporary B-tree sorting every device.
  const statements = [
    ['apple_devices', (ward.apple.store as unknown as { list: Record<string, { source: string }> }).list.pageByName.source],
    ['apple_devices', (ward.apple.store as unknown as { list: Record<string, { source: string }> }).list.keysByName.source],
    ['android_devices', (new AndroidStore(ward.db) as unknown as { list: Record<string, { source: string }> }).list.pageByName.source],
    ['android_devices', (new AndroidStore(ward.db) as unknown as { list: Record<string, { source: string }> }).list.keysByName.source],
  ] as const;
  for (const [table, source] of statements) {
    for (const needle of [null, 'ipad']) {
      const plan = (sql.prepare(`EXPLAIN QUERY PLAN ${source}`).all({ needle, limit: 50, offset: 0 }) as { detail: string }[]).map((r) => r.detail).join('; ');
      t.match(plan, new RegExp(`SCAN ${table} USING INDEX ${table}_display_name`), `${table}, search ${needle}: walks ${table}_display_name (${plan})`);
      t.notMatch(plan, /TEMP B-TREE/, `${table}, search ${needle}: no sort of every device`);
    }
  }
});
