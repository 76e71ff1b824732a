//! The user's own login history (`GET /api/auth/login-history`).

import { api, errorMessage } from './api.js';
import { onLangChange } from './i18n.js';
import { byId, h, showError } from './dom.js';
import { initPage } from './layout.js';
import { formatTime } from './time.js';
import { actionCell, outcomeCell } from './format.js';

/** @typedef {import('./api.js').AuditEvent} AuditEvent */

await initPage({ current: '/history' });

/** @type {AuditEvent[]} */
let events = [];

function render() {
  byId('history-body').replaceChildren(
    ...events.map((e) =>
      h(
        'tr',
        {},
        h('td', { className: 'nowrap', text: formatTime(e.at) }),
        actionCell(e.action, false),
        outcomeCell(e.outcome),
        h('td', { text: e.client_ip || '' }),
        h('td', { className: 'wrap-anywhere', text: e.user_agent || '' }),
      ),
    ),
  );
  byId('history-empty').hidden = events.length > 0;
}

try {
  const answer = await api('GET', '/api/auth/login-history');
  events = Array.isArray(answer && answer.events) ? answer.events : [];
  render();
  onLangChange(render);
} catch (error) {
  showError(byId('history-error'), errorMessage(error));
}
