// Reads a device-policy controller APK the way Android will: its binary manifest (package, version,
// components), its signing certificate (APK Signature Scheme v3, then v2, then v1 JAR as fallback, each
// verified), and the checksums the provisioning QR code pins. Refuses what Android would refuse.
import crypto from 'node:crypto';
import { parseAxml, type AxmlAttribute, type AxmlElement } from './axml';
import { verifyJarSignature, type JarLimits } from './jar-signature';
import {
  APK_SIGNATURE_SCHEME_V2_BLOCK_ID,
  APK_SIGNATURE_SCHEME_V3_BLOCK_ID,
  findSigningBlock,
  verifySchemeBlock,
} from './signing-block';
import { ApkFormatError, defaultZipLimits, readZipDirectory, readZipEntry } from './zip';

export { ApkFormatError };

export const ANDROID_NS = 'http://schemas.android.com/apk/res/android';
export const BIND_DEVICE_ADMIN = 'android.permission.BIND_DEVICE_ADMIN';
export const ACTION_DEVICE_ADMIN_ENABLED = 'android.app.action.DEVICE_ADMIN_ENABLED';
export const ACTION_GET_PROVISIONING_MODE = 'android.app.action.GET_PROVISIONING_MODE';
export const ACTION_ADMIN_POLICY_COMPLIANCE = 'android.app.action.ADMIN_POLICY_COMPLIANCE';
export const META_DATA_DEVICE_ADMIN = 'android.app.device_admin';

// Framework attribute resource ids (frameworks/base/core/res/res/values/public.xml). Android reads
// android: attributes by these ids, not by their names, so a renamed string cannot fool this reader.
const ATTR = {
  name: 0x01010003,
  permission: 0x01010006,
  exported: 0x01010010,
  enabled: 0x0101000e,
  value: 0x01010024,
  resource: 0x01010025,
  minSdkVersion: 0x0101020c,
  targetSdkVersion: 0x01010270,
  versionCode: 0x0101021b,
  versionName: 0x0101021c,
  testOnly: 0x01010272,
  targetActivity: 0x01010202,
  versionCodeMajor: 0x01010576,
} as const;

export interface IntentFilter {
  actions: string[];
  categories: string[];
}

export interface ManifestComponent {
  kind: 'activity' | 'activity-alias' | 'receiver' | 'service';
  /** Fully qualified class name (".AdminReceiver" resolved against the package). */
  name: string;
  /** The name exactly as written in the manifest. */
  declaredName: string;
  permission: string | null;
  /** android:exported when set literally; null when absent (or a resource reference). */
  exported: boolean | null;
  enabled: boolean | null;
  targetActivity: string | null;
  intentFilters: IntentFilter[];
  metaData: { name: string; value: string | number | boolean | null; resource: number | null }[];
}

export interface AndroidManifest {
  packageName: string;
  /** The long version code: versionCodeMajor << 32 | versionCode. */
  versionCode: number;
  versionName: string | null;
  minSdk: number;
  targetSdk: number;
  testOnly: boolean;
  usesPermissions: string[];
  receivers: ManifestComponent[];
  /** Activities and activity aliases (an alias with the intent filter satisfies Android just as well). */
  activities: ManifestComponent[];
  services: ManifestComponent[];
}

export type SignatureScheme = 'v3' | 'v2' | 'v1';

export interface ApkInfo {
  manifest: AndroidManifest;
  /** The scheme Android will verify on a current device: v3 if present, then v2, then v1. */
  signatureScheme: SignatureScheme;
  /** All schemes found and verified. */
  verifiedSchemes: SignatureScheme[];
  /** Each signer's certificates (DER), the signer's own first. */
  signers: Buffer[][];
  /** The first signer's certificate (DER): what DEVICE_ADMIN_SIGNATURE_CHECKSUM pins. */
  signingCertificate: Buffer;
  /** SHA-256 of signingCertificate, URL-safe base64 with padding (PROVISIONING_DEVICE_ADMIN_SIGNATURE_CHECKSUM). */
  signatureChecksum: string;
  /** SHA-256 of the APK file, same encoding (PROVISIONING_DEVICE_ADMIN_PACKAGE_CHECKSUM). */
  packageChecksum: string;
  /** SHA-256 of the APK file, lowercase hex (for humans and `sha256sum`). */
  sha256: string;
  /** SHA-256 of signingCertificate, lowercase hex (what `apksigner verify --print-certs` shows). */
  signingCertificateSha256: string;
  size: number;
}

export interface ApkLimits extends JarLimits {
  maxApkBytes: number;
}

export const defaultApkLimits: ApkLimits = {
  ...defaultZipLimits,
  maxTotalBytes: 1024 * 1024 * 1024,
  maxApkBytes: 512 * 1024 * 1024,
};

/**
 * The checksum encoding AOSP ManagedProvisioning expects: it decodes with Base64.URL_SAFE, and AOSP's own
 * examples keep the '=' padding (Node's 'base64url' would drop it).
 */
export function androidChecksum(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/** PackageParser.buildClassName: ".Foo" and "Foo" are relative to the package. */
export function resolveClassName(packageName: string, name: string): string {
  if (name.startsWith('.')) return packageName + name;
  if (!name.includes('.')) return `${packageName}.${name}`;
  return name;
}

function malformed(message: string): never {
  throw new ApkFormatError('malformed-manifest', `AndroidManifest.xml: ${message}`);
}

function findAttr(el: AxmlElement, id: number, name: string): AxmlAttribute | undefined {
  return (
    el.attributes.find((a) => a.resourceId === id) ??
    el.attributes.find((a) => (a.resourceId === null || a.resourceId === 0) && a.namespace === ANDROID_NS && a.name === name)
  );
}

function str(el: AxmlElement, key: keyof typeof ATTR): string | null {
  const a = findAttr(el, ATTR[key], key);
  return a && a.value.type === 'string' ? a.value.value : null;
}

function int(el: AxmlElement, key: keyof typeof ATTR): number | null {
  const a = findAttr(el, ATTR[key], key);
  if (!a) return null;
  if (a.value.type === 'int') return a.value.value;
  // aapt keeps a numeric literal typed as int; a string that is all digits is accepted the way PackageParser does.
  if (a.value.type === 'string' && /^\d+$/.test(a.value.value)) return Number(a.value.value);
  return null;
}

function bool(el: AxmlElement, key: keyof typeof ATTR): boolean | null {
  const a = findAttr(el, ATTR[key], key);
  return a && a.value.type === 'boolean' ? a.value.value : null;
}

function component(kind: ManifestComponent['kind'], el: AxmlElement, packageName: string): ManifestComponent {
  const declaredName = str(el, 'name');
  if (!declaredName) malformed(`<${kind}> on line ${el.line} has no android:name`);
  const intentFilters: IntentFilter[] = [];
  const metaData: ManifestComponent['metaData'] = [];
  for (const child of el.children) {
    if (child.name === 'intent-filter') {
      const names = (tag: string) => child.children.filter((c) => c.name === tag).map((c) => str(c, 'name')).filter((n): n is string => n !== null);
      intentFilters.push({ actions: names('action'), categories: names('category') });
    } else if (child.name === 'meta-data') {
      const name = str(child, 'name');
      if (!name) continue;
      const v = findAttr(child, ATTR.value, 'value')?.value;
      const r = findAttr(child, ATTR.resource, 'resource')?.value;
      metaData.push({
        name,
        value: v && (v.type === 'string' || v.type === 'int' || v.type === 'boolean') ? v.value : null,
        resource: r && r.type === 'reference' ? r.id : null,
      });
    }
  }
  const target = kind === 'activity-alias' ? str(el, 'targetActivity') : null;
  return {
    kind,
    name: resolveClassName(packageName, declaredName),
    declaredName,
    permission: str(el, 'permission'),
    exported: bool(el, 'exported'),
    enabled: bool(el, 'enabled'),
    targetActivity: target ? resolveClassName(packageName, target) : null,
    intentFilters,
    metaData,
  };
}

/** Interprets a parsed binary AndroidManifest.xml. */
export function readManifest(root: AxmlElement): AndroidManifest {
  if (root.name !== 'manifest') malformed(`root element is <${root.name}>, not <manifest>`);
  const pkgAttr = root.attributes.find((a) => a.namespace === null && a.name === 'package');
  const packageName = pkgAttr && pkgAttr.value.type === 'string' ? pkgAttr.value.value : '';
  // Package names: at least two segments of Java identifiers (PackageParser.validateName).
  if (!/^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$/.test(packageName)) malformed(`package name "${packageName}" is not valid`);
  const versionCode = int(root, 'versionCode');
  if (versionCode === null) malformed('has no android:versionCode');
  const major = int(root, 'versionCodeMajor') ?? 0;
  const usesSdk = root.children.find((c) => c.name === 'uses-sdk');
  const minSdk = (usesSdk && int(usesSdk, 'minSdkVersion')) ?? 1;
  const targetSdk = (usesSdk && int(usesSdk, 'targetSdkVersion')) ?? minSdk;
  const application = root.children.find((c) => c.name === 'application');
  const kids = application?.children ?? [];
  const of = (kind: ManifestComponent['kind']) => kids.filter((c) => c.name === kind).map((c) => component(kind, c, packageName));
  return {
    packageName,
    versionCode: (major >>> 0) * 2 ** 32 + (versionCode >>> 0),
    versionName: str(root, 'versionName'),
    minSdk,
    targetSdk,
    testOnly: (application && bool(application, 'testOnly')) ?? false,
    usesPermissions: root.children.filter((c) => c.name === 'uses-permission').map((c) => str(c, 'name')).filter((n): n is string => n !== null),
    receivers: of('receiver'),
    activities: [...of('activity'), ...of('activity-alias')],
    services: of('service'),
  };
}

/** Reads, verifies and describes an APK. Throws ApkFormatError (with a `reason` code) on anything Android would refuse. */
export function readApk(buf: Buffer, limits: ApkLimits = defaultApkLimits): ApkInfo {
  if (buf.length > limits.maxApkBytes) throw new ApkFormatError('zip-limit', `APK is ${buf.length} bytes, over the limit of ${limits.maxApkBytes}`);
  if (buf.length >= 4 && buf.readUInt32LE(0) !== 0x04034b50) {
    throw new ApkFormatError('not-a-zip', 'file does not start with a ZIP local header: not an APK');
  }
  const zip = readZipDirectory(buf, limits);
  const manifestEntry = zip.byName.get('AndroidManifest.xml');
  if (!manifestEntry) throw new ApkFormatError('malformed-manifest', 'APK has no AndroidManifest.xml');
  const manifest = readManifest(parseAxml(readZipEntry(buf, manifestEntry, limits)));

  const verifiedSchemes: SignatureScheme[] = [];
  let signers: Buffer[][] = [];
  const block = findSigningBlock(buf, zip);
  if (block) {
    // The signing block must sit after every entry's data: nothing may hide inside it.
    for (const e of zip.entries) {
      if (e.dataOffset + e.compressedSize > block.offset) {
        throw new ApkFormatError('malformed-zip', `entry ${e.name} overlaps the APK Signing Block`);
      }
    }
    if (block.pairs.has(APK_SIGNATURE_SCHEME_V3_BLOCK_ID)) {
      signers = verifySchemeBlock(buf, zip, block, 'v3').map((s) => s.certificates);
      verifiedSchemes.push('v3');
    }
    if (block.pairs.has(APK_SIGNATURE_SCHEME_V2_BLOCK_ID)) {
      const v2 = verifySchemeBlock(buf, zip, block, 'v2').map((s) => s.certificates);
      if (signers.length === 0) signers = v2;
      verifiedSchemes.push('v2');
    }
  }
  if (verifiedSchemes.length === 0) {
    const jar = verifyJarSignature(buf, zip, limits);
    if (jar.length === 0) {
      throw new ApkFormatError('unsigned', 'APK is not signed: sign it with apksigner (APK Signature Scheme v2 or v3) before importing it');
    }
    // X-Android-APK-Signed in the .SF says a v2/v3 signature existed: it was stripped (rollback protection).
    const stripped = jar.find((s) => s.androidApkSigned.some((n) => n >= 2));
    if (stripped) {
      throw new ApkFormatError('bad-signature', `${stripped.name}.SF says the APK was signed with scheme v${Math.max(...stripped.androidApkSigned)}, but that signature is missing: the APK was tampered with`);
    }
    signers = jar.map((s) => s.certificates);
    verifiedSchemes.push('v1');
  }
  const signingCertificate = signers[0][0];
  return {
    manifest,
    signatureScheme: verifiedSchemes[0],
    verifiedSchemes,
    signers,
    signingCertificate,
    signatureChecksum: androidChecksum(signingCertificate),
    packageChecksum: androidChecksum(buf),
    sha256: crypto.createHash('sha256').update(buf).digest('hex'),
    signingCertificateSha256: crypto.createHash('sha256').update(signingCertificate).digest('hex'),
    size: buf.length,
  };
}

export type DpcWarningCode =
  | 'receiver-missing'
  | 'receiver-not-protected'
  | 'receiver-no-admin-enabled'
  | 'receiver-no-device-admin-metadata'
  | 'get-provisioning-mode-missing'
  | 'admin-policy-compliance-missing'
  | 'exported-missing'
  | 'component-disabled'
  | 'test-only'
  | 'v1-signature-only';

export interface DpcWarning {
  code: DpcWarningCode;
  message: string;
}

export interface DpcCheck {
  /** Fully qualified receiver class. */
  receiverClass: string;
  /** PROVISIONING_DEVICE_ADMIN_COMPONENT_NAME: package/class, short form as ComponentName.flattenToShortString. */
  componentName: string;
  warnings: DpcWarning[];
}

/**
 * What Android 12+ managed provisioning needs from a DPC, checked against the manifest
 * (https://developer.android.com/work/dpc/build-dpc and AOSP ManagedProvisioning): the admin receiver the
 * QR names, and activities for GET_PROVISIONING_MODE and ADMIN_POLICY_COMPLIANCE, without which Android 12
 * shows "Can't set up device".
 * `receiver` is ".AdminReceiver", a fully qualified class, or "package/.AdminReceiver".
 */
export function checkDpc(apk: Pick<ApkInfo, 'manifest' | 'signatureScheme'>, receiver: string): DpcCheck {
  const m = apk.manifest;
  let cls = receiver.trim();
  const slash = cls.indexOf('/');
  if (slash >= 0) {
    const pkg = cls.slice(0, slash);
    if (pkg !== m.packageName) {
      throw new ApkFormatError('receiver-package', `receiver ${receiver} names package ${pkg}, but the APK is ${m.packageName}`);
    }
    cls = cls.slice(slash + 1);
  }
  if (cls.length === 0) throw new ApkFormatError('receiver-package', 'receiver class name is empty');
  const receiverClass = resolveClassName(m.packageName, cls);
  const short = receiverClass.startsWith(`${m.packageName}.`) ? receiverClass.slice(m.packageName.length) : receiverClass;
  const warnings: DpcWarning[] = [];
  const warn = (code: DpcWarningCode, message: string) => warnings.push({ code, message });
  const handles = (c: ManifestComponent, action: string) => c.intentFilters.some((f) => f.actions.includes(action));

  const r = m.receivers.find((x) => x.name === receiverClass);
  if (!r) {
    const known = m.receivers.map((x) => x.name).join(', ') || 'none';
    warn('receiver-missing', `the APK declares no receiver ${receiverClass} (receivers: ${known}); provisioning will fail`);
  } else {
    if (r.permission !== BIND_DEVICE_ADMIN) {
      warn('receiver-not-protected', `receiver ${receiverClass} is not protected by ${BIND_DEVICE_ADMIN}; Android refuses it as a device admin`);
    }
    if (!handles(r, ACTION_DEVICE_ADMIN_ENABLED)) {
      warn('receiver-no-admin-enabled', `receiver ${receiverClass} has no intent filter for ${ACTION_DEVICE_ADMIN_ENABLED}`);
    }
    if (!r.metaData.some((d) => d.name === META_DATA_DEVICE_ADMIN)) {
      warn('receiver-no-device-admin-metadata', `receiver ${receiverClass} has no <meta-data android:name="${META_DATA_DEVICE_ADMIN}">`);
    }
    if (r.enabled === false) warn('component-disabled', `receiver ${receiverClass} is disabled in the manifest`);
  }
  for (const [action, code] of [
    [ACTION_GET_PROVISIONING_MODE, 'get-provisioning-mode-missing'],
    [ACTION_ADMIN_POLICY_COMPLIANCE, 'admin-policy-compliance-missing'],
  ] as const) {
    const a = m.activities.find((x) => handles(x, action));
    if (!a) warn(code, `no activity handles ${action}: Android 12 and later show "Can't set up device"`);
    else if (a.enabled === false) warn('component-disabled', `activity ${a.name} (${action}) is disabled in the manifest`);
  }
  // Android 12 (API 31) refuses to install an app targeting 31+ whose components with intent filters
  // leave android:exported unset (PackageParser: "android:exported needs to be explicitly specified").
  if (m.targetSdk >= 31) {
    for (const c of [...m.receivers, ...m.activities, ...m.services]) {
      if (c.intentFilters.length > 0 && c.exported === null) {
        warn('exported-missing', `${c.kind} ${c.name} has intent filters but no android:exported; Android 12+ will not install the APK`);
      }
    }
  }
  if (m.testOnly) warn('test-only', 'the APK is marked android:testOnly; provisioning cannot install it');
  // Android 11 (API 30) requires v2+ for apps targeting 30 or later.
  if (apk.signatureScheme === 'v1' && m.targetSdk >= 30) {
    warn('v1-signature-only', `the APK targets API ${m.targetSdk} but has only a v1 signature; Android 11+ will not install it`);
  }
  return { receiverClass, componentName: `${m.packageName}/${short}`, warnings };
}
