//! The claim replicas share a queue with: of all the replicas that read a document due, one wins
//! it, decided by a unique token insert (the one write MongoDB and FerretDB both make atomic), and
//! the tokens' sweep.

use super::{insert_new, insert_new_many, IndexSpec};
use crate::store::StoreError;

/// The field a [`claim`] tags the documents it won with.
pub const CLAIM: &str = "claim";
/// The field counting the times a document was claimed ([`claim`]; absent: never).
pub const CLAIMED: &str = "claimed";
/// The collection of claim tokens: `{_id: "<collection>/<id>/<times claimed before>", at}`, one
/// per claim of a document.
pub const CLAIMS: &str = "claims";
/// How long a claim token is kept: far longer than a claim takes from its read to its token.
const CLAIM_TOKEN_LIFETIME_MS: i64 = 10 * 60 * 1000;
/// How often one process deletes the tokens past their lifetime.
const CLAIM_SWEEP_EVERY_MS: i64 = 60 * 1000;

/// The index of the claim tokens' sweep; every database whose stores [`claim`] ensures it.
pub fn claim_indexes() -> Vec<IndexSpec> {
    vec![IndexSpec::named(
        CLAIMS,
        "claims_at",
        mongodb::bson::doc! {"at": 1},
    )]
}

/// Claims up to `limit` documents of `coll` that match `due` (which must include
/// `next_attempt_at <= now`), in `sort` order, for this caller, as replicas sharing a queue do:
/// each claimed document's `next_attempt_at` becomes `lease_until`, its [`CLAIM`] a fresh nonce,
/// and its [`CLAIMED`] count goes up by one. Who wins a document is decided by a unique insert,
/// the one write MongoDB and FerretDB both make atomic: a token named by the collection, the
/// document and the count read with it ([`CLAIMS`]), so of all the replicas that read a document
/// due, one claims it. No transactions. Returns the documents won, in `sort` order.
pub async fn claim<T>(
    coll: &mongodb::Collection<T>,
    due: mongodb::bson::Document,
    sort: mongodb::bson::Document,
    limit: u32,
    lease_until: i64,
) -> Result<Vec<T>, StoreError>
where
    T: serde::de::DeserializeOwned + Send + Sync,
{
    use futures_util::TryStreamExt;
    use mongodb::bson::{doc, Bson, Document};
    let candidates: Vec<Document> = coll
        .clone_with_type::<Document>()
        .find(due.clone())
        .sort(sort.clone())
        .limit(i64::from(limit))
        .projection(doc! {"_id": 1, CLAIMED: 1})
        .await?
        .try_collect()
        .await?;
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let namespace = coll.namespace();
    let tokens_coll = coll
        .client()
        .database(&namespace.db)
        .collection::<Document>(CLAIMS);
    let now = crate::store::now_ms();
    let tokens: Vec<Document> = candidates
        .iter()
        .map(|c| {
            let id = match c.get("_id") {
                Some(Bson::String(s)) => s.clone(),
                other => other.map(Bson::to_string).unwrap_or_default(),
            };
            let times = c.get(CLAIMED).and_then(Bson::as_i64).unwrap_or(0);
            doc! {"_id": format!("{}/{id}/{times}", namespace.coll), "at": now}
        })
        .collect();
    let mut inserted = insert_new_many(&tokens_coll, tokens.clone()).await?;
    // A token whose claimer stopped between its two writes (the token, then the document) would
    // keep the document from everyone: one older than a lease is taken over.
    let lost: Vec<(usize, &str)> = inserted
        .iter()
        .zip(&tokens)
        .enumerate()
        .filter(|(_, (mine, _))| !**mine)
        .filter_map(|(i, (_, t))| t.get_str("_id").ok().map(|id| (i, id)))
        .collect();
    if !lost.is_empty() {
        let stale_before = now - (lease_until - now).max(1_000);
        let ids: Vec<&str> = lost.iter().map(|(_, id)| *id).collect();
        let stale: Vec<Document> = tokens_coll
            .find(doc! {"_id": {"$in": &ids}, "at": {"$lt": stale_before}})
            .await?
            .try_collect()
            .await?;
        for token in stale {
            let (Ok(id), Some(at)) = (token.get_str("_id"), token.get("at")) else {
                continue;
            };
            let gone = tokens_coll
                .delete_one(doc! {"_id": id, "at": at.clone()})
                .await?
                .deleted_count
                == 1;
            if gone && insert_new(&tokens_coll, &doc! {"_id": id, "at": now}).await? {
                if let Some((i, _)) = lost.iter().find(|(_, lost_id)| *lost_id == id) {
                    inserted[*i] = true;
                }
            }
        }
    }
    sweep_claim_tokens(&tokens_coll, now).await;
    let won: Vec<Bson> = candidates
        .into_iter()
        .zip(inserted)
        .filter(|(_, mine)| *mine)
        .filter_map(|(mut c, _)| c.remove("_id"))
        .collect();
    if won.is_empty() {
        return Ok(Vec::new());
    }
    let nonce = crate::ids::new_object_id();
    let mut filter = due;
    filter.insert("_id", doc! {"$in": &won});
    let update = doc! {
        "$set": {"next_attempt_at": lease_until, CLAIM: &nonce},
        "$inc": {CLAIMED: 1_i64},
    };
    coll.update_many(filter, update).await?;
    Ok(coll
        .find(doc! {"_id": {"$in": &won}, CLAIM: &nonce})
        .sort(sort)
        .await?
        .try_collect()
        .await?)
}

/// Deletes the claim tokens past their lifetime, at most once a minute per process; a failure
/// only leaves them for the next sweep.
async fn sweep_claim_tokens(tokens: &mongodb::Collection<mongodb::bson::Document>, now: i64) {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let last = LAST.load(Ordering::Relaxed);
    if now - last < CLAIM_SWEEP_EVERY_MS
        || LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    let old = mongodb::bson::doc! {"at": {"$lt": now - CLAIM_TOKEN_LIFETIME_MS}};
    if let Err(e) = tokens.delete_many(old).await {
        tracing::warn!(error = %e, "old claim tokens not deleted; the next sweep will");
    }
}
