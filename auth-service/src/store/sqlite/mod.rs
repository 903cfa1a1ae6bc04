//! The SQLite user store: plain SQL through `shared::db`, migrations as `CREATE … IF NOT EXISTS` run on connect,
//! email uniqueness as a unique index on `lower(email)`.

use super::UserStore;
use crate::domain::{RefreshToken, Role, Session, User, UserPatch};
use async_trait::async_trait;
use rusqlite::{params, Connection};
use shared::sqlite::{first, Database, Query};
use shared::store::{PageRequest, StoreError};

const MIGRATIONS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS users (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL,
        password_hash TEXT NOT NULL, role TEXT NOT NULL, is_active INTEGER NOT NULL,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS users_email_lower ON users (lower(email))",
    // The user list, newest first with the id breaking ties (replaces `users_created`).
    "DROP INDEX IF EXISTS users_created",
    "CREATE INDEX IF NOT EXISTS users_created_id ON users (created_at, id)",
    "CREATE TABLE IF NOT EXISTS sessions (
        sid TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_at INTEGER NOT NULL,
        revoked_at INTEGER)",
    "CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id)",
    "CREATE TABLE IF NOT EXISTS refresh_tokens (
        token_hash TEXT PRIMARY KEY, sid TEXT NOT NULL, user_id TEXT NOT NULL,
        created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER)",
    "CREATE INDEX IF NOT EXISTS refresh_tokens_sid ON refresh_tokens (sid)",
];

const USER_COLUMNS: &str =
    "id, name, email, password_hash, role, is_active, created_at, updated_at";

/// A user by email, any case (served by `users_email_lower`).
fn user_by_email_sql() -> String {
    format!("SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower(?)")
}

/// A page of users, newest first (served by `users_created_id`).
fn users_page(page: PageRequest) -> Query {
    let mut rows = Query::new(format!(
        "SELECT {USER_COLUMNS} FROM users ORDER BY created_at DESC, id DESC"
    ));
    rows.page(page);
    rows
}

const COUNT_USERS: &str = "SELECT COUNT(*) FROM users";
/// Every live session of a user (served by `sessions_user`).
const REVOKE_USER_SESSIONS: &str =
    "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL RETURNING sid";

/// Users, sessions and refresh tokens in SQLite.
pub struct SqliteUserStore {
    db: Database,
}

impl SqliteUserStore {
    /// Opens the database and runs the migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let db = Database::open(url).await?;
        db.write(|tx| {
            for m in MIGRATIONS {
                tx.execute_batch(m)?;
            }
            Ok(())
        })
        .await?;
        Ok(Self { db })
    }
}

fn find_user_in(conn: &Connection, id: &str) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?");
    first(conn, &sql, [id])
}

fn insert_token(conn: &Connection, t: &RefreshToken) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO refresh_tokens (token_hash, sid, user_id, created_at, expires_at, used_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        t.token_hash,
        t.sid,
        t.user_id,
        t.created_at,
        t.expires_at,
        t.used_at
    ])?;
    Ok(())
}

#[async_trait]
impl UserStore for SqliteUserStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await
    }

    async fn create_user(&self, u: &User) -> Result<(), StoreError> {
        let u = u.clone();
        self.db
            .write(move |tx| {
                let sql =
                    format!("INSERT INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
                tx.prepare_cached(&sql)?.execute(params![
                    u.id,
                    u.name,
                    u.email,
                    u.password_hash,
                    u.role.as_str(),
                    i64::from(u.is_active),
                    u.created_at,
                    u.updated_at
                ])?;
                Ok(())
            })
            .await
    }

    async fn find_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.db.read(|c| find_user_in(c, id)).await
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        self.db
            .read(|c| first(c, &user_by_email_sql(), [email.trim()]))
            .await
    }

    async fn list_users(&self, page: PageRequest) -> Result<(Vec<User>, u64), StoreError> {
        let (count, rows) = (Query::new(COUNT_USERS), users_page(page));
        self.db
            .read(|conn| shared::sqlite::page(conn, &count, &rows))
            .await
    }

    async fn update_user(
        &self,
        id: &str,
        patch: UserPatch,
        now: i64,
    ) -> Result<Option<User>, StoreError> {
        let id = id.to_owned();
        self.db
            .write(move |tx| {
                let changed = tx
                    .prepare_cached(
                        "UPDATE users SET role = COALESCE(?, role), \
                         is_active = COALESCE(?, is_active), updated_at = ? WHERE id = ?",
                    )?
                    .execute(params![
                        patch.role.map(Role::as_str),
                        patch.is_active.map(i64::from),
                        now,
                        id
                    ])?;
                if changed == 0 {
                    return Ok(None);
                }
                find_user_in(tx, &id)
            })
            .await
    }

    async fn create_session(&self, s: &Session, t: &RefreshToken) -> Result<(), StoreError> {
        // Both rows or neither: a session whose first token was refused must not be left behind.
        let (s, t) = (s.clone(), t.clone());
        self.db
            .write(move |tx| {
                tx.prepare_cached(
                    "INSERT INTO sessions (sid, user_id, created_at, revoked_at) \
                     VALUES (?, ?, ?, ?)",
                )?
                .execute(params![s.sid, s.user_id, s.created_at, s.revoked_at])?;
                insert_token(tx, &t)
            })
            .await
    }

    async fn find_session(&self, sid: &str) -> Result<Option<Session>, StoreError> {
        let sql = "SELECT sid, user_id, created_at, revoked_at FROM sessions WHERE sid = ?";
        self.db.read(|c| first(c, sql, [sid])).await
    }

    async fn revoke_session(&self, sid: &str, now: i64) -> Result<bool, StoreError> {
        let sid = sid.to_owned();
        self.db
            .write(move |tx| {
                let changed = tx
                    .prepare_cached(
                        "UPDATE sessions SET revoked_at = ? WHERE sid = ? AND revoked_at IS NULL",
                    )?
                    .execute(params![now, sid])?;
                Ok(changed == 1)
            })
            .await
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let user_id = user_id.to_owned();
        self.db
            .write(move |tx| {
                let mut stmt = tx.prepare_cached(REVOKE_USER_SESSIONS)?;
                let sids = stmt.query_map(params![now, user_id], |r| r.get::<_, String>("sid"))?;
                Ok(sids.collect::<Result<_, _>>()?)
            })
            .await
    }

    async fn insert_refresh_token(&self, t: &RefreshToken) -> Result<(), StoreError> {
        let t = t.clone();
        self.db.write(move |tx| insert_token(tx, &t)).await
    }

    async fn find_refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshToken>, StoreError> {
        let sql = "SELECT token_hash, sid, user_id, created_at, expires_at, used_at \
                   FROM refresh_tokens WHERE token_hash = ?";
        self.db.read(|c| first(c, sql, [token_hash])).await
    }

    async fn mark_refresh_token_used(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let token_hash = token_hash.to_owned();
        self.db
            .write(move |tx| {
                let changed = tx
                    .prepare_cached(
                        "UPDATE refresh_tokens SET used_at = ? \
                         WHERE token_hash = ? AND used_at IS NULL",
                    )?
                    .execute(params![now, token_hash])?;
                Ok(changed == 1)
            })
            .await
    }
}

#[cfg(test)]
mod plans {
    //! Every list and lookup reads through its index, never a scan of all users.
    use super::*;
    use test_support::indexes::{assert_index_filtered, assert_index_served};

    #[tokio::test]
    async fn user_lists_email_lookups_and_session_revocations_use_their_indexes() {
        let store = SqliteUserStore::connect("sqlite::memory:")
            .await
            .expect("in-memory store");
        let pool = &store.db;
        let page = PageRequest { page: 2, limit: 20 };
        assert_index_served(pool, &users_page(page).sql, &["users_created_id"]).await;
        // The total counts every user, from an index alone.
        let plan = assert_index_filtered(pool, COUNT_USERS, &[]).await;
        assert!(
            plan.iter().any(|l| l.contains("COVERING INDEX")),
            "{plan:?}"
        );
        assert_index_served(pool, &user_by_email_sql(), &["users_email_lower"]).await;
        assert_index_served(pool, REVOKE_USER_SESSIONS, &["sessions_user"]).await;
    }
}
