//! The one way the pages talk to the server's JSON API.
//!
//! - Sends and receives JSON; errors become `ApiError` with the server's `code`, English and
//!   Japanese messages and optional `details` (docs/rest-api.md, "Conventions").
//! - Remembers the CSRF token from the last login or `GET /api/auth/me` answer and sends it as
//!   `X-CSRF-Token` on every state-changing request.
//! - `401 not_authenticated` sends the browser to /login, `403 password_change_required` to
//!   /password, unless the caller asks to handle them itself.

import { getLang, hasText, t } from './i18n.js';

/**
 * @typedef {'system_admin' | 'group_admin' | 'supporter'} Role
 * @typedef {{id: string, login_id: string, display_name: string, role: Role,
 *   group_id: string | null, group_name: string | null, locked: boolean,
 *   must_change_password: boolean, mfa_enabled?: boolean, created_at: string}} User
 * @typedef {{id: string, name: string, created_at: string, recording_enabled: boolean,
 *   mfa_required?: boolean}} Group
 * @typedef {{id: string, group_id: string, group_name: string, name: string, created_at: string,
 *   last_seen_at: string | null, revoked_at: string | null, paired: boolean}} Device
 * @typedef {{code: string, url: string, expires_at: string, qr_svg: string}} Pairing
 * @typedef {{id: string | number, at: string, actor_kind: string, actor_id: string | null,
 *   actor_label: string | null, group_id: string | null, action: string, target: string | null,
 *   client_ip: string | null, user_agent: string | null, outcome: string,
 *   detail: string | null}} AuditEvent
 * @typedef {{user: User, csrf_token: string, must_change_password: boolean}} Session
 * @typedef {{second_factor: 'verify' | 'enroll', csrf_token: string, expires_at: string}} MfaPending
 * @typedef {{secret: string, otpauth_uri: string, qr_svg: string}} MfaSetup
 * @typedef {{recovery_codes: string[], session: Session | null}} MfaEnabled
 * @typedef {{time_zone: string, version: string, max_cameras: number, recording_retention_days: number}} Config
 * @typedef {{device_id: string, device_name: string, group_name: string, credential: string}} PairResult
 * @typedef {{device_id: string, device_name: string, group_id: string, group_name: string}} DeviceMe
 */

/** Methods that change state and so need the CSRF token. */
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** @type {string | null} */
let csrfToken = null;

/**
 * Remember the CSRF token from a login or `/api/auth/me` answer.
 * @param {string | null} token
 */
export function setCsrfToken(token) {
  csrfToken = token;
}

/** An error answer of the API, or a network failure (`status` 0, code `network`). */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message English message from the server
   * @param {string | null} messageJa
   * @param {string[]} details
   */
  constructor(status, code, message, messageJa, details) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.messageJa = messageJa;
    this.details = details;
  }
}

/**
 * @typedef {object} RequestOptions
 * @property {boolean} [noRedirect] handle 401/403 auth errors in the caller instead of redirecting
 * @property {Record<string, string>} [headers] extra request headers
 * @property {RequestCredentials} [credentials] defaults to 'same-origin'
 */

/**
 * Call the API. Resolves with the parsed JSON body (or null for 204), rejects with `ApiError`.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body] sent as JSON when not undefined; a Blob is sent as it is, with its type
 * @param {RequestOptions} [options]
 * @returns {Promise<any>}
 */
export async function api(method, path, body, options = {}) {
  method = method.toUpperCase();
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json', ...(options.headers || {}) };
  const isBlob = body instanceof Blob;
  if (isBlob) headers['Content-Type'] = /** @type {Blob} */ (body).type;
  else if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (STATE_CHANGING.has(method) && csrfToken) headers['X-CSRF-Token'] = csrfToken;

  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: isBlob ? /** @type {Blob} */ (body) : body === undefined ? undefined : JSON.stringify(body),
      credentials: options.credentials || 'same-origin',
      cache: 'no-store',
    });
  } catch (_) {
    throw new ApiError(0, 'network', 'network error', null, []);
  }

  if (response.status === 204) return null;
  const text = await response.text();
  /** @type {any} */
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (_) {
      data = null;
    }
  }
  if (response.ok) return data;

  const err = data && typeof data === 'object' && data.error ? data.error : {};
  const apiError = new ApiError(
    response.status,
    typeof err.code === 'string' ? err.code : response.status >= 500 ? 'internal' : 'generic',
    typeof err.message === 'string' ? err.message : response.statusText,
    typeof err.message_ja === 'string' ? err.message_ja : null,
    Array.isArray(err.details) ? err.details.filter((/** @type {unknown} */ d) => typeof d === 'string') : [],
  );
  // The page is being left: settle never, so callers need no special case for it.
  if (!options.noRedirect && redirectForAuth(apiError)) return new Promise(() => {});
  throw apiError;
}

/**
 * Send the browser where an authentication error says it must go.
 * @param {ApiError} error
 * @returns {boolean} whether a redirect was started
 */
export function redirectForAuth(error) {
  if (error.status === 401 && error.code === 'not_authenticated' && location.pathname !== '/login') {
    location.assign('/login');
    return true;
  }
  if (
    error.status === 403 &&
    error.code === 'password_change_required' &&
    location.pathname !== '/password'
  ) {
    location.assign('/password');
    return true;
  }
  return false;
}

/**
 * A message for the user: the catalogue's text for the code, else the server's message in the UI
 * language, else a generic text.
 * @param {unknown} error
 * @returns {string}
 */
export function errorMessage(error) {
  if (error instanceof ApiError) {
    if (hasText(`error.${error.code}`)) return t(`error.${error.code}`);
    if (getLang() === 'ja' && error.messageJa) return error.messageJa;
    if (error.message) return error.message;
  }
  return t('error.generic');
}

/**
 * Messages for each `details` code (password policy), from the catalogue when known.
 * @param {ApiError} error
 * @returns {string[]}
 */
export function detailMessages(error) {
  return error.details.map((code) => (hasText(`error.${code}`) ? t(`error.${code}`) : code));
}

/**
 * The logged-in session; redirects to /login when there is none (unless `noRedirect`).
 * @param {RequestOptions} [options]
 * @returns {Promise<Session>}
 */
export async function fetchMe(options = {}) {
  /** @type {Session} */
  const session = await api('GET', '/api/auth/me', undefined, options);
  setCsrfToken(session.csrf_token);
  return session;
}

/**
 * Log in with JSON. 401 errors are left to the caller. With MFA the answer is the pending
 * second step (`second_factor`) instead of a session.
 * @param {string} loginId
 * @param {string} password
 * @returns {Promise<Session | MfaPending>}
 */
export async function login(loginId, password) {
  /** @type {Session | MfaPending} */
  const session = await api(
    'POST',
    '/api/auth/login',
    { login_id: loginId, password },
    { noRedirect: true },
  );
  setCsrfToken(session.csrf_token);
  return session;
}

/** Log out and go to the login page, whatever the server answered. */
export async function logout() {
  try {
    await api('POST', '/api/auth/logout', undefined, { noRedirect: true });
  } catch (_) {
    // The session may already be gone; the login page is right either way.
  }
  setCsrfToken(null);
  location.assign('/login');
}

/**
 * Where a role starts after login.
 * @param {Role} role
 */
export function homeFor(role) {
  return role === 'system_admin' || role === 'group_admin' ? '/admin' : '/';
}

/** @type {Promise<Config> | null} */
let configPromise = null;

/**
 * `GET /api/config`, fetched once per page; falls back to defaults when it fails.
 * @returns {Promise<Config>}
 */
export function getConfig() {
  if (!configPromise) {
    configPromise = api('GET', '/api/config', undefined, { noRedirect: true }).catch(() => ({
      time_zone: 'Asia/Tokyo',
      version: '',
      max_cameras: 0,
    }));
  }
  return configPromise;
}
