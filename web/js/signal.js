//! The signaling connection (`wss://HOST/ws`, docs/protocol.md) shared by the supporter console and
//! the field camera page.
//!
//! - Sends `hello` first on every (re)connection and reports `welcome` to the page, which then makes
//!   a fresh RTCPeerConnection and offer (a new connection never reuses the old media connection).
//! - Reconnects on its own with a short backoff (0.5 s, 1 s, 2 s, then every 3 s), immediately when
//!   the browser says it is back online.
//! - Detects dead connections the browser does not notice (a phone switching from Wi-Fi to LTE
//!   keeps the old TCP connection "open"): a `ping` every 5 s, and a reconnect when nothing was
//!   heard for 15 s.
//! - Errors that no retry can fix (`not_authenticated`, `unsupported_protocol`, `hello_required`,
//!   `replaced`)
//!   stop it and are reported through `onFatal`.

import { ERROR_TEXTS, PROTOCOL_VERSION } from './protocol.js';
import { getLang } from './i18n.js';

/** @typedef {import('./protocol.js').ClientMessage} ClientMessage */
/** @typedef {import('./protocol.js').ServerMessage} ServerMessage */
/** @typedef {import('./protocol.js').ServerWelcome} ServerWelcome */
/** @typedef {import('./protocol.js').ServerError} ServerError */

/** Backoff before reconnect attempt n (0-based); the last value repeats. */
export const RECONNECT_DELAYS_MS = [500, 1000, 2000, 3000];
const PING_EVERY_MS = 5000;
const DEAD_AFTER_MS = 15000;
const FATAL_CODES = new Set(['not_authenticated', 'unsupported_protocol', 'hello_required', 'replaced']);

/**
 * @typedef {'connecting' | 'open' | 'reconnecting' | 'stopped'} SignalState
 * `open` = welcomed by the server.
 */

/**
 * @typedef {object} SignalOptions
 * @property {string} [credential] camera devices: the stored credential (supporters: none, the
 *   session cookie authenticates them)
 * @property {(welcome: ServerWelcome) => void} onWelcome after every successful hello
 * @property {(message: ServerMessage) => void} onMessage every other message (pong excluded)
 * @property {(state: SignalState) => void} [onState]
 * @property {(error: ServerError) => void} [onFatal] an error that stops the connection for good
 * @property {string} [url] default `wss://<this host>/ws`
 */

export class Signal {
  /** @param {SignalOptions} options */
  constructor(options) {
    this.options = options;
    /** @type {WebSocket | null} */
    this.ws = null;
    /** @type {SignalState} */
    this.state = 'stopped';
    this.welcomed = false;
    this.attempt = 0;
    this.lastHeard = 0;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.retryTimer = null;
    /** @type {ReturnType<typeof setInterval> | null} */
    this.pingTimer = null;
    this.onOnline = () => {
      if (this.state !== 'stopped' && !this.welcomed) this.reconnectNow();
    };
  }

  /** Connect (idempotent while running). */
  start() {
    if (this.state !== 'stopped') return;
    this.attempt = 0;
    window.addEventListener('online', this.onOnline);
    this.pingTimer = setInterval(() => this.keepAlive(), PING_EVERY_MS);
    this.setState('connecting');
    this.connect();
  }

  /** Close for good (no reconnect). */
  stop() {
    this.setState('stopped');
    window.removeEventListener('online', this.onOnline);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.retryTimer = null;
    this.pingTimer = null;
    const ws = this.ws;
    this.ws = null;
    this.welcomed = false;
    if (ws) {
      try {
        ws.close(1000, 'bye');
      } catch (_) {
        // Already closing.
      }
    }
  }

  /** Whether the server has welcomed this connection (messages can be sent). */
  get open() {
    return this.welcomed && !!this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  /**
   * Send a message; false when not connected (the caller re-syncs after the next welcome).
   * @param {ClientMessage} message
   */
  send(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    if (message.type !== 'hello' && !this.welcomed) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /** Drop the current connection and connect again at once (network change). */
  reconnectNow() {
    if (this.state === 'stopped') return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.attempt = 0;
    this.drop();
    this.connect();
  }

  /** @param {SignalState} state */
  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.options.onState?.(state);
  }

  drop() {
    const ws = this.ws;
    this.ws = null;
    this.welcomed = false;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(4000, 'reconnect');
      } catch (_) {
        // Ignore.
      }
    }
  }

  connect() {
    if (this.state === 'open') this.setState('reconnecting');
    const url = this.options.url || `wss://${location.host}/ws`;
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (_) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.lastHeard = Date.now();
    ws.onopen = () => {
      if (ws !== this.ws) return;
      this.lastHeard = Date.now();
      /** @type {ClientMessage} */
      const hello = { type: 'hello', protocol: PROTOCOL_VERSION, credential: this.options.credential };
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (event) => {
      if (ws !== this.ws) return;
      this.lastHeard = Date.now();
      /** @type {ServerMessage} */
      let message;
      try {
        message = JSON.parse(String(event.data));
      } catch (_) {
        return;
      }
      if (!message || typeof message !== 'object') return;
      if (message.type === 'welcome') {
        this.welcomed = true;
        this.attempt = 0;
        this.setState('open');
        this.options.onWelcome(message);
        return;
      }
      if (message.type === 'pong') return;
      if (message.type === 'error' && FATAL_CODES.has(message.code)) {
        this.stop();
        this.options.onFatal?.(message);
        return;
      }
      this.options.onMessage(message);
    };
    ws.onclose = () => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.welcomed = false;
      this.scheduleReconnect();
    };
    ws.onerror = () => {
      // A close event follows.
    };
  }

  scheduleReconnect() {
    if (this.state === 'stopped') return;
    this.setState('reconnecting');
    const delay = RECONNECT_DELAYS_MS[Math.min(this.attempt, RECONNECT_DELAYS_MS.length - 1)];
    this.attempt += 1;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.state !== 'stopped') this.connect();
    }, delay);
  }

  keepAlive() {
    if (this.state === 'stopped' || !this.ws) return;
    if (Date.now() - this.lastHeard > DEAD_AFTER_MS) {
      this.drop();
      this.scheduleReconnect();
      return;
    }
    if (this.welcomed) this.send({ type: 'ping' });
  }
}

/**
 * The text of a signaling error in the UI language (`{n}` = the camera limit), from the generated
 * table, else from the server's own texts.
 * @param {ServerError} error
 * @param {number} maxCameras
 */
export function signalErrorText(error, maxCameras) {
  const lang = getLang();
  const known = /** @type {Record<string, {en: string, ja: string}>} */ (ERROR_TEXTS)[error.code];
  let text = known ? known[lang] : lang === 'ja' ? error.message_ja || error.message : error.message;
  text = (text || error.code).replace('{n}', String(maxCameras));
  return text;
}
