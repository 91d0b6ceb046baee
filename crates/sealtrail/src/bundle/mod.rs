//! Evidence bundles: a self-contained, versioned JSON document holding
//! events, their exact leaf entries, the personal-data openings still
//! available, inclusion proofs and the signed checkpoints they lead to.
//!
//! An auditor who holds only the log's public key can check a bundle
//! offline (`sealtrail verify`, [`verify`]); nothing in it has to be
//! trusted. The format is specified in `docs/INTEGRITY.md` and is kept
//! apart from the server's internals so that third parties can implement
//! it: [`build`] fills it from storage, [`verify`] depends only on these
//! types, `sealtrail-tlog`, `sha2` and `base64`.

pub mod build;
pub mod verify;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The value of the `format` field; a reader refuses any other, so a
/// future incompatible layout can never be misread as this one.
pub const BUNDLE_FORMAT: &str = "sealtrail-bundle/v1";

/// Most events in one bundle. Bounds the memory of the server building it
/// and of the auditor checking it; larger selections are split by time.
pub const MAX_BUNDLE_EVENTS: usize = 100_000;

/// A whole evidence bundle.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Bundle {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// When the server produced it (RFC 3339 UTC, ms).
    pub created_at: String,
    /// The deployment's log name: every origin is `<log_name>/<org id>`
    /// and it is the name of the signing key.
    pub log_name: String,
    /// The verifier keys the server says it signs with (current first).
    /// Informational: an auditor verifies with keys obtained out of band.
    pub verifier_keys: Vec<String>,
    /// What was selected, echoed so the auditor knows what the bundle
    /// claims to contain.
    pub selection: Selection,
    /// One entry per organization log that has events in the bundle.
    pub logs: Vec<LogEvidence>,
    /// The events, oldest commit first.
    pub events: Vec<EventEvidence>,
}

/// The selection an export was made for.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Selection {
    /// `log` (every event of one organization's log up to its checkpoint,
    /// so completeness is checkable) or `filter` (events matching the
    /// feed filters; completeness is not provable).
    pub kind: String,
    /// For `log`: the organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// For `filter`: the feed filters, as sent.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub filters: Map<String, Value>,
}

/// The evidence about one organization's log.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LogEvidence {
    /// The organization.
    pub organization_id: String,
    /// `<log_name>/<organization_id>`, the first line of its checkpoints.
    pub origin: String,
    /// Signed checkpoints, ascending by size. The last one is the one the
    /// events' inclusion proofs lead to; earlier ones are checkpoints the
    /// requester already held.
    pub checkpoints: Vec<CheckpointEvidence>,
    /// Consistency proofs between consecutive checkpoints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consistency: Vec<ConsistencyEvidence>,
}

/// One signed checkpoint, with its fields repeated for readers.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CheckpointEvidence {
    /// Tree size (must equal the note's second line).
    pub tree_size: u64,
    /// Base64 root hash (must equal the note's third line).
    pub root_hash: String,
    /// The C2SP signed note, verbatim.
    pub note: String,
}

/// An RFC 9162 consistency proof between two checkpoints of one log.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ConsistencyEvidence {
    /// The older size.
    pub first: u64,
    /// The newer size.
    pub second: u64,
    /// Base64 proof nodes.
    pub proof: Vec<String>,
}

/// One opened personal value: the salt and value that recompute the
/// commitment in the entry.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OpeningEvidence {
    /// Base64 salt.
    pub salt: String,
    /// The personal value.
    pub value: String,
}

/// One event with everything needed to check it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EventEvidence {
    /// Activity id.
    pub id: String,
    /// Owning organization.
    pub organization_id: String,
    /// Position in the organization's log.
    pub seq: u64,
    /// Leaf index in the tree (equal to `seq`).
    pub leaf_index: u64,
    /// Base64 of `SHA-256(0x00 || entry)`.
    pub leaf_hash: String,
    /// The canonical entry, verbatim (the leaf is its UTF-8 bytes).
    /// Absent when retention pruned the body; the leaf is still proven.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// Personal values that can still be opened, by dotted path.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub openings: BTreeMap<String, OpeningEvidence>,
    /// The event as the feed displays it (personal values opened, erased
    /// ones `null`); checked against the entry and the openings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<Map<String, Value>>,
    /// The tree size of the checkpoint the proof leads to.
    pub tree_size: u64,
    /// Base64 inclusion proof nodes, nearest the leaf first.
    pub inclusion_proof: Vec<String>,
}
