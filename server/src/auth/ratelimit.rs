//! Rate limits (issue "enterprise security" 4): token buckets per client address for logins,
//! pairing and the API as a whole, and per account for logins. A request over its limit gets
//! `429 rate_limited` with `Retry-After`; nothing else happens to it.
//!
//! The buckets live in memory (one server). Each has `capacity` tokens refilled evenly over a
//! minute; idle full buckets are dropped when the table grows, so an address sweep cannot grow
//! it without bound.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::error::ApiError;
use crate::state::AppState;

/// What a bucket limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    LoginByAddress,
    LoginByAccount,
    PairingByAddress,
    ApiByAddress,
}

/// Buckets kept before idle ones are swept.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<(Scope, String), Bucket>>,
}

impl RateLimiter {
    /// Takes a token from the bucket of (`scope`, `key`) that holds `per_minute`; `Err` with the
    /// seconds until the next token when it is empty.
    pub fn check(&self, scope: Scope, key: &str, per_minute: u32, now: Instant) -> Result<(), u64> {
        let capacity = f64::from(per_minute.max(1));
        let refill_per_sec = capacity / 60.0;
        let mut buckets = self.buckets.lock().expect("rate limiter never poisoned");
        if buckets.len() > SWEEP_ABOVE {
            buckets.retain(|(scope, _), b| {
                let _ = scope;
                now.duration_since(b.updated).as_secs() < 120
            });
        }
        let bucket = buckets.entry((scope, key.to_owned())).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * refill_per_sec).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / refill_per_sec).ceil().max(1.0) as u64)
        }
    }
}

/// The 429 answer (with `Retry-After`).
pub fn too_many(retry_after: u64) -> Response {
    ApiError::rate_limited(retry_after).into_response()
}

fn address_key(req: &Request) -> String {
    req.extensions()
        .get::<super::network::EffectiveIp>()
        .map(|ip| ip.0)
        .or_else(|| {
            req.extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip())
        })
        .map_or_else(|| "unknown".to_owned(), |ip: IpAddr| ip.to_string())
}

/// Middleware: the per-address limits of logins, pairing and the whole API.
pub async fn limit_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let config = &state.config;
    let limit = match (req.method(), path) {
        (&Method::POST, "/api/auth/login")
        | (&Method::GET, "/api/auth/sso/start" | "/api/auth/sso/callback") => {
            Some((Scope::LoginByAddress, config.rate_limit_login_per_minute))
        }
        (&Method::POST, "/api/pair") => Some((
            Scope::PairingByAddress,
            config.rate_limit_pairing_per_minute,
        )),
        (_, p) if p.starts_with("/api/") || p.starts_with("/whip/") => {
            Some((Scope::ApiByAddress, config.rate_limit_api_per_minute))
        }
        _ => None,
    };
    if let Some((scope, per_minute)) = limit {
        let key = address_key(&req);
        let now = Instant::now();
        // A login also counts against the API budget.
        let mut outcome = state.rate_limits.check(scope, &key, per_minute, now);
        if outcome.is_ok() && scope != Scope::ApiByAddress {
            outcome = state.rate_limits.check(
                Scope::ApiByAddress,
                &key,
                config.rate_limit_api_per_minute,
                now,
            );
        }
        if let Err(retry_after) = outcome {
            state
                .metrics
                .rate_limited
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return too_many(retry_after);
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn buckets_empty_and_refill() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(limiter.check(Scope::LoginByAddress, "a", 5, t0).is_ok());
        }
        let wait = limiter
            .check(Scope::LoginByAddress, "a", 5, t0)
            .unwrap_err();
        assert_eq!(wait, 12, "one token every 12 s at 5 a minute");
        assert!(
            limiter.check(Scope::LoginByAddress, "b", 5, t0).is_ok(),
            "per key"
        );
        assert!(
            limiter.check(Scope::PairingByAddress, "a", 5, t0).is_ok(),
            "per scope"
        );
        assert!(
            limiter
                .check(Scope::LoginByAddress, "a", 5, t0 + Duration::from_secs(12))
                .is_ok()
        );
        assert!(
            limiter
                .check(Scope::LoginByAddress, "a", 5, t0 + Duration::from_secs(13))
                .is_err()
        );
    }
}
