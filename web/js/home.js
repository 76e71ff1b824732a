//! The supporter console (`/`): the group's cameras with their presence on the left, up to
//! `max_cameras` live feeds on the right (docs/protocol.md, "Supporter").
//!
//! One RTCPeerConnection carries everything: for each slot i a recvonly video (transceiver 2i) and a
//! recvonly audio (2i+1), and last the supporter's microphone (sendonly). The server says which
//! camera fills which slot (`camera_added`). Every (re)welcome makes a new connection and offer, and
//! re-connects the cameras that were on screen (also after a reload of this page, from
//! sessionStorage). A media connection that fails, or stays disconnected for 2 s, is replaced.
//!
//! The share view (`/share`, a popup for Teams/Zoom window sharing) is filled from here through
//! same-origin DOM access: `popup.raShare.update(feeds)` with the live MediaStreams.
//!
//! For tests, `window.__raConsole` exposes the RTCPeerConnection (`.pc`) and the last presence.

import { api, errorMessage, getConfig } from './api.js';
import { getLang, onLangChange, t } from './i18n.js';
import { byId, h } from './dom.js';
import { initPage } from './layout.js';
import { Signal, signalErrorText } from './signal.js';
import { ReceiveMeter, createOffer, watchConnection } from './rtc.js';

/** @typedef {import('./protocol.js').CameraPresence} CameraPresence */
/** @typedef {import('./protocol.js').ServerMessage} ServerMessage */
/** @typedef {import('./protocol.js').ServerError} ServerError */
/** @typedef {import('./protocol.js').ServerCameraAdded} ServerCameraAdded */
/** @typedef {import('./share.js').ShareFeed} ShareFeed */
/** @typedef {import('./share.js').RaShare} RaShare */
/** @typedef {'connecting' | 'live' | 'reconnecting'} MediaState */

/**
 * @typedef {object} Tile
 * @property {number} slot
 * @property {string} deviceId
 * @property {string} name
 * @property {MediaState} media
 * @property {boolean} muted  the supporter's voice to this camera is off
 * @property {MediaStream | null} videoStream
 * @property {ReceiveMeter} meter
 * @property {ReturnType<ReceiveMeter['update']>} stats
 * @property {number} frozenTicks
 * @property {number} lastKeyframeRequest
 * @property {HTMLElement} el
 * @property {HTMLVideoElement} video
 * @property {HTMLAudioElement} audio
 * @property {HTMLElement} label
 * @property {HTMLElement} overlay
 * @property {HTMLElement} statsText
 * @property {HTMLButtonElement} muteButton
 * @property {HTMLButtonElement} fullButton
 * @property {HTMLButtonElement} disconnectButton
 * @property {HTMLButtonElement} snapshotButton
 * @property {HTMLElement} recBadge
 * @property {boolean} recording  the server records this camera in this session
 * @property {boolean} thumbnailSent
 */

/** sessionStorage key: device ids on screen, re-connected after a reload. */
const CAMERAS_STORAGE_KEY = 'ra.console.cameras';
/** localStorage key: the chosen layout. */
const LAYOUT_STORAGE_KEY = 'ra.console.layout';
const STATS_EVERY_MS = 1000;
const LAYOUTS = ['1', '2', '4'];
const AUDIO_CONSTRAINTS = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

const session = await initPage({ current: '/' });
const user = session.user;

const state = {
  maxCameras: 0,
  /** @type {CameraPresence[]} */
  presence: [],
  /** @type {Map<number, Tile>} by slot */
  tiles: new Map(),
  /** @type {Signal | null} */
  signal: null,
  /** @type {import('./signal.js').SignalState} */
  signalState: 'stopped',
  welcomedOnce: false,
  /** @type {RTCPeerConnection | null} */
  pc: null,
  /** @type {RTCRtpTransceiver | null} */
  micTx: null,
  /** @type {RTCPeerConnection[]} connections whose offer awaits its answer, oldest first */
  offered: [],
  /** @type {MediaStreamTrack | null} */
  micTrack: null,
  micMuted: false,
  micUnavailable: false,
  layout: '4',
  /**
   * connect_camera requests awaiting `camera_added` or an error, oldest first (the server
   * answers each in order). `auto`: sent by the console itself after a reconnect.
   * @type {Array<{deviceId: string, auto: boolean, retried?: boolean}>}
   */
  pending: [],
  /** @type {{text: () => string} | null} */
  error: null,
  /** @type {{text: () => string} | null} */
  notice: null,
  soundBlocked: false,
  /** @type {Window | null} */
  shareWin: null,
  /** @type {ReturnType<typeof setTimeout> | null} */
  retryOfferTimer: null,
  /** Settles once the current connection's offer was sent (cameras are connected after it). */
  /** @type {Promise<void>} */
  offerSent: Promise.resolve(),
  /** @type {HTMLElement | null} a tile shown maximised without the Fullscreen API */
  maximised: null,
  /** @type {Set<string>} device ids that were calling at the last presence */
  calling: new Set(),
};

/** For tests and troubleshooting. */
/** @type {any} */ (window).__raConsole = {
  get pc() {
    return state.pc;
  },
  get presence() {
    return state.presence;
  },
  get maxCameras() {
    return state.maxCameras;
  },
  get tiles() {
    return [...state.tiles.values()].map((tile) => ({
      slot: tile.slot,
      deviceId: tile.deviceId,
      name: tile.name,
      media: tile.media,
    }));
  },
};

const feeds = byId('feeds');
const list = byId('camera-list');
const micButton = /** @type {HTMLButtonElement} */ (byId('console-mic'));
const soundButton = /** @type {HTMLButtonElement} */ (byId('console-sound'));

// ---------------------------------------------------------------------------------------------
// Rendering

function nameOf(/** @type {string} */ deviceId) {
  const fromTile = [...state.tiles.values()].find((tile) => tile.deviceId === deviceId);
  if (fromTile) return fromTile.name;
  return state.presence.find((camera) => camera.device_id === deviceId)?.name || '';
}

function isMine(/** @type {string} */ deviceId) {
  return [...state.tiles.values()].some((tile) => tile.deviceId === deviceId);
}

function renderHeader() {
  byId('console-group').textContent = user.group_name
    ? t('home.group', { group: user.group_name })
    : t('home.no_group');
  const conn = byId('console-conn');
  const text =
    state.signalState === 'connecting'
      ? t('console.conn.connecting')
      : state.signalState === 'reconnecting'
        ? t('console.conn.reconnecting')
        : '';
  conn.textContent = text;
  conn.hidden = !text;
  for (const button of Array.from(byId('console-layout').querySelectorAll('button'))) {
    button.setAttribute('aria-pressed', String(button.dataset.layout === state.layout));
  }
  feeds.dataset.layout = state.layout;
  micButton.setAttribute('aria-pressed', String(state.micMuted));
  micButton.disabled = state.micUnavailable;
  micButton.textContent = state.micUnavailable ? t('console.mic_unavailable') : t('console.mic_mute');
  soundButton.hidden = !state.soundBlocked;
  byId('console-error-text').textContent = state.error ? state.error.text() : '';
  byId('console-error').hidden = !state.error;
  const notice = byId('console-notice');
  notice.textContent = state.notice ? state.notice.text() : '';
  notice.hidden = !state.notice;
}

/** @param {CameraPresence} camera */
function stateBadge(camera) {
  const mine = isMine(camera.device_id);
  const key = mine ? 'camera.state.mine' : `camera.state.${camera.state}`;
  return h('span', { className: `badge badge-${mine ? 'mine' : camera.state}`, text: t(key) });
}

const STATE_ORDER = { online: 0, in_session: 1, offline: 2 };

function renderList() {
  const focused = document.activeElement instanceof HTMLElement && list.contains(document.activeElement)
    ? { device: document.activeElement.dataset.deviceId, action: document.activeElement.dataset.action }
    : null;
  const cameras = [...state.presence].sort(
    (a, b) =>
      Number(b.calling) - Number(a.calling) ||
      (STATE_ORDER[a.state] ?? 3) - (STATE_ORDER[b.state] ?? 3) ||
      a.name.localeCompare(b.name, getLang()),
  );
  const items = cameras.map((camera) => {
    const mine = isMine(camera.device_id);
    const item = h('li', {
      className: `camera-item state-${camera.state}${camera.calling ? ' calling' : ''}`,
      dataset: { deviceId: camera.device_id },
    });
    item.append(
      h('div', { className: 'camera-line' }, h('span', { className: 'camera-name', text: camera.name }), stateBadge(camera)),
    );
    if (camera.state === 'in_session' && camera.supporter && !mine) {
      item.append(
        h('p', {
          className: 'camera-detail',
          text:
            camera.supporter.user_id === user.id
              ? t('camera.with_you_elsewhere')
              : t('camera.with', { name: camera.supporter.display_name }),
        }),
      );
    }
    if (camera.calling) {
      item.append(h('p', { className: 'ringing', text: t('camera.calling') }));
    }
    const actions = h('div', { className: 'camera-actions' });
    if (mine) {
      actions.append(
        h('button', {
          type: 'button',
          text: t('console.disconnect'),
          dataset: { deviceId: camera.device_id, action: 'disconnect' },
          on: { click: () => disconnectCamera(camera.device_id) },
        }),
      );
    } else if (camera.state === 'online') {
      actions.append(
        h('button', {
          type: 'button',
          className: camera.calling ? 'primary' : '',
          text: t(camera.calling ? 'console.accept' : 'console.connect'),
          dataset: { deviceId: camera.device_id, action: 'connect' },
          on: { click: () => connectCamera(camera.device_id, false) },
        }),
      );
    }
    if (actions.childElementCount) item.append(actions);
    return item;
  });
  list.replaceChildren(...items);
  byId('cameras-empty').hidden = cameras.length > 0;
  if (focused) {
    const again = Array.from(list.querySelectorAll('button')).find(
      (b) => b.dataset.deviceId === focused.device,
    );
    again?.focus();
  }
}

/** @param {Tile} tile */
function renderTile(tile) {
  tile.el.setAttribute('aria-label', tile.name);
  tile.label.textContent = tile.name;
  tile.video.dataset.slot = String(tile.slot);
  tile.video.dataset.deviceId = tile.deviceId;
  tile.el.dataset.slot = String(tile.slot);
  tile.el.dataset.deviceId = tile.deviceId;
  tile.el.dataset.media = tile.media;
  const overlay =
    tile.media === 'connecting' ? t('tile.connecting') : tile.media === 'reconnecting' ? t('tile.reconnecting') : '';
  tile.overlay.textContent = overlay;
  tile.overlay.hidden = !overlay;
  const s = tile.stats;
  if (s) {
    tile.statsText.className = `tile-stats quality-${s.quality}`;
    tile.statsText.textContent = [
      t(`quality.${s.quality}`),
      t('tile.fps', { fps: Math.round(s.fps) }),
      t('quality.loss', { percent: s.lossPercent.toFixed(1) }),
      t('tile.jitter', { ms: Math.round(s.jitterMs) }),
      s.width ? `${s.width}×${s.height}` : '',
    ]
      .filter(Boolean)
      .join(' · ');
  } else {
    tile.statsText.className = 'tile-stats quality-unknown';
    tile.statsText.textContent = t('quality.unknown');
  }
  tile.muteButton.setAttribute('aria-pressed', String(tile.muted));
  tile.muteButton.textContent = t('tile.mute');
  const full = document.fullscreenElement === tile.el || state.maximised === tile.el;
  tile.fullButton.setAttribute('aria-pressed', String(full));
  tile.fullButton.textContent = t('tile.fullscreen');
  tile.disconnectButton.textContent = t('console.disconnect');
  tile.snapshotButton.textContent = t('tile.snapshot');
  tile.snapshotButton.disabled = !tile.video.videoWidth;
  tile.recBadge.hidden = !tile.recording;
  tile.recBadge.textContent = t('tile.recording');
}

function renderFeeds() {
  const tiles = [...state.tiles.values()].sort((a, b) => a.slot - b.slot);
  // Keep existing elements in place (re-appending a playing <video> would pause it).
  const wanted = tiles.map((tile) => tile.el);
  for (const child of Array.from(feeds.children)) {
    if (!wanted.includes(/** @type {HTMLElement} */ (child))) child.remove();
  }
  wanted.forEach((el, i) => {
    if (feeds.children[i] !== el) feeds.insertBefore(el, feeds.children[i] || null);
  });
  tiles.forEach(renderTile);
  byId('feeds-empty').hidden = tiles.length > 0;
  feeds.dataset.count = String(tiles.length);
}

function renderAll() {
  renderHeader();
  renderList();
  renderFeeds();
  pushShare();
}
onLangChange(renderAll);

/** @param {string} text */
function announce(text) {
  const box = byId('console-announce');
  box.textContent = text;
}

/** @param {ServerError} error @param {string} [deviceId] */
function showSignalError(error, deviceId) {
  const name = deviceId ? nameOf(deviceId) : '';
  state.error = {
    text: () => {
      const message = signalErrorText(error, state.maxCameras);
      return name ? `${name}: ${message}` : message;
    },
  };
  renderHeader();
}

// ---------------------------------------------------------------------------------------------
// Tiles

/** @param {number} slot @param {string} deviceId @param {string} name @returns {Tile} */
function createTile(slot, deviceId, name) {
  const video = h('video', { className: 'tile-video', autoplay: true, muted: true, playsInline: true });
  video.muted = true;
  const audio = h('audio', { autoplay: true });
  const label = h('span', { className: 'tile-name' });
  const overlay = h('div', { className: 'tile-overlay', hidden: true });
  const statsText = h('span', { className: 'tile-stats' });
  const muteButton = h('button', { type: 'button', className: 'small' });
  const fullButton = h('button', { type: 'button', className: 'small' });
  const disconnectButton = h('button', { type: 'button', className: 'small danger' });
  const snapshotButton = h('button', { type: 'button', className: 'small' });
  const recBadge = h('span', { className: 'tile-rec', hidden: true });
  const el = h(
    'section',
    { className: 'tile' },
    h(
      'div',
      { className: 'tile-media' },
      video,
      overlay,
      h('div', { className: 'tile-info' }, label, recBadge, statsText),
    ),
    audio,
    h('div', { className: 'tile-bar' }, snapshotButton, muteButton, fullButton, disconnectButton),
  );
  /** @type {Tile} */
  const tile = {
    slot,
    deviceId,
    name,
    media: 'connecting',
    muted: false,
    videoStream: null,
    meter: new ReceiveMeter(),
    stats: null,
    frozenTicks: 0,
    lastKeyframeRequest: 0,
    el,
    video,
    audio,
    label,
    overlay,
    statsText,
    muteButton,
    fullButton,
    disconnectButton,
    snapshotButton,
    recBadge,
    recording: false,
    thumbnailSent: false,
  };
  muteButton.addEventListener('click', () => {
    tile.muted = !tile.muted;
    state.signal?.send({ type: 'set_camera_muted', device_id: tile.deviceId, muted: tile.muted });
    renderTile(tile);
  });
  fullButton.addEventListener('click', () => toggleFullscreen(tile));
  disconnectButton.addEventListener('click', () => disconnectCamera(tile.deviceId));
  video.addEventListener('dblclick', () => toggleFullscreen(tile));
  snapshotButton.addEventListener('click', () => void takeSnapshot(tile));
  // The first decoded picture (and every resolution change) enables snapshots; the first one of
  // a recorded camera becomes its recording's thumbnail.
  video.addEventListener('resize', () => {
    renderTile(tile);
    void sendThumbnail(tile);
  });
  return tile;
}

/**
 * The tile's current picture as JPEG, at the camera's full resolution or scaled to `maxWidth`.
 * @param {Tile} tile @param {number} [maxWidth] @returns {Promise<Blob | null>}
 */
function grabFrame(tile, maxWidth) {
  const { videoWidth: width, videoHeight: height } = tile.video;
  if (!width || !height) return Promise.resolve(null);
  const scale = maxWidth && width > maxWidth ? maxWidth / width : 1;
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  const context = canvas.getContext('2d');
  if (!context) return Promise.resolve(null);
  context.drawImage(tile.video, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', maxWidth ? 0.8 : 0.92));
}

/** Saves the tile's picture (full resolution) as a snapshot of the session. @param {Tile} tile */
async function takeSnapshot(tile) {
  const blob = await grabFrame(tile);
  if (!blob) return;
  tile.snapshotButton.disabled = true;
  try {
    const saved = await api(
      'POST',
      `/api/live/cameras/${encodeURIComponent(tile.deviceId)}/snapshot`,
      blob,
    );
    announce(t('tile.snapshot_saved', { name: tile.name, width: saved.width, height: saved.height }));
  } catch (error) {
    announce(t('tile.snapshot_failed', { name: tile.name, reason: errorMessage(error) }));
  } finally {
    renderTile(tile);
  }
}

/** Sends the recording's thumbnail once, from the first picture. @param {Tile} tile */
async function sendThumbnail(tile) {
  if (!tile.recording || tile.thumbnailSent) return;
  tile.thumbnailSent = true;
  const blob = await grabFrame(tile, 320);
  if (!blob) {
    tile.thumbnailSent = false;
    return;
  }
  try {
    await api(
      'POST',
      `/api/live/cameras/${encodeURIComponent(tile.deviceId)}/snapshot?kind=thumbnail`,
      blob,
    );
  } catch (error) {
    // Already there (a reload of this page) is fine; anything else is tried with a later picture.
    if (/** @type {{code?: string}} */ (error).code !== 'already_exists') tile.thumbnailSent = false;
  }
}

/** Points a tile at its slot's receivers in the current connection. @param {Tile} tile */
function attachTile(tile) {
  const pc = state.pc;
  if (!pc) return;
  const transceivers = pc.getTransceivers();
  const videoTx = transceivers[2 * tile.slot];
  const audioTx = transceivers[2 * tile.slot + 1];
  if (!videoTx || !audioTx) return;
  if (tile.videoStream?.getVideoTracks()[0] !== videoTx.receiver.track) {
    tile.videoStream = new MediaStream([videoTx.receiver.track]);
    tile.video.srcObject = tile.videoStream;
    tile.video.play().catch(() => {});
    tile.meter = new ReceiveMeter();
    tile.stats = null;
  }
  const audioStream = /** @type {MediaStream | null} */ (tile.audio.srcObject);
  if (audioStream?.getAudioTracks()[0] !== audioTx.receiver.track) {
    tile.audio.srcObject = new MediaStream([audioTx.receiver.track]);
    playAudio(tile.audio);
  }
  pushShare();
}

/** @param {HTMLAudioElement} audio */
function playAudio(audio) {
  audio.play().catch((error) => {
    if (error && error.name === 'NotAllowedError') {
      state.soundBlocked = true;
      renderHeader();
    }
  });
}

/** @param {Tile} tile */
function toggleFullscreen(tile) {
  if (document.fullscreenElement === tile.el) {
    void document.exitFullscreen().catch(() => {});
    return;
  }
  if (state.maximised === tile.el) {
    restoreMaximised();
    return;
  }
  if (document.fullscreenEnabled && typeof tile.el.requestFullscreen === 'function') {
    tile.el.requestFullscreen().catch(() => maximise(tile));
  } else {
    maximise(tile);
  }
}

/** CSS fallback where the Fullscreen API is missing (iPhone Safari) or refused. @param {Tile} tile */
function maximise(tile) {
  restoreMaximised();
  state.maximised = tile.el;
  tile.el.classList.add('maximised');
  renderTile(tile);
  tile.fullButton.focus();
}

function restoreMaximised() {
  const el = state.maximised;
  if (!el) return;
  state.maximised = null;
  el.classList.remove('maximised');
  const tile = [...state.tiles.values()].find((candidate) => candidate.el === el);
  if (tile) renderTile(tile);
}

document.addEventListener('keydown', (event) => {
  if (event.key !== 'Escape') return;
  if (state.maximised) restoreMaximised();
  // Browsers leave full screen on Escape themselves; where the key reaches the page, do it here.
  else if (document.fullscreenElement) void document.exitFullscreen().catch(() => {});
});
document.addEventListener('fullscreenchange', () => state.tiles.forEach(renderTile));

function saveWanted() {
  const ids = [...state.tiles.values()].sort((a, b) => a.slot - b.slot).map((tile) => tile.deviceId);
  try {
    sessionStorage.setItem(CAMERAS_STORAGE_KEY, JSON.stringify(ids));
  } catch (_) {
    // Not remembered across reloads; everything else works.
  }
}

/** @returns {string[]} */
function loadWanted() {
  try {
    const ids = JSON.parse(sessionStorage.getItem(CAMERAS_STORAGE_KEY) || '[]');
    return Array.isArray(ids) ? ids.filter((id) => typeof id === 'string') : [];
  } catch (_) {
    return [];
  }
}

/** @param {ServerCameraAdded} message */
function onCameraAdded(message) {
  const index = state.pending.findIndex((p) => p.deviceId === message.device_id);
  if (index >= 0) state.pending.splice(index, 1);
  // The same camera in another slot (a re-sync) moves.
  for (const [slot, tile] of state.tiles) {
    if (tile.deviceId === message.device_id && slot !== message.slot) {
      tile.el.remove();
      state.tiles.delete(slot);
    }
  }
  let tile = state.tiles.get(message.slot);
  if (tile && tile.deviceId !== message.device_id) {
    tile.el.remove();
    tile = undefined;
  }
  if (!tile) {
    tile = createTile(message.slot, message.device_id, message.name);
    state.tiles.set(message.slot, tile);
  }
  tile.name = message.name;
  tile.recording = message.recording;
  if (state.error) state.error = null;
  renderAll();
  attachTile(tile);
  saveWanted();
  announce(t('console.added', { name: message.name }));
}

/** @param {string} deviceId @param {number} slot @param {string} reason */
function onCameraRemoved(deviceId, slot, reason) {
  const tile = state.tiles.get(slot);
  if (!tile || tile.deviceId !== deviceId) return;
  if (state.maximised === tile.el) restoreMaximised();
  if (document.fullscreenElement === tile.el) void document.exitFullscreen().catch(() => {});
  tile.video.srcObject = null;
  tile.audio.srcObject = null;
  tile.el.remove();
  state.tiles.delete(slot);
  saveWanted();
  if (reason === 'offline' || reason === 'revoked') {
    const name = tile.name;
    state.notice = { text: () => t(`console.removed.${reason}`, { name }) };
  }
  announce(t('console.removed', { name: tile.name }));
  renderAll();
}

/** @param {string} deviceId @param {boolean} auto */
function connectCamera(deviceId, auto) {
  if (!auto) {
    state.error = null;
    state.notice = null;
    renderHeader();
  }
  // The offer goes first (`offer_required` otherwise); it is normally long sent by now.
  void state.offerSent.then(() => sendConnect(deviceId, auto));
}

/** @param {string} deviceId @param {boolean} auto */
function sendConnect(deviceId, auto) {
  if (!state.signal || !state.signal.send({ type: 'connect_camera', device_id: deviceId })) {
    if (!auto) {
      state.error = { text: () => t('console.not_connected') };
      renderHeader();
    }
    return;
  }
  state.pending.push({ deviceId, auto });
}

/** @param {string} deviceId */
function disconnectCamera(deviceId) {
  state.error = null;
  state.notice = null;
  if (!state.signal?.send({ type: 'disconnect_camera', device_id: deviceId })) {
    // Offline: just forget it locally; the server drops it from the session anyway.
    for (const [slot, tile] of state.tiles) {
      if (tile.deviceId === deviceId) onCameraRemoved(deviceId, slot, 'disconnected');
    }
  }
  renderHeader();
}

// ---------------------------------------------------------------------------------------------
// Signaling and media

/** A fresh RTCPeerConnection and offer (after every welcome, and when media broke). */
function newPeer() {
  /** @type {() => void} */
  let done = () => {};
  state.offerSent = new Promise((resolve) => {
    done = resolve;
  });
  return makePeer().finally(done);
}

async function makePeer() {
  if (!state.signal || !state.signal.open) return;
  if (state.retryOfferTimer) {
    clearTimeout(state.retryOfferTimer);
    state.retryOfferTimer = null;
  }
  state.pc?.close();
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
  state.pc = pc;
  for (let i = 0; i < state.maxCameras; i++) {
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
  }
  state.micTx = pc.addTransceiver(state.micTrack || 'audio', { direction: 'sendonly' });
  pc.addEventListener('track', (event) => {
    if (pc !== state.pc) return;
    const index = pc.getTransceivers().indexOf(event.transceiver);
    const tile = state.tiles.get(Math.floor(index / 2));
    if (index >= 0 && index < 2 * state.maxCameras && tile) attachTile(tile);
  });
  watchConnection(pc, () => {
    if (pc === state.pc) void newPeer();
  });
  state.tiles.forEach(attachTile);
  let sdp;
  try {
    sdp = await createOffer(pc);
  } catch (_) {
    state.error = { text: () => t('console.media_failed') };
    renderHeader();
    return;
  }
  if (pc !== state.pc || !state.signal) return;
  if (state.signal.send({ type: 'offer', sdp })) state.offered.push(pc);
}

/** @param {string} sdp */
async function onAnswer(sdp) {
  const pc = state.offered.shift();
  if (!pc || pc !== state.pc || pc.signalingState !== 'have-local-offer') return;
  try {
    await pc.setRemoteDescription({ type: 'answer', sdp });
  } catch (_) {
    state.error = { text: () => t('console.media_failed') };
    renderHeader();
    retryOfferSoon();
  }
}

function retryOfferSoon() {
  if (state.retryOfferTimer) return;
  state.retryOfferTimer = setTimeout(() => {
    state.retryOfferTimer = null;
    void newPeer();
  }, 3000);
}

/** @param {import('./protocol.js').ServerWelcome} welcome */
function onWelcome(welcome) {
  state.maxCameras = welcome.max_cameras;
  state.offered = [];
  state.pending = [];
  // After a reconnect the server has dropped this console's cameras: ask for them again.
  const wanted = state.welcomedOnce
    ? [...state.tiles.values()].sort((a, b) => a.slot - b.slot).map((tile) => tile.deviceId)
    : loadWanted();
  state.welcomedOnce = true;
  for (const tile of state.tiles.values()) {
    tile.video.srcObject = null;
    tile.audio.srcObject = null;
    tile.el.remove();
  }
  state.tiles.clear();
  renderAll();
  void newPeer();
  for (const deviceId of wanted) connectCamera(deviceId, true);
}

/** @param {ServerMessage} message */
function onMessage(message) {
  switch (message.type) {
    case 'presence': {
      state.presence = message.cameras;
      for (const camera of message.cameras) {
        if (camera.calling && !state.calling.has(camera.device_id)) {
          announce(t('console.ringing', { name: camera.name }));
        }
      }
      state.calling = new Set(message.cameras.filter((c) => c.calling).map((c) => c.device_id));
      renderList();
      break;
    }
    case 'answer':
      void onAnswer(message.sdp);
      break;
    case 'camera_added':
      onCameraAdded(message);
      break;
    case 'camera_removed':
      onCameraRemoved(message.device_id, message.slot, message.reason);
      break;
    case 'camera_media': {
      for (const tile of state.tiles.values()) {
        if (tile.deviceId === message.device_id) {
          tile.media = /** @type {MediaState} */ (message.state);
          tile.frozenTicks = 0;
          renderTile(tile);
        }
      }
      pushShare();
      break;
    }
    case 'error': {
      if (message.request === 'offer') {
        state.offered.shift();
        retryOfferSoon();
        showSignalError(message);
        break;
      }
      if (message.request === 'connect_camera') {
        const request = state.pending.shift();
        if (request?.auto) {
          // The camera may still be held by this console's previous connection for a moment.
          if (message.code === 'camera_busy' && !request.retried) {
            setTimeout(() => {
              if (!state.signal?.open) return;
              if (state.signal.send({ type: 'connect_camera', device_id: request.deviceId })) {
                state.pending.push({ ...request, retried: true });
              }
            }, 1500);
          }
          break;
        }
        showSignalError(message, request?.deviceId);
        break;
      }
      showSignalError(message);
      break;
    }
    default:
      break;
  }
}

async function updateStats() {
  const pc = state.pc;
  if (!pc || pc.connectionState === 'closed') return;
  const transceivers = pc.getTransceivers();
  for (const tile of state.tiles.values()) {
    const transceiver = transceivers[2 * tile.slot];
    if (!transceiver) continue;
    try {
      const stats = tile.meter.update(await transceiver.receiver.getStats());
      if (stats) tile.stats = stats;
    } catch (_) {
      continue;
    }
    // A picture that stopped while media is said to flow: ask the camera for a keyframe.
    if (tile.media === 'live' && tile.stats && tile.stats.fps === 0) {
      tile.frozenTicks += 1;
      const now = Date.now();
      if (tile.frozenTicks >= 2 && now - tile.lastKeyframeRequest > 3000) {
        tile.lastKeyframeRequest = now;
        state.signal?.send({ type: 'request_keyframe', device_id: tile.deviceId });
      }
    } else {
      tile.frozenTicks = 0;
    }
    renderTile(tile);
  }
}

// ---------------------------------------------------------------------------------------------
// Microphone

async function startMicrophone() {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: AUDIO_CONSTRAINTS });
    state.micTrack = stream.getAudioTracks()[0] || null;
  } catch (_) {
    state.micTrack = null;
  }
  state.micUnavailable = !state.micTrack;
  if (state.micTrack) {
    state.micTrack.enabled = !state.micMuted;
    if (state.micTx) void state.micTx.sender.replaceTrack(state.micTrack).catch(() => {});
  }
  renderHeader();
}

micButton.addEventListener('click', () => {
  state.micMuted = !state.micMuted;
  if (state.micTrack) state.micTrack.enabled = !state.micMuted;
  renderHeader();
});

soundButton.addEventListener('click', () => {
  state.soundBlocked = false;
  for (const tile of state.tiles.values()) playAudio(tile.audio);
  renderHeader();
});

// ---------------------------------------------------------------------------------------------
// Share view

/** @returns {ShareFeed[]} */
function shareFeeds() {
  return [...state.tiles.values()]
    .sort((a, b) => a.slot - b.slot)
    .map((tile) => ({
      slot: tile.slot,
      deviceId: tile.deviceId,
      name: tile.name,
      stream: tile.videoStream,
      media: tile.media,
    }));
}

function pushShare() {
  const win = state.shareWin;
  if (!win || win.closed) return;
  /** @type {RaShare | undefined} */
  let share;
  try {
    share = /** @type {any} */ (win).raShare;
  } catch (_) {
    return;
  }
  share?.update(shareFeeds());
}

/** Called by the share popup when it (re)loads. */
/** @type {any} */ (window).raConsole = {
  /** @param {Window} win */
  shareReady(win) {
    state.shareWin = win;
    pushShare();
  },
};

byId('console-share').addEventListener('click', () => {
  const win = window.open('/share', 'ra-share', 'width=1280,height=720');
  if (!win) {
    state.error = { text: () => t('console.popup_blocked') };
    renderHeader();
    return;
  }
  state.shareWin = win;
  pushShare();
  win.focus();
});

window.addEventListener('pagehide', () => {
  const win = state.shareWin;
  if (win && !win.closed) {
    try {
      /** @type {RaShare | undefined} */
      const share = /** @type {any} */ (win).raShare;
      share?.update([]);
    } catch (_) {
      // The popup is gone.
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Layout

for (const button of Array.from(byId('console-layout').querySelectorAll('button'))) {
  button.addEventListener('click', () => {
    state.layout = button.dataset.layout || '4';
    try {
      localStorage.setItem(LAYOUT_STORAGE_KEY, state.layout);
    } catch (_) {
      // Not remembered.
    }
    renderHeader();
  });
}
try {
  const saved = localStorage.getItem(LAYOUT_STORAGE_KEY);
  if (saved && LAYOUTS.includes(saved)) state.layout = saved;
} catch (_) {
  // Default layout.
}

byId('console-error-close').addEventListener('click', () => {
  state.error = null;
  renderHeader();
});

// ---------------------------------------------------------------------------------------------
// Start-up

renderHeader();
if (!user.group_id) {
  byId('console-no-group').hidden = false;
} else {
  byId('console-body').hidden = false;
  byId('console-tools').hidden = false;
  state.maxCameras = (await getConfig()).max_cameras || 4;
  void startMicrophone();
  state.signal = new Signal({
    onWelcome,
    onMessage,
    onState: (signalState) => {
      state.signalState = signalState;
      if (signalState === 'reconnecting') {
        for (const tile of state.tiles.values()) {
          tile.media = 'reconnecting';
          renderTile(tile);
        }
        pushShare();
      }
      renderHeader();
    },
    onFatal: (error) => {
      if (error.code === 'not_authenticated') {
        location.assign('/login');
        return;
      }
      showSignalError(error);
    },
  });
  state.signal.start();
  setInterval(() => void updateStats(), STATS_EVERY_MS);
  renderAll();
}
