//! Random secrets (session tokens, CSRF tokens, device credentials, pairing codes) and the
//! one-way hash under which they are stored.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};

/// 256 random bits, URL-safe base64 (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Device credentials carry a prefix so that leaked ones are recognisable in logs and scanners.
pub const DEVICE_CREDENTIAL_PREFIX: &str = "radev_";

pub fn new_device_credential() -> String {
    format!("{DEVICE_CREDENTIAL_PREFIX}{}", random_token())
}

/// Letters and digits a person can read off a screen and type without confusing them
/// (no 0/O, 1/I/L, 2/Z, 5/S, 8/B).
const PAIRING_ALPHABET: &[u8] = b"ACDEFGHJKMNPQRTUVWXY34679";
const PAIRING_GROUPS: usize = 3;
const PAIRING_GROUP_LEN: usize = 4;

/// A pairing code such as `KX7C-MQ4V-T9AD`: 12 characters of a 25-letter alphabet, about 56
/// bits, far beyond guessing within its 10-minute life.
pub fn new_pairing_code() -> String {
    let mut rng = rand::rngs::OsRng;
    let groups: Vec<String> = (0..PAIRING_GROUPS)
        .map(|_| {
            (0..PAIRING_GROUP_LEN)
                .map(|_| PAIRING_ALPHABET[rng.gen_range(0..PAIRING_ALPHABET.len())] as char)
                .collect()
        })
        .collect();
    groups.join("-")
}

/// Canonical form of a typed pairing code: upper case, no spaces or dashes.
pub fn normalize_pairing_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

/// SHA-256, hex. Enough for high-entropy secrets; passwords use argon2id instead.
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
        assert!(new_device_credential().starts_with(DEVICE_CREDENTIAL_PREFIX));
    }

    #[test]
    fn pairing_codes_normalize() {
        let code = new_pairing_code();
        assert_eq!(code.len(), 14);
        let typed = code.to_lowercase().replace('-', " ");
        assert_eq!(normalize_pairing_code(&typed), code.replace('-', ""));
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }
}
