// Single sign-on in the browser against a real OpenID provider (oidc-provider from tests/oidc,
// run by node on 127.0.0.1): a system administrator sets the group's provider in the admin page;
// a member types the group name on the login page, logs in at the provider and lands on the
// console, provisioned as a supporter; with password login turned off for the group, a password
// login of a member is told to use SSO.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { once } from 'node:events';
import { repoRoot, startServer } from './lib/server.mjs';
import { launchBrowser, screenshot } from './lib/browser.mjs';
import { ApiClient } from './lib/api.mjs';
import { expectPath, expectText, expectVisible } from './lib/wait.mjs';

const ADMIN_NEW_PASSWORD = 'sso-admin-pass-2026';
const GROUP = 'SSO team';
const CLIENT = { id: 'remote-assist-e2e', secret: 'e2e-client-secret-0123456789' };
const MEMBER = { login: 'field-lead', password: 'member-pass-5678' };

/** @type {import('./lib/server.mjs').RunningServer} */
let server;
/** @type {ApiClient} */
let admin;
/** @type {import('node:child_process').ChildProcess | null} */
let idp = null;
let issuer = '';

/** Starts the provider with our callback registered; resolves with its issuer URL. */
async function startProvider() {
  const child = spawn('node', [path.join(repoRoot, 'tests/oidc/idp.mjs')], {
    env: {
      ...process.env,
      IDP_PORT: '0',
      IDP_SKIP_CONSENT: '1',
      IDP_LOG_ERRORS: '0',
      IDP_CLIENTS: JSON.stringify([
        {
          client_id: CLIENT.id,
          client_secret: CLIENT.secret,
          redirect_uris: [`${server.url}/api/auth/sso/callback`],
        },
      ]),
    },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  idp = child;
  let output = '';
  child.stdout.setEncoding('utf8');
  const ready = new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const line = output.split('\n').find((l) => l.startsWith('READY '));
      if (line) resolve(line.slice('READY '.length).trim());
    });
    child.on('exit', (code) => reject(new Error(`the provider exited (${code}) before it was ready`)));
  });
  return /** @type {Promise<string>} */ (ready);
}

before(async () => {
  server = await startServer({ name: 'sso_login' });
  admin = new ApiClient(server.url);
  await admin.login(server.adminLogin || 'admin', server.adminPassword);
  await admin.changePassword(server.adminPassword, ADMIN_NEW_PASSWORD);
  const group = await admin.call('POST', '/api/groups', { name: GROUP });
  // A member with a password, to show that password login can be turned off.
  await admin.call('POST', '/api/users', {
    login_id: MEMBER.login,
    display_name: 'Field lead',
    role: 'supporter',
    group_id: group.id,
    password: MEMBER.password,
  });
  issuer = await startProvider();
}, { timeout: 60_000 });

after(async () => {
  if (idp && idp.exitCode === null) {
    idp.kill('SIGTERM');
    await once(idp, 'exit');
  }
  await server?.stop();
});

test('a system administrator sets the group provider in the admin page', { timeout: 60_000 }, async () => {
  const en = await launchBrowser({ locale: 'en-US' });
  try {
    const page = en.page;
    await page.goto(`${server.url}/login`);
    await page.getByLabel('Login ID').fill(server.adminLogin || 'admin');
    await page.getByLabel('Password', { exact: true }).fill(ADMIN_NEW_PASSWORD);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await expectPath(page, '/admin');
    await page.getByRole('tab', { name: 'Groups' }).click();
    const row = page.getByRole('tabpanel', { name: 'Groups' }).getByRole('row').filter({ hasText: GROUP });
    await row.getByTestId('group-sso').click();
    const dialog = page.getByRole('dialog');
    await expectText(dialog, `${server.url}/api/auth/sso/callback`);
    await dialog.getByLabel('Use SSO').selectOption('yes');
    await dialog.getByLabel('Issuer URL').fill(issuer);
    await dialog.getByLabel('Client ID').fill(CLIENT.id);
    await dialog.getByLabel('Client secret').fill(CLIENT.secret);
    await dialog.getByLabel('Claim matched against login IDs').selectOption('preferred_username');
    await dialog.getByLabel('Create unknown users as supporters').selectOption('yes');
    await dialog.getByLabel('Turn password login off').selectOption('yes');
    await screenshot(page, 'sso-settings-en');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expectText(page.getByRole('status').first(), `SSO settings of ${GROUP} saved.`);
    assert.equal(en.errors.length, 0, en.errors.join('\n'));
  } finally {
    await en.close();
  }
  const groups = await admin.call('GET', '/api/groups');
  const group = groups.groups.find((/** @type {any} */ g) => g.name === GROUP);
  const settings = await admin.call('GET', `/api/groups/${group.id}/sso`);
  assert.equal(settings.issuer, issuer);
  assert.equal(settings.has_client_secret, true);
  assert.equal(settings.password_login_disabled, true);
});

test('a member signs in through the provider and lands on the console', { timeout: 60_000 }, async () => {
  const ja = await launchBrowser({ locale: 'ja-JP' });
  try {
    const page = ja.page;
    await page.goto(`${server.url}/login`);
    await page.getByLabel('グループ名').fill(GROUP);
    await page.getByRole('button', { name: 'SSOでログイン' }).click();
    // The provider's own login page.
    await page.waitForURL((url) => url.href.startsWith(issuer), { timeout: 15_000 });
    await page.locator('input[name="login"]').fill('newcomer');
    await page.locator('input[name="password"]').fill('any-password');
    // The provider's development pages log their own console errors (a missing favicon, a font
    // from the internet); only what our pages log from here on counts. The favicon's 404 can
    // still arrive after the form was sent, so errors from the provider's origin are left out.
    const providerErrors = ja.errors.length;
    await page.locator('button[type="submit"]').click();
    await expectPath(page, '/');
    await expectText(page.locator('#app-header'), 'Test User newcomer');
    await screenshot(page, 'sso-console-ja');
    const provider = new URL(issuer).origin;
    const ours = ja.errors.slice(providerErrors).filter((e) => !e.includes(`(${provider}/`));
    assert.deepEqual(ours, []);
    // The group name is remembered for the next time.
    await page.context().clearCookies();
    await page.goto(`${server.url}/login`);
    assert.equal(await page.getByLabel('グループ名').inputValue(), GROUP);
  } finally {
    await ja.close();
  }
  const users = await admin.call('GET', '/api/users');
  const created = users.users.find((/** @type {any} */ u) => u.login_id === 'newcomer');
  assert.equal(created?.role, 'supporter', 'provisioned as a supporter');
  assert.equal(created?.group_name, GROUP);
});

test('with password login off, a member is told to use SSO', { timeout: 60_000 }, async () => {
  const en = await launchBrowser({ locale: 'en-US' });
  try {
    const page = en.page;
    await page.goto(`${server.url}/login`);
    await page.getByLabel('Login ID').fill(MEMBER.login);
    await page.getByLabel('Password', { exact: true }).fill(MEMBER.password);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await expectText(page.locator('#login-error'), 'single sign-on');
    await expectVisible(page.getByRole('button', { name: 'Sign in with SSO' }));
    await expectPath(page, '/login');
  } finally {
    await en.close();
  }
});
