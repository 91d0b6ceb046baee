//! Bundle verification throughput, two ways over the stored entries of
//! this run:
//!
//! 1. **The real verifier**: a `sealtrail-bundle/v1` document of the first
//!    N events (one log section per organization, each with a checkpoint
//!    signed over the organization's events among them, one inclusion
//!    proof per event) is built and serialized untimed, then
//!    [`crate::bundle::verify::verify_bytes`] — what `sealtrail verify`
//!    runs — reads and checks it, timed. The export API caps a bundle at
//!    100,000 events ([`crate::bundle::MAX_BUNDLE_EVENTS`]); the harness
//!    builds the document itself so that one bundle of 1,000,000 events
//!    can be measured. Each event carries its displayed form, as exports
//!    do. The bench has no subject keys, so the bundle holds no openings:
//!    the verifier still parses every entry, finds every commitment and
//!    checks the display, but opens none (each opening is one more
//!    SHA-256).
//! 2. **The library-level equivalent**: check the signed checkpoint, hash
//!    every entry into its leaf, recompute the root, verify one inclusion
//!    proof per event, with no JSON at all. Its time is the floor the real
//!    verifier's parsing sits on.
//!
//! Proof generation is not timed in either: a bundle carries its proofs.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use sealtrail_tlog::{
    Checkpoint, Frontier, MemoryTree, NoteSigner, inclusion_proof, leaf_hash, open_checkpoint,
    sign_checkpoint, verify_inclusion,
};
use serde::Serialize;

/// The real verifier on a bundle built by the harness.
#[derive(Clone, Debug, Serialize)]
pub struct BundleFigure {
    /// Events in the bundle.
    pub events: u64,
    /// Organizations (log sections) in it.
    pub logs: u64,
    /// Size of the JSON document (bytes).
    pub bytes: u64,
    /// Reading and verifying it (s).
    pub secs: f64,
    /// The same scaled to 1,000,000 events (s).
    pub per_million_secs: f64,
}

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
    /// The real verifier on a bundle of the same events.
    pub bundle: Option<BundleFigure>,
}

/// Verifies the first `n` stored entries of the database at `db`.
pub fn run(db: &Path, n: u64) -> anyhow::Result<VerifyFigure> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut st =
        conn.prepare("SELECT entry, gseq, received_ms, seq, org FROM events WHERE entry IS NOT NULL ORDER BY gseq LIMIT ?")?;
    // Entries as a bundle carries them: decoded from their stored form.
    let rows: Vec<(Vec<u8>, crate::storage::codec::Position, i64)> = st
        .query_map([n as i64], |r| {
            let at = crate::storage::codec::Position {
                gseq: r.get::<_, i64>(1)? as u64,
                received_ms: r.get(2)?,
                seq: r.get::<_, i64>(3)? as u64,
            };
            Ok((
                crate::storage::codec::decode_entry(r.get(0)?, at),
                at,
                r.get(4)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    drop(st);
    let org_ids: HashMap<i64, String> = conn
        .prepare("SELECT key, id FROM orgs")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let bundle = real_bundle(&rows, &org_ids)?;
    let entries: Vec<Vec<u8>> = rows.into_iter().map(|(e, _, _)| e).collect();
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
        bundle: Some(bundle),
    };
    super::progress(format!(
        "verify: library level {count} events in {:.2} s ({:.2} s per million)",
        fig.total_secs, fig.per_million_secs
    ));
    Ok(fig)
}

/// Builds a bundle of `rows` (the first events of the store, so each
/// organization's share is a prefix of its log) and times the real
/// verifier on its bytes.
fn real_bundle(
    rows: &[(Vec<u8>, crate::storage::codec::Position, i64)],
    org_ids: &HashMap<i64, String>,
) -> anyhow::Result<BundleFigure> {
    use crate::bundle::{
        BUNDLE_FORMAT, Bundle, CheckpointEvidence, EventEvidence, LogEvidence, Selection,
    };
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let name = "sealtrail.bench";
    let signer = NoteSigner::from_seed(name, &[42u8; 32])?;

    let mut per_org: BTreeMap<i64, MemoryTree> = BTreeMap::new();
    for (entry, _, org) in rows {
        per_org.entry(*org).or_default().push_entry(entry);
    }
    let mut logs = Vec::new();
    for (org, tree) in &per_org {
        let id = org_ids
            .get(org)
            .ok_or_else(|| anyhow::anyhow!("organization key {org} has no id"))?;
        let origin = format!("{name}/{id}");
        let cp = Checkpoint::new(&origin, tree.size(), tree.root());
        logs.push(LogEvidence {
            organization_id: id.clone(),
            origin,
            checkpoints: vec![CheckpointEvidence {
                tree_size: tree.size(),
                root_hash: b64.encode(tree.root()),
                note: sign_checkpoint(&cp, &signer)?,
            }],
            consistency: Vec::new(),
        });
    }
    let mut events = Vec::with_capacity(rows.len());
    for (entry, at, org) in rows {
        let tree = &per_org[org];
        let proof = inclusion_proof(at.seq, tree.size(), &mut |l, k| tree.subtree(l, k))
            .map_err(|e| anyhow::anyhow!("proof generation: {e}"))?;
        // The displayed event, as the export renders it with no openings.
        let r = crate::log::entry::render(entry, &Default::default())
            .map_err(|e| anyhow::anyhow!("rendering a stored entry: {e}"))?;
        let mut display = r.event;
        if !r.erased.is_empty() {
            display.insert("erased_fields".into(), serde_json::json!(r.erased));
        }
        display.insert(
            "log".into(),
            serde_json::json!({"seq": at.seq, "leaf_hash": b64.encode(leaf_hash(entry))}),
        );
        events.push(EventEvidence {
            id: crate::ids::ActivityId::new(at.received_ms as u64, at.gseq).to_string(),
            organization_id: org_ids[org].clone(),
            seq: at.seq,
            leaf_index: at.seq,
            leaf_hash: b64.encode(leaf_hash(entry)),
            entry: Some(String::from_utf8(entry.clone())?),
            openings: BTreeMap::new(),
            display: Some(display),
            tree_size: tree.size(),
            inclusion_proof: proof.iter().map(|h| b64.encode(h)).collect(),
        });
    }
    let bundle = Bundle {
        format: BUNDLE_FORMAT.into(),
        created_at: crate::time::fmt_ms(crate::time::now_ms()),
        log_name: name.into(),
        verifier_keys: vec![signer.verifier_key()],
        selection: Selection {
            kind: "filter".into(),
            organization_id: None,
            filters: serde_json::Map::new(),
        },
        logs,
        events,
    };
    let bytes = serde_json::to_vec(&bundle)?;
    drop(bundle);

    let t = Instant::now();
    let report = crate::bundle::verify::verify_bytes(&bytes, &[signer.verifier()]);
    let secs = t.elapsed().as_secs_f64();
    if !report.ok() || report.events_verified != rows.len() {
        anyhow::bail!("the harness's bundle did not verify: {}", report.summary());
    }
    let fig = BundleFigure {
        events: rows.len() as u64,
        logs: per_org.len() as u64,
        bytes: bytes.len() as u64,
        secs,
        per_million_secs: secs * 1e6 / rows.len().max(1) as f64,
    };
    super::progress(format!(
        "verify: sealtrail-bundle/v1 of {} events ({} MB) read and verified in {:.2} s",
        fig.events,
        fig.bytes / 1_000_000,
        fig.secs
    ));
    Ok(fig)
}
