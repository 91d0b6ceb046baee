//! Bundle verification throughput.
//!
//! Evidence bundles and `sealtrail verify` live on another branch; until
//! they land, this measures what verifying a bundle of N events costs at
//! the library level, with the stored entries of this run: check the
//! signed checkpoint, hash every entry into its leaf, recompute the root,
//! and verify one inclusion proof per event (the conservative model of a
//! verifier that checks each event on its own). Proof generation is not
//! timed: a bundle carries its proofs.
//!
//! [`BUNDLE_HOOK`] names where the real `sealtrail verify` is to be timed
//! once it exists: replace the body of [`run`] by a call to it on a bundle
//! exported from the same database, and keep the figure's shape.

use std::path::Path;
use std::time::{Duration, Instant};

use sealtrail_tlog::{
    Checkpoint, Frontier, MemoryTree, NoteSigner, inclusion_proof, leaf_hash, open_checkpoint,
    sign_checkpoint, verify_inclusion,
};
use serde::Serialize;

/// Where the bundle verifier plugs in (see the module documentation).
pub const BUNDLE_HOOK: &str = "bench::verify::run -> bundle::verify (pending: bundle branch)";

/// The verification figure.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyFigure {
    /// What was measured (library-level equivalent or the real command).
    pub method: String,
    /// Events verified.
    pub events: u64,
    /// Checkpoint + leaf hashes + root (s).
    pub leaves_root_secs: f64,
    /// Inclusion proofs (s).
    pub proofs_secs: f64,
    /// Total (s).
    pub total_secs: f64,
    /// Total scaled to 1,000,000 events (s); equal to `total_secs` when
    /// 1,000,000 events were verified.
    pub per_million_secs: f64,
    /// Leaf hashes computed.
    pub leaf_hashes: u64,
    /// Node hashes computed (root and proofs).
    pub node_hashes: u64,
    /// Mean entry size (bytes).
    pub mean_entry_bytes: f64,
}

/// Verifies the first `n` stored entries of the database at `db`.
pub fn run(db: &Path, n: u64) -> anyhow::Result<VerifyFigure> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut st =
        conn.prepare("SELECT entry, gseq, received_ms, seq FROM events WHERE entry IS NOT NULL ORDER BY gseq LIMIT ?")?;
    // Entries as a bundle carries them: decoded from their stored form.
    let entries: Vec<Vec<u8>> = st
        .query_map([n as i64], |r| {
            let at = crate::storage::codec::Position {
                gseq: r.get::<_, i64>(1)? as u64,
                received_ms: r.get(2)?,
                seq: r.get::<_, i64>(3)? as u64,
            };
            Ok(crate::storage::codec::decode_entry(r.get(0)?, at))
        })?
        .collect::<Result<_, _>>()?;
    let count = entries.len() as u64;
    if count == 0 {
        anyhow::bail!("no entries to verify");
    }
    let mean_entry_bytes = entries.iter().map(Vec::len).sum::<usize>() as f64 / count as f64;

    // What the bundle carries: a signed checkpoint over the entries.
    let mut tree = MemoryTree::new();
    for e in &entries {
        tree.push_entry(e);
    }
    let origin = "sealtrail.bench/org_bench";
    let signer = NoteSigner::from_seed(origin, &[42u8; 32])?;
    let note = sign_checkpoint(&Checkpoint::new(origin, count, tree.root()), &signer)?;
    let verifier = signer.verifier();

    // Timed: checkpoint, leaves, root.
    let t = Instant::now();
    let cp = open_checkpoint(&note, std::slice::from_ref(&verifier), Some(origin))?;
    let mut frontier = Frontier::new();
    let mut leaves = Vec::with_capacity(entries.len());
    for e in &entries {
        let l = leaf_hash(e);
        leaves.push(l);
        frontier.push(l, |_, _, _| {})?;
    }
    if frontier.root() != cp.root_hash || frontier.size() != cp.size {
        anyhow::bail!("recomputed root does not match the checkpoint");
    }
    let leaves_root = t.elapsed();

    // Timed: one inclusion proof per event, generated in untimed chunks.
    let mut proofs_time = Duration::ZERO;
    let mut node_hashes = count.saturating_sub(1);
    const CHUNK: u64 = 65_536;
    let mut start = 0;
    while start < count {
        let end = (start + CHUNK).min(count);
        let proofs: Vec<Vec<[u8; 32]>> = (start..end)
            .map(|i| inclusion_proof(i, count, &mut |l, k| tree.subtree(l, k)))
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow::anyhow!("proof generation: {e}"))?;
        let t = Instant::now();
        for (k, p) in proofs.iter().enumerate() {
            let i = start + k as u64;
            verify_inclusion(&leaves[i as usize], i, count, p, &cp.root_hash)?;
        }
        proofs_time += t.elapsed();
        node_hashes += proofs.iter().map(|p| p.len() as u64).sum::<u64>();
        start = end;
    }
    let total = leaves_root + proofs_time;
    let fig = VerifyFigure {
        method: "library-level equivalent (sealtrail-tlog): checkpoint, leaf hashes, root, one inclusion proof per event".into(),
        events: count,
        leaves_root_secs: leaves_root.as_secs_f64(),
        proofs_secs: proofs_time.as_secs_f64(),
        total_secs: total.as_secs_f64(),
        per_million_secs: total.as_secs_f64() * 1e6 / count as f64,
        leaf_hashes: count,
        node_hashes,
        mean_entry_bytes,
    };
    super::progress(format!(
        "verify: {count} events in {:.2} s ({:.2} s per million)",
        fig.total_secs, fig.per_million_secs
    ));
    Ok(fig)
}
