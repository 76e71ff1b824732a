//! Password hashing (argon2id) and the password policy (B1).
//!
//! Policy: 8–128 characters, at least one letter and one digit, not the login ID, not a common
//! password. Every rule that fails is reported, so a form can show all of them at once.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 128;

/// One broken rule of the password policy. The string form is the API's `details` code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyViolation {
    TooShort,
    TooLong,
    NeedsLetterAndDigit,
    EqualsLoginId,
    TooCommon,
}

impl PolicyViolation {
    pub fn code(self) -> &'static str {
        match self {
            PolicyViolation::TooShort => "password_too_short",
            PolicyViolation::TooLong => "password_too_long",
            PolicyViolation::NeedsLetterAndDigit => "password_needs_letter_and_digit",
            PolicyViolation::EqualsLoginId => "password_equals_login_id",
            PolicyViolation::TooCommon => "password_too_common",
        }
    }
}

const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    COMMON_PASSWORDS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .any(|common| common == lower)
}

/// Checks a candidate password; an empty result means it is acceptable.
pub fn check_policy(password: &str, login_id: &str) -> Vec<PolicyViolation> {
    let mut violations = Vec::new();
    let len = password.chars().count();
    if len < MIN_LEN {
        violations.push(PolicyViolation::TooShort);
    }
    if len > MAX_LEN {
        violations.push(PolicyViolation::TooLong);
    }
    let has_letter = password.chars().any(char::is_alphabetic);
    let has_digit = password.chars().any(|c| c.is_ascii_digit());
    if !(has_letter && has_digit) {
        violations.push(PolicyViolation::NeedsLetterAndDigit);
    }
    if !login_id.is_empty() && password.to_lowercase() == login_id.to_lowercase() {
        violations.push(PolicyViolation::EqualsLoginId);
    }
    if is_common(password) {
        violations.push(PolicyViolation::TooCommon);
    }
    violations
}

fn argon2() -> Argon2<'static> {
    // OWASP's first recommended argon2id setting: 19 MiB, 2 passes, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).expect("static argon2 params are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string (`$argon2id$v=19$...`). CPU-heavy: call from a blocking
/// thread in async code.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with valid params cannot fail")
        .to_string()
}

/// Verifies a password against a stored PHC string; a malformed hash never verifies.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password, verified against when the login ID does not exist so that the
/// response time does not reveal whether it does.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&crate::auth::tokens::random_token()))
}

/// Password hashing is deliberately expensive (19 MiB and tens of milliseconds each), so the
/// number running at once is capped: a flood of logins queues here instead of exhausting memory
/// and the blocking thread pool. One per core, at least two.
fn password_work() -> &'static tokio::sync::Semaphore {
    static WORK: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    WORK.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores.clamp(2, 8))
    })
}

/// How long a request waits for a hashing slot before it is answered "busy".
const PASSWORD_WORK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Too many password checks are running; try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordBusy;

async fn with_password_slot<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PasswordBusy> {
    let permit = tokio::time::timeout(PASSWORD_WORK_WAIT, password_work().acquire())
        .await
        .map_err(|_| PasswordBusy)?
        .map_err(|_| PasswordBusy)?;
    let result = tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| PasswordBusy);
    drop(permit);
    result
}

/// Verifies within the concurrency cap (request handlers use this).
pub async fn verify_password_limited(password: String, phc: String) -> Result<bool, PasswordBusy> {
    with_password_slot(move || verify_password(&password, &phc)).await
}

/// Hashes within the concurrency cap (request handlers use this).
pub async fn hash_password_limited(password: String) -> Result<String, PasswordBusy> {
    with_password_slot(move || hash_password(&password)).await
}

/// Hashes on the blocking pool (CLI and start-up; not capped).
pub async fn hash_password_async(password: String) -> String {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .expect("password hashing task panicked")
}

/// Verifies on the blocking pool.
pub async fn verify_password_async(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || verify_password(&password, &phc))
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_reports_every_broken_rule() {
        assert_eq!(check_policy("Kx7#mQ2v", "tanaka"), vec![]);
        assert_eq!(
            check_policy("short1", "tanaka"),
            vec![PolicyViolation::TooShort]
        );
        assert_eq!(
            check_policy("onlyletters", "tanaka"),
            vec![PolicyViolation::NeedsLetterAndDigit]
        );
        assert_eq!(
            check_policy("12345678", "tanaka"),
            vec![PolicyViolation::NeedsLetterAndDigit]
        );
        assert_eq!(
            check_policy("Tanaka2026", "tanaka2026"),
            vec![PolicyViolation::EqualsLoginId]
        );
        assert_eq!(
            check_policy("Password1", "tanaka"),
            vec![PolicyViolation::TooCommon]
        );
        let long = format!("a1{}", "x".repeat(127));
        assert_eq!(check_policy(&long, "t"), vec![PolicyViolation::TooLong]);
        // Japanese letters count as letters; length is in characters, not bytes.
        assert_eq!(check_policy("現場作業員です1", "t"), vec![]);
    }

    #[test]
    fn hashes_verify_and_are_argon2id() {
        let phc = hash_password("Kx7#mQ2v");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("Kx7#mQ2v", &phc));
        assert!(!verify_password("Kx7#mQ2w", &phc));
        assert!(!verify_password("Kx7#mQ2v", "not a hash"));
    }
}
