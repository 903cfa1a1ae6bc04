//! Secrets for embedded mode: taken from the environment when set, else generated on first run and
//! kept in `<data>/secrets.env` (mode 0600) so that tokens and encrypted payloads survive restarts.

use shared::config::Env;
use std::collections::BTreeMap;
use std::path::Path;

/// The generated keys and their lengths in random bytes (hex doubles them).
const GENERATED: [(&str, usize); 5] = [
    ("JWT_SECRET", 32),
    ("JWT_REFRESH_SECRET", 32),
    ("INTERNAL_TOKEN", 32),
    // 16 random bytes as 32 hex characters: exactly the 32 UTF-8 bytes AES-256 needs.
    ("ENCRYPTION_KEY", 16),
    ("ADMIN_PASSWORD", 9),
];

/// Fills every missing secret of `env` from `<data_dir>/secrets.env`, generating and saving new ones.
pub fn load_or_create(data_dir: &Path, env: Env) -> anyhow::Result<Env> {
    std::fs::create_dir_all(data_dir)?;
    let path = data_dir.join("secrets.env");
    let mut saved: BTreeMap<String, String> = BTreeMap::new();
    if let Ok(text) = std::fs::read_to_string(&path) {
        for line in text.lines() {
            if let Some((k, v)) = line.split_once('=') {
                saved.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
    }
    let mut changed = false;
    let mut env = env;
    for (key, bytes) in GENERATED {
        if env.get(key).is_some() {
            continue;
        }
        let value = saved
            .entry(key.to_string())
            .or_insert_with(|| {
                changed = true;
                shared::ids::random_token(bytes)
            })
            .clone();
        env = env.with(key, value);
    }
    if changed {
        let text: String = saved.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        write_private(&path, &text)?;
    }
    Ok(env)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn generates_once_then_reuses_and_env_wins() {
        let dir =
            std::env::temp_dir().join(format!("stack-secrets-{}", shared::ids::new_object_id()));
        let first = load_or_create(&dir, Env::default()).unwrap();
        let key = first.get("ENCRYPTION_KEY").unwrap().to_string();
        assert_eq!(key.len(), 32);
        assert!(first.get("JWT_SECRET").unwrap().len() >= 32);
        let second = load_or_create(&dir, Env::default()).unwrap();
        assert_eq!(second.get("ENCRYPTION_KEY"), Some(key.as_str()));
        let third =
            load_or_create(&dir, Env::default().with("JWT_SECRET", "x".repeat(40))).unwrap();
        assert_eq!(third.get("JWT_SECRET"), Some("x".repeat(40).as_str()));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
