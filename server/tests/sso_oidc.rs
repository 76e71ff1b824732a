//! Single sign-on against a real OpenID provider: `oidc-provider` (OpenID Certified, npm) run by
//! node on 127.0.0.1 from `tests/oidc/`. A scripted browser logs in at the provider (its
//! development login form) and brings the answer back to our callback.
//!
//! Shown here: members sign in and are matched by claim, linked by provider identity, provisioned
//! only when the group allows; users of another group are never matched; forged, replayed,
//! swapped, mixed-up, cancelled and expired callbacks log nobody in; ID tokens are verified
//! (signature, `alg`, issuer, audience, expiry, nonce); only system administrators configure
//! SSO and the client secret is stored encrypted and never shown; a group can turn password
//! login off (system administrators keep theirs).

mod common;

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use remote_assist::auth::oidc::{self, ClientCredentials, OidcClient, TokenCheck};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

const CLIENT_ID: &str = "remote-assist";
const CLIENT_SECRET: &str = "client-secret-for-tests-0123456789";
const CALLBACK: &str = "https://assist.test:8443/api/auth/sso/callback";

/// The provider, stopped when dropped.
struct Idp {
    issuer: String,
    _process: tokio::process::Child,
}

async fn start_idp(extra_env: &[(&str, &str)]) -> Idp {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/oidc");
    assert!(
        dir.join("node_modules/oidc-provider").is_dir(),
        "the test OpenID provider is not installed: run `npm ci` in tests/oidc (tests/run does)"
    );
    let clients = json!([{
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [CALLBACK],
    }]);
    let mut command = tokio::process::Command::new("node");
    command
        .arg(dir.join("idp.mjs"))
        .env("IDP_PORT", "0")
        .env("IDP_CLIENTS", clients.to_string())
        .env("IDP_SKIP_CONSENT", "1")
        .env("IDP_LOG_ERRORS", "0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    for (name, value) in extra_env {
        command.env(name, value);
    }
    let mut process = command.spawn().expect("node runs");
    let mut lines = tokio::io::BufReader::new(process.stdout.take().unwrap()).lines();
    let issuer = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(issuer) = line.strip_prefix("READY ") {
                return issuer.to_owned();
            }
        }
        panic!("the provider exited before it was ready");
    })
    .await
    .expect("the provider starts within 30 s");
    Idp {
        issuer,
        _process: process,
    }
}

/// A scripted browser at the provider: keeps its cookies, follows nothing by itself.
struct Browser {
    http: Client<HttpConnector, Full<Bytes>>,
    cookies: HashMap<String, String>,
}

impl Browser {
    fn new() -> Self {
        Self {
            http: Client::builder(TokioExecutor::new()).build_http(),
            cookies: HashMap::new(),
        }
    }

    /// One request; the absolute `Location` of a redirect.
    async fn request(&mut self, method: Method, url: &str, form: Option<String>) -> String {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut builder = Request::builder().method(method).uri(url);
        if !cookie.is_empty() {
            builder = builder.header(header::COOKIE, cookie);
        }
        let body = match form {
            Some(form) => {
                builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Full::new(Bytes::from(form))
            }
            None => Full::default(),
        };
        let response = self
            .http
            .request(builder.body(body).unwrap())
            .await
            .unwrap();
        for set in response.headers().get_all(header::SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            if let Some((name, value)) = pair.split_once('=') {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|l| l.to_str().unwrap().to_owned());
        let location = location.unwrap_or_else(|| panic!("{status} from {url} without a redirect"));
        url::Url::parse(url)
            .unwrap()
            .join(&location)
            .unwrap()
            .to_string()
    }

    /// Logs in at the provider as `login`, from its authorization URL to the redirect back to
    /// us (returned, not followed).
    async fn log_in(&mut self, authorization_url: &str, login: &str) -> String {
        let mut next = self.request(Method::GET, authorization_url, None).await;
        for _ in 0..8 {
            if next.starts_with(CALLBACK) {
                return next;
            }
            next = if next.contains("/interaction/") {
                let form = format!("prompt=login&login={login}&password=any-password");
                self.request(Method::POST, &next, Some(form)).await
            } else {
                self.request(Method::GET, &next, None).await
            };
        }
        panic!("the provider did not send the browser back: {next}");
    }
}

/// What our server answered a browser.
struct Answer {
    status: StatusCode,
    location: Option<String>,
    cookies: Vec<String>,
    /// The page (a successful sign-in continues from it).
    body: String,
}

impl Answer {
    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .iter()
            .filter_map(|c| c.split(';').next())
            .find(|pair| pair.starts_with(&format!("{name}=")) && pair.len() > name.len() + 1)
            .map(str::to_owned)
    }
}

async fn browse(app: &TestApp, path_and_query: &str, cookie: Option<&str>) -> Answer {
    browse_from(app, path_and_query, cookie, None).await
}

/// A browser request, from the address `from` when given.
async fn browse_from(
    app: &TestApp,
    path_and_query: &str,
    cookie: Option<&str>,
    from: Option<&str>,
) -> Answer {
    let mut builder = Request::builder()
        .method(Method::GET)
        .uri(path_and_query)
        .header(header::HOST, HOST);
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    let mut request = builder.body(Body::empty()).unwrap();
    coming_from(&mut request, from);
    let response = app.send(request).await;
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|l| l.to_str().unwrap().to_owned());
    let cookies = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .collect();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    Answer {
        status,
        location,
        cookies,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Our start endpoint: the provider's authorization URL and the sign-in cookie.
async fn start_sign_in(app: &TestApp, group: &str) -> (String, String) {
    let answer = browse(
        app,
        &format!("/api/auth/sso/start?group={}", group.replace(' ', "%20")),
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let location = answer.location.clone().unwrap();
    assert!(!location.starts_with("/login"), "start refused: {location}");
    let cookie = answer.cookie("__Host-ra_sso").expect("a sign-in cookie");
    (location, cookie)
}

/// The provider's redirect back to us, as a path and query for the router.
fn callback_path(callback_url: &str) -> String {
    let url = url::Url::parse(callback_url).unwrap();
    format!("{}?{}", url.path(), url.query().unwrap_or(""))
}

fn with_query_param(path: &str, name: &str, value: &str) -> String {
    let url = url::Url::parse(&format!("https://x{path}")).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == name {
                (k, value.to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{}?{query}", url.path())
}

/// A whole sign-in as `login` through group `group`: our final answer.
async fn sign_in(app: &TestApp, group: &str, login: &str) -> Answer {
    sign_in_from(app, group, login, None).await
}

async fn sign_in_from(app: &TestApp, group: &str, login: &str, from: Option<&str>) -> Answer {
    let (authorization_url, cookie) = start_sign_in(app, group).await;
    let back = Browser::new().log_in(&authorization_url, login).await;
    browse_from(app, &callback_path(&back), Some(&cookie), from).await
}

fn assert_refused(answer: &Answer, what: &str) {
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{what}");
    assert_eq!(
        answer.location.as_deref(),
        Some("/login?error=sso_failed"),
        "{what}"
    );
    assert!(
        answer.cookie("__Host-ra_session").is_none(),
        "{what}: a session was started"
    );
}

/// The user a successful sign-in logged in.
async fn logged_in_user(app: &TestApp, answer: &Answer) -> Value {
    logged_in_user_from(app, answer, None).await
}

/// The same, asked from address `from` (the group's allow-list applies to every request).
async fn logged_in_user_from(app: &TestApp, answer: &Answer, from: Option<&str>) -> Value {
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "sign-in refused: {:?}",
        answer.location
    );
    let cookie = answer
        .cookie("__Host-ra_session")
        .expect("a session cookie");
    let mut request = Request::builder()
        .uri("/api/auth/me")
        .header(header::HOST, HOST)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap();
    coming_from(&mut request, from);
    let response = app.send(request).await;
    let status = response.status();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let me: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    assert_eq!(status, StatusCode::OK, "{me}");
    me["user"].clone()
}

async fn configure(
    app: &TestApp,
    admin: &Session,
    group: remote_assist::ids::GroupId,
    settings: Value,
) -> (StatusCode, Value) {
    app.call(
        Method::PUT,
        &format!("/api/groups/{group}/sso"),
        Some(settings),
        Some(admin),
    )
    .await
}

fn settings(idp: &Idp, claim: &str, provision: bool, password_login_disabled: bool) -> Value {
    json!({
        "issuer": idp.issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "user_claim": claim,
        "provision": provision,
        "password_login_disabled": password_login_disabled,
    })
}

/// A provider, an app with the seeded world, a system administrator's session, and SSO set
/// for one group (matched by `preferred_username`, no provisioning).
async fn sso_group(
    group: impl Fn(&World) -> remote_assist::ids::GroupId,
    password_login_disabled: bool,
) -> (Idp, TestApp, World, Session) {
    let idp = start_idp(&[]).await;
    let app = TestApp::new().await;
    let world = app.seed().await;
    let sysadmin = app.login_as(&world.sysadmin).await;
    let (status, body) = configure(
        &app,
        &sysadmin,
        group(&world),
        settings(&idp, "preferred_username", false, password_login_disabled),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (idp, app, world, sysadmin)
}

/// One query parameter of a URL.
fn query_param(url: &str, name: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no {name} in {url}"))
        .1
        .into_owned()
}

/// Marks a request as coming from `from` (the group's allow-list is checked against it).
fn coming_from(request: &mut Request<Body>, from: Option<&str>) {
    if let Some(from) = from {
        let peer: std::net::SocketAddr = format!("{from}:40000").parse().unwrap();
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
    }
}

async fn sso_audit(app: &TestApp) -> Vec<(String, String)> {
    sqlx::query_as::<_, (String, String)>(
        "SELECT outcome, detail FROM audit_events WHERE action = 'auth.login' AND detail LIKE 'sso:%' ORDER BY id",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn members_sign_in_through_a_real_provider() {
    let idp = start_idp(&[]).await;
    let app = TestApp::new().await;
    let world = app.seed().await;
    let sysadmin = app.login_as(&world.sysadmin).await;

    // Only a system administrator configures SSO.
    let admin_a = app.login_as(&world.admin_a).await;
    let (status, body) = configure(
        &app,
        &admin_a,
        world.group_a,
        settings(&idp, "preferred_username", false, false),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // A provider that cannot be discovered is reported at once, and nothing is saved.
    let mut wrong = settings(&idp, "preferred_username", false, false);
    wrong["issuer"] = json!("http://127.0.0.1:9/nothing-here");
    let (status, body) = configure(&app, &sysadmin, world.group_a, wrong).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(app.db.group_sso(world.group_a).await.unwrap().is_none());
    let mut plain_http = settings(&idp, "preferred_username", false, false);
    plain_http["issuer"] = json!("http://idp.example.co.jp");
    let (status, body) = configure(&app, &sysadmin, world.group_a, plain_http).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, view) = configure(
        &app,
        &sysadmin,
        world.group_a,
        settings(&idp, "preferred_username", false, false),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["has_client_secret"], true);
    assert_eq!(view["redirect_uri"], CALLBACK);
    assert!(
        !view.to_string().contains(CLIENT_SECRET),
        "the secret is never shown"
    );
    let stored = app.db.group_sso(world.group_a).await.unwrap().unwrap();
    assert!(
        !stored.client_secret.contains(CLIENT_SECRET)
            && !String::from_utf8_lossy(
                &base64::engine::general_purpose::STANDARD
                    .decode(&stored.client_secret)
                    .unwrap()
            )
            .contains(CLIENT_SECRET),
        "the secret is stored encrypted"
    );

    // An existing member, matched by the claim.
    let answer = sign_in(&app, "Group A", "supporter-a").await;
    assert!(
        answer.body.contains("url=/\""),
        "on to the console: {}",
        answer.body
    );
    let user = logged_in_user(&app, &answer).await;
    assert_eq!(user["login_id"], "supporter-a");
    assert_eq!(user["role"], "supporter");
    // An administrator goes to the admin page; an account that must still replace its first
    // password goes to the password page, as after a password login.
    let answer = sign_in(&app, "Group A", "admin-a").await;
    assert!(answer.body.contains("url=/admin\""), "{}", answer.body);
    sqlx::query("UPDATE users SET must_change_password = $1 WHERE login_id = 'admin-a'")
        .bind(true)
        .execute(app.db.pool())
        .await
        .unwrap();
    let answer = sign_in(&app, "Group A", "admin-a").await;
    assert!(answer.body.contains("url=/password\""), "{}", answer.body);
    // Linked now: found again by the provider identity.
    let subject = app.db.sso_subject_of(world.supporter_a.id).await.unwrap();
    assert_eq!(subject, Some(format!("{} supporter-a", idp.issuer)));
    let again = logged_in_user(&app, &sign_in(&app, "Group A", "supporter-a").await).await;
    assert_eq!(again["id"], user["id"]);

    // A user of another group is never matched, whatever the provider says.
    assert_refused(
        &sign_in(&app, "Group A", "supporter-b").await,
        "user of group B",
    );
    // Unknown users: refused unless the group provisions them.
    assert_refused(
        &sign_in(&app, "Group A", "newcomer").await,
        "provisioning off",
    );
    assert!(app.db.user_by_login_id("newcomer").await.unwrap().is_none());
    let mut provisioning = settings(&idp, "preferred_username", true, false);
    provisioning
        .as_object_mut()
        .unwrap()
        .remove("client_secret"); // the stored one is kept
    let (status, body) = configure(&app, &sysadmin, world.group_a, provisioning).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let created = logged_in_user(&app, &sign_in(&app, "Group A", "newcomer").await).await;
    assert_eq!(created["login_id"], "newcomer");
    assert_eq!(created["role"], "supporter", "provisioned as a supporter");
    assert_eq!(created["group_id"], world.group_a.to_string());
    assert_eq!(created["display_name"], "Test User newcomer");

    // A group without SSO, or no such group: back to the login page.
    for group in ["Group%20B", "No%20such%20group"] {
        let answer = browse(&app, &format!("/api/auth/sso/start?group={group}"), None).await;
        assert_eq!(answer.location.as_deref(), Some("/login?error=sso_failed"));
    }

    let audit = sso_audit(&app).await;
    assert_eq!(
        audit.iter().filter(|(o, _)| o == "success").count(),
        5,
        "{audit:?}"
    );
    assert!(
        audit
            .iter()
            .any(|(o, d)| o == "failure" && d.contains("another group")),
        "{audit:?}"
    );

    // Removing SSO is audited and takes effect.
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/groups/{}/sso", world.group_a),
            None,
            Some(&sysadmin),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let answer = browse(&app, "/api/auth/sso/start?group=Group%20A", None).await;
    assert_eq!(answer.location.as_deref(), Some("/login?error=sso_failed"));
}

#[tokio::test]
async fn forged_replayed_swapped_and_late_callbacks_are_refused() {
    let (_idp, app, _world, _sysadmin) = sso_group(|w| w.group_a, false).await;

    // Without the browser's sign-in cookie (login CSRF: a callback pushed into a victim's
    // browser), with another state, and replayed.
    let (url, cookie) = start_sign_in(&app, "Group A").await;
    let back = callback_path(&Browser::new().log_in(&url, "supporter-a").await);
    assert_refused(&browse(&app, &back, None).await, "no sign-in cookie");
    let forged_state = with_query_param(&back, "state", "forged");
    assert_refused(
        &browse(&app, &forged_state, Some(&cookie)).await,
        "another state",
    );
    assert_refused(
        &browse(&app, &back, Some(&cookie)).await,
        "the sign-in is single-use",
    );
    assert_refused(
        &browse(&app, &back, Some("__Host-ra_sso=made-up")).await,
        "an unknown sign-in",
    );

    // A code obtained in another sign-in (an attacker's) is useless in this one: the PKCE
    // verifier does not match. The other sign-in itself still works with it.
    let (url_b, cookie_b) = start_sign_in(&app, "Group A").await;
    let _ = Browser::new().log_in(&url_b, "supporter-a").await;
    let (url_c, cookie_c) = start_sign_in(&app, "Group A").await;
    let back_c = callback_path(&Browser::new().log_in(&url_c, "supporter-a").await);
    let state_b = query_param(&url_b, "state");
    let swapped = with_query_param(&back_c, "state", &state_b);
    assert_refused(
        &browse(&app, &swapped, Some(&cookie_b)).await,
        "another sign-in's code",
    );
    logged_in_user(&app, &browse(&app, &back_c, Some(&cookie_c)).await).await;

    // An answer naming another issuer (mix-up), and a cancelled sign-in.
    let (url, cookie) = start_sign_in(&app, "Group A").await;
    let back = callback_path(&Browser::new().log_in(&url, "supporter-a").await);
    let mixed_up = with_query_param(&back, "iss", "https://evil.example");
    assert_refused(
        &browse(&app, &mixed_up, Some(&cookie)).await,
        "another issuer",
    );
    let (url, cookie) = start_sign_in(&app, "Group A").await;
    let state = query_param(&url, "state");
    let cancelled = format!("/api/auth/sso/callback?error=access_denied&state={state}");
    assert_refused(
        &browse(&app, &cancelled, Some(&cookie)).await,
        "cancelled at the provider",
    );

    // Ten minutes is all a sign-in may take.
    let (url, cookie) = start_sign_in(&app, "Group A").await;
    let back = callback_path(&Browser::new().log_in(&url, "supporter-a").await);
    app.clock.advance_secs(11 * 60);
    assert_refused(&browse(&app, &back, Some(&cookie)).await, "too late");

    let audit = sso_audit(&app).await;
    for expected in [
        "no sign-in cookie",
        "state differs",
        "already used",
        "token endpoint",
        "names issuer",
        "error=access_denied",
        "expired",
    ] {
        assert!(
            audit
                .iter()
                .any(|(o, d)| o == "failure" && d.contains(expected)),
            "no audited refusal mentioning {expected:?}: {audit:#?}"
        );
    }
}

/// The provider's ID token for one sign-in done by hand, with the nonce we chose.
async fn id_token_from(idp: &Idp, client: &OidcClient, nonce: &str) -> String {
    let provider = client.provider(&idp.issuer).await.unwrap();
    let verifier = oidc::random_value();
    let url = oidc::authorization_url(&provider, CLIENT_ID, CALLBACK, "state", nonce, &verifier);
    let back = Browser::new().log_in(&url, "alice").await;
    let code = query_param(&back, "code");
    let credentials = ClientCredentials {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uri: CALLBACK,
    };
    client
        .exchange_code(&provider, &credentials, &code, &verifier)
        .await
        .unwrap()
}

fn refused(result: Result<oidc::IdClaims, TokenCheck>, what: &str) {
    match result {
        Err(TokenCheck::Refused(_)) => {}
        other => panic!("{what}: {other:?}"),
    }
}

/// Re-encodes a token's payload after `change`, keeping the provider's signature.
fn with_payload(token: &str, change: impl FnOnce(&mut Value)) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    change(&mut payload);
    let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

#[tokio::test]
async fn id_tokens_are_verified() {
    let idp = start_idp(&[]).await;
    let client = OidcClient::new();
    let nonce = oidc::random_value();
    let token = id_token_from(&idp, &client, &nonce).await;
    let provider = client.provider(&idp.issuer).await.unwrap();
    let leeway = oidc::DEFAULT_LEEWAY_SECS;
    let claims = oidc::verify_id_token(&token, &provider, CLIENT_ID, &nonce, leeway)
        .expect("the provider's token verifies");
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.iss, idp.issuer);

    refused(
        oidc::verify_id_token(&token, &provider, CLIENT_ID, "another nonce", leeway),
        "another nonce (a replayed token)",
    );
    refused(
        oidc::verify_id_token(&token, &provider, "another-client", &nonce, leeway),
        "another audience",
    );
    let mut impostor = (*provider).clone();
    impostor.meta.issuer = "https://impostor.example".into();
    refused(
        oidc::verify_id_token(&token, &impostor, CLIENT_ID, &nonce, leeway),
        "another issuer",
    );
    let promoted = with_payload(&token, |p| p["sub"] = json!("admin"));
    refused(
        oidc::verify_id_token(&promoted, &provider, CLIENT_ID, &nonce, leeway),
        "a changed claim (signature)",
    );
    // No signature at all, and a MAC keyed with the client secret (algorithm confusion).
    let parts: Vec<&str> = token.split('.').collect();
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    refused(
        oidc::verify_id_token(&unsigned, &provider, CLIENT_ID, &nonce, leeway),
        "alg none",
    );
    let payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let hmac = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &payload,
        &jsonwebtoken::EncodingKey::from_secret(CLIENT_SECRET.as_bytes()),
    )
    .unwrap();
    refused(
        oidc::verify_id_token(&hmac, &provider, CLIENT_ID, &nonce, leeway),
        "HS256 with the client secret",
    );
    // Several audiences need `azp` naming us.
    let shared = with_payload(&token, |p| p["aud"] = json!([CLIENT_ID, "other"]));
    refused(
        oidc::verify_id_token(&shared, &provider, CLIENT_ID, &nonce, leeway),
        "several audiences (also: the signature)",
    );
    // A key we do not have: the caller fetches the keys again.
    let mut keyless = (*provider).clone();
    keyless.keys.clear();
    assert!(matches!(
        oidc::verify_id_token(&token, &keyless, CLIENT_ID, &nonce, leeway),
        Err(TokenCheck::UnknownKey)
    ));

    // Expiry: a provider whose tokens live one second.
    let brief = start_idp(&[("IDP_ID_TOKEN_TTL", "1")]).await;
    let token = id_token_from(&brief, &client, &nonce).await;
    let provider = client.provider(&brief.issuer).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    refused(
        oidc::verify_id_token(&token, &provider, CLIENT_ID, &nonce, 0),
        "expired",
    );
    assert!(
        oidc::verify_id_token(&token, &provider, CLIENT_ID, &nonce, leeway).is_ok(),
        "within the clock-skew leeway"
    );
}

#[tokio::test]
async fn password_login_can_be_turned_off_for_an_sso_group() {
    let (_idp, app, world, sysadmin) = sso_group(|w| w.group_a, true).await;

    // The right password is told to use SSO; a wrong one learns nothing new.
    let (session, status, body) = app.try_login("supporter-a", PASSWORD).await;
    assert!(session.is_none());
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "sso_required"),
        "{body}"
    );
    let (_, status, body) = app.try_login("supporter-a", "Wrong-pass-2026").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "login_failed")
    );
    let (_, status, body) = app.try_login("admin-a", PASSWORD).await;
    assert_eq!(code(&body), "sso_required", "{status} {body}");
    // The system administrator keeps the password login (the way back in); other groups too.
    app.login_as(&world.sysadmin).await;
    app.login_as(&world.supporter_b).await;
    // SSO works for them.
    logged_in_user(&app, &sign_in(&app, "Group A", "supporter-a").await).await;

    // Back to passwords when SSO is removed.
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/groups/{}/sso", world.group_a),
            None,
            Some(&sysadmin),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    app.login_as(&world.supporter_a).await;
}

#[tokio::test]
async fn a_locked_account_or_another_network_stops_an_sso_login() {
    let (_idp, app, world, sysadmin) = sso_group(|w| w.group_b, false).await;
    let (status, body) = app
        .call(
            Method::PATCH,
            &format!("/api/groups/{}", world.group_b),
            Some(json!({"allowed_ips": ["192.0.2.0/24"]})),
            Some(&sysadmin),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let outside = sign_in_from(&app, "Group B", "supporter-b", Some("198.51.100.7")).await;
    assert_refused(&outside, "from outside the allow-list");
    let inside = sign_in_from(&app, "Group B", "supporter-b", Some("192.0.2.10")).await;
    let user = logged_in_user_from(&app, &inside, Some("192.0.2.10")).await;
    assert_eq!(user["login_id"], "supporter-b");

    app.db
        .lock_user(world.supporter_b.id, app.now() + 3_600_000)
        .await
        .unwrap();
    let locked = sign_in_from(&app, "Group B", "supporter-b", Some("192.0.2.10")).await;
    assert_refused(&locked, "a locked account");
    let audit = sso_audit(&app).await;
    for expected in ["allow-list", "locked"] {
        assert!(
            audit
                .iter()
                .any(|(o, d)| o == "denied" && d.contains(expected)),
            "{expected}: {audit:#?}"
        );
    }
}
