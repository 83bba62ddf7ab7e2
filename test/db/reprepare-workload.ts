// Run under gdb by reprepare.test.ts: prepares every statement the domain stores prepare up front
// (as the daemon does at start), then executes each several times with changing bindings. gdb
// counts sqlite3Reprepare calls per SQL text; this file only does the work.
import Database from 'better-sqlite3';
import { openDatabase, type WardDb } from '../../src/db';
import { prepareDeviceList } from '../../src/db/device-list';
import { AdminStore } from '../../src/admin/store';
import { AndroidStore } from '../../src/android/store';
import { AppleStore } from '../../src/apple/store';
import { AuditLog, AuditStore } from '../../src/audit/store';
import { OpsStore } from '../../src/ops/store';
import { PkiStore } from '../../src/pki/store';
import { PolicyStore } from '../../src/policy/store';
import { ScepStore } from '../../src/scep/store';

// The database file comes migrated (by the test, outside gdb): schema changes re-prepare statements
// too, and must not count here.
const file = process.argv[2]!;
const db: WardDb = openDatabase(file);
const statements: Database.Statement[] = [];
const prepare = db.sqlite.prepare.bind(db.sqlite);
db.sqlite.prepare = ((sql: string) => {
  const s = prepare(sql);
  statements.push(s);
  return s;
}) as typeof db.sqlite.prepare;

new AdminStore(db);
new AndroidStore(db);
new AppleStore(db);
new AuditLog(db);
new AuditStore(db);
new OpsStore(db.sqlite);
new PkiStore(db);
new PolicyStore(db);
new ScepStore(db);
prepareDeviceList(db, 'apple_devices', 'id');
db.sqlite.prepare = prepare;

// Positional (?) and named (@name, :name, $name) parameters, read from the SQL text.
function parameters(sql: string): { positional: number; named: string[] } {
  const text = sql.replace(/'[^']*'/g, "''");
  const named = [...new Set([...text.matchAll(/[@:$]([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!))];
  return { positional: (text.match(/\?/g) ?? []).length, named };
}

db.sqlite.prepare('BEGIN').run();
for (const s of statements) {
  const { positional, named } = parameters(s.source);
  for (let round = 0; round < 4; round++) {
    // Strings in two rounds and numbers in two: each round binds values the previous did not.
    const value = (i: number) => (round < 2 ? `v${round}-${i}` : round * 100 + i);
    const args: unknown[] = named.length > 0
      ? [Object.fromEntries(named.map((n, i) => [n, value(i)]))]
      : Array.from({ length: positional }, (_, i) => value(i));
    try {
      if (s.reader) s.all(...args);
      else s.run(...args);
    } catch {
      // Constraint and type errors are expected with made-up values; the statement still stepped.
    }
  }
}
db.sqlite.prepare('ROLLBACK').run();
db.close();
process.stdout.write(`statements ${statements.length}\n`);
