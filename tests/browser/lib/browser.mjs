// Launch Debian's Chromium through playwright-core (no bundled browser downloads are possible).
//
// Each launch is its own browser process with its own fresh profile directory, which is what the
// camera tests need later: one process per fake camera file (`--use-file-for-fake-video-capture`).

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { artifactsDir } from './server.mjs';

export const CHROMIUM = process.env.RA_E2E_CHROMIUM || '/usr/bin/chromium';

/** Flags that keep Chromium quiet and working on a closed network with a self-signed server. */
export const BASE_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--ignore-certificate-errors',
];

/**
 * Flags for a fake camera (next milestone): `fakeCameraArgs('cam1.y4m')`.
 * @param {string} [y4mFile] looped as the camera picture; without it Chromium's test pattern
 */
export function fakeCameraArgs(y4mFile) {
  const args = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];
  if (y4mFile) args.push(`--use-file-for-fake-video-capture=${y4mFile}`);
  return args;
}

/** A phone in portrait (CSS pixels). */
export const PHONE_PORTRAIT = { width: 390, height: 844 };
/** The same phone held sideways. */
export const PHONE_LANDSCAPE = { width: 844, height: 390 };

/**
 * @typedef {object} LaunchedBrowser
 * @property {import('playwright-core').BrowserContext} context
 * @property {import('playwright-core').Page} page   the first page
 * @property {string[]} dialogs   messages of JavaScript dialogs (alert/confirm/prompt) seen, which
 *   are dismissed; a test that expects none asserts this stays empty
 * @property {string[]} errors    uncaught page errors and console errors (CSP violations show here),
 *                                 each console error followed by the URL it came from
 * @property {() => Promise<void>} close   idempotent; removes the profile directory
 */

/**
 * @param {object} [options]
 * @param {string} [options.locale]      e.g. 'ja-JP' (sets navigator.language) — default 'ja-JP'
 * @param {{width: number, height: number}} [options.viewport]
 * @param {boolean} [options.mobile]     phone emulation (touch, mobile viewport meta)
 * @param {string[]} [options.extraArgs] more Chromium flags (e.g. fakeCameraArgs())
 * @param {string} [options.timezoneId]
 * @param {boolean} [options.javaScript] false to test the no-JavaScript paths (default true)
 * @returns {Promise<LaunchedBrowser>}
 */
export async function launchBrowser(options = {}) {
  const profileDir = mkdtempSync(path.join(tmpdir(), 'ra-e2e-chromium-'));
  mkdirSync(artifactsDir, { recursive: true });
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    ignoreHTTPSErrors: true,
    args: [...BASE_ARGS, ...(options.extraArgs || [])],
    locale: options.locale || 'ja-JP',
    timezoneId: options.timezoneId,
    viewport: options.viewport || { width: 1280, height: 900 },
    isMobile: !!options.mobile,
    hasTouch: !!options.mobile,
    deviceScaleFactor: options.mobile ? 2 : 1,
    javaScriptEnabled: options.javaScript ?? true,
    timeout: 30_000,
  });
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(15_000);

  /** @type {string[]} */
  const dialogs = [];
  /** @type {string[]} */
  const errors = [];
  /** @param {import('playwright-core').Page} page */
  const watch = (page) => {
    page.on('dialog', (dialog) => {
      dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      dialog.dismiss().catch(() => {});
    });
    page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      // The URL says whose page or resource logged it (a failed load names the resource).
      const where = message.location()?.url;
      errors.push(`console: ${message.text()}${where ? ` (${where})` : ''}`);
    });
  };
  context.pages().forEach(watch);
  context.on('page', watch);

  const page = context.pages()[0] || (await context.newPage());

  let closed = false;
  async function close() {
    if (closed) return;
    closed = true;
    await context.close().catch(() => {});
    rmSync(profileDir, { recursive: true, force: true });
  }

  return { context, page, dialogs, errors, close };
}

/**
 * Save a screenshot into tests/browser/artifacts/NAME.png.
 * @param {import('playwright-core').Page} page
 * @param {string} name
 */
export async function screenshot(page, name) {
  const file = path.join(artifactsDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, timeout: 10_000 });
  return file;
}
