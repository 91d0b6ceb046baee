//! The offline verifier of evidence bundles.
//!
//! It depends only on the bundle types, `sealtrail-tlog`, `sha2` and
//! `base64` (and `serde_json` to read the document): no storage, no
//! network, no server secret. Given the bytes of a bundle and the verifier
//! keys the auditor trusts, it checks every signature, origin, leaf hash,
//! inclusion and consistency proof, commitment opening and displayed value,
//! and reports each failure with the event, checkpoint or proof it concerns.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sealtrail_tlog::{Checkpoint, Hash, NoteVerifier, leaf_hash, open_note, verify_consistency};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{BUNDLE_FORMAT, Bundle, EventEvidence, LogEvidence, OpeningEvidence};

/// Domain prefix of personal-data commitments (entry format v1). Repeated
/// here rather than imported so that the verifier stands on the published
/// specification alone.
const COMMIT_DOMAIN: &[u8] = b"sealtrail/commit/v1\0";

/// The entry format version this verifier understands.
const ENTRY_VERSION: u64 = 1;

/// What a problem is about, so the report can name it precisely.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// The document as a whole.
    Bundle,
    /// One organization's log section.
    Log {
        /// Organization id.
        org: String,
    },
    /// One checkpoint.
    Checkpoint {
        /// Organization id.
        org: String,
        /// Its tree size.
        size: u64,
    },
    /// A consistency proof between two checkpoints.
    Consistency {
        /// Organization id.
        org: String,
        /// Older size.
        first: u64,
        /// Newer size.
        second: u64,
    },
    /// One event.
    Event {
        /// Activity id.
        id: String,
        /// Organization id.
        org: String,
        /// Position in the log.
        seq: u64,
    },
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Bundle => write!(f, "bundle"),
            Subject::Log { org } => write!(f, "log of {org}"),
            Subject::Checkpoint { org, size } => {
                write!(f, "checkpoint of {org} at tree size {size}")
            }
            Subject::Consistency { org, first, second } => {
                write!(
                    f,
                    "consistency proof of {org} from size {first} to {second}"
                )
            }
            Subject::Event { id, org, seq } => write!(f, "event {id} (org {org}, seq {seq})"),
        }
    }
}

/// One failed check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// What failed.
    pub subject: Subject,
    /// Why, in one sentence.
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FAIL {}: {}", self.subject, self.reason)
    }
}

/// The outcome of verifying a bundle.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Events in the bundle.
    pub events: usize,
    /// Events whose every check passed.
    pub events_verified: usize,
    /// Checkpoints in the bundle.
    pub checkpoints: usize,
    /// Checkpoints whose signature, origin and fields verified.
    pub checkpoints_verified: usize,
    /// Everything that failed; empty means the bundle verified.
    pub problems: Vec<Problem>,
    /// Facts the auditor should know that are not failures (pruned
    /// bodies, erased fields, what completeness was or was not proven).
    pub notices: Vec<String>,
}

impl Report {
    /// Whether every check passed.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The one-line verdict.
    pub fn summary(&self) -> String {
        if self.ok() {
            format!(
                "all {} events verified against {} checkpoints",
                self.events, self.checkpoints
            )
        } else {
            format!(
                "verification FAILED: {} problems; {} of {} events and {} of {} checkpoints verified",
                self.problems.len(),
                self.events_verified,
                self.events,
                self.checkpoints_verified,
                self.checkpoints
            )
        }
    }

    fn fail(&mut self, subject: Subject, reason: impl Into<String>) {
        self.problems.push(Problem {
            subject,
            reason: reason.into(),
        });
    }
}

fn decode_hash(s: &str) -> Result<Hash, String> {
    let raw = B64
        .decode(s)
        .map_err(|_| format!("{s:?} is not standard base64"))?;
    raw.as_slice()
        .try_into()
        .map_err(|_| format!("a hash must be 32 bytes, this one is {}", raw.len()))
}

fn decode_hashes(v: &[String]) -> Result<Vec<Hash>, String> {
    v.iter()
        .enumerate()
        .map(|(i, s)| decode_hash(s).map_err(|e| format!("proof node {i}: {e}")))
        .collect()
}

/// The commitment to a personal value: base64 of
/// `SHA-256("sealtrail/commit/v1\0" || salt || value)`.
pub fn commitment(salt: &[u8], value: &str) -> String {
    let d = Sha256::new()
        .chain_update(COMMIT_DOMAIN)
        .chain_update(salt)
        .chain_update(value.as_bytes())
        .finalize();
    B64.encode(d)
}

/// A bundle whose events are not parsed yet, so that they can be parsed
/// on every core.
#[derive(serde::Deserialize)]
// Every member is required by the format, so parsing checks them all; the
// ones the checks do not use are not read after that.
#[allow(dead_code)]
struct RawBundle<'a> {
    format: String,
    created_at: String,
    log_name: String,
    verifier_keys: Vec<String>,
    selection: super::Selection,
    logs: Vec<LogEvidence>,
    #[serde(borrow)]
    events: Vec<&'a serde_json::value::RawValue>,
}

/// Runs `f` over `items` in contiguous chunks, one per available core,
/// and returns the results in order.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || items.len() < 1024 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| {
                let f = &f;
                s.spawn(move || c.iter().map(f).collect::<Vec<R>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(v) => v,
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    })
}

/// Verifies a bundle given as bytes against the trusted verifier keys.
/// Each event is parsed, checked and dropped on one of the cores, so a
/// bundle of a million events never sits in memory parsed.
pub fn verify_bytes(bytes: &[u8], trusted: &[NoteVerifier]) -> Report {
    match serde_json::from_slice::<RawBundle<'_>>(bytes) {
        Ok(b) => verify_with(
            Header {
                format: &b.format,
                selection: &b.selection,
                logs: &b.logs,
            },
            Source::Raw(&b.events),
            trusted,
        ),
        Err(e) => unreadable(&e),
    }
}

fn unreadable(e: &dyn fmt::Display) -> Report {
    let mut r = Report::default();
    r.fail(
        Subject::Bundle,
        format!("not a readable {BUNDLE_FORMAT} document: {e}"),
    );
    r
}

/// The parts of a bundle read before its events.
struct Header<'a> {
    format: &'a str,
    selection: &'a super::Selection,
    logs: &'a [LogEvidence],
}

/// A bundle's events, parsed already or still raw JSON.
enum Source<'a> {
    Parsed(&'a [EventEvidence]),
    Raw(&'a [&'a serde_json::value::RawValue]),
}

impl Source<'_> {
    fn len(&self) -> usize {
        match self {
            Source::Parsed(v) => v.len(),
            Source::Raw(v) => v.len(),
        }
    }

    /// Runs `f` on event `i`, parsing it first if it is raw.
    fn with<R>(&self, i: usize, f: impl FnOnce(&EventEvidence) -> R) -> Result<R, String> {
        match self {
            Source::Parsed(v) => Ok(f(&v[i])),
            Source::Raw(v) => serde_json::from_str::<EventEvidence>(v[i].get())
                .map(|ev| f(&ev))
                .map_err(|e| format!("events[{i}]: {e}")),
        }
    }
}

/// What the sequential part of the check needs of each event.
struct Meta {
    id: String,
    org: String,
    seq: u64,
    tree_size: u64,
}

impl Meta {
    fn subject(&self) -> Subject {
        Subject::Event {
            id: self.id.clone(),
            org: self.org.clone(),
            seq: self.seq,
        }
    }
}

/// A checkpoint that verified: its root, for the events that lead to it.
struct Trusted {
    root: Hash,
}

/// Verifies a parsed bundle against the trusted verifier keys.
pub fn verify_bundle(b: &Bundle, trusted: &[NoteVerifier]) -> Report {
    verify_with(
        Header {
            format: &b.format,
            selection: &b.selection,
            logs: &b.logs,
        },
        Source::Parsed(&b.events),
        trusted,
    )
}

fn verify_with(b: Header<'_>, events: Source<'_>, trusted: &[NoteVerifier]) -> Report {
    let mut r = Report {
        events: events.len(),
        checkpoints: b.logs.iter().map(|l| l.checkpoints.len()).sum(),
        ..Report::default()
    };
    if b.format != BUNDLE_FORMAT {
        r.fail(
            Subject::Bundle,
            format!(
                "format is {:?}; this verifier reads {BUNDLE_FORMAT:?}",
                b.format
            ),
        );
        return r;
    }
    if trusted.is_empty() {
        r.fail(Subject::Bundle, "no trusted verifier key was given");
        return r;
    }
    let mut cps: HashMap<(String, u64), Trusted> = HashMap::new();
    let mut seen_orgs = BTreeSet::new();
    for log in b.logs {
        if !seen_orgs.insert(log.organization_id.clone()) {
            r.fail(
                Subject::Log {
                    org: log.organization_id.clone(),
                },
                "the organization appears twice in logs",
            );
            continue;
        }
        check_log(&mut r, log, trusted, &mut cps);
    }

    // Each event is parsed (if raw) and checked — its entry, display and
    // openings, its inclusion proof — on every core; the bookkeeping
    // (duplicates, missing checkpoints) is then done in order.
    let idx: Vec<usize> = (0..events.len()).collect();
    let checked = par_map(&idx, |&i| {
        events.with(i, |ev| {
            let meta = Meta {
                id: ev.id.clone(),
                org: ev.organization_id.clone(),
                seq: ev.seq,
                tree_size: ev.tree_size,
            };
            let res = cps
                .get(&(ev.organization_id.clone(), ev.tree_size))
                .map(|cp| check_event(ev, cp));
            (meta, res)
        })
    });
    let mut metas = Vec::with_capacity(checked.len());
    let mut results = Vec::with_capacity(checked.len());
    for c in checked {
        match c {
            Ok((m, res)) => {
                metas.push(m);
                results.push(res);
            }
            Err(e) => return unreadable(&e),
        }
    }
    let mut untrusted: BTreeMap<(String, u64), usize> = BTreeMap::new();
    let mut seen_events: std::collections::HashSet<(&str, u64)> =
        std::collections::HashSet::with_capacity(metas.len());
    let mut pruned = 0usize;
    let mut erased = 0usize;
    for (m, res) in metas.iter().zip(results) {
        if !seen_events.insert((m.org.as_str(), m.seq)) {
            r.fail(
                m.subject(),
                "the same log position appears twice in the bundle",
            );
            continue;
        }
        match res {
            None => {
                let known = b.logs.iter().any(|l| l.organization_id == m.org);
                if known {
                    *untrusted.entry((m.org.clone(), m.tree_size)).or_default() += 1;
                } else {
                    r.fail(
                        m.subject(),
                        format!("the bundle has no checkpoint for organization {}", m.org),
                    );
                }
            }
            Some(Ok(info)) => {
                r.events_verified += 1;
                pruned += usize::from(info.pruned);
                erased += usize::from(info.erased > 0);
            }
            Some(Err(reasons)) => {
                for reason in reasons {
                    r.fail(m.subject(), reason);
                }
            }
        }
    }
    for ((org, size), n) in untrusted {
        r.fail(
            Subject::Checkpoint { org, size },
            format!("{n} events lead to this checkpoint, which is missing or did not verify; they were not checked"),
        );
    }

    if b.selection.kind == "log" {
        check_complete(&mut r, &b, &metas);
    } else {
        r.notices.push(
            "this is a filtered export: each event is proven to be in its log, but the bundle cannot prove that no other event matched the filters".into(),
        );
    }
    if pruned > 0 {
        r.notices.push(format!(
            "{pruned} events were pruned by retention: only their leaf hash is proven, their content is not in the bundle"
        ));
    }
    if erased > 0 {
        r.notices.push(format!(
            "{erased} events have erased personal fields: their commitments are proven, their values are gone"
        ));
    }
    r
}

fn check_log(
    r: &mut Report,
    log: &LogEvidence,
    trusted: &[NoteVerifier],
    cps: &mut HashMap<(String, u64), Trusted>,
) {
    let org = &log.organization_id;
    if log.checkpoints.is_empty() {
        r.fail(Subject::Log { org: org.clone() }, "no checkpoint is given");
        return;
    }
    let mut verified: Vec<(u64, Hash)> = Vec::new();
    let mut last_size: Option<u64> = None;
    for cpe in &log.checkpoints {
        let subject = Subject::Checkpoint {
            org: org.clone(),
            size: cpe.tree_size,
        };
        if let Some(prev) = last_size
            && cpe.tree_size <= prev
        {
            r.fail(
                subject.clone(),
                format!(
                    "checkpoints must be listed by increasing size; {} follows {prev}",
                    cpe.tree_size
                ),
            );
        }
        last_size = Some(cpe.tree_size);
        let opened = match open_note(&cpe.note, trusted) {
            Ok(o) => o,
            Err(e) => {
                r.fail(subject, format!("signature check failed: {e}"));
                continue;
            }
        };
        let cp = match Checkpoint::parse(&opened.text) {
            Ok(c) => c,
            Err(e) => {
                r.fail(subject, format!("the signed text is not a checkpoint: {e}"));
                continue;
            }
        };
        let expected: Vec<String> = opened
            .verified
            .iter()
            .map(|s| format!("{}/{org}", s.name))
            .collect();
        if !expected.contains(&cp.origin) {
            r.fail(
                subject,
                format!(
                    "origin is {:?} but a checkpoint of {org} signed by {} must have origin {:?}",
                    cp.origin,
                    opened
                        .verified
                        .first()
                        .map(|s| s.name.as_str())
                        .unwrap_or("?"),
                    expected.first().cloned().unwrap_or_default()
                ),
            );
            continue;
        }
        if cp.origin != log.origin {
            r.fail(
                subject,
                format!(
                    "the log section says origin {:?} but the signed checkpoint says {:?}",
                    log.origin, cp.origin
                ),
            );
            continue;
        }
        if cp.size != cpe.tree_size {
            r.fail(
                subject,
                format!(
                    "tree_size says {} but the signed checkpoint says {}",
                    cpe.tree_size, cp.size
                ),
            );
            continue;
        }
        match decode_hash(&cpe.root_hash) {
            Ok(h) if h == cp.root_hash => {}
            Ok(_) => {
                r.fail(
                    subject,
                    "root_hash differs from the root in the signed checkpoint",
                );
                continue;
            }
            Err(e) => {
                r.fail(subject, format!("root_hash: {e}"));
                continue;
            }
        }
        r.checkpoints_verified += 1;
        verified.push((cp.size, cp.root_hash));
    }
    // Consecutive verified checkpoints must be consistent.
    for pair in verified.windows(2) {
        let ((a, ra), (b, rb)) = (pair[0], pair[1]);
        let subject = Subject::Consistency {
            org: org.clone(),
            first: a,
            second: b,
        };
        let Some(ce) = log
            .consistency
            .iter()
            .find(|c| c.first == a && c.second == b)
        else {
            r.fail(subject, "the proof is missing");
            return;
        };
        let proof = match decode_hashes(&ce.proof) {
            Ok(p) => p,
            Err(e) => {
                r.fail(subject, e);
                return;
            }
        };
        if let Err(e) = verify_consistency(a, b, &ra, &rb, &proof) {
            r.fail(
                subject,
                format!("the log is not append-only between these checkpoints: {e}"),
            );
            return;
        }
    }
    for (size, root) in verified {
        cps.insert((org.clone(), size), Trusted { root });
    }
}

struct EventInfo {
    pruned: bool,
    erased: usize,
}

fn check_event(ev: &EventEvidence, cp: &Trusted) -> Result<EventInfo, Vec<String>> {
    let mut errs = Vec::new();
    if ev.leaf_index != ev.seq {
        errs.push(format!(
            "leaf_index {} differs from seq {}",
            ev.leaf_index, ev.seq
        ));
    }
    let stated = match decode_hash(&ev.leaf_hash) {
        Ok(h) => Some(h),
        Err(e) => {
            errs.push(format!("leaf_hash: {e}"));
            None
        }
    };
    let mut erased = 0;
    let leaf = match &ev.entry {
        Some(entry) => {
            let computed = leaf_hash(entry.as_bytes());
            if stated.is_some_and(|s| s != computed) {
                errs.push(
                    "the entry bytes do not hash to leaf_hash: SHA-256(0x00 || entry) differs, so the entry was altered"
                        .into(),
                );
            }
            match check_entry(ev, entry) {
                Ok(n) => erased = n,
                Err(mut e) => errs.append(&mut e),
            }
            Some(computed)
        }
        None => stated,
    };
    match decode_hashes(&ev.inclusion_proof) {
        Ok(proof) => {
            if let Some(leaf) = leaf
                && let Err(e) = sealtrail_tlog::verify_inclusion(
                    &leaf,
                    ev.leaf_index,
                    ev.tree_size,
                    &proof,
                    &cp.root,
                )
            {
                errs.push(format!(
                    "inclusion proof against the checkpoint at size {} failed: {e}",
                    ev.tree_size
                ));
            }
        }
        Err(e) => errs.push(format!("inclusion proof: {e}")),
    }
    if errs.is_empty() {
        Ok(EventInfo {
            pruned: ev.entry.is_none(),
            erased,
        })
    } else {
        Err(errs)
    }
}

/// The personal paths an entry commits to: members `{"commitment": "…"}`
/// of a top-level object.
fn commitments(entry: &Map<String, Value>) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (k, v) in entry {
        if let Value::Object(inner) = v {
            for (ik, iv) in inner {
                if let Some(c) = iv
                    .as_object()
                    .filter(|o| o.len() == 1)
                    .and_then(|o| o.get("commitment"))
                    .and_then(Value::as_str)
                {
                    out.push((k.clone(), ik.clone(), c.to_string()));
                }
            }
        }
    }
    out
}

fn opening_matches(o: &OpeningEvidence, c: &str) -> Result<bool, String> {
    let salt = B64
        .decode(&o.salt)
        .map_err(|_| "the salt is not standard base64".to_string())?;
    Ok(commitment(&salt, &o.value) == c)
}

/// Checks what the entry says against the event's stated position, the
/// openings against the commitments, and the displayed event against
/// both. Returns the number of erased (unopened) fields.
fn check_entry(ev: &EventEvidence, entry: &str) -> Result<usize, Vec<String>> {
    let mut errs = Vec::new();
    let obj = match serde_json::from_str::<Value>(entry) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err(vec!["the entry is not a JSON object".into()]),
        Err(e) => return Err(vec![format!("the entry is not JSON: {e}")]),
    };
    if obj.get("v").and_then(Value::as_u64) != Some(ENTRY_VERSION) {
        errs.push(format!(
            "entry format version {:?} is not {ENTRY_VERSION}",
            obj.get("v")
        ));
    }
    if obj.get("id").and_then(Value::as_str) != Some(ev.id.as_str()) {
        errs.push("the entry's id differs from the event's id".into());
    }
    if obj.get("organization_id").and_then(Value::as_str) != Some(ev.organization_id.as_str()) {
        errs.push("the entry's organization_id differs from the event's".into());
    }
    if obj.get("seq").and_then(Value::as_u64) != Some(ev.seq) {
        errs.push("the entry's seq differs from the event's".into());
    }
    // Open the commitments.
    let paths = commitments(&obj);
    let mut display = obj;
    display.remove("v");
    let mut erased = Vec::new();
    for (outer, inner, c) in &paths {
        let path = format!("{outer}.{inner}");
        let value = match ev.openings.get(&path) {
            Some(o) => match opening_matches(o, c) {
                Ok(true) => Value::String(o.value.clone()),
                Ok(false) => {
                    errs.push(format!(
                        "the opening of {path} does not recompute the commitment in the entry"
                    ));
                    Value::Null
                }
                Err(e) => {
                    errs.push(format!("the opening of {path}: {e}"));
                    Value::Null
                }
            },
            None => {
                erased.push(Value::String(path.clone()));
                Value::Null
            }
        };
        if let Some(Value::Object(m)) = display.get_mut(outer) {
            m.insert(inner.clone(), value);
        }
    }
    for path in ev.openings.keys() {
        if !paths.iter().any(|(o, i, _)| format!("{o}.{i}") == *path) {
            errs.push(format!(
                "an opening is given for {path}, which the entry does not commit to"
            ));
        }
    }
    if let Some(shown) = &ev.display {
        if !erased.is_empty() {
            display.insert("erased_fields".into(), Value::Array(erased.clone()));
        }
        let log = shown.get("log");
        for (k, v) in shown.iter().filter(|(k, _)| k.as_str() != "log") {
            if display.get(k) != Some(v) {
                errs.push(format!(
                    "the displayed value of {k} is not what the entry and openings say"
                ));
            }
        }
        for k in display.keys() {
            if k == "log" || !shown.contains_key(k) {
                errs.push(format!("the display leaves out {k}"));
            }
        }
        if let Some(log) = log {
            if log.get("seq").and_then(Value::as_u64) != Some(ev.seq) {
                errs.push("the displayed log.seq differs from seq".into());
            }
            if log.get("leaf_hash").and_then(Value::as_str) != Some(ev.leaf_hash.as_str()) {
                errs.push("the displayed log.leaf_hash differs from leaf_hash".into());
            }
        }
    }
    if errs.is_empty() {
        Ok(erased.len())
    } else {
        Err(errs)
    }
}

/// For whole-log exports: every position below the checkpoint is present.
fn check_complete(r: &mut Report, b: &Header<'_>, events: &[Meta]) {
    let Some(org) = &b.selection.organization_id else {
        r.fail(
            Subject::Bundle,
            "a log export must name its organization_id",
        );
        return;
    };
    let Some(log) = b.logs.iter().find(|l| &l.organization_id == org) else {
        r.fail(
            Subject::Log { org: org.clone() },
            "the exported log has no checkpoint",
        );
        return;
    };
    let Some(size) = log.checkpoints.last().map(|c| c.tree_size) else {
        return;
    };
    let present: BTreeSet<u64> = events
        .iter()
        .filter(|e| &e.org == org && e.tree_size == size)
        .map(|e| e.seq)
        .collect();
    let mut missing: Vec<(u64, u64)> = Vec::new();
    for s in 0..size {
        if !present.contains(&s) {
            match missing.last_mut() {
                Some((_, end)) if *end == s => *end = s + 1,
                _ => missing.push((s, s + 1)),
            }
        }
    }
    for (a, z) in &missing {
        r.fail(
            Subject::Log { org: org.clone() },
            if z - a == 1 {
                format!("the log export is incomplete: seq {a} is missing")
            } else {
                format!(
                    "the log export is incomplete: seq {a}..{} ({} events) are missing",
                    z - 1,
                    z - a
                )
            },
        );
    }
    if events.iter().any(|e| &e.org != org) {
        r.fail(
            Subject::Bundle,
            "a log export contains events of other organizations",
        );
    }
    if missing.is_empty() {
        r.notices.push(format!(
            "the log of {org} is complete: every one of its {size} events up to the checkpoint is in the bundle"
        ));
    }
}

/// Parses verifier keys given on the command line or in a file (one per
/// line, `#` comments allowed).
pub fn parse_keys(text: &str) -> Result<Vec<NoteVerifier>, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| NoteVerifier::parse(l).map_err(|e| format!("verifier key {l:?}: {e}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_map_keeps_order_at_every_size() {
        for n in [0usize, 1, 1023, 1024, 1025, 10_007] {
            let items: Vec<usize> = (0..n).collect();
            let out = par_map(&items, |x| x * 2);
            assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>(), "{n}");
        }
    }

    #[test]
    fn an_unreadable_event_is_named_by_its_index() {
        let doc = serde_json::json!({
            "format": BUNDLE_FORMAT, "created_at": "2026-12-04T00:00:00Z",
            "log_name": "x", "verifier_keys": [], "selection": {"kind": "filter"},
            "logs": [], "events": [{"id": 1}],
        });
        let key = sealtrail_tlog::NoteSigner::from_seed("x", &[1u8; 32])
            .unwrap()
            .verifier();
        let r = verify_bytes(&serde_json::to_vec(&doc).unwrap(), &[key]);
        assert!(!r.ok());
        assert!(
            r.problems[0].reason.contains("events[0]"),
            "{:?}",
            r.problems
        );
    }
}
