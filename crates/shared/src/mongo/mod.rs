//! MongoDB connection setup shared by every service's Mongo store: database name from the URL path
//! (or the service's default), bounded server selection, pool size, the error mapping, and the
//! indexes each store ensures (`indexes`), the upgrades of data stored by earlier versions
//! (`upgrade`), the outbox protocol (`outbox`) and the claim replicas share queues with ([`claim`]).

mod claims;
mod indexes;
pub mod outbox;
pub mod upgrade;

pub use claims::{claim, claim_indexes, CLAIM, CLAIMED, CLAIMS};
pub use indexes::{IndexSpec, Indexes};
pub use outbox::MongoOutbox;

use crate::store::StoreError;
use mongodb::options::ClientOptions;
use mongodb::{Client, Database};
use std::time::Duration;

/// Longest a call waits for a usable server before failing (the service answers 503).
pub const DEFAULT_SERVER_SELECTION: Duration = Duration::from_secs(2);
/// Default connection pool size per service.
pub const DEFAULT_POOL_SIZE: u32 = 10;

/// Connection settings beyond the URL.
#[derive(Debug, Clone, Copy)]
pub struct MongoOptions {
    /// `MONGO_POOL_SIZE`.
    pub pool_size: u32,
    /// `MONGO_SERVER_SELECTION_TIMEOUT_MS` (at most 2 s).
    pub server_selection_timeout: Duration,
}

impl Default for MongoOptions {
    fn default() -> Self {
        Self {
            pool_size: DEFAULT_POOL_SIZE,
            server_selection_timeout: DEFAULT_SERVER_SELECTION,
        }
    }
}

/// The database named in the URL's path (`mongodb://host/ecommerce_orders`), if any.
pub fn database_in_url(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let path = rest.split_once('/')?.1;
    let name = path.split('?').next().unwrap_or("");
    (!name.is_empty()).then(|| name.to_string())
}

/// `base` (a MongoDB URL) with its path replaced by `/<db>`, query kept.
pub fn with_database(base: &str, db: &str) -> String {
    let (scheme, rest) = base.split_once("://").unwrap_or(("mongodb", base));
    let (hosts, query) = match rest.split_once('/') {
        Some((hosts, path)) => (hosts, path.split_once('?').map(|(_, q)| q)),
        None => match rest.split_once('?') {
            Some((hosts, q)) => (hosts, Some(q)),
            None => (rest, None),
        },
    };
    match query {
        Some(q) if !q.is_empty() => format!("{scheme}://{hosts}/{db}?{q}"),
        _ => format!("{scheme}://{hosts}/{db}"),
    }
}

/// Connects lazily (the driver connects on first use) and returns the service's database:
/// the one in the URL path, else `default_db`.
pub async fn connect(
    url: &str,
    default_db: &str,
    app_name: &str,
    opts: MongoOptions,
) -> Result<Database, StoreError> {
    let options = client_options(url, app_name, opts).await?;
    let client = Client::with_options(options).map_err(StoreError::from)?;
    let name = database_in_url(url).unwrap_or_else(|| default_db.to_string());
    Ok(client.database(&name))
}

/// The driver's options for `url` and `opts`. Credentials come from the URL
/// (`mongodb://user:password@host/db?authSource=admin`, the password percent-encoded); with no
/// `authMechanism` the driver asks the server which SCRAM mechanisms the user has and takes
/// SCRAM-SHA-256 when it is among them (MongoDB 4.0 and later).
async fn client_options(
    url: &str,
    app_name: &str,
    opts: MongoOptions,
) -> Result<ClientOptions, StoreError> {
    let mut options = ClientOptions::parse(url)
        .await
        .map_err(|e| StoreError::Other(format!("bad DATABASE_URL: {e}")))?;
    options.app_name = Some(app_name.to_string());
    options.max_pool_size = Some(opts.pool_size);
    options.server_selection_timeout = Some(
        options
            .server_selection_timeout
            .unwrap_or(opts.server_selection_timeout)
            .min(opts.server_selection_timeout),
    );
    options.connect_timeout = Some(options.connect_timeout.unwrap_or(Duration::from_secs(2)));
    Ok(options)
}

/// One page of the documents of `coll` that match `filter`, in `sort` order, mapped into `T` (the
/// stored shape's `From`, or its `TryFrom` check), and how many match in all.
pub async fn page<T, D>(
    coll: &mongodb::Collection<D>,
    filter: mongodb::bson::Document,
    sort: mongodb::bson::Document,
    page: crate::store::PageRequest,
) -> Result<(Vec<T>, u64), StoreError>
where
    D: serde::de::DeserializeOwned + Send + Sync,
    T: TryFrom<D, Error: Into<StoreError>>,
{
    use futures_util::TryStreamExt;
    let total = coll.count_documents(filter.clone()).await?;
    let docs: Vec<D> = coll
        .find(filter)
        .sort(sort)
        .skip(page.offset())
        .limit(i64::try_from(page.limit).unwrap_or(i64::MAX))
        .await?
        .try_collect()
        .await?;
    let items = docs
        .into_iter()
        .map(T::try_from)
        .collect::<Result<_, _>>()
        .map_err(Into::into)?;
    Ok((items, total))
}

/// Inserts `docs` into `coll`, each on its own (unordered): which of them this call inserted,
/// in order; `false` for one a unique index refused (there already, or inserted at the same
/// moment by another caller, who then is the one that inserted it).
pub async fn insert_new_many<T: serde::Serialize + Send + Sync>(
    coll: &mongodb::Collection<T>,
    docs: Vec<T>,
) -> Result<Vec<bool>, StoreError> {
    use mongodb::error::ErrorKind;
    let n = docs.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    match coll.insert_many(docs).ordered(false).await {
        Ok(_) => Ok(vec![true; n]),
        Err(e) => {
            if let ErrorKind::InsertMany(m) = e.kind.as_ref() {
                let errors = m.write_errors.as_deref().unwrap_or_default();
                if m.write_concern_error.is_none()
                    && !errors.is_empty()
                    && errors.iter().all(|w| w.code == 11000)
                {
                    let mut inserted = vec![true; n];
                    for w in errors {
                        if let Some(slot) = inserted.get_mut(w.index) {
                            *slot = false;
                        }
                    }
                    return Ok(inserted);
                }
            }
            Err(e.into())
        }
    }
}

/// Pings the database (`/ready`).
pub async fn ping(db: &Database) -> Result<(), StoreError> {
    db.run_command(mongodb::bson::doc! {"ping": 1})
        .await
        .map(|_| ())
        .map_err(StoreError::from)
}

/// Inserts `doc` into `coll`; `Ok(false)` when a unique index says it (or its twin) is already
/// there: the insert of an idempotent step.
pub async fn insert_new<T: serde::Serialize + Send + Sync>(
    coll: &mongodb::Collection<T>,
    doc: &T,
) -> Result<bool, StoreError> {
    match coll.insert_one(doc).await {
        Ok(_) => Ok(true),
        Err(e) if is_duplicate_key(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// True for a duplicate-key error (a unique index refused the write). FerretDB v1.24 reports a
/// unique violation inside `findAndModify` as code 1 naming SQLite's UNIQUE constraint instead of
/// 11000, so that is recognised too (real MongoDB sends 11000).
pub fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match e.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == 11000,
        ErrorKind::InsertMany(m) => m
            .write_errors
            .as_ref()
            .is_some_and(|errs| errs.iter().any(|w| w.code == 11000)),
        ErrorKind::Command(c) => {
            c.code == 11000 || (c.code == 1 && c.message.contains("UNIQUE constraint failed"))
        }
        _ => false,
    }
}

impl From<mongodb::error::Error> for StoreError {
    fn from(e: mongodb::error::Error) -> Self {
        use mongodb::error::ErrorKind;
        if is_duplicate_key(&e) {
            return StoreError::Conflict(e.to_string());
        }
        match e.kind.as_ref() {
            ErrorKind::ServerSelection { .. }
            | ErrorKind::Io(_)
            | ErrorKind::ConnectionPoolCleared { .. }
            | ErrorKind::DnsResolve { .. } => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Other(e.to_string()),
        }
    }
}

impl From<mongodb::bson::de::Error> for StoreError {
    fn from(e: mongodb::bson::de::Error) -> Self {
        StoreError::Other(format!("stored document is invalid: {e}"))
    }
}

impl From<mongodb::bson::ser::Error> for StoreError {
    fn from(e: mongodb::bson::ser::Error) -> Self {
        StoreError::Other(format!("document cannot be written: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_put_in_the_path() {
        assert_eq!(with_database("mongodb://h:1", "t"), "mongodb://h:1/t");
        assert_eq!(with_database("mongodb://h:1/", "t"), "mongodb://h:1/t");
        assert_eq!(
            with_database("mongodb://h:1/x?a=b", "t"),
            "mongodb://h:1/t?a=b"
        );
        assert_eq!(
            with_database("mongodb://h:1?a=b", "t"),
            "mongodb://h:1/t?a=b"
        );
    }

    /// The URL shape docker-compose and the manifests give every service: the application user,
    /// defined in `admin`, with a password that needs percent-encoding.
    #[tokio::test]
    async fn production_urls_carry_the_user_defined_in_admin() {
        use mongodb::options::AuthMechanism;
        let url =
            "mongodb://ecommerce:p%40ss%3Aw0rd@mongodb:27017/ecommerce_orders?authSource=admin";
        let options = client_options(url, "order-service", MongoOptions::default())
            .await
            .unwrap();
        let credential = options.credential.expect("credentials");
        assert_eq!(credential.username.as_deref(), Some("ecommerce"));
        assert_eq!(credential.password.as_deref(), Some("p@ss:w0rd"));
        assert_eq!(credential.source.as_deref(), Some("admin"));
        // Negotiated with the server: SCRAM-SHA-256 for a user that has it (MongoDB 7's default).
        assert_eq!(credential.mechanism, None);
        assert_eq!(database_in_url(url).as_deref(), Some("ecommerce_orders"));
        assert_eq!(options.app_name.as_deref(), Some("order-service"));
        let pinned = format!("{url}&authMechanism=SCRAM-SHA-256");
        let options = client_options(&pinned, "x", MongoOptions::default())
            .await
            .unwrap();
        let mechanism = options.credential.and_then(|c| c.mechanism);
        assert_eq!(mechanism, Some(AuthMechanism::ScramSha256));
        // An unencoded `@` in the password is refused by name, not sent to the wrong host.
        let err = client_options(
            "mongodb://ecommerce:p@ss@mongodb:27017/ecommerce_orders?authSource=admin",
            "x",
            MongoOptions::default(),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("bad DATABASE_URL"), "{err}");
    }

    #[test]
    fn database_name_comes_from_the_path() {
        assert_eq!(
            database_in_url("mongodb://h:27017/shop?w=1").as_deref(),
            Some("shop")
        );
        assert_eq!(database_in_url("mongodb://h:27017/?w=1"), None);
        assert_eq!(database_in_url("mongodb://h:27017"), None);
        assert_eq!(
            database_in_url("mongodb+srv://u:p@c.example.net/orders").as_deref(),
            Some("orders")
        );
    }
}
