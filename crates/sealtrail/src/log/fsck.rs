//! Offline verification of the stored logs (`sealtrail fsck`, and the
//! start-up check).
//!
//! Everything is recomputed from the rows as found: each leaf hash from its
//! entry bytes, each organization's tree from its leaves, and the result is
//! compared with the stored tiles, the stored head and every stored
//! checkpoint (whose signatures are checked too). Each discrepancy is
//! reported as an edited, deleted or inserted event, naming the event where
//! the evidence allows, or the narrowest range of positions otherwise.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use sealtrail_tlog::{Checkpoint, Frontier, Hash, NoteVerifier, leaf_hash, open_note};
use serde_json::Value;

use super::TILE_HEIGHT;
use crate::ids::ActivityId;
use crate::storage::{CheckpointRecord, LogRow, OrgKey, Storage, StoreError, StoreResult};
use crate::time::fmt_ms;

/// The kind of a discrepancy, so callers can tell tampering with events
/// from damage to the tree's bookkeeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An event's content or leaf changed after it was sequenced.
    Edited,
    /// An event that was sequenced is gone.
    Deleted,
    /// A row that the server never sequenced is present.
    Inserted,
    /// Stored tree hashes (tiles, head) disagree with the leaves.
    Tree,
    /// A checkpoint's root disagrees with the leaves.
    Checkpoint,
    /// A checkpoint's signature, origin or fields do not verify.
    Signature,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Edited => "edited",
            Kind::Deleted => "deleted",
            Kind::Inserted => "inserted",
            Kind::Tree => "tree",
            Kind::Checkpoint => "checkpoint",
            Kind::Signature => "signature",
        }
    }
}

/// One discrepancy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The organization id (or `org key N` when its record is missing).
    pub org: String,
    /// What kind of discrepancy.
    pub kind: Kind,
    /// The sentence that names the event, range or record and says why.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.kind.label(), self.org, self.message)
    }
}

/// What was checked for one log.
#[derive(Clone, Debug, Default)]
pub struct LogSummary {
    /// Organization id.
    pub org: String,
    /// Rows found.
    pub rows: u64,
    /// Rows whose body was pruned (leaf kept).
    pub pruned: u64,
    /// The stored head's size.
    pub head: u64,
    /// Stored checkpoints.
    pub checkpoints: usize,
    /// Whether nothing was found wrong.
    pub ok: bool,
}

/// The result of a check.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Per log.
    pub logs: Vec<LogSummary>,
    /// Every discrepancy, in log order.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether everything verified.
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }
}

/// How much to check.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Also parse each entry and compare it with the row's indexed
    /// columns and position, to pinpoint edits that kept leaf and entry in
    /// step. Slower; `fsck` does it, the start-up check does not.
    pub deep: bool,
}

/// Checks every log in storage. `verifiers` are the checkpoint keys
/// (current and retired); `log_name` makes the expected origins.
pub fn check_all(
    store: &dyn Storage,
    verifiers: &[NoteVerifier],
    log_name: &str,
    opts: Options,
) -> StoreResult<Report> {
    let mut report = Report::default();
    let orgs = store.orgs()?;
    let known: BTreeSet<OrgKey> = orgs.iter().map(|o| o.key).collect();
    for org in &orgs {
        let before = report.findings.len();
        let mut summary = check_log(
            store,
            org.key,
            &org.id,
            verifiers,
            log_name,
            opts,
            &mut report,
        )?;
        summary.ok = report.findings.len() == before;
        report.logs.push(summary);
    }
    for owner in store.log_owners()? {
        if !known.contains(&owner) {
            report.findings.push(Finding {
                org: format!("org key {owner}"),
                kind: Kind::Inserted,
                message: format!(
                    "stored events, head or checkpoints belong to organization key {owner}, which does not exist"
                ),
            });
        }
    }
    Ok(report)
}

/// A row's public id: the one in its entry, else the one its position makes.
fn row_id(row: &LogRow, parsed: Option<&serde_json::Map<String, Value>>) -> String {
    parsed
        .and_then(|m| m.get("id"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| ActivityId::new(row.received_ms as u64, row.gseq).to_string())
}

fn parse_entry(entry: &[u8]) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_slice::<Value>(entry) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

/// Compares an entry with the row it is stored in.
fn entry_vs_row(row: &LogRow, e: &serde_json::Map<String, Value>, org_id: &str) -> Vec<String> {
    let mut out = Vec::new();
    let s = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
    let inner = |o: &str, k: &str| {
        e.get(o)
            .and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if e.get("seq").and_then(Value::as_u64) != Some(row.seq) {
        out.push(format!(
            "the entry's seq is {:?}, the row's is {}",
            e.get("seq"),
            row.seq
        ));
    }
    if s("organization_id").as_deref() != Some(org_id) {
        out.push(format!(
            "the entry names organization {:?}",
            s("organization_id").unwrap_or_default()
        ));
    }
    let expected_id = ActivityId::new(row.received_ms as u64, row.gseq).to_string();
    if s("id").as_deref() != Some(expected_id.as_str()) {
        out.push(format!(
            "the entry's id {:?} is not the id of its row ({expected_id})",
            s("id").unwrap_or_default()
        ));
    }
    if s("received_at") != Some(fmt_ms(row.received_ms)) {
        out.push("the entry's received_at differs from the row's".into());
    }
    for (col, val) in &row.columns {
        let from_entry = match *col {
            "type" => s("type"),
            "category" => s("category"),
            "product" => s("product"),
            "outcome" => s("outcome"),
            "source_event_id" => s("source_event_id"),
            "actor_id" => inner("actor", "id"),
            "target_id" => inner("target", "id"),
            "created_ms" => {
                let ms: Option<i64> = val.parse().ok();
                if ms.map(fmt_ms) != s("created_at") {
                    out.push("the entry's created_at differs from the row's".into());
                }
                continue;
            }
            _ => continue,
        };
        if from_entry.as_deref() != Some(val.as_str()) {
            out.push(format!(
                "the entry says {col} = {:?} but the row's indexed copy says {val:?}",
                from_entry.unwrap_or_default()
            ));
        }
    }
    out
}

/// A stored hash that disagrees with the leaves, to be explained once the
/// whole log has been read.
struct Mismatch {
    what: String,
    start: u64,
    end: u64,
}

fn range_text(a: u64, b: u64) -> String {
    if b == a + 1 {
        format!("seq {a}")
    } else {
        format!("seq {a}..{}", b - 1)
    }
}

#[allow(clippy::too_many_arguments)]
fn check_log(
    store: &dyn Storage,
    org: OrgKey,
    org_id: &str,
    verifiers: &[NoteVerifier],
    log_name: &str,
    opts: Options,
    report: &mut Report,
) -> StoreResult<LogSummary> {
    let mut findings: Vec<Finding> = Vec::new();
    let mut add = |kind: Kind, message: String| {
        findings.push(Finding {
            org: org_id.to_string(),
            kind,
            message,
        })
    };
    let head = match store.head(org) {
        Ok(h) => Some(h.frontier),
        Err(StoreError::Corrupt(m)) => {
            add(Kind::Tree, format!("the stored head cannot be read: {m}"));
            None
        }
        Err(e) => return Err(e),
    };
    let head_size = head.as_ref().map(Frontier::size);
    let mut nodes: HashMap<(u32, u64), Vec<u8>> = store
        .log_nodes(org)?
        .into_iter()
        .map(|(l, i, h)| ((l, i), h))
        .collect();

    // Checkpoint signatures, origins and recorded fields.
    let cps = store.checkpoints(org)?;
    let origin = super::checkpoint::origin(log_name, org_id);
    for cp in &cps {
        check_checkpoint_record(cp, verifiers, &origin, &mut add);
    }

    let mut frontier = Frontier::new();
    let mut tree_ok = head_size.is_some();
    let mut expected = 0u64;
    let mut last_seq: Option<u64> = None;
    let mut rows = 0u64;
    let mut pruned = 0u64;
    let mut mismatches: Vec<Mismatch> = Vec::new();
    let mut good_cps: Vec<u64> = Vec::new();
    let mut cp_iter = cps.iter().peekable();
    let mut last_good_cp = 0u64;
    let mut flagged: Vec<(u64, String)> = Vec::new();
    let limit = head_size.unwrap_or(0);

    store.scan_log(org, &mut |row: LogRow| {
        rows += 1;
        let parsed = if opts.deep {
            row.entry.as_deref().and_then(parse_entry)
        } else {
            None
        };
        let id = row_id(&row, parsed.as_ref());
        let name = format!("event {id} (seq {}, gseq {})", row.seq, row.gseq);
        if last_seq == Some(row.seq) {
            add(
                Kind::Inserted,
                format!("{name} repeats a sequence number that another row already holds"),
            );
            flagged.push((row.seq, id));
            return Ok(());
        }
        last_seq = Some(row.seq);
        if head_size.is_some() && row.seq >= limit {
            add(
                Kind::Inserted,
                format!("{name} lies beyond the log head (size {limit}): it was never sequenced"),
            );
            flagged.push((row.seq, id));
            return Ok(());
        }
        if row.seq > expected {
            add(
                Kind::Deleted,
                format!(
                    "{} missing ({} events): the rows were deleted",
                    range_text(expected, row.seq),
                    row.seq - expected
                ),
            );
            if tree_ok {
                tree_ok = false;
            }
        }
        expected = row.seq + 1;

        let mut problems = Vec::new();
        let leaf: Option<Hash> = row.leaf.as_slice().try_into().ok();
        if leaf.is_none() {
            problems.push(format!(
                "its stored leaf is {} bytes, not 32",
                row.leaf.len()
            ));
        }
        match &row.entry {
            Some(entry) => {
                if leaf.is_some_and(|l| l != leaf_hash(entry)) {
                    problems.push("its entry bytes no longer hash to its stored leaf".into());
                }
                if opts.deep {
                    match &parsed {
                        Some(m) => problems.extend(entry_vs_row(&row, m, org_id)),
                        None => problems.push("its entry is not a JSON object".into()),
                    }
                }
            }
            None => pruned += 1,
        }
        if !problems.is_empty() {
            add(Kind::Edited, format!("{name}: {}", problems.join("; ")));
            flagged.push((row.seq, id.clone()));
        }

        if tree_ok {
            let leaf = leaf.unwrap_or([0; 32]);
            let mut completed: Vec<(u32, u64, Hash)> = Vec::new();
            frontier
                .push(leaf, |l, i, h| {
                    if l % TILE_HEIGHT == 0 {
                        completed.push((l, i, *h));
                    }
                })
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            for (l, i, h) in completed {
                let (start, end) = (i << l, (i + 1) << l);
                match nodes.remove(&(l, i)) {
                    Some(stored) if stored.as_slice() == h.as_slice() => {}
                    Some(_) => mismatches.push(Mismatch {
                        what: format!("the stored subtree ({l}, {i})"),
                        start,
                        end,
                    }),
                    None => add(
                        Kind::Tree,
                        format!(
                            "the stored subtree ({l}, {i}) covering {} is missing",
                            range_text(start, end)
                        ),
                    ),
                }
            }
            let size = frontier.size();
            while let Some(cp) = cp_iter.peek() {
                if cp.size > size {
                    break;
                }
                if cp.size == size {
                    if cp.root == frontier.root() {
                        good_cps.push(size);
                        last_good_cp = size;
                    } else {
                        mismatches.push(Mismatch {
                            what: format!("the checkpoint at size {size}"),
                            start: last_good_cp,
                            end: size,
                        });
                    }
                }
                cp_iter.next();
            }
        }
        Ok(())
    })?;

    if let Some(h) = &head {
        if expected < h.size() {
            add(
                Kind::Deleted,
                format!(
                    "{} missing ({} events): the last rows of the log were deleted",
                    range_text(expected, h.size()),
                    h.size() - expected
                ),
            );
            tree_ok = false;
        }
        if tree_ok && frontier.size() == h.size() && frontier.hashes() != h.hashes() {
            add(
                Kind::Tree,
                format!(
                    "the stored head (size {}) does not match the leaves: an event was edited, or the head was rewritten",
                    h.size()
                ),
            );
        }
    }
    let reached = if tree_ok { frontier.size() } else { expected };
    for cp in cp_iter {
        if cp.size > head_size.unwrap_or(0).max(reached) {
            add(
                Kind::Deleted,
                format!(
                    "a checkpoint was signed at size {} but the stored log has only {} events: events were deleted and the head rewound",
                    cp.size,
                    head_size.unwrap_or(0).max(reached)
                ),
            );
        } else if !tree_ok {
            add(
                Kind::Checkpoint,
                format!(
                    "the checkpoint at size {} could not be compared: the tree cannot be recomputed past a missing event",
                    cp.size
                ),
            );
        }
    }
    if tree_ok {
        let mut extra: Vec<(u32, u64)> = nodes.keys().copied().collect();
        extra.sort();
        for (l, i) in extra {
            add(
                Kind::Inserted,
                format!(
                    "the stored subtree ({l}, {i}) lies beyond the log's {} leaves",
                    frontier.size()
                ),
            );
        }
    }

    // Explain each stored hash that disagrees with the leaves.
    for m in mismatches {
        let verified_past = good_cps.iter().copied().filter(|&g| g >= m.end).min();
        let (kind, msg) = match verified_past {
            Some(g) => (
                Kind::Tree,
                format!(
                    "{} was altered: the leaves of {} are intact (the checkpoint at size {g} verifies them)",
                    m.what,
                    range_text(m.start, m.end)
                ),
            ),
            None => {
                let start = good_cps
                    .iter()
                    .copied()
                    .filter(|&g| g <= m.end)
                    .max()
                    .unwrap_or(0)
                    .max(m.start);
                let inside: Vec<&str> = flagged
                    .iter()
                    .filter(|(s, _)| *s >= start && *s < m.end)
                    .map(|(_, id)| id.as_str())
                    .collect();
                let named = if end_minus(start, m.end) == 1 {
                    let id = store
                        .event_by_seq(org, start)
                        .ok()
                        .flatten()
                        .map(|e| ActivityId::new(e.received_ms as u64, e.gseq).to_string())
                        .unwrap_or_default();
                    format!(": event {id} (seq {start}) was edited")
                } else if !inside.is_empty() {
                    format!(
                        "; the rows flagged above ({}) are the candidates",
                        inside.join(", ")
                    )
                } else {
                    ": an event in that range was edited and its leaf recomputed".into()
                };
                let kind = if m.what.starts_with("the checkpoint") {
                    Kind::Checkpoint
                } else {
                    Kind::Edited
                };
                (
                    kind,
                    format!(
                        "{} does not match the leaves of {}{named}",
                        m.what,
                        range_text(start, m.end)
                    ),
                )
            }
        };
        add(kind, msg);
    }

    report.findings.extend(findings);
    Ok(LogSummary {
        org: org_id.to_string(),
        rows,
        pruned,
        head: head_size.unwrap_or(0),
        checkpoints: cps.len(),
        ok: false,
    })
}

fn end_minus(start: u64, end: u64) -> u64 {
    end.saturating_sub(start)
}

fn check_checkpoint_record(
    cp: &CheckpointRecord,
    verifiers: &[NoteVerifier],
    origin: &str,
    add: &mut impl FnMut(Kind, String),
) {
    let opened = match open_note(&cp.note, verifiers) {
        Ok(o) => o,
        Err(e) => {
            add(
                Kind::Signature,
                format!("the checkpoint at size {} does not verify: {e}", cp.size),
            );
            return;
        }
    };
    match Checkpoint::parse(&opened.text) {
        Ok(c) => {
            if c.origin != origin {
                add(
                    Kind::Signature,
                    format!(
                        "the checkpoint at size {} has origin {:?}, expected {origin:?}",
                        cp.size, c.origin
                    ),
                );
            }
            if c.size != cp.size || c.root_hash != cp.root {
                add(
                    Kind::Signature,
                    format!(
                        "the checkpoint record at size {} differs from its signed note (size {})",
                        cp.size, c.size
                    ),
                );
            }
        }
        Err(e) => add(
            Kind::Signature,
            format!(
                "the checkpoint at size {} is not a checkpoint: {e}",
                cp.size
            ),
        ),
    }
}

/// Logs at most this many events in total are verified in full at every
/// start; larger databases get the quick head check, and `sealtrail fsck`
/// does the full one on demand.
pub const STARTUP_FULL_CHECK_MAX_EVENTS: u64 = 1_000_000;

/// The start-up check: the server refuses to extend logs that were changed
/// behind its back. A signature made by a key the server no longer has is
/// only warned about (the key may have been replaced without rotation);
/// everything else stops the start.
pub fn startup_check(
    store: &dyn Storage,
    verifiers: &[NoteVerifier],
    log_name: &str,
) -> anyhow::Result<()> {
    if store.max_gseq()? > STARTUP_FULL_CHECK_MAX_EVENTS {
        return Ok(());
    }
    let report = check_all(store, verifiers, log_name, Options { deep: false })?;
    let mut fatal = Vec::new();
    for f in &report.findings {
        let unknown_key =
            f.kind == Kind::Signature && f.message.contains("no signature from a known key");
        if unknown_key {
            tracing::warn!(finding = %f, "checkpoint signed by a key this server does not hold");
        } else {
            fatal.push(f.to_string());
        }
    }
    if fatal.is_empty() {
        return Ok(());
    }
    let n = fatal.len();
    fatal.truncate(10);
    anyhow::bail!(
        "the stored logs were changed behind the server's back ({n} problems); refusing to start. Run `sealtrail fsck --data-dir <dir>` for the full report:\n  {}",
        fatal.join("\n  ")
    )
}
