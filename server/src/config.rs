//! Configuration: built-in defaults, then `remote-assist.toml`, then `RA_*` environment variables,
//! then command-line flags, each layer overriding the one before.
//!
//! Everything is validated once at start-up; a problem stops the server with a message that says
//! which setting is wrong and how to fix it. Secrets (the database URL may hold a password) are
//! wrapped in [`Secret`] so that they never appear in `Debug` output or logs.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// A value that must never be printed.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

/// The whole server configuration. Field names are the TOML keys; the environment variable is
/// `RA_` + the upper-case key (for example `RA_DATA_DIR`, `RA_LISTEN`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the embedded defaults keep their state: SQLite database, objects, TLS certificate.
    pub data_dir: PathBuf,
    /// HTTPS listen address.
    pub listen: SocketAddr,
    /// Optional plain-HTTP listener that only redirects to HTTPS.
    pub http_redirect_listen: Option<SocketAddr>,
    /// The address people use to reach the server, e.g. `https://assist.example.co.jp`. Used in
    /// pairing links. When unset, links are built from the request's Host header.
    pub public_url: Option<String>,
    /// `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DB`. Default: SQLite in `data_dir`.
    pub database_url: Option<Secret>,
    /// PEM certificate chain and private key. When both are unset a self-signed certificate is
    /// generated in `data_dir/tls` on first start and reused afterwards.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Local object store directory (recordings and snapshots). Default: `data_dir/objects`.
    pub objects_dir: Option<PathBuf>,
    /// IANA time zone used to show times to people (storage is always UTC).
    pub time_zone: String,
    pub log_format: LogFormat,
    /// `tracing` filter, e.g. `info` or `remote_assist=debug,info`.
    pub log_level: String,
    pub session_idle_timeout_secs: u64,
    pub session_absolute_timeout_secs: u64,
    /// Failed logins within `lockout_window_secs` that lock an account.
    pub lockout_threshold: u32,
    pub lockout_window_secs: u64,
    pub lockout_duration_secs: u64,
    pub pairing_code_ttl_secs: u64,
    /// Cameras one supporter may have in a session at once (R1).
    pub max_cameras_per_session: u32,
    /// A signaling connection silent for this long is closed (pings go out every third of it).
    pub signaling_dead_after_secs: u64,
    /// UDP port all media (WebRTC) uses, on the IP of `listen`. 0 picks a free port.
    pub media_port: u16,
    /// IP address advertised in ICE candidates, e.g. the public IP behind NAT. Default: the IP
    /// of `listen`, or the machine's first non-loopback address when that is 0.0.0.0.
    pub media_public_ip: Option<std::net::IpAddr>,
    /// Real-time (`SCHED_RR`) priority of the media worker thread, 1–99; 0 = normal
    /// scheduling. Needs `CAP_SYS_NICE` or `LimitRTPRIO`; without, media runs at normal
    /// priority (logged, and `ra_media_worker_realtime_priority` is 0).
    pub media_realtime_priority: u8,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Record every camera of every session (R5–R7).
    pub recording_enabled: bool,
    /// Days a recording is kept before it is deleted automatically.
    pub recording_retention_days: u32,
    /// File holding the master key (64 hex characters) that wraps recording keys. Default:
    /// `data_dir/keys/master.hex`, generated on first start.
    pub master_key_file: Option<PathBuf>,
    /// The master key itself (64 hex characters), e.g. from a secrets manager through
    /// `RA_MASTER_KEY`; when set, `master_key_file` is not used.
    pub master_key: Option<Secret>,
    /// ID of that master key, stored with every wrapped key (change it when rotating).
    pub master_key_id: String,
    /// Earlier master keys still needed to unwrap older recordings' keys after a rotation, as
    /// `"ID:PATH"` entries (e.g. `["k1:/etc/remote-assist/k1.hex"]`). `remote-assist admin
    /// rewrap-keys` moves every key to the current master key, after which they can go.
    pub previous_master_keys: Vec<String>,
    /// Where recordings go: `local` (the `objects_dir` directory) or `s3`.
    pub object_store: ObjectStoreKind,
    /// S3 endpoint URL for S3-compatible stores; unset for AWS itself.
    pub s3_endpoint: Option<String>,
    pub s3_region: String,
    pub s3_bucket: Option<String>,
    /// Path-style addressing (`https://host/bucket/key`), needed by most S3-compatible stores.
    pub s3_path_style: bool,
    /// Static credentials; when unset the usual AWS chain (environment, profile, role) is used.
    pub s3_access_key: Option<String>,
    pub s3_secret_key: Option<Secret>,
    /// Key prefix for every object of this server, e.g. `remote-assist/`.
    pub s3_prefix: String,
    /// Install a bucket lifecycle rule at start that expires recordings and snapshots
    /// `recording_retention_days + 1` days after they were written: a backstop behind the
    /// server's own retention job (which deletes them, and their keys, on time).
    pub s3_lifecycle_rule: bool,
    /// Reverse proxies (CIDRs) whose `X-Forwarded-For` gives the client address; from anyone
    /// else the header is ignored.
    pub trusted_proxies: Vec<String>,
    /// Requests per minute and client address: logins, pairing, the whole API; and logins per
    /// minute and account.
    pub rate_limit_login_per_minute: u32,
    pub rate_limit_pairing_per_minute: u32,
    pub rate_limit_api_per_minute: u32,
    pub rate_limit_login_per_account_per_minute: u32,
    /// Back the database up to the object store (encrypted) every `backup_interval_hours`.
    pub backup_enabled: bool,
    pub backup_interval_hours: u32,
    /// Backups kept (older ones are deleted).
    pub backup_generations: u32,
    /// Local directory where objects bound for S3 are spooled until S3 has them (a store outage
    /// or a restart loses nothing). Default: `data_dir/spool`.
    pub spool_dir: Option<PathBuf>,
}

/// Which object store holds recordings.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ObjectStoreKind {
    #[default]
    Local,
    S3,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            listen: SocketAddr::from(([0, 0, 0, 0], 8443)),
            http_redirect_listen: None,
            public_url: None,
            database_url: None,
            tls_cert: None,
            tls_key: None,
            objects_dir: None,
            time_zone: "Asia/Tokyo".into(),
            log_format: LogFormat::Pretty,
            // rtc_dtls warns about every unknown TLS extension a browser offers; keep its errors.
            log_level: "info,rtc_dtls=error".into(),
            session_idle_timeout_secs: 30 * 60,
            session_absolute_timeout_secs: 12 * 60 * 60,
            lockout_threshold: 5,
            lockout_window_secs: 15 * 60,
            lockout_duration_secs: 15 * 60,
            pairing_code_ttl_secs: 10 * 60,
            max_cameras_per_session: 4,
            signaling_dead_after_secs: 25,
            media_port: 8443,
            media_public_ip: None,
            media_realtime_priority: remote_assist_sfu::DEFAULT_REALTIME_PRIORITY,
            max_body_bytes: 64 * 1024,
            recording_enabled: true,
            recording_retention_days: 30,
            master_key_file: None,
            master_key_id: "k1".into(),
            object_store: ObjectStoreKind::Local,
            s3_endpoint: None,
            s3_region: "ap-northeast-1".into(),
            s3_bucket: None,
            s3_path_style: false,
            s3_access_key: None,
            s3_secret_key: None,
            s3_prefix: String::new(),
            s3_lifecycle_rule: false,
            spool_dir: None,
            trusted_proxies: Vec::new(),
            rate_limit_login_per_minute: 30,
            rate_limit_pairing_per_minute: 10,
            rate_limit_api_per_minute: 1200,
            rate_limit_login_per_account_per_minute: 10,
            backup_enabled: true,
            backup_interval_hours: 24,
            backup_generations: 7,
            previous_master_keys: Vec::new(),
            master_key: None,
        }
    }
}

/// Values given on the command line; only the ones present override the other layers.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CliOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_redirect_listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_public_ip: Option<std::net::IpAddr>,
}

/// Why the configuration cannot be used. The text tells the operator what to change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration could not be read: {0}")]
    Load(String),
    #[error("{0}")]
    Invalid(String),
}

/// The default config file, used when present and no other file is named.
pub const DEFAULT_CONFIG_FILE: &str = "remote-assist.toml";

impl Config {
    /// Loads defaults -> TOML file -> `RA_*` environment -> CLI flags, then validates.
    pub fn load(config_file: Option<&Path>, cli: &CliOverrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match config_file {
            Some(path) => {
                if !path.is_file() {
                    return Err(ConfigError::Invalid(format!(
                        "config file {} does not exist; create it or drop --config",
                        path.display()
                    )));
                }
                figment = figment.merge(Toml::file_exact(path));
            }
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_FILE));
            }
            None => {}
        }
        // RA_CONFIG names the file itself and is not a setting.
        figment = figment
            .merge(Env::prefixed("RA_").ignore(&["config"]))
            .merge(Serialized::defaults(cli));
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Load(describe_figment_error(e)))?;
        config.validate()?;
        Ok(config)
    }

    /// Parses a config file's text over the defaults, without environment or flags, and
    /// validates it: the file layer of [`Config::load`] on its own (the config fuzz target
    /// feeds it arbitrary text).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(text))
            .extract()
            .map_err(|e| ConfigError::Load(describe_figment_error(e)))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every value that can be wrong in a way serde cannot see.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |msg: String| Err(ConfigError::Invalid(msg));
        if self.time_zone.parse::<chrono_tz::Tz>().is_err() {
            return invalid(format!(
                "time_zone = {:?} is not an IANA time zone name; use for example \"Asia/Tokyo\" or \"UTC\"",
                self.time_zone
            ));
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) | (None, Some(_)) => {
                return invalid(
                    "tls_cert and tls_key must be set together (or neither, for a self-signed certificate)"
                        .into(),
                );
            }
            (Some(cert), Some(key)) => {
                for (name, path) in [("tls_cert", cert), ("tls_key", key)] {
                    if !path.is_file() {
                        return invalid(format!(
                            "{name} = {} does not exist or is not a file",
                            path.display()
                        ));
                    }
                }
            }
            (None, None) => {}
        }
        if let Some(url) = &self.database_url {
            let url = url.expose();
            if !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
            {
                return invalid(
                    "database_url must start with sqlite:// or postgres:// (the value is not shown because it may contain a password)"
                        .into(),
                );
            }
        }
        if let Some(public_url) = &self.public_url {
            match url::Url::parse(public_url) {
                Ok(u) if u.scheme() == "https" && u.host().is_some() => {}
                _ => {
                    return invalid(format!(
                        "public_url = {public_url:?} must be an https:// URL such as https://assist.example.co.jp"
                    ));
                }
            }
        }
        let positive = [
            ("session_idle_timeout_secs", self.session_idle_timeout_secs),
            (
                "session_absolute_timeout_secs",
                self.session_absolute_timeout_secs,
            ),
            ("lockout_window_secs", self.lockout_window_secs),
            ("lockout_duration_secs", self.lockout_duration_secs),
            ("pairing_code_ttl_secs", self.pairing_code_ttl_secs),
            ("signaling_dead_after_secs", self.signaling_dead_after_secs),
            ("lockout_threshold", u64::from(self.lockout_threshold)),
            (
                "max_cameras_per_session",
                u64::from(self.max_cameras_per_session),
            ),
        ];
        for (name, value) in positive {
            if value == 0 {
                return invalid(format!("{name} must be greater than 0"));
            }
        }
        if self.session_idle_timeout_secs > self.session_absolute_timeout_secs {
            return invalid(
                "session_idle_timeout_secs must not exceed session_absolute_timeout_secs".into(),
            );
        }
        if let Err(problem) = crate::auth::network::parse_networks(&self.trusted_proxies) {
            return invalid(format!("trusted_proxies: {problem}"));
        }
        for (name, value) in [
            (
                "rate_limit_login_per_minute",
                self.rate_limit_login_per_minute,
            ),
            (
                "rate_limit_pairing_per_minute",
                self.rate_limit_pairing_per_minute,
            ),
            ("rate_limit_api_per_minute", self.rate_limit_api_per_minute),
            (
                "rate_limit_login_per_account_per_minute",
                self.rate_limit_login_per_account_per_minute,
            ),
        ] {
            if value == 0 {
                return invalid(format!("{name} must be greater than 0"));
            }
        }
        if self.backup_interval_hours == 0 || self.backup_interval_hours > 24 * 31 {
            return invalid("backup_interval_hours must be between 1 and 744".into());
        }
        if self.backup_generations == 0 || self.backup_generations > 1000 {
            return invalid("backup_generations must be between 1 and 1000".into());
        }
        if self.recording_retention_days == 0 || self.recording_retention_days > 3650 {
            return invalid("recording_retention_days must be between 1 and 3650".into());
        }
        if self.master_key_id.is_empty()
            || !self
                .master_key_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return invalid("master_key_id must be letters, digits, '-' or '_'".into());
        }
        if let Some(key) = &self.master_key {
            let text = key.expose().trim();
            if text.len() != 64 || !text.chars().all(|c| c.is_ascii_hexdigit()) {
                return invalid(
                    "master_key must be 64 hex characters (32 bytes), e.g. from `openssl rand -hex 32` (the value is not shown)"
                        .into(),
                );
            }
        }
        for entry in &self.previous_master_keys {
            match entry.split_once(':') {
                Some((id, path)) if !id.is_empty() && !path.is_empty() => {
                    if id == self.master_key_id {
                        return invalid(format!(
                            "previous_master_keys names {id:?}, which is the current master_key_id"
                        ));
                    }
                }
                _ => {
                    return invalid(format!(
                        "previous_master_keys entry {entry:?} must be \"ID:PATH\", e.g. \"k1:/etc/remote-assist/k1.hex\""
                    ));
                }
            }
        }
        if self.object_store == ObjectStoreKind::S3 {
            if self.s3_bucket.as_deref().is_none_or(str::is_empty) {
                return invalid("object_store = \"s3\" needs s3_bucket".into());
            }
            if self.s3_access_key.is_some() != self.s3_secret_key.is_some() {
                return invalid(
                    "set s3_access_key and s3_secret_key together, or neither (AWS credential chain)"
                        .into(),
                );
            }
            if let Some(endpoint) = &self.s3_endpoint
                && url::Url::parse(endpoint).is_err()
            {
                return invalid(format!(
                    "s3_endpoint = {endpoint:?} must be a URL such as https://s3.example.com"
                ));
            }
        }
        if self.max_cameras_per_session > 16 {
            return invalid(
                "max_cameras_per_session must be between 1 and 16 (a supporter's browser decodes every feed)"
                    .into(),
            );
        }
        if self.media_realtime_priority > 99 {
            return invalid(
                "media_realtime_priority must be between 0 (normal scheduling) and 99".into(),
            );
        }
        if self.max_body_bytes < 1024 {
            return invalid("max_body_bytes must be at least 1024".into());
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log_level).is_err() {
            return invalid(format!(
                "log_level = {:?} is not a valid filter; use for example \"info\" or \"remote_assist=debug,info\"",
                self.log_level
            ));
        }
        Ok(())
    }

    /// The UDP address the media worker binds.
    pub fn media_bind(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::new(self.listen.ip(), self.media_port)
    }

    /// The IP put into ICE candidates.
    pub fn media_advertised_ip(&self) -> std::net::IpAddr {
        if let Some(ip) = self.media_public_ip {
            return ip;
        }
        let bind = self.listen.ip();
        if !bind.is_unspecified() {
            return bind;
        }
        if_addrs::get_if_addrs()
            .ok()
            .and_then(|addrs| {
                addrs
                    .into_iter()
                    .map(|a| a.ip())
                    .find(|ip| ip.is_ipv4() && !ip.is_loopback())
            })
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))
    }

    pub fn master_key_file(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keys").join("master.hex"))
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::Asia::Tokyo)
    }

    /// Tail journals of running recordings (always on local disk, whatever the object store).
    pub fn journal_dir(&self) -> PathBuf {
        self.data_dir.join("journal")
    }

    pub fn spool_dir(&self) -> PathBuf {
        self.spool_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("spool"))
    }

    pub fn objects_dir(&self) -> PathBuf {
        self.objects_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("objects"))
    }

    /// The database URL in effect: the configured one or SQLite under `data_dir`.
    pub fn database_url(&self) -> Secret {
        match &self.database_url {
            Some(url) => url.clone(),
            None => Secret::new(format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("remote-assist.db").display()
            )),
        }
    }
}

/// Figment's messages name the key and the source (file, env var); keep that, drop nothing.
fn describe_figment_error(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let mut text = e.to_string();
            if let Some(md) = &e.metadata {
                text.push_str(&format!(" (from {})", md.name));
            }
            text
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
// figment's test jail returns its own (large) error type; nothing to shrink on our side.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn layers_override_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "remote-assist.toml",
                "time_zone = \"UTC\"\nlisten = \"127.0.0.1:9000\"\nlockout_threshold = 3\n",
            )?;
            jail.set_env("RA_LISTEN", "127.0.0.1:9001");
            let cli = CliOverrides {
                data_dir: Some("/tmp/ra-cli".into()),
                ..Default::default()
            };
            let config = Config::load(None, &cli).map_err(|e| e.to_string())?;
            assert_eq!(config.time_zone, "UTC"); // file
            assert_eq!(config.lockout_threshold, 3); // file
            assert_eq!(config.listen.port(), 9001); // env beats file
            assert_eq!(config.data_dir, PathBuf::from("/tmp/ra-cli")); // flag beats all
            assert_eq!(config.session_idle_timeout_secs, 1800); // default
            Ok(())
        });
    }

    #[test]
    fn a_file_text_is_read_like_the_file() {
        let config = Config::from_toml("time_zone = \"UTC\"\nlockout_threshold = 3\n").unwrap();
        assert_eq!(config.time_zone, "UTC");
        assert_eq!(config.lockout_threshold, 3);
        assert_eq!(config.session_idle_timeout_secs, 1800);
        for (text, says) in [
            ("lockout_threshold = \"many\"", "lockout_threshold"),
            ("time_zone = \"Mars/Olympus\"", "time_zone"),
            ("listen = [", "TOML"),
        ] {
            let error = Config::from_toml(text).unwrap_err().to_string();
            assert!(error.contains(says), "{text}: {error}");
        }
    }

    #[test]
    fn bad_values_are_refused_with_a_fix() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("RA_TIME_ZONE", "Mars/Olympus");
            let err = Config::load(None, &CliOverrides::default()).unwrap_err();
            assert!(err.to_string().contains("Asia/Tokyo"), "{err}");
            jail.set_env("RA_TIME_ZONE", "UTC");
            jail.set_env("RA_LISTEN", "not an address");
            let err = Config::load(None, &CliOverrides::default()).unwrap_err();
            assert!(err.to_string().to_lowercase().contains("listen"), "{err}");
            jail.set_env("RA_LISTEN", "127.0.0.1:1");
            jail.set_env("RA_MEDIA_REALTIME_PRIORITY", "100");
            let err = Config::load(None, &CliOverrides::default()).unwrap_err();
            assert!(err.to_string().contains("between 0"), "{err}");
            jail.set_env("RA_MEDIA_REALTIME_PRIORITY", "0");
            jail.create_file("remote-assist.toml", "no_such_setting = 1\n")?;
            let err = Config::load(None, &CliOverrides::default()).unwrap_err();
            assert!(err.to_string().contains("no_such_setting"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn secrets_are_not_printed() {
        let config = Config {
            database_url: Some(Secret::new("postgres://u:hunter2@db/x")),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
        let config = Config {
            database_url: Some(Secret::new("mysql://u:hunter2@db/x")),
            ..Config::default()
        };
        let err = config.validate().unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{err}");
        let config = Config {
            master_key: Some(Secret::new("0123456789abcdefnothex-hunter2")),
            ..Config::default()
        };
        let err = config.validate().unwrap_err().to_string();
        assert!(
            err.contains("master_key") && !err.contains("hunter2"),
            "{err}"
        );
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
