//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): HMAC-SHA-1, six digits,
//! 30-second steps, which every authenticator app (Google, Microsoft, 1Password, FreeOTP, ...)
//! speaks. A code is accepted for the current step and one step either side (clock drift);
//! the caller stores the step that was accepted so the same code cannot be used twice.
//! Recovery codes are ten random base32 characters shown once and stored hashed.

use hmac::{Hmac, Mac};
use rand::RngCore;

/// Seconds per step.
pub const STEP_SECS: i64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Steps accepted either side of now.
pub const DRIFT_STEPS: i64 = 1;
/// Recovery codes issued at enrolment.
pub const RECOVERY_CODES: usize = 10;

/// The RFC 4226 code for `counter`.
pub fn hotp(secret: &[u8], counter: u64) -> u32 {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let value = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    value % 10u32.pow(DIGITS)
}

/// The step that `unix_millis` falls in.
pub fn step_at(unix_millis: i64) -> i64 {
    unix_millis.div_euclid(1000).div_euclid(STEP_SECS)
}

/// The step whose code `code` is, within the drift window around `now`, if any. The code is
/// compared in constant time per candidate.
pub fn matching_step(secret: &[u8], code: &str, now_millis: i64) -> Option<i64> {
    let code = normalize(code);
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(now_millis);
    let mut found = None;
    for step in (now - DRIFT_STEPS)..=(now + DRIFT_STEPS) {
        let Ok(counter) = u64::try_from(step) else {
            continue;
        };
        let expected = format!("{:0width$}", hotp(secret, counter), width = DIGITS as usize);
        if super::tokens::constant_time_eq(&expected, &code) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// Spaces and dashes people type or paste are ignored.
fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect()
}

/// Base32 without padding, as authenticator apps expect it.
pub fn base32(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

/// The `otpauth://` URI an authenticator app scans.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let label = format!("{issuer}:{account}");
    format!(
        "otpauth://totp/{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        url::form_urlencoded::byte_serialize(label.as_bytes()).collect::<String>(),
        base32(secret),
        url::form_urlencoded::byte_serialize(issuer.as_bytes()).collect::<String>(),
    )
}

/// New recovery codes, shown as `xxxxx-xxxxx` (50 random bits each).
pub fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 7];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let text = data_encoding::BASE32_NOPAD.encode(&bytes).to_lowercase();
            format!("{}-{}", &text[..5], &text[5..10])
        })
        .collect()
}

/// The stored form of a recovery code: its SHA-256, after the same normalisation as input.
pub fn recovery_code_hash(code: &str) -> String {
    super::tokens::sha256_hex(&normalize(code).to_lowercase())
}

/// Whether input looks like a recovery code rather than a TOTP code.
pub fn looks_like_recovery_code(code: &str) -> bool {
    let code = normalize(code);
    code.len() == 10 && code.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 column (eight digits there; we use the last six).
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, eight_digits) in [
            (59_i64, 94287082_u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            let step = step_at(time * 1000);
            assert_eq!(
                hotp(secret, step as u64),
                eight_digits % 1_000_000,
                "T = {time}"
            );
        }
    }

    #[test]
    fn codes_are_accepted_within_one_step_of_drift_only() {
        let secret = [7u8; 32];
        let now = 1_800_000_000_000_i64;
        let step = step_at(now);
        let code = |s: i64| format!("{:06}", hotp(&secret, s as u64));
        assert_eq!(matching_step(&secret, &code(step), now), Some(step));
        assert_eq!(matching_step(&secret, &code(step - 1), now), Some(step - 1));
        assert_eq!(matching_step(&secret, &code(step + 1), now), Some(step + 1));
        assert_eq!(matching_step(&secret, &code(step - 2), now), None);
        assert_eq!(matching_step(&secret, &code(step + 2), now), None);
        let spaced = format!("{} {}", &code(step)[..3], &code(step)[3..]);
        assert_eq!(matching_step(&secret, &spaced, now), Some(step));
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert_eq!(matching_step(&secret, "abcdef", now), None);
        assert_eq!(matching_step(&[8u8; 32], &code(step), now), None);
    }

    #[test]
    fn recovery_codes_are_distinct_and_normalised_before_hashing() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), RECOVERY_CODES);
        for code in &codes {
            assert!(looks_like_recovery_code(code), "{code}");
            assert_eq!(
                recovery_code_hash(code),
                recovery_code_hash(&code.to_uppercase().replace('-', " "))
            );
        }
        assert!(!looks_like_recovery_code("123456"));
    }

    #[test]
    fn the_uri_carries_issuer_account_and_secret() {
        let uri = otpauth_uri("remote-assist", "taro@example", b"12345678901234567890");
        assert!(
            uri.starts_with("otpauth://totp/remote-assist%3Ataro%40example?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=remote-assist"),
            "{uri}"
        );
    }
}
