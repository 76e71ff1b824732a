//! Supporter home: greeting, the user's group, and a note that the live console is the next
//! milestone.

import { onLangChange, t } from './i18n.js';
import { byId, h } from './dom.js';
import { initPage } from './layout.js';

const session = await initPage({ current: '/' });
const user = session.user;
const isAdmin = user.role === 'system_admin' || user.role === 'group_admin';

function render() {
  byId('home-greeting').textContent = t('home.greeting', { name: user.display_name });
  byId('home-group').textContent = user.group_name
    ? t('home.group', { group: user.group_name })
    : t('home.no_group');
  byId('home-role').textContent = t('home.role', { role: t(`role.${user.role}`) });
  /** @type {Array<[string, string]>} */
  const links = [
    ...(isAdmin ? /** @type {Array<[string, string]>} */ ([['/admin', 'home.admin_link']]) : []),
    ['/history', 'home.history_link'],
    ['/password', 'home.password_link'],
  ];
  byId('home-links').replaceChildren(
    ...links.map(([href, key]) => h('li', {}, h('a', { href, i18n: key }))),
  );
}

render();
onLangChange(render);
