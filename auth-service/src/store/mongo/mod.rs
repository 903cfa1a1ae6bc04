//! The MongoDB user store. Three collections keyed by the app's ids: `users` (`_id` = user id, plus
//! `email_lc`, the ASCII-lower-cased email under a unique index, which is how SQLite's unique
//! `lower(email)` index is reproduced), `sessions` (`_id` = sid) and `refresh_tokens` (`_id` = HMAC).
//!
//! No transactions are needed: every state change the contract calls atomic is one conditional
//! single-document update (a session is revoked with `{_id, revoked_at: null}`, a token is used with
//! `{_id, used_at: null}`). The SQLite store writes a session and its first token as two plain
//! inserts; here too, and if the token insert fails the fresh session is deleted again (a session
//! without a token cannot be refreshed and no access token was issued for it, so nothing observable
//! is left either way). "End every live session of a user" is one `update_many` that stamps each
//! session it ends with a fresh operation id, then reads back the sids carrying that id: exactly the
//! sessions this call ended, as SQLite's `UPDATE … RETURNING` gives, without read-then-write.
//!
//! Indexes are created at startup; if the server is down then, the service still starts (and
//! `/ready` says 503) and the first write creates them before inserting, so the unique email index is
//! always in place before any user is stored.

use super::shapes::{email_key, StoredSession, StoredToken, StoredUser};
use super::UserStore;
use crate::domain::{RefreshToken, Session, User, UserPatch};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::doc;
use mongodb::options::ReturnDocument;
use mongodb::{Collection, Database};
use shared::mongo::{IndexSpec, Indexes, MongoOptions};
use shared::store::{PageRequest, StoreError};

/// The database used when the URL names none.
pub const DEFAULT_DATABASE: &str = "ecommerce_auth";

/// The unique lower-cased email, the newest-first user list, a user's sessions, a session's
/// refresh tokens.
fn indexes() -> Vec<IndexSpec> {
    vec![
        IndexSpec::keys("users", doc! {"email_lc": 1}).unique(),
        IndexSpec::keys("users", doc! {"created_at": -1, "_id": -1}),
        IndexSpec::keys("sessions", doc! {"user_id": 1}),
        IndexSpec::keys("refresh_tokens", doc! {"sid": 1}),
    ]
}

/// Users, sessions and refresh tokens in MongoDB.
pub struct MongoUserStore {
    db: Database,
    users: Collection<StoredUser>,
    sessions: Collection<StoredSession>,
    tokens: Collection<StoredToken>,
    indexes: Indexes,
}

impl MongoUserStore {
    /// Connects (lazily) to the database in `url` (else `ecommerce_auth`) and creates the indexes,
    /// or leaves that to the first write when the server does not answer yet.
    pub async fn connect(url: &str, opts: MongoOptions) -> Result<Self, StoreError> {
        let db = shared::mongo::connect(url, DEFAULT_DATABASE, crate::SERVICE, opts).await?;
        let store = Self {
            users: db.collection("users"),
            sessions: db.collection("sessions"),
            tokens: db.collection("refresh_tokens"),
            indexes: Indexes::new(&db, indexes()),
            db,
        };
        store.indexes.at_startup().await?;
        Ok(store)
    }
}

#[async_trait]
impl UserStore for MongoUserStore {
    async fn ping(&self) -> Result<(), StoreError> {
        shared::mongo::ping(&self.db).await
    }

    async fn create_user(&self, u: &User) -> Result<(), StoreError> {
        self.indexes.ensure().await?;
        self.users.insert_one(StoredUser::from(u)).await?;
        Ok(())
    }

    async fn find_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        let found = self.users.find_one(doc! {"_id": id}).await?;
        Ok(found.map(User::from))
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let found = self
            .users
            .find_one(doc! {"email_lc": email_key(email)})
            .await?;
        Ok(found.map(User::from))
    }

    async fn list_users(&self, page: PageRequest) -> Result<(Vec<User>, u64), StoreError> {
        let newest_first = doc! {"created_at": -1, "_id": -1};
        shared::mongo::page(&self.users, doc! {}, newest_first, page).await
    }

    async fn update_user(
        &self,
        id: &str,
        patch: UserPatch,
        now: i64,
    ) -> Result<Option<User>, StoreError> {
        let mut set = doc! {"updated_at": now};
        if let Some(role) = patch.role {
            set.insert("role", role.as_str());
        }
        if let Some(active) = patch.is_active {
            set.insert("is_active", active);
        }
        let updated = self
            .users
            .find_one_and_update(doc! {"_id": id}, doc! {"$set": set})
            .return_document(ReturnDocument::After)
            .await?;
        Ok(updated.map(User::from))
    }

    async fn create_session(&self, s: &Session, t: &RefreshToken) -> Result<(), StoreError> {
        self.indexes.ensure().await?;
        self.sessions.insert_one(StoredSession::from(s)).await?;
        if let Err(e) = self.tokens.insert_one(StoredToken::from(t)).await {
            // Compensate: do not leave a session behind whose first token was never stored.
            if let Err(undo) = self.sessions.delete_one(doc! {"_id": &s.sid}).await {
                tracing::warn!(error = %undo, sid = %s.sid, "could not remove a half-created session");
            }
            return Err(e.into());
        }
        Ok(())
    }

    async fn find_session(&self, sid: &str) -> Result<Option<Session>, StoreError> {
        let found = self.sessions.find_one(doc! {"_id": sid}).await?;
        Ok(found.map(Session::from))
    }

    async fn revoke_session(&self, sid: &str, now: i64) -> Result<bool, StoreError> {
        let done = self
            .sessions
            .update_one(
                doc! {"_id": sid, "revoked_at": null},
                doc! {"$set": {"revoked_at": now}},
            )
            .await?;
        Ok(done.modified_count == 1)
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let op = shared::ids::new_object_id();
        let done = self
            .sessions
            .update_many(
                doc! {"user_id": user_id, "revoked_at": null},
                doc! {"$set": {"revoked_at": now, "revoked_by": &op}},
            )
            .await?;
        if done.modified_count == 0 {
            return Ok(Vec::new());
        }
        let ended: Vec<StoredSession> = self
            .sessions
            .find(doc! {"user_id": user_id, "revoked_by": &op})
            .await?
            .try_collect()
            .await?;
        Ok(ended.into_iter().map(|d| d.sid).collect())
    }

    async fn insert_refresh_token(&self, t: &RefreshToken) -> Result<(), StoreError> {
        self.indexes.ensure().await?;
        self.tokens.insert_one(StoredToken::from(t)).await?;
        Ok(())
    }

    async fn find_refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshToken>, StoreError> {
        let found = self.tokens.find_one(doc! {"_id": token_hash}).await?;
        Ok(found.map(RefreshToken::from))
    }

    async fn mark_refresh_token_used(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = self
            .tokens
            .update_one(
                doc! {"_id": token_hash, "used_at": null},
                doc! {"$set": {"used_at": now}},
            )
            .await?;
        Ok(done.modified_count == 1)
    }
}
