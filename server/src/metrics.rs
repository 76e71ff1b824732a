//! Process counters exported at `/metrics` in the Prometheus text format (R13).
//!
//! Counters are plain atomics bumped on the request path; the text is only built when scraped.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default, Debug)]
pub struct Metrics {
    pub http_requests_2xx: AtomicU64,
    pub http_requests_3xx: AtomicU64,
    pub http_requests_4xx: AtomicU64,
    pub http_requests_5xx: AtomicU64,
    pub logins_succeeded: AtomicU64,
    pub logins_failed: AtomicU64,
    pub lockouts: AtomicU64,
    pub csrf_rejections: AtomicU64,
    pub tls_handshake_failures: AtomicU64,
    /// Requests refused by a rate limit.
    pub rate_limited: AtomicU64,
    /// Supporter consoles with at least one camera (kept by the live hub).
    pub live_sessions: AtomicU64,
    /// Cameras in a live session.
    pub cameras_in_sessions: AtomicU64,
    /// Cameras with a signaling or WHIP connection.
    pub cameras_online: AtomicU64,
}

impl Metrics {
    pub fn count_status(&self, status: u16) {
        let counter = match status {
            200..=299 => &self.http_requests_2xx,
            300..=399 => &self.http_requests_3xx,
            400..=499 => &self.http_requests_4xx,
            _ => &self.http_requests_5xx,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Renders the exposition text; `live_sessions` and `up_since` come from the caller.
    pub fn render(&self, live_sessions: i64, start_time_secs: i64) -> String {
        let mut out = String::new();
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        out.push_str("# HELP ra_http_requests_total HTTP requests answered, by status class.\n");
        out.push_str("# TYPE ra_http_requests_total counter\n");
        for (class, counter) in [
            ("2xx", &self.http_requests_2xx),
            ("3xx", &self.http_requests_3xx),
            ("4xx", &self.http_requests_4xx),
            ("5xx", &self.http_requests_5xx),
        ] {
            let _ = writeln!(
                out,
                "ra_http_requests_total{{class=\"{class}\"}} {}",
                get(counter)
            );
        }
        let simple = [
            (
                "ra_logins_total",
                "Successful logins.",
                get(&self.logins_succeeded),
            ),
            (
                "ra_login_failures_total",
                "Failed logins (wrong ID or password, or locked).",
                get(&self.logins_failed),
            ),
            (
                "ra_lockouts_total",
                "Accounts locked after repeated failures.",
                get(&self.lockouts),
            ),
            (
                "ra_csrf_rejections_total",
                "State-changing requests refused by the CSRF check.",
                get(&self.csrf_rejections),
            ),
            (
                "ra_rate_limited_total",
                "Requests refused by a rate limit (429).",
                get(&self.rate_limited),
            ),
            (
                "ra_tls_handshake_failures_total",
                "TLS handshakes that failed (including refused old protocol versions).",
                get(&self.tls_handshake_failures),
            ),
        ];
        for (name, help, value) in simple {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP ra_login_sessions Live login sessions.\n# TYPE ra_login_sessions gauge\nra_login_sessions {live_sessions}"
        );
        for (name, help, value) in [
            (
                "ra_live_sessions",
                "Supporter consoles with at least one camera (rooms).",
                get(&self.live_sessions),
            ),
            (
                "ra_live_cameras_in_sessions",
                "Cameras in a live session.",
                get(&self.cameras_in_sessions),
            ),
            (
                "ra_live_cameras_online",
                "Cameras connected (signaling or WHIP).",
                get(&self.cameras_online),
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP ra_start_time_seconds Process start time (Unix seconds).\n# TYPE ra_start_time_seconds gauge\nra_start_time_seconds {start_time_secs}"
        );
        let _ = writeln!(
            out,
            "# HELP ra_build_info Build information.\n# TYPE ra_build_info gauge\nra_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        out
    }
}
