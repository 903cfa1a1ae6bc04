use super::*;
use test_support::answer;

#[test]
fn each_error_keeps_its_status_code_and_message() {
    let cases = [
        (
            Error::EmailTaken,
            409,
            "email_taken",
            "Email already registered",
        ),
        (
            Error::AdminRegistrationForbidden,
            403,
            "admin_registration_forbidden",
            "Admin accounts cannot be created by registration",
        ),
        (
            Error::InvalidCredentials,
            401,
            "invalid_credentials",
            "Invalid credentials",
        ),
        (
            Error::AccountDisabled,
            403,
            "account_disabled",
            "Account is disabled",
        ),
        (
            Error::InvalidRefreshToken,
            401,
            "invalid_refresh_token",
            "Invalid refresh token",
        ),
        (
            Error::RefreshTokenReused,
            401,
            "refresh_token_reused",
            "Refresh token already used; the session has been ended",
        ),
        (Error::InvalidToken, 401, "token_invalid", "Invalid token"),
        (
            Error::SessionRevoked,
            401,
            "session_revoked",
            "Session expired",
        ),
        (Error::UserNotFound, 404, "user_not_found", "User not found"),
        (
            Error::SelfModification,
            409,
            "self_modification_forbidden",
            "Admins cannot disable or demote their own account",
        ),
    ];
    for (e, status, code, message) in cases {
        assert_eq!(answer(e), (status, code, message.to_string()));
    }
}
