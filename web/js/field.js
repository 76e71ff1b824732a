//! The field camera page of a paired phone. This milestone only checks the registration
//! (`GET /api/device/me` with the stored bearer credential); live video is the next milestone.

import { ApiError, api, errorMessage } from './api.js';
import { onLangChange, t } from './i18n.js';
import { byId, showError } from './dom.js';
import { initPublicPage } from './layout.js';
import { forgetDevice, loadDevice } from './device.js';

/** @typedef {import('./api.js').DeviceMe} DeviceMe */

/** @type {DeviceMe | null} */
let me = null;
/** @type {unknown} */
let lastError = null;

function render() {
  if (me) {
    byId('field-device').textContent = t('field.device', { name: me.device_name });
    byId('field-group').textContent = t('field.group', { group: me.group_name });
  }
  showError(byId('field-error'), lastError ? errorMessage(lastError) : null);
}
onLangChange(render);

/** @param {'not-paired' | 'revoked' | 'ready' | null} which */
function show(which) {
  byId('field-checking').hidden = true;
  byId('field-not-paired').hidden = which !== 'not-paired';
  byId('field-revoked').hidden = which !== 'revoked';
  byId('field-ready').hidden = which !== 'ready';
}

byId('field-forget').addEventListener('click', () => {
  forgetDevice();
  show('not-paired');
});

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
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      show('revoked');
    } else {
      // Network trouble or a server error: the registration may still be fine, so keep it.
      lastError = error;
      show(null);
    }
  }
  render();
}
