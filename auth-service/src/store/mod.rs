//! Persistence of users, sessions and refresh tokens behind one trait; `connect` picks the backend
//! from the `DATABASE_URL` scheme.

mod mongo;
mod shapes;
mod sqlite;

pub use mongo::MongoUserStore;
pub use sqlite::SqliteUserStore;

use crate::domain::{RefreshToken, Session, User, UserPatch};
use async_trait::async_trait;
use shared::mongo::MongoOptions;
use shared::store::{Backend, PageRequest, StoreError};
use std::sync::Arc;

/// Users, their sessions and the refresh tokens of those sessions.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Inserts a user; `Conflict` when the email (case-insensitively) is taken.
    async fn create_user(&self, user: &User) -> Result<(), StoreError>;

    /// The user with this id.
    async fn find_user(&self, id: &str) -> Result<Option<User>, StoreError>;

    /// The user with this email, compared case-insensitively.
    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;

    /// A page of users, newest first, and the total count.
    async fn list_users(&self, page: PageRequest) -> Result<(Vec<User>, u64), StoreError>;

    /// Applies `patch` (setting `updated_at` to `now`); the updated user, or `None` if unknown.
    async fn update_user(
        &self,
        id: &str,
        patch: UserPatch,
        now: i64,
    ) -> Result<Option<User>, StoreError>;

    /// Inserts a new session together with its first refresh token: both or neither (a refused
    /// token, e.g. a duplicate hash, leaves no session behind).
    async fn create_session(
        &self,
        session: &Session,
        token: &RefreshToken,
    ) -> Result<(), StoreError>;

    /// The session with this id.
    async fn find_session(&self, sid: &str) -> Result<Option<Session>, StoreError>;

    /// Ends a session; `true` if it was live until now.
    async fn revoke_session(&self, sid: &str, now: i64) -> Result<bool, StoreError>;

    /// Ends every live session of a user; the ids of the sessions ended now.
    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<String>, StoreError>;

    /// Stores another refresh token of an existing session.
    async fn insert_refresh_token(&self, token: &RefreshToken) -> Result<(), StoreError>;

    /// The refresh token with this hash.
    async fn find_refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshToken>, StoreError>;

    /// Marks a refresh token used, atomically: `true` only for the one caller that found it unused.
    async fn mark_refresh_token_used(&self, token_hash: &str, now: i64)
        -> Result<bool, StoreError>;
}

/// Connects to the store named by `url` (`sqlite:` or `mongodb://`/`mongodb+srv://`) and runs its
/// migrations or creates its indexes; `mongo` sizes the MongoDB pool and server selection.
pub async fn connect(url: &str, mongo: MongoOptions) -> Result<Arc<dyn UserStore>, StoreError> {
    match Backend::of(url)? {
        Backend::Sqlite => Ok(Arc::new(SqliteUserStore::connect(url).await?)),
        Backend::Mongo => Ok(Arc::new(MongoUserStore::connect(url, mongo).await?)),
    }
}
