import t from 'tap';
import crypto from 'node:crypto';
import { decodeCheckin, decodeCommandReport, MdmProtocolError, resolveEnrollment, SHARED_IPAD_USER_ID } from '../../src/apple/messages';
import { buildPlistBuffer } from '../../src/apple/plist';
import { fixture } from './fixture';

const UDID = '00008120-001A2D3C0E88802E';
const Topic = 'com.apple.mgmt.External.1c0a5e3b-1111-2222-3333-444455556666';
const Token = crypto.randomBytes(32);
const UnlockToken = crypto.randomBytes(300);

t.test('every check-in fixture decodes to its typed message', async (t) => {
  const auth = decodeCheckin(fixture('checkin-authenticate', { UDID, Topic, DeviceName: 'ICU & Ward <4>', SerialNumber: 'F2LXK0ABCD12' }));
  t.match(auth, { MessageType: 'Authenticate', UDID, Topic });
  t.equal(auth.MessageType === 'Authenticate' && auth.raw.DeviceName, 'ICU & Ward <4>', 'escaped text round-trips');

  const tu = decodeCheckin(fixture('checkin-tokenupdate', { UDID, Topic, PushMagic: 'PM-1', Token, UnlockToken }));
  t.equal(tu.MessageType, 'TokenUpdate');
  if (tu.MessageType === 'TokenUpdate') {
    t.ok(tu.Token.equals(Token), 'push token');
    t.ok(tu.UnlockToken?.equals(UnlockToken), 'wrapped <data> UnlockToken');
    t.equal(tu.PushMagic, 'PM-1');
    t.equal(tu.AwaitingConfiguration, false);
  }
  const user = decodeCheckin(fixture('checkin-tokenupdate-user', { UDID, Topic, PushMagic: 'PM-2', Token, UserID: '7A1B0C0D-2222-4333-8444-555566667777' }));
  t.same(resolveEnrollment(user), { type: 'user', deviceId: UDID, userId: '7A1B0C0D-2222-4333-8444-555566667777', id: `${UDID}:7A1B0C0D-2222-4333-8444-555566667777` });

  t.match(decodeCheckin(fixture('checkin-checkout', { UDID, Topic })), { MessageType: 'CheckOut', Topic });
  t.match(decodeCheckin(fixture('checkin-userauthenticate', { UDID, UserID: 'U1' })), { MessageType: 'UserAuthenticate', UserID: 'U1', DigestResponse: undefined });
  const BootstrapToken = crypto.randomBytes(64);
  const set = decodeCheckin(fixture('checkin-setbootstraptoken', { UDID, Topic, BootstrapToken }));
  t.ok(set.MessageType === 'SetBootstrapToken' && set.BootstrapToken?.equals(BootstrapToken));
  t.match(decodeCheckin(fixture('checkin-getbootstraptoken', { UDID, Topic })), { MessageType: 'GetBootstrapToken', AwaitingConfiguration: false });
  t.match(decodeCheckin(fixture('checkin-declarativemanagement', { UDID, Topic })), { MessageType: 'DeclarativeManagement', Endpoint: 'tokens' });
});

t.test('enrollment resolution follows the channel keys', async (t) => {
  t.same(resolveEnrollment({ UDID: 'D' }), { type: 'device', deviceId: 'D', id: 'D' });
  t.same(resolveEnrollment({ UDID: 'D', UserID: SHARED_IPAD_USER_ID, UserShortName: 'nurse@example.org' }), {
    type: 'shared-ipad-user',
    deviceId: 'D',
    userId: 'nurse@example.org',
    id: 'D:nurse@example.org',
  });
  t.same(resolveEnrollment({ EnrollmentID: 'E' }), { type: 'user-enrollment-device', deviceId: 'E', id: 'E' });
  t.same(resolveEnrollment({ EnrollmentID: 'E', EnrollmentUserID: 'U' }), { type: 'user-enrollment', deviceId: 'E', userId: 'U', id: 'E:U' });
  t.throws(() => resolveEnrollment({}), { name: 'MdmProtocolError', reason: 'no-enrollment-id' });
  t.throws(() => resolveEnrollment({ UDID: 'D', UserID: SHARED_IPAD_USER_ID }), { name: 'MdmProtocolError', reason: 'no-enrollment-id' });
});

t.test('command reports: every status, ErrorChain kept', async (t) => {
  const CommandUUID = crypto.randomUUID();
  t.match(decodeCommandReport(fixture('result-idle', { UDID })), { Status: 'Idle', UDID, CommandUUID: undefined });
  t.match(decodeCommandReport(fixture('result-acknowledged', { UDID, CommandUUID })), { Status: 'Acknowledged', CommandUUID });
  t.match(decodeCommandReport(fixture('result-notnow', { UDID, CommandUUID })), { Status: 'NotNow', CommandUUID });
  const err = decodeCommandReport(fixture('result-error', { UDID, CommandUUID }));
  t.equal(err.Status, 'Error');
  t.same(err.ErrorChain?.map((e) => [e.ErrorCode, e.ErrorDomain]), [
    [4001, 'MCProfileErrorDomain'],
    [2003, 'MCInstallationErrorDomain'],
  ]);
  t.match(decodeCommandReport(fixture('result-commandformaterror', { UDID, CommandUUID })), {
    Status: 'CommandFormatError',
    ErrorChain: [{ ErrorCode: 12021, LocalizedDescription: 'Invalid request type' }],
  });
});

t.test('malformed check-ins and reports get MdmProtocolError with a 4xx status', async (t) => {
  const bad: Array<[string, () => unknown, string, number]> = [
    ['unknown MessageType', () => decodeCheckin(buildPlistBuffer({ MessageType: 'Reboot', UDID })), 'unknown-message-type', 400],
    ['no MessageType', () => decodeCheckin(buildPlistBuffer({ UDID })), 'missing-key', 400],
    ['MessageType not a string', () => decodeCheckin(buildPlistBuffer({ MessageType: 5, UDID })), 'missing-key', 400],
    ['TokenUpdate without Token', () => decodeCheckin(buildPlistBuffer({ MessageType: 'TokenUpdate', UDID, Topic, PushMagic: 'x' })), 'missing-key', 400],
    ['Token as a string', () => decodeCheckin(buildPlistBuffer({ MessageType: 'TokenUpdate', UDID, Topic, PushMagic: 'x', Token: 'abc' })), 'bad-value', 400],
    ['UDID as a number', () => decodeCheckin(buildPlistBuffer({ MessageType: 'CheckOut', UDID: 7 })), 'bad-value', 400],
    ['Authenticate without Topic', () => decodeCheckin(buildPlistBuffer({ MessageType: 'Authenticate', UDID })), 'missing-key', 400],
    ['not a plist', () => decodeCheckin(Buffer.from('{"MessageType":"Authenticate"}')), 'malformed-plist', 400],
    ['plist array', () => decodeCheckin(buildPlistBuffer(['Authenticate'])), 'malformed-plist', 400],
    ['truncated', () => decodeCheckin(fixture('checkin-checkout', { UDID, Topic }).subarray(0, 200)), 'malformed-plist', 400],
    ['huge check-in', () => decodeCheckin(buildPlistBuffer({ MessageType: 'CheckOut', UDID, Pad: 'x'.repeat(300 * 1024) })), 'too-large', 413],
    ['huge report', () => decodeCommandReport(buildPlistBuffer({ Status: 'Idle', UDID, Pad: 'x'.repeat(5 * 1024 * 1024) })), 'too-large', 413],
    ['unknown Status', () => decodeCommandReport(buildPlistBuffer({ Status: 'Done', UDID, CommandUUID: 'c' })), 'bad-value', 400],
    ['Acknowledged without CommandUUID', () => decodeCommandReport(buildPlistBuffer({ Status: 'Acknowledged', UDID })), 'missing-key', 400],
    ['ErrorChain not an array', () => decodeCommandReport(buildPlistBuffer({ Status: 'Error', UDID, CommandUUID: 'c', ErrorChain: 'boom' })), 'bad-value', 400],
  ];
  for (const [name, fn, reason, httpStatus] of bad) {
    t.throws(fn, { name: 'MdmProtocolError', reason, httpStatus }, name);
  }
  t.ok(new MdmProtocolError('bad-value', 'x') instanceof Error);
});
