// Two-factor authentication in the browser: a group that requires it makes its member enrol at
// the next login (QR code, manual key, a code from the "app" — computed here with RFC 6238 —
// and ten recovery codes shown once); the next login asks for a code after the password; a
// wrong code is refused with a clear message, a recovery code works.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { startServer } from './lib/server.mjs';
import { launchBrowser, screenshot } from './lib/browser.mjs';
import { ApiClient } from './lib/api.mjs';
import { expectPath, expectText, expectVisible } from './lib/wait.mjs';

const ADMIN_NEW_PASSWORD = 'mfa-admin-pass-2026';
const MEMBER = { login: 'mfa-member', initial: 'first-pass-1234', password: 'member-pass-5678' };

/** @type {import('./lib/server.mjs').RunningServer} */
let server;
/** @type {ApiClient} */
let admin;
/** @type {string} */
let groupId = '';

/** RFC 4648 base32 (no padding) to bytes. @param {string} text */
function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  /** @type {number[]} */
  const out = [];
  for (const c of text.replace(/=+$/, '').toUpperCase()) {
    const index = alphabet.indexOf(c);
    assert.ok(index >= 0, `base32 character ${c}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The six-digit TOTP code for `atMillis` (an authenticator app's job). @param {Buffer} key @param {number} atMillis */
function totp(key, atMillis) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(atMillis / 1000 / 30)));
  const digest = createHmac('sha1', key).update(counter).digest();
  const offset = digest[19] & 0x0f;
  const number = (digest.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(number).padStart(6, '0');
}

before(async () => {
  server = await startServer({ name: 'mfa_login' });
  admin = new ApiClient(server.url);
  await admin.login(server.adminLogin || 'admin', server.adminPassword);
  await admin.changePassword(server.adminPassword, ADMIN_NEW_PASSWORD);
  const group = await admin.call('POST', '/api/groups', { name: 'MFA group' });
  groupId = group.id;
  await admin.call('POST', '/api/users', {
    login_id: MEMBER.login,
    display_name: 'MFA member',
    role: 'supporter',
    group_id: group.id,
    password: MEMBER.initial,
  });
  const member = new ApiClient(server.url);
  await member.login(MEMBER.login, MEMBER.initial);
  await member.changePassword(MEMBER.initial, MEMBER.password);
}, { timeout: 60_000 });

after(async () => {
  await server?.stop();
});

/** @type {Buffer} */
let secret;
/** @type {string[]} */
let recoveryCodes = [];

test('a group that requires MFA makes its member enrol at the next login', { timeout: 60_000 }, async () => {
  const group = await admin.call('PATCH', `/api/groups/${groupId}`, { mfa_required: true });
  assert.equal(group.mfa_required, true);
  const ja = await launchBrowser({ locale: 'ja-JP' });
  try {
    const page = ja.page;
    await page.goto(`${server.url}/login`);
    await page.getByLabel('ログインID').fill(MEMBER.login);
    await page.getByLabel('パスワード').fill(MEMBER.password);
    await page.getByRole('button', { name: 'ログイン', exact: true }).click();
    await expectVisible(page.getByTestId('mfa-qr'));
    await expectText(page.locator('#mfa-enroll'), 'QRコードを読み取り');
    const key = (await page.getByTestId('mfa-secret').textContent()) || '';
    secret = base32Decode(key.trim());
    assert.equal(secret.length, 32);
    // A wrong code first: refused, enrolment still open.
    await page.locator('#mfa-enroll-code').fill('000000');
    await page.getByRole('button', { name: '有効にする' }).click();
    await expectText(page.getByRole('alert'), 'コードが正しくないか');
    await page.locator('#mfa-enroll-code').fill(totp(secret, Date.now()));
    await page.getByRole('button', { name: '有効にする' }).click();
    const list = page.getByTestId('mfa-recovery-codes');
    await expectVisible(list);
    recoveryCodes = (await list.locator('li').allTextContents()).map((c) => c.trim());
    assert.equal(recoveryCodes.length, 10);
    await screenshot(page, 'mfa-recovery-codes-ja');
    await page.getByRole('button', { name: '保管しました。続ける' }).click();
    await expectPath(page, '/');
  } finally {
    await ja.close();
  }
});

test('the next login asks for a code; wrong codes are refused, a recovery code works', { timeout: 60_000 }, async () => {
  assert.ok(secret, 'enrolled by the previous test');
  const en = await launchBrowser({ locale: 'en-US' });
  try {
    const page = en.page;
    const passwordStep = async () => {
      await page.goto(`${server.url}/login`);
      await page.getByLabel('Login ID').fill(MEMBER.login);
      await page.getByLabel('Password').fill(MEMBER.password);
      await page.getByRole('button', { name: 'Log in', exact: true }).click();
      await expectVisible(page.locator('#mfa-form'));
    };
    await passwordStep();
    await page.getByLabel('Code').fill('123456');
    await page.getByRole('button', { name: 'Verify' }).click();
    await expectText(page.locator('#mfa-error'), 'The code is wrong, already used or expired.');
    await screenshot(page, 'mfa-code-en');
    // The code of the next 30-second step (within the allowed drift, not used before).
    await page.getByLabel('Code').fill(totp(secret, Date.now() + 30_000));
    await page.getByRole('button', { name: 'Verify' }).click();
    await expectPath(page, '/');
    // Log out, and in again with a recovery code.
    await page.context().clearCookies();
    await passwordStep();
    await page.getByLabel('Code').fill(recoveryCodes[0]);
    await page.getByRole('button', { name: 'Verify' }).click();
    await expectPath(page, '/');
  } finally {
    await en.close();
  }
});
