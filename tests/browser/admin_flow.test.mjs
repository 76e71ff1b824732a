// End to end, with the real server binary and real Chromium: the first administrator logs in with
// the one-time password, is forced to change it, creates a group, a user and a camera device with
// its QR code; a phone pairs with the code and its field page shows the device (Go live enabled); the language
// switcher works; a stored-XSS display name stays text; revoking the device reaches the phone.
//
// The steps share one server and run in order; after the first failing step the rest are skipped
// (their failures would only echo the first one). Screenshots land in tests/browser/artifacts/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { launchBrowser, PHONE_LANDSCAPE, PHONE_PORTRAIT, screenshot } from './lib/browser.mjs';
import { eventually, expectPath, expectText, expectVisible } from './lib/wait.mjs';

const STEP_TIMEOUT = 60_000;

const GROUP = '現場チームA';
const XSS_NAME = '<img src=x onerror=alert(1)>';
const USER_LOGIN = 'tanaka-01';
const USER_INITIAL_PASSWORD = 'Shokai-pass-123';
const USER_NEW_PASSWORD = 'Tanaka-new-456';
const ADMIN_NEW_PASSWORD = 'Kanri-2026-secure';
const DEVICE = 'ラインA カメラ1';
const LEADER_LOGIN = 'yamada-leader';
const LEADER_NEW_PASSWORD = 'Hancho-new-789';

/** @type {import('./lib/server.mjs').RunningServer} */
let server;
/** @type {import('./lib/browser.mjs').LaunchedBrowser} */
let desk;
/** @type {import('./lib/browser.mjs').LaunchedBrowser | undefined} */
let phone;
/** @type {import('./lib/browser.mjs').LaunchedBrowser | undefined} */
let userBrowser;

/** Pairing code shown after creating the device. */
let pairingCode = '';
let failedStep = '';

/**
 * A test step that is skipped once an earlier step failed, and leaves a screenshot when it fails.
 * @param {string} name
 * @param {() => Promise<void>} fn
 */
function step(name, fn) {
  test(name, { timeout: STEP_TIMEOUT }, async (t) => {
    if (failedStep) {
      t.skip(`skipped: earlier step failed (${failedStep})`);
      return;
    }
    try {
      await fn();
    } catch (error) {
      failedStep = name;
      const slug = name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
      for (const [who, b] of [['desk', desk], ['phone', phone], ['user', userBrowser]]) {
        const page = b?.context.pages().at(-1);
        if (page) await screenshot(page, `FAILED-${slug}-${who}`).catch(() => {});
      }
      throw error;
    }
  });
}

before(async () => {
  server = await startServer({ name: 'admin_flow' });
  assert.ok(server.adminPassword, 'the first start prints a one-time admin password');
  desk = await launchBrowser({ locale: 'ja-JP' });
}, { timeout: 60_000 });

after(async () => {
  await userBrowser?.close();
  await phone?.close();
  await desk?.close();
  await server?.stop();
});

/**
 * Phone layouts must fit the width: nothing may need sideways scrolling.
 * @param {import('playwright-core').Page} page
 * @param {string} what
 */
async function assertNoHorizontalScroll(page, what) {
  const { scroll, width } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: window.innerWidth,
  }));
  assert.ok(scroll <= width, `${what}: content ${scroll}px wide in a ${width}px viewport`);
}

/** The visible tab panel with this (tab) name. */
const panel = (/** @type {string} */ name) => desk.page.getByRole('tabpanel', { name });

step('a wrong password shows the login error with the lockout rule', async () => {
  const page = desk.page;
  await page.goto(`${server.url}/login`);
  await page.getByLabel('ログインID').fill(server.adminLogin || 'admin');
  await page.getByLabel('パスワード').fill('definitely-wrong-1');
  await page.getByRole('button', { name: 'ログイン', exact: true }).click();
  const alert = page.getByRole('alert');
  await expectText(alert, 'ログインIDまたはパスワードが違います');
  await expectText(alert, '15分間ロック');
  assert.equal(new URL(page.url()).pathname, '/login');
  await screenshot(page, '01-login-failed');
});

step('the no-JavaScript login error (?error=login_failed) is shown', async () => {
  const page = desk.page;
  await page.goto(`${server.url}/login?error=login_failed`);
  await expectText(page.getByRole('alert'), 'ログインIDまたはパスワードが違います');
});

step('the admin logs in with the one-time password and must change it first', async () => {
  const page = desk.page;
  await page.goto(`${server.url}/login`);
  await page.getByLabel('ログインID').fill(server.adminLogin || 'admin');
  await page.getByLabel('パスワード').fill(server.adminPassword);
  await page.getByRole('button', { name: 'ログイン', exact: true }).click();
  await expectPath(page, '/password');
  await expectVisible(page.getByText('初回ログインか、管理者によるパスワードのリセット後です', { exact: false }));
  await screenshot(page, '02-forced-password-change');

  // A mismatch is caught before anything is sent.
  await page.getByLabel('現在のパスワード').fill(server.adminPassword);
  await page.getByLabel('新しいパスワード', { exact: true }).fill(ADMIN_NEW_PASSWORD);
  await page.getByLabel('新しいパスワード（確認）').fill(`${ADMIN_NEW_PASSWORD}x`);
  await page.getByRole('button', { name: 'パスワードを変更' }).click();
  await expectText(page.getByRole('alert'), '一致しません');

  await page.getByLabel('新しいパスワード（確認）').fill(ADMIN_NEW_PASSWORD);
  await page.getByRole('button', { name: 'パスワードを変更' }).click();
  await expectPath(page, '/admin');
  await expectVisible(page.getByRole('tab', { name: 'グループ' }));
  await expectVisible(page.getByRole('navigation').getByRole('link', { name: '管理' }));
});

step(`the admin creates the group ${GROUP}`, async () => {
  const page = desk.page;
  await page.getByRole('tab', { name: 'グループ' }).click();
  const groups = panel('グループ');
  await groups.getByLabel('グループ名').fill(GROUP);
  await groups.getByRole('button', { name: 'グループを作成' }).click();
  await expectVisible(groups.getByRole('cell', { name: GROUP, exact: true }));
  await expectText(page.getByRole('status'), GROUP);
});

step('the admin creates a user whose display name is an XSS string, shown as text', async () => {
  const page = desk.page;
  await page.getByRole('tab', { name: 'ユーザー' }).click();
  const users = panel('ユーザー');
  await users.getByLabel('ログインID').fill(USER_LOGIN);
  await users.getByLabel('表示名').fill(XSS_NAME);
  await users.getByLabel('役割').selectOption('supporter');
  await users.getByLabel('グループ').selectOption({ label: GROUP });
  await users.getByLabel('初期パスワード').fill(USER_INITIAL_PASSWORD);
  await users.getByRole('button', { name: 'ユーザーを作成' }).click();

  const row = users.getByRole('row').filter({ hasText: USER_LOGIN });
  await expectVisible(row);
  await expectVisible(row.getByRole('cell', { name: XSS_NAME, exact: true }));
  await expectVisible(row.getByRole('cell', { name: GROUP, exact: true }));
  await expectVisible(row.getByRole('cell', { name: 'サポーター', exact: true }));
  // Rendered as text: no <img> element was created from the name anywhere on the page.
  assert.equal(await page.locator('img[src="x"]').count(), 0);
  await screenshot(page, '03-users');
});

step('the admin registers a camera device and sees its QR code and pairing code', async () => {
  const page = desk.page;
  await page.getByRole('tab', { name: 'カメラ端末' }).click();
  const devices = panel('カメラ端末');
  await devices.getByLabel('端末名').fill(DEVICE);
  await devices.getByLabel('グループ').selectOption({ label: GROUP });
  await devices.getByRole('button', { name: '端末を登録' }).click();

  const qr = devices.getByRole('img', { name: 'ペアリング用QRコード' });
  await expectVisible(qr);
  const src = await qr.getAttribute('src');
  assert.ok(src?.startsWith('data:image/svg+xml;base64,'), `QR src is an SVG data URL: ${src?.slice(0, 40)}`);
  const svg = Buffer.from(src.slice('data:image/svg+xml;base64,'.length), 'base64').toString('utf8');
  assert.match(svg, /<svg[\s>]/, 'the data URL decodes to an SVG document');
  // The browser managed to decode and draw it.
  await eventually(() => qr.evaluate((img) => img.complete && img.naturalWidth > 0), {
    message: 'the QR image to load',
  });

  pairingCode = ((await devices.getByTestId('pairing-code').textContent()) || '').trim();
  assert.ok(pairingCode.length >= 4, `a pairing code is shown: "${pairingCode}"`);
  const url = (await devices.getByTestId('pairing-url').textContent()) || '';
  assert.match(url, /^https:\/\/[^/]+\/pair\?code=/, `pairing URL: ${url}`);
  assert.equal(new URL(url).searchParams.get('code'), pairingCode);
  assert.match((await devices.getByTestId('pairing-expires').textContent()) || '', /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \S+$/);

  await expectVisible(devices.getByRole('row').filter({ hasText: DEVICE }).getByRole('cell', { name: GROUP, exact: true }));
  await screenshot(page, '04-device-pairing');
});

step('a phone opens the pairing URL, pairs, and its field page shows the device', async () => {
  phone = await launchBrowser({ locale: 'ja-JP', mobile: true, viewport: PHONE_PORTRAIT });
  const page = phone.page;
  await page.goto(`${server.url}/pair?code=${encodeURIComponent(pairingCode)}`);
  await expectText(
    page.getByRole('status').filter({ hasText: 'このスマートフォン' }),
    `このスマートフォンはグループ「${GROUP}」のカメラ「${DEVICE}」になりました。`,
  );
  const stored = JSON.parse((await page.evaluate(() => localStorage.getItem('ra.device'))) || 'null');
  assert.equal(stored?.device_name, DEVICE);
  assert.equal(stored?.group_name, GROUP);
  assert.ok(stored?.credential, 'the device credential is stored');
  assert.ok(!page.url().includes('code='), 'the used code is removed from the address bar');
  await assertNoHorizontalScroll(page, 'pair, portrait');
  await screenshot(page, '05-phone-paired');

  await page.getByRole('link', { name: 'カメラ画面を開く' }).click();
  await expectPath(page, '/field');
  await expectVisible(page.getByText(`カメラ: ${DEVICE}`, { exact: true }));
  await expectVisible(page.getByText(`グループ: ${GROUP}`, { exact: true }));
  const goLive = page.getByRole('button', { name: 'ライブ開始' });
  await expectVisible(goLive);
  assert.equal(await goLive.isDisabled(), false, 'Go live can be tapped');
  await assertNoHorizontalScroll(page, 'field, portrait');
  await screenshot(page, '06-phone-field-portrait');
  await page.setViewportSize(PHONE_LANDSCAPE);
  await expectVisible(goLive);
  await assertNoHorizontalScroll(page, 'field, landscape');
  await screenshot(page, '07-phone-field-landscape');
  await page.setViewportSize(PHONE_PORTRAIT);

  // A phone that is already a camera is not re-paired just by opening a link: it says what it
  // is and waits for an explicit tap. And the code works once.
  const again = await phone.context.newPage();
  await again.goto(`${server.url}/pair?code=${encodeURIComponent(pairingCode)}`);
  await expectVisible(again.getByText(`既にグループ「${GROUP}」のカメラ「${DEVICE}」`));
  await again.getByRole('button', { name: 'ペアリング' }).click();
  await expectText(again.getByRole('alert'), 'ペアリングコードが無効です');
  await again.close();
});

step('the language switcher changes the labels and is remembered', async () => {
  const page = desk.page;
  const switcher = page.getByRole('combobox', { name: 'Language / 言語' });
  await switcher.selectOption('en');
  await expectVisible(page.getByRole('tab', { name: 'Devices' }));
  await expectVisible(page.getByRole('button', { name: 'Log out' }));
  await expectVisible(panel('Devices').getByLabel('Device name'));
  assert.equal(await page.evaluate(() => localStorage.getItem('ra.lang')), 'en');
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
  await screenshot(page, '08-admin-english');

  await page.reload();
  await expectVisible(page.getByRole('tab', { name: 'Users' }));

  await page.getByRole('combobox', { name: 'Language / 言語' }).selectOption('ja');
  await expectVisible(page.getByRole('tab', { name: 'ユーザー' }));
  await expectVisible(page.getByRole('button', { name: 'ログアウト' }));
});

step('the new user (English browser) must change the password, then reaches the live console', async () => {
  userBrowser = await launchBrowser({ locale: 'en-US' });
  const page = userBrowser.page;
  await page.goto(`${server.url}/login`);
  // No stored choice: the English browser gets English.
  await page.getByLabel('Login ID').fill(USER_LOGIN);
  await page.getByLabel('Password').fill(USER_INITIAL_PASSWORD);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await expectPath(page, '/password');
  await expectVisible(page.getByText('Set a new password to continue', { exact: false }));

  // A password against the policy: the server's reasons are listed.
  await page.getByLabel('Current password').fill(USER_INITIAL_PASSWORD);
  await page.getByLabel('New password', { exact: true }).fill(USER_LOGIN);
  await page.getByLabel('Confirm new password').fill(USER_LOGIN);
  await page.getByRole('button', { name: 'Change password' }).click();
  const alert = page.getByRole('alert');
  await expectText(alert, 'The new password does not meet the rules.');
  await screenshot(page, '09-password-policy-error');

  await page.getByLabel('New password', { exact: true }).fill(USER_NEW_PASSWORD);
  await page.getByLabel('Confirm new password').fill(USER_NEW_PASSWORD);
  await page.getByRole('button', { name: 'Change password' }).click();
  await expectPath(page, '/');
  await expectVisible(page.getByRole('heading', { name: 'Live console' }));
  await expectVisible(page.getByText(`Group: ${GROUP}`, { exact: true }));
  // The display name is shown as text in the header, never parsed as HTML.
  await expectText(page.locator('.user-name'), XSS_NAME);
  // A supporter has no Admin link.
  assert.equal(await page.getByRole('navigation').getByRole('link', { name: 'Admin' }).count(), 0);
  assert.equal(await page.locator('img[src="x"]').count(), 0);
  await screenshot(page, '10-supporter-home');

  await page.getByRole('navigation').getByRole('link', { name: 'Login history' }).click();
  await expectPath(page, '/history');
  await expectVisible(page.getByRole('table').getByRole('row').nth(1));
  // Times are shown in the configured zone (default Asia/Tokyo → JST).
  await expectText(page.getByRole('table').getByRole('cell').first(), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \S+$/);
  await screenshot(page, '11-login-history');

  await page.getByRole('button', { name: 'Log out' }).click();
  await expectPath(page, '/login');
});

step('a group administrator manages only their own group', async () => {
  // The system administrator creates the group administrator.
  const page = desk.page;
  await page.getByRole('tab', { name: 'ユーザー' }).click();
  const users = panel('ユーザー');
  await users.getByLabel('ログインID').fill(LEADER_LOGIN);
  await users.getByLabel('表示名').fill('班長 山田');
  await users.getByLabel('役割').selectOption('group_admin');
  await users.getByLabel('グループ').selectOption({ label: GROUP });
  await users.getByLabel('初期パスワード').fill(USER_INITIAL_PASSWORD);
  await users.getByRole('button', { name: 'ユーザーを作成' }).click();
  await expectVisible(users.getByRole('row').filter({ hasText: LEADER_LOGIN }).getByRole('cell', { name: 'グループ管理者' }));

  const leader = /** @type {NonNullable<typeof userBrowser>} */ (userBrowser).page;
  await leader.goto(`${server.url}/login`);
  await leader.getByLabel('Login ID').fill(LEADER_LOGIN);
  await leader.getByLabel('Password').fill(USER_INITIAL_PASSWORD);
  await leader.getByRole('button', { name: 'Log in', exact: true }).click();
  await expectPath(leader, '/password');
  await leader.getByLabel('Current password').fill(USER_INITIAL_PASSWORD);
  await leader.getByLabel('New password', { exact: true }).fill(LEADER_NEW_PASSWORD);
  await leader.getByLabel('Confirm new password').fill(LEADER_NEW_PASSWORD);
  await leader.getByRole('button', { name: 'Change password' }).click();
  await expectPath(leader, '/admin');

  await expectVisible(leader.getByText(`Your group: ${GROUP}`, { exact: true }));
  assert.equal(await leader.getByRole('tab', { name: 'Groups' }).count(), 0, 'no Groups tab');
  await leader.getByRole('tab', { name: 'Users' }).click();
  const leaderUsers = leader.getByRole('tabpanel', { name: 'Users' });
  await expectVisible(leaderUsers.getByRole('cell', { name: USER_LOGIN, exact: true }));
  assert.equal(await leaderUsers.getByRole('cell', { name: 'admin', exact: true }).count(), 0, 'other groups are not listed');
  assert.equal(await leaderUsers.getByLabel('Group').filter({ visible: true }).count(), 0, 'no group choice for a group administrator');
  await leader.getByRole('tab', { name: 'Devices' }).click();
  const leaderDevices = leader.getByRole('tabpanel', { name: 'Devices' });
  await expectVisible(leaderDevices.getByRole('cell', { name: DEVICE, exact: true }));
  await leaderDevices.getByLabel('Device name').fill('班長の予備カメラ');
  await leaderDevices.getByRole('button', { name: 'Register device' }).click();
  await expectVisible(leaderDevices.getByRole('img', { name: 'Pairing QR code' }));
  await expectVisible(leaderDevices.getByRole('row').filter({ hasText: '班長の予備カメラ' }).getByRole('cell', { name: GROUP, exact: true }));
  await screenshot(leader, '12-group-admin-devices');
  await leader.getByRole('button', { name: 'Log out' }).click();
  await expectPath(leader, '/login');
});

step('the audit log shows events, filters them and exports the same filter as CSV', async () => {
  const page = desk.page;
  await page.getByRole('tab', { name: '監査ログ' }).click();
  const audit = panel('監査ログ');
  await expectVisible(audit.locator('tbody tr').first());
  await audit.getByLabel('結果').selectOption('failure');
  await audit.getByRole('button', { name: '検索' }).click();
  await eventually(
    async () => {
      const outcomes = await audit.locator('tbody td.outcome').allTextContents();
      return outcomes.length > 0 && outcomes.every((o) => o === '失敗');
    },
    { message: 'only failed events (the wrong password) are listed' },
  );
  const exportLink = audit.getByRole('link', { name: 'CSVエクスポート' });
  const href = await exportLink.getAttribute('href');
  assert.match(href || '', /^\/api\/audit\.csv\?.*outcome=failure/);
  const csv = await page.request.get(`${server.url}${href}`);
  assert.equal(csv.status(), 200);
  assert.match(csv.headers()['content-type'] || '', /text\/csv/);
  const body = await csv.body();
  assert.deepEqual([...body.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'the CSV starts with a UTF-8 BOM');
  await screenshot(page, '13-audit');
});

step('revoking the device tells the phone, which can forget it', async () => {
  const page = desk.page;
  await page.getByRole('tab', { name: 'カメラ端末' }).click();
  const row = panel('カメラ端末').getByRole('row').filter({ hasText: DEVICE });
  await row.getByRole('button', { name: '無効化' }).click();
  const dialog = page.getByRole('dialog');
  await expectText(dialog, DEVICE);
  await dialog.getByRole('button', { name: '無効化' }).click();
  await expectVisible(row.getByRole('cell', { name: '無効化済み', exact: true }));

  const phonePage = /** @type {NonNullable<typeof phone>} */ (phone).page;
  await phonePage.reload();
  await expectText(phonePage.getByRole('alert'), '無効化されたか');
  await phonePage.getByRole('button', { name: 'この端末の登録情報を削除' }).click();
  await expectVisible(phonePage.getByText('管理者から渡されたQRコードを読み取ってください', { exact: false }));
  assert.equal(await phonePage.evaluate(() => localStorage.getItem('ra.device')), null);
  await screenshot(phonePage, '14-phone-revoked');
});

step('no JavaScript dialog, page error or CSP violation happened', async () => {
  for (const [who, b] of /** @type {const} */ ([['desk', desk], ['phone', phone], ['user', userBrowser]])) {
    if (!b) continue;
    assert.deepEqual(b.dialogs, [], `${who}: no alert/confirm/prompt (stored XSS would fire one)`);
    const bad = b.errors.filter((e) => e.startsWith('pageerror') || /Content Security Policy/i.test(e));
    assert.deepEqual(bad, [], `${who}: no page errors or CSP violations`);
  }
});
