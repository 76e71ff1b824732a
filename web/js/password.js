//! Change one's own password. Also the page users are forced to after their first login or an
//! administrator's reset (`must_change_password`), which is explained at the top.

import { ApiError, api, detailMessages, errorMessage, fetchMe, homeFor } from './api.js';
import { onLangChange, t } from './i18n.js';
import { byId, showError, showStatus } from './dom.js';
import { initPage } from './layout.js';

const form = /** @type {HTMLFormElement} */ (byId('password-form'));
const username = /** @type {HTMLInputElement} */ (byId('password-username'));
const current = /** @type {HTMLInputElement} */ (byId('current-password'));
const next = /** @type {HTMLInputElement} */ (byId('new-password'));
const confirm = /** @type {HTMLInputElement} */ (byId('confirm-password'));
const submit = /** @type {HTMLButtonElement} */ (byId('password-submit'));
const errorBox = byId('password-error');
const statusBox = byId('password-status');
const forced = byId('password-forced');

/** @type {{key?: string, error?: unknown} | null} */
let shown = null;

function renderError() {
  if (!shown) showError(errorBox, null);
  else if (shown.key) showError(errorBox, t(shown.key));
  else {
    const error = shown.error;
    showError(errorBox, errorMessage(error), error instanceof ApiError ? detailMessages(error) : []);
  }
}
onLangChange(renderError);

const session = await initPage({ passwordPage: true });
username.value = session.user.login_id;
forced.hidden = !session.must_change_password;

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  shown = null;
  renderError();
  showStatus(statusBox, null);
  if (next.value !== confirm.value) {
    shown = { key: 'password.mismatch' };
    renderError();
    confirm.focus();
    return;
  }
  submit.disabled = true;
  try {
    await api('POST', '/api/auth/password', {
      current_password: current.value,
      new_password: next.value,
    });
    showStatus(statusBox, t('password.changed'));
    // The session may carry a new CSRF token and no longer requires a change.
    const fresh = await fetchMe();
    location.assign(homeFor(fresh.user.role));
  } catch (error) {
    shown = { error };
    renderError();
    submit.disabled = false;
  }
});
