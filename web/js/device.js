//! The phone's camera registration, kept in localStorage `ra.device` by the pairing page and read by
//! the field page. The credential is a bearer secret: it is only ever sent in the Authorization
//! header to this server.

export const DEVICE_STORAGE_KEY = 'ra.device';

/**
 * @typedef {{device_id: string, device_name: string, group_name: string, credential: string}} StoredDevice
 */

/** @param {StoredDevice} device */
export function saveDevice(device) {
  localStorage.setItem(DEVICE_STORAGE_KEY, JSON.stringify(device));
}

/**
 * The stored registration, or null when missing or unreadable.
 * @returns {StoredDevice | null}
 */
export function loadDevice() {
  let raw = null;
  try {
    raw = localStorage.getItem(DEVICE_STORAGE_KEY);
  } catch (_) {
    return null;
  }
  if (!raw) return null;
  try {
    const value = JSON.parse(raw);
    if (value && typeof value.credential === 'string' && value.credential) return value;
  } catch (_) {
    // Corrupt entry: treat as not paired.
  }
  return null;
}

export function forgetDevice() {
  localStorage.removeItem(DEVICE_STORAGE_KEY);
}
