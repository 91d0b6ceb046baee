//! Proofs from stored hashes.
//!
//! Leaf hashes are stored with the events, and complete subtrees at every
//! level that is a multiple of [`TILE_HEIGHT`]. Any other complete subtree
//! is computed from the tier below it, so a proof costs at most 255 hash
//! computations per tier and a bounded number of range reads.
//!
//! A *tile* is 256 consecutive stored hashes of one tier (leaves, or the
//! subtrees of a level that is a multiple of [`TILE_HEIGHT`]) with the 255
//! subtrees they make up. A complete tile, all of whose leaves are below
//! the tree size a proof is for, never changes: leaves and stored subtrees
//! are written once, erasure and pruning leave them alone, and nothing
//! rewrites them in a running server (a restored database is only served
//! after a restart). So [`TileCache`] keeps complete tiles across requests
//! and a proof reads from storage only the tiles it has not met yet and
//! the incomplete right edge of each tier.

use std::sync::{Arc, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sealtrail_tlog::{
    Frontier, Hash, ProofGenError, consistency_proof, inclusion_proof, node_hash,
};
use serde_json::{Value, json};

use super::TILE_HEIGHT;
use crate::app::App;
use crate::cache::Cache;
use crate::error::ApiError;
use crate::metrics::CacheStats;
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

/// How many tiles [`TileCache`] keeps: 511 hashes (16 KiB) each, so at
/// most 32 MiB.
pub const TILE_CACHE_TILES: usize = 2048;

/// Hashes in one row of a tile.
const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;

/// Complete tiles by `(org, tier level, tile index)`, shared across
/// requests: the tile's 256 stored hashes followed by each row above them
/// (128, 64, … 1), 511 hashes in all. Least recently used first out.
pub struct TileCache(Cache<(OrgKey, u32, u64), Arc<Vec<Hash>>>);

impl TileCache {
    /// A cache of at most `tiles` tiles.
    pub fn new(tiles: usize, stats: Arc<CacheStats>) -> TileCache {
        TileCache(Cache::new(tiles, true, stats))
    }

    /// No cache: every proof reads storage (checks of stored data, and the
    /// library figures of `sealtrail bench`).
    pub fn off() -> TileCache {
        TileCache(Cache::new(0, false, Arc::default()))
    }

    /// Tiles held now.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The complete tile `tile` of the tier at level `base`.
    fn tile(
        &self,
        store: &dyn Storage,
        org: OrgKey,
        base: u32,
        tile: u64,
    ) -> StoreResult<Arc<Vec<Hash>>> {
        let key = (org, base, tile);
        if let Some(t) = self.0.get(&key) {
            return Ok(t);
        }
        let ticket = self.0.ticket();
        let start = tile << TILE_HEIGHT;
        let end = start + TILE_WIDTH;
        let mut row = if base == 0 {
            store.leaf_hashes(org, start, end)?
        } else {
            store.nodes(org, base, start, end)?
        };
        let mut all = Vec::with_capacity(2 * TILE_WIDTH as usize - 1);
        all.extend_from_slice(&row);
        while row.len() > 1 {
            row = row.chunks(2).map(|p| node_hash(&p[0], &p[1])).collect();
            all.extend_from_slice(&row);
        }
        let t = Arc::new(all);
        self.0.insert(ticket, key, t.clone());
        Ok(t)
    }
}

/// Whether tile `tile` of the tier at level `base` lies wholly below
/// `size` leaves.
fn tile_complete(base: u32, tile: u64, size: u64) -> bool {
    let span = base + TILE_HEIGHT;
    span < 64
        && (tile + 1)
            .checked_mul(1u64 << span)
            .is_some_and(|end| end <= size)
}

/// [`subtree_hash`] for a proof over a tree of `size` leaves, from a cached
/// tile when the subtree lies in a complete one.
pub fn subtree_hash_in(
    store: &dyn Storage,
    tiles: &TileCache,
    org: OrgKey,
    size: u64,
    level: u32,
    index: u64,
) -> StoreResult<Hash> {
    if tiles.0.is_live() {
        let base = level - level % TILE_HEIGHT;
        let shift = level - base;
        let per_tile = TILE_HEIGHT - shift;
        let tile = index >> per_tile;
        if tile_complete(base, tile, size) {
            let t = tiles.tile(store, org, base, tile)?;
            // Rows of 256, 128, … hashes: row `shift` starts after the
            // 512 - 512 / 2^shift hashes below it.
            let offset = (2 * TILE_WIDTH - ((2 * TILE_WIDTH) >> shift)) as usize;
            let pos = (index - (tile << per_tile)) as usize;
            return t.get(offset + pos).copied().ok_or_else(|| {
                StoreError::Corrupt(format!("tile ({base}, {tile}) of org {org} is short"))
            });
        }
    }
    subtree_hash(store, org, level, index)
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
    tiles: &TileCache,
    org: OrgKey,
    seq: u64,
    size: u64,
) -> Result<Vec<Hash>, ApiError> {
    inclusion_proof(seq, size, &mut |l, i| {
        subtree_hash_in(store, tiles, org, size, l, i)
    })
    .map_err(gen_err)
}

/// The consistency proof between two sizes.
pub fn consistency(
    store: &dyn Storage,
    tiles: &TileCache,
    org: OrgKey,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, ApiError> {
    consistency_proof(old, new, &mut |l, i| {
        subtree_hash_in(store, tiles, org, new, l, i)
    })
    .map_err(gen_err)
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
    let proof = inclusion(app.store.as_ref(), &app.tiles, ev.org, ev.seq, cp.size)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::SqliteStore;
    use crate::storage::{LogHead, NewEvent};
    use sealtrail_tlog::{leaf_hash, verify_consistency, verify_inclusion};

    /// A log of `n` leaves of org 1 with its stored subtrees, and the roots
    /// at every size asked for.
    fn log(store: &SqliteStore, n: u64, sizes: &[u64]) -> Vec<(u64, Hash)> {
        let mut frontier = Frontier::default();
        let mut roots = Vec::new();
        store
            .write(&mut |txn| {
                for seq in 0..n {
                    let entry = format!("{{\"seq\":{seq}}}").into_bytes();
                    let leaf = leaf_hash(&entry);
                    let mut nodes = Vec::new();
                    frontier
                        .push(leaf, |level, index, hash| {
                            if level % TILE_HEIGHT == 0 {
                                nodes.push((level, index, *hash));
                            }
                        })
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    txn.insert_event(&NewEvent {
                        gseq: seq + 1,
                        tree: 1,
                        org: 1,
                        seq,
                        activity_type: "user.login".into(),
                        category: "authentication",
                        product: None,
                        created_ms: 0,
                        received_ms: 0,
                        actor_id: None,
                        actor_email_bi: None,
                        ip_bi: None,
                        api_key_id: None,
                        target_id: None,
                        outcome: "success",
                        source_event_id: None,
                        entry,
                        stored_entry: None,
                        leaf,
                        pii: None,
                        subjects: vec![],
                    })?;
                    for (l, i, h) in nodes {
                        txn.insert_node(1, l, i, &h)?;
                    }
                    if sizes.contains(&(seq + 1)) {
                        roots.push((seq + 1, frontier.root()));
                    }
                }
                txn.set_log_head(&LogHead {
                    org: 1,
                    frontier: frontier.clone(),
                })
            })
            .unwrap();
        roots
    }

    #[test]
    fn proofs_from_cached_tiles_equal_proofs_from_storage() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        // Two tiers: the first level-8 tile completes at 65,536 leaves.
        let n = 65_536 + 600;
        let sizes = [1, 255, 256, 257, 511, 512, 4_097, 65_535, 65_536, 65_537, n];
        let roots = log(&store, n, &sizes);
        let stats = Arc::new(CacheStats::default());
        let tiles = TileCache::new(64, stats.clone());
        let off = TileCache::off();
        for &(size, root) in &roots {
            for seq in [
                0,
                1,
                200,
                255,
                256,
                300,
                4_000,
                65_000,
                65_535,
                65_536,
                n - 1,
            ] {
                if seq >= size {
                    continue;
                }
                let cached = inclusion(&store, &tiles, 1, seq, size).unwrap();
                let stored = inclusion(&store, &off, 1, seq, size).unwrap();
                assert_eq!(cached, stored, "inclusion of {seq} in {size}");
                let leaf = leaf_hash(format!("{{\"seq\":{seq}}}").as_bytes());
                verify_inclusion(&leaf, seq, size, &cached, &root).unwrap();
            }
            for &(old, old_root) in roots.iter().filter(|(o, _)| *o <= size) {
                let cached = consistency(&store, &tiles, 1, old, size).unwrap();
                let stored = consistency(&store, &off, 1, old, size).unwrap();
                assert_eq!(cached, stored, "consistency {old}..{size}");
                verify_consistency(old, size, &old_root, &root, &cached).unwrap();
            }
        }
        assert!(stats.hits.get() > stats.misses.get(), "tiles are reused");
        assert!(tiles.len() <= 64, "the cache keeps at most its capacity");
        // A level-8 tile was cached once the tree covered it.
        assert!(tiles.0.get(&(1, 8, 0)).is_some());
        // Partial tiles are never cached: the right edge is read each time.
        assert!(tiles.0.get(&(1, 0, (n - 1) >> TILE_HEIGHT)).is_none());
        assert!(off.is_empty());
    }

    #[test]
    fn a_tile_is_complete_only_below_the_tree_size() {
        assert!(tile_complete(0, 0, 256));
        assert!(!tile_complete(0, 0, 255));
        assert!(tile_complete(0, 1, 512));
        assert!(!tile_complete(8, 0, 65_535));
        assert!(tile_complete(8, 0, 65_536));
        assert!(!tile_complete(56, 0, u64::MAX));
        assert!(!tile_complete(48, u64::MAX >> 8, u64::MAX));
    }
}
