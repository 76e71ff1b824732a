//! Times in the configured time zone (`GET /api/config` → `time_zone`, default Asia/Tokyo).
//!
//! The API speaks RFC 3339 UTC; people read `2026-11-23 13:05:06 JST`. Date inputs (audit filters)
//! mean whole days in the configured zone, not in the browser's.

import { getConfig } from './api.js';

export const DEFAULT_TIME_ZONE = 'Asia/Tokyo';

let timeZone = DEFAULT_TIME_ZONE;

/** Load the configured time zone; call once before formatting. */
export async function loadTimeZone() {
  const config = await getConfig();
  const tz = config && typeof config.time_zone === 'string' ? config.time_zone : '';
  timeZone = isValidTimeZone(tz) ? tz : DEFAULT_TIME_ZONE;
  return timeZone;
}

/** @returns {string} */
export function getTimeZone() {
  return timeZone;
}

/** @param {string} tz */
function isValidTimeZone(tz) {
  if (!tz) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch (_) {
    return false;
  }
}

/**
 * The zone's short name: an abbreviation like "JST" or "EST" when some locale has one, else
 * "GMT+9" style. (en-US knows "EST" but not "JST"; ja-JP knows "JST"; en-GB knows "CET".)
 * @param {Date} date
 * @param {string} tz
 */
function zoneName(date, tz) {
  let fallback = '';
  for (const locale of ['en-US', 'ja-JP', 'en-GB']) {
    const part = new Intl.DateTimeFormat(locale, { timeZone: tz, timeZoneName: 'short' })
      .formatToParts(date)
      .find((p) => p.type === 'timeZoneName');
    if (!part) continue;
    if (!fallback) fallback = part.value;
    if (!/^(GMT|UTC)[+-−]/.test(part.value)) return part.value;
  }
  return fallback;
}

/**
 * Wall-clock fields of `date` in zone `tz`.
 * @param {Date} date
 * @param {string} tz
 */
function wallClock(date, tz) {
  /** @type {Record<string, string>} */
  const f = {};
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: tz,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(date);
  for (const p of parts) f[p.type] = p.value;
  return f;
}

/**
 * `2026-11-23 13:05:06 JST`, or '' for null/invalid input.
 * @param {string | null | undefined} iso RFC 3339 time from the API
 * @param {string} [tz]
 */
export function formatTime(iso, tz = timeZone) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const f = wallClock(date, tz);
  return `${f.year}-${f.month}-${f.day} ${f.hour}:${f.minute}:${f.second} ${zoneName(date, tz)}`;
}

/**
 * The day `2026-12-23` in the configured zone, or '' for null/invalid input.
 * @param {string | null | undefined} iso RFC 3339 time from the API
 * @param {string} [tz]
 */
export function formatDate(iso, tz = timeZone) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const f = wallClock(date, tz);
  return `${f.year}-${f.month}-${f.day}`;
}

/**
 * Offset of zone `tz` from UTC at instant `ms`, in milliseconds.
 * @param {number} ms
 * @param {string} tz
 */
function offsetAt(ms, tz) {
  const f = wallClock(new Date(ms), tz);
  const asUtc = Date.UTC(+f.year, +f.month - 1, +f.day, +f.hour, +f.minute, +f.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/**
 * The UTC instant of midnight starting day `yyyy-mm-dd` in zone `tz` (plus `addDays`).
 * @param {string} day value of an `<input type="date">`
 * @param {number} [addDays]
 * @param {string} [tz]
 * @returns {Date | null}
 */
export function zonedDayStart(day, addDays = 0, tz = timeZone) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day || '');
  if (!m) return null;
  const guess = Date.UTC(+m[1], +m[2] - 1, +m[3] + addDays);
  // Two rounds settle the offset even across a daylight-saving change.
  let ms = guess - offsetAt(guess, tz);
  ms = guess - offsetAt(ms, tz);
  return new Date(ms);
}
