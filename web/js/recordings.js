//! "My recordings" (`/recordings`): the sessions the user took part in, newest first, each with
//! its cameras' recordings (`GET /api/recordings`) and the snapshots taken in it
//! (`GET /api/snapshots`); a table on wide screens and cards on phones. A recording shows the
//! thumbnail the console sent for it.
//!
//! - Play opens the inline player (`<video controls>` on `/api/recordings/{id}/file`; the server
//!   answers Range requests, so the player can seek). Download is a link with `download` to the
//!   same URL. Both only for complete recordings (the server refuses the file while recording).
//! - Delete asks in a `<dialog>`, then `DELETE /api/recordings/{id}` and the row goes.
//! - While a recording is still in progress the list is fetched again every few seconds, and
//!   again whenever the tab becomes visible (the console opens this page in a new tab).

import { ApiError, api, errorMessage, getConfig } from './api.js';
import { getLang, onLangChange, t } from './i18n.js';
import { byId, confirmDialog, h, showError, showStatus } from './dom.js';
import { initPage } from './layout.js';
import { formatDate, formatTime } from './time.js';

/**
 * @typedef {'recording' | 'complete' | 'failed'} RecordingState
 * @typedef {{id: string, device_id: string, device_name: string, started_at: string,
 *   ended_at: string | null, expires_at: string, state: RecordingState,
 *   duration_secs: number | null, size: number, sha256: string | null,
 *   session_id: string | null, container: string, thumbnail_id: string | null}} Recording
 * @typedef {{id: string, session_id: string | null, device_name: string, taken_at: string,
 *   width: number, height: number, size: number}} Snapshot
 * @typedef {{key: string, started: string, recordings: Recording[], snapshots: Snapshot[]}} Session
 */

/** How often the list is fetched again while a recording is in progress. */
const POLL_MS = 5_000;
/** Phones get cards instead of the table (same breakpoint as the narrow-table rules in app.css). */
const phoneQuery = window.matchMedia('(max-width: 47.99rem)');

await initPage({ current: '/recordings' });

const state = {
  /** @type {Recording[]} */
  recordings: [],
  /** @type {Snapshot[]} */
  snapshots: [],
  loaded: false,
  /** @type {unknown} the last failure of loading the list, shown until a load succeeds */
  loadError: null,
  /** @type {(() => string) | null} */
  status: null,
  /** @type {Recording | null} the recording in the player */
  playing: null,
  /** @type {ReturnType<typeof setTimeout> | null} */
  pollTimer: null,
  /** Answers of older, slower requests are dropped. */
  loadSeq: 0,
};

const listBox = byId('recordings-list');
const player = byId('player');
const video = /** @type {HTMLVideoElement} */ (byId('player-video'));
const playerError = byId('player-error');

// ---------------------------------------------------------------------------------------------
// Formatting

/** @param {string} id */
function fileUrl(id) {
  return `/api/recordings/${encodeURIComponent(id)}/file`;
}

/** @param {string} id */
function imageUrl(id) {
  return `/api/snapshots/${encodeURIComponent(id)}/file`;
}

/**
 * The sessions, newest first: recordings and snapshots grouped by their session (recordings
 * made before sessions had IDs stand alone).
 * @returns {Session[]}
 */
function sessions() {
  /** @type {Map<string, Session>} */
  const byKey = new Map();
  /** @param {string} key @param {string} at */
  const sessionOf = (key, at) => {
    let session = byKey.get(key);
    if (!session) {
      session = { key, started: at, recordings: [], snapshots: [] };
      byKey.set(key, session);
    }
    if (Date.parse(at) < Date.parse(session.started)) session.started = at;
    return session;
  };
  for (const rec of state.recordings) {
    sessionOf(rec.session_id || `recording:${rec.id}`, rec.started_at).recordings.push(rec);
  }
  for (const snap of state.snapshots) {
    sessionOf(snap.session_id || `snapshot:${snap.id}`, snap.taken_at).snapshots.push(snap);
  }
  return [...byKey.values()].sort((a, b) => Date.parse(b.started) - Date.parse(a.started));
}

/** @param {Session} session */
function sessionTitle(session) {
  const cameras = new Set(session.recordings.map((r) => r.device_name).concat(session.snapshots.map((s) => s.device_name)));
  return t('recordings.session', {
    time: formatTime(session.started),
    cameras: String(cameras.size),
    snapshots: String(session.snapshots.length),
  });
}

/** The camera's name with its recording's thumbnail and, for WebM, a note. @param {Recording} rec */
function cameraCell(rec) {
  /** @type {Array<Node | string>} */
  const parts = [];
  if (rec.thumbnail_id) {
    parts.push(h('img', { className: 'rec-thumb', attrs: { src: imageUrl(rec.thumbnail_id), alt: '', loading: 'lazy' } }));
  }
  parts.push(h('span', { className: 'rec-camera-name', text: rec.device_name }));
  if (rec.container === 'webm') parts.push(h('small', { className: 'hint rec-format', text: t('recordings.webm_note') }));
  return parts;
}

/** The snapshots of a session: each image, its download link and Delete. @param {Snapshot[]} snapshots */
function gallery(snapshots) {
  return h(
    'ul',
    { className: 'snapshot-list', attrs: { 'aria-label': t('recordings.snapshots') } },
    ...snapshots.map((snap) => {
      const label = t('recordings.snapshot_label', { name: snap.device_name, time: formatTime(snap.taken_at) });
      return h(
        'li',
        { className: 'snapshot', dataset: { snapshotId: snap.id } },
        h('img', { attrs: { src: imageUrl(snap.id), alt: label, loading: 'lazy' } }),
        h('span', { className: 'hint', text: `${formatTime(snap.taken_at)} · ${snap.device_name} · ${snap.width}×${snap.height}` }),
        h(
          'div',
          { className: 'row-actions' },
          h('a', {
            className: 'button small',
            href: `${imageUrl(snap.id)}?download=1`,
            text: t('recordings.download_jpeg'),
            dataset: { snapshotId: snap.id, action: 'download-snapshot' },
            attrs: { download: '', 'aria-label': `${t('recordings.download_jpeg')}: ${label}` },
          }),
          h('button', {
            type: 'button',
            className: 'small danger',
            text: t('common.delete'),
            dataset: { snapshotId: snap.id, action: 'delete-snapshot' },
            attrs: { 'aria-label': `${t('common.delete')}: ${label}` },
            on: { click: () => void deleteSnapshot(snap) },
          }),
        ),
      );
    }),
  );
}

/**
 * `mm:ss` (minutes not capped at 59; whole seconds cut off like media players show them), or "—"
 * when unknown.
 * @param {number | null} secs
 */
function formatDuration(secs) {
  if (typeof secs !== 'number' || !Number.isFinite(secs) || secs < 0) return t('common.none');
  const total = Math.floor(secs);
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  return `${String(minutes).padStart(2, '0')}:${String(seconds).padStart(2, '0')}`;
}

/**
 * Megabytes with one decimal, in the UI language's number format.
 * @param {number} bytes
 */
function formatSize(bytes) {
  const mb = Math.max(0, Number(bytes) || 0) / 1_000_000;
  const text = new Intl.NumberFormat(getLang(), { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(mb);
  return t('recordings.size_mb', { mb: text });
}

/**
 * The size, or "—" while the recording is still being written (not final yet).
 * @param {Recording} rec
 */
function sizeText(rec) {
  return rec.state === 'recording' ? t('common.none') : formatSize(rec.size);
}

/** @param {Recording} rec */
function stateText(rec) {
  const key = `recordings.state.${rec.state}`;
  return ['recording', 'complete', 'failed'].includes(rec.state) ? t(key) : rec.state;
}

/** @param {Recording} rec */
function stateBadge(rec) {
  return h('span', { className: `badge rec-state rec-state-${rec.state}`, text: stateText(rec) });
}

/** @param {Recording} rec */
function isPlayable(rec) {
  return rec.state === 'complete';
}

// ---------------------------------------------------------------------------------------------
// Rendering

/**
 * The Play / Download / Delete controls of one recording. `aria-describedby` names the
 * recording (its time and camera), so each control's purpose is clear out of context.
 * @param {Recording} rec
 */
function controls(rec) {
  const describedBy = `rec-${rec.id}-time rec-${rec.id}-camera`;
  const ready = isPlayable(rec);
  const play = h('button', {
    type: 'button',
    className: 'primary',
    text: t('recordings.play'),
    disabled: !ready,
    dataset: { recId: rec.id, action: 'play' },
    attrs: { 'aria-describedby': describedBy },
    on: { click: () => openPlayer(rec) },
  });
  const downloadText = rec.container === 'webm' ? t('recordings.download_webm') : t('recordings.download');
  /** @type {HTMLAnchorElement} */
  let download;
  if (ready) {
    download = h('a', {
      className: 'button',
      href: `${fileUrl(rec.id)}?download=1`,
      text: downloadText,
      dataset: { recId: rec.id, action: 'download' },
      attrs: { download: '', 'aria-describedby': describedBy, type: rec.container === 'webm' ? 'video/webm' : 'video/mp4' },
    });
  } else {
    // A link without href is not focusable and does nothing; role and aria-disabled keep it
    // announced as an unavailable link.
    download = h('a', {
      className: 'button',
      text: downloadText,
      dataset: { recId: rec.id, action: 'download' },
      attrs: { role: 'link', 'aria-disabled': 'true', 'aria-describedby': describedBy },
    });
  }
  const remove = h('button', {
    type: 'button',
    className: 'danger',
    text: t('common.delete'),
    // The server refuses to delete a recording that is still being written.
    disabled: rec.state === 'recording',
    dataset: { recId: rec.id, action: 'delete' },
    attrs: { 'aria-describedby': describedBy },
    on: { click: () => void deleteRecording(rec) },
  });
  const box = h('div', { className: 'row-actions' }, play, download, remove);
  if (rec.state === 'recording') {
    return h('div', {}, box, h('small', { className: 'hint rec-hint', text: t('recordings.in_progress_hint') }));
  }
  return box;
}

/** @param {Session[]} list */
function renderTable(list) {
  const columns = ['recordings.col.started', 'recordings.col.camera', 'recordings.col.duration', 'recordings.col.size',
    'recordings.col.state', 'recordings.col.expires', 'common.actions'];
  const head = h(
    'tr',
    {},
    ...columns.map((key) =>
      h('th', { attrs: { scope: 'col' }, className: key.endsWith('duration') || key.endsWith('size') ? 'num' : '', text: t(key) }),
    ),
  );
  /** @param {Recording} rec */
  const row = (rec) =>
    h(
      'tr',
      {
        className: state.playing && state.playing.id === rec.id ? 'rec-row is-playing' : 'rec-row',
        dataset: { recId: rec.id, state: rec.state },
      },
      h('th', { attrs: { scope: 'row' }, id: `rec-${rec.id}-time`, className: 'nowrap rec-time', text: formatTime(rec.started_at) }),
      h('td', { id: `rec-${rec.id}-camera`, className: 'wrap-anywhere rec-camera' }, ...cameraCell(rec)),
      h('td', { className: 'num rec-duration', text: formatDuration(rec.duration_secs) }),
      h('td', { className: 'num nowrap rec-size', text: sizeText(rec) }),
      h('td', { className: 'rec-state-cell' }, stateBadge(rec)),
      h('td', { className: 'nowrap rec-expires', text: formatDate(rec.expires_at) }),
      h('td', {}, controls(rec)),
    );
  const bodies = list.map((session) =>
    h(
      'tbody',
      { className: 'session', dataset: { sessionId: session.key } },
      h('tr', { className: 'session-row' }, h('th', { attrs: { scope: 'rowgroup', colspan: String(columns.length) }, text: sessionTitle(session) })),
      ...session.recordings.map(row),
      ...(session.snapshots.length
        ? [h('tr', { className: 'snapshot-row' }, h('td', { attrs: { colspan: String(columns.length) } }, gallery(session.snapshots)))]
        : []),
    ),
  );
  return h(
    'div',
    { className: 'table-wrap' },
    h(
      'table',
      { className: 'rec-table' },
      h('caption', { className: 'visually-hidden', text: t('recordings.list') }),
      h('thead', {}, head),
      ...bodies,
    ),
  );
}

/** @param {Session[]} list */
function renderCards(list) {
  /**
   * @param {string} key
   * @param {Node | string} value
   */
  const fact = (key, value) => [h('dt', { text: t(key) }), h('dd', {}, value)];
  return h(
    'div',
    { className: 'rec-sessions' },
    ...list.map((session) =>
      h(
        'section',
        { className: 'session', dataset: { sessionId: session.key } },
        h('h2', { className: 'session-title', text: sessionTitle(session) }),
        h(
          'ul',
          { className: 'rec-cards', attrs: { 'aria-label': t('recordings.list') } },
          ...session.recordings.map((rec) =>
            h(
              'li',
              {
                className: state.playing && state.playing.id === rec.id ? 'rec-card is-playing' : 'rec-card',
                dataset: { recId: rec.id, state: rec.state },
              },
              h('h3', { id: `rec-${rec.id}-camera`, className: 'rec-camera' }, ...cameraCell(rec)),
              h('p', { id: `rec-${rec.id}-time`, className: 'rec-time', text: formatTime(rec.started_at) }),
              h(
                'dl',
                { className: 'rec-facts' },
                ...fact('recordings.col.duration', formatDuration(rec.duration_secs)),
                ...fact('recordings.col.size', sizeText(rec)),
                ...fact('recordings.col.state', stateBadge(rec)),
                ...fact('recordings.col.expires', formatDate(rec.expires_at)),
              ),
              controls(rec),
            ),
          ),
        ),
        ...(session.snapshots.length ? [gallery(session.snapshots)] : []),
      ),
    ),
  );
}

/** Days a recording is kept (`GET /api/config` → `recording_retention_days`). */
let retentionDays = 30;

function render() {
  byId('recordings-retention').textContent = t('recordings.retention', { days: String(retentionDays) });
  // Keep the keyboard focus on the same control of the same recording across re-renders.
  const active = document.activeElement;
  const focused =
    active instanceof HTMLElement && listBox.contains(active) && active.dataset.recId
      ? { id: active.dataset.recId, action: active.dataset.action }
      : null;

  byId('recordings-loading').hidden = state.loaded || !!state.loadError;
  showError(byId('recordings-error'), state.loadError ? errorMessage(state.loadError) : null);
  showStatus(byId('recordings-status'), state.status ? state.status() : null);
  const empty = state.recordings.length === 0 && state.snapshots.length === 0;
  byId('recordings-empty').hidden = !state.loaded || !empty;
  if (!state.loaded || empty) {
    listBox.replaceChildren();
  } else {
    const list = sessions();
    listBox.replaceChildren(phoneQuery.matches ? renderCards(list) : renderTable(list));
  }
  renderPlayer();

  if (focused) {
    const again = listBox.querySelector(
      `[data-rec-id="${CSS.escape(focused.id)}"][data-action="${CSS.escape(focused.action || '')}"]`,
    );
    if (again instanceof HTMLElement) again.focus();
  }
}

function renderPlayer() {
  const rec = state.playing;
  player.hidden = !rec;
  if (!rec) return;
  const params = { name: rec.device_name, time: formatTime(rec.started_at) };
  byId('player-heading').textContent = t('recordings.playing', params);
  video.setAttribute('aria-label', t('recordings.video_label', params));
  if (playerError.hidden === false) showError(playerError, t('recordings.play_failed'));
}

// ---------------------------------------------------------------------------------------------
// Actions

/** @param {Recording} rec */
function openPlayer(rec) {
  if (!isPlayable(rec)) return;
  state.playing = rec;
  showError(playerError, null);
  const url = fileUrl(rec.id);
  if (video.getAttribute('src') !== url) {
    video.src = url;
  } else if (video.ended) {
    video.currentTime = 0;
  }
  render();
  player.scrollIntoView({ block: 'nearest' });
  video.focus({ preventScroll: true });
  // Started by the click (a user gesture). A refusal leaves the controls to the user.
  video.play().catch(() => {});
}

/** @param {boolean} [restoreFocus] */
function closePlayer(restoreFocus = true) {
  const rec = state.playing;
  video.pause();
  video.removeAttribute('src');
  video.removeAttribute('aria-label');
  video.load();
  state.playing = null;
  showError(playerError, null);
  render();
  if (restoreFocus && rec) {
    const button = listBox.querySelector(`[data-rec-id="${CSS.escape(rec.id)}"][data-action="play"]`);
    if (button instanceof HTMLElement) button.focus();
    else byId('recordings-heading').focus();
  }
}

/** @param {Recording} rec */
async function deleteRecording(rec) {
  const name = rec.device_name;
  const deleted = await confirmDialog(
    t('recordings.delete_confirm', { name, time: formatTime(rec.started_at) }),
    t('common.delete'),
    async () => {
      try {
        await api('DELETE', `/api/recordings/${encodeURIComponent(rec.id)}`);
      } catch (error) {
        // Already gone (deleted in another tab, or expired): the goal is reached.
        if (!(error instanceof ApiError && error.status === 404)) throw error;
      }
    },
  );
  if (!deleted) return;
  if (state.playing && state.playing.id === rec.id) closePlayer(false);
  state.recordings = state.recordings.filter((r) => r.id !== rec.id);
  state.status = () => t('recordings.deleted', { name, time: formatTime(rec.started_at) });
  render();
  byId('recordings-heading').focus();
}

/** @param {Snapshot} snap */
async function deleteSnapshot(snap) {
  const params = { name: snap.device_name, time: formatTime(snap.taken_at) };
  const deleted = await confirmDialog(t('recordings.snapshot_delete_confirm', params), t('common.delete'), async () => {
    try {
      await api('DELETE', `/api/snapshots/${encodeURIComponent(snap.id)}`);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
    }
  });
  if (!deleted) return;
  state.snapshots = state.snapshots.filter((s) => s.id !== snap.id);
  state.status = () => t('recordings.snapshot_deleted', params);
  render();
  byId('recordings-heading').focus();
}

async function load() {
  const seq = ++state.loadSeq;
  if (state.pollTimer) clearTimeout(state.pollTimer);
  state.pollTimer = null;
  try {
    const [answer, images] = await Promise.all([api('GET', '/api/recordings'), api('GET', '/api/snapshots')]);
    if (seq !== state.loadSeq) return;
    state.recordings = Array.isArray(answer && answer.recordings) ? answer.recordings : [];
    state.snapshots = Array.isArray(images && images.snapshots) ? images.snapshots : [];
    state.loaded = true;
    state.loadError = null;
    // A recording in the player that was deleted elsewhere leaves the player.
    if (state.playing && !state.recordings.some((r) => r.id === state.playing?.id)) closePlayer(false);
  } catch (error) {
    if (seq !== state.loadSeq) return;
    state.loadError = error;
  }
  render();
  if (state.recordings.some((r) => r.state === 'recording')) {
    state.pollTimer = setTimeout(() => void load(), POLL_MS);
  }
}

byId('player-close').addEventListener('click', () => closePlayer());
video.addEventListener('error', () => {
  if (state.playing) showError(playerError, t('recordings.play_failed'));
});
phoneQuery.addEventListener('change', render);
onLangChange(render);
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && state.loaded) void load();
});

const config = await getConfig();
if (config && typeof config.recording_retention_days === 'number') {
  retentionDays = config.recording_retention_days;
}
await load();
