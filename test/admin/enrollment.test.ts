// Enrollment through the admin surface: the adapters over the Apple and Android token services,
// and the Android QR code served as PNG or JSON, decoded by a real reader (zbarimg).
import fs from 'node:fs';
import path from 'node:path';
import QRCode from 'qrcode';
import t from 'tap';
import { AdminError, androidEnrollmentOf, appleEnrollmentOf, type AndroidTokenSource } from '../../src/admin';
import { tempDir, toolAsync } from '../support/ward';
import { ADMIN_CTX, call, startAdminWard, tokenCredential } from './support';

t.setTimeout(120_000);

const qrPng = (payload: Record<string, unknown>) => QRCode.toBuffer(JSON.stringify(payload), { type: 'png', errorCorrectionLevel: 'M', margin: 4, scale: 6 });

async function zbar(png: Buffer): Promise<string> {
  const file = path.join(tempDir(), 'qr.png');
  fs.writeFileSync(file, png);
  const r = await toolAsync('zbarimg', ['--raw', '-q', '-Sdisable', '-Sqrcode.enable', file]);
  if (r.status !== 0) throw new Error(`zbarimg failed: ${r.stderr}`);
  return r.stdout.trim();
}

function androidSource(withDpc: boolean) {
  const calls: unknown[] = [];
  const source: AndroidTokenSource = {
    currentDpc: () => (withDpc ? { componentName: 'org.example.dpc/.AdminReceiver' } : undefined),
    createToken: (opts) => {
      calls.push(opts);
      return { token: 'wet_secret-token', record: { expiresAt: '2030-01-01T00:00:00.000Z' } };
    },
    provisioningPayload: (token) => ({
      'android.app.extra.PROVISIONING_DEVICE_ADMIN_COMPONENT_NAME': 'org.example.dpc/.AdminReceiver',
      'android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE': { enrollmentToken: token },
    }),
  };
  return { source, calls };
}

t.test('Apple: link from the enrollment token service, lifetime in hours', async (t) => {
  const seen: unknown[] = [];
  const apple = appleEnrollmentOf({
    createToken: async (opts) => {
      seen.push(opts);
      return { url: 'https://ward.example/mdm/enroll?token=abc', expiresAt: '2030-01-01T00:00:00.000Z', id: 'et-1' } as { url: string; expiresAt: string };
    },
  });
  t.same(await apple.enrollmentLink({ singleUse: true, ttlMinutes: 90, group: 'ward-4b' }, ADMIN_CTX), { url: 'https://ward.example/mdm/enroll?token=abc', expiresAt: '2030-01-01T00:00:00.000Z' }, 'only url and expiry come back');
  await apple.enrollmentLink({ singleUse: false }, ADMIN_CTX);
  t.same(seen, [{ group: 'ward-4b', oneTime: true, ttlHours: 1.5 }, { group: undefined, oneTime: false, ttlHours: undefined }]);
});

t.test('Android: refused before a token exists when no DPC was imported; QR decodes to the payload', async (t) => {
  const none = androidSource(false);
  await t.rejects(async () => androidEnrollmentOf(none.source, qrPng).provisioning({ mode: 'fullyManaged' }, ADMIN_CTX), AdminError, 'no DPC: refused');
  t.same(none.calls, [], 'and no enrollment token was created');
  const ok = androidSource(true);
  const out = await androidEnrollmentOf(ok.source, qrPng).provisioning({ mode: 'workProfile', ttlMinutes: 61, maxDevices: 5, group: 'byod' }, ADMIN_CTX);
  t.same(ok.calls, [{ mode: 'work_profile', policyGroup: 'byod', maxDevices: 5, expiresInHours: 2, label: 'admin console' }], 'mode and whole hours as Android takes them');
  t.same(JSON.parse(await zbar(out.png)), out.payload, 'zbarimg reads the payload back from the PNG');
});

t.test('POST /enrollment/android: PNG with Accept: image/png, JSON otherwise', async (t) => {
  const ward = await startAdminWard();
  t.teardown(() => ward.stop());
  const real = ward.admin.attached().includes('androidEnrollment');
  if (!real) ward.admin.attach({ androidEnrollment: androidEnrollmentOf(androidSource(true).source, qrPng) });
  const op = tokenCredential(ward, 'operator');
  const png = await call(ward, op, 'POST', '/enrollment/android', { mode: 'fullyManaged' }, { accept: 'image/png' });
  if (real) {
    // Ward's own Android domain, fresh: no DPC imported yet.
    t.same([png.status, png.json().error], [409, 'no_dpc'], 'the real Android domain without a DPC: 409 no_dpc');
    return;
  }
  t.equal(png.status, 201);
  t.equal(png.headers['content-type'], 'image/png');
  const json = await call(ward, op, 'POST', '/enrollment/android', { mode: 'fullyManaged' });
  t.match(json.headers['content-type'], /application\/json/);
  t.same(JSON.parse(await zbar(png.body)), json.json().payload, 'the PNG carries the same payload the JSON answer shows');
  t.same(JSON.parse(await zbar(Buffer.from(json.json().png, 'base64'))), json.json().payload, 'and so does the base64 PNG in the JSON answer');
});
