// A small REST client for test setup from Node: JSON in and out, the session cookie, the CSRF
// token and an Origin header, like the browser pages send them. TLS verification is off only for
// this loopback test server (its certificate is self-signed), per request, never process-wide.

import { request } from 'node:https';

export class ApiClient {
  /** @param {string} baseUrl e.g. https://127.0.0.1:41234 */
  constructor(baseUrl) {
    this.baseUrl = baseUrl;
    /** @type {string | null} */
    this.cookie = null;
    /** @type {string | null} */
    this.csrf = null;
    /** @type {string | null} */
    this.loginId = null;
  }

  /**
   * @param {string} method
   * @param {string} path
   * @param {unknown} [body]
   * @returns {Promise<{status: number, body: any}>}
   */
  raw(method, path, body) {
    const url = new URL(path, this.baseUrl);
    const payload = body === undefined ? null : Buffer.from(JSON.stringify(body));
    /** @type {Record<string, string | number>} */
    const headers = { Accept: 'application/json', Origin: this.baseUrl };
    if (payload) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = payload.length;
    }
    if (this.cookie) headers.Cookie = this.cookie;
    if (this.csrf && method !== 'GET') headers['X-CSRF-Token'] = this.csrf;
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        { method, headers, rejectUnauthorized: false, timeout: 15_000 },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const setCookie = res.headers['set-cookie'] || [];
            for (const line of setCookie) {
              const pair = line.split(';')[0];
              if (/^(__Host-)?ra_session=/.test(pair)) this.cookie = pair;
            }
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed = null;
            try {
              parsed = text ? JSON.parse(text) : null;
            } catch (_) {
              parsed = text;
            }
            resolve({ status: res.statusCode || 0, body: parsed });
          });
        },
      );
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
      if (payload) req.write(payload);
      req.end();
    });
  }

  /**
   * GET a file with the session cookie: status, content type and the bytes.
   * @param {string} path
   * @returns {Promise<{status: number, type: string, bytes: Buffer}>}
   */
  download(path) {
    const url = new URL(path, this.baseUrl);
    /** @type {Record<string, string>} */
    const headers = {};
    if (this.cookie) headers.Cookie = this.cookie;
    return new Promise((resolve, reject) => {
      const req = request(url, { method: 'GET', headers, rejectUnauthorized: false, timeout: 30_000 }, (res) => {
        /** @type {Buffer[]} */
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode || 0,
            type: String(res.headers['content-type'] || ''),
            bytes: Buffer.concat(chunks),
          }),
        );
      });
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error(`GET ${path}: timeout`)));
      req.end();
    });
  }

  /**
   * Like raw(), but a non-2xx answer throws with the server's error.
   * @param {string} method
   * @param {string} path
   * @param {unknown} [body]
   */
  async call(method, path, body) {
    const { status, body: answer } = await this.raw(method, path, body);
    if (status < 200 || status >= 300) {
      throw new Error(`${method} ${path} → ${status}: ${JSON.stringify(answer)}`);
    }
    return answer;
  }

  /** @param {string} loginId @param {string} password */
  async login(loginId, password) {
    const session = await this.call('POST', '/api/auth/login', { login_id: loginId, password });
    this.csrf = session.csrf_token;
    this.loginId = loginId;
    return session;
  }

  /** Change the own password, then refresh the CSRF token. @param {string} current @param {string} next */
  async changePassword(current, next) {
    await this.call('POST', '/api/auth/password', { current_password: current, new_password: next });
    const me = await this.raw('GET', '/api/auth/me');
    if (me.status === 200) this.csrf = me.body.csrf_token;
    else await this.login(this.loginId || '', next);
  }
}
