// Bounded waits for playwright-core (which has no `expect`). Every wait here ends with a clear
// failure after its timeout; none sleeps a fixed time to "let things settle".

export const DEFAULT_TIMEOUT = 10_000;

/**
 * Retry `check` until it returns a truthy value (which is returned) or the timeout passes.
 * @template T
 * @param {() => Promise<T> | T} check
 * @param {object} [options]
 * @param {number} [options.timeout]
 * @param {string | (() => string)} [options.message] what was expected, for the failure
 * @returns {Promise<T>}
 */
export async function eventually(check, options = {}) {
  const timeout = options.timeout ?? DEFAULT_TIMEOUT;
  const deadline = Date.now() + timeout;
  let lastError = null;
  let delay = 50;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      lastError = null;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const message = typeof options.message === 'function' ? options.message() : options.message;
      throw new Error(
        `timed out after ${timeout} ms waiting for ${message || 'condition'}` +
          (lastError ? `: ${lastError.message || lastError}` : ''),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 500);
  }
}

/**
 * Wait until the locator is visible.
 * @param {import('playwright-core').Locator} locator
 * @param {number} [timeout]
 */
export async function expectVisible(locator, timeout = DEFAULT_TIMEOUT) {
  await locator.waitFor({ state: 'visible', timeout });
  return locator;
}

/**
 * Wait until the locator's (first match's) text contains the string or matches the RegExp.
 * @param {import('playwright-core').Locator} locator
 * @param {string | RegExp} expected
 * @param {number} [timeout]
 */
export async function expectText(locator, expected, timeout = DEFAULT_TIMEOUT) {
  let last = null;
  await eventually(
    async () => {
      last = await locator.first().textContent({ timeout: 1_000 });
      return typeof expected === 'string' ? last?.includes(expected) : expected.test(last ?? '');
    },
    { timeout, message: () => `text ${expected} (last seen: ${JSON.stringify(last)})` },
  );
}

/**
 * Wait until the page's path is `pathname`.
 * @param {import('playwright-core').Page} page
 * @param {string} pathname
 * @param {number} [timeout]
 */
export async function expectPath(page, pathname, timeout = 15_000) {
  await page.waitForURL((url) => url.pathname === pathname, { timeout, waitUntil: 'load' });
}
