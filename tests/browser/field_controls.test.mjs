// End to end, the controls of the field page and of the console, with a phone that has two
// (fake) cameras:
//
// - the phone starts on the rear camera, keeps the screen awake (or says the browser refused),
//   shows its connection quality, and offers the light only where the camera has one;
// - "Switch camera" changes the camera while the console keeps decoding;
// - "Mute microphone" stops the phone's microphone and brings it back;
// - the console's microphone button mutes the supporter's voice; its tile shows the quality.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { fakeCameraArgs, launchBrowser, PHONE_PORTRAIT, screenshot } from './lib/browser.mjs';
import { eventually, expectPath, expectText, expectVisible } from './lib/wait.mjs';
import { ApiClient } from './lib/api.mjs';

const STEP_TIMEOUT = 90_000;
const MEDIA_TIMEOUT = 30_000;
const GROUP = '操作テスト班';
const SUPPORTER = { login: 'ctl-ito', name: '伊藤', initial: 'Shokai-ctl-321', password: 'Ito-ctl-654' };
const CAMERA = { name: 'C-1 二眼', id: '', credential: '' };

/** @type {import('./lib/server.mjs').RunningServer} */
let server;
/** @type {import('./lib/browser.mjs').LaunchedBrowser | undefined} */
let phone;
/** @type {import('./lib/browser.mjs').LaunchedBrowser | undefined} */
let desk;
let failedStep = '';

/** @param {string} name @param {() => Promise<void>} fn */
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
      const slug = name.replace(/[^a-z0-9]+/gi, '-').slice(0, 50);
      for (const [who, b] of /** @type {Array<[string, typeof desk]>} */ ([['desk', desk], ['phone', phone]])) {
        if (b && !b.page.isClosed()) await screenshot(b.page, `FAILED-ctl-${slug}-${who}`).catch(() => {});
      }
      throw error;
    }
  });
}

before(async () => {
  server = await startServer({ name: 'controls', extraArgs: ['--media-port', '0'], expectMedia: true });
  const admin = new ApiClient(server.url);
  await admin.login(server.adminLogin || 'admin', /** @type {string} */ (server.adminPassword));
  await admin.changePassword(/** @type {string} */ (server.adminPassword), 'Kanri-ctl-2026');
  const group = await admin.call('POST', '/api/groups', { name: GROUP });
  await admin.call('POST', '/api/users', {
    login_id: SUPPORTER.login,
    display_name: SUPPORTER.name,
    role: 'supporter',
    group_id: group.id,
    password: SUPPORTER.initial,
  });
  const client = new ApiClient(server.url);
  await client.login(SUPPORTER.login, SUPPORTER.initial);
  await client.changePassword(SUPPORTER.initial, SUPPORTER.password);
  const created = await admin.call('POST', '/api/devices', { group_id: group.id, name: CAMERA.name });
  const paired = await new ApiClient(server.url).call('POST', '/api/pair', { code: created.pairing.code });
  CAMERA.id = paired.device_id;
  CAMERA.credential = paired.credential;
}, { timeout: 120_000 });

after(async () => {
  await phone?.close().catch(() => {});
  await desk?.close().catch(() => {});
  await server?.stop().catch(() => {});
});

/** What the phone sends: its senders' tracks (kind, label, enabled). */
function phoneSenders(/** @type {import('playwright-core').Page} */ page) {
  return page.evaluate(() => {
    const pc = /** @type {RTCPeerConnection | null} */ (/** @type {any} */ (window).__raField?.pc);
    return (pc?.getSenders() || [])
      .filter((s) => s.track)
      .map((s) => ({ kind: s.track?.kind, label: s.track?.label, enabled: s.track?.enabled }));
  });
}

/** The console's decoded-frame count for the camera. */
function framesDecoded(/** @type {import('playwright-core').Page} */ page) {
  return page.evaluate(async () => {
    const pc = /** @type {RTCPeerConnection | null} */ (/** @type {any} */ (window).__raConsole?.pc);
    if (!pc) return 0;
    let frames = 0;
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') frames += r.framesDecoded || 0;
    });
    return frames;
  });
}

step('the phone goes live on its rear camera and the supporter watches it', async () => {
  phone = await launchBrowser({
    locale: 'ja-JP',
    mobile: true,
    viewport: PHONE_PORTRAIT,
    // Two cameras (Chromium's own fake pattern: a picture file would make them one).
    extraArgs: ['--use-fake-device-for-media-stream=device-count=2', '--use-fake-ui-for-media-stream'],
  });
  const field = phone.page;
  await field.goto(`${server.url}/field`);
  await field.evaluate(
    (device) => localStorage.setItem('ra.device', JSON.stringify(device)),
    { device_id: CAMERA.id, device_name: CAMERA.name, group_name: GROUP, credential: CAMERA.credential },
  );
  await field.goto(`${server.url}/field`);
  await field.getByRole('button', { name: 'ライブ開始' }).click();
  await expectText(field.locator('#field-watch'), 'まだ誰も見ていません', 15_000);

  desk = await launchBrowser({ locale: 'ja-JP', extraArgs: fakeCameraArgs(), viewport: { width: 1280, height: 800 } });
  const page = desk.page;
  await page.goto(`${server.url}/login`);
  await page.getByLabel('ログインID').fill(SUPPORTER.login);
  await page.getByLabel('パスワード').fill(SUPPORTER.password);
  await page.getByRole('button', { name: 'ログイン', exact: true }).click();
  await expectPath(page, '/');
  const item = page.getByRole('list', { name: 'カメラ' }).locator(`li[data-device-id="${CAMERA.id}"]`);
  await expectText(item, 'オンライン', 20_000);
  await item.getByRole('button', { name: '接続' }).click();
  await eventually(async () => (await framesDecoded(page)) > 10, {
    timeout: MEDIA_TIMEOUT,
    message: 'the console to decode the camera',
  });
  await expectText(field.locator('#field-watch'), `${SUPPORTER.name}さんが見ています`, 15_000);
  // The rear camera ("environment") was asked for.
  const facing = await field.evaluate(() => /** @type {any} */ (window).__raField.facing);
  assert.equal(facing, 'environment', 'the rear camera by default');
});

step('the phone keeps the screen awake, shows its quality, and hides the light it lacks', async () => {
  const field = /** @type {NonNullable<typeof phone>} */ (phone).page;
  const wake = await eventually(
    () => field.evaluate(() => {
      const state = /** @type {any} */ (window).__raField.wakeLock;
      return state === 'none' ? null : state;
    }),
    { message: 'the page to ask for a screen wake lock' },
  );
  console.log(`# wake lock: ${wake}`);
  assert.ok(['held', 'refused'].includes(wake), `the wake lock was requested (${wake})`);
  await expectText(field.locator('#field-quality'), '接続品質', 15_000);
  await eventually(async () => /遅延 \d+ ms/.test((await field.locator('#field-quality').textContent()) || ''), {
    timeout: 20_000,
    message: 'the round-trip time in the quality line',
  });
  // Chromium's fake cameras have no torch: the button is not offered.
  assert.equal(await field.locator('#field-torch').isHidden(), true, 'no light button without a torch');
  await screenshot(field, 'controls-phone');
});

step('Switch camera moves to the other camera and back; the console decodes the camera sent', async () => {
  const field = /** @type {NonNullable<typeof phone>} */ (phone).page;
  const page = /** @type {NonNullable<typeof desk>} */ (desk).page;
  const switchButton = field.getByRole('button', { name: 'カメラを切り替え' });
  await expectVisible(switchButton);
  const sentVideo = async () => (await phoneSenders(field)).find((s) => s.kind === 'video');
  const first = await sentVideo();
  assert.ok(first?.label, 'a camera is being sent');
  await switchButton.click();
  const second = await eventually(async () => {
    const video = await sentVideo();
    return video && video.label && video.label !== first?.label ? video : null;
  }, { message: 'the other camera on the sender' });
  // Chromium's second fake camera gives frames its encoder never sends (a quirk of the fake
  // device, reproduced without our code), so the picture is checked after switching back.
  await expectVisible(switchButton);
  await eventually(async () => !(await switchButton.isDisabled()), { message: 'the switch to finish' });
  await switchButton.click();
  await eventually(async () => (await sentVideo())?.label === first?.label, {
    message: 'the first camera on the sender again',
  });
  console.log(`# switched camera: ${first?.label} → ${second.label} → ${first?.label}`);
  const frames = await framesDecoded(page);
  await eventually(async () => (await framesDecoded(page)) > frames + 10, {
    timeout: MEDIA_TIMEOUT,
    message: 'the console to decode the camera sent after the switches',
  });
  // The camera is sent as camera video (not screen content, which Chrome sends only when the
  // picture changes).
  const contentType = await field.evaluate(async () => {
    const pc = /** @type {RTCPeerConnection} */ (/** @type {any} */ (window).__raField.pc);
    let type = null;
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'outbound-rtp' && r.kind === 'video') type = r.contentType || 'camera';
    });
    return type;
  });
  assert.notEqual(contentType, 'screenshare', 'sent as camera video');
});

step('Mute microphone stops the phone microphone and brings it back', async () => {
  const field = /** @type {NonNullable<typeof phone>} */ (phone).page;
  const mute = field.locator('#field-mute');
  const mic = async () => (await phoneSenders(field)).find((s) => s.kind === 'audio');
  assert.equal((await mic())?.enabled, true);
  await mute.click();
  assert.equal(await mute.getAttribute('aria-pressed'), 'true');
  await eventually(async () => (await mic())?.enabled === false, { message: 'the microphone off' });
  await mute.click();
  assert.equal(await mute.getAttribute('aria-pressed'), 'false');
  await eventually(async () => (await mic())?.enabled === true, { message: 'the microphone on again' });
});

step("the console's microphone button mutes the supporter's voice; the tile shows quality", async () => {
  const page = /** @type {NonNullable<typeof desk>} */ (desk).page;
  const micButton = page.locator('#console-mic');
  const micEnabled = () =>
    page.evaluate(() => {
      const pc = /** @type {RTCPeerConnection | null} */ (/** @type {any} */ (window).__raConsole?.pc);
      const sender = pc?.getSenders().find((s) => s.track && s.track.kind === 'audio');
      return sender?.track?.enabled ?? null;
    });
  assert.equal(await micEnabled(), true, 'the supporter speaks');
  assert.equal(await micButton.getAttribute('aria-pressed'), 'false');
  await micButton.click();
  assert.equal(await micButton.getAttribute('aria-pressed'), 'true');
  await eventually(async () => (await micEnabled()) === false, { message: 'the console microphone off' });
  await micButton.click();
  await eventually(async () => (await micEnabled()) === true, { message: 'the console microphone on' });
  const tile = page.getByRole('region', { name: CAMERA.name });
  await eventually(async () => /\d+ fps/.test((await tile.locator('.tile-stats').textContent()) || ''), {
    timeout: 15_000,
    message: 'the frame rate on the tile',
  });
});
