//! Proofs from stored hashes.
//!
//! Leaf hashes are stored with the events, and complete subtrees at every
//! level that is a multiple of [`TILE_HEIGHT`]. Any other complete subtree
//! is computed from the tier below it, so a proof costs at most 255 hash
//! computations per tier and a bounded number of range reads.

use std::sync::RwLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sealtrail_tlog::{
    Frontier, Hash, ProofGenError, consistency_proof, inclusion_proof, node_hash,
};
use serde_json::{Value, json};

use super::TILE_HEIGHT;
use crate::app::App;
use crate::error::ApiError;
use crate::registry::Registry;
use crate::storage::{OrgKey, Storage, StoreError, StoreResult, StoredEvent};

/// The hash of the complete aligned subtree `(level, index)` of a log.
pub fn subtree_hash(store: &dyn Storage, org: OrgKey, level: u32, index: u64) -> StoreResult<Hash> {
    let base = level - level % TILE_HEIGHT;
    if level == base {
        if level == 0 {
            let v = store.leaf_hashes(org, index, index + 1)?;
            return v.first().copied().ok_or_else(|| {
                StoreError::Corrupt(format!("leaf {index} of org {org} is missing"))
            });
        }
        return store.node(org, level, index)?.ok_or_else(|| {
            StoreError::Corrupt(format!(
                "subtree ({level}, {index}) of org {org} is missing"
            ))
        });
    }
    let shift = level - base;
    let start = index << shift;
    let end = start + (1u64 << shift);
    let mut row = if base == 0 {
        store.leaf_hashes(org, start, end)?
    } else {
        store.nodes(org, base, start, end)?
    };
    while row.len() > 1 {
        row = row.chunks(2).map(|p| node_hash(&p[0], &p[1])).collect();
    }
    row.pop().ok_or_else(|| {
        StoreError::Corrupt(format!("subtree ({level}, {index}) of org {org} is empty"))
    })
}

fn gen_err(e: ProofGenError<StoreError>) -> ApiError {
    match e {
        ProofGenError::Subtree(s) => s.into(),
        other => ApiError::invalid("tree_size", other.to_string()),
    }
}

/// The inclusion proof of leaf `seq` in the tree of `size` leaves.
pub fn inclusion(
    store: &dyn Storage,
    org: OrgKey,
    seq: u64,
    size: u64,
) -> Result<Vec<Hash>, ApiError> {
    inclusion_proof(seq, size, &mut |l, i| subtree_hash(store, org, l, i)).map_err(gen_err)
}

/// The consistency proof between two sizes.
pub fn consistency(
    store: &dyn Storage,
    org: OrgKey,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, ApiError> {
    consistency_proof(old, new, &mut |l, i| subtree_hash(store, org, l, i)).map_err(gen_err)
}

/// Base64 of each hash.
pub fn b64_hashes(hs: &[Hash]) -> Vec<String> {
    hs.iter().map(|h| B64.encode(h)).collect()
}

/// The proof attached to a feed event with `include_proof=true`: against
/// the newest checkpoint, or `pending` until one covers the event.
pub fn inclusion_for_feed(app: &App, ev: &StoredEvent) -> Result<Value, ApiError> {
    let Some(cp) = app.store.latest_checkpoint(ev.org)? else {
        return Ok(json!({ "pending": true }));
    };
    if cp.size <= ev.seq {
        return Ok(json!({ "pending": true }));
    }
    let proof = inclusion(app.store.as_ref(), ev.org, ev.seq, cp.size)?;
    Ok(json!({
        "tree_size": cp.size,
        "root_hash": B64.encode(cp.root),
        "proof": b64_hashes(&proof),
        "checkpoint": cp.note,
    }))
}

/// Cross-checks each stored log head against the stored leaves and
/// subtrees, at start: a head that disagrees means the database was
/// changed behind the server's back, and the server refuses to extend it.
pub fn check_heads(store: &dyn Storage, registry: &RwLock<Registry>) -> anyhow::Result<()> {
    let orgs = registry
        .read()
        .map_err(|_| anyhow::anyhow!("registry poisoned"))?
        .all();
    for org in orgs {
        let head = store.head(org.key)?;
        let size = head.frontier.size();
        if size == 0 {
            continue;
        }
        let rebuilt = Frontier::from_subtrees(size, |l, i| subtree_hash(store, org.key, l, i))
            .map_err(|e| {
                anyhow::anyhow!("log of {} cannot be rebuilt from storage: {e}", org.id)
            })?;
        if rebuilt.root() != head.frontier.root() {
            anyhow::bail!(
                "log of {} is inconsistent: the stored head does not match the stored leaves (run `sealtrail fsck`)",
                org.id
            );
        }
        if store.event_by_seq(org.key, size)?.is_some() {
            anyhow::bail!(
                "log of {} has an event beyond its head at sequence {size} (run `sealtrail fsck`)",
                org.id
            );
        }
    }
    Ok(())
}
