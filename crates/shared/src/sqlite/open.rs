//! Opening a connection: the file created owner-only (0600, its directory 0700) before SQLite
//! touches it, WAL, `synchronous=NORMAL`, foreign keys, the busy timeout and the statement cache;
//! readers open read-only.

use super::{BUSY_TIMEOUT, STATEMENT_CACHE};
use crate::store::StoreError;
use rusqlite::{Connection, OpenFlags};
use std::path::PathBuf;

/// Opens one connection with the settings every store relies on.
pub(super) fn connect(path: Option<&PathBuf>, writer: bool) -> Result<Connection, StoreError> {
    let conn = match path {
        None => Connection::open_in_memory()?,
        Some(path) => {
            let mut flags = OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            flags |= if writer {
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
            } else {
                OpenFlags::SQLITE_OPEN_READ_ONLY
            };
            Connection::open_with_flags(path, flags)?
        }
    };
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.pragma_update(None, "foreign_keys", true)?;
    if writer {
        if path.is_some() {
            conn.pragma_update(None, "journal_mode", "WAL")?;
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
    }
    Ok(conn)
}

/// Creates `path` (and its missing parent directories, 0700) if needed, and makes it and any
/// `-wal`/`-shm` files beside it owner-only (0600), tightening files an older version left open.
pub(super) fn create_private_file(path: &std::path::Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let mut dirs = std::fs::DirBuilder::new();
        dirs.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut dirs, 0o700);
        dirs.create(parent)?;
    }
    let mut open = std::fs::OpenOptions::new();
    open.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    drop(open.open(path)?);
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}
