//! Phone pairing: exchanges the one-time code from the QR code (`/pair?code=…`) for a device
//! credential and keeps it in localStorage `ra.device` for the field page.
//!
//! The code is used once, so after success it is removed from the address bar: reloading the page
//! must not show a confusing "invalid code" error.
//!
//! A phone that is already a camera is never re-registered by merely opening a link: the page
//! says which camera and group it is now and waits for an explicit tap, so a link from another
//! group cannot silently move the phone there.

import { api, errorMessage } from './api.js';
import { onLangChange, t } from './i18n.js';
import { byId, showError, showStatus } from './dom.js';
import { initPublicPage } from './layout.js';
import { loadDevice, saveDevice } from './device.js';

/** @typedef {import('./api.js').PairResult} PairResult */

const form = /** @type {HTMLFormElement} */ (byId('pair-form'));
const codeInput = /** @type {HTMLInputElement} */ (byId('pair-code'));
const submit = /** @type {HTMLButtonElement} */ (byId('pair-submit'));
const errorBox = byId('pair-error');
const working = byId('pair-working');
const done = byId('pair-done');
const existingBox = byId('pair-existing');
const existing = loadDevice();

/** @type {unknown} */
let lastError = null;
/** @type {PairResult | null} */
let paired = null;

function render() {
  showError(errorBox, lastError ? errorMessage(lastError) : null);
  existingBox.hidden = !existing || paired !== null;
  if (existing) {
    existingBox.textContent = t('pair.existing', {
      name: existing.device_name,
      group: existing.group_name,
    });
  }
  if (paired) {
    byId('pair-done-text').textContent = t('pair.done', {
      name: paired.device_name,
      group: paired.group_name,
    });
  }
}
onLangChange(render);

/** @param {string} code */
async function pair(code) {
  lastError = null;
  render();
  submit.disabled = true;
  showStatus(working, t('pair.working'));
  try {
    /** @type {PairResult} */
    const result = await api('POST', '/api/pair', { code }, { noRedirect: true, credentials: 'omit' });
    saveDevice({
      device_id: result.device_id,
      device_name: result.device_name,
      group_name: result.group_name,
      credential: result.credential,
    });
    paired = result;
    history.replaceState(null, '', '/pair');
    form.hidden = true;
    done.hidden = false;
    render();
    byId('pair-go-field').focus();
  } catch (error) {
    lastError = error;
    render();
    codeInput.focus();
  }
  showStatus(working, null);
  submit.disabled = false;
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const code = codeInput.value.trim();
  if (code) void pair(code);
});

await initPublicPage();
const fromQuery = (new URLSearchParams(location.search).get('code') || '').trim();
render();
if (fromQuery && !existing) {
  codeInput.value = fromQuery;
  await pair(fromQuery);
} else {
  if (fromQuery) codeInput.value = fromQuery;
  submit.focus();
}
