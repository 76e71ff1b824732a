//! The OpenID Connect relying party behind single sign-on: discovery of a provider (cached),
//! the authorization request (code flow with PKCE S256, `state` and `nonce`), the code exchange
//! at the token endpoint (client secret by HTTP Basic), and the ID token's verification:
//! signature by a key of the provider's JWKS (RS256, PS256 or ES256 only — never `none` or a
//! shared-secret HMAC), `iss`, `aud`/`azp`, `exp` (60 s leeway for clock skew) and `nonce`.
//!
//! Written against the specification with `jsonwebtoken` for the signature rather than a full
//! OIDC library, so that every check is visible here (and tested against a real provider,
//! `oidc-provider`, in `server/tests/sso_oidc.rs`). Requests never follow redirects, answers
//! are size-limited and time-limited. A provider must be `https://`, except on a loopback
//! address (a provider on the same machine, as in tests).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::ConfigBuilderExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// How long a provider's discovery document and keys are reused.
const PROVIDER_TTL: Duration = Duration::from_secs(600);
/// An unknown `kid` makes us fetch the keys again, at most this often (key rotation).
const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// Longest answer read from a provider.
const MAX_ANSWER_BYTES: usize = 1 << 20;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Clock skew allowed on `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY_SECS: u64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the provider's issuer URL is not acceptable: {0}")]
    BadIssuer(String),
    #[error("the provider cannot be reached: {0}")]
    Unreachable(String),
    #[error("the provider answered {0}")]
    ProviderAnswer(String),
    #[error("the ID token is not acceptable: {0}")]
    BadToken(String),
}

/// What discovery tells about a provider.
#[derive(Clone, Debug, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// A discovered provider and its signing keys.
#[derive(Clone, Debug)]
pub struct Provider {
    pub meta: Discovery,
    pub keys: Vec<Jwk>,
}

/// The claims we read from an ID token.
#[derive(Clone, Debug, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    #[serde(default)]
    pub nonce: Option<String>,
    /// A string or an array of strings.
    pub aud: serde_json::Value,
    #[serde(default)]
    pub azp: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: Option<bool>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// `https://`, or `http://` on a loopback address only; no query, fragment or credentials.
pub fn check_issuer(issuer: &str) -> Result<url::Url, OidcError> {
    let bad = |why: &str| Err(OidcError::BadIssuer(format!("{issuer:?}: {why}")));
    let Ok(url) = url::Url::parse(issuer) else {
        return bad("not a URL");
    };
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return bad("no query, fragment or user name allowed");
    }
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => return bad("no host"),
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => bad("must be https:// (http:// only for a provider on this machine)"),
        _ => bad("must be an https:// URL"),
    }
}

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Talks to providers; one per server, shared.
pub struct OidcClient {
    http: HttpClient,
    providers: Mutex<HashMap<String, (Instant, Arc<Provider>)>>,
    key_refreshes: Mutex<HashMap<String, Instant>>,
}

impl std::fmt::Debug for OidcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcClient").finish_non_exhaustive()
    }
}

impl Default for OidcClient {
    fn default() -> Self {
        Self::new()
    }
}

impl OidcClient {
    pub fn new() -> Self {
        let builder = || {
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("ring supports TLS 1.2 and 1.3")
        };
        let tls = builder()
            .with_native_roots()
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "no system CA certificates; HTTPS providers will fail");
                builder().with_root_certificates(rustls::RootCertStore::empty())
            })
            .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        Self {
            http: Client::builder(TokioExecutor::new()).build(https),
            providers: Mutex::new(HashMap::new()),
            key_refreshes: Mutex::new(HashMap::new()),
        }
    }

    async fn send(&self, request: Request<Full<Bytes>>) -> Result<(StatusCode, Bytes), OidcError> {
        let uri = request.uri().clone();
        let unreachable = |e: String| OidcError::Unreachable(format!("{uri}: {e}"));
        let response = tokio::time::timeout(REQUEST_TIMEOUT, self.http.request(request))
            .await
            .map_err(|_| unreachable("no answer in time".into()))?
            .map_err(|e| unreachable(e.to_string()))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| unreachable(e.to_string()))?
            .to_bytes();
        Ok((status, body))
    }

    async fn get_json<T: for<'de> Deserialize<'de>>(&self, url: &str) -> Result<T, OidcError> {
        let request = Request::get(url)
            .header(header::ACCEPT, "application/json")
            .body(Full::default())
            .map_err(|e| OidcError::BadIssuer(e.to_string()))?;
        let (status, body) = self.send(request).await?;
        if status != StatusCode::OK {
            return Err(OidcError::ProviderAnswer(format!("{status} to GET {url}")));
        }
        serde_json::from_slice(&body)
            .map_err(|e| OidcError::ProviderAnswer(format!("unreadable JSON from {url}: {e}")))
    }

    async fn fetch_keys(&self, jwks_uri: &str) -> Result<Vec<Jwk>, OidcError> {
        let set: serde_json::Value = self.get_json(jwks_uri).await?;
        // Key by key: one key of a type we do not know must not hide the others.
        Ok(set["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
            .collect())
    }

    /// The provider at `issuer`, discovered (or from the cache).
    pub async fn provider(&self, issuer: &str) -> Result<Arc<Provider>, OidcError> {
        check_issuer(issuer)?;
        if let Some((at, provider)) = self.providers.lock().expect("not poisoned").get(issuer)
            && at.elapsed() < PROVIDER_TTL
        {
            return Ok(provider.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let meta: Discovery = self.get_json(&url).await?;
        if meta.issuer != issuer {
            return Err(OidcError::ProviderAnswer(format!(
                "discovery names issuer {:?}, configured {issuer:?}",
                meta.issuer
            )));
        }
        for endpoint in [
            &meta.authorization_endpoint,
            &meta.token_endpoint,
            &meta.jwks_uri,
        ] {
            check_issuer(endpoint).map_err(|_| {
                OidcError::ProviderAnswer(format!("endpoint {endpoint:?} is not https://"))
            })?;
        }
        let keys = self.fetch_keys(&meta.jwks_uri).await?;
        let provider = Arc::new(Provider { meta, keys });
        self.providers
            .lock()
            .expect("not poisoned")
            .insert(issuer.to_owned(), (Instant::now(), provider.clone()));
        Ok(provider)
    }

    /// The provider with freshly fetched keys (an ID token named a key we do not have: the
    /// provider rotated its keys), or `None` when the keys were fetched very recently.
    pub async fn refresh_keys(&self, issuer: &str) -> Result<Option<Arc<Provider>>, OidcError> {
        {
            let mut refreshes = self.key_refreshes.lock().expect("not poisoned");
            if refreshes
                .get(issuer)
                .is_some_and(|at| at.elapsed() < KEY_REFRESH_INTERVAL)
            {
                return Ok(None);
            }
            refreshes.insert(issuer.to_owned(), Instant::now());
        }
        self.providers.lock().expect("not poisoned").remove(issuer);
        self.provider(issuer).await.map(Some)
    }

    /// Exchanges an authorization code (with the PKCE verifier) for the ID token.
    pub async fn exchange_code(
        &self,
        provider: &Provider,
        client: &ClientCredentials<'_>,
        code: &str,
        pkce_verifier: &str,
    ) -> Result<String, OidcError> {
        // RFC 6749 §2.3.1: the ID and secret are form-encoded before Basic encoding.
        let encode =
            |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let basic = STANDARD.encode(format!(
            "{}:{}",
            encode(client.client_id),
            encode(client.client_secret)
        ));
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", client.redirect_uri)
            .append_pair("code_verifier", pkce_verifier)
            .finish();
        let request = Request::post(&provider.meta.token_endpoint)
            .header(header::AUTHORIZATION, format!("Basic {basic}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(form)))
            .map_err(|e| OidcError::BadIssuer(e.to_string()))?;
        let (status, body) = self.send(request).await?;
        #[derive(Deserialize)]
        struct TokenAnswer {
            id_token: Option<String>,
            error: Option<String>,
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|_| {
            OidcError::ProviderAnswer(format!("{status} from the token endpoint, not JSON"))
        })?;
        match (status, answer) {
            (
                StatusCode::OK,
                TokenAnswer {
                    id_token: Some(token),
                    ..
                },
            ) => Ok(token),
            (status, TokenAnswer { error, .. }) => Err(OidcError::ProviderAnswer(format!(
                "{status} from the token endpoint: {}",
                error.unwrap_or_else(|| "no ID token".into())
            ))),
        }
    }
}

/// What identifies us to a provider.
pub struct ClientCredentials<'a> {
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub redirect_uri: &'a str,
}

/// A random URL-safe value of 256 bits (state, nonce, PKCE verifier).
pub fn random_value() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The authorization request URL (code flow, PKCE S256).
pub fn authorization_url(
    provider: &Provider,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
    nonce: &str,
    pkce_verifier: &str,
) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(pkce_verifier.as_bytes()));
    let mut url =
        url::Url::parse(&provider.meta.authorization_endpoint).expect("checked at discovery");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", "openid email profile")
        .append_pair("state", state)
        .append_pair("nonce", nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    url.into()
}

/// Why a token was refused, or that its key is unknown (fetch the keys again, then retry).
#[derive(Debug)]
pub enum TokenCheck {
    UnknownKey,
    Refused(String),
}

/// Verifies an ID token: allowed algorithm, signature by one of `keys`, issuer, audience
/// (`azp` when there are several), expiry with `leeway_secs`, and the nonce we sent.
pub fn verify_id_token(
    token: &str,
    provider: &Provider,
    client_id: &str,
    nonce: &str,
    leeway_secs: u64,
) -> Result<IdClaims, TokenCheck> {
    let refused = |why: String| TokenCheck::Refused(why);
    let header = jsonwebtoken::decode_header(token).map_err(|e| refused(format!("header: {e}")))?;
    // Asymmetric signatures only: `none` and HS256 (a MAC keyed with something the attacker
    // may know, such as the client secret) are refused before any key is looked at.
    if !matches!(
        header.alg,
        Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256
    ) {
        return Err(refused(format!(
            "algorithm {:?} is not allowed",
            header.alg
        )));
    }
    let fits = |key: &Jwk| {
        let kid = match (&header.kid, &key.common.key_id) {
            (Some(wanted), Some(have)) => wanted == have,
            (None, _) => true,
            (Some(_), None) => false,
        };
        let usable = matches!(
            key.common.public_key_use,
            None | Some(PublicKeyUse::Signature)
        );
        // Many providers publish RSA keys without `alg`; the key type decides.
        let kind = match (&key.algorithm, header.alg) {
            (AlgorithmParameters::RSA(_), Algorithm::RS256 | Algorithm::PS256) => true,
            (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => {
                ec.curve == EllipticCurve::P256
            }
            _ => false,
        };
        kid && usable && kind
    };
    let Some(key) = provider.keys.iter().find(|k| fits(k)) else {
        return Err(TokenCheck::UnknownKey);
    };
    let key = DecodingKey::from_jwk(key).map_err(|e| refused(format!("key: {e}")))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[&provider.meta.issuer]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = leeway_secs;
    let claims = jsonwebtoken::decode::<IdClaims>(token, &key, &validation)
        .map_err(|e| refused(e.to_string()))?
        .claims;
    if claims.nonce.as_deref() != Some(nonce) {
        return Err(refused("nonce differs from the one sent".into()));
    }
    let several_audiences = claims.aud.as_array().is_some_and(|a| a.len() > 1);
    match &claims.azp {
        Some(azp) if azp != client_id => {
            return Err(refused(format!("azp {azp:?} is another client")));
        }
        None if several_audiences => {
            return Err(refused("several audiences and no azp".into()));
        }
        _ => {}
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_must_use_https_except_on_this_machine() {
        for good in [
            "https://login.example.co.jp",
            "https://login.microsoftonline.com/tenant/v2.0",
            "http://127.0.0.1:9000",
            "http://localhost:9000/realms/x",
            "http://[::1]:9000",
        ] {
            assert!(check_issuer(good).is_ok(), "{good}");
        }
        for bad in [
            "http://login.example.co.jp",
            "http://10.0.0.5",
            "ftp://127.0.0.1",
            "https://user@login.example.co.jp",
            "https://login.example.co.jp/?x=1",
            "not a url",
            "",
        ] {
            assert!(check_issuer(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_authorization_request_carries_pkce_state_and_nonce() {
        let provider = Provider {
            meta: Discovery {
                issuer: "https://idp.example".into(),
                authorization_endpoint: "https://idp.example/auth?tenant=1".into(),
                token_endpoint: "https://idp.example/token".into(),
                jwks_uri: "https://idp.example/jwks".into(),
                authorization_response_iss_parameter_supported: false,
            },
            keys: Vec::new(),
        };
        let url = authorization_url(&provider, "ra", "https://ra/cb", "S", "N", "verifier");
        let url = url::Url::parse(&url).unwrap();
        let query: HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(query["tenant"], "1", "the endpoint's own query stays");
        assert_eq!(query["response_type"], "code");
        assert_eq!(query["state"], "S");
        assert_eq!(query["nonce"], "N");
        assert_eq!(query["code_challenge_method"], "S256");
        // RFC 7636 appendix B: BASE64URL(SHA256(verifier)).
        assert_eq!(
            query["code_challenge"],
            URL_SAFE_NO_PAD.encode(Sha256::digest(b"verifier"))
        );
        assert!(query["scope"].split(' ').any(|s| s == "openid"));
        let a = random_value();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_value());
    }
}
