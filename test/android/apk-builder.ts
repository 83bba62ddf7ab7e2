// Builds real APKs for the tests with Debian's aapt, keytool and apksigner (no committed binaries).
// aapt needs the framework's resource table for -I: Debian's android-framework-res package ships it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const FRAMEWORK_RES = '/usr/share/android-framework-res/framework-res.apk';

export interface ManifestOptions {
  packageName?: string;
  versionCode?: number;
  versionName?: string;
  minSdk?: number;
  targetSdk?: number;
  receiver?: string;
  /** Include the GET_PROVISIONING_MODE / ADMIN_POLICY_COMPLIANCE activities Android 12 needs. */
  android12Activities?: boolean;
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
}

export function manifestXml(o: ManifestOptions = {}): string {
  const pkg = o.packageName ?? 'org.example.wardagent';
  const activities =
    (o.android12Activities ?? true)
      ? `
    <activity android:name=".ProvisioningModeActivity" android:exported="true" android:permission="android.permission.BIND_DEVICE_ADMIN">
      <intent-filter><action android:name="android.app.action.GET_PROVISIONING_MODE"/><category android:name="android.intent.category.DEFAULT"/></intent-filter>
    </activity>
    <activity android:name="${pkg}.PolicyComplianceActivity" android:exported="true" android:permission="android.permission.BIND_DEVICE_ADMIN">
      <intent-filter><action android:name="android.app.action.ADMIN_POLICY_COMPLIANCE"/><category android:name="android.intent.category.DEFAULT"/></intent-filter>
    </activity>`
      : '';
  return `<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android"
    package="${pkg}" android:versionCode="${o.versionCode ?? 42}" android:versionName="${xmlEscape(o.versionName ?? '1.2.3')}">
  <uses-sdk android:minSdkVersion="${o.minSdk ?? 24}" android:targetSdkVersion="${o.targetSdk ?? 33}"/>
  <uses-permission android:name="android.permission.INTERNET"/>
  <application android:label="Ward Agent">
    <receiver android:name="${o.receiver ?? '.AdminReceiver'}" android:permission="android.permission.BIND_DEVICE_ADMIN" android:exported="true">
      <meta-data android:name="android.app.device_admin" android:resource="@xml/device_admin"/>
      <intent-filter>
        <action android:name="android.app.action.DEVICE_ADMIN_ENABLED"/>
        <action android:name="android.app.action.PROFILE_PROVISIONING_COMPLETE"/>
      </intent-filter>
    </receiver>${activities}
  </application>
</manifest>
`;
}

const DEVICE_ADMIN_XML = `<device-admin xmlns:android="http://schemas.android.com/apk/res/android">
  <uses-policies><force-lock/><wipe-data/><reset-password/></uses-policies>
</device-admin>
`;

/** aapt package: a manifest plus res/xml/device_admin.xml, no code (the reader needs none). */
export function aaptPackage(dir: string, name: string, manifest: string): string {
  const src = path.join(dir, `${name}-src`);
  fs.mkdirSync(path.join(src, 'res', 'xml'), { recursive: true });
  fs.writeFileSync(path.join(src, 'AndroidManifest.xml'), manifest);
  fs.writeFileSync(path.join(src, 'res', 'xml', 'device_admin.xml'), DEVICE_ADMIN_XML);
  const out = path.join(dir, `${name}-unsigned.apk`);
  execFileSync('aapt', ['package', '-f', '-M', path.join(src, 'AndroidManifest.xml'), '-S', path.join(src, 'res'), '-I', FRAMEWORK_RES, '-F', out], { stdio: 'pipe' });
  return out;
}

export interface Keystore {
  file: string;
  password: string;
}

export function keytool(dir: string, name: string, keyalg: 'EC' | 'RSA'): Keystore {
  const file = path.join(dir, `${name}.p12`);
  const password = 'test-store-pass';
  const args = ['-genkeypair', '-keystore', file, '-storetype', 'PKCS12', '-storepass', password, '-keypass', password, '-alias', name, '-keyalg', keyalg, '-dname', `CN=Ward test ${name}`, '-validity', '3650'];
  if (keyalg === 'EC') args.push('-groupname', 'secp256r1');
  else args.push('-keysize', '2048');
  execFileSync('keytool', args, { stdio: 'pipe' });
  return { file, password };
}

export function apksign(input: string, out: string, ks: Keystore, schemes: { v1: boolean; v2: boolean; v3: boolean; minSdk?: number }): string {
  const args = ['sign', '--ks', ks.file, '--ks-pass', `pass:${ks.password}`, '--out', out];
  args.push('--v1-signing-enabled', String(schemes.v1), '--v2-signing-enabled', String(schemes.v2), '--v3-signing-enabled', String(schemes.v3));
  if (schemes.minSdk !== undefined) args.push('--min-sdk-version', String(schemes.minSdk));
  args.push(input);
  execFileSync('apksigner', args, { stdio: 'pipe' });
  return out;
}

export interface ApksignerReport {
  verifies: boolean;
  schemes: Record<string, boolean>;
  certSha256: string[];
  output: string;
}

/** `apksigner verify -v --print-certs`: the independent verdict and certificate digests. */
export function apksignerVerify(apk: string): ApksignerReport {
  let output: string;
  let verifies = true;
  try {
    output = execFileSync('apksigner', ['verify', '-v', '--print-certs', apk], { stdio: 'pipe' }).toString();
  } catch (err) {
    const e = err as { stdout?: Buffer; stderr?: Buffer };
    output = `${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`;
    verifies = false;
  }
  const schemes: Record<string, boolean> = {};
  for (const m of output.matchAll(/^Verified using (v\d) scheme.*: (true|false)$/gm)) schemes[m[1]] = m[2] === 'true';
  const certSha256 = [...output.matchAll(/^Signer #\d+ certificate SHA-256 digest: ([0-9a-f]{64})$/gm)].map((m) => m[1]);
  return { verifies, schemes, certSha256, output };
}

export interface ApkSet {
  dir: string;
  /** EC key, v1+v2+v3 (apksigner's default for minSdk 24 signs v2 and v3). */
  v2v3: string;
  /** RSA key, v1 only, targetSdk 29 so apksigner accepts it. */
  v1: string;
  unsigned: string;
  /** Signed, but without the Android 12 provisioning activities. */
  noAndroid12: string;
  ecKeystore: Keystore;
  rsaKeystore: Keystore;
}

/** Builds the APK variants used across the Android tests (about two seconds of JVM start-ups). */
export function buildApkSet(dir: string): ApkSet {
  const ecKeystore = keytool(dir, 'ec', 'EC');
  const rsaKeystore = keytool(dir, 'rsa', 'RSA');
  const unsigned = aaptPackage(dir, 'agent', manifestXml());
  const v2v3 = apksign(unsigned, path.join(dir, 'agent-v2v3.apk'), ecKeystore, { v1: true, v2: true, v3: true });
  const legacy = aaptPackage(dir, 'legacy', manifestXml({ minSdk: 21, targetSdk: 29, versionCode: 7, versionName: '0.7' }));
  const v1 = apksign(legacy, path.join(dir, 'legacy-v1.apk'), rsaKeystore, { v1: true, v2: false, v3: false, minSdk: 21 });
  const bare = aaptPackage(dir, 'bare', manifestXml({ android12Activities: false }));
  const noAndroid12 = apksign(bare, path.join(dir, 'bare-signed.apk'), ecKeystore, { v1: false, v2: true, v3: true });
  return { dir, v2v3, v1, unsigned, noAndroid12, ecKeystore, rsaKeystore };
}
