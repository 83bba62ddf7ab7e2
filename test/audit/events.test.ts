// AuditLog.events: the reads behind the admin API's device history and auditor look-ups.
import path from 'node:path';
import t from 'tap';
import { AuditLog } from '../../src/audit';
import { openDatabase } from '../../src/db';
import { tempDir } from '../support/ward';

t.test('filters, device history across platforms, paging newest first', async (t) => {
  const db = openDatabase(path.join(tempDir(), 'a.db'));
  const audit = new AuditLog(db);
  const admin = { type: 'admin' as const, id: 'nora' };
  audit.record({ action: 'admin.login.succeeded', actor: admin });
  audit.record({ action: 'apple.command.queued', actor: admin, target: { type: 'device', id: 'D1' } });
  audit.record({ action: 'apple.checkin.token_update', actor: { type: 'device', id: 'D1' } });
  audit.record({ action: 'android.command.queued', actor: admin, target: { type: 'android_device', id: 'A7' } });
  audit.record({ action: 'admina.thing.done', actor: { type: 'system', id: 'ward' } });
  audit.record({ action: 'admin_x.thing.done', actor: { type: 'system', id: 'ward' } });

  const actions = (f: Parameters<AuditLog['events']>[0]) => audit.events(f).map((e) => e.action);
  t.same(actions({ limit: 100, target: { type: 'device', id: 'D1' } }), ['apple.checkin.token_update', 'apple.command.queued'], 'what was done to D1 and what D1 did');
  t.same(actions({ limit: 100, target: { type: 'device', id: 'A7' } }), ['android.command.queued'], 'Android devices too');
  t.same(actions({ limit: 100, action: 'admin.' }), ['admin.login.succeeded'], 'a prefix, not a pattern');
  t.same(actions({ limit: 100, action: 'admin_' }), ['admin_x.thing.done'], 'underscore is literal');
  t.same(actions({ limit: 100, actor: 'nora' }), ['android.command.queued', 'apple.command.queued', 'admin.login.succeeded']);
  const page1 = audit.events({ limit: 2 });
  t.same(page1.map((e) => e.seq), [6, 5], 'newest first');
  t.same(audit.events({ limit: 2, beforeSeq: page1[1].seq }).map((e) => e.seq), [4, 3], 'the next page');
  const one = audit.events({ limit: 1, target: { type: 'device', id: 'D1' } })[0];
  t.same(one.actor, { type: 'device', id: 'D1' });
  t.notOk('requestId' in one);
  t.same(audit.events({ limit: 100, since: '2999-01-01T00:00:00Z' }), []);
  db.close();
});
