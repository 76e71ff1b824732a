//! Shared harness for API tests: a fresh database per test (SQLite file, or a new PostgreSQL
//! database when `REMOTE_ASSIST_TEST_DB=postgres`), an injectable clock, the real router, and helpers to
//! log in and send requests the way a browser does.

#![allow(dead_code)]

pub mod live;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use remote_assist::clock::ManualClock;
use remote_assist::config::{Config, Secret};
use remote_assist::db::Db;
use remote_assist::db::users::{NewUser, Role};
use remote_assist::ids::{GroupId, UserId};
use remote_assist::state::AppState;
use serde_json::Value;
use tower::ServiceExt;

/// The origin test requests claim, matching the Host header they send.
pub const HOST: &str = "assist.test:8443";
pub const ORIGIN: &str = "https://assist.test:8443";
/// Password of every seeded account.
pub const PASSWORD: &str = "Seeded-pass-2026";
/// 2026-11-23T00:00:00Z
pub const START: i64 = 1_795_392_000_000;

/// Which database the suite runs on.
pub fn backend() -> String {
    std::env::var("REMOTE_ASSIST_TEST_DB").unwrap_or_else(|_| "sqlite".into())
}

/// A fresh, migrated database; the guard keeps its directory alive.
pub async fn fresh_db() -> (Db, Option<tempfile::TempDir>, Secret) {
    if backend() == "postgres" {
        let admin_url = std::env::var("REMOTE_ASSIST_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("ra_test_{}", uuid::Uuid::new_v4().simple());
        let admin = Db::connect(&Secret::new(admin_url.clone())).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(admin.pool())
            .await
            .unwrap();
        admin.close().await;
        let base = admin_url.rsplit_once('/').unwrap().0;
        let url = Secret::new(format!("{base}/{name}"));
        let db = Db::open(&url).await.unwrap();
        (db, None, url)
    } else {
        let dir = tempfile::tempdir().unwrap();
        let url = Secret::new(format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("test.db").display()
        ));
        let db = Db::open(&url).await.unwrap();
        (db, Some(dir), url)
    }
}

/// An account created by [`TestApp::seed`].
#[derive(Clone, Debug)]
pub struct Account {
    pub id: UserId,
    pub login_id: String,
    pub group: GroupId,
    pub role: Role,
}

/// Cookie and CSRF token of a logged-in test client.
#[derive(Clone, Debug)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

pub struct TestApp {
    pub state: AppState,
    /// The database URL (for running the admin CLI against the same database).
    pub db_url: Secret,
    pub router: Router,
    pub clock: ManualClock,
    pub db: Db,
    _dir: Option<tempfile::TempDir>,
    _objects: tempfile::TempDir,
}

/// The seeded world: groups A and B, each with a group admin and a supporter, and a system
/// admin in A.
pub struct World {
    pub group_a: GroupId,
    pub group_b: GroupId,
    pub sysadmin: Account,
    pub admin_a: Account,
    pub supporter_a: Account,
    pub admin_b: Account,
    pub supporter_b: Account,
}

impl TestApp {
    /// The default configuration, but with rate limits out of the way: the tests log in far
    /// more often than people do (`network_policy.rs` tests the limits themselves).
    pub async fn new() -> Self {
        Self::with_config(Config {
            rate_limit_login_per_minute: 100_000,
            rate_limit_login_per_account_per_minute: 100_000,
            rate_limit_pairing_per_minute: 100_000,
            rate_limit_api_per_minute: 1_000_000,
            ..Config::default()
        })
        .await
    }

    pub async fn with_config(mut config: Config) -> Self {
        let (db, dir, db_url) = fresh_db().await;
        let objects = tempfile::tempdir().unwrap();
        if config.data_dir == Config::default().data_dir {
            // Keep the self-signed certificate of `serve()` out of the working directory.
            config.data_dir = objects.path().join("data");
        }
        config.objects_dir = Some(objects.path().to_owned());
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.media_port = 0;
        // With REMOTE_ASSIST_TEST_S3_ENDPOINT set (tests/run starts a real S3-compatible
        // server), recordings go to S3 instead of the local directory.
        if let Ok(endpoint) = std::env::var("REMOTE_ASSIST_TEST_S3_ENDPOINT") {
            config.object_store = remote_assist::config::ObjectStoreKind::S3;
            config.s3_endpoint = Some(endpoint);
            config.s3_region = "us-east-1".into();
            config.s3_bucket = std::env::var("REMOTE_ASSIST_TEST_S3_BUCKET").ok();
            config.s3_path_style = true;
            config.s3_access_key = std::env::var("REMOTE_ASSIST_TEST_S3_ACCESS_KEY").ok();
            config.s3_secret_key = std::env::var("REMOTE_ASSIST_TEST_S3_SECRET_KEY")
                .ok()
                .map(remote_assist::config::Secret::new);
            // Each test app gets its own prefix in the shared bucket.
            config.s3_prefix = format!("test-{}/", uuid::Uuid::new_v4().simple());
        }
        let clock = ManualClock::starting_at(START);
        let state = AppState::start(config, db.clone(), Arc::new(clock.clone()))
            .await
            .unwrap();
        let router = remote_assist::api::app(state.clone());
        Self {
            state,
            db_url,
            router,
            clock,
            db,
            _dir: dir,
            _objects: objects,
        }
    }

    /// Serves this app over real TLS on 127.0.0.1:0; returns the address. The server stops when
    /// the test's runtime ends.
    pub async fn serve(&self) -> std::net::SocketAddr {
        let listeners =
            remote_assist::server::Listeners::bind("127.0.0.1:0".parse().unwrap(), None)
                .await
                .unwrap();
        let addr = listeners.https.local_addr().unwrap();
        let tls = remote_assist::tls::server_config(&self.state.config).unwrap();
        let state = self.state.clone();
        tokio::spawn(async move {
            remote_assist::server::serve(state, tls, listeners, std::future::pending()).await
        });
        addr
    }

    /// A cookie for `account` without going through the login endpoint (no password hashing).
    pub async fn session_cookie(&self, account: &Account) -> String {
        let token = remote_assist::auth::tokens::random_token();
        self.db
            .create_session(
                &remote_assist::db::sessions::NewSession {
                    token_hash: &remote_assist::auth::tokens::sha256_hex(&token),
                    csrf_token: "csrf",
                    user_id: account.id,
                    idle_expires_at: i64::MAX / 4,
                    absolute_expires_at: i64::MAX / 4,
                    client_ip: None,
                    user_agent: None,
                },
                START,
            )
            .await
            .unwrap();
        format!("{}={token}", remote_assist::auth::SESSION_COOKIE)
    }

    /// A finished recording of `owner`, encrypted and stored like the recorder stores them
    /// (150 000 bytes of content), expiring 30 days from now.
    pub async fn stored_recording(&self, group: GroupId, owner: &Account) -> uuid::Uuid {
        self.stored_recording_named(group, owner, "cam").await
    }

    /// Like [`TestApp::stored_recording`], from a camera called `device_name`.
    pub async fn stored_recording_named(
        &self,
        group: GroupId,
        owner: &Account,
        device_name: &str,
    ) -> uuid::Uuid {
        use base64::Engine;
        use remote_assist::storage::crypto::{DataKey, Encryptor};
        let id = uuid::Uuid::new_v4();
        let key = DataKey::generate();
        let wrapped = self.state.keyring.wrap(&key, &id.to_string());
        let object_key = format!("recordings/{id}.mp4.enc");
        let content = vec![7u8; 150_000];
        let mut enc = Encryptor::new(key, &id.to_string());
        let mut bytes = enc.update(&content);
        bytes.extend(enc.finish());
        self.state.store.append(&object_key, &bytes).await.unwrap();
        self.state.store.finish(&object_key).await.unwrap();
        let now = self.now();
        use sha2::Digest;
        let sha = hex::encode(sha2::Sha256::digest(&content));
        self.db
            .create_recording(&remote_assist::db::recordings::NewRecording {
                id,
                group_id: group,
                device_id: remote_assist::ids::DeviceId::new_random(),
                device_name,
                started_at: now,
                expires_at: now + 30 * 86_400_000,
                object_key: &object_key,
                key_id: &wrapped.key_id,
                wrapped_key: &base64::engine::general_purpose::STANDARD.encode(&wrapped.blob),
                participants: &[owner.id],
                session_id: "test-session",
                container: "mp4",
            })
            .await
            .unwrap();
        self.db
            .finish_recording(id, now + 60_000, 150_000, bytes.len() as i64, &sha, 10)
            .await
            .unwrap();
        id
    }

    /// Enrols a TOTP secret for `user` directly (as if they had scanned it and sent a code);
    /// returns the secret.
    pub async fn enrol_totp(&self, user: remote_assist::ids::UserId) -> [u8; 32] {
        use base64::Engine;
        let secret = remote_assist::storage::crypto::DataKey::generate();
        let wrapped = self.state.keyring.wrap(&secret, &user.to_string());
        self.db
            .set_pending_totp(
                user,
                &remote_assist::db::mfa::StoredSecret {
                    key_id: wrapped.key_id,
                    wrapped: base64::engine::general_purpose::STANDARD.encode(&wrapped.blob),
                },
            )
            .await
            .unwrap();
        let step = remote_assist::auth::totp::step_at(self.now()) - 10;
        assert!(
            self.db
                .enable_totp(user, step, &[], self.now())
                .await
                .unwrap()
        );
        *secret.expose()
    }

    /// SSO settings for `group` straight into the database (the provider is not contacted).
    pub async fn seed_sso_settings(&self, group: GroupId) {
        let (wrapped, sealed) =
            remote_assist::storage::seal_secret(&self.state.keyring, &group.to_string(), b"secret");
        self.db
            .put_group_sso(&remote_assist::db::sso::GroupSso {
                group_id: group,
                issuer: "https://idp.example".into(),
                client_id: "remote-assist".into(),
                secret_key_id: wrapped.key_id,
                secret_wrapped_key: base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    &wrapped.blob,
                ),
                client_secret: sealed,
                user_claim: remote_assist::db::sso::UserClaim::Email,
                provision: true,
                password_login_disabled: false,
                updated_at: self.now(),
            })
            .await
            .unwrap();
    }

    pub fn now(&self) -> i64 {
        use remote_assist::clock::Clock;
        self.clock.now_millis()
    }

    pub async fn add_user(&self, login_id: &str, role: Role, group: GroupId) -> Account {
        let hash = remote_assist::auth::password::hash_password(PASSWORD);
        let id = self
            .db
            .create_user(
                &NewUser {
                    login_id,
                    display_name: login_id,
                    role,
                    group_id: group,
                    password_hash: &hash,
                    must_change_password: false,
                },
                START,
            )
            .await
            .unwrap();
        Account {
            id,
            login_id: login_id.into(),
            group,
            role,
        }
    }

    pub async fn seed(&self) -> World {
        let group_a = self.db.create_group("Group A", START).await.unwrap().id;
        let group_b = self.db.create_group("Group B", START).await.unwrap().id;
        World {
            group_a,
            group_b,
            sysadmin: self.add_user("sysadmin", Role::SystemAdmin, group_a).await,
            admin_a: self.add_user("admin-a", Role::GroupAdmin, group_a).await,
            supporter_a: self.add_user("supporter-a", Role::Supporter, group_a).await,
            admin_b: self.add_user("admin-b", Role::GroupAdmin, group_b).await,
            supporter_b: self.add_user("supporter-b", Role::Supporter, group_b).await,
        }
    }

    /// Sends a request as a same-origin browser would (Host + Origin, cookie, CSRF token).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        session: Option<&Session>,
    ) -> (StatusCode, Value) {
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(header::HOST, HOST);
        if method != Method::GET {
            builder = builder.header(header::ORIGIN, ORIGIN);
        }
        if let Some(session) = session {
            builder = builder
                .header(header::COOKIE, &session.cookie)
                .header("x-csrf-token", &session.csrf);
        }
        let request = match body {
            Some(json) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(json.to_string())),
            None => builder.body(Body::empty()),
        }
        .unwrap();
        let response = self.send(request).await;
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, json)
    }

    pub async fn send(&self, request: Request<Body>) -> axum::response::Response {
        self.router.clone().oneshot(request).await.unwrap()
    }

    pub async fn get(&self, path: &str, session: &Session) -> (StatusCode, Value) {
        self.call(Method::GET, path, None, Some(session)).await
    }

    pub async fn post(&self, path: &str, body: Value, session: &Session) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body), Some(session))
            .await
    }

    /// Logs in through the API; panics unless it succeeds.
    pub async fn login(&self, login_id: &str, password: &str) -> Session {
        let (session, status, body) = self.try_login(login_id, password).await;
        assert_eq!(status, StatusCode::OK, "login {login_id}: {body}");
        session.unwrap()
    }

    pub async fn login_as(&self, account: &Account) -> Session {
        self.login(&account.login_id, PASSWORD).await
    }

    pub async fn try_login(
        &self,
        login_id: &str,
        password: &str,
    ) -> (Option<Session>, StatusCode, Value) {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/api/auth/login")
            .header(header::HOST, HOST)
            .header(header::ORIGIN, ORIGIN)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                serde_json::json!({"login_id": login_id, "password": password}).to_string(),
            ))
            .unwrap();
        let response = self.send(request).await;
        let status = response.status();
        let cookie = response
            .headers()
            .get(header::SET_COOKIE)
            .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let session = cookie.map(|cookie| Session {
            cookie,
            csrf: body["csrf_token"].as_str().unwrap_or_default().to_owned(),
        });
        (session, status, body)
    }
}

/// The `error.code` of an error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}
