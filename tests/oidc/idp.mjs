// A real OpenID Provider for the SSO tests (server/tests/sso_oidc.rs, tests/browser), built on
// oidc-provider (panva) 9.x, an OpenID Certified implementation; bound to 127.0.0.1.
//
// Usage:
//   IDP_PORT=0 IDP_CLIENTS='[{"client_id":"ra","client_secret":"s3cret","redirect_uris":["http://127.0.0.1:8080/auth/oidc/callback"]}]' node idp.mjs
//   node idp.mjs 9000            # port may also be argv[2]; 0 = pick a free port
//
// Env:
//   IDP_PORT          listen port (default: argv[2] or 0 = ephemeral)
//   IDP_HOST          listen host (default 127.0.0.1)
//   IDP_ISSUER        issuer override (default http://<IDP_HOST>:<actual port>); set it when a
//                     reverse proxy fronts the IdP (and set IDP_PROXY=1 so X-Forwarded-* is trusted)
//   IDP_PROXY=1       provider.proxy = true (trust X-Forwarded-Proto / X-Forwarded-Host)
//   IDP_CLIENTS       JSON array of client metadata (see DEFAULT_CLIENT); missing fields are defaulted
//   IDP_JWKS_FILE     optional path to a private JWKS (JSON); default: fresh RSA-2048 + P-256 keys
//   IDP_SKIP_CONSENT=1  auto-grant requested scopes/claims (only the login form is shown)
//   IDP_ID_TOKEN_TTL  ID token lifetime in seconds (default 600)
//   IDP_CONFORM_ID_TOKEN_CLAIMS=1  spec-strict mode: email/profile claims only from userinfo (/me),
//                     ID token then carries just sub/nonce/iss/aud/exp/iat (+auth_time etc.)
//   IDP_LOG_ERRORS=0  silence the per-request error lines (authorization.error etc.) on stderr
//   DEBUG=oidc-provider:*  verbose library logs (stderr)
//
// stdout: exactly one line "READY <issuer>" once listening (library notices are silenced or go
// to stderr). SIGTERM/SIGINT: closes the server and exits 0.
//
// Interactions: the library's built-in devInteractions (any login, any non-empty password):
//   GET  /interaction/<uid>        -> HTML form
//   POST /interaction/<uid>        prompt=login&login=<name>&password=<anything>
//   POST /interaction/<uid>        prompt=consent            (second interaction, unless IDP_SKIP_CONSENT)
//   GET  /interaction/<uid>/abort  -> redirect_uri?error=access_denied
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:http';
import * as oidc from 'oidc-provider';

const host = process.env.IDP_HOST || '127.0.0.1';
const port = Number(process.env.IDP_PORT ?? process.argv[2] ?? 0);

const DEFAULT_CLIENT = {
  client_id: 'remote-assist',
  client_secret: 'remote-assist-secret',
  redirect_uris: ['http://127.0.0.1:8080/auth/oidc/callback'],
  token_endpoint_auth_method: 'client_secret_basic', // or client_secret_post
  response_types: ['code'],
  grant_types: ['authorization_code'],
  // id_token_signed_response_alg: 'RS256' (default) | 'ES256' | 'PS256' | 'EdDSA'
};

const clients = (process.env.IDP_CLIENTS ? JSON.parse(process.env.IDP_CLIENTS) : [DEFAULT_CLIENT])
  .map((c) => ({
    token_endpoint_auth_method: 'client_secret_basic',
    response_types: ['code'],
    grant_types: ['authorization_code'],
    ...c,
  }));

function freshJwks() {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  // kid is left out: oidc-provider derives it (RFC 7638 thumbprint). First key of a type signs.
  return { keys: [{ ...rsa, use: 'sig' }, { ...ec, use: 'sig' }] };
}
const jwks = process.env.IDP_JWKS_FILE
  ? JSON.parse(readFileSync(process.env.IDP_JWKS_FILE, 'utf8'))
  : freshJwks();

const idTokenTtl = Number(process.env.IDP_ID_TOKEN_TTL || 600);

const configuration = {
  clients,
  jwks,
  cookies: { keys: [randomBytes(32).toString('base64url')] },

  // Any account id "exists"; claims are derived from the login name.
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims(use, scope, claims, rejected) {
        return {
          sub: id,
          email: `${id}@example.test`,
          email_verified: true,
          name: `Test User ${id}`,
          preferred_username: id,
        };
      },
    };
  },

  // scope -> claims. 'openid', 'email', 'profile' become supported scopes automatically.
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    acr: null, sid: null, auth_time: null, iss: null,
  },
  // Default true => with response_type=code, scope-requested claims go to /me (userinfo) only.
  // false => they are also put into the ID token returned by the token endpoint.
  conformIdTokenClaims: process.env.IDP_CONFORM_ID_TOKEN_CLAIMS === '1',

  // Default requires PKCE only for public clients (and FAPI 2.0). Require it for everybody.
  pkce: { required: () => true },

  features: {
    devInteractions: { enabled: true }, // default true; stated for clarity
    // userinfo, revocation, rpInitiatedLogout: library defaults (enabled)
  },

  // Plain numbers instead of the default functions (which print "you SHOULD change" notices to stdout).
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    IdToken: idTokenTtl,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
  clientBasedCORS: () => false,

  ...(process.env.IDP_SKIP_CONSENT === '1' ? {
    // Grant whatever is requested, so the consent prompt never fires.
    async loadExistingGrant(ctx) {
      const { Grant } = ctx.oidc.provider;
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      const grant = (grantId && await Grant.find(grantId))
        || new Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope(ctx.oidc.params.scope || 'openid');
      await grant.save();
      return grant;
    },
  } : {}),
};

// The issuer must be known before construction; with port 0 we first bind, then build the provider.
let handler = (req, res) => { res.statusCode = 503; res.end(); };
const server = createServer((req, res) => handler(req, res));
server.listen(port, host);
await once(server, 'listening');
const actualPort = server.address().port;
const hostForUrl = host.includes(':') ? `[${host}]` : host;
const issuer = process.env.IDP_ISSUER || `http://${hostForUrl}:${actualPort}`;

const provider = new oidc.Provider(issuer, configuration);
if (process.env.IDP_PROXY === '1') provider.proxy = true;

provider.on('server_error', (ctx, err) => console.error('server_error', err));
if (process.env.IDP_LOG_ERRORS !== '0') {
  for (const ev of ['authorization.error', 'grant.error', 'userinfo.error', 'jwks.error', 'discovery.error']) {
    provider.on(ev, (ctx, err) => console.error(ev, err.name, err.message, err.error_detail || ''));
  }
}

handler = provider.callback();
console.log(`READY ${issuer}`);

function shutdown(sig) {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
