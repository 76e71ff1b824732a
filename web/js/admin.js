//! Administration: groups (system administrators), users, camera devices with their pairing QR
//! codes, and the audit log.
//!
//! Group administrators see only their own group: no Groups tab, and new users and devices go to
//! their group. The server enforces all of this; the page only avoids offering what would fail.

import { ApiError, api, detailMessages, errorMessage } from './api.js';
import { onLangChange, t } from './i18n.js';
import { base64Utf8, byId, confirmDialog, formDialog, h, showError, showStatus } from './dom.js';
import { initPage } from './layout.js';
import { formatTime, zonedDayStart } from './time.js';
import { KNOWN_ACTIONS, actionCell, actionName, outcomeCell, roleName, yesNo } from './format.js';

/**
 * @typedef {import('./api.js').User} User
 * @typedef {import('./api.js').Group} Group
 * @typedef {import('./api.js').Device} Device
 * @typedef {import('./api.js').Pairing} Pairing
 * @typedef {import('./api.js').AuditEvent} AuditEvent
 * @typedef {'groups' | 'users' | 'devices' | 'audit'} Tab
 */

/** Audit events fetched per page ("Load more" fetches the next page). */
const AUDIT_PAGE = 50;

const session = await initPage({ current: '/admin' });
const me = session.user;
if (me.role !== 'system_admin' && me.role !== 'group_admin') {
  location.assign('/');
  await new Promise(() => {});
}
const isSystemAdmin = me.role === 'system_admin';

/** @type {Group[]} */
let groups = [];
/** @type {User[]} */
let users = [];
/** @type {Device[]} */
let devices = [];
/** @type {AuditEvent[]} */
let auditEvents = [];
/** @type {{device: Device, pairing: Pairing} | null} */
let pairingShown = null;
/** @type {Set<Tab>} */
const loadedTabs = new Set();

// ---------------------------------------------------------------------------------------------
// Page-level messages. Kept as functions so a language switch re-renders them.

const statusBox = byId('admin-status');
const errorBox = byId('admin-error');
/** @type {(() => string) | null} */
let statusText = null;
/** @type {(() => string) | null} */
let errorText = null;

/** @param {(() => string) | null} text */
function say(text) {
  statusText = text;
  errorText = null;
  renderMessages();
}

/** @param {unknown} error */
function fail(error) {
  errorText = () => errorMessage(error);
  statusText = null;
  renderMessages();
}

function renderMessages() {
  showStatus(statusBox, statusText ? statusText() : null);
  showError(errorBox, errorText ? errorText() : null);
}

// ---------------------------------------------------------------------------------------------
// Tabs (WAI-ARIA tabs pattern: arrow keys move between tabs, the panel follows the selection).

/** @type {Tab[]} */
const ALL_TABS = ['groups', 'users', 'devices', 'audit'];
/** @type {Tab[]} */
const tabs = isSystemAdmin ? ALL_TABS : ALL_TABS.filter((tab) => tab !== 'groups');
byId('tab-groups').hidden = !isSystemAdmin;

/**
 * @param {Tab} name
 * @param {boolean} [focus]
 */
function selectTab(name, focus = false) {
  for (const tab of ALL_TABS) {
    const button = byId(`tab-${tab}`);
    const selected = tab === name;
    button.setAttribute('aria-selected', String(selected));
    button.tabIndex = selected ? 0 : -1;
    byId(`panel-${tab}`).hidden = !selected;
  }
  if (focus) byId(`tab-${name}`).focus();
  // A message about another tab's work would be confusing here.
  say(null);
  history.replaceState(null, '', `#${name}`);
  if (!loadedTabs.has(name)) {
    loadedTabs.add(name);
    if (name === 'users') void loadUsers();
    if (name === 'devices') void loadDevices();
    if (name === 'audit') void loadAudit(false);
  }
}

for (const tab of tabs) {
  const button = byId(`tab-${tab}`);
  button.addEventListener('click', () => selectTab(tab));
  button.addEventListener('keydown', (event) => {
    const i = tabs.indexOf(tab);
    /** @type {number | null} */
    let next = null;
    if (event.key === 'ArrowRight') next = (i + 1) % tabs.length;
    else if (event.key === 'ArrowLeft') next = (i - 1 + tabs.length) % tabs.length;
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = tabs.length - 1;
    if (next !== null) {
      event.preventDefault();
      selectTab(tabs[next], true);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Groups

async function loadGroups() {
  try {
    const answer = await api('GET', '/api/groups');
    groups = Array.isArray(answer && answer.groups) ? answer.groups : [];
  } catch (error) {
    fail(error);
  }
  renderGroups();
  renderGroupSelects();
  renderGroupLine();
}

function renderGroupLine() {
  const line = byId('admin-group-line');
  if (isSystemAdmin) {
    line.hidden = true;
    return;
  }
  line.textContent = t('admin.your_group', { group: me.group_name || t('common.none') });
  line.hidden = false;
}

function renderGroups() {
  byId('groups-body').replaceChildren(
    ...groups.map((group) =>
      h(
        'tr',
        {},
        h('td', { text: group.name }),
        h('td', { className: 'nowrap', text: formatTime(group.created_at) }),
        h(
          'td',
          {},
          h(
            'label',
            { className: 'inline-check' },
            h('input', {
              type: 'checkbox',
              checked: group.recording_enabled,
              attrs: { 'aria-label': t('groups.recording_label', { name: group.name }) },
              on: {
                change: (/** @type {Event} */ event) =>
                  void setRecording(group, /** @type {HTMLInputElement} */ (event.target)),
              },
            }),
            h('span', { text: t(group.recording_enabled ? 'groups.recording_on' : 'groups.recording_off') }),
          ),
        ),
        h(
          'td',
          {},
          h(
            'label',
            { className: 'inline-check' },
            h('input', {
              type: 'checkbox',
              checked: Boolean(group.mfa_required),
              attrs: { 'aria-label': t('groups.mfa_label', { name: group.name }), 'data-testid': 'group-mfa' },
              on: {
                change: (/** @type {Event} */ event) =>
                  void setMfaRequired(group, /** @type {HTMLInputElement} */ (event.target)),
              },
            }),
            h('span', { text: t(group.mfa_required ? 'groups.mfa_on' : 'groups.mfa_off') }),
          ),
        ),
        h(
          'td',
          {},
          h(
            'div',
            { className: 'row-actions' },
            h('button', {
              type: 'button',
              i18n: 'groups.rename',
              on: { click: () => void renameGroup(group) },
            }),
            h('button', {
              type: 'button',
              i18n: 'sso.settings',
              attrs: { 'data-testid': 'group-sso' },
              on: { click: () => void editSso(group) },
            }),
            h('button', {
              type: 'button',
              className: 'danger',
              i18n: 'common.delete',
              on: { click: () => void deleteGroup(group) },
            }),
          ),
        ),
      ),
    ),
  );
}

/**
 * Requires (or stops requiring) a second factor of the group's members.
 * @param {Group} group @param {HTMLInputElement} box
 */
async function setMfaRequired(group, box) {
  const required = box.checked;
  try {
    await api('PATCH', `/api/groups/${encodeURIComponent(group.id)}`, { mfa_required: required });
    say(() => t(required ? 'groups.mfa_switched_on' : 'groups.mfa_switched_off', { name: group.name }));
  } catch (error) {
    box.checked = !required;
    say(() => errorMessage(error));
  }
  await loadGroups();
}

/**
 * @typedef {object} SsoSettings
 * @property {boolean} configured
 * @property {string} issuer
 * @property {string} client_id
 * @property {boolean} has_client_secret
 * @property {'email' | 'preferred_username' | 'sub'} user_claim
 * @property {boolean} provision
 * @property {boolean} password_login_disabled
 * @property {string} redirect_uri
 */

/**
 * The group's single sign-on: the provider, how users are matched, whether unknown users are
 * created and whether password login stays on. Turning it off removes the settings.
 * @param {Group} group
 */
async function editSso(group) {
  const path = `/api/groups/${encodeURIComponent(group.id)}/sso`;
  /** @type {SsoSettings} */
  let answer;
  try {
    answer = await api('GET', path);
  } catch (error) {
    say(() => errorMessage(error));
    return;
  }
  const current = answer.configured ? answer : null;
  const redirectUri = answer.redirect_uri;
  const yesNoOptions = [
    { value: 'no', label: t('common.no') },
    { value: 'yes', label: t('common.yes') },
  ];
  await formDialog({
    title: t('sso.heading', { name: group.name }),
    message: t('sso.intro', { uri: redirectUri }),
    fields: [
      {
        name: 'enabled',
        label: 'sso.enabled',
        type: 'select',
        value: current ? 'yes' : 'no',
        options: yesNoOptions,
      },
      { name: 'issuer', label: 'sso.issuer', type: 'url', value: current?.issuer || '', maxLength: 500 },
      { name: 'client_id', label: 'sso.client_id', value: current?.client_id || '', maxLength: 200 },
      {
        name: 'client_secret',
        label: current?.has_client_secret ? 'sso.client_secret_keep' : 'sso.client_secret',
        type: 'password',
        autocomplete: 'new-password',
        maxLength: 512,
      },
      {
        name: 'user_claim',
        label: 'sso.user_claim',
        type: 'select',
        value: current?.user_claim || 'email',
        options: [
          { value: 'email', label: t('sso.claim_email') },
          { value: 'preferred_username', label: t('sso.claim_preferred_username') },
          { value: 'sub', label: t('sso.claim_sub') },
        ],
      },
      {
        name: 'provision',
        label: 'sso.provision',
        type: 'select',
        value: current?.provision ? 'yes' : 'no',
        options: yesNoOptions,
      },
      {
        name: 'password_login_disabled',
        label: 'sso.password_login_disabled',
        type: 'select',
        value: current?.password_login_disabled ? 'yes' : 'no',
        options: yesNoOptions,
      },
    ],
    submitLabel: t('common.save'),
    onSubmit: async (values) => {
      if (values.enabled !== 'yes') {
        if (current) await api('DELETE', path);
        say(() => t('sso.removed', { name: group.name }));
        return;
      }
      /** @type {Record<string, unknown>} */
      const body = {
        issuer: values.issuer.trim(),
        client_id: values.client_id.trim(),
        user_claim: values.user_claim,
        provision: values.provision === 'yes',
        password_login_disabled: values.password_login_disabled === 'yes',
      };
      if (values.client_secret) body.client_secret = values.client_secret;
      await api('PUT', path, body);
      say(() => t('sso.saved', { name: group.name }));
    },
  });
}

/**
 * Switches recording of the group's sessions; the checkbox goes back if the server refuses.
 * @param {Group} group @param {HTMLInputElement} box
 */
async function setRecording(group, box) {
  const enabled = box.checked;
  try {
    await api('PATCH', `/api/groups/${encodeURIComponent(group.id)}`, { recording_enabled: enabled });
    say(() => t(enabled ? 'groups.recording_switched_on' : 'groups.recording_switched_off', { name: group.name }));
  } catch (error) {
    box.checked = !enabled;
    say(() => errorMessage(error));
  }
  await loadGroups();
}

/** @param {Group} group */
async function renameGroup(group) {
  await formDialog({
    title: t('groups.rename_heading'),
    fields: [{ name: 'name', label: 'groups.name', value: group.name, required: true, maxLength: 100 }],
    submitLabel: t('common.save'),
    onSubmit: async (values) => {
      await api('PATCH', `/api/groups/${encodeURIComponent(group.id)}`, { name: values.name.trim() });
      say(() => t('common.saved'));
      await loadGroups();
    },
  });
}

/** @param {Group} group */
async function deleteGroup(group) {
  await confirmDialog(t('groups.delete_confirm', { name: group.name }), t('common.delete'), async () => {
    await api('DELETE', `/api/groups/${encodeURIComponent(group.id)}`);
    say(() => t('groups.deleted', { name: group.name }));
    await loadGroups();
  });
}

const groupForm = /** @type {HTMLFormElement} */ (byId('group-create-form'));
groupForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ (byId('group-name'));
  const errorOut = byId('group-create-error');
  const name = input.value.trim();
  showError(errorOut, null);
  try {
    await api('POST', '/api/groups', { name });
    groupForm.reset();
    say(() => t('groups.created', { name }));
    await loadGroups();
  } catch (error) {
    showError(errorOut, errorMessage(error));
  }
});

/**
 * Options of a group select, keeping the current choice.
 * @param {HTMLSelectElement} select
 * @param {{value: string, key: string} | null} first an extra first option ("any")
 */
function fillGroupSelect(select, first) {
  const previous = select.value;
  select.replaceChildren();
  if (first) select.append(h('option', { value: first.value, i18n: first.key }));
  for (const group of groups) select.append(h('option', { value: group.id, text: group.name }));
  if (Array.from(select.options).some((o) => o.value === previous)) select.value = previous;
}

function renderGroupSelects() {
  // Every user belongs to a group (the server has a default one), so there is no "none" choice.
  fillGroupSelect(/** @type {HTMLSelectElement} */ (byId('user-group')), null);
  fillGroupSelect(/** @type {HTMLSelectElement} */ (byId('device-group')), null);
  fillGroupSelect(/** @type {HTMLSelectElement} */ (byId('audit-group')), { value: '', key: 'audit.group_any' });
}

// Group administrators do not choose a group: theirs is used.
byId('user-group-field').hidden = !isSystemAdmin;
byId('device-group-field').hidden = !isSystemAdmin;
byId('audit-group-field').hidden = !isSystemAdmin;

// ---------------------------------------------------------------------------------------------
// Users

/** Roles this administrator may hand out. */
const grantableRoles = isSystemAdmin
  ? ['supporter', 'group_admin', 'system_admin']
  : ['supporter', 'group_admin'];

/** @param {HTMLSelectElement} select */
function fillRoleSelect(select) {
  select.replaceChildren(
    ...grantableRoles.map((role) => h('option', { value: role, i18n: `role.${role}` })),
  );
}
fillRoleSelect(/** @type {HTMLSelectElement} */ (byId('user-role')));

async function loadUsers() {
  try {
    const answer = await api('GET', '/api/users');
    users = Array.isArray(answer && answer.users) ? answer.users : [];
  } catch (error) {
    fail(error);
  }
  renderUsers();
}

function renderUsers() {
  byId('users-body').replaceChildren(
    ...users.map((user) => {
      const actions = h('div', { className: 'row-actions' });
      actions.append(
        h('button', { type: 'button', i18n: 'users.edit', on: { click: () => void editUser(user) } }),
        h('button', {
          type: 'button',
          i18n: 'users.reset_password',
          on: { click: () => void resetPassword(user) },
        }),
      );
      if (user.mfa_enabled) {
        actions.append(
          h('button', { type: 'button', i18n: 'users.reset_mfa', on: { click: () => void resetMfa(user) } }),
        );
      }
      if (user.locked) {
        actions.append(
          h('button', { type: 'button', i18n: 'users.unlock', on: { click: () => void unlockUser(user) } }),
        );
      }
      if (user.id !== me.id) {
        actions.append(
          h('button', {
            type: 'button',
            className: 'danger',
            i18n: 'common.delete',
            on: { click: () => void deleteUser(user) },
          }),
        );
      }
      return h(
        'tr',
        {},
        h('td', { className: 'mono', text: user.login_id }),
        h('td', { text: user.display_name }),
        h('td', { text: roleName(user.role) }),
        h('td', { text: user.group_name || t('common.none') }),
        h('td', { className: user.locked ? 'flag-on' : '', text: yesNo(user.locked) }),
        h('td', { text: yesNo(user.must_change_password) }),
        h('td', { text: yesNo(Boolean(user.mfa_enabled)) }),
        h('td', {}, actions),
      );
    }),
  );
}

const userForm = /** @type {HTMLFormElement} */ (byId('user-create-form'));
userForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const errorOut = byId('user-create-error');
  showError(errorOut, null);
  const value = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ (byId(id)).value;
  const displayName = value('user-display-name').trim();
  const body = {
    login_id: value('user-login-id').trim(),
    display_name: displayName,
    role: value('user-role'),
    group_id: isSystemAdmin ? value('user-group') : me.group_id,
    password: value('user-password'),
  };
  try {
    await api('POST', '/api/users', body);
    userForm.reset();
    say(() => t('users.created', { name: displayName }));
    await loadUsers();
  } catch (error) {
    showError(errorOut, errorMessage(error), error instanceof ApiError ? detailMessages(error) : []);
  }
});

/** @param {User} user */
async function editUser(user) {
  /** @type {import('./dom.js').Field[]} */
  const fields = [
    { name: 'display_name', label: 'users.display_name', value: user.display_name, required: true, maxLength: 200 },
    {
      name: 'role',
      label: 'users.role',
      type: 'select',
      value: user.role,
      options: grantableRoles.map((role) => ({ value: role, label: roleName(role) })),
    },
  ];
  if (isSystemAdmin) {
    fields.push({
      name: 'group_id',
      label: 'users.group',
      type: 'select',
      value: user.group_id || '',
      options: groups.map((group) => ({ value: group.id, label: group.name })),
    });
  }
  await formDialog({
    title: t('users.edit_heading'),
    fields,
    submitLabel: t('common.save'),
    onSubmit: async (values) => {
      /** @type {Record<string, string | null>} */
      const patch = {};
      if (values.display_name.trim() !== user.display_name) patch.display_name = values.display_name.trim();
      if (values.role !== user.role) patch.role = values.role;
      if (isSystemAdmin && values.group_id && values.group_id !== user.group_id) {
        patch.group_id = values.group_id;
      }
      if (Object.keys(patch).length) {
        await api('PATCH', `/api/users/${encodeURIComponent(user.id)}`, patch);
      }
      say(() => t('common.saved'));
      await loadUsers();
    },
  });
}

/** @param {User} user */
async function resetPassword(user) {
  await formDialog({
    title: t('users.reset_heading', { name: user.display_name }),
    fields: [
      {
        name: 'new_password',
        label: 'users.reset_new_password',
        type: 'password',
        required: true,
        minLength: 8,
        maxLength: 128,
        autocomplete: 'new-password',
      },
    ],
    submitLabel: t('users.reset_submit'),
    onSubmit: async (values) => {
      await api('POST', `/api/users/${encodeURIComponent(user.id)}/reset-password`, {
        new_password: values.new_password,
      });
      say(() => t('users.reset_done'));
      await loadUsers();
    },
  });
}

/** @param {User} user */
async function resetMfa(user) {
  await confirmDialog(
    t('users.reset_mfa_confirm', { name: user.display_name }),
    t('users.reset_mfa'),
    async () => {
      await api('POST', `/api/users/${encodeURIComponent(user.id)}/reset-mfa`);
      say(() => t('users.mfa_reset_done', { name: user.display_name }));
      await loadUsers();
    },
  );
}

/** @param {User} user */
async function unlockUser(user) {
  try {
    await api('POST', `/api/users/${encodeURIComponent(user.id)}/unlock`);
    say(() => t('users.unlocked'));
    await loadUsers();
  } catch (error) {
    fail(error);
  }
}

/** @param {User} user */
async function deleteUser(user) {
  await confirmDialog(
    t('users.delete_confirm', { name: user.display_name }),
    t('common.delete'),
    async () => {
      await api('DELETE', `/api/users/${encodeURIComponent(user.id)}`);
      say(() => t('users.deleted', { name: user.display_name }));
      await loadUsers();
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Devices

async function loadDevices() {
  try {
    const answer = await api('GET', '/api/devices');
    devices = Array.isArray(answer && answer.devices) ? answer.devices : [];
  } catch (error) {
    fail(error);
  }
  renderDevices();
}

/** @param {Device} device */
function deviceStatus(device) {
  if (device.revoked_at) return t('devices.status.revoked');
  return t(device.paired ? 'devices.status.paired' : 'devices.status.unpaired');
}

function renderDevices() {
  byId('devices-body').replaceChildren(
    ...devices.map((device) => {
      const actions = h(
        'div',
        { className: 'row-actions' },
        h('button', { type: 'button', i18n: 'devices.rename', on: { click: () => void renameDevice(device) } }),
        h('button', {
          type: 'button',
          i18n: 'devices.new_pairing',
          on: { click: () => void newPairing(device) },
        }),
      );
      if (!device.revoked_at) {
        actions.append(
          h('button', {
            type: 'button',
            className: 'danger',
            i18n: 'devices.revoke',
            on: { click: () => void revokeDevice(device) },
          }),
        );
      }
      actions.append(
        h('button', {
          type: 'button',
          className: 'danger',
          i18n: 'common.delete',
          on: { click: () => void deleteDevice(device) },
        }),
      );
      return h(
        'tr',
        {},
        h('td', { text: device.name }),
        h('td', { text: device.group_name || '' }),
        h('td', { className: device.revoked_at ? 'flag-on' : '', text: deviceStatus(device) }),
        h('td', { className: 'nowrap', text: formatTime(device.last_seen_at) || t('common.none') }),
        h('td', { className: 'nowrap', text: formatTime(device.created_at) }),
        h('td', {}, actions),
      );
    }),
  );
}

/**
 * Show a pairing: QR code image, code, URL, expiry.
 * @param {Device} device
 * @param {Pairing} pairing
 */
function showPairing(device, pairing) {
  pairingShown = { device, pairing };
  renderPairing();
  byId('pairing-panel').scrollIntoView({ block: 'nearest' });
}

function renderPairing() {
  const panel = byId('pairing-panel');
  if (!pairingShown) {
    panel.replaceChildren();
    panel.hidden = true;
    return;
  }
  const { device, pairing } = pairingShown;
  const qr = h('img', {
    className: 'qr',
    alt: t('pairing.qr_alt'),
    src: `data:image/svg+xml;base64,${base64Utf8(pairing.qr_svg || '')}`,
    width: 240,
    height: 240,
  });
  // Only a web address becomes a link; anything else stays text.
  const url = /^https?:\/\//i.test(pairing.url || '')
    ? h('a', { href: pairing.url, text: pairing.url, attrs: { 'data-testid': 'pairing-url' } })
    : h('span', { text: pairing.url || '', attrs: { 'data-testid': 'pairing-url' } });
  panel.replaceChildren(
    h('h3', { id: 'pairing-heading', text: t('pairing.heading', { name: device.name }) }),
    h('p', { text: t('pairing.instructions') }),
    h(
      'div',
      { className: 'pairing-body' },
      qr,
      h(
        'dl',
        { className: 'pairing-facts' },
        h('dt', { text: t('pairing.code') }),
        h('dd', { className: 'pairing-code', text: pairing.code, attrs: { 'data-testid': 'pairing-code' } }),
        h('dt', { text: t('pairing.url') }),
        h('dd', { className: 'wrap-anywhere' }, url),
        h('dt', { text: t('pairing.expires') }),
        h('dd', { text: formatTime(pairing.expires_at), attrs: { 'data-testid': 'pairing-expires' } }),
      ),
    ),
    h(
      'div',
      { className: 'buttons' },
      h('button', {
        type: 'button',
        i18n: 'common.close',
        on: {
          click: () => {
            pairingShown = null;
            renderPairing();
          },
        },
      }),
    ),
  );
  panel.hidden = false;
}

const deviceForm = /** @type {HTMLFormElement} */ (byId('device-create-form'));
deviceForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const errorOut = byId('device-create-error');
  showError(errorOut, null);
  const name = /** @type {HTMLInputElement} */ (byId('device-name')).value.trim();
  const groupId = isSystemAdmin
    ? /** @type {HTMLSelectElement} */ (byId('device-group')).value
    : me.group_id;
  try {
    const answer = await api('POST', '/api/devices', { group_id: groupId, name });
    deviceForm.reset();
    showPairing(answer.device, answer.pairing);
    await loadDevices();
  } catch (error) {
    showError(errorOut, errorMessage(error));
  }
});

/** @param {Device} device */
async function renameDevice(device) {
  await formDialog({
    title: t('devices.rename_heading'),
    fields: [{ name: 'name', label: 'devices.name', value: device.name, required: true, maxLength: 100 }],
    submitLabel: t('common.save'),
    onSubmit: async (values) => {
      await api('PATCH', `/api/devices/${encodeURIComponent(device.id)}`, { name: values.name.trim() });
      say(() => t('common.saved'));
      await loadDevices();
    },
  });
}

/** @param {Device} device */
async function newPairing(device) {
  try {
    const answer = await api('POST', `/api/devices/${encodeURIComponent(device.id)}/pairing`);
    showPairing(answer.device || device, answer.pairing);
    await loadDevices();
  } catch (error) {
    fail(error);
  }
}

/** @param {Device} device */
async function revokeDevice(device) {
  await confirmDialog(
    t('devices.revoke_confirm', { name: device.name }),
    t('devices.revoke'),
    async () => {
      await api('POST', `/api/devices/${encodeURIComponent(device.id)}/revoke`);
      if (pairingShown && pairingShown.device.id === device.id) pairingShown = null;
      renderPairing();
      say(() => t('devices.revoked', { name: device.name }));
      await loadDevices();
    },
  );
}

/** @param {Device} device */
async function deleteDevice(device) {
  await confirmDialog(
    t('devices.delete_confirm', { name: device.name }),
    t('common.delete'),
    async () => {
      await api('DELETE', `/api/devices/${encodeURIComponent(device.id)}`);
      if (pairingShown && pairingShown.device.id === device.id) pairingShown = null;
      renderPairing();
      say(() => t('devices.deleted', { name: device.name }));
      await loadDevices();
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Audit log

const auditForm = /** @type {HTMLFormElement} */ (byId('audit-filter-form'));
const auditMore = /** @type {HTMLButtonElement} */ (byId('audit-more'));
const auditExport = /** @type {HTMLAnchorElement} */ (byId('audit-export'));

/** The filter form as query parameters (dates are whole days in the configured time zone). */
function auditFilters() {
  const params = new URLSearchParams();
  const value = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ (byId(id)).value.trim();
  for (const [name, id] of [
    ['action', 'audit-action'],
    ['actor', 'audit-actor'],
    ['outcome', 'audit-outcome'],
  ]) {
    if (value(id)) params.set(name, value(id));
  }
  if (isSystemAdmin && value('audit-group')) params.set('group_id', value('audit-group'));
  const from = zonedDayStart(value('audit-from'));
  if (from) params.set('from', from.toISOString());
  // "To" includes the whole day: up to the last millisecond before the next midnight.
  const nextDay = zonedDayStart(value('audit-to'), 1);
  if (nextDay) params.set('to', new Date(nextDay.getTime() - 1).toISOString());
  return params;
}

function updateExportLink() {
  const query = auditFilters().toString();
  auditExport.href = `/api/audit.csv${query ? `?${query}` : ''}`;
}

/** @param {boolean} append fetch the page after the last shown event */
async function loadAudit(append) {
  const errorOut = byId('audit-error');
  showError(errorOut, null);
  const params = auditFilters();
  params.set('limit', String(AUDIT_PAGE));
  if (append && auditEvents.length) {
    params.set('before', String(auditEvents[auditEvents.length - 1].id));
  }
  updateExportLink();
  auditMore.disabled = true;
  try {
    const answer = await api('GET', `/api/audit?${params}`);
    const page = Array.isArray(answer && answer.events) ? answer.events : [];
    auditEvents = append ? auditEvents.concat(page) : page;
    auditMore.hidden = page.length < AUDIT_PAGE;
  } catch (error) {
    showError(errorOut, errorMessage(error));
  }
  auditMore.disabled = false;
  renderAudit();
}

function renderAudit() {
  byId('audit-body').replaceChildren(
    ...auditEvents.map((event) =>
      h(
        'tr',
        {},
        h('td', { className: 'nowrap', text: formatTime(event.at) }),
        h('td', { text: event.actor_label || event.actor_kind, title: event.actor_kind }),
        actionCell(event.action),
        h('td', { text: event.target || '' }),
        outcomeCell(event.outcome),
        h('td', { className: 'mono', text: event.client_ip || '' }),
        h('td', { className: 'wrap-anywhere', text: event.detail || '' }),
      ),
    ),
  );
  byId('audit-empty').hidden = auditEvents.length > 0;
}

/** Suggestions for the action filter: the codes, labelled in the UI language. */
function renderActionSuggestions() {
  byId('audit-actions').replaceChildren(
    ...KNOWN_ACTIONS.map((action) => h('option', { value: action, label: actionName(action) })),
  );
}
renderActionSuggestions();

auditForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void loadAudit(false);
});
auditForm.addEventListener('input', updateExportLink);
auditForm.addEventListener('change', updateExportLink);
auditMore.addEventListener('click', () => void loadAudit(true));

// ---------------------------------------------------------------------------------------------
// Start

onLangChange(() => {
  renderMessages();
  renderGroupLine();
  renderGroups();
  renderUsers();
  renderDevices();
  renderPairing();
  renderAudit();
  renderActionSuggestions();
});

await loadGroups();
const wanted = /** @type {Tab} */ (location.hash.slice(1));
selectTab(tabs.includes(wanted) ? wanted : tabs[0]);
