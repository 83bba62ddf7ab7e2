// The provisioning QR payload built from a real signed APK: the checksums are the ones apksigner and
// openssl compute, the JSON has the types ManagedProvisioning reads, and zbarimg decodes the PNG back
// to exactly the same text.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import {
  ADMIN_EXTRA,
  PROVISIONING_EXTRA as EXTRA,
  ProvisioningInputError,
  checkDpc,
  provisioningJson,
  provisioningPayload,
  provisioningQrPng,
  readApk,
  type ProvisioningInput,
} from '../../src/android';
import { aaptPackage, apksign, apksignerVerify, keytool, manifestXml } from './apk-builder';

// Real peers (aapt, apksigner, wardctl processes) on a shared two-core machine: more than tap's 30 s default.
t.setTimeout(240_000);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const apkPath = apksign(aaptPackage(dir, 'agent', manifestXml()), path.join(dir, 'agent.apk'), keytool(dir, 'ec', 'EC'), { v1: false, v2: true, v3: true });
const apk = readApk(fs.readFileSync(apkPath));
const dpc = checkDpc(apk, '.AdminReceiver');
const caSha256 = crypto.createHash('sha256').update('not really a CA').digest('hex');

function input(over: Partial<ProvisioningInput> = {}): ProvisioningInput {
  return {
    dpc: {
      componentName: dpc.componentName,
      downloadUrl: 'http://192.0.2.10:8080/android/dpc.apk',
      signatureChecksum: apk.signatureChecksum,
      packageChecksum: apk.packageChecksum,
    },
    ward: { serverUrl: 'https://ward.hospital.example:8443', enrollmentToken: 'tok_abc123', caSha256, enrollmentMode: 'fully_managed' },
    wifi: { ssid: 'HOSP-MED', securityType: 'WPA', password: 'correct horse', hidden: true, pacUrl: 'http://192.0.2.10:8080/android/proxy.pac' },
    locale: 'en_US',
    timeZone: 'America/Chicago',
    ...over,
  };
}

t.test('payload keys, values and JSON types', async (t) => {
  const p = provisioningPayload(input());
  t.equal(p[EXTRA.COMPONENT_NAME], 'org.example.wardagent/.AdminReceiver');
  t.equal(p[EXTRA.DOWNLOAD_LOCATION], 'http://192.0.2.10:8080/android/dpc.apk');
  const certHex = Buffer.from(String(p[EXTRA.SIGNATURE_CHECKSUM]), 'base64url').toString('hex');
  t.same([certHex], apksignerVerify(apkPath).certSha256, 'signature checksum is the cert digest apksigner prints');
  t.equal(p[EXTRA.PACKAGE_CHECKSUM], crypto.createHash('sha256').update(fs.readFileSync(apkPath)).digest('base64').replace(/\+/g, '-').replace(/\//g, '_'));
  t.match(String(p[EXTRA.SIGNATURE_CHECKSUM]), /=$/, 'padding kept');
  t.equal(p[EXTRA.WIFI_SSID], '"HOSP-MED"', 'SSID quoted as WifiConfiguration.SSID expects');
  t.equal(p[EXTRA.WIFI_SECURITY_TYPE], 'WPA');
  t.equal(p[EXTRA.WIFI_PASSWORD], 'correct horse');
  t.equal(p[EXTRA.WIFI_HIDDEN], true, 'boolean, not "true"');
  t.equal(p[EXTRA.WIFI_PAC_URL], 'http://192.0.2.10:8080/android/proxy.pac');
  t.equal(p[EXTRA.SKIP_ENCRYPTION], false);
  t.equal(p[EXTRA.LEAVE_ALL_SYSTEM_APPS_ENABLED], false);
  t.equal(p[EXTRA.LOCALE], 'en_US');
  t.equal(p[EXTRA.TIME_ZONE], 'America/Chicago');
  t.same(p[EXTRA.ADMIN_EXTRAS_BUNDLE], {
    [ADMIN_EXTRA.SERVER_URL]: 'https://ward.hospital.example:8443',
    [ADMIN_EXTRA.ENROLLMENT_TOKEN]: 'tok_abc123',
    [ADMIN_EXTRA.CA_SHA256]: caSha256,
    [ADMIN_EXTRA.ENROLLMENT_MODE]: 'fully_managed',
  });
  for (const k of Object.keys(p)) t.match(k, /^android\.app\.extra\.PROVISIONING_/, k);
  t.equal(provisioningJson(provisioningPayload(input())), provisioningJson(p), 'pure: same input, same bytes');
});

t.test('optional parts stay out when not configured', async (t) => {
  const p = provisioningPayload(input({ wifi: undefined, locale: undefined, timeZone: undefined, dpc: { ...input().dpc, packageChecksum: undefined } }));
  for (const k of [EXTRA.WIFI_SSID, EXTRA.WIFI_PASSWORD, EXTRA.WIFI_PAC_URL, EXTRA.LOCALE, EXTRA.TIME_ZONE, EXTRA.PACKAGE_CHECKSUM]) {
    t.notOk(k in p, `${k} absent`);
  }
  t.ok(EXTRA.SIGNATURE_CHECKSUM in p);
  const open = provisioningPayload(input({ wifi: { ssid: '"Guest"' } }));
  t.equal(open[EXTRA.WIFI_SSID], '"Guest"', 'an already quoted SSID is not quoted twice');
  t.equal(open[EXTRA.WIFI_SECURITY_TYPE], 'NONE');
  t.notOk(EXTRA.WIFI_PASSWORD in open);
});

t.test('bad input is refused with a message', async (t) => {
  const cases: [string, Partial<ProvisioningInput>, RegExp][] = [
    ['no checksum', { dpc: { ...input().dpc, signatureChecksum: undefined, packageChecksum: undefined } }, /checksum is required/],
    ['unpadded checksum', { dpc: { ...input().dpc, signatureChecksum: apk.signatureChecksum.slice(0, -1) } }, /with padding/],
    ['standard base64 checksum', { dpc: { ...input().dpc, signatureChecksum: `${'+'.repeat(43)}=` } }, /URL-safe/],
    ['component without class', { dpc: { ...input().dpc, componentName: 'org.example.wardagent' } }, /package\/class/],
    ['ftp download', { dpc: { ...input().dpc, downloadUrl: 'ftp://x/dpc.apk' } }, /http\(s\) URL/],
    ['plain-http server', { ward: { ...input().ward, serverUrl: 'http://ward:8443' } }, /not an https URL/],
    ['CA fingerprint uppercase', { ward: { ...input().ward, caSha256: caSha256.toUpperCase() } }, /64 lowercase hex/],
    ['empty token', { ward: { ...input().ward, enrollmentToken: '' } }, /token is empty/],
    ['WPA without password', { wifi: { ssid: 'X', securityType: 'WPA' } }, /needs a password/],
    ['SSID too long', { wifi: { ssid: 'x'.repeat(33) } }, /1 to 32 bytes/],
    ['bad security type', { wifi: { ssid: 'X', securityType: 'WPA3' as 'WPA' } }, /not NONE, WPA, WEP or EAP/],
    ['locale with dash', { locale: 'en-US' }, /like en_US/],
    ['unknown time zone', { timeZone: 'Mars/Olympus' }, /IANA/],
  ];
  for (const [label, over, message] of cases) {
    t.throws(() => provisioningPayload(input(over)), message, label);
    try {
      provisioningPayload(input(over));
    } catch (err) {
      t.ok(err instanceof ProvisioningInputError, `${label}: typed error`);
    }
  }
});

t.test('zbarimg decodes the QR PNG to the same JSON', async (t) => {
  const payload = provisioningPayload(input());
  const png = await provisioningQrPng(payload);
  t.ok(png.subarray(1, 4).equals(Buffer.from('PNG')), 'PNG signature');
  const file = path.join(dir, 'qr.png');
  fs.writeFileSync(file, png);
  // QR only: with every symbology on, zbarimg now and then also reads a linear barcode out of the
  // QR's modules (seen once in CI: a second line "0112686271972571").
  const decoded = execFileSync('zbarimg', ['--raw', '-q', '-Sdisable', '-Sqrcode.enable', file]).toString().replace(/\n$/, '');
  t.equal(decoded, provisioningJson(payload));
  t.same(JSON.parse(decoded), payload);
});
