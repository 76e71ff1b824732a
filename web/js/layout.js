//! Page start-up shared by all pages: texts, time zone, the header with navigation, the user's
//! name, the log-out button and the language switcher.

import { fetchMe, logout } from './api.js';
import { applyI18n, createLangSwitcher, onLangChange, t } from './i18n.js';
import { loadTimeZone } from './time.js';
import { byId, h } from './dom.js';

/** @typedef {import('./api.js').Session} Session */

/**
 * The header of pages without a login (login, pair, field): the product name and the language
 * switcher.
 */
export async function initPublicPage() {
  applyI18n(document);
  const header = byId('app-header');
  header.replaceChildren(
    h('span', { className: 'brand', i18n: 'app.name' }),
    h('div', { className: 'header-tools' }, createLangSwitcher()),
  );
  await loadTimeZone();
}

/**
 * Start a logged-in page: load the session (a missing one redirects to /login), send users who must
 * change their password to /password, and build the header.
 * @param {object} [options]
 * @param {boolean} [options.passwordPage] this is /password (allowed while a change is required)
 * @param {string} [options.current] path of this page, marked in the navigation
 * @returns {Promise<Session>}
 */
export async function initPage(options = {}) {
  applyI18n(document);
  const [session] = await Promise.all([fetchMe(), loadTimeZone()]);
  if (session.must_change_password && !options.passwordPage) {
    location.assign('/password');
    // Never resolves: the page is being left.
    return new Promise(() => {});
  }
  buildHeader(session, options.current || location.pathname);
  return session;
}

/**
 * @param {Session} session
 * @param {string} current
 */
function buildHeader(session, current) {
  const header = byId('app-header');
  const user = session.user;
  const isAdmin = user.role === 'system_admin' || user.role === 'group_admin';
  // While a password change is required every other page would bounce back, so offer none.
  const restricted = session.must_change_password;

  /** @type {Array<[string, string]>} */
  const links = restricted
    ? []
    : [
        ['/', 'nav.home'],
        ...(isAdmin ? /** @type {Array<[string, string]>} */ ([['/admin', 'nav.admin']]) : []),
        ['/recordings', 'nav.recordings'],
        ['/history', 'nav.history'],
        ['/password', 'nav.password'],
      ];
  const nav = h('nav', { className: 'main-nav', i18nAriaLabel: 'nav.main' });
  const list = h('ul');
  for (const [href, key] of links) {
    const a = h('a', { href, i18n: key });
    if (href === current) a.setAttribute('aria-current', 'page');
    list.append(h('li', {}, a));
  }
  nav.append(list);

  const name = h('span', { className: 'user-name' });
  const renderName = () => {
    name.textContent = user.display_name;
    name.title = t('nav.signed_in_as', { name: user.display_name });
  };
  renderName();
  onLangChange(renderName);

  const logoutButton = h('button', {
    type: 'button',
    className: 'link-button',
    i18n: 'nav.logout',
    on: { click: () => void logout() },
  });

  header.replaceChildren(
    h('a', { className: 'brand', href: '/', i18n: 'app.name' }),
    nav,
    h('div', { className: 'header-tools' }, name, logoutButton, createLangSwitcher()),
  );
}
