// Real APKs built by aapt and signed by apksigner: what Ward reads from them must match what the Android
// tools themselves report, and anything Android would refuse is refused with a reason.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import t from 'tap';
import { ApkFormatError, checkDpc, readApk } from '../../src/android';
import { apksignerVerify, buildApkSet } from './apk-builder';

// Real peers (aapt, apksigner, wardctl processes) on a shared two-core machine: more than tap's 30 s default.
t.setTimeout(240_000);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ward-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
const set = buildApkSet(dir);

function refusal(fn: () => unknown): ApkFormatError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApkFormatError) return err;
    throw err;
  }
  throw new Error('expected an ApkFormatError, got none');
}

/** `aapt dump badging`: Android's own reading of the manifest. */
function badging(apk: string): Record<string, string> {
  const out = execFileSync('aapt', ['dump', 'badging', apk]).toString();
  const pkg = /^package: name='([^']+)' versionCode='(\d+)' versionName='([^']*)'/m.exec(out);
  const sdk = /^sdkVersion:'(\d+)'/m.exec(out);
  const target = /^targetSdkVersion:'(\d+)'/m.exec(out);
  if (!pkg || !sdk || !target) throw new Error(`unexpected aapt badging output:\n${out}`);
  return { name: pkg[1], versionCode: pkg[2], versionName: pkg[3], minSdk: sdk[1], targetSdk: target[1] };
}

/** The encoding AOSP decodes with Base64.URL_SAFE, made by openssl + tr, independent of Ward's code. */
function opensslChecksum(file: string): string {
  return execFileSync('sh', ['-c', `openssl dgst -sha256 -binary "${file}" | openssl base64 -A | tr '+/' '-_'`]).toString().trim();
}

t.test('v2/v3-signed APK: manifest and checksums agree with aapt, apksigner and openssl', async (t) => {
  const report = apksignerVerify(set.v2v3);
  t.ok(report.verifies, 'apksigner verifies the fixture');
  t.ok(report.schemes.v2 && report.schemes.v3, 'apksigner sees v2 and v3');
  const info = readApk(fs.readFileSync(set.v2v3));
  const b = badging(set.v2v3);
  t.equal(info.manifest.packageName, b.name);
  t.equal(String(info.manifest.versionCode), b.versionCode);
  t.equal(info.manifest.versionName, b.versionName);
  t.equal(String(info.manifest.minSdk), b.minSdk);
  t.equal(String(info.manifest.targetSdk), b.targetSdk);
  t.same(info.manifest.usesPermissions, ['android.permission.INTERNET']);
  t.equal(info.signatureScheme, 'v3');
  t.same(info.verifiedSchemes, ['v3', 'v2']);
  t.same([info.signingCertificateSha256], report.certSha256, 'cert SHA-256 matches apksigner --print-certs');
  const hexFromChecksum = Buffer.from(info.signatureChecksum.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('hex');
  t.equal(hexFromChecksum, report.certSha256[0], 'signature checksum decodes to the apksigner digest');
  t.match(info.signatureChecksum, /^[A-Za-z0-9_-]{43}=$/, 'URL-safe alphabet, padding kept');
  t.equal(info.packageChecksum, opensslChecksum(set.v2v3), 'package checksum matches openssl');
  t.equal(info.sha256, crypto.createHash('sha256').update(fs.readFileSync(set.v2v3)).digest('hex'));
  const x509 = new crypto.X509Certificate(info.signingCertificate);
  t.match(x509.subject, /CN=Ward test ec/);
});

t.test('components: receiver, provisioning activities, meta-data', async (t) => {
  const m = readApk(fs.readFileSync(set.v2v3)).manifest;
  t.equal(m.receivers.length, 1);
  const r = m.receivers[0];
  t.equal(r.name, 'org.example.wardagent.AdminReceiver');
  t.equal(r.declaredName, '.AdminReceiver');
  t.equal(r.permission, 'android.permission.BIND_DEVICE_ADMIN');
  t.equal(r.exported, true);
  t.same(r.intentFilters[0].actions, ['android.app.action.DEVICE_ADMIN_ENABLED', 'android.app.action.PROFILE_PROVISIONING_COMPLETE']);
  t.equal(r.metaData[0].name, 'android.app.device_admin');
  t.equal(r.metaData[0].resource! >>> 24, 0x7f, 'meta-data points at an app resource');
  t.same(
    m.activities.map((a) => [a.name, a.intentFilters[0].actions[0]]),
    [
      ['org.example.wardagent.ProvisioningModeActivity', 'android.app.action.GET_PROVISIONING_MODE'],
      ['org.example.wardagent.PolicyComplianceActivity', 'android.app.action.ADMIN_POLICY_COMPLIANCE'],
    ],
  );
});

t.test('DPC checks: a complete agent has no warnings; the QR component name is short form', async (t) => {
  const info = readApk(fs.readFileSync(set.v2v3));
  for (const receiver of ['.AdminReceiver', 'org.example.wardagent.AdminReceiver', 'org.example.wardagent/.AdminReceiver']) {
    const c = checkDpc(info, receiver);
    t.same(c.warnings, [], `no warnings for ${receiver}`);
    t.equal(c.componentName, 'org.example.wardagent/.AdminReceiver');
    t.equal(c.receiverClass, 'org.example.wardagent.AdminReceiver');
  }
  t.equal(refusal(() => checkDpc(info, 'com.other/.AdminReceiver')).reason, 'receiver-package');
  const wrong = checkDpc(info, '.DeviceAdmin');
  t.same(wrong.warnings.map((w) => w.code), ['receiver-missing']);
  t.match(wrong.warnings[0].message, /org\.example\.wardagent\.DeviceAdmin/);
});

t.test('DPC checks: missing Android 12 activities are warned about, the APK still reads', async (t) => {
  const info = readApk(fs.readFileSync(set.noAndroid12));
  const c = checkDpc(info, '.AdminReceiver');
  t.same(c.warnings.map((w) => w.code).sort(), ['admin-policy-compliance-missing', 'get-provisioning-mode-missing']);
  for (const w of c.warnings) t.match(w.message, /Can't set up device/);
});

t.test('v1-only APK (RSA key): JAR signature verified, cert matches apksigner', async (t) => {
  const report = apksignerVerify(set.v1);
  t.ok(report.verifies, 'apksigner verifies the fixture');
  t.same(report.schemes, { v1: true, v2: false, v3: false, v4: false });
  const info = readApk(fs.readFileSync(set.v1));
  t.equal(info.signatureScheme, 'v1');
  t.same([info.signingCertificateSha256], report.certSha256);
  t.equal(info.manifest.versionCode, 7);
  t.equal(info.manifest.targetSdk, 29);
  t.equal(new crypto.X509Certificate(info.signingCertificate).publicKey.asymmetricKeyType, 'rsa');
  t.same(checkDpc(info, '.AdminReceiver').warnings, [], 'targetSdk 29 with v1 is installable');
  const modern = { ...info, manifest: { ...info.manifest, targetSdk: 30 } };
  t.same(checkDpc(modern, '.AdminReceiver').warnings.map((w) => w.code), ['v1-signature-only']);
});

t.test('unsigned, truncated and not-an-APK files are refused with a reason', async (t) => {
  const unsigned = refusal(() => readApk(fs.readFileSync(set.unsigned)));
  t.equal(unsigned.reason, 'unsigned');
  t.match(unsigned.message, /not signed/);

  const full = fs.readFileSync(set.v2v3);
  for (const cut of [1, 22, 100, Math.floor(full.length / 2), full.length - 1]) {
    const e = refusal(() => readApk(full.subarray(0, full.length - cut)));
    t.ok(['not-a-zip', 'malformed-zip', 'malformed-signing-block'].includes(e.reason), `cut ${cut} bytes: ${e.reason}: ${e.message}`);
  }
  t.equal(refusal(() => readApk(Buffer.alloc(0))).reason, 'not-a-zip');
  t.equal(refusal(() => readApk(Buffer.from('<?xml version="1.0"?><manifest/>'))).reason, 'not-a-zip');
  const png = execFileSync('openssl', ['rand', '4096']);
  t.equal(refusal(() => readApk(png)).reason, 'not-a-zip');
});

t.test('tampering is refused: a changed byte, a stripped v2/v3 block, a changed v1 entry', async (t) => {
  const signed = fs.readFileSync(set.v2v3);
  // Flip a byte in the stored resources.arsc data: the v2/v3 content digest no longer matches.
  const at = signed.indexOf(Buffer.from([0x02, 0x00, 0x0c, 0x00])); // ResTable header of resources.arsc
  t.ok(at > 0, 'found resources.arsc data');
  const flipped = Buffer.from(signed);
  flipped[at + 20] ^= 0xff;
  const e1 = refusal(() => readApk(flipped));
  t.equal(e1.reason, 'bad-signature');
  t.match(e1.message, /do not match the signed digest/);
  t.notOk(apksignerVerify(writeTmp('flipped.apk', flipped)).verifies, 'apksigner agrees it is broken');

  // Remove the APK Signing Block: the remaining v1 signature says it was signed with v2 (rollback).
  const stripped = stripSigningBlock(signed);
  const e2 = refusal(() => readApk(stripped));
  t.equal(e2.reason, 'bad-signature');
  t.match(e2.message, /tampered/);

  // v1: change resources.arsc and fix its CRC so only the MANIFEST.MF digest can catch it.
  const v1 = Buffer.from(fs.readFileSync(set.v1));
  const arsc = v1.indexOf(Buffer.from([0x02, 0x00, 0x0c, 0x00]));
  v1[arsc + 20] ^= 0xff;
  fixCrc(v1, 'resources.arsc');
  const e3 = refusal(() => readApk(v1));
  t.equal(e3.reason, 'bad-signature');
  t.match(e3.message, /resources\.arsc does not match its MANIFEST\.MF digest/);
});

function writeTmp(name: string, data: Buffer): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, data);
  return p;
}

/** Cuts the APK Signing Block out and patches the EOCD's central directory offset. */
function stripSigningBlock(apk: Buffer): Buffer {
  const eocd = apk.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const cd = apk.readUInt32LE(eocd + 16);
  const size = Number(apk.readBigUInt64LE(cd - 24));
  const start = cd - size - 8;
  const out = Buffer.concat([apk.subarray(0, start), apk.subarray(cd)]);
  out.writeUInt32LE(start, out.length - (apk.length - eocd) + 16);
  return out;
}

/** Recomputes one stored entry's CRC-32 in its local and central headers. */
function fixCrc(apk: Buffer, name: string): void {
  const eocd = apk.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  let p = apk.readUInt32LE(eocd + 16);
  while (apk.readUInt32LE(p) === 0x02014b50) {
    const n = apk.readUInt16LE(p + 28);
    const next = p + 46 + n + apk.readUInt16LE(p + 30) + apk.readUInt16LE(p + 32);
    if (apk.toString('utf8', p + 46, p + 46 + n) === name) {
      const lh = apk.readUInt32LE(p + 42);
      const data = lh + 30 + apk.readUInt16LE(lh + 26) + apk.readUInt16LE(lh + 28);
      const crc = zlib.crc32(apk.subarray(data, data + apk.readUInt32LE(p + 20)));
      apk.writeUInt32LE(crc, p + 16);
      apk.writeUInt32LE(crc, lh + 14);
      return;
    }
    p = next;
  }
  throw new Error(`no entry ${name}`);
}
