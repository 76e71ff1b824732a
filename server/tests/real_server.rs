//! The real binary: first start, TLS versions, the HTTP redirect listener, graceful shutdown and
//! configuration errors. Uses the system's `openssl` and `curl` as independent clients.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_remote-assist");

struct Server {
    child: Child,
    https: String,
    stdout_lines: Vec<String>,
    stderr_path: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the server on a free port and waits (bounded) for its "listening" line.
fn start(data_dir: &std::path::Path, extra: &[&str]) -> Server {
    let stderr_path = data_dir.with_extension("stderr.log");
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(data_dir)
        .args(["--listen", "127.0.0.1:0", "--media-port", "0"])
        .args(extra)
        .env_remove("RA_DATABASE_URL")
        .env("RA_LOG_LEVEL", "debug")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut lines = Vec::new();
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("server printed its listening line in time");
        let done = line.starts_with("listening on https://");
        lines.push(line);
        if done {
            break;
        }
    }
    let https = lines
        .last()
        .unwrap()
        .trim_start_matches("listening on ")
        .to_owned();
    // Keep draining stdout so the server never blocks on a full pipe.
    let extra_lines = std::thread::spawn(move || rx.iter().collect::<Vec<_>>());
    drop(extra_lines);
    Server {
        child,
        https,
        stdout_lines: lines,
        stderr_path,
    }
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl is installed (tests/run installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn openssl_handshake(addr: &str, version_flag: &str) -> (bool, String) {
    let host_port = addr.trim_start_matches("https://");
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            host_port,
            version_flag,
            "-servername",
            "localhost",
        ])
        // Old protocol versions are disabled at OpenSSL's default security level; lower it so
        // that the refusal we see is the server's, not our own client's.
        .args(["-cipher", "DEFAULT@SECLEVEL=0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is installed (tests/run installs it)");
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let established = text.contains("Cipher is ") && !text.contains("Cipher is (NONE)");
    (established, text)
}

#[test]
fn first_start_shows_a_one_time_password_once_and_never_logs_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start(&data, &[]);
    let banner = server.stdout_lines.join("\n");
    let password = server
        .stdout_lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("password: "))
        .expect("first start prints the password")
        .to_owned();
    assert!(banner.contains("login ID: admin"));
    assert!(password.len() >= 16);
    let login = curl(&[
        "-H",
        "content-type: application/json",
        "-d",
        &format!(r#"{{"login_id":"admin","password":"{password}"}}"#),
        &format!("{}/api/auth/login", server.https),
    ]);
    assert!(login.contains("\"must_change_password\":true"), "{login}");
    let cert = std::fs::read(data.join("tls/self-signed-cert.pem")).unwrap();
    // Phones reach the server by the machine's name or address: all are in the certificate.
    let names = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(data.join("tls/self-signed-cert.pem"))
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&names.stdout);
    assert!(names.contains("DNS:localhost"), "{names}");
    assert!(names.contains("IP Address:127.0.0.1"), "{names}");
    let hostname = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let hostname = hostname.trim();
    if !hostname.is_empty() {
        assert!(names.contains(&format!("DNS:{hostname}")), "{names}");
    }
    let stderr_path = server.stderr_path.clone();
    drop(server);
    let logs = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(
        !logs.contains(&password),
        "the password must not reach the logs"
    );

    let again = start(&data, &[]);
    assert!(
        !again.stdout_lines.iter().any(|l| l.contains("password:")),
        "shown only on the first start"
    );
    assert_eq!(
        cert,
        std::fs::read(data.join("tls/self-signed-cert.pem")).unwrap(),
        "certificate reused"
    );
}

#[test]
fn only_tls_1_2_and_1_3_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"), &[]);
    let (ok13, text) = openssl_handshake(&server.https, "-tls1_3");
    assert!(ok13, "TLS 1.3 works:\n{text}");
    let (ok12, text) = openssl_handshake(&server.https, "-tls1_2");
    assert!(ok12, "TLS 1.2 works:\n{text}");
    for old in ["-tls1_1", "-tls1"] {
        let (ok, text) = openssl_handshake(&server.https, old);
        assert!(!ok, "{old} must be refused:\n{text}");
        // The client offered the old version and the server answered with an alert: the
        // refusal came from the server, not from a client that could not speak the version.
        assert!(text.contains("CONNECTED"), "{old}: {text}");
        assert!(
            text.contains("alert"),
            "{old}: server alert expected: {text}"
        );
    }
    // The refusals were the server's: it counted them.
    let metrics = curl(&[&format!("{}/metrics", server.https)]);
    let failures: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("ra_tls_handshake_failures_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        failures >= 2,
        "server saw the old-version handshakes: {metrics}"
    );
}

#[test]
fn plain_http_only_redirects_to_https() {
    let dir = tempfile::tempdir().unwrap();
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let http_addr = probe.local_addr().unwrap().to_string();
    drop(probe);
    let server = start(
        &dir.path().join("data"),
        &["--http-redirect-listen", &http_addr],
    );
    let https_port = server.https.rsplit(':').next().unwrap().to_owned();
    let out = curl(&["-i", &format!("http://{http_addr}/admin?tab=users")]);
    assert!(out.starts_with("HTTP/1.1 308"), "{out}");
    assert!(
        out.contains(&format!(
            "location: https://127.0.0.1:{https_port}/admin?tab=users"
        )),
        "{out}"
    );
    let api = curl(&[
        "-i",
        "-X",
        "POST",
        &format!("http://{http_addr}/api/auth/login"),
    ]);
    assert!(
        api.starts_with("HTTP/1.1 308"),
        "no API over plain HTTP: {api}"
    );
    assert!(!api.contains("set-cookie"));
}

#[test]
fn sigterm_stops_the_server_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(&dir.path().join("data"), &[]);
    assert!(curl(&[&format!("{}/healthz", server.https)]).contains("ok"));
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "clean exit: {status}");
            break;
        }
        assert!(Instant::now() < deadline, "did not stop within 15 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let logs = std::fs::read_to_string(&server.stderr_path).unwrap();
    assert!(logs.contains("shutdown signal received"));
}

#[test]
fn bad_configuration_stops_with_a_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .env("RA_TIME_ZONE", "Tokyo")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("time_zone") && text.contains("Asia/Tokyo"),
        "{text}"
    );

    let config = dir.path().join("ra.toml");
    std::fs::write(&config, "listen = 8443\n").unwrap();
    let out = Command::new(BIN)
        .args(["--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen"));

    let out = Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .env("RA_DATABASE_URL", "mysql://root:s3cret-value@db/x")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text.contains("database_url") && !text.contains("s3cret-value"),
        "{text}"
    );
}

#[test]
fn json_logs_carry_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"), &["--log-format", "json"]);
    let headers = curl(&["-i", &format!("{}/api/me", server.https)]);
    let request_id = headers
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .expect("every response carries its request ID")
        .trim()
        .to_owned();
    let stderr_path = server.stderr_path.clone();
    drop(server);
    let logs = std::fs::read_to_string(&stderr_path).unwrap();
    let mut lines = 0;
    let mut with_id = 0;
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(
            value["timestamp"].is_string() && value["level"].is_string(),
            "{line}"
        );
        lines += 1;
        if line.contains(&request_id) {
            with_id += 1;
        }
    }
    assert!(lines > 0, "the server logged nothing");
    assert!(
        with_id > 0,
        "no log line names request {request_id}:\n{logs}"
    );
}
