// The ja/en catalogue (web/js/i18n.js) is complete: both languages have the same keys, and every
// key the pages and scripts name literally exists. No server or browser needed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './lib/server.mjs';

const web = path.join(repoRoot, 'web');
const { catalogues, missingKeys } = await import(path.join(web, 'js', 'i18n.js'));

test('Japanese and English have the same keys and no empty text', () => {
  assert.deepEqual(missingKeys(), []);
  for (const [lang, dict] of Object.entries(catalogues)) {
    for (const [key, text] of Object.entries(dict)) assert.ok(text.trim(), `${lang}:${key} is empty`);
  }
});

test('every key named in web/*.html and web/js/*.js exists', () => {
  const used = new Map();
  const note = (key, file) => used.set(key, file);
  for (const name of readdirSync(web).filter((f) => f.endsWith('.html'))) {
    const html = readFileSync(path.join(web, name), 'utf8');
    for (const m of html.matchAll(/data-i18n(?:-[a-z-]+)?="([^"]+)"/g)) note(m[1], name);
  }
  const jsDir = path.join(web, 'js');
  for (const name of readdirSync(jsDir).filter((f) => f.endsWith('.js'))) {
    const js = readFileSync(path.join(jsDir, name), 'utf8');
    // t('key'), i18n: 'key', i18nAriaLabel: 'key', label: 'key', ['/x', 'key'] pairs.
    for (const m of js.matchAll(/\bt\('([a-z_]+\.[a-z_.]+)'/g)) note(m[1], name);
    for (const m of js.matchAll(/\b(?:i18n|i18nAriaLabel|label|key):\s*'([a-z_]+\.[a-z_.]+)'/g)) note(m[1], name);
    for (const m of js.matchAll(/\['\/[a-z]*',\s*'([a-z_]+\.[a-z_.]+)'\]/g)) note(m[1], name);
  }
  assert.ok(used.size > 50, `found ${used.size} keys in use`);
  const missing = [...used].filter(([key]) => !(key in catalogues.en) || !(key in catalogues.ja));
  assert.deepEqual(missing, [], 'keys used but not in the catalogue');
});

test('every error code of docs/rest-api.md has a text', () => {
  const doc = readFileSync(path.join(repoRoot, 'docs', 'rest-api.md'), 'utf8');
  const codes = new Set();
  for (const m of doc.matchAll(/\b[1-5]\d\d ([a-z]+(?:_[a-z]+)+)\b/g)) codes.add(m[1]);
  for (const m of doc.matchAll(/`(password_[a-z_]+)`/g)) codes.add(m[1]);
  assert.ok(codes.has('login_failed') && codes.has('pairing_code_invalid'), [...codes].join(','));
  const missing = [...codes].filter((code) => !(`error.${code}` in catalogues.en));
  assert.deepEqual(missing, []);
});

test('every audit action offered in the filter has a name in both languages', async () => {
  const { KNOWN_ACTIONS } = await import(path.join(web, 'js', 'format.js'));
  const missing = KNOWN_ACTIONS.filter(
    (action) => !(`action.${action}` in catalogues.en) || !(`action.${action}` in catalogues.ja),
  );
  assert.deepEqual(missing, []);
});
