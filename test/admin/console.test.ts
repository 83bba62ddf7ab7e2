// The console in a real browser: Debian's headless Chromium driven by playwright-core, at 1280x800,
// keyboard only. Sign in with a TOTP code, find a device, lock it (the confirmation names the
// device), see the command queued, export an audit bundle, issue an enrollment challenge. Every
// request the page makes must go to Ward itself. Screenshots go to test-output/.
//
// Devices: one Android device enrolled through Ward's real Android service, plus in-memory stand-in
// devices (test/admin/support.ts) beside it; audit export and SCEP challenges are Ward's real ones
// whenever main.ts attaches them.
import fs from 'node:fs';
import path from 'node:path';
import { type Page, chromium } from 'playwright-core';
import t from 'tap';
import { androidFleetOf, totp } from '../../src/admin';
import { SAFEGUARDS } from '../../src/policy';
import { ADMIN_CTX, attachMissing, createPerson, enrollAndroid, memoryDomains, startAdminWard, testOutput } from './support';
import { aaptPackage, apksign, keytool, manifestXml } from '../android/apk-builder';
import { tempDir, toolAsync } from '../support/ward';
import type { AppleMdm } from '../../src/apple';
import { TOPIC } from '../apple/harness';
import { makeLeaf, makeRoot } from '../apple/openssl';

// Real servers (and for some, real processes) on a shared two-core machine.
t.setTimeout(180_000);

// Inside page.evaluate the code runs in the browser; this project compiles without the DOM library.
declare const document: any;

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** Presses Tab until the focused element matches (at most `max` times): proves it is reachable by keyboard. */
async function tabTo(page: Page, what: string, match: (el: { tag: string; text: string; id: string }) => boolean, max = 60): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const el = await page.evaluate(() => {
      const a = document.activeElement;
      return { tag: a?.tagName.toLowerCase() ?? '', text: (a?.textContent ?? '').trim(), id: a?.id ?? '' };
    });
    if (match(el)) return;
  }
  throw new Error(`${what}: not reachable with Tab`);
}

t.test('console: sign in, find, lock, see it queued, export audit, enroll, sign out', async (t) => {
  fs.mkdirSync(testOutput, { recursive: true });
  const ward = await startAdminWard();
  t.teardown(() => ward.stop());
  // Ward's real Android fleet: attached by main.ts, or here while main.ts does not attach it yet.
  if (!ward.admin.attached().includes('devices')) ward.admin.attach({ fleets: [androidFleetOf(ward.android)] });
  const d = memoryDomains(ward);
  // An APNs push certificate, so the dashboard has one to show.
  const apnsDir = tempDir('ward-apns-');
  const push = makeLeaf(apnsDir, makeRoot(apnsDir, 'apns-root'), 'push', 'rsa:2048', ['extendedKeyUsage=clientAuth'], `/UID=${TOPIC}/CN=APSP:1c0a5e3b-1111-2222-3333-444455556666`);
  const imported = await (ward as unknown as { apple: AppleMdm }).apple.service.importPushCertificate(
    { certificate: fs.readFileSync(push.certPath), key: fs.readFileSync(push.keyPath) },
    { actor: { type: 'cli', id: 'test' } },
  );
  const standIns = attachMissing(ward, d.all);
  t.comment(`stand-ins: ${standIns.join(', ')}`);
  const ipad = d.apple.add({ name: 'Ward 4B nurse station iPad', serialNumber: 'DMPXK4BNS01' });
  d.apple.add({ name: 'OR 3 anaesthesia iPad' });
  d.android.add({ name: 'ICU tablet 2', compliant: false, compliance: { compliant: false, reasons: ['passcode not set'], evaluatedAt: new Date().toISOString() } });
  const admin = await createPerson(ward, 'admin', 'nora');
  // And one real device, enrolled through Ward's own Android service, under a HIPAA baseline (its HIPAA report).
  ward.policy.createFromTemplate('clinician-phone', 'hipaa-clinician-corporate-phone', ADMIN_CTX);
  ward.policy.assign('clinician-phone', 'default', '', ADMIN_CTX);
  const pixel = enrollAndroid(ward, { model: 'Pixel 8', serialNumber: 'PX8ICU0042' });
  // A real signed DPC (aapt + apksigner), so the enrollment page can show a provisioning QR code.
  const apkDir = tempDir('ward-console-dpc-');
  const dpc = apksign(aaptPackage(apkDir, 'dpc', manifestXml()), path.join(apkDir, 'dpc.apk'), keytool(apkDir, 'dpc', 'EC'), { v1: true, v2: true, v3: true });
  ward.android.importApk(fs.readFileSync(dpc), { role: 'dpc', receiver: '.AdminReceiver' }, { actor: { type: 'system', id: 'test' } });

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  t.teardown(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ignoreHTTPSErrors: true, acceptDownloads: true });
  const origin = new URL(ward.httpsUrl).origin;
  const outside: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
    outside.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    // Chromium logs every 4xx answer; a device that never reported facts has no HIPAA report (404), the page says so.
    const noReport = /status of 404/.test(m.text()) && /\/hipaa-report$/.test(m.location().url);
    if (m.type() === 'error' && !/401|Unauthorized/.test(m.text()) && !noReport) problems.push(`${m.text()} ${m.location().url}`);
  });
  page.on('pageerror', (e) => problems.push(e.message));
  const shot = (name: string) => page.screenshot({ path: path.join(testOutput, `console-${name}.png`) });

  // Sign in, keyboard only.
  await page.goto(`${ward.httpsUrl}/`);
  await page.waitForSelector('form#signin');
  t.equal(await page.evaluate(() => document.activeElement?.id), 'username', 'the user name field has focus');
  await page.keyboard.type('nora');
  await page.keyboard.press('Tab');
  await page.keyboard.type(admin.password);
  await page.keyboard.press('Tab');
  await page.keyboard.type('000000');
  await shot('signin');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.error[role="alert"]');
  t.match(await page.textContent('.error'), /wrong user name, password or code/, 'a wrong code is refused with a plain message');
  await page.fill('#code', totp(admin.secret));
  await page.focus('#code');
  await page.keyboard.press('Enter');
  await page.waitForSelector('h1:text("Dashboard")');
  t.equal(await page.textContent('#whoami'), 'nora', 'signed in as nora');
  t.equal(await page.textContent('#device-total'), '4', 'dashboard counts the devices (three stand-ins, one real Android)');
  const pushCard = await page.textContent('#push-certificate');
  t.match(pushCard, TOPIC, 'the dashboard shows the push certificate topic');
  t.match(pushCard, /\d+ days/, 'and the days it has left');
  t.match(pushCard, `expires `, 'and its expiry');
  t.match(pushCard, String(new Date(imported.notAfter).getFullYear()), 'in the year the certificate expires');
  const cookies = await context.cookies();
  t.match(cookies.find((c) => c.name === '__Host-ward_session'), { httpOnly: true, secure: true, sameSite: 'Strict' }, 'the browser holds an HttpOnly, Secure, SameSite=Strict cookie');
  t.equal(await page.evaluate(() => document.cookie), '', 'scripts cannot read the session cookie');
  await shot('dashboard');

  // Find the device.
  await tabTo(page, 'Devices link', (el) => el.tag === 'a' && el.text === 'Devices');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#device-search');
  await tabTo(page, 'search field', (el) => el.id === 'device-search');
  await page.keyboard.type('nurse station');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('#device-list tbody tr').length === 1);
  t.equal(await page.textContent('#device-list tbody tr td a'), 'Ward 4B nurse station iPad', 'search finds the device');
  await shot('devices-search');
  await tabTo(page, 'device link', (el) => el.tag === 'a' && el.text === 'Ward 4B nurse station iPad');
  await page.keyboard.press('Enter');
  await page.waitForSelector('h1:text("Ward 4B nurse station iPad")');
  t.ok(await page.isVisible('#no-commands'), 'no commands yet');
  if (!standIns.includes('compliance')) {
    t.match(await page.textContent('#no-hipaa-report'), /has not reported its facts/, 'a device without reported facts has no HIPAA report, and says so');
  }

  // Lock it: the confirmation names the device.
  await tabTo(page, 'Lock button', (el) => el.id === 'lock');
  await page.keyboard.press('Enter');
  await page.waitForSelector('dialog[open]');
  t.equal(await page.textContent('dialog #dialog-title'), 'Lock Ward 4B nurse station iPad?', 'the dialog names the device');
  t.equal(await page.textContent('dialog #confirm'), 'Lock Ward 4B nurse station iPad', 'so does its button');
  t.match(await page.textContent('dialog'), /serial DMPXK4BNS01/, 'with its serial number');
  await page.keyboard.type('Please return to the 4B desk');
  await shot('lock-dialog');
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog', { state: 'detached' });
  t.equal(d.apple.commands(ipad.id, { limit: 5 }).length, 0, 'Escape cancels: nothing queued');
  await page.focus('#lock');
  await page.keyboard.press('Enter');
  await page.waitForSelector('dialog[open]');
  await page.keyboard.type('Please return to the 4B desk');
  await tabTo(page, 'confirm button', (el) => el.id === 'confirm', 5);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#commands');
  t.match(await page.textContent('#action-result'), /Lock queued for Ward 4B nurse station iPad/, 'the page says the lock is queued');
  t.same(await page.$$eval('#commands tbody tr td:nth-child(-n+2)', (tds) => tds.map((td: any) => td.textContent)), ['DeviceLock', 'queued'], 'the command list shows DeviceLock queued');
  t.same(d.apple.commands(ipad.id, { limit: 5 }).map((c) => [c.type, c.requestedBy]), [['DeviceLock', 'admin:nora']], 'the fleet received exactly one lock, from nora');
  await shot('device-locked');

  // Wipe: the confirm button stays disabled until the device name is typed; cancelled here.
  await page.focus('#wipe');
  await page.keyboard.press('Enter');
  await page.waitForSelector('dialog[open]');
  t.equal(await page.textContent('dialog #dialog-title'), 'Wipe Ward 4B nurse station iPad?');
  t.ok(await page.isDisabled('dialog #confirm'), 'wipe cannot be confirmed yet');
  await page.fill('#wipe-reason', 'stolen from the 4B station');
  await page.fill('#wipe-confirm-name', 'Ward 4B');
  t.ok(await page.isDisabled('dialog #confirm'), 'a partial name is not enough');
  await page.fill('#wipe-confirm-name', 'Ward 4B nurse station iPad');
  t.notOk(await page.isDisabled('dialog #confirm'), 'the exact name enables it');
  await shot('wipe-dialog');
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog', { state: 'detached' });
  t.equal(d.apple.commands(ipad.id, { limit: 5 }).length, 1, 'no wipe was queued');

  // The real Android device: find it, lock it, see LOCK queued in Ward's Android command queue.
  await tabTo(page, 'Devices link', (el) => el.tag === 'a' && el.text === 'Devices');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#device-search');
  await page.focus('#device-search');
  await page.keyboard.type('PX8ICU');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('#device-list tbody tr').length === 1);
  t.equal(await page.textContent('#device-list tbody tr td a'), 'Google Pixel 8 PX8ICU0042', 'the enrolled Android device is found by serial');
  await tabTo(page, 'Android device link', (el) => el.tag === 'a' && el.text === 'Google Pixel 8 PX8ICU0042');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#lock');
  await page.focus('#lock');
  await page.keyboard.press('Enter');
  await page.waitForSelector('dialog[open]');
  t.equal(await page.textContent('dialog #dialog-title'), 'Lock Google Pixel 8 PX8ICU0042?', 'the dialog names the Android device');
  await page.keyboard.type('ICU desk has your phone');
  await tabTo(page, 'confirm button', (el) => el.id === 'confirm', 5);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#commands');
  t.same(await page.$$eval('#commands tbody tr td:nth-child(-n+2)', (tds) => tds.map((td: any) => td.textContent)), ['LOCK', 'queued'], 'LOCK shows queued');
  t.same(ward.android.commandsOf(pixel).map((c) => [c.type, c.status, c.payload.message, c.queuedBy]), [['LOCK', 'queued', 'ICU desk has your phone', 'admin:nora']], "Ward's Android queue holds the lock for the agent's next poll");
  await shot('android-locked');

  // Its HIPAA report: every safeguard with its status, settings and evidence, as the API answers it.
  await page.waitForSelector('#hipaa-report');
  const rows = await page.$$eval('#hipaa-report tbody tr', (trs) => trs.map((tr: any) => ({
    id: tr.getAttribute('data-safeguard'),
    cells: [...tr.querySelectorAll('td')].map((td: any) => td.textContent),
    evidence: [...tr.querySelectorAll('td:nth-child(4) li')].map((li: any) => li.textContent),
    settings: tr.querySelectorAll('td:nth-child(3) li').length,
  })));
  const report = ward.compliance.hipaaReport(pixel)!;
  const words: Record<string, string> = { met: 'met', not_met: 'not met', in_grace: 'in grace', configured: 'configured', not_addressed: 'not addressed' };
  t.same(rows.map((r) => r.id), SAFEGUARDS.map((g) => g.id), 'one row per safeguard of the catalogue, in citation order');
  t.same(rows.map((r) => [r.cells[0], r.cells[1]]), report.safeguards.map((g) => [`${g.id}${g.title}`, words[g.status]]), 'each with its title and status');
  t.same(rows.map((r) => r.evidence), report.safeguards.map((g) => g.evidence), 'and its evidence, line by line');
  t.same(rows.map((r) => r.settings), report.safeguards.map((g) => g.settings.length), 'and the policy settings serving it');
  const audit = rows.find((r) => r.id === '164.312(b)')!;
  t.equal(audit.cells[1], 'met', "audit controls: met by Ward's own audit log");
  t.match(audit.evidence.join('\n'), /append-only, signed audit log/);
  t.ok(rows.some((r) => r.cells[1] === 'in grace'), 'a freshly enrolled phone that has not reported a passcode yet is in grace');
  t.ok(rows.find((r) => r.id === '164.312(a)(2)(iii)')!.settings > 0, 'automatic logoff lists the passcode setting');
  const textHref = (await page.getAttribute('#hipaa-text', 'href'))!;
  t.equal(textHref, `/api/v1/devices/${pixel}/hipaa-report?format=text`, 'a plain-text copy to download');
  const text = await page.evaluate(async (u: string) => (await fetch(u, { credentials: 'same-origin' })).text(), textHref);
  t.match(text, new RegExp(`^HIPAA report for ${pixel} \\(android\\), \\S+: ${report.status}; policy ${report.policy.hash}\n`), 'the plain text is the wardctl policy report text');
  t.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 1280), 'the report fits 1280 wide');
  await page.focus('#hipaa-text');
  await page.evaluate(() => document.getElementById('hipaa').scrollIntoView());
  await shot('device-hipaa-report');

  // Audit export.
  await tabTo(page, 'Audit link', (el) => el.tag === 'a' && el.text === 'Audit');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#export-bundle');
  const [download] = await Promise.all([page.waitForEvent('download'), (async () => {
    await page.focus('#export-bundle');
    await page.keyboard.press('Enter');
  })()]);
  const file = path.join(testOutput, 'console-audit-bundle.tar');
  await download.saveAs(file);
  t.match(download.suggestedFilename(), /^ward-audit-\d{8}T\d{6}Z\.tar$/, 'the download is named for its time');
  const bytes = fs.readFileSync(file);
  t.ok(bytes.length > 0, 'a bundle was downloaded');
  if (!standIns.includes('auditBundles')) {
    t.ok(bytes.includes(Buffer.from('tree-head.json')), 'it is a real bundle (tree-head.json inside)');
    t.ok(bytes.includes(Buffer.from('"action":"test.command.queued"')), 'holding the lock queued on the stand-in iPad');
    t.ok(bytes.includes(Buffer.from('"action":"android.command.queued"')), "and the lock queued by Ward's Android domain");
  }
  await page.waitForSelector('#audit-download');
  await shot('audit-export');
  await page.setInputFiles('#audit-file', file);
  await page.focus('#audit-verify button');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#verify-result p');
  t.match(await page.textContent('#verify-result'), /^Valid/, 'the exported bundle verifies when uploaded back');

  // Enrollment: a one-time challenge, shown once.
  await tabTo(page, 'Enrollment link', (el) => el.tag === 'a' && el.text === 'Enrollment');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#ca-fingerprint');
  t.equal((await page.textContent('#ca-fingerprint'))!.replace(/:/g, ''), ward.ca.rootFingerprint(), 'the CA fingerprint to pin');
  await tabTo(page, 'challenge button', (el) => el.id === 'issue-challenge');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#challenge');
  t.match(await page.textContent('#challenge'), /^[0-9a-f]{32}$/, 'a one-time challenge is shown');
  await shot('enrollment');
  // The Android QR code the console shows decodes (zbarimg) to the provisioning JSON it prints beside it.
  await tabTo(page, 'Android QR button', (el) => el.id === 'android-qr');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#android-qr-image');
  const src = (await page.getAttribute('#android-qr-image', 'src'))!;
  t.match(src, /^data:image\/png;base64,/, 'the QR code is an image served by Ward itself');
  const qrFile = path.join(apkDir, 'console-qr.png');
  fs.writeFileSync(qrFile, Buffer.from(src.slice(src.indexOf(',') + 1), 'base64'));
  const decoded = await toolAsync('zbarimg', ['--raw', '-q', '-Sdisable', '-Sqrcode.enable', qrFile]);
  const shown = JSON.parse((await page.textContent('#android-qr-image ~ pre'))!);
  t.same(JSON.parse(decoded.stdout.trim()), shown, 'zbarimg reads the JSON the page shows');
  t.match(shown['android.app.extra.PROVISIONING_DEVICE_ADMIN_COMPONENT_NAME'], /^org\.example\.wardagent\/(org\.example\.wardagent)?\.AdminReceiver$/, 'the imported DPC and its receiver');
  await shot('enrollment-android-qr');

  t.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 1280), 'no horizontal scrolling at 1280x800');
  await page.focus('#signout');
  await page.keyboard.press('Enter');
  await page.waitForSelector('form#signin');
  t.same(outside, [], 'the page never asked for anything outside Ward');
  t.same(problems, [], 'no script errors and no CSP violations');
});
