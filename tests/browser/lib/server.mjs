// Start and stop a real remote-assist server for end-to-end tests.
//
// The server binds 127.0.0.1:0 and prints `listening on https://127.0.0.1:PORT` on stdout, then
// `media on udp://127.0.0.1:PORT (advertised as 127.0.0.1)` (the media UDP port); on the first
// start with an empty database it also prints the one-time admin credentials
// (`  login ID: admin`, `  password: …`). Nothing here sleeps: we wait for those lines, each wait
// bounded by a timeout, and the process is always killed by stop().

import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..', '..');
export const artifactsDir = path.resolve(here, '..', 'artifacts');

/** Path of the server binary: $RA_BIN, else the debug build in target/. */
export function serverBinary() {
  return process.env.RA_BIN || path.join(repoRoot, 'target', 'debug', 'remote-assist');
}

/**
 * The environment for the server: ours minus the test harness's own RA_* variables, because the
 * server reads every RA_* variable as configuration and refuses unknown ones (RA_BIN would stop it).
 */
function serverEnv() {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    if (key === 'RA_BIN' || key.startsWith('RA_E2E_')) delete env[key];
  }
  return env;
}

/**
 * @typedef {object} RunningServer
 * @property {string} url          base URL, e.g. https://127.0.0.1:41234
 * @property {number} port
 * @property {string} dataDir
 * @property {string | null} adminLogin     one-time admin login ID (first start only)
 * @property {string | null} adminPassword  one-time admin password (first start only)
 * @property {{address: string, port: number, advertised: string} | null} media  the media UDP
 *   socket (`media on udp://ADDRESS:PORT (advertised as IP)`), when the server printed it
 * @property {() => string} output          everything printed so far (stdout + stderr)
 * @property {() => Promise<void>} stop     SIGTERM, then SIGKILL after 5 s; idempotent
 * @property {() => Promise<void>} kill     SIGKILL at once (a crash), keeping the data directory
 */

/**
 * Start `remote-assist serve` on a fresh (or given) data directory.
 * @param {object} [options]
 * @param {string} [options.name]       label used for the log file in artifacts/
 * @param {string} [options.dataDir]    reuse a data directory (default: fresh temp dir)
 * @param {string[]} [options.extraArgs]  more `serve` arguments, e.g. ['--media-port', '0']
 * @param {boolean} [options.expectMedia] also wait for the `media on udp://…` line
 * @param {Record<string, string>} [options.env]
 * @param {boolean} [options.expectAdminPassword] wait for the one-time password (default true
 *   for a fresh data directory)
 * @param {number} [options.timeoutMs] start-up timeout (default 30 s)
 * @returns {Promise<RunningServer>}
 */
export async function startServer(options = {}) {
  const bin = serverBinary();
  if (!existsSync(bin)) {
    throw new Error(`server binary not found: ${bin} (build it with cargo build, or set RA_BIN)`);
  }
  const freshDir = !options.dataDir;
  const dataDir = options.dataDir || mkdtempSync(path.join(tmpdir(), 'ra-e2e-data-'));
  const expectPassword = options.expectAdminPassword ?? freshDir;
  const timeoutMs = options.timeoutMs ?? 30_000;

  mkdirSync(artifactsDir, { recursive: true });
  const logPath = path.join(artifactsDir, `server-${options.name || 'e2e'}.log`);
  const log = createWriteStream(logPath);

  const child = spawn(
    bin,
    ['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', ...(options.extraArgs || [])],
    {
      cwd: repoRoot,
      env: { ...serverEnv(), RUST_BACKTRACE: '1', ...(options.env || {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );

  let all = '';
  let stdoutBuffer = '';
  /** @type {{url: string | null, port: number, adminLogin: string | null, adminPassword: string | null, media: {address: string, port: number, advertised: string} | null}} */
  const found = { url: null, port: 0, adminLogin: null, adminPassword: null, media: null };
  /** @type {(() => void) | null} */
  let onProgress = null;

  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    all += chunk;
    log.write(chunk);
    stdoutBuffer += chunk;
    let newline;
    while ((newline = stdoutBuffer.indexOf('\n')) >= 0) {
      parseLine(stdoutBuffer.slice(0, newline).replace(/\r$/, ''));
      stdoutBuffer = stdoutBuffer.slice(newline + 1);
    }
    onProgress?.();
  });
  child.stderr.on('data', (chunk) => {
    all += chunk;
    log.write(chunk);
  });

  /** @param {string} line */
  function parseLine(line) {
    // Logs may be coloured; strip ANSI escapes before matching.
    const plain = line.replace(/\x1b\[[0-9;]*m/g, '');
    const listening = /listening on (https?:\/\/[^\s/]+)/.exec(plain);
    if (listening && !found.url) {
      found.url = listening[1];
      found.port = Number(new URL(found.url).port);
    }
    const media = /media on udp:\/\/(\S+):(\d+) \(advertised as ([^)\s]+)\)/.exec(plain);
    if (media && !found.media) {
      found.media = { address: media[1], port: Number(media[2]), advertised: media[3] };
    }
    const login = /^\s*login ID:\s*(\S+)\s*$/.exec(plain);
    if (login && !found.adminLogin) found.adminLogin = login[1];
    const password = /^\s*password:\s*(\S+)\s*$/.exec(plain);
    if (password && !found.adminPassword) found.adminPassword = password[1];
  }

  let exited = false;
  /** @type {Promise<void>} */
  const exitPromise = new Promise((resolve) => {
    child.on('exit', () => {
      exited = true;
      onProgress?.();
      resolve();
    });
  });

  let stopped = false;
  async function stop() {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => {
        if (!exited) child.kill('SIGKILL');
      }, 5_000);
      await exitPromise;
      clearTimeout(killTimer);
    }
    log.end();
    if (freshDir && !process.env.RA_E2E_KEEP_DATA) rmSync(dataDir, { recursive: true, force: true });
  }

  /** What `kill -9` does: no shutdown of any kind. The data directory stays for a restart. */
  async function kill() {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      child.kill('SIGKILL');
      await exitPromise;
    }
    log.end();
  }

  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`server did not start within ${timeoutMs} ms; output:\n${all}`)),
        timeoutMs,
      );
      onProgress = () => {
        if (found.url && (!expectPassword || found.adminPassword) && (!options.expectMedia || found.media)) {
          clearTimeout(timer);
          resolve(undefined);
        } else if (exited) {
          clearTimeout(timer);
          reject(new Error(`server exited during start-up (code ${child.exitCode}); output:\n${all}`));
        }
      };
      onProgress();
    });
  } catch (error) {
    await stop();
    throw error;
  }
  onProgress = null;

  return {
    url: /** @type {string} */ (found.url),
    port: found.port,
    dataDir,
    adminLogin: found.adminLogin,
    adminPassword: found.adminPassword,
    media: found.media,
    output: () => all,
    stop,
    kill,
  };
}

/**
 * Wait until the server answers `GET /healthz` (TLS errors ignored only for this loopback probe).
 * Needed only when a test must not race the first request; the listening line already means bound.
 * @param {string} url
 * @param {number} [timeoutMs]
 */
export async function waitHealthy(url, timeoutMs = 10_000) {
  const { request } = await import('node:https');
  const deadline = Date.now() + timeoutMs;
  let lastError = null;
  while (Date.now() < deadline) {
    try {
      const status = await new Promise((resolve, reject) => {
        const req = request(`${url}/healthz`, { rejectUnauthorized: false, timeout: 2_000 }, (res) => {
          res.resume();
          resolve(res.statusCode);
        });
        req.on('error', reject);
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.end();
      });
      if (status === 200) return;
      lastError = new Error(`healthz answered ${status}`);
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server not healthy within ${timeoutMs} ms: ${lastError}`);
}
