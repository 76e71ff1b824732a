//! Shared bits for showing API objects in tables.

import { hasText, t } from './i18n.js';
import { h } from './dom.js';

/**
 * A table cell for an audit outcome ("success" / "failure" / "denied"), translated when known.
 * @param {string} outcome
 */
export function outcomeCell(outcome) {
  const key = `outcome.${outcome}`;
  return h('td', {
    className: `outcome outcome-${outcome === 'success' ? 'ok' : 'bad'}`,
    text: hasText(key) ? t(key) : outcome,
  });
}

/**
 * "Yes" / "No" in the UI language.
 * @param {boolean} value
 */
export function yesNo(value) {
  return t(value ? 'common.yes' : 'common.no');
}

/**
 * The translated name of a role.
 * @param {string} role
 */
export function roleName(role) {
  const key = `role.${role}`;
  return hasText(key) ? t(key) : role;
}

/** Audit action codes the catalogue names (`action.<code>`); also offered in the audit filter. */
export const KNOWN_ACTIONS = [
  'auth.login',
  'auth.logout',
  'auth.lockout',
  'auth.password_change',
  'auth.password_reset',
  'auth.ip_refused',
  'auth.mfa_challenge',
  'auth.mfa_enable',
  'auth.mfa_disable',
  'user.mfa_reset',
  'user.create',
  'user.update',
  'user.delete',
  'user.unlock',
  'group.create',
  'group.update',
  'group.delete',
  'group.sso_update',
  'group.sso_delete',
  'group.sso_read',
  'device.create',
  'device.update',
  'device.delete',
  'device.pairing_code',
  'device.pair',
  'device.revoke',
  'audit.export',
  'live.connect_camera',
  'live.disconnect_camera',
  'live.call_for_help',
  'recording.start',
  'recording.stop',
  'recording.view',
  'recording.download',
  'recording.thumbnail',
  'recording.delete',
  'recording.verify',
  'recording.expire',
  'snapshot.take',
  'snapshot.download',
  'snapshot.delete',
  'snapshot.expire',
  'keys.rewrap',
  'backup.create',
  'backup.restore',
  'deletions.export',
];

/**
 * The translated name of an audit action, or the code itself when the catalogue has none.
 * @param {string} action
 */
export function actionName(action) {
  const key = `action.${action}`;
  return hasText(key) ? t(key) : action;
}

/**
 * A table cell naming an audit action, optionally with the code itself (what the audit filter
 * takes) below.
 * @param {string} action
 * @param {boolean} [showCode]
 */
export function actionCell(action, showCode = true) {
  const name = actionName(action);
  return h(
    'td',
    { title: action },
    h('span', { text: name }),
    showCode && name !== action ? h('small', { className: 'action-code mono', text: action }) : null,
  );
}
