//! Every error code the API answers with, in one table: its HTTP status and the hint
//! given when the place that raises it has nothing more specific to say. A code is
//! raised as `ApiError::new(codes::NUMBER_RELEASED, "…")` (`ApiError::hinted` with a
//! hint of its own); its status comes from here, so one code never answers two ways.

use actix_web::http::StatusCode;

/// One kind of API error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    /// The stable snake_case code in `{"error": {"code": …}}`.
    pub code: &'static str,
    pub status: StatusCode,
    /// What to do about it, when the raiser gives no better hint.
    pub hint: Option<&'static str>,
}

macro_rules! catalogue {
    ($($(#[$doc:meta])* $name:ident = $code:literal, $status:ident, $hint:expr;)+) => {
        $($(#[$doc])* pub const $name: Code = Code { code: $code, status: StatusCode::$status, hint: $hint };)+
        /// The whole table, for the checks and the documentation.
        pub const ALL: &[Code] = &[$($name),+];
    };
}

catalogue! {
    // 400: the request itself is wrong; the message names the field and the fix.
    INVALID_FIELD = "invalid_field", BAD_REQUEST, Some("Correct the field the message names and send the request again.");
    INVALID_QUERY = "invalid_query", BAD_REQUEST, Some("Correct the query parameter the message names.");
    INVALID_JSON = "invalid_json", BAD_REQUEST, Some("Send a JSON body with the fields the README lists for this route.");
    INVALID_BODY = "invalid_body", BAD_REQUEST, Some("Send the body this route expects.");
    INVALID_PATH = "invalid_path", BAD_REQUEST, Some("Check the id or number in the path.");
    INVALID_CSV = "invalid_csv", BAD_REQUEST, Some("Send a CSV file whose first line names the columns.");
    INVALID_EMAIL = "invalid_email", BAD_REQUEST, Some("Enter an email address like name@example.com.");
    INVALID_NAME = "invalid_name", BAD_REQUEST, None;
    INVALID_PASSWORD = "invalid_password", BAD_REQUEST, None;
    WEAK_PASSWORD = "weak_password", BAD_REQUEST, Some("Choose a longer password, or a few unrelated words.");
    INVALID_ASSIGNMENT = "invalid_assignment", BAD_REQUEST, Some("See SPEC §3.2 for which roles and handlers go together.");
    INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key", BAD_REQUEST, None;
    UNSUPPORTED_CONTENT_TYPE = "unsupported_content_type", BAD_REQUEST, None;
    REFERENCE_REQUIRED = "reference_required", BAD_REQUEST, None;
    VAPI_NOT_CONFIGURED = "vapi_not_configured", BAD_REQUEST, None;
    /// A wrong authenticator code while turning two-factor on (a field of the form).
    TOTP_INVALID = "totp_invalid", BAD_REQUEST, None;
    // 401: no or wrong credentials.
    UNAUTHENTICATED = "unauthenticated", UNAUTHORIZED, Some("POST /api/auth/login with your email and password.");
    SESSION_EXPIRED = "session_expired", UNAUTHORIZED, Some("POST /api/auth/login with your email and password.");
    INVALID_TOKEN = "invalid_token", UNAUTHORIZED, Some("Create a new API token in Settings, or sign in with your email and password.");
    INVALID_CREDENTIALS = "invalid_credentials", UNAUTHORIZED, Some("POST /api/auth/login with your email and password.");
    TOTP_REQUIRED = "totp_required", UNAUTHORIZED, Some("Send the 6-digit code from your authenticator app as totp.");
    /// A wrong authenticator code at sign-in.
    TOTP_INVALID_AT_SIGN_IN = "totp_invalid", UNAUTHORIZED, Some("Enter the code the app shows now; if it still fails, check that the phone's clock is set automatically.");
    // 403: signed in, but not allowed.
    OWNER_REQUIRED = "owner_required", FORBIDDEN, None;
    READ_ONLY = "read_only", FORBIDDEN, None;
    SYSTEM_ADMIN_REQUIRED = "system_admin_required", FORBIDDEN, None;
    CSRF_FAILED = "csrf_failed", FORBIDDEN, None;
    TWO_FACTOR_SETUP_REQUIRED = "two_factor_setup_required", FORBIDDEN, None;
    TOTP_REQUIRED_BY_ORG = "totp_required_by_org", FORBIDDEN, None;
    FEATURE_DISABLED = "feature_disabled", FORBIDDEN, Some("An admin can turn it on in Settings → Features.");
    // 404.
    NOT_FOUND = "not_found", NOT_FOUND, Some("Check the id; it may belong to another organization or have been removed.");
    UNKNOWN_ROUTE = "unknown_route", NOT_FOUND, Some("Check the method and path against the API list in the README.");
    // 409: the request conflicts with the current state.
    ORG_EXISTS = "org_exists", CONFLICT, Some("Pick another name.");
    EMAIL_TAKEN = "email_taken", CONFLICT, None;
    CANNOT_REMOVE_SELF = "cannot_remove_self", CONFLICT, None;
    LAST_OWNER = "last_owner", CONFLICT, None;
    NUMBER_TAKEN = "number_taken", CONFLICT, None;
    NUMBER_RELEASED = "number_released", CONFLICT, Some("Import or buy it again to use it.");
    NUMBER_LIMIT_REACHED = "number_limit_reached", CONFLICT, None;
    NO_NUMBERS_AVAILABLE = "no_numbers_available", CONFLICT, None;
    ALREADY_PROVISIONED = "already_provisioned", CONFLICT, None;
    NOT_APPROVED = "not_approved", CONFLICT, None;
    NOT_PENDING = "not_pending", CONFLICT, None;
    TWILIO_NOT_CONFIGURED = "twilio_not_configured", CONFLICT, None;
    NO_CREDENTIALS = "no_credentials", CONFLICT, None;
    NO_BUSINESS_NUMBER = "no_business_number", CONFLICT, None;
    MOBILE_REQUIRED = "mobile_required", CONFLICT, Some("Add your mobile number in Settings → Notifications.");
    OPTED_OUT = "opted_out", CONFLICT, None;
    AGENT_EXISTS = "agent_exists", CONFLICT, None;
    AGENT_LINKED = "agent_linked", CONFLICT, None;
    TOTP_ALREADY_ON = "totp_already_on", CONFLICT, None;
    TOTP_NOT_STARTED = "totp_not_started", CONFLICT, None;
    TOTP_OFF_FOR_YOU = "totp_off_for_you", CONFLICT, None;
    IDEMPOTENCY_KEY_IN_PROGRESS = "idempotency_key_in_progress", CONFLICT, Some("Wait for the first request to finish, then retry with the same key to get its result.");
    // 413, 422, 429.
    PAYLOAD_TOO_LARGE = "payload_too_large", PAYLOAD_TOO_LARGE, Some("Send a smaller body.");
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused", UNPROCESSABLE_ENTITY, Some("Use a new key for a new operation; reuse a key only to retry the exact same request.");
    INVALID_ROWS = "invalid_rows", UNPROCESSABLE_ENTITY, Some("Fix the lines named and import the whole file again; nothing was imported.");
    RATE_LIMITED = "rate_limited", TOO_MANY_REQUESTS, None;
    // 5xx: the provider or this appliance.
    PROVIDER_ERROR = "provider_error", BAD_GATEWAY, None;
    SIGN_IN_BUSY = "sign_in_busy", SERVICE_UNAVAILABLE, None;
    DATABASE_UNAVAILABLE = "database_unavailable", SERVICE_UNAVAILABLE, Some("Try again in a few seconds; if it persists, check the server log and free disk space.");
    INTERNAL_ERROR = "internal_error", INTERNAL_SERVER_ERROR, Some("Try again; if it persists, the server log has the details (search for the request id).");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_has_one_status_except_where_the_table_says_why() {
        let mut seen = std::collections::BTreeMap::new();
        for c in ALL {
            assert!(
                c.code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{}",
                c.code
            );
            seen.entry(c.code).or_insert_with(Vec::new).push(c.status);
        }
        for (code, statuses) in seen {
            // A wrong authenticator code is a form field when turning two-factor on, and
            // a failed sign-in at the login: the two are documented apart above.
            if code != "totp_invalid" {
                assert_eq!(statuses.len(), 1, "{code} is in the table twice");
            }
        }
    }
}
