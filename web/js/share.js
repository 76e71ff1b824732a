//! The share view (`/share`): a clean, dark, 16:9 page with only the live feeds, their labels and
//! the current time, sized for sharing one window into Teams or Zoom.
//!
//! It has no connection of its own. The console opens it (`window.open('/share', 'ra-share')`) and
//! fills it by same-origin DOM access: it calls `window.raShare.update(feeds)` here with the live
//! MediaStreams whenever cameras come, go or change state. This page tells the console it is
//! ready by calling `opener.raConsole.shareReady(window)`, also after either side reloads.

import { applyI18n, onLangChange, t } from './i18n.js';
import { formatTime, loadTimeZone } from './time.js';
import { byId, h } from './dom.js';

/**
 * One feed of the console.
 * @typedef {object} ShareFeed
 * @property {number} slot
 * @property {string} deviceId
 * @property {string} name         the camera's name (its label)
 * @property {MediaStream | null} stream   video only (the console plays the sound)
 * @property {'connecting' | 'live' | 'reconnecting'} media
 */

/**
 * What this window offers the console.
 * @typedef {object} RaShare
 * @property {(feeds: ShareFeed[]) => void} update   replace the shown feeds
 */

/**
 * @typedef {object} ShareTile
 * @property {HTMLElement} el
 * @property {HTMLVideoElement} video
 * @property {HTMLElement} label
 * @property {HTMLElement} overlay
 * @property {ShareFeed} feed
 */

const grid = byId('share-grid');
/** @type {Map<string, ShareTile>} by device id */
const tiles = new Map();
let everUpdated = false;

/** @param {ShareFeed} feed @returns {ShareTile} */
function createTile(feed) {
  const video = h('video', { className: 'share-video', autoplay: true, muted: true, playsInline: true });
  video.muted = true;
  const label = h('figcaption', { className: 'share-label' });
  const overlay = h('div', { className: 'share-overlay', hidden: true });
  const el = h('figure', { className: 'share-tile' }, video, overlay, label);
  return { el, video, label, overlay, feed };
}

/** @param {ShareTile} tile */
function renderTile(tile) {
  const { feed } = tile;
  tile.label.textContent = feed.name;
  tile.el.setAttribute('aria-label', feed.name);
  tile.video.dataset.deviceId = feed.deviceId;
  tile.video.dataset.slot = String(feed.slot);
  const overlay =
    feed.media === 'reconnecting' ? t('tile.reconnecting') : feed.media === 'connecting' ? t('tile.connecting') : '';
  tile.overlay.textContent = overlay;
  tile.overlay.hidden = !overlay;
}

/** @param {ShareFeed[]} feeds */
function update(feeds) {
  everUpdated = true;
  const wanted = new Set(feeds.map((feed) => feed.deviceId));
  for (const [deviceId, tile] of tiles) {
    if (!wanted.has(deviceId)) {
      tile.video.srcObject = null;
      tile.el.remove();
      tiles.delete(deviceId);
    }
  }
  const ordered = [...feeds].sort((a, b) => a.slot - b.slot);
  ordered.forEach((feed, i) => {
    let tile = tiles.get(feed.deviceId);
    if (!tile) {
      tile = createTile(feed);
      tiles.set(feed.deviceId, tile);
    }
    tile.feed = feed;
    if (tile.video.srcObject !== feed.stream) {
      tile.video.srcObject = feed.stream;
      if (feed.stream) tile.video.play().catch(() => {});
    }
    if (grid.children[i] !== tile.el) grid.insertBefore(tile.el, grid.children[i] || null);
    renderTile(tile);
  });
  grid.dataset.count = String(ordered.length);
  byId('share-waiting').hidden = ordered.length > 0;
  byId('share-orphan').hidden = true;
}

/** @type {RaShare} */
const raShare = { update };
/** @type {any} */ (window).raShare = raShare;

onLangChange(() => tiles.forEach(renderTile));

function tick() {
  byId('share-clock').textContent = formatTime(new Date().toISOString());
}

/** The console object this window last registered with (it changes when the console reloads). */
/** @type {unknown} */
let registeredWith = null;

function register() {
  /** @type {any} */
  let consoleApi = null;
  try {
    const opener = /** @type {any} */ (window.opener);
    consoleApi = opener && !opener.closed ? opener.raConsole : null;
  } catch (_) {
    consoleApi = null;
  }
  if (consoleApi && consoleApi !== registeredWith) {
    registeredWith = consoleApi;
    consoleApi.shareReady(window);
  }
  if (!consoleApi && !everUpdated) {
    byId('share-waiting').hidden = true;
    byId('share-orphan').hidden = false;
  }
}

applyI18n(document);
await loadTimeZone();
tick();
setInterval(tick, 1000);
register();
setInterval(register, 2000);
