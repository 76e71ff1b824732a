// End to end, "My recordings": the real server (with its media port) records every camera of a
// session; one fake-camera phone, one supporter who watches it for 4 s and disconnects, and a
// second supporter of the same group who took no part.
//
// - While recording, the console's link opens /recordings in a new tab: "recording", Play /
//   Download / Delete unavailable, the file refused; the tab turns complete by itself afterwards.
// - /recordings lists the recording (camera name, JST start time, mm:ss, MB, complete, expiry).
// - Play: the inline <video> decodes the camera's picture (its y4m size), plays and seeks (Range).
// - Download: the link points at the file; the file is video/mp4, starts with ftyp, and its
//   SHA-256 and size are the listed ones.
// - The other supporter sees no recordings and gets 404 for the file (API and page).
// - Phone layout (cards), English texts, delete in a <dialog> (row gone, file 404), audit trail.
//
// Steps run in order on one server; after the first failure the rest are skipped. Screenshots and
// the server log land in tests/browser/artifacts/ (recordings.png is the page with the player).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer } from './lib/server.mjs';
import { fakeCameraArgs, launchBrowser, PHONE_PORTRAIT, screenshot } from './lib/browser.mjs';
import { eventually, expectPath, expectText, expectVisible } from './lib/wait.mjs';
import { ApiClient } from './lib/api.mjs';
import { makeY4m } from './lib/media.mjs';

const STEP_TIMEOUT = 90_000;
const MEDIA_TIMEOUT = 30_000;
/** How long the supporter watches the camera (seconds of the camera's video on the console). */
const WATCH_SECONDS = 4;

const ADMIN_NEW_PASSWORD = 'Kanri-rec-2026';
const GROUP = '録画テスト班';
const SUPPORTER = { login: 'rec-sato', name: '佐藤', initial: 'Shokai-rec-321', password: 'Sato-rec-654' };
const OTHER = { login: 'rec-suzuki', name: '鈴木', initial: 'Shokai-rec-987', password: 'Suzuki-rec-456' };
const CAMERA = { name: 'R-1 検査台', file: 'rec1', width: 352, height: 288, id: '', credential: '' };
const DESK_VIEWPORT = { width: 1280, height: 800 };

/** @type {import('./lib/server.mjs').RunningServer} */
let server;
/** @type {ApiClient} */
let admin;
/** @type {ApiClient} the second supporter, who took no part */
let otherApi;
/** @type {import('./lib/browser.mjs').LaunchedBrowser | undefined} */
let phone;
/** @type {import('./lib/browser.mjs').LaunchedBrowser | undefined} */
let desk;
/** @type {import('./lib/browser.mjs').LaunchedBrowser | undefined} */
let otherDesk;
/** @type {import('playwright-core').Page | undefined} the console's "My recordings" tab */
let recordingsTab;
let mediaDir = '';
let failedStep = '';
/** The recording under test, as `GET /api/recordings` lists it. */
/** @type {any} */
let recording = null;
/** Statuses of the responses to the recording's file URL seen by the desk. */
/** @type {number[]} */
const fileStatuses = [];

/**
 * A test step that is skipped once an earlier step failed, and leaves screenshots when it fails.
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
      const slug = name.replace(/[^a-z0-9]+/gi, '-').slice(0, 50);
      /** @type {Array<[string, import('playwright-core').Page | undefined]>} */
      const pages = [['desk', desk?.page], ['tab', recordingsTab], ['other', otherDesk?.page], ['phone', phone?.page]];
      for (const [who, page] of pages) {
        if (page && !page.isClosed()) await screenshot(page, `FAILED-rec-${slug}-${who}`).catch(() => {});
      }
      throw error;
    }
  });
}

before(async () => {
  mediaDir = mkdtempSync(path.join(tmpdir(), 'ra-e2e-media-'));
  makeY4m(mediaDir, CAMERA.file, CAMERA.width, CAMERA.height, { fps: 15, seconds: 3 });

  server = await startServer({ name: 'recordings', extraArgs: ['--media-port', '0'], expectMedia: true });
  assert.ok(server.adminPassword, 'the first start prints a one-time admin password');

  admin = new ApiClient(server.url);
  await admin.login(server.adminLogin || 'admin', server.adminPassword);
  await admin.changePassword(server.adminPassword, ADMIN_NEW_PASSWORD);
  const group = await admin.call('POST', '/api/groups', { name: GROUP });
  for (const who of [SUPPORTER, OTHER]) {
    await admin.call('POST', '/api/users', {
      login_id: who.login,
      display_name: who.name,
      role: 'supporter',
      group_id: group.id,
      password: who.initial,
    });
    // The first password change is not what this test is about: do it through the API.
    const client = new ApiClient(server.url);
    await client.login(who.login, who.initial);
    await client.changePassword(who.initial, who.password);
    if (who === OTHER) otherApi = client;
  }
  const created = await admin.call('POST', '/api/devices', { group_id: group.id, name: CAMERA.name });
  const paired = await new ApiClient(server.url).call('POST', '/api/pair', { code: created.pairing.code });
  CAMERA.id = paired.device_id;
  CAMERA.credential = paired.credential;
}, { timeout: 120_000 });

after(async () => {
  await phone?.close().catch(() => {});
  await desk?.close().catch(() => {});
  await otherDesk?.close().catch(() => {});
  await server?.stop().catch(() => {});
  if (mediaDir) rmSync(mediaDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Helpers

/**
 * Log in through the login page (the password was already changed) and land on the console.
 * @param {import('playwright-core').Page} page
 * @param {{login: string, password: string}} who
 */
async function logIn(page, who) {
  await page.goto(`${server.url}/login`);
  await page.getByLabel('ログインID').fill(who.login);
  await page.getByLabel('パスワード').fill(who.password);
  await page.getByRole('button', { name: 'ログイン', exact: true }).click();
  await expectPath(page, '/');
}

/**
 * `fetch()` from the page (its session cookie): status, type, size, the first bytes as text,
 * whether the first 64 KiB hold the fMP4 boxes, and the SHA-256 of the body.
 * @param {import('playwright-core').Page} page
 * @param {string} url
 */
function fetchFromPage(page, url) {
  return page.evaluate(async (href) => {
    const response = await fetch(href, { cache: 'no-store' });
    const bytes = new Uint8Array(await response.arrayBuffer());
    const head = String.fromCharCode(...bytes.subarray(0, Math.min(bytes.length, 65536)));
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    let json = null;
    if ((response.headers.get('content-type') || '').includes('json')) {
      try {
        json = JSON.parse(new TextDecoder().decode(bytes));
      } catch (_) {
        json = null;
      }
    }
    return {
      status: response.status,
      type: response.headers.get('content-type') || '',
      length: bytes.length,
      first: head.slice(0, 16),
      hasMoov: head.includes('moov'),
      hasMoof: head.includes('moof'),
      sha256: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join(''),
      json,
    };
  }, url);
}

/** @param {import('playwright-core').Page} page */
async function listFromPage(page) {
  return page.evaluate(async () => {
    const response = await fetch('/api/recordings', { headers: { Accept: 'application/json' }, cache: 'no-store' });
    return { status: response.status, body: await response.json() };
  });
}

/** @param {import('playwright-core').Page} page */
function playerState(page) {
  return page.locator('#player-video').evaluate((el) => {
    const v = /** @type {HTMLVideoElement} */ (el);
    return {
      readyState: v.readyState,
      videoWidth: v.videoWidth,
      videoHeight: v.videoHeight,
      currentTime: v.currentTime,
      duration: v.duration,
      paused: v.paused,
      seeking: v.seeking,
      error: v.error ? `${v.error.code} ${v.error.message}` : null,
      src: v.getAttribute('src'),
    };
  });
}

/** The day `YYYY-MM-DD` of an RFC 3339 time in Asia/Tokyo. @param {string} iso */
function tokyoDay(iso) {
  return new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Tokyo', year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(iso));
}

/** @param {number} secs */
function mmss(secs) {
  const total = Math.floor(secs);
  return `${String(Math.floor(total / 60)).padStart(2, '0')}:${String(total % 60).padStart(2, '0')}`;
}

/** @param {import('playwright-core').Page} page */
function recordingRow(page) {
  return page.locator('tr[data-rec-id]').filter({ hasText: CAMERA.name });
}

// ---------------------------------------------------------------------------------------------
// Steps

step('the supporter watches the camera for 4 s and disconnects it', async () => {
  phone = await launchBrowser({
    locale: 'ja-JP',
    mobile: true,
    viewport: PHONE_PORTRAIT,
    extraArgs: fakeCameraArgs(path.join(mediaDir, `${CAMERA.file}.y4m`)),
  });
  const field = phone.page;
  await field.goto(`${server.url}/field`);
  await expectVisible(field.getByText('まだカメラとして登録されていません', { exact: false }));
  await field.evaluate(
    (device) => localStorage.setItem('ra.device', JSON.stringify(device)),
    { device_id: CAMERA.id, device_name: CAMERA.name, group_name: GROUP, credential: CAMERA.credential },
  );
  await field.goto(`${server.url}/field`);
  await field.getByRole('button', { name: 'ライブ開始' }).click();
  await expectText(field.locator('#field-watch'), 'まだ誰も見ていません', 15_000);

  desk = await launchBrowser({ locale: 'ja-JP', extraArgs: fakeCameraArgs(), viewport: DESK_VIEWPORT });
  const page = desk.page;
  page.on('response', (response) => {
    if (/\/api\/recordings\/[^/]+\/file$/.test(new URL(response.url()).pathname)) fileStatuses.push(response.status());
  });
  await logIn(page, SUPPORTER);
  await expectVisible(page.getByRole('heading', { name: 'ライブコンソール' }));
  // The way to the recordings: the header's navigation, and a link in the console (new tab).
  const nav = page.getByRole('navigation').getByRole('link', { name: '録画', exact: true });
  assert.equal(await nav.getAttribute('href'), '/recordings');
  const consoleLink = page.locator('main').getByRole('link', { name: '録画一覧' });
  assert.equal(await consoleLink.getAttribute('href'), '/recordings');
  assert.equal(await consoleLink.getAttribute('target'), '_blank');

  const item = page.getByRole('list', { name: 'カメラ' }).locator(`li[data-device-id="${CAMERA.id}"]`);
  await expectText(item, 'オンライン', 20_000);
  await item.getByRole('button', { name: '接続' }).click();
  const tile = page.getByRole('region', { name: CAMERA.name });
  const video = tile.locator(`video[data-device-id="${CAMERA.id}"]`);
  await expectVisible(video);
  const started = await eventually(async () => {
    const v = await video.evaluate((el) => {
      const e = /** @type {HTMLVideoElement} */ (el);
      return { width: e.videoWidth, time: e.currentTime };
    });
    return v.width === CAMERA.width && v.time > 0 ? v : null;
  }, { timeout: MEDIA_TIMEOUT, message: `the console to play the ${CAMERA.width}px camera` });
  await expectText(field.locator('#field-watch'), `${SUPPORTER.name}さんが見ています`, 15_000);

  // While it is being recorded: the console's link opens /recordings in a new tab, where the
  // recording is "in progress" with Play, Download and Delete unavailable, and the file refused.
  const [tab] = await Promise.all([
    desk.context.waitForEvent('page', { timeout: 15_000 }),
    consoleLink.click(),
  ]);
  recordingsTab = tab;
  await tab.waitForLoadState('load');
  assert.equal(new URL(tab.url()).pathname, '/recordings');
  const liveRow = recordingRow(tab);
  await eventually(async () => {
    if ((await liveRow.count()) === 1) return true;
    await tab.reload();
    return false;
  }, { timeout: 10_000, message: 'the recording in progress in the list' });
  assert.equal(await liveRow.getAttribute('data-state'), 'recording');
  await expectText(liveRow, '録画中');
  assert.equal(await liveRow.getByRole('button', { name: '再生' }).isDisabled(), true, 'Play is disabled while recording');
  assert.equal(await liveRow.getByRole('button', { name: '削除' }).isDisabled(), true, 'Delete is disabled while recording');
  const pendingLink = liveRow.getByRole('link', { name: 'MP4をダウンロード' });
  assert.equal(await pendingLink.getAttribute('aria-disabled'), 'true', 'Download is disabled while recording');
  assert.equal(await pendingLink.getAttribute('href'), null, 'no file URL while recording');
  const pendingId = /** @type {string} */ (await liveRow.getAttribute('data-rec-id'));
  const pending = await fetchFromPage(tab, `/api/recordings/${pendingId}/file`);
  console.log(`# file while recording: ${pending.status} ${JSON.stringify(pending.json)}`);
  assert.equal(pending.status, 409, 'the file is refused while recording');
  await screenshot(tab, 'recordings-in-progress');

  // Watch for WATCH_SECONDS of the camera's live video (measured on the <video>, not slept).
  await eventually(
    () => video.evaluate((el, until) => /** @type {HTMLVideoElement} */ (el).currentTime >= until, started.time + WATCH_SECONDS),
    { timeout: MEDIA_TIMEOUT, message: `${WATCH_SECONDS} s of live video on the console` },
  );
  await tile.getByRole('button', { name: '切断' }).click();
  await eventually(async () => (await page.getByRole('region', { name: CAMERA.name }).count()) === 0, {
    message: 'the tile to go',
  });
  await expectText(field.locator('#field-watch'), 'まだ誰も見ていません', 15_000);
  // The open recordings tab polls while a recording is in progress: it turns complete by itself.
  await eventually(async () => (await liveRow.getAttribute('data-state')) === 'complete', {
    timeout: 15_000,
    message: 'the open recordings tab to show the recording complete',
  });
  assert.equal(await liveRow.getByRole('button', { name: '再生' }).isDisabled(), false);
  await tab.close();
  recordingsTab = undefined;
});

step('/recordings lists the recording: camera, JST start, mm:ss, MB, complete, expiry date', async () => {
  const page = /** @type {NonNullable<typeof desk>} */ (desk).page;
  await page.goto(`${server.url}/recordings`);
  await expectVisible(page.getByRole('heading', { name: '録画一覧', level: 1 }));
  await expectText(page.locator('main .notice'), '30日後に自動的に削除');
  assert.equal(await page.getByRole('navigation').getByRole('link', { name: '録画', exact: true }).getAttribute('aria-current'), 'page');
  const row = recordingRow(page);
  // The recording completes when the camera leaves the session: reload until it says so.
  await eventually(async () => {
    const rowState = await row.first().getAttribute('data-state', { timeout: 1_000 }).catch(() => null);
    if (rowState === 'complete') return true;
    await page.reload();
    return false;
  }, { timeout: 15_000, message: 'a complete recording of the camera in the list' });
  assert.equal(await row.count(), 1);
  assert.equal(await page.locator('tr[data-rec-id]').count(), 1, 'one recording in the list');
  const id = /** @type {string} */ (await row.getAttribute('data-rec-id'));

  const listed = await listFromPage(page);
  assert.equal(listed.status, 200);
  recording = listed.body.recordings.find((/** @type {any} */ r) => r.id === id);
  console.log(`# recording: ${JSON.stringify(recording)}`);
  assert.ok(recording, 'the row is a recording of the API list');
  assert.equal(recording.device_id, CAMERA.id);
  assert.equal(recording.device_name, CAMERA.name);
  assert.equal(recording.state, 'complete');
  assert.ok(recording.duration_secs >= WATCH_SECONDS - 0.5, `duration ${recording.duration_secs} s ≥ ~${WATCH_SECONDS} s`);
  assert.ok(recording.size > 0, 'size > 0');
  assert.match(String(recording.sha256), /^[0-9a-f]{64}$/);
  const retentionDays = (Date.parse(recording.expires_at) - Date.parse(recording.started_at)) / 86_400_000;
  assert.ok(retentionDays > 27 && retentionDays < 32, `expires about a month after recording (${retentionDays} days)`);

  const cells = await row.locator('th, td').allTextContents();
  console.log(`# row: ${JSON.stringify(cells)}`);
  assert.match(cells[0], /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} JST$/);
  assert.equal(cells[0].slice(0, 10), tokyoDay(recording.started_at));
  assert.equal(cells[1], CAMERA.name);
  assert.equal(cells[2], mmss(recording.duration_secs));
  assert.match(cells[3], /^\d+\.\d MB$/);
  assert.equal(cells[4], '完了');
  assert.equal(cells[5], tokyoDay(recording.expires_at));
  await expectVisible(row.getByRole('button', { name: '再生' }));
  await expectVisible(row.getByRole('link', { name: 'MP4をダウンロード' }));
  await expectVisible(row.getByRole('button', { name: '削除' }));
  assert.equal(await page.locator('#player').isVisible(), false, 'no player before Play');
});

step('Play: the inline player shows the camera picture, plays and seeks', async () => {
  const page = /** @type {NonNullable<typeof desk>} */ (desk).page;
  const row = recordingRow(page);
  await row.getByRole('button', { name: '再生' }).click();
  const player = page.getByRole('region', { name: /再生中/ });
  await expectVisible(player);
  await expectText(player.getByRole('heading'), CAMERA.name);
  assert.equal(await page.locator('#player-video').getAttribute('src'), `/api/recordings/${recording.id}/file`);
  /** @type {Awaited<ReturnType<typeof playerState>> | null} */
  let last = null;
  await eventually(async () => {
    last = await playerState(page);
    return last.readyState >= 2 && last.videoWidth > 0;
  }, { timeout: MEDIA_TIMEOUT, message: () => `the player to have a picture (last: ${JSON.stringify(last)})` });
  const ready = await playerState(page);
  console.log(`# player ready: ${JSON.stringify(ready)}`);
  assert.equal(ready.videoWidth, CAMERA.width, 'the recorded picture has the camera file width');
  assert.equal(ready.videoHeight, CAMERA.height, 'the recorded picture has the camera file height');
  const first = ready.currentTime;
  await eventually(async () => {
    last = await playerState(page);
    return !last.paused && last.currentTime > first + 0.5;
  }, { timeout: 15_000, message: () => `currentTime to advance from ${first} (last: ${JSON.stringify(last)})` });

  // Seek to 1.5 s: the player lands there and plays on from it.
  const seek = await page.locator('#player-video').evaluate(
    (el) =>
      new Promise((resolve) => {
        const v = /** @type {HTMLVideoElement} */ (el);
        const timer = setTimeout(() => resolve({ timeout: true, currentTime: v.currentTime }), 10_000);
        v.addEventListener('seeked', () => {
          clearTimeout(timer);
          resolve({ timeout: false, currentTime: v.currentTime });
        }, { once: true });
        v.currentTime = 1.5;
      }),
  );
  console.log(`# seek to 1.5 s: ${JSON.stringify(seek)}`);
  assert.equal(seek.timeout, false, 'the seek completed');
  assert.ok(seek.currentTime >= 1.4 && seek.currentTime < 2.5, `seeked to ~1.5 s (at ${seek.currentTime})`);
  const afterSeek = /** @type {{currentTime: number}} */ (seek).currentTime;
  await eventually(async () => {
    last = await playerState(page);
    return !last.paused && last.currentTime > afterSeek + 0.3 && last.currentTime < afterSeek + 6;
  }, { timeout: 15_000, message: () => `playing on from ${afterSeek} (last: ${JSON.stringify(last)})` });
  assert.equal(last && last.error, null);
  console.log(`# file responses to the player: ${JSON.stringify(fileStatuses)}`);
  assert.ok(fileStatuses.includes(206), 'the player used Range requests (206)');
  await screenshot(page, 'recordings');
});

step('Download: the link is the file URL; the file is video/mp4 with the listed size and SHA-256', async () => {
  const page = /** @type {NonNullable<typeof desk>} */ (desk).page;
  const link = recordingRow(page).getByRole('link', { name: 'MP4をダウンロード' });
  const href = /** @type {string} */ (await link.getAttribute('href'));
  assert.equal(href, `/api/recordings/${recording.id}/file?download=1`);
  assert.notEqual(await link.getAttribute('download'), null, 'the link has a download attribute');
  const file = await fetchFromPage(page, href);
  console.log(`# file: ${JSON.stringify({ ...file, json: undefined })}`);
  assert.equal(file.status, 200);
  assert.match(file.type, /^video\/mp4/);
  assert.ok(file.first.includes('ftyp'), `starts with an ftyp box (${JSON.stringify(file.first)})`);
  assert.ok(file.hasMoov && file.hasMoof, 'a fragmented MP4 (moov and moof near the start)');
  assert.equal(file.length, recording.size, 'the listed size');
  assert.equal(file.sha256, recording.sha256, 'the listed SHA-256');
  // One byte range, as players ask for it.
  const part = await page.evaluate(async (url) => {
    const response = await fetch(url, { headers: { Range: 'bytes=4-11' }, cache: 'no-store' });
    return {
      status: response.status,
      range: response.headers.get('content-range'),
      text: new TextDecoder('latin1').decode(await response.arrayBuffer()),
    };
  }, href);
  assert.deepEqual(part, { status: 206, range: `bytes 4-11/${recording.size}`, text: 'ftypisom' });
});

step('a second supporter of the same group sees no recordings and gets 404 for the file', async () => {
  const list = await otherApi.call('GET', '/api/recordings');
  assert.deepEqual(list.recordings, []);
  for (const [method, url] of [['GET', `/api/recordings/${recording.id}/file`], ['DELETE', `/api/recordings/${recording.id}`]]) {
    const answer = await otherApi.raw(method, url);
    assert.equal(answer.status, 404, `${method} ${url} → ${answer.status} ${JSON.stringify(answer.body)}`);
    assert.equal(answer.body?.error?.code, 'not_found');
  }
  // The same in a browser, on a phone: the empty state, and 404 for the file URL.
  otherDesk = await launchBrowser({ locale: 'ja-JP', mobile: true, viewport: PHONE_PORTRAIT });
  const page = otherDesk.page;
  await logIn(page, OTHER);
  await page.goto(`${server.url}/recordings`);
  await expectVisible(page.getByText('録画はまだありません。', { exact: false }));
  assert.equal(await page.locator('[data-rec-id]').count(), 0);
  const file = await fetchFromPage(page, `/api/recordings/${recording.id}/file`);
  assert.equal(file.status, 404);
  assert.equal(file.json?.error?.code, 'not_found');
  await screenshot(page, 'recordings-empty-phone');
});

step('on a phone the list is cards, and the page reads in English too', async () => {
  const page = /** @type {NonNullable<typeof desk>} */ (desk).page;
  await page.setViewportSize(PHONE_PORTRAIT);
  const card = page.locator('li.rec-card').filter({ hasText: CAMERA.name });
  await expectVisible(card);
  assert.equal(await page.locator('table.rec-table').count(), 0, 'no table on a phone');
  await expectVisible(card.getByRole('heading', { name: CAMERA.name }));
  await expectVisible(card.getByRole('button', { name: '再生' }));
  await expectVisible(card.getByRole('link', { name: 'MP4をダウンロード' }));
  await expectText(card, '完了');
  const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
  assert.ok(scroll <= width, `phone: content ${scroll}px wide in a ${width}px viewport`);
  await screenshot(page, 'recordings-phone');
  await page.setViewportSize(DESK_VIEWPORT);
  await expectVisible(recordingRow(page));

  const switcher = page.getByRole('combobox', { name: 'Language / 言語' });
  await switcher.selectOption('en');
  await expectVisible(page.getByRole('heading', { name: 'My recordings', level: 1 }));
  const row = recordingRow(page);
  await expectVisible(row.getByRole('button', { name: 'Play' }));
  await expectVisible(row.getByRole('link', { name: 'Download MP4' }));
  await expectText(row, 'Complete');
  await expectText(page.locator('main .notice'), '30 days after');
  await expectVisible(page.getByRole('navigation').getByRole('link', { name: 'Recordings', exact: true }));
  await switcher.selectOption('ja');
  await expectVisible(page.getByRole('heading', { name: '録画一覧', level: 1 }));
});

step('Delete asks in a dialog, removes the row, and the file is gone', async () => {
  const page = /** @type {NonNullable<typeof desk>} */ (desk).page;
  const row = recordingRow(page);
  await row.getByRole('button', { name: '削除' }).click();
  const dialog = page.getByRole('dialog');
  await expectVisible(dialog);
  await expectText(dialog, CAMERA.name);
  // Cancel keeps it…
  await dialog.getByRole('button', { name: 'キャンセル' }).click();
  await eventually(async () => (await page.getByRole('dialog').count()) === 0, { message: 'the dialog to close' });
  assert.equal(await row.count(), 1);
  // …confirming deletes it.
  await row.getByRole('button', { name: '削除' }).click();
  await page.getByRole('dialog').getByRole('button', { name: '削除' }).click();
  await eventually(async () => (await page.locator('[data-rec-id]').count()) === 0, { message: 'the row to go' });
  await expectVisible(page.getByText('録画はまだありません。', { exact: false }));
  await expectText(page.getByRole('status'), '削除しました');
  assert.equal(await page.locator('#player').isVisible(), false, 'the player closed with its recording');
  const file = await fetchFromPage(page, `/api/recordings/${recording.id}/file`);
  assert.equal(file.status, 404);
  const listed = await listFromPage(page);
  assert.deepEqual(listed.body.recordings, []);
});

step('the audit log has the recording start, stop, view, download and delete', async () => {
  const wanted = ['recording.start', 'recording.stop', 'recording.view', 'recording.download', 'recording.delete'];
  const seen = await eventually(async () => {
    const answer = await admin.call('GET', '/api/audit?limit=500');
    const actions = new Set(answer.events.map((/** @type {any} */ e) => e.action));
    return wanted.every((a) => actions.has(a)) ? answer.events : null;
  }, { message: `audit events ${wanted.join(', ')}` });
  for (const action of ['recording.view', 'recording.download', 'recording.delete']) {
    const event = seen.find((/** @type {any} */ e) => e.action === action);
    assert.equal(event.target, recording.id, `${action} names the recording`);
  }
});

step('no JavaScript dialog, page error or CSP violation happened', async () => {
  for (const [who, b] of /** @type {Array<[string, import('./lib/browser.mjs').LaunchedBrowser | undefined]>} */ ([['desk', desk], ['other', otherDesk], ['phone', phone]])) {
    if (!b) continue;
    assert.deepEqual(b.dialogs, [], `${who}: no alert/confirm/prompt`);
    const bad = b.errors.filter((e) => e.startsWith('pageerror') || /Content Security Policy/i.test(e));
    assert.deepEqual(bad, [], `${who}: no page errors or CSP violations`);
  }
});
