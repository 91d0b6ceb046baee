//! The storage interface: the seam between the product and its engines.
//!
//! Everything above this module speaks in records ([`Org`], [`KeyRecord`],
//! [`NewEvent`], …) and in the two traits below; SQL of any dialect never
//! leaves an engine module. Writes happen inside a [`Txn`] opened by
//! [`Storage::write`], which the sequencer drives (one group commit per
//! call); reads are plain methods that may run concurrently with it.

pub mod codec;
pub mod postgres;
pub mod sqlite;

use std::sync::Arc;

use sealtrail_tlog::{Frontier, Hash};

/// Checks that stored hashes read for positions `[start, end)` of a log
/// (leaves, or the subtrees of one level) are exactly one per position, in
/// order, each 32 bytes: the storage contract every engine's range reads
/// share, so a missing or extra row is reported the same way everywhere.
pub fn contiguous_hashes(
    org: OrgKey,
    what: &str,
    start: u64,
    end: u64,
    rows: impl IntoIterator<Item = StoreResult<(u64, Vec<u8>)>>,
) -> StoreResult<Vec<Hash>> {
    let mut out = Vec::with_capacity(end.saturating_sub(start).min(1 << 16) as usize);
    for (i, row) in rows.into_iter().enumerate() {
        let (pos, hash) = row?;
        let want = start + i as u64;
        if pos != want {
            return Err(StoreError::Corrupt(format!(
                "log of org {org} is missing the {what} at position {want}"
            )));
        }
        out.push(hash.try_into().map_err(|_| {
            StoreError::Corrupt(format!(
                "log of org {org}: the {what} at {want} is not 32 bytes"
            ))
        })?);
    }
    if out.len() as u64 != end.saturating_sub(start) {
        return Err(StoreError::Corrupt(format!(
            "log of org {org} is missing {what}s in [{start}, {end})"
        )));
    }
    Ok(out)
}

/// An organization's internal numeric key; never shown to clients.
pub type OrgKey = i64;

/// What can go wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such record.
    #[error("{0}")]
    NotFound(String),
    /// A uniqueness or state conflict.
    #[error("{0}")]
    Conflict(String),
    /// The engine cannot serve now (shutting down, locked too long).
    #[error("{0}")]
    Unavailable(String),
    /// Stored data failed a consistency check.
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// Any other engine failure.
    #[error("storage engine error: {0}")]
    Engine(String),
}

/// Result alias for storage calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// An organization: the tenant boundary and the owner of one log.
#[derive(Clone, Debug, PartialEq)]
pub struct Org {
    /// Internal key.
    pub key: OrgKey,
    /// Public id, e.g. `org_…`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The parent organization, if linked.
    pub parent: Option<OrgKey>,
    /// The root of this organization's tree (itself when it has no parent).
    pub tree: OrgKey,
    /// Whether recording is on.
    pub enabled: bool,
    /// When recording was last switched on (ms since epoch).
    pub logging_enabled_at: Option<i64>,
    /// When recording was last switched off (ms since epoch).
    pub logging_disabled_at: Option<i64>,
    /// When the organization was created (ms since epoch).
    pub created_ms: i64,
    /// Retention of event bodies in days; `None` keeps them forever.
    pub retention_days: Option<u32>,
}

/// The kind of a credential, which decides the plane it opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// The operator plane: organizations, enablement, keys.
    Operator,
    /// A source writing events for one product of one organization tree.
    Ingest,
    /// A reader of the compliance plane with fixed scopes.
    Compliance,
}

impl KeyKind {
    /// Stable storage name.
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyKind::Operator => "operator",
            KeyKind::Ingest => "ingest",
            KeyKind::Compliance => "compliance",
        }
    }

    /// Parses the storage name.
    pub fn parse(s: &str) -> Option<KeyKind> {
        match s {
            "operator" => Some(KeyKind::Operator),
            "ingest" => Some(KeyKind::Ingest),
            "compliance" => Some(KeyKind::Compliance),
            _ => None,
        }
    }
}

/// A stored credential. Only the hash of its secret is kept.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyRecord {
    /// Public key id, e.g. `key_…`.
    pub id: String,
    /// Which plane it opens.
    pub kind: KeyKind,
    /// SHA-256 of the secret part of the token.
    pub secret_hash: [u8; 32],
    /// The organization it is scoped to (none for the operator key).
    pub org: Option<OrgKey>,
    /// The product an ingest key writes for.
    pub product: Option<String>,
    /// Compliance scopes, by name.
    pub scopes: Vec<String>,
    /// A label chosen by whoever created it.
    pub name: String,
    /// Creation time (ms).
    pub created_ms: i64,
    /// Expiry (ms), if any.
    pub expires_ms: Option<i64>,
    /// Revocation time (ms), if revoked.
    pub revoked_ms: Option<i64>,
}

/// The head of one organization's log: its size and right edge.
#[derive(Clone, Debug)]
pub struct LogHead {
    /// The organization.
    pub org: OrgKey,
    /// The compact range over all leaves; its size is the next sequence.
    pub frontier: Frontier,
}

/// A fully sequenced event, ready to persist.
#[derive(Clone, Debug)]
pub struct NewEvent {
    /// Global commit sequence (also the row id).
    pub gseq: u64,
    /// Tree root organization.
    pub tree: OrgKey,
    /// Owning organization.
    pub org: OrgKey,
    /// Position in the organization's log (leaf index).
    pub seq: u64,
    /// Activity type name.
    pub activity_type: String,
    /// Category name.
    pub category: &'static str,
    /// Product name.
    pub product: Option<String>,
    /// Source clock, ms.
    pub created_ms: i64,
    /// Store clock, ms.
    pub received_ms: i64,
    /// Actor id (pseudonymous identifier, kept in the clear for filtering).
    pub actor_id: Option<String>,
    /// Keyed blind index of the actor's email.
    pub actor_email_bi: Option<Vec<u8>>,
    /// Keyed blind index of the actor's IP address.
    pub ip_bi: Option<Vec<u8>>,
    /// API key the actor acted through.
    pub api_key_id: Option<String>,
    /// Target id.
    pub target_id: Option<String>,
    /// `success` or `failure`.
    pub outcome: &'static str,
    /// The source's own event id, for idempotency.
    pub source_event_id: Option<String>,
    /// Canonical leaf entry (no personal data in it).
    pub entry: Vec<u8>,
    /// The entry's stored form if already made off the writer
    /// (`codec::encode_template`); engines that compress use it instead of
    /// encoding `entry` themselves.
    pub stored_entry: Option<Vec<u8>>,
    /// `leaf_hash(entry)`.
    pub leaf: Hash,
    /// Encrypted personal data envelopes.
    pub pii: Option<Vec<u8>>,
    /// Subject references whose data is in `pii` (for erasure).
    pub subjects: Vec<Vec<u8>>,
}

/// An event as read back.
#[derive(Clone, Debug)]
pub struct StoredEvent {
    /// Global commit sequence.
    pub gseq: u64,
    /// Owning organization.
    pub org: OrgKey,
    /// Leaf index.
    pub seq: u64,
    /// Store clock, ms.
    pub received_ms: i64,
    /// Activity type (kept after pruning).
    pub activity_type: String,
    /// Source clock, ms (kept after pruning).
    pub created_ms: i64,
    /// The canonical entry; `None` once pruned by retention.
    pub entry: Option<Vec<u8>>,
    /// The leaf hash (always kept).
    pub leaf: Hash,
    /// Encrypted personal data, if any remains.
    pub pii: Option<Vec<u8>>,
}

/// An activity-type filter term: exact name or `prefix.*`.
#[derive(Clone, Debug, PartialEq)]
pub enum TypePattern {
    /// Every type.
    All,
    /// Exactly this type.
    Exact(String),
    /// Every type starting with this prefix (which ends in a dot).
    Prefix(String),
}

/// Scan direction over the global commit sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scan {
    /// Newest first.
    Desc,
    /// Oldest first.
    Asc,
}

/// A feed query, already resolved to storage terms by the feed layer.
#[derive(Clone, Debug, Default)]
pub struct EventQuery {
    /// The organizations in scope (never empty for a real query).
    pub orgs: Vec<OrgKey>,
    /// Their trees, so the engine can use its per-tree index.
    pub trees: Vec<OrgKey>,
    /// Include only these types (empty: all).
    pub types: Vec<TypePattern>,
    /// Exclude these types.
    pub exclude_types: Vec<TypePattern>,
    /// Actor ids.
    pub actor_ids: Vec<String>,
    /// Blind indexes of actor emails.
    pub actor_email_bis: Vec<Vec<u8>>,
    /// API key ids.
    pub api_key_ids: Vec<String>,
    /// Target ids.
    pub target_ids: Vec<String>,
    /// Categories.
    pub categories: Vec<String>,
    /// Products.
    pub products: Vec<String>,
    /// Blind indexes of one IP address (one per organization in scope).
    pub ip_bis: Vec<Vec<u8>>,
    /// `success` or `failure`.
    pub outcome: Option<String>,
    /// `created_at` lower bound (ms, inclusive).
    pub created_from: Option<i64>,
    /// `created_at` upper bound (ms, exclusive).
    pub created_until: Option<i64>,
    /// Only events strictly beyond this gseq in scan order.
    pub cursor_gseq: Option<u64>,
    /// Scan order.
    pub scan: Option<Scan>,
    /// Maximum rows.
    pub limit: usize,
}

/// A signed checkpoint as stored.
#[derive(Clone, Debug)]
pub struct CheckpointRecord {
    /// The organization.
    pub org: OrgKey,
    /// Tree size it commits to.
    pub size: u64,
    /// Root hash at that size.
    pub root: Hash,
    /// The whole signed note.
    pub note: String,
    /// When it was signed (ms).
    pub signed_ms: i64,
}

/// A per-subject data key, wrapped under the server's master key.
#[derive(Clone, Debug)]
pub struct SubjectKeyRecord {
    /// The organization whose log holds the subject's data. Keys are per
    /// organization so that relinking trees never changes a pseudonym.
    pub org: OrgKey,
    /// Keyed pseudonym of the subject.
    pub subject: Vec<u8>,
    /// The wrapped key; `None` once erased.
    pub wrapped: Option<Vec<u8>>,
    /// When created (ms).
    pub created_ms: i64,
    /// When erased (ms).
    pub erased_ms: Option<i64>,
}

/// An event that holds personal data of a subject, as erasure sees it.
#[derive(Clone, Debug)]
pub struct SubjectEvent {
    /// Global sequence.
    pub gseq: u64,
    /// Actor id of the event.
    pub actor_id: Option<String>,
    /// Sealed envelopes.
    pub pii: Option<Vec<u8>>,
    /// Subject references (16 bytes each, concatenated).
    pub subjects: Vec<u8>,
}

/// A legal hold: blocks erasure and pruning for an organization (and its
/// descendants) or for one subject in it.
#[derive(Clone, Debug, PartialEq)]
pub struct LegalHold {
    /// Public id, `hold_…`.
    pub id: String,
    /// The organization.
    pub org: OrgKey,
    /// The subject pseudonym, or `None` for the whole organization.
    pub subject: Option<Vec<u8>>,
    /// Why (a case reference, not personal data).
    pub reason: String,
    /// When placed (ms).
    pub created_ms: i64,
    /// When released (ms).
    pub released_ms: Option<i64>,
}

/// One stored row of a log exactly as found, for offline verification
/// (`sealtrail fsck`): nothing is interpreted or validated on the way.
#[derive(Clone, Debug)]
pub struct LogRow {
    /// Global commit sequence (row id).
    pub gseq: u64,
    /// Owning organization.
    pub org: OrgKey,
    /// Position in the log.
    pub seq: u64,
    /// Store clock, ms.
    pub received_ms: i64,
    /// The canonical entry; `None` once pruned.
    pub entry: Option<Vec<u8>>,
    /// The stored leaf hash, whatever its length.
    pub leaf: Vec<u8>,
    /// Indexed copies of entry fields, to pinpoint edited rows:
    /// `(column, value)` for the non-null ones.
    pub columns: Vec<(&'static str, String)>,
}

/// A delivery sink as stored: its settings, sealed secrets, durable cursor
/// and health. The cursor is the global sequence of the last event the
/// destination acknowledged; delivery resumes after it.
#[derive(Clone, Debug, PartialEq)]
pub struct SinkRecord {
    /// Public id, `snk_…`.
    pub id: String,
    /// The organization whose events (with its descendants') it delivers.
    pub org: OrgKey,
    /// A label chosen by whoever created it.
    pub name: String,
    /// Destination kind, e.g. `splunk_hec`.
    pub kind: String,
    /// Non-secret settings, as a JSON document.
    pub config: String,
    /// The filter, as a feed query string.
    pub filter: String,
    /// Secret settings, sealed under the server's master key.
    pub secrets: Vec<u8>,
    /// Whether delivery is paused.
    pub paused: bool,
    /// Bumped by each replay; progress reported under an older epoch is
    /// ignored, so a replay is never overwritten by a send in flight.
    pub epoch: u64,
    /// Global sequence of the last delivered event.
    pub cursor_gseq: u64,
    /// Creation time (ms).
    pub created_ms: i64,
    /// Last change of settings (ms).
    pub updated_ms: i64,
    /// Last successful send (ms).
    pub last_success_ms: Option<i64>,
    /// Last failure, as one sentence.
    pub last_error: Option<String>,
    /// When it failed (ms).
    pub last_error_ms: Option<i64>,
    /// Events delivered since creation (a duplicate counts again).
    pub delivered: u64,
}

/// What a delivery worker reports after a send.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SinkProgress {
    /// The new cursor, when events were acknowledged.
    pub cursor_gseq: Option<u64>,
    /// How many events the send acknowledged.
    pub delivered: u64,
    /// When (ms).
    pub at_ms: i64,
    /// The failure, if the send failed (partly or wholly).
    pub error: Option<String>,
}

/// The writes of one group commit. Methods are called by the sequencer in
/// a single transaction that [`Storage::write`] commits durably (or rolls
/// back entirely) when the closure returns.
pub trait Txn {
    /// Marks a point the transaction can return to (one job's start).
    fn savepoint(&mut self) -> StoreResult<()>;
    /// Undoes everything since the last savepoint and drops it.
    fn rollback_savepoint(&mut self) -> StoreResult<()>;
    /// Keeps everything since the last savepoint and drops it.
    fn release_savepoint(&mut self) -> StoreResult<()>;
    /// Reads (and, on engines with concurrent writers, locks) a log head.
    fn log_head(&mut self, org: OrgKey) -> StoreResult<LogHead>;
    /// Stores a log head after appending.
    fn set_log_head(&mut self, head: &LogHead) -> StoreResult<()>;
    /// The next global commit sequence number (and reserves it).
    fn next_gseq(&mut self) -> StoreResult<u64>;
    /// An earlier event of this organization and product with the same
    /// source event id, as `(gseq, seq, received_ms)`.
    fn find_source_event(
        &mut self,
        org: OrgKey,
        product: &str,
        source_event_id: &str,
    ) -> StoreResult<Option<(u64, u64, i64)>>;
    /// Persists an event.
    fn insert_event(&mut self, ev: &NewEvent) -> StoreResult<()>;
    /// Persists the hash of a complete subtree.
    fn insert_node(&mut self, org: OrgKey, level: u32, index: u64, hash: &Hash) -> StoreResult<()>;
    /// Creates an organization and returns its key. An id already taken is
    /// [`StoreError::Conflict`] with nothing written, so the transaction
    /// stays usable for the other writes of its group commit.
    fn insert_org(&mut self, org: &Org) -> StoreResult<OrgKey>;
    /// Updates the mutable fields of an organization.
    fn update_org(&mut self, org: &Org) -> StoreResult<()>;
    /// Moves an organization's events to another tree (after linking).
    fn set_events_tree(&mut self, org: OrgKey, tree: OrgKey) -> StoreResult<()>;
    /// Reads a subject key.
    fn subject_key(&mut self, org: OrgKey, subject: &[u8])
    -> StoreResult<Option<SubjectKeyRecord>>;
    /// Stores (or replaces) a subject key.
    fn put_subject_key(&mut self, rec: &SubjectKeyRecord) -> StoreResult<()>;
    /// Events of an organization whose envelopes include a subject.
    fn events_with_subject(
        &mut self,
        org: OrgKey,
        subject: &[u8],
    ) -> StoreResult<Vec<SubjectEvent>>;
    /// Replaces an event's personal-data columns (erasure).
    fn set_event_pii(
        &mut self,
        gseq: u64,
        pii: Option<&[u8]>,
        subjects: &[u8],
        clear_actor_index: bool,
    ) -> StoreResult<()>;
    /// Removes bodies and personal data of an organization's events with
    /// `seq < below_seq`, except events holding any of `keep_subjects`;
    /// leaves stay. Returns how many events were pruned.
    fn prune(&mut self, org: OrgKey, below_seq: u64, keep_subjects: &[Vec<u8>])
    -> StoreResult<u64>;
    /// Places a legal hold.
    fn insert_hold(&mut self, hold: &LegalHold) -> StoreResult<()>;
    /// Releases a legal hold; false if it was not active.
    fn release_hold(&mut self, id: &str, at_ms: i64) -> StoreResult<bool>;
    /// Stores an erasure record (a JSON document).
    fn put_erasure(&mut self, id: &str, body: &str) -> StoreResult<()>;
    /// Creates or updates a sink's settings. On update, the cursor is
    /// replaced only when the epoch changes (a replay), and health and
    /// delivery counts are kept, so a settings change cannot undo progress
    /// a worker reported meanwhile.
    fn put_sink(&mut self, sink: &SinkRecord) -> StoreResult<()>;
    /// Removes a sink; false if there was none.
    fn delete_sink(&mut self, id: &str) -> StoreResult<bool>;
    /// The greatest received time any writer has committed (ms). Where
    /// several nodes write, their clocks differ; starting each batch at or
    /// above this keeps received times non-decreasing along every log,
    /// which retention's binary search relies on. One writer knows it
    /// already, hence the default.
    fn floor_ms(&mut self) -> StoreResult<i64> {
        Ok(0)
    }
}

/// A change committed to a store that several nodes share, as announced to
/// every node (including the one that made it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Events up to this global sequence are committed.
    Committed(u64),
    /// Organizations changed: in-memory directories must reload.
    Orgs,
    /// Credentials changed (a key was revoked): cached key records must be
    /// dropped.
    Keys,
    /// Subject keys were erased: cached unwrapped subject keys must be
    /// dropped.
    Subjects,
    /// This node (re)started listening: notices sent before may have been
    /// missed, so anything cached must be dropped; from now on notices
    /// arrive.
    Resync,
    /// This node stopped hearing notices (its listening connection was
    /// lost): until the next [`Change::Resync`] nothing may be cached.
    Lost,
}

/// Receives [`Change`]s; called from the engine's own thread, may block.
pub type ChangeListener = Arc<dyn Fn(Change) + Send + Sync>;

/// A storage engine.
pub trait Storage: Send + Sync + 'static {
    /// Runs `f` in one write transaction and commits it durably.
    fn write(&self, f: &mut dyn FnMut(&mut dyn Txn) -> StoreResult<()>) -> StoreResult<()>;

    /// All organizations.
    fn orgs(&self) -> StoreResult<Vec<Org>>;

    /// Inserts a credential.
    fn insert_key(&self, key: &KeyRecord) -> StoreResult<()>;
    /// A credential by id.
    fn key(&self, id: &str) -> StoreResult<Option<KeyRecord>>;
    /// Credentials, optionally of one organization.
    fn keys(&self, org: Option<OrgKey>) -> StoreResult<Vec<KeyRecord>>;
    /// Marks a credential revoked.
    fn revoke_key(&self, id: &str, at_ms: i64) -> StoreResult<()>;

    /// Events matching a query, in scan order.
    fn query(&self, q: &EventQuery) -> StoreResult<Vec<StoredEvent>>;
    /// One event by global sequence.
    fn event_by_gseq(&self, gseq: u64) -> StoreResult<Option<StoredEvent>>;
    /// One event by position in its log.
    fn event_by_seq(&self, org: OrgKey, seq: u64) -> StoreResult<Option<StoredEvent>>;
    /// The latest global sequence committed (0 when empty).
    fn max_gseq(&self) -> StoreResult<u64>;

    /// Leaf hashes `[start, end)` of a log, in order.
    fn leaf_hashes(&self, org: OrgKey, start: u64, end: u64) -> StoreResult<Vec<Hash>>;
    /// A stored complete-subtree hash.
    fn node(&self, org: OrgKey, level: u32, index: u64) -> StoreResult<Option<Hash>>;
    /// Stored complete-subtree hashes `[start, end)` of one level, in order;
    /// fails if any is missing.
    fn nodes(&self, org: OrgKey, level: u32, start: u64, end: u64) -> StoreResult<Vec<Hash>>;
    /// The committed head of a log.
    fn head(&self, org: OrgKey) -> StoreResult<LogHead>;

    /// Stores a signed checkpoint.
    fn insert_checkpoint(&self, cp: &CheckpointRecord) -> StoreResult<()>;
    /// The newest checkpoint of a log.
    fn latest_checkpoint(&self, org: OrgKey) -> StoreResult<Option<CheckpointRecord>>;
    /// The smallest checkpoint whose size is at least `size`.
    fn checkpoint_covering(&self, org: OrgKey, size: u64) -> StoreResult<Option<CheckpointRecord>>;

    /// Subject keys by pseudonym, for decryption on read.
    fn subject_keys(&self, org: OrgKey, subjects: &[Vec<u8>])
    -> StoreResult<Vec<SubjectKeyRecord>>;

    /// Legal holds, active and released.
    fn holds(&self) -> StoreResult<Vec<LegalHold>>;
    /// An erasure record.
    fn erasure(&self, id: &str) -> StoreResult<Option<String>>;
    /// Every sink.
    fn sinks(&self) -> StoreResult<Vec<SinkRecord>>;
    /// One sink.
    fn sink(&self, id: &str) -> StoreResult<Option<SinkRecord>>;
    /// Records a send's outcome durably, if the sink still exists at this
    /// epoch; returns false otherwise (deleted or replayed meanwhile).
    fn sink_progress(&self, id: &str, epoch: u64, p: &SinkProgress) -> StoreResult<bool>;
    /// Makes removed data unrecoverable from the engine's files (write-ahead
    /// log, free pages).
    fn scrub(&self) -> StoreResult<()>;
    /// Every stored row of one organization's log, in `(seq, gseq)` order,
    /// passed to `f`. For offline verification; engines that cannot scan
    /// say so.
    fn scan_log(
        &self,
        org: OrgKey,
        f: &mut dyn FnMut(LogRow) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let _ = (org, f);
        Err(StoreError::Unavailable(
            "this storage engine cannot scan logs for verification".into(),
        ))
    }
    /// Every stored complete-subtree hash of a log as `(level, index, hash)`,
    /// whatever the hash's length.
    fn log_nodes(&self, org: OrgKey) -> StoreResult<Vec<(u32, u64, Vec<u8>)>> {
        let _ = org;
        Err(StoreError::Unavailable(
            "this storage engine cannot list tree nodes".into(),
        ))
    }
    /// Every stored checkpoint of a log, ascending by size.
    fn checkpoints(&self, org: OrgKey) -> StoreResult<Vec<CheckpointRecord>> {
        let _ = org;
        Err(StoreError::Unavailable(
            "this storage engine cannot list checkpoints".into(),
        ))
    }
    /// The organization keys that own stored events or heads, including
    /// any that have no organization record.
    fn log_owners(&self) -> StoreResult<Vec<OrgKey>> {
        Err(StoreError::Unavailable(
            "this storage engine cannot list log owners".into(),
        ))
    }

    /// Approximate bytes used on disk.
    fn disk_bytes(&self) -> StoreResult<u64>;
    /// Whether the engine can serve (for `/readyz`).
    fn ping(&self) -> StoreResult<()>;

    /// Whether other processes may write to the same store. When true,
    /// anything a node caches between transactions (subject keys,
    /// organizations, the committed sequence) may be stale and must be
    /// re-read or refreshed through [`Storage::subscribe`].
    fn shared(&self) -> bool {
        false
    }

    /// Whether this engine stores entries in `codec`'s compressed forms,
    /// so that preparing an event should make its stored form
    /// (`NewEvent::stored_entry`) off the writer.
    fn compresses_entries(&self) -> bool {
        false
    }

    /// Registers a listener for changes committed by any node. Engines
    /// with a single writer never call it: their one sequencer already
    /// knows every change.
    fn subscribe(&self, _listener: ChangeListener) {}

    /// Tries to take (or confirms this node still holds) the named
    /// exclusive lease, e.g. the right to sign checkpoints. The lease ends
    /// when the holder's process or connection dies. A single writer
    /// always holds it.
    fn try_lease(&self, _name: &str) -> StoreResult<bool> {
        Ok(true)
    }

    /// Drops whole time partitions of event bodies received before
    /// `cutoff_ms` (leaves, heads and idempotency records stay, so proofs
    /// and retries still work). Returns how many partitions were dropped;
    /// engines without time partitions drop nothing.
    fn drop_partitions_before(&self, _cutoff_ms: i64) -> StoreResult<u64> {
        Ok(0)
    }
}
