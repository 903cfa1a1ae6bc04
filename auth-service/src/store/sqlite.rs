//! The SQLite user store: plain `sqlx` queries, migrations as `CREATE … IF NOT EXISTS` run on connect,
//! email uniqueness as a unique index on `lower(email)`.

use super::UserStore;
use crate::domain::{RefreshToken, Role, Session, User, UserPatch};
use async_trait::async_trait;
use shared::sqlite::SqlitePool;
use shared::store::{sqlite_pool, PageRequest, StoreError};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

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
fn users_page_sql() -> String {
    format!("SELECT {USER_COLUMNS} FROM users ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?")
}

const COUNT_USERS: &str = "SELECT COUNT(*) FROM users";
/// Every live session of a user (served by `sessions_user`).
const REVOKE_USER_SESSIONS: &str =
    "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL RETURNING sid";

/// Users, sessions and refresh tokens in SQLite.
pub struct SqliteUserStore {
    pool: SqlitePool,
}

impl SqliteUserStore {
    /// Opens the database and runs the migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = sqlite_pool(url).await?;
        for m in MIGRATIONS {
            sqlx::query(m).execute(&pool).await?;
        }
        Ok(Self { pool })
    }
}

fn user_from_row(row: &SqliteRow) -> Result<User, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Other(format!("stored role is invalid: {role}")))?,
        is_active: row.try_get::<i64, _>("is_active")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn session_from_row(row: &SqliteRow) -> Result<Session, StoreError> {
    Ok(Session {
        sid: row.try_get("sid")?,
        user_id: row.try_get("user_id")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

fn token_from_row(row: &SqliteRow) -> Result<RefreshToken, StoreError> {
    Ok(RefreshToken {
        token_hash: row.try_get("token_hash")?,
        sid: row.try_get("sid")?,
        user_id: row.try_get("user_id")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        used_at: row.try_get("used_at")?,
    })
}

async fn insert_token<'e, E>(exec: E, t: &RefreshToken) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, sid, user_id, created_at, expires_at, used_at)
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&t.token_hash)
    .bind(&t.sid)
    .bind(&t.user_id)
    .bind(t.created_at)
    .bind(t.expires_at)
    .bind(t.used_at)
    .execute(exec)
    .await?;
    Ok(())
}

#[async_trait]
impl UserStore for SqliteUserStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_user(&self, u: &User) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO users ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&u.id)
        .bind(&u.name)
        .bind(&u.email)
        .bind(&u.password_hash)
        .bind(u.role.as_str())
        .bind(i64::from(u.is_active))
        .bind(u.created_at)
        .bind(u.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn find_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(&user_by_email_sql())
            .bind(email.trim())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn list_users(&self, page: PageRequest) -> Result<(Vec<User>, u64), StoreError> {
        let total: i64 = sqlx::query_scalar(COUNT_USERS)
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query(&users_page_sql())
            .bind(page.limit as i64)
            .bind(page.offset() as i64)
            .fetch_all(&self.pool)
            .await?;
        let users = rows.iter().map(user_from_row).collect::<Result<_, _>>()?;
        Ok((users, total.max(0) as u64))
    }

    async fn update_user(
        &self,
        id: &str,
        patch: UserPatch,
        now: i64,
    ) -> Result<Option<User>, StoreError> {
        let done = sqlx::query(
            "UPDATE users SET role = COALESCE(?, role), is_active = COALESCE(?, is_active),
             updated_at = ? WHERE id = ?",
        )
        .bind(patch.role.map(Role::as_str))
        .bind(patch.is_active.map(i64::from))
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.find_user(id).await
    }

    async fn create_session(&self, s: &Session, t: &RefreshToken) -> Result<(), StoreError> {
        // Both rows or neither: a session whose first token was refused must not be left behind.
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO sessions (sid, user_id, created_at, revoked_at) VALUES (?, ?, ?, ?)",
        )
        .bind(&s.sid)
        .bind(&s.user_id)
        .bind(s.created_at)
        .bind(s.revoked_at)
        .execute(&mut *tx)
        .await?;
        insert_token(&mut *tx, t).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_session(&self, sid: &str) -> Result<Option<Session>, StoreError> {
        let row =
            sqlx::query("SELECT sid, user_id, created_at, revoked_at FROM sessions WHERE sid = ?")
                .bind(sid)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn revoke_session(&self, sid: &str, now: i64) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE sessions SET revoked_at = ? WHERE sid = ? AND revoked_at IS NULL")
                .bind(now)
                .bind(sid)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(REVOKE_USER_SESSIONS)
            .bind(now)
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("sid").map_err(StoreError::from))
            .collect()
    }

    async fn insert_refresh_token(&self, t: &RefreshToken) -> Result<(), StoreError> {
        insert_token(&self.pool, t).await
    }

    async fn find_refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshToken>, StoreError> {
        let row = sqlx::query(
            "SELECT token_hash, sid, user_id, created_at, expires_at, used_at
             FROM refresh_tokens WHERE token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn mark_refresh_token_used(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL",
        )
        .bind(now)
        .bind(token_hash)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
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
        let pool = &store.pool;
        assert_index_served(pool, &users_page_sql(), &["users_created_id"]).await;
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
