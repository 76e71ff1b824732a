//! First start: on an empty database, create the first system administrator with a one-time
//! password that is shown once on standard output and never logged.

use rand::Rng;

use crate::auth::password;
use crate::db::audit::{ActorKind, NewAuditEvent, Outcome};
use crate::db::users::{NewUser, Role};
use crate::db::{Db, DbResult};

/// Login ID of the first administrator.
pub const FIRST_ADMIN_LOGIN_ID: &str = "admin";
/// Group the first administrator belongs to (every account belongs to a group).
pub const FIRST_GROUP_NAME: &str = "Default";

/// A random password that satisfies the policy: 20 characters with letters and digits.
pub fn one_time_password() -> String {
    const LETTERS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    let mut rng = rand::rngs::OsRng;
    loop {
        let candidate: String = (0..20)
            .map(|_| {
                let pool = if rng.gen_bool(0.3) { DIGITS } else { LETTERS };
                pool[rng.gen_range(0..pool.len())] as char
            })
            .collect();
        if password::check_policy(&candidate, FIRST_ADMIN_LOGIN_ID).is_empty() {
            return candidate;
        }
    }
}

/// Creates the first administrator if there are no users. Returns the one-time password when it
/// did, so the caller can show it exactly once.
pub async fn ensure_first_admin(db: &Db, now: i64) -> DbResult<Option<String>> {
    if db.count_users().await? > 0 {
        return Ok(None);
    }
    let group = match db.group_by_name(FIRST_GROUP_NAME).await? {
        Some(group) => group,
        None => db.create_group(FIRST_GROUP_NAME, now).await?,
    };
    let secret = one_time_password();
    let hash = password::hash_password_async(secret.clone()).await;
    let id = db
        .create_user(
            &NewUser {
                login_id: FIRST_ADMIN_LOGIN_ID,
                display_name: "System administrator",
                role: Role::SystemAdmin,
                group_id: group.id,
                password_hash: &hash,
                must_change_password: true,
            },
            now,
        )
        .await?;
    db.insert_audit_event(&NewAuditEvent {
        at: now,
        actor_kind: ActorKind::System,
        actor_id: None,
        actor_label: Some("bootstrap".into()),
        group_id: Some(group.id.to_string()),
        action: "user.create",
        target: Some(id.to_string()),
        client_ip: None,
        user_agent: None,
        outcome: Outcome::Success,
        detail: Some("first system administrator".into()),
    })
    .await?;
    Ok(Some(secret))
}

/// The banner printed once on first start.
pub fn first_admin_banner(password: &str) -> String {
    format!(
        "================================================================\n\
         Initial system administrator created (this password is shown only once):\n\
         \x20 login ID: {FIRST_ADMIN_LOGIN_ID}\n\
         \x20 password: {password}\n\
         You must change it at the first login.\n\
         ================================================================"
    )
}
