//! The field camera page of a paired phone (docs/protocol.md, "Camera").
//!
//! 1. Checks the registration (`GET /api/device/me` with the stored bearer credential).
//! 2. "Go live" starts the rear camera and the microphone, the signaling connection (hello with the
//!    credential) and a media connection: video `sendonly` + audio `sendrecv` (the supporter's
//!    voice comes back on it). Nothing is uploaded while no supporter watches: the senders carry no
//!    track until `watch` names a supporter.
//! 3. Live mode survives a reload (`ra.live=1` in localStorage resumes it) and network trouble:
//!    the signaling connection reconnects with backoff and every (re)welcome makes a new
//!    RTCPeerConnection and offer; a media connection that fails, or stays disconnected for 2 s,
//!    is replaced the same way.
//! 4. Extras: switch camera, mute, torch (where the camera has one), screen wake lock, call for
//!    help, connection quality, who is watching.
//!
//! For tests, `window.__raField` exposes the current RTCPeerConnection (`.pc`).

import { ApiError, api, errorMessage } from './api.js';
import { onLangChange, t } from './i18n.js';
import { byId, showError } from './dom.js';
import { initPublicPage } from './layout.js';
import { forgetDevice, loadDevice } from './device.js';
import { Signal, signalErrorText } from './signal.js';
import { createOffer, preferCameraCodecs, uplinkQuality, watchConnection } from './rtc.js';

/** @typedef {import('./api.js').DeviceMe} DeviceMe */
/** @typedef {import('./protocol.js').ServerMessage} ServerMessage */
/** @typedef {import('./protocol.js').ServerError} ServerError */
/** @typedef {import('./rtc.js').Quality} Quality */

/** localStorage key: set while live, so a reload goes live again. */
export const LIVE_STORAGE_KEY = 'ra.live';
/** Upload ceiling per camera (requirement B12: 0.5–1 Mbit/s must be enough). */
const MAX_VIDEO_BITRATE = 1_000_000;
const STATS_EVERY_MS = 2000;

/** @type {DeviceMe | null} */
let me = null;
/** @type {unknown} */
let lastError = null;
/** @type {string | null} a signaling or media error text, already translated at render time */
let liveErrorCode = null;
/** @type {ServerError | null} */
let liveError = null;

const live = {
  active: false,
  /** @type {MediaStream | null} */
  stream: null,
  /** @type {MediaStreamTrack | null} */
  videoTrack: null,
  /** @type {MediaStreamTrack | null} */
  audioTrack: null,
  /** @type {'environment' | 'user'} */
  facing: 'environment',
  micMuted: false,
  torch: false,
  calling: false,
  /** @type {{user_id: string, display_name: string} | null} */
  watchedBy: null,
  supporterMuted: false,
  /** @type {Signal | null} */
  signal: null,
  /** @type {import('./signal.js').SignalState} */
  signalState: 'stopped',
  /** @type {RTCPeerConnection | null} */
  pc: null,
  /** @type {RTCPeerConnectionState} */
  pcState: 'new',
  /** @type {RTCRtpTransceiver | null} */
  videoTx: null,
  /** @type {RTCRtpTransceiver | null} */
  audioTx: null,
  /** Connections whose offer awaits its answer, oldest first (answers come in order). */
  /** @type {RTCPeerConnection[]} */
  offered: [],
  /** @type {WakeLockSentinel | null} */
  wakeLock: null,
  /** @type {'none' | 'refused' | 'unsupported'} why there is no wake lock */
  wakeLockState: /** @type {'none' | 'refused' | 'unsupported'} */ ('none'),
  /** @type {{quality: Quality | null, rttMs: number | null, lossPercent: number | null} | null} */
  quality: null,
  /** @type {ReturnType<typeof setInterval> | null} */
  statsTimer: null,
  /** @type {ReturnType<typeof setTimeout> | null} */
  retryOfferTimer: null,
  soundBlocked: false,
  /** @type {Array<[string, number]>} what happened when (ms since page start), for troubleshooting */
  timeline: [],
};

/** @param {string} event */
function mark(event) {
  live.timeline.push([event, Math.round(performance.now())]);
  if (live.timeline.length > 100) live.timeline.shift();
}

/** For tests and troubleshooting. */
/** @type {any} */ (window).__raField = {
  get pc() {
    return live.pc;
  },
  get watchedBy() {
    return live.watchedBy;
  },
  get signalState() {
    return live.signalState;
  },
  get timeline() {
    return live.timeline.slice();
  },
  /** Which way the camera asked for faces: 'environment' (rear, the default) or 'user'. */
  get facing() {
    return live.facing;
  },
  /** 'held', 'refused', 'unsupported' or 'none' (not asked yet). */
  get wakeLock() {
    return live.wakeLock ? 'held' : live.wakeLockState;
  },
  /** Drops the signaling WebSocket as a network change would (tests the reconnect path). */
  dropSignaling() {
    live.signal?.ws?.close();
  },
};

const video = /** @type {HTMLVideoElement} */ (byId('field-video'));
const audio = /** @type {HTMLAudioElement} */ (byId('field-audio'));
const goLiveButton = /** @type {HTMLButtonElement} */ (byId('field-go-live'));
const callButton = /** @type {HTMLButtonElement} */ (byId('field-call'));
const muteButton = /** @type {HTMLButtonElement} */ (byId('field-mute'));
const switchButton = /** @type {HTMLButtonElement} */ (byId('field-switch'));
const torchButton = /** @type {HTMLButtonElement} */ (byId('field-torch'));
const soundButton = /** @type {HTMLButtonElement} */ (byId('field-sound'));
const stopButton = /** @type {HTMLButtonElement} */ (byId('field-stop'));

// ---------------------------------------------------------------------------------------------
// Rendering

function render() {
  if (me) {
    byId('field-device').textContent = t('field.device', { name: me.device_name });
    byId('field-group').textContent = t('field.group', { group: me.group_name });
    byId('field-live-device').textContent = `${t('field.device', { name: me.device_name })} · ${me.group_name}`;
  }
  let message = lastError ? errorMessage(lastError) : null;
  if (!message && liveError) message = signalErrorText(liveError, 0);
  if (!message && liveErrorCode) message = t(liveErrorCode);
  showError(byId('field-error'), message);
  renderLive();
}
onLangChange(render);

function renderLive() {
  if (!live.active) return;
  const watching = byId('field-watch');
  watching.textContent = live.watchedBy
    ? t('field.watched_by', { name: live.watchedBy.display_name })
    : t('field.not_watched');
  watching.classList.toggle('watched', !!live.watchedBy);
  if (live.watchedBy && live.supporterMuted) {
    watching.append(document.createElement('br'), t('field.supporter_muted'));
  }
  byId('field-on-air').hidden = !(live.watchedBy && live.pcState === 'connected');

  let status;
  if (live.signalState === 'connecting') status = t('field.status.connecting');
  else if (live.signalState === 'reconnecting') status = t('field.status.reconnecting');
  else if (!live.stream) status = t('field.status.starting');
  else if (live.pcState === 'connected') status = t(live.watchedBy ? 'field.status.live' : 'field.status.standby');
  else if (live.pcState === 'disconnected' || live.pcState === 'failed') status = t('field.status.reconnecting');
  else status = t('field.status.media_connecting');
  if (live.calling) status = `${status} ${t('field.calling')}`;
  byId('field-status').textContent = status;

  const q = live.quality;
  const qualityBox = byId('field-quality');
  qualityBox.className = `field-quality quality-${q?.quality || 'unknown'}`;
  if (q && q.quality) {
    const parts = [t(`quality.${q.quality}`)];
    if (q.rttMs !== null) parts.push(t('quality.rtt', { ms: Math.round(q.rttMs) }));
    if (q.lossPercent !== null) parts.push(t('quality.loss', { percent: q.lossPercent.toFixed(1) }));
    qualityBox.textContent = t('field.quality', { quality: parts.join(' · ') });
  } else {
    qualityBox.textContent = t('field.quality', { quality: t('quality.unknown') });
  }

  callButton.setAttribute('aria-pressed', String(live.calling));
  callButton.textContent = t(live.calling ? 'field.calling_cancel' : 'field.call');
  muteButton.setAttribute('aria-pressed', String(live.micMuted));
  torchButton.setAttribute('aria-pressed', String(live.torch));
  soundButton.hidden = !live.soundBlocked;
}

/** @param {'not-paired' | 'revoked' | 'ready' | 'live' | null} which */
function show(which) {
  byId('field-checking').hidden = true;
  byId('field-not-paired').hidden = which !== 'not-paired';
  byId('field-revoked').hidden = which !== 'revoked';
  byId('field-ready').hidden = which !== 'ready';
  byId('field-live').hidden = which !== 'live';
  document.body.classList.toggle('is-live', which === 'live');
}

// ---------------------------------------------------------------------------------------------
// Camera and microphone

/** @param {'environment' | 'user'} facing */
function videoConstraints(facing) {
  return {
    facingMode: { ideal: facing },
    width: { ideal: 1280 },
    height: { ideal: 720 },
    frameRate: { ideal: 24, max: 30 },
  };
}

const AUDIO_CONSTRAINTS = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

/** @param {MediaStreamTrack} track */
function prepareVideoTrack(track) {
  // No contentHint: 'detail' would make Chrome treat the camera as screen content (it then sends
  // only changed frames, and a still scene freezes the feed). Keeping resolution over frame rate
  // is asked of the sender instead (`degradationPreference`, see newPeer).
  track.addEventListener('ended', () => {
    if (live.active && document.visibilityState === 'visible') void ensureTracks();
  });
}

async function startMedia() {
  const stream = await navigator.mediaDevices.getUserMedia({
    video: videoConstraints(live.facing),
    audio: AUDIO_CONSTRAINTS,
  });
  live.stream = stream;
  live.videoTrack = stream.getVideoTracks()[0] || null;
  live.audioTrack = stream.getAudioTracks()[0] || null;
  if (live.videoTrack) prepareVideoTrack(live.videoTrack);
  if (live.audioTrack) live.audioTrack.enabled = !live.micMuted;
  video.srcObject = stream;
  video.play().catch(() => {});
  updateTorchButton();
  void updateSwitchButton();
}

function updateTorchButton() {
  const track = live.videoTrack;
  /** @type {any} */
  const capabilities = track && typeof track.getCapabilities === 'function' ? track.getCapabilities() : {};
  torchButton.hidden = !capabilities.torch;
  live.torch = false;
}

async function updateSwitchButton() {
  try {
    const devices = await navigator.mediaDevices.enumerateDevices();
    switchButton.hidden = devices.filter((d) => d.kind === 'videoinput').length < 2;
  } catch (_) {
    switchButton.hidden = true;
  }
}

/** Puts the current tracks on the senders while watched, none otherwise (no upload unwatched). */
function applyWatch() {
  const watched = !!live.watchedBy;
  if (live.videoTx) void live.videoTx.sender.replaceTrack(watched ? live.videoTrack : null).catch(() => {});
  if (live.audioTx) void live.audioTx.sender.replaceTrack(watched ? live.audioTrack : null).catch(() => {});
}

/** Re-opens a camera or microphone the system took away (background, phone call). */
async function ensureTracks() {
  if (!live.active) return;
  const needVideo = !live.videoTrack || live.videoTrack.readyState === 'ended';
  const needAudio = !live.audioTrack || live.audioTrack.readyState === 'ended';
  if (!needVideo && !needAudio) return;
  try {
    const fresh = await navigator.mediaDevices.getUserMedia({
      video: needVideo ? videoConstraints(live.facing) : false,
      audio: needAudio ? AUDIO_CONSTRAINTS : false,
    });
    if (!live.active) {
      fresh.getTracks().forEach((track) => track.stop());
      return;
    }
    const stream = /** @type {MediaStream} */ (live.stream);
    if (needVideo) {
      if (live.videoTrack) stream.removeTrack(live.videoTrack);
      live.videoTrack = fresh.getVideoTracks()[0];
      prepareVideoTrack(live.videoTrack);
      stream.addTrack(live.videoTrack);
      updateTorchButton();
    }
    if (needAudio) {
      if (live.audioTrack) stream.removeTrack(live.audioTrack);
      live.audioTrack = fresh.getAudioTracks()[0];
      live.audioTrack.enabled = !live.micMuted;
      stream.addTrack(live.audioTrack);
    }
    video.srcObject = stream;
    applyWatch();
  } catch (error) {
    liveErrorCode = 'field.camera_failed';
    render();
  }
}

/** @param {RTCRtpSender} sender */
async function keepResolution(sender) {
  try {
    const parameters = sender.getParameters();
    /** @type {any} */ (parameters).degradationPreference = 'maintain-resolution';
    await sender.setParameters(parameters);
  } catch (_) {
    // Not supported (older Safari): the browser's default trade-off applies.
  }
}

async function switchCamera() {
  if (!live.active || !live.stream) return;
  const previous = live.facing;
  live.facing = previous === 'environment' ? 'user' : 'environment';
  switchButton.disabled = true;
  // Many phones cannot open two cameras at once: release the current one first.
  const old = live.videoTrack;
  if (old) {
    old.stop();
    live.stream.removeTrack(old);
  }
  const oldDevice = old?.getSettings().deviceId;
  try {
    let fresh;
    try {
      fresh = await navigator.mediaDevices.getUserMedia({ video: videoConstraints(live.facing) });
    } catch (_) {
      live.facing = previous;
      fresh = await navigator.mediaDevices.getUserMedia({ video: videoConstraints(previous) });
    }
    // Cameras that do not say which way they face (USB cameras, some phones' extra lenses)
    // give the same one back: then take the next camera in the list.
    const same = oldDevice && fresh.getVideoTracks()[0]?.getSettings().deviceId === oldDevice;
    if (same) {
      const cameras = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput');
      const index = cameras.findIndex((d) => d.deviceId === oldDevice);
      const next = cameras[(index + 1) % cameras.length];
      if (next && next.deviceId !== oldDevice) {
        fresh.getTracks().forEach((track) => track.stop());
        fresh = await navigator.mediaDevices.getUserMedia({
          video: { ...videoConstraints(live.facing), facingMode: undefined, deviceId: { exact: next.deviceId } },
        });
      }
    }
    live.videoTrack = fresh.getVideoTracks()[0];
    prepareVideoTrack(live.videoTrack);
    live.stream.addTrack(live.videoTrack);
    video.srcObject = live.stream;
    video.classList.toggle('mirrored', live.facing === 'user');
    updateTorchButton();
    applyWatch();
  } catch (_) {
    live.videoTrack = null;
    liveErrorCode = 'field.camera_failed';
  } finally {
    switchButton.disabled = false;
    render();
  }
}

async function toggleTorch() {
  const track = live.videoTrack;
  if (!track) return;
  const want = !live.torch;
  try {
    await track.applyConstraints(/** @type {any} */ ({ advanced: [{ torch: want }] }));
    live.torch = want;
  } catch (_) {
    torchButton.hidden = true;
  }
  render();
}

function toggleMute() {
  live.micMuted = !live.micMuted;
  if (live.audioTrack) live.audioTrack.enabled = !live.micMuted;
  render();
}

function toggleCall() {
  live.calling = !live.calling;
  live.signal?.send(live.calling ? { type: 'call_for_help' } : { type: 'cancel_call' });
  render();
}

// ---------------------------------------------------------------------------------------------
// Screen wake lock

async function acquireWakeLock() {
  if (!live.active || live.wakeLock || document.visibilityState !== 'visible') return;
  if (!('wakeLock' in navigator)) {
    live.wakeLockState = 'unsupported';
    return;
  }
  try {
    const lock = await navigator.wakeLock.request('screen');
    if (!live.active) {
      void lock.release();
      return;
    }
    live.wakeLock = lock;
    lock.addEventListener('release', () => {
      if (live.wakeLock === lock) live.wakeLock = null;
    });
  } catch (_) {
    // Refused (battery saver): the page still works, the screen may just turn off.
    live.wakeLockState = 'refused';
  }
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState !== 'visible' || !live.active) return;
  void acquireWakeLock();
  void ensureTracks();
  if (live.signal && live.signalState !== 'open') live.signal.reconnectNow();
});

// ---------------------------------------------------------------------------------------------
// Media connection

function playSupporterVoice() {
  audio.play().then(
    () => {
      live.soundBlocked = false;
      render();
    },
    (error) => {
      // Autoplay with sound needs a tap on some phones (after an automatic resume).
      if (error && error.name === 'NotAllowedError') {
        live.soundBlocked = true;
        render();
      }
    },
  );
}

/** A fresh RTCPeerConnection and offer (after every welcome, and when media broke). */
async function newPeer() {
  if (!live.active || !live.signal || !live.signal.open) return;
  if (live.retryOfferTimer) {
    clearTimeout(live.retryOfferTimer);
    live.retryOfferTimer = null;
  }
  live.pc?.close();
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
  live.pc = pc;
  live.pcState = 'new';
  const stream = /** @type {MediaStream} */ (live.stream);
  live.videoTx = pc.addTransceiver(live.videoTrack || 'video', {
    direction: 'sendonly',
    streams: [stream],
    sendEncodings: [{ maxBitrate: MAX_VIDEO_BITRATE }],
  });
  live.audioTx = pc.addTransceiver(live.audioTrack || 'audio', {
    direction: 'sendrecv',
    streams: [stream],
  });
  preferCameraCodecs(live.videoTx);
  // Supporters read labels and gauges: on a weak link keep the detail, let the frame rate drop.
  void keepResolution(live.videoTx.sender);
  audio.srcObject = new MediaStream([live.audioTx.receiver.track]);
  playSupporterVoice();
  pc.addEventListener('track', (event) => {
    if (event.track.kind === 'audio' && pc === live.pc) {
      audio.srcObject = new MediaStream([event.track]);
      playSupporterVoice();
    }
  });
  watchConnection(
    pc,
    () => {
      if (pc === live.pc) void newPeer();
    },
    (state) => {
      if (pc !== live.pc) return;
      mark(`pc:${state}`);
      live.pcState = state;
      if (state === 'connected') {
        liveError = null;
        liveErrorCode = null;
      }
      render();
    },
  );
  render();
  let sdp;
  try {
    sdp = await createOffer(pc);
  } catch (error) {
    liveErrorCode = 'field.media_failed';
    render();
    return;
  }
  if (pc !== live.pc || !live.signal) return;
  // Until watched, the senders carry no track: nothing is uploaded (the offer still announces them).
  applyWatch();
  if (live.signal.send({ type: 'offer', sdp })) {
    live.offered.push(pc);
    mark('offer');
  }
}

/** @param {string} sdp */
async function onAnswer(sdp) {
  const pc = live.offered.shift();
  if (!pc || pc !== live.pc || pc.signalingState !== 'have-local-offer') return;
  mark('answer');
  try {
    await pc.setRemoteDescription({ type: 'answer', sdp });
  } catch (error) {
    liveErrorCode = 'field.media_failed';
    render();
    retryOfferSoon();
  }
}

function retryOfferSoon() {
  if (live.retryOfferTimer) return;
  live.retryOfferTimer = setTimeout(() => {
    live.retryOfferTimer = null;
    void newPeer();
  }, 3000);
}

/** @param {ServerMessage} message */
function onMessage(message) {
  switch (message.type) {
    case 'answer':
      void onAnswer(message.sdp);
      break;
    case 'watch': {
      mark(message.watched_by ? 'watched' : 'unwatched');
      const wasWatched = !!live.watchedBy;
      live.watchedBy = message.watched_by;
      live.supporterMuted = message.muted;
      // A supporter who connects answers the call.
      if (live.watchedBy && !wasWatched) live.calling = false;
      applyWatch();
      render();
      break;
    }
    case 'error':
      if (message.request === 'offer') {
        live.offered.shift();
        retryOfferSoon();
      }
      liveError = message;
      render();
      break;
    default:
      break;
  }
}

async function updateStats() {
  const pc = live.pc;
  if (!pc || pc.connectionState === 'closed') return;
  try {
    live.quality = uplinkQuality(await pc.getStats());
  } catch (_) {
    live.quality = null;
  }
  renderLive();
}

// ---------------------------------------------------------------------------------------------
// Going live and stopping

/**
 * Start live mode. The supporter's voice plays without a tap even after an automatic resume in most
 * browsers (pages that capture the camera may autoplay); where it is refused, a button asks for a
 * tap.
 */
async function goLive() {
  const device = loadDevice();
  if (live.active || !device) return;
  live.active = true;
  lastError = null;
  liveError = null;
  liveErrorCode = null;
  live.watchedBy = null;
  live.calling = false;
  live.signalState = 'stopped';
  try {
    localStorage.setItem(LIVE_STORAGE_KEY, '1');
  } catch (_) {
    // Private mode: live works, it just does not resume after a reload.
  }
  show('live');
  render();
  mark('go_live');
  try {
    await startMedia();
    mark('camera_started');
  } catch (error) {
    stopLive();
    liveErrorCode =
      error && /** @type {any} */ (error).name === 'NotAllowedError' ? 'field.permission_denied' : 'field.camera_failed';
    render();
    return;
  }
  if (!live.active) return;
  void acquireWakeLock();
  live.signal = new Signal({
    credential: device.credential,
    onWelcome: () => {
      mark('welcome');
      liveError = null;
      // The server forgets a call when the camera was away; say it again.
      if (live.calling) live.signal?.send({ type: 'call_for_help' });
      live.offered = [];
      void newPeer();
      render();
    },
    onMessage,
    onState: (state) => {
      live.signalState = state;
      render();
    },
    onFatal: (error) => {
      stopLive();
      if (error.code === 'not_authenticated') {
        show('revoked');
      } else {
        liveError = error;
      }
      render();
    },
  });
  live.signal.start();
  live.statsTimer = setInterval(() => void updateStats(), STATS_EVERY_MS);
}

function stopLive() {
  live.active = false;
  try {
    localStorage.removeItem(LIVE_STORAGE_KEY);
  } catch (_) {
    // Ignore.
  }
  live.signal?.stop();
  live.signal = null;
  live.signalState = 'stopped';
  if (live.statsTimer) clearInterval(live.statsTimer);
  live.statsTimer = null;
  if (live.retryOfferTimer) clearTimeout(live.retryOfferTimer);
  live.retryOfferTimer = null;
  live.pc?.close();
  live.pc = null;
  live.videoTx = null;
  live.audioTx = null;
  live.offered = [];
  live.stream?.getTracks().forEach((track) => track.stop());
  live.stream = null;
  live.videoTrack = null;
  live.audioTrack = null;
  video.srcObject = null;
  audio.srcObject = null;
  live.watchedBy = null;
  live.calling = false;
  live.quality = null;
  live.soundBlocked = false;
  if (live.wakeLock) void live.wakeLock.release().catch(() => {});
  live.wakeLock = null;
  show('ready');
}

goLiveButton.addEventListener('click', () => void goLive());
stopButton.addEventListener('click', () => {
  stopLive();
  render();
  goLiveButton.focus();
});
callButton.addEventListener('click', toggleCall);
muteButton.addEventListener('click', toggleMute);
switchButton.addEventListener('click', () => void switchCamera());
torchButton.addEventListener('click', () => void toggleTorch());
soundButton.addEventListener('click', () => playSupporterVoice());

byId('field-forget').addEventListener('click', () => {
  forgetDevice();
  try {
    localStorage.removeItem(LIVE_STORAGE_KEY);
  } catch (_) {
    // Ignore.
  }
  show('not-paired');
});

// ---------------------------------------------------------------------------------------------
// Start-up

await initPublicPage();
const device = loadDevice();
if (!device) {
  show('not-paired');
} else {
  try {
    me = await api('GET', '/api/device/me', undefined, {
      noRedirect: true,
      credentials: 'omit',
      headers: { Authorization: `Bearer ${device.credential}` },
    });
    show('ready');
    let resume = false;
    try {
      resume = localStorage.getItem(LIVE_STORAGE_KEY) === '1';
    } catch (_) {
      resume = false;
    }
    if (resume) void goLive();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      try {
        localStorage.removeItem(LIVE_STORAGE_KEY);
      } catch (_) {
        // Ignore.
      }
      show('revoked');
    } else {
      // Network trouble or a server error: the registration may still be fine, so keep it.
      lastError = error;
      show(null);
    }
  }
  render();
}
