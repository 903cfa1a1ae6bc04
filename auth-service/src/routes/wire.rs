//! The account API's request bodies, validated with every bad field reported at once, and the
//! public JSON of a user, which never carries a hash or token.

use crate::app::accounts::Registration;
use crate::domain::{Role, User, UserPatch};
use serde_json::{json, Value};
use shared::extract::{BodyLimits, FromJson};
use shared::validate::Validator;
use shared::{ApiError, FieldError};

/// The public JSON: `{_id,name,email,role,isActive,createdAt,updatedAt}`.
pub fn user_json(user: &User) -> Value {
    json!({
        "_id": user.id,
        "name": user.name,
        "email": user.email,
        "role": user.role.as_str(),
        "isActive": user.is_active,
        "createdAt": shared::store::iso_ms(user.created_at),
        "updatedAt": shared::store::iso_ms(user.updated_at),
    })
}

/// `POST /register` body.
pub struct RegisterRequest(pub(super) Registration);

impl FromJson for RegisterRequest {
    const LIMITS: BodyLimits = BodyLimits::SMALL;

    fn from_json(value: &Value) -> Result<Self, ApiError> {
        let mut v = Validator::new(value)?;
        let name = v.string("name", 2, 50);
        let email = v.email("email");
        let password = v.raw_string("password", 8, 128);
        let role = v.one_of("role", &["user", "admin"], false);
        v.finish()?;
        match (name, email, password) {
            (Some(name), Some(email), Some(password)) => Ok(Self(Registration {
                name,
                email,
                password,
                role,
            })),
            _ => Err(ApiError::internal()),
        }
    }
}

/// `POST /login` body.
pub struct LoginRequest {
    pub(super) email: String,
    pub(super) password: String,
}

impl FromJson for LoginRequest {
    const LIMITS: BodyLimits = BodyLimits::SMALL;

    fn from_json(value: &Value) -> Result<Self, ApiError> {
        let mut v = Validator::new(value)?;
        let email = v.email("email");
        let password = v.raw_string("password", 1, 128);
        v.finish()?;
        match (email, password) {
            (Some(email), Some(password)) => Ok(Self { email, password }),
            _ => Err(ApiError::internal()),
        }
    }
}

/// `POST /refresh` body.
pub struct RefreshRequest {
    pub(super) refresh_token: String,
}

impl FromJson for RefreshRequest {
    const LIMITS: BodyLimits = BodyLimits::SMALL;

    fn from_json(value: &Value) -> Result<Self, ApiError> {
        let mut v = Validator::new(value)?;
        let token = v.raw_string("refreshToken", 1, 512);
        v.finish()?;
        token
            .map(|refresh_token| Self { refresh_token })
            .ok_or_else(ApiError::internal)
    }
}

/// `POST /logout` body (may be empty).
pub struct LogoutRequest {
    pub(super) refresh_token: Option<String>,
    pub(super) all: bool,
}

impl FromJson for LogoutRequest {
    const LIMITS: BodyLimits = BodyLimits::SMALL;

    fn from_json(value: &Value) -> Result<Self, ApiError> {
        let mut v = Validator::new(value)?;
        let refresh_token = v.opt_string("refreshToken", 1, 512);
        let all = v.opt_bool("all").unwrap_or(false);
        v.finish()?;
        Ok(Self { refresh_token, all })
    }
}

/// `PATCH /users/:id` body: at least one of `role`, `isActive`.
pub struct PatchUserRequest(pub(super) UserPatch);

impl FromJson for PatchUserRequest {
    const LIMITS: BodyLimits = BodyLimits::SMALL;

    fn from_json(value: &Value) -> Result<Self, ApiError> {
        let mut v = Validator::new(value)?;
        let role = v
            .one_of("role", &["user", "admin"], false)
            .and_then(|r| Role::parse(&r));
        let is_active = v.opt_bool("isActive");
        let present = ["role", "isActive"]
            .iter()
            .any(|k| value.get(k).is_some_and(|x| !x.is_null()));
        let mut errors = v.finish_nested();
        if !present && errors.is_empty() {
            errors.push(FieldError::new(
                "body",
                "\"value\" must contain at least one of [role, isActive]",
            ));
        }
        if errors.is_empty() {
            Ok(Self(UserPatch { role, is_active }))
        } else {
            Err(ApiError::validation(errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_json_has_the_original_fields_and_no_secrets() {
        let u = User {
            id: "64b7f0c2a1b2c3d4e5f60718".into(),
            name: "Jo".into(),
            email: "jo@example.com".into(),
            password_hash: "$argon2id$secret".into(),
            role: Role::User,
            is_active: true,
            created_at: 0,
            updated_at: 1,
        };
        let v = user_json(&u);
        let keys: Vec<&String> = v
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys.len(), 7);
        assert_eq!(v["_id"], "64b7f0c2a1b2c3d4e5f60718");
        assert_eq!(v["createdAt"], "1970-01-01T00:00:00.000Z");
        assert!(!v.to_string().contains("argon2"));
    }
}
