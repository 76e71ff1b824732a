//! API errors: one catalogue of codes, each with an HTTP status and an English and a Japanese
//! message, rendered as `{"error": {"code", "message", "message_ja", "details"?}}`.
//!
//! Internal failures are logged with their cause and answered with a bare "internal error", so
//! no SQL, path or stack detail ever reaches a client.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::db::DbError;

/// Every error the API can answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    NotAuthenticated,
    LoginFailed,
    CsrfRejected,
    Forbidden,
    PasswordChangeRequired,
    NotFound,
    RouteNotFound,
    MethodNotAllowed,
    NameTaken,
    LoginIdTaken,
    GroupNotEmpty,
    CannotDeleteSelf,
    PasswordPolicy,
    CurrentPasswordWrong,
    PairingCodeInvalid,
    DeviceCredentialInvalid,
    DeviceRevoked,
    InvalidInput,
    RecordingInProgress,
    PayloadTooLarge,
    UnsupportedMediaType,
    Damaged,
    StoreUnavailable,
    NotInSession,
    AlreadyExists,
    RateLimited,
    IpNotAllowed,
    MfaCodeInvalid,
    MfaRequiredByGroup,
    SsoRequired,
    SsoFailed,
    Internal,
    Unavailable,
}

impl ErrorCode {
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::NotAuthenticated,
        ErrorCode::LoginFailed,
        ErrorCode::CsrfRejected,
        ErrorCode::Forbidden,
        ErrorCode::PasswordChangeRequired,
        ErrorCode::NotFound,
        ErrorCode::RouteNotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::NameTaken,
        ErrorCode::LoginIdTaken,
        ErrorCode::GroupNotEmpty,
        ErrorCode::CannotDeleteSelf,
        ErrorCode::PasswordPolicy,
        ErrorCode::CurrentPasswordWrong,
        ErrorCode::PairingCodeInvalid,
        ErrorCode::DeviceCredentialInvalid,
        ErrorCode::DeviceRevoked,
        ErrorCode::InvalidInput,
        ErrorCode::RecordingInProgress,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::Damaged,
        ErrorCode::StoreUnavailable,
        ErrorCode::NotInSession,
        ErrorCode::AlreadyExists,
        ErrorCode::RateLimited,
        ErrorCode::IpNotAllowed,
        ErrorCode::MfaCodeInvalid,
        ErrorCode::MfaRequiredByGroup,
        ErrorCode::SsoRequired,
        ErrorCode::SsoFailed,
        ErrorCode::Internal,
        ErrorCode::Unavailable,
    ];

    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            NotAuthenticated | LoginFailed | DeviceCredentialInvalid => StatusCode::UNAUTHORIZED,
            CsrfRejected
            | Forbidden
            | PasswordChangeRequired
            | CurrentPasswordWrong
            | DeviceRevoked => StatusCode::FORBIDDEN,
            NotFound | RouteNotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            NameTaken | LoginIdTaken | GroupNotEmpty | CannotDeleteSelf | RecordingInProgress
            | NotInSession | AlreadyExists => StatusCode::CONFLICT,
            Damaged => StatusCode::INTERNAL_SERVER_ERROR,
            RateLimited => StatusCode::TOO_MANY_REQUESTS,
            IpNotAllowed => StatusCode::FORBIDDEN,
            MfaCodeInvalid => StatusCode::UNAUTHORIZED,
            MfaRequiredByGroup => StatusCode::CONFLICT,
            SsoRequired => StatusCode::FORBIDDEN,
            SsoFailed => StatusCode::UNAUTHORIZED,
            StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            PasswordPolicy | PairingCodeInvalid | InvalidInput => StatusCode::BAD_REQUEST,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn code(self) -> &'static str {
        use ErrorCode::*;
        match self {
            NotAuthenticated => "not_authenticated",
            LoginFailed => "login_failed",
            CsrfRejected => "csrf_rejected",
            Forbidden => "forbidden",
            PasswordChangeRequired => "password_change_required",
            NotFound => "not_found",
            RouteNotFound => "route_not_found",
            MethodNotAllowed => "method_not_allowed",
            NameTaken => "name_taken",
            LoginIdTaken => "login_id_taken",
            GroupNotEmpty => "group_not_empty",
            CannotDeleteSelf => "cannot_delete_self",
            PasswordPolicy => "password_policy",
            CurrentPasswordWrong => "current_password_wrong",
            PairingCodeInvalid => "pairing_code_invalid",
            DeviceCredentialInvalid => "device_credential_invalid",
            DeviceRevoked => "device_revoked",
            InvalidInput => "invalid_input",
            RecordingInProgress => "recording_in_progress",
            PayloadTooLarge => "payload_too_large",
            UnsupportedMediaType => "unsupported_media_type",
            Damaged => "damaged",
            StoreUnavailable => "store_unavailable",
            NotInSession => "not_in_session",
            AlreadyExists => "already_exists",
            RateLimited => "rate_limited",
            IpNotAllowed => "ip_not_allowed",
            MfaCodeInvalid => "mfa_code_invalid",
            MfaRequiredByGroup => "mfa_required_by_group",
            SsoRequired => "sso_required",
            SsoFailed => "sso_failed",
            Internal => "internal",
            Unavailable => "unavailable",
        }
    }

    pub fn message_en(self) -> &'static str {
        use ErrorCode::*;
        match self {
            NotAuthenticated => "Please log in.",
            LoginFailed => {
                "Login failed: the login ID or password is wrong, or the account is locked. \
                 After 5 failed attempts an account is locked for 15 minutes."
            }
            CsrfRejected => "The request was refused because it did not come from this site.",
            Forbidden => "You are not allowed to do this.",
            PasswordChangeRequired => "You must change your password before continuing.",
            NotFound => "Not found.",
            RouteNotFound => "There is no such API endpoint or page.",
            MethodNotAllowed => "This method is not allowed here.",
            NameTaken => "That name is already in use.",
            LoginIdTaken => "That login ID is already in use.",
            GroupNotEmpty => "The group still has users or devices; move or delete them first.",
            CannotDeleteSelf => "You cannot delete your own account.",
            PasswordPolicy => "The password does not meet the password policy.",
            CurrentPasswordWrong => "The current password is wrong.",
            PairingCodeInvalid => {
                "The pairing code is wrong, already used or expired. Ask your administrator for a new one."
            }
            DeviceCredentialInvalid => {
                "This device is not paired or was revoked. Ask your administrator for a new pairing code."
            }
            DeviceRevoked => "The device has been revoked.",
            InvalidInput => "The request is invalid.",
            RecordingInProgress => "The recording is still in progress; try again when it ends.",
            PayloadTooLarge => "The request is too large.",
            UnsupportedMediaType => "Send the request as JSON (Content-Type: application/json).",
            Damaged => {
                "The stored file is damaged (its integrity check failed), so it is not served. \
                 Tell your administrator; the damage is logged."
            }
            StoreUnavailable => "The storage cannot be reached right now; try again in a minute.",
            NotInSession => "This camera is not in your live session.",
            AlreadyExists => "It already exists.",
            RateLimited => "Too many requests; wait a moment (see Retry-After) and try again.",
            MfaCodeInvalid => {
                "The code is wrong, already used or expired. Enter the current code from your \
                 authenticator app, or one of your recovery codes."
            }
            MfaRequiredByGroup => {
                "Your group requires a second factor, so it cannot be turned off. An administrator \
                 can reset it so that you enrol again."
            }
            IpNotAllowed => {
                "Access from this network is not allowed for your group. Ask your administrator."
            }
            SsoRequired => {
                "Your group signs in with its single sign-on (SSO); password login is turned off. \
                 Use \"Sign in with SSO\"."
            }
            SsoFailed => {
                "Single sign-on did not complete: the sign-in was cancelled, expired or could not be \
                 verified, or your account is not allowed. Try again, or ask your administrator."
            }
            Internal => "internal error",
            Unavailable => "The service is temporarily unavailable.",
        }
    }

    pub fn message_ja(self) -> &'static str {
        use ErrorCode::*;
        match self {
            NotAuthenticated => "ログインしてください。",
            LoginFailed => {
                "ログインできませんでした。ログインIDまたはパスワードが正しくないか、アカウントがロックされています。\
                 5回失敗するとアカウントは15分間ロックされます。"
            }
            CsrfRejected => "このサイト以外からの要求のため拒否しました。",
            Forbidden => "この操作を行う権限がありません。",
            PasswordChangeRequired => "続行する前にパスワードを変更してください。",
            NotFound => "見つかりません。",
            RouteNotFound => "該当するAPIまたはページはありません。",
            MethodNotAllowed => "このメソッドは使用できません。",
            NameTaken => "その名前は既に使われています。",
            LoginIdTaken => "そのログインIDは既に使われています。",
            GroupNotEmpty => {
                "グループにユーザーまたはカメラ端末が残っています。先に移動または削除してください。"
            }
            CannotDeleteSelf => "自分自身のアカウントは削除できません。",
            PasswordPolicy => "パスワードがパスワードポリシーを満たしていません。",
            CurrentPasswordWrong => "現在のパスワードが正しくありません。",
            PairingCodeInvalid => {
                "ペアリングコードが正しくないか、使用済みまたは期限切れです。管理者に新しいコードを依頼してください。"
            }
            DeviceCredentialInvalid => {
                "この端末はペアリングされていないか、無効化されています。管理者に新しいペアリングコードを依頼してください。"
            }
            DeviceRevoked => "この端末は無効化されています。",
            InvalidInput => "要求の内容が正しくありません。",
            RecordingInProgress => "録画中です。録画の終了後にもう一度お試しください。",
            PayloadTooLarge => "要求が大きすぎます。",
            UnsupportedMediaType => {
                "JSON形式（Content-Type: application/json）で送信してください。"
            }
            Damaged => {
                "保存されたファイルが破損しているため（完全性の検証に失敗）、提供できません。\
                 管理者に連絡してください。破損は記録されています。"
            }
            StoreUnavailable => {
                "ストレージに接続できません。しばらくしてからもう一度お試しください。"
            }
            NotInSession => "このカメラはあなたのライブセッションに接続されていません。",
            AlreadyExists => "既に存在します。",
            RateLimited => "要求が多すぎます。しばらく待ってからもう一度お試しください。",
            MfaCodeInvalid => {
                "コードが正しくないか、使用済みか、期限切れです。認証アプリの現在のコード、\
                 またはリカバリーコードを入力してください。"
            }
            MfaRequiredByGroup => {
                "所属グループでは二要素認証が必須のため、無効にできません。\
                 管理者がリセットすると再登録できます。"
            }
            IpNotAllowed => {
                "このネットワークからのアクセスは、あなたのグループでは許可されていません。管理者に連絡してください。"
            }
            SsoRequired => {
                "所属グループはシングルサインオン（SSO）でログインします。パスワードでのログインは無効です。\
                 「SSOでログイン」を使ってください。"
            }
            SsoFailed => {
                "シングルサインオンを完了できませんでした。中止されたか、期限切れか、検証できなかったか、\
                 アカウントが許可されていません。もう一度お試しいただくか、管理者に連絡してください。"
            }
            Internal => "内部エラー",
            Unavailable => "一時的にサービスを利用できません。",
        }
    }
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    /// Extra English detail for `invalid_input` (which field, what is wrong). Never secret.
    pub detail: Option<String>,
    /// Machine-readable sub-codes (password policy rules).
    pub details: Vec<&'static str>,
    /// Seconds for `Retry-After` (rate limits).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            detail: None,
            details: Vec::new(),
            retry_after: None,
        }
    }

    pub fn invalid(detail: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::InvalidInput,
            detail: Some(detail.into()),
            details: Vec::new(),
            retry_after: None,
        }
    }

    pub fn with_details(mut self, details: Vec<&'static str>) -> Self {
        self.details = details;
        self
    }

    /// `429 rate_limited`; the `Retry-After` seconds go into the answer's header.
    pub fn rate_limited(retry_after: u64) -> Self {
        Self {
            code: ErrorCode::RateLimited,
            detail: None,
            details: Vec::new(),
            retry_after: Some(retry_after),
        }
    }

    /// Logs the cause and answers 500 without it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ErrorCode::Internal)
    }
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        Self::new(code)
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Conflict => ApiError::new(ErrorCode::NameTaken),
            other => ApiError::internal(other),
        }
    }
}

impl From<crate::storage::OpenError> for ApiError {
    fn from(error: crate::storage::OpenError) -> Self {
        match error {
            crate::storage::OpenError::Store(e) => {
                tracing::warn!(error = %e, "object store unreachable");
                ApiError::new(ErrorCode::StoreUnavailable)
            }
            crate::storage::OpenError::Damaged(e) => {
                tracing::error!(error = %e, "stored object failed its integrity check");
                ApiError::new(ErrorCode::Damaged)
            }
        }
    }
}

impl From<crate::auth::password::PasswordBusy> for ApiError {
    fn from(_: crate::auth::password::PasswordBusy) -> Self {
        ApiError::new(ErrorCode::Unavailable)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(ErrorCode::PayloadTooLarge),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(ErrorCode::UnsupportedMediaType),
            _ => ApiError::invalid(rejection.body_text()),
        }
    }
}

impl From<axum::extract::rejection::BytesRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::BytesRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(ErrorCode::PayloadTooLarge),
            _ => ApiError::invalid(rejection.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::invalid(format!("bad path parameter: {}", rejection.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::invalid(format!("bad query: {}", rejection.body_text()))
    }
}

/// The JSON body of every error.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `login_failed`.
    pub code: String,
    pub message: String,
    pub message_ja: String,
    /// Sub-codes, e.g. the password policy rules that failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut message = self.code.message_en().to_owned();
        if let Some(detail) = &self.detail {
            message.push(' ');
            message.push_str(detail);
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.code().to_owned(),
                message,
                message_ja: self.code.message_ja().to_owned(),
                details: self.details.iter().map(|d| d.to_string()).collect(),
            },
        };
        let mut response = (self.code.status(), Json(body)).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = axum::http::HeaderValue::from_str(&seconds.to_string())
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_unique_and_bilingual() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.code()), "duplicate {}", code.code());
            assert!(!code.message_en().is_empty());
            assert!(!code.message_ja().is_empty());
        }
    }
}
