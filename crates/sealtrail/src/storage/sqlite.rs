//! The embedded engine: one SQLite file in WAL mode.
//!
//! One connection writes (the sequencer's group commits, fsync'd with
//! `synchronous=FULL`); a small pool of connections reads concurrently.
//! Events live in a rowid table keyed by the global commit sequence, so
//! appends go to the end of the B-tree and every feed page is a range scan.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params, params_from_iter};
use sealtrail_tlog::{Frontier, Hash};

use super::*;

/// The embedded engine's schema; the benchmark's raw-insert limit builds
/// the identical tables and indexes from it.
pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta(
  k TEXT PRIMARY KEY,
  v TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orgs(
  key INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  parent INTEGER,
  tree INTEGER NOT NULL,
  enabled INTEGER NOT NULL,
  enabled_ms INTEGER,
  disabled_ms INTEGER,
  created_ms INTEGER NOT NULL,
  retention_days INTEGER
);
CREATE TABLE IF NOT EXISTS keys(
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  secret_hash BLOB NOT NULL,
  org INTEGER,
  product TEXT,
  scopes TEXT NOT NULL,
  name TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER,
  revoked_ms INTEGER
);
CREATE TABLE IF NOT EXISTS events(
  gseq INTEGER PRIMARY KEY,
  tree INTEGER NOT NULL,
  org INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  category TEXT NOT NULL,
  product TEXT,
  created_ms INTEGER NOT NULL,
  received_ms INTEGER NOT NULL,
  actor_id TEXT,
  actor_email_bi BLOB,
  ip_bi BLOB,
  api_key_id TEXT,
  target_id TEXT,
  outcome TEXT NOT NULL,
  source_event_id TEXT,
  entry BLOB,
  leaf BLOB NOT NULL,
  pii BLOB,
  subjects BLOB
);
CREATE UNIQUE INDEX IF NOT EXISTS events_org_seq ON events(org, seq);
CREATE INDEX IF NOT EXISTS events_tree ON events(tree, gseq);
CREATE INDEX IF NOT EXISTS events_actor ON events(tree, actor_id, gseq) WHERE actor_id IS NOT NULL;
DROP INDEX IF EXISTS events_created;
CREATE INDEX IF NOT EXISTS events_created_at
  ON events(tree, (created_ms >> 18), gseq, created_ms, org);
CREATE INDEX IF NOT EXISTS events_type ON events(tree, type, gseq);
CREATE INDEX IF NOT EXISTS events_email ON events(tree, actor_email_bi, gseq)
  WHERE actor_email_bi IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS events_source ON events(org, product, source_event_id)
  WHERE source_event_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS nodes(
  org INTEGER NOT NULL,
  level INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY(org, level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS heads(
  org INTEGER PRIMARY KEY,
  size INTEGER NOT NULL,
  frontier BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints(
  org INTEGER NOT NULL,
  size INTEGER NOT NULL,
  root BLOB NOT NULL,
  note TEXT NOT NULL,
  signed_ms INTEGER NOT NULL,
  PRIMARY KEY(org, size)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS legal_holds(
  id TEXT PRIMARY KEY,
  org INTEGER NOT NULL,
  subject BLOB,
  reason TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  released_ms INTEGER
);
CREATE TABLE IF NOT EXISTS erasures(
  id TEXT PRIMARY KEY,
  body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sinks(
  id TEXT PRIMARY KEY,
  org INTEGER NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  config TEXT NOT NULL,
  filter TEXT NOT NULL,
  secrets BLOB NOT NULL,
  paused INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  cursor_gseq INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  last_success_ms INTEGER,
  last_error TEXT,
  last_error_ms INTEGER,
  delivered INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS subject_keys(
  org INTEGER NOT NULL,
  subject BLOB NOT NULL,
  wrapped BLOB,
  created_ms INTEGER NOT NULL,
  erased_ms INTEGER,
  PRIMARY KEY(org, subject)
) WITHOUT ROWID;
"#;

/// The SQLite engine.
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

fn eng(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, ref msg)
            if f.code == rusqlite::ErrorCode::DatabaseBusy
                || f.code == rusqlite::ErrorCode::DatabaseLocked =>
        {
            StoreError::Unavailable(format!(
                "the database is busy: {}",
                msg.clone().unwrap_or_default()
            ))
        }
        other => StoreError::Engine(other.to_string()),
    }
}

fn hash_of(v: Vec<u8>) -> StoreResult<Hash> {
    v.try_into()
        .map_err(|_| StoreError::Corrupt("a stored hash is not 32 bytes".into()))
}

/// Settings of every connection. secure_delete zeroes freed content so
/// erased data does not linger in free pages; FULL sync makes a commit
/// durable before it is acknowledged. Shared with the benchmark's
/// raw-insert limit so that limit runs under the same durability.
pub(crate) const PRAGMAS: &str =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;
     PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;";

fn open(path: &Path, write: bool) -> StoreResult<Connection> {
    let flags = if write {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(eng)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(eng)?;
    conn.execute_batch(PRAGMAS).map_err(eng)?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        let writer = open(path, true)?;
        writer.execute_batch(SCHEMA).map_err(eng)?;
        writer
            .execute(
                "INSERT OR IGNORE INTO meta(k, v) VALUES ('schema_version', '1')",
                [],
            )
            .map_err(eng)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// Opens an existing database for reading only, creating and changing
    /// nothing: offline verification must not alter (or repair, e.g. by
    /// rebuilding a dropped index) what it checks.
    pub fn open_read_only(path: &Path) -> StoreResult<SqliteStore> {
        if !path.is_file() {
            return Err(StoreError::NotFound(format!(
                "{} does not exist",
                path.display()
            )));
        }
        let writer = open(path, false)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let conn = {
            let mut pool = self
                .readers
                .lock()
                .map_err(|_| StoreError::Unavailable("reader pool poisoned".into()))?;
            pool.pop()
        };
        let conn = match conn {
            Some(c) => c,
            None => open(&self.path, false)?,
        };
        let out = f(&conn);
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < 16
        {
            pool.push(conn);
        }
        out
    }

    /// Executes arbitrary SQL on the writer; for tests that tamper with the
    /// file and for operator maintenance commands.
    pub fn execute_raw(&self, sql: &str) -> StoreResult<()> {
        let conn = self
            .writer
            .lock()
            .map_err(|_| StoreError::Unavailable("writer poisoned".into()))?;
        conn.execute_batch(sql).map_err(eng)
    }

    /// Replaces the personal-data columns of events of a subject; used by
    /// erasure. Runs in its own transaction.
    pub fn with_writer<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let conn = self
            .writer
            .lock()
            .map_err(|_| StoreError::Unavailable("writer poisoned".into()))?;
        f(&conn)
    }
}

fn org_from_row(r: &Row<'_>) -> rusqlite::Result<Org> {
    Ok(Org {
        key: r.get(0)?,
        id: r.get(1)?,
        name: r.get(2)?,
        parent: r.get(3)?,
        tree: r.get(4)?,
        enabled: r.get::<_, i64>(5)? != 0,
        logging_enabled_at: r.get(6)?,
        logging_disabled_at: r.get(7)?,
        created_ms: r.get(8)?,
        retention_days: r.get::<_, Option<i64>>(9)?.map(|d| d as u32),
    })
}

fn key_from_row(r: &Row<'_>) -> rusqlite::Result<(KeyRecord, Vec<u8>, String)> {
    let kind: String = r.get(1)?;
    let hash: Vec<u8> = r.get(2)?;
    let scopes: String = r.get(5)?;
    Ok((
        KeyRecord {
            id: r.get(0)?,
            kind: KeyKind::parse(&kind).unwrap_or(KeyKind::Compliance),
            secret_hash: [0; 32],
            org: r.get(3)?,
            product: r.get(4)?,
            scopes: scopes
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            name: r.get(6)?,
            created_ms: r.get(7)?,
            expires_ms: r.get(8)?,
            revoked_ms: r.get(9)?,
        },
        hash,
        kind,
    ))
}

fn finish_key(t: (KeyRecord, Vec<u8>, String)) -> StoreResult<KeyRecord> {
    let (mut k, hash, kind) = t;
    if KeyKind::parse(&kind).is_none() {
        return Err(StoreError::Corrupt(format!(
            "key {} has unknown kind {kind}",
            k.id
        )));
    }
    k.secret_hash = hash_of(hash)?;
    Ok(k)
}

const KEY_COLS: &str =
    "id, kind, secret_hash, org, product, scopes, name, created_ms, expires_ms, revoked_ms";
const EVENT_COLS: &str = "gseq, org, seq, received_ms, entry, leaf, pii, type, created_ms";

/// A row's log position, from its first columns `gseq, org, seq,
/// received_ms` (the order of [`EVENT_COLS`] and of the fsck scan).
fn position(r: &Row<'_>) -> rusqlite::Result<super::codec::Position> {
    Ok(super::codec::Position {
        gseq: r.get::<_, i64>(0)? as u64,
        received_ms: r.get(3)?,
        seq: r.get::<_, i64>(2)? as u64,
    })
}

fn event_from_row(r: &Row<'_>) -> rusqlite::Result<(StoredEvent, Vec<u8>)> {
    let leaf: Vec<u8> = r.get(5)?;
    let at = position(r)?;
    Ok((
        StoredEvent {
            gseq: at.gseq,
            org: r.get(1)?,
            seq: at.seq,
            received_ms: at.received_ms,
            entry: r
                .get::<_, Option<Vec<u8>>>(4)?
                .map(|e| super::codec::decode_entry(e, at)),
            leaf: [0; 32],
            pii: r.get(6)?,
            activity_type: r.get(7)?,
            created_ms: r.get(8)?,
        },
        leaf,
    ))
}

fn finish_event(t: (StoredEvent, Vec<u8>)) -> StoreResult<StoredEvent> {
    let (mut e, leaf) = t;
    e.leaf = hash_of(leaf)?;
    Ok(e)
}

fn head_in(conn: &Connection, org: OrgKey) -> StoreResult<LogHead> {
    let row: Option<Vec<u8>> = conn
        .query_row("SELECT frontier FROM heads WHERE org = ?", [org], |r| {
            r.get(0)
        })
        .optional()
        .map_err(eng)?;
    let frontier = match row {
        Some(bytes) => Frontier::from_bytes(&bytes)
            .map_err(|e| StoreError::Corrupt(format!("log head of org {org}: {e}")))?,
        None => Frontier::new(),
    };
    Ok(LogHead { org, frontier })
}

struct SqliteTxn<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    next_gseq: Option<u64>,
}

impl Txn for SqliteTxn<'_> {
    fn savepoint(&mut self) -> StoreResult<()> {
        self.tx.execute_batch("SAVEPOINT job").map_err(eng)
    }

    fn rollback_savepoint(&mut self) -> StoreResult<()> {
        self.tx
            .execute_batch("ROLLBACK TO job; RELEASE job")
            .map_err(eng)
    }

    fn release_savepoint(&mut self) -> StoreResult<()> {
        self.tx.execute_batch("RELEASE job").map_err(eng)
    }
    fn log_head(&mut self, org: OrgKey) -> StoreResult<LogHead> {
        head_in(self.tx, org)
    }

    fn set_log_head(&mut self, head: &LogHead) -> StoreResult<()> {
        self.tx
            .prepare_cached("INSERT OR REPLACE INTO heads(org, size, frontier) VALUES (?, ?, ?)")
            .map_err(eng)?
            .execute(params![
                head.org,
                head.frontier.size() as i64,
                head.frontier.to_bytes()
            ])
            .map_err(eng)?;
        Ok(())
    }

    fn next_gseq(&mut self) -> StoreResult<u64> {
        let next = match self.next_gseq {
            Some(n) => n,
            None => {
                let max: Option<i64> = self
                    .tx
                    .query_row("SELECT MAX(gseq) FROM events", [], |r| r.get(0))
                    .map_err(eng)?;
                max.unwrap_or(0) as u64 + 1
            }
        };
        self.next_gseq = Some(next + 1);
        Ok(next)
    }

    fn find_source_event(
        &mut self,
        org: OrgKey,
        product: &str,
        source_event_id: &str,
    ) -> StoreResult<Option<(u64, u64, i64)>> {
        self.tx
            .prepare_cached(
                "SELECT gseq, seq, received_ms FROM events
                 WHERE org = ? AND product = ? AND source_event_id = ?",
            )
            .map_err(eng)?
            .query_row(params![org, product, source_event_id], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, i64>(2)?,
                ))
            })
            .optional()
            .map_err(eng)
    }

    fn insert_event(&mut self, ev: &NewEvent) -> StoreResult<()> {
        let subjects = if ev.subjects.is_empty() {
            None
        } else {
            Some(ev.subjects.concat())
        };
        let entry = match &ev.stored_entry {
            Some(s) => std::borrow::Cow::Borrowed(s.as_slice()),
            None => std::borrow::Cow::Owned(super::codec::encode_entry(&ev.entry)),
        };
        self.tx
            .prepare_cached(
                "INSERT INTO events(gseq, tree, org, seq, type, category, product, created_ms,
                 received_ms, actor_id, actor_email_bi, ip_bi, api_key_id, target_id, outcome,
                 source_event_id, entry, leaf, pii, subjects)
                 VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            )
            .map_err(eng)?
            .execute(params![
                ev.gseq as i64,
                ev.tree,
                ev.org,
                ev.seq as i64,
                ev.activity_type,
                ev.category,
                ev.product,
                ev.created_ms,
                ev.received_ms,
                ev.actor_id,
                ev.actor_email_bi,
                ev.ip_bi,
                ev.api_key_id,
                ev.target_id,
                ev.outcome,
                ev.source_event_id,
                entry.as_ref(),
                &ev.leaf[..],
                ev.pii,
                subjects,
            ])
            .map_err(eng)?;
        Ok(())
    }

    fn insert_node(&mut self, org: OrgKey, level: u32, index: u64, hash: &Hash) -> StoreResult<()> {
        self.tx
            .prepare_cached("INSERT OR REPLACE INTO nodes(org, level, idx, hash) VALUES (?,?,?,?)")
            .map_err(eng)?
            .execute(params![org, level, index as i64, &hash[..]])
            .map_err(eng)?;
        Ok(())
    }

    fn insert_org(&mut self, org: &Org) -> StoreResult<OrgKey> {
        let exists: Option<i64> = self
            .tx
            .query_row("SELECT key FROM orgs WHERE id = ?", [&org.id], |r| r.get(0))
            .optional()
            .map_err(eng)?;
        if exists.is_some() {
            return Err(StoreError::Conflict(format!(
                "organization {} already exists",
                org.id
            )));
        }
        self.tx
            .execute(
                "INSERT INTO orgs(id, name, parent, tree, enabled, enabled_ms, disabled_ms,
                 created_ms, retention_days) VALUES (?,?,?,?,?,?,?,?,?)",
                params![
                    org.id,
                    org.name,
                    org.parent,
                    org.tree,
                    org.enabled as i64,
                    org.logging_enabled_at,
                    org.logging_disabled_at,
                    org.created_ms,
                    org.retention_days
                ],
            )
            .map_err(eng)?;
        let key = self.tx.last_insert_rowid();
        if org.tree == 0 {
            // A root: its tree is itself.
            self.tx
                .execute("UPDATE orgs SET tree = key WHERE key = ?", [key])
                .map_err(eng)?;
        }
        Ok(key)
    }

    fn update_org(&mut self, org: &Org) -> StoreResult<()> {
        let n = self
            .tx
            .execute(
                "UPDATE orgs SET name=?, parent=?, tree=?, enabled=?, enabled_ms=?, disabled_ms=?,
                 retention_days=? WHERE key=?",
                params![
                    org.name,
                    org.parent,
                    org.tree,
                    org.enabled as i64,
                    org.logging_enabled_at,
                    org.logging_disabled_at,
                    org.retention_days,
                    org.key
                ],
            )
            .map_err(eng)?;
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "organization {} not found",
                org.id
            )));
        }
        Ok(())
    }

    fn set_events_tree(&mut self, org: OrgKey, tree: OrgKey) -> StoreResult<()> {
        self.tx
            .execute(
                "UPDATE events SET tree = ? WHERE org = ?",
                params![tree, org],
            )
            .map_err(eng)?;
        Ok(())
    }

    fn subject_key(
        &mut self,
        org: OrgKey,
        subject: &[u8],
    ) -> StoreResult<Option<SubjectKeyRecord>> {
        self.tx
            .prepare_cached(
                "SELECT wrapped, created_ms, erased_ms FROM subject_keys WHERE org=? AND subject=?",
            )
            .map_err(eng)?
            .query_row(params![org, subject], |r| {
                Ok(SubjectKeyRecord {
                    org,
                    subject: subject.to_vec(),
                    wrapped: r.get(0)?,
                    created_ms: r.get(1)?,
                    erased_ms: r.get(2)?,
                })
            })
            .optional()
            .map_err(eng)
    }

    fn events_with_subject(
        &mut self,
        org: OrgKey,
        subject: &[u8],
    ) -> StoreResult<Vec<SubjectEvent>> {
        let mut st = self
            .tx
            .prepare_cached(
                "SELECT gseq, actor_id, pii, subjects FROM events
                 WHERE org = ? AND subjects IS NOT NULL AND instr(subjects, ?) > 0",
            )
            .map_err(eng)?;
        let rows = st
            .query_map(params![org, subject], |r| {
                Ok(SubjectEvent {
                    gseq: r.get::<_, i64>(0)? as u64,
                    actor_id: r.get(1)?,
                    pii: r.get(2)?,
                    subjects: r.get(3)?,
                })
            })
            .map_err(eng)?;
        let mut out = Vec::new();
        for row in rows {
            let ev = row.map_err(eng)?;
            // instr() may match across two 16-byte references; keep only
            // aligned matches.
            if ev.subjects.chunks(16).any(|c| c == subject) {
                out.push(ev);
            }
        }
        Ok(out)
    }

    fn set_event_pii(
        &mut self,
        gseq: u64,
        pii: Option<&[u8]>,
        subjects: &[u8],
        clear_actor_index: bool,
    ) -> StoreResult<()> {
        let subjects = (!subjects.is_empty()).then_some(subjects);
        let sql = if clear_actor_index {
            "UPDATE events SET pii = ?, subjects = ?, actor_email_bi = NULL, ip_bi = NULL WHERE gseq = ?"
        } else {
            "UPDATE events SET pii = ?, subjects = ? WHERE gseq = ?"
        };
        self.tx
            .prepare_cached(sql)
            .map_err(eng)?
            .execute(params![pii, subjects, gseq as i64])
            .map_err(eng)?;
        Ok(())
    }

    fn prune(
        &mut self,
        org: OrgKey,
        below_seq: u64,
        keep_subjects: &[Vec<u8>],
    ) -> StoreResult<u64> {
        if keep_subjects.is_empty() {
            let n = self
                .tx
                .execute(
                    "UPDATE events SET entry = NULL, pii = NULL, subjects = NULL, actor_email_bi = NULL,
                     ip_bi = NULL WHERE org = ? AND seq < ? AND entry IS NOT NULL",
                    params![org, below_seq as i64],
                )
                .map_err(eng)?;
            return Ok(n as u64);
        }
        let mut st = self
            .tx
            .prepare(
                "SELECT gseq, subjects FROM events WHERE org = ? AND seq < ? AND entry IS NOT NULL",
            )
            .map_err(eng)?;
        let rows: Vec<(i64, Option<Vec<u8>>)> = st
            .query_map(params![org, below_seq as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(eng)?
            .collect::<Result<_, _>>()
            .map_err(eng)?;
        let mut n = 0;
        for (gseq, subjects) in rows {
            let held = subjects.as_deref().is_some_and(|s| {
                s.chunks(16)
                    .any(|c| keep_subjects.iter().any(|k| k.as_slice() == c))
            });
            if held {
                continue;
            }
            self.tx
                .execute(
                    "UPDATE events SET entry = NULL, pii = NULL, subjects = NULL, actor_email_bi = NULL,
                     ip_bi = NULL WHERE gseq = ?",
                    [gseq],
                )
                .map_err(eng)?;
            n += 1;
        }
        Ok(n)
    }

    fn insert_hold(&mut self, h: &LegalHold) -> StoreResult<()> {
        self.tx
            .execute(
                "INSERT INTO legal_holds(id, org, subject, reason, created_ms, released_ms) VALUES (?,?,?,?,?,?)",
                params![h.id, h.org, h.subject, h.reason, h.created_ms, h.released_ms],
            )
            .map_err(eng)?;
        Ok(())
    }

    fn release_hold(&mut self, id: &str, at_ms: i64) -> StoreResult<bool> {
        let n = self
            .tx
            .execute(
                "UPDATE legal_holds SET released_ms = ? WHERE id = ? AND released_ms IS NULL",
                params![at_ms, id],
            )
            .map_err(eng)?;
        Ok(n > 0)
    }

    fn put_erasure(&mut self, id: &str, body: &str) -> StoreResult<()> {
        self.tx
            .execute(
                "INSERT OR REPLACE INTO erasures(id, body) VALUES (?, ?)",
                params![id, body],
            )
            .map_err(eng)?;
        Ok(())
    }

    fn put_sink(&mut self, k: &SinkRecord) -> StoreResult<()> {
        self.tx
            .execute(
                &format!(
                    "INSERT INTO sinks({SINK_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
                     ON CONFLICT(id) DO UPDATE SET
                       name = excluded.name, kind = excluded.kind, config = excluded.config,
                       filter = excluded.filter, secrets = excluded.secrets,
                       paused = excluded.paused, updated_ms = excluded.updated_ms,
                       cursor_gseq = CASE WHEN excluded.epoch != sinks.epoch
                                     THEN excluded.cursor_gseq ELSE sinks.cursor_gseq END,
                       epoch = excluded.epoch"
                ),
                params![
                    k.id,
                    k.org,
                    k.name,
                    k.kind,
                    k.config,
                    k.filter,
                    k.secrets,
                    k.paused,
                    k.epoch as i64,
                    k.cursor_gseq as i64,
                    k.created_ms,
                    k.updated_ms,
                    k.last_success_ms,
                    k.last_error,
                    k.last_error_ms,
                    k.delivered as i64
                ],
            )
            .map_err(eng)?;
        Ok(())
    }

    fn delete_sink(&mut self, id: &str) -> StoreResult<bool> {
        let n = self
            .tx
            .execute("DELETE FROM sinks WHERE id = ?", [id])
            .map_err(eng)?;
        Ok(n > 0)
    }

    fn put_subject_key(&mut self, rec: &SubjectKeyRecord) -> StoreResult<()> {
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO subject_keys(org, subject, wrapped, created_ms, erased_ms)
                 VALUES (?,?,?,?,?)",
            )
            .map_err(eng)?
            .execute(params![
                rec.org,
                rec.subject,
                rec.wrapped,
                rec.created_ms,
                rec.erased_ms
            ])
            .map_err(eng)?;
        Ok(())
    }
}

const SINK_COLS: &str = "id, org, name, kind, config, filter, secrets, paused, epoch, cursor_gseq,
     created_ms, updated_ms, last_success_ms, last_error, last_error_ms, delivered";

fn sink_from_row(r: &Row<'_>) -> rusqlite::Result<SinkRecord> {
    Ok(SinkRecord {
        id: r.get(0)?,
        org: r.get(1)?,
        name: r.get(2)?,
        kind: r.get(3)?,
        config: r.get(4)?,
        filter: r.get(5)?,
        secrets: r.get(6)?,
        paused: r.get(7)?,
        epoch: r.get::<_, i64>(8)? as u64,
        cursor_gseq: r.get::<_, i64>(9)? as u64,
        created_ms: r.get(10)?,
        updated_ms: r.get(11)?,
        last_success_ms: r.get(12)?,
        last_error: r.get(13)?,
        last_error_ms: r.get(14)?,
        delivered: r.get::<_, i64>(15)? as u64,
    })
}

fn push_type_terms(sql: &mut String, args: &mut Vec<rusqlite::types::Value>, pats: &[TypePattern]) {
    let mut terms = Vec::new();
    for p in pats {
        match p {
            TypePattern::All => terms.push("1".to_string()),
            // `+type`: a type term filters rows; it never chooses the scan
            // (only an explicit per-type branch uses the type index, see
            // `Driver`), so a wide prefix never turns into a sort.
            TypePattern::Exact(t) => {
                terms.push("+type = ?".into());
                args.push(t.clone().into());
            }
            TypePattern::Prefix(pre) => {
                // `pre` ends with '.', whose successor is '/': a range.
                let mut hi = pre.clone();
                hi.pop();
                hi.push('/');
                terms.push("(+type >= ? AND +type < ?)".into());
                args.push(pre.clone().into());
                args.push(hi.into());
            }
        }
    }
    sql.push('(');
    sql.push_str(&terms.join(" OR "));
    sql.push(')');
}

fn push_in<T: Clone + Into<rusqlite::types::Value>>(
    sql: &mut String,
    args: &mut Vec<rusqlite::types::Value>,
    col: &str,
    vals: &[T],
) {
    if vals.is_empty() {
        return;
    }
    sql.push_str(" AND ");
    sql.push_str(col);
    sql.push_str(" IN (");
    for (i, v) in vals.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        sql.push('?');
        args.push(v.clone().into());
    }
    sql.push(')');
}

/// How a feed query reaches its rows. SQLite answers `ORDER BY gseq LIMIT n`
/// from an index only when every column before `gseq` in it is fixed by an
/// equality; an `IN` list, or a range on another column, makes it scan the
/// whole tree by `gseq` and test each row (hundreds of milliseconds over a
/// million events for a rare value). So a query with a selective filter is
/// split into one branch per (tree, key), each an ordered, limited range
/// of its index, and the branches are merged by `gseq`.
enum Driver {
    /// No selective filter: scan the tree by `gseq`.
    Scan,
    /// A `created_at` window that holds nothing.
    Empty,
    /// One branch per (tree, key): `INDEXED BY index WHERE tree = ? AND
    /// cond`, `cond` taking one key's arguments. `fixed` is the column
    /// the branch fixes, so the filters do not repeat it.
    Branches {
        index: &'static str,
        cond: String,
        keys: Vec<Vec<rusqlite::types::Value>>,
        fixed: Option<&'static str>,
    },
}

/// `created_ms >> CREATED_BUCKET_SHIFT` is a row's window bucket.
const CREATED_BUCKET_SHIFT: u32 = 18;

/// The most branches a query is split into; past it, a scan is cheaper to
/// plan and no worse to run.
const MAX_BRANCHES: usize = 64;

fn driver(q: &EventQuery) -> Driver {
    let fits = |n: usize| n > 0 && n.saturating_mul(q.trees.len()) <= MAX_BRANCHES;
    let by_value =
        |index, column: &'static str, keys: Vec<rusqlite::types::Value>| Driver::Branches {
            index,
            cond: format!("{column} = ?"),
            keys: keys.into_iter().map(|k| vec![k]).collect(),
            fixed: Some(column),
        };
    if q.trees.is_empty() {
        return Driver::Scan;
    }
    if fits(q.actor_ids.len()) {
        let keys = q.actor_ids.iter().map(|v| v.clone().into()).collect();
        return by_value("events_actor", "actor_id", keys);
    }
    if fits(q.actor_email_bis.len()) {
        let keys = q.actor_email_bis.iter().map(|v| v.clone().into()).collect();
        return by_value("events_email", "actor_email_bi", keys);
    }
    let exact: Vec<rusqlite::types::Value> = q
        .types
        .iter()
        .map_while(|t| match t {
            TypePattern::Exact(t) => Some(t.clone().into()),
            _ => None,
        })
        .collect();
    if exact.len() == q.types.len() && fits(exact.len()) {
        return by_value("events_type", "type", exact);
    }
    // A `created_at` window closed on both sides, over
    // `events_created_at(tree, created_ms >> 18, gseq, created_ms, org)`:
    // the window's buckets of 2^18 ms (about 4.4 minutes) are each an
    // ordered `gseq` range, so a window of up to MAX_BRANCHES buckets is one
    // branch per (tree, bucket) and reads about `limit` entries per bucket
    // plus the two partial buckets at its edges. A longer window is one
    // branch per tree over the bucket range, whose cost follows the
    // window's size, not the log's. The window's exact bounds are tested
    // by the filters.
    if let (Some(from), Some(until)) = (q.created_from, q.created_until)
        && from >= 0
    {
        if until <= from {
            return Driver::Empty;
        }
        let (lo, hi) = (
            from >> CREATED_BUCKET_SHIFT,
            (until - 1) >> CREATED_BUCKET_SHIFT,
        );
        let bucket = format!("(created_ms >> {CREATED_BUCKET_SHIFT})");
        let n = usize::try_from(hi - lo + 1).unwrap_or(usize::MAX);
        let (cond, keys) = if fits(n) {
            (
                format!("{bucket} = ?"),
                (lo..=hi).map(|b| vec![b.into()]).collect(),
            )
        } else {
            (
                format!("{bucket} BETWEEN ? AND ?"),
                vec![vec![lo.into(), hi.into()]],
            )
        };
        return Driver::Branches {
            index: "events_created_at",
            cond,
            keys,
            fixed: None,
        };
    }
    Driver::Scan
}

/// Appends every filter of `q` but the tree (and `skip`, the driving
/// column, which each branch fixes itself).
fn push_filters(
    sql: &mut String,
    args: &mut Vec<rusqlite::types::Value>,
    q: &EventQuery,
    skip: Option<&str>,
) {
    push_in(sql, args, "org", &q.orgs);
    if !q.types.is_empty() && skip != Some("type") {
        sql.push_str(" AND ");
        push_type_terms(sql, args, &q.types);
    }
    if !q.exclude_types.is_empty() {
        sql.push_str(" AND NOT ");
        push_type_terms(sql, args, &q.exclude_types);
    }
    if skip != Some("actor_id") {
        push_in(sql, args, "+actor_id", &q.actor_ids);
    }
    if skip != Some("actor_email_bi") {
        push_in(sql, args, "+actor_email_bi", &q.actor_email_bis);
    }
    push_in(sql, args, "api_key_id", &q.api_key_ids);
    push_in(sql, args, "target_id", &q.target_ids);
    push_in(sql, args, "category", &q.categories);
    push_in(sql, args, "product", &q.products);
    push_in(sql, args, "ip_bi", &q.ip_bis);
    if let Some(o) = &q.outcome {
        sql.push_str(" AND outcome = ?");
        args.push(o.clone().into());
    }
    if let Some(t) = q.created_from {
        sql.push_str(" AND +created_ms >= ?");
        args.push(t.into());
    }
    if let Some(t) = q.created_until {
        sql.push_str(" AND +created_ms < ?");
        args.push(t.into());
    }
    if let Some(g) = q.cursor_gseq {
        sql.push_str(if q.scan != Some(Scan::Asc) {
            " AND gseq < ?"
        } else {
            " AND gseq > ?"
        });
        args.push((g as i64).into());
    }
}

fn push_order_limit(sql: &mut String, args: &mut Vec<rusqlite::types::Value>, q: &EventQuery) {
    sql.push_str(if q.scan != Some(Scan::Asc) {
        " ORDER BY gseq DESC LIMIT ?"
    } else {
        " ORDER BY gseq ASC LIMIT ?"
    });
    args.push((q.limit as i64).into());
}

/// Builds the SQL of a feed query. Kept separate so its shape can be tested.
fn query_sql(q: &EventQuery) -> (String, Vec<rusqlite::types::Value>) {
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    let (index, cond, keys, fixed) = match driver(q) {
        Driver::Empty => return (format!("SELECT {EVENT_COLS} FROM events WHERE 0"), args),
        Driver::Scan => {
            let mut sql = format!("SELECT {EVENT_COLS} FROM events WHERE 1");
            push_in(&mut sql, &mut args, "tree", &q.trees);
            push_filters(&mut sql, &mut args, q, None);
            push_order_limit(&mut sql, &mut args, q);
            return (sql, args);
        }
        Driver::Branches {
            index,
            cond,
            keys,
            fixed,
        } => (index, cond, keys, fixed),
    };
    let mut branches = Vec::with_capacity(q.trees.len() * keys.len());
    for tree in &q.trees {
        for key in &keys {
            let mut b = format!(
                "SELECT gseq FROM (SELECT gseq FROM events INDEXED BY {index} WHERE tree = ? AND {cond}"
            );
            args.push((*tree).into());
            args.extend(key.iter().cloned());
            push_filters(&mut b, &mut args, q, fixed);
            push_order_limit(&mut b, &mut args, q);
            b.push(')');
            branches.push(b);
        }
    }
    let mut sql = format!(
        "SELECT {EVENT_COLS} FROM events WHERE gseq IN ({})",
        branches.join(" UNION ALL ")
    );
    push_order_limit(&mut sql, &mut args, q);
    (sql, args)
}

impl Storage for SqliteStore {
    fn compresses_entries(&self) -> bool {
        true
    }

    fn write(&self, f: &mut dyn FnMut(&mut dyn Txn) -> StoreResult<()>) -> StoreResult<()> {
        let mut conn = self
            .writer
            .lock()
            .map_err(|_| StoreError::Unavailable("writer poisoned".into()))?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(eng)?;
        {
            let mut t = SqliteTxn {
                tx: &tx,
                next_gseq: None,
            };
            f(&mut t)?;
        }
        tx.commit().map_err(eng)
    }

    fn orgs(&self) -> StoreResult<Vec<Org>> {
        self.with_reader(|c| {
            let mut st = c
                .prepare(
                    "SELECT key, id, name, parent, tree, enabled, enabled_ms, disabled_ms,
                     created_ms, retention_days FROM orgs ORDER BY key",
                )
                .map_err(eng)?;
            let rows = st.query_map([], org_from_row).map_err(eng)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(eng)
        })
    }

    fn insert_key(&self, key: &KeyRecord) -> StoreResult<()> {
        let conn = self
            .writer
            .lock()
            .map_err(|_| StoreError::Unavailable("writer poisoned".into()))?;
        conn.execute(
            &format!("INSERT INTO keys({KEY_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?)"),
            params![
                key.id,
                key.kind.as_str(),
                &key.secret_hash[..],
                key.org,
                key.product,
                key.scopes.join(","),
                key.name,
                key.created_ms,
                key.expires_ms,
                key.revoked_ms
            ],
        )
        .map_err(eng)?;
        Ok(())
    }

    fn key(&self, id: &str) -> StoreResult<Option<KeyRecord>> {
        self.with_reader(|c| {
            let row = c
                .prepare_cached(&format!("SELECT {KEY_COLS} FROM keys WHERE id = ?"))
                .map_err(eng)?
                .query_row([id], key_from_row)
                .optional()
                .map_err(eng)?;
            row.map(finish_key).transpose()
        })
    }

    fn keys(&self, org: Option<OrgKey>) -> StoreResult<Vec<KeyRecord>> {
        self.with_reader(|c| {
            let mut st = c
                .prepare(&format!(
                    "SELECT {KEY_COLS} FROM keys WHERE (?1 IS NULL OR org = ?1) ORDER BY created_ms"
                ))
                .map_err(eng)?;
            let rows = st.query_map([org], key_from_row).map_err(eng)?;
            rows.map(|r| r.map_err(eng).and_then(finish_key)).collect()
        })
    }

    fn revoke_key(&self, id: &str, at_ms: i64) -> StoreResult<()> {
        let conn = self
            .writer
            .lock()
            .map_err(|_| StoreError::Unavailable("writer poisoned".into()))?;
        let n = conn
            .execute(
                "UPDATE keys SET revoked_ms = COALESCE(revoked_ms, ?) WHERE id = ?",
                params![at_ms, id],
            )
            .map_err(eng)?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("key {id} not found")));
        }
        Ok(())
    }

    fn query(&self, q: &EventQuery) -> StoreResult<Vec<StoredEvent>> {
        let (sql, args) = query_sql(q);
        self.with_reader(|c| {
            let mut st = c.prepare_cached(&sql).map_err(eng)?;
            let rows = st
                .query_map(params_from_iter(args.iter()), event_from_row)
                .map_err(eng)?;
            rows.map(|r| r.map_err(eng).and_then(finish_event))
                .collect()
        })
    }

    fn event_by_gseq(&self, gseq: u64) -> StoreResult<Option<StoredEvent>> {
        self.with_reader(|c| {
            c.prepare_cached(&format!("SELECT {EVENT_COLS} FROM events WHERE gseq = ?"))
                .map_err(eng)?
                .query_row([gseq as i64], event_from_row)
                .optional()
                .map_err(eng)?
                .map(finish_event)
                .transpose()
        })
    }

    fn event_by_seq(&self, org: OrgKey, seq: u64) -> StoreResult<Option<StoredEvent>> {
        self.with_reader(|c| {
            c.prepare_cached(&format!(
                "SELECT {EVENT_COLS} FROM events WHERE org = ? AND seq = ?"
            ))
            .map_err(eng)?
            .query_row(params![org, seq as i64], event_from_row)
            .optional()
            .map_err(eng)?
            .map(finish_event)
            .transpose()
        })
    }

    fn max_gseq(&self) -> StoreResult<u64> {
        self.with_reader(|c| {
            let m: Option<i64> = c
                .query_row("SELECT MAX(gseq) FROM events", [], |r| r.get(0))
                .map_err(eng)?;
            Ok(m.unwrap_or(0) as u64)
        })
    }

    fn leaf_hashes(&self, org: OrgKey, start: u64, end: u64) -> StoreResult<Vec<Hash>> {
        self.with_reader(|c| {
            let mut st = c
                .prepare_cached(
                    "SELECT seq, leaf FROM events WHERE org = ? AND seq >= ? AND seq < ? ORDER BY seq",
                )
                .map_err(eng)?;
            let rows = st
                .query_map(params![org, start as i64, end as i64], |r| {
                    Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Vec<u8>>(1)?))
                })
                .map_err(eng)?;
            contiguous_hashes(
                org,
                "leaf",
                start,
                end,
                rows.map(|r| r.map_err(eng)),
            )
        })
    }

    fn node(&self, org: OrgKey, level: u32, index: u64) -> StoreResult<Option<Hash>> {
        self.with_reader(|c| {
            c.prepare_cached("SELECT hash FROM nodes WHERE org = ? AND level = ? AND idx = ?")
                .map_err(eng)?
                .query_row(params![org, level, index as i64], |r| {
                    r.get::<_, Vec<u8>>(0)
                })
                .optional()
                .map_err(eng)?
                .map(hash_of)
                .transpose()
        })
    }

    fn nodes(&self, org: OrgKey, level: u32, start: u64, end: u64) -> StoreResult<Vec<Hash>> {
        self.with_reader(|c| {
            let mut st = c
                .prepare_cached(
                    "SELECT idx, hash FROM nodes WHERE org = ? AND level = ? AND idx >= ? AND idx < ?
                     ORDER BY idx",
                )
                .map_err(eng)?;
            let rows = st
                .query_map(params![org, level, start as i64, end as i64], |r| {
                    Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Vec<u8>>(1)?))
                })
                .map_err(eng)?;
            contiguous_hashes(
                org,
                &format!("level-{level} node"),
                start,
                end,
                rows.map(|r| r.map_err(eng)),
            )
        })
    }

    fn head(&self, org: OrgKey) -> StoreResult<LogHead> {
        self.with_reader(|c| head_in(c, org))
    }

    fn insert_checkpoint(&self, cp: &CheckpointRecord) -> StoreResult<()> {
        let conn = self
            .writer
            .lock()
            .map_err(|_| StoreError::Unavailable("writer poisoned".into()))?;
        conn.execute(
            "INSERT OR IGNORE INTO checkpoints(org, size, root, note, signed_ms) VALUES (?,?,?,?,?)",
            params![cp.org, cp.size as i64, &cp.root[..], cp.note, cp.signed_ms],
        )
        .map_err(eng)?;
        Ok(())
    }

    fn latest_checkpoint(&self, org: OrgKey) -> StoreResult<Option<CheckpointRecord>> {
        self.checkpoint_query(
            "SELECT size, root, note, signed_ms FROM checkpoints WHERE org = ?1 AND ?2 >= 0
             ORDER BY size DESC LIMIT 1",
            org,
            0,
        )
    }

    fn checkpoint_covering(&self, org: OrgKey, size: u64) -> StoreResult<Option<CheckpointRecord>> {
        self.checkpoint_query(
            "SELECT size, root, note, signed_ms FROM checkpoints WHERE org = ?1 AND size >= ?2
             ORDER BY size ASC LIMIT 1",
            org,
            size,
        )
    }

    fn subject_keys(
        &self,
        org: OrgKey,
        subjects: &[Vec<u8>],
    ) -> StoreResult<Vec<SubjectKeyRecord>> {
        self.with_reader(|c| {
            let mut st = c
                .prepare_cached(
                    "SELECT wrapped, created_ms, erased_ms FROM subject_keys WHERE org=? AND subject=?",
                )
                .map_err(eng)?;
            let mut out = Vec::new();
            for s in subjects {
                if let Some(rec) = st
                    .query_row(params![org, s], |r| {
                        Ok(SubjectKeyRecord {
                            org,
                            subject: s.clone(),
                            wrapped: r.get(0)?,
                            created_ms: r.get(1)?,
                            erased_ms: r.get(2)?,
                        })
                    })
                    .optional()
                    .map_err(eng)?
                {
                    out.push(rec);
                }
            }
            Ok(out)
        })
    }

    fn holds(&self) -> StoreResult<Vec<LegalHold>> {
        self.with_reader(|c| {
            let mut st = c
                .prepare("SELECT id, org, subject, reason, created_ms, released_ms FROM legal_holds ORDER BY created_ms")
                .map_err(eng)?;
            let rows = st
                .query_map([], |r| {
                    Ok(LegalHold {
                        id: r.get(0)?,
                        org: r.get(1)?,
                        subject: r.get(2)?,
                        reason: r.get(3)?,
                        created_ms: r.get(4)?,
                        released_ms: r.get(5)?,
                    })
                })
                .map_err(eng)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(eng)
        })
    }

    fn erasure(&self, id: &str) -> StoreResult<Option<String>> {
        self.with_reader(|c| {
            c.query_row("SELECT body FROM erasures WHERE id = ?", [id], |r| r.get(0))
                .optional()
                .map_err(eng)
        })
    }

    fn sinks(&self) -> StoreResult<Vec<SinkRecord>> {
        self.with_reader(|c| {
            let mut st = c
                .prepare(&format!(
                    "SELECT {SINK_COLS} FROM sinks ORDER BY created_ms, id"
                ))
                .map_err(eng)?;
            let rows = st.query_map([], sink_from_row).map_err(eng)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(eng)
        })
    }

    fn sink(&self, id: &str) -> StoreResult<Option<SinkRecord>> {
        self.with_reader(|c| {
            c.prepare_cached(&format!("SELECT {SINK_COLS} FROM sinks WHERE id = ?"))
                .map_err(eng)?
                .query_row([id], sink_from_row)
                .optional()
                .map_err(eng)
        })
    }

    fn sink_progress(&self, id: &str, epoch: u64, p: &SinkProgress) -> StoreResult<bool> {
        let conn = self
            .writer
            .lock()
            .map_err(|_| StoreError::Unavailable("writer poisoned".into()))?;
        // The cursor only moves forward within an epoch: a late report from
        // a send that was overtaken can never move it back.
        let n = conn
            .prepare_cached(
                "UPDATE sinks SET
                   cursor_gseq = MAX(cursor_gseq, COALESCE(?1, cursor_gseq)),
                   delivered = delivered + ?2,
                   last_success_ms = CASE WHEN ?2 > 0 OR ?4 IS NULL THEN ?3 ELSE last_success_ms END,
                   last_error = CASE WHEN ?4 IS NULL THEN last_error ELSE ?4 END,
                   last_error_ms = CASE WHEN ?4 IS NULL THEN last_error_ms ELSE ?3 END
                 WHERE id = ?5 AND epoch = ?6",
            )
            .map_err(eng)?
            .execute(params![
                p.cursor_gseq.map(|g| g as i64),
                p.delivered as i64,
                p.at_ms,
                p.error,
                id,
                epoch as i64
            ])
            .map_err(eng)?;
        Ok(n > 0)
    }

    fn scrub(&self) -> StoreResult<()> {
        let conn = self
            .writer
            .lock()
            .map_err(|_| StoreError::Unavailable("writer poisoned".into()))?;
        // secure_delete already zeroes freed cells in the main file; the
        // write-ahead log still holds old page images until it is
        // checkpointed and truncated.
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(eng)
    }

    fn scan_log(
        &self,
        org: OrgKey,
        f: &mut dyn FnMut(LogRow) -> StoreResult<()>,
    ) -> StoreResult<()> {
        self.with_reader(|c| {
            let mut st = c
                .prepare(
                    "SELECT gseq, org, seq, received_ms, entry, leaf, type, category, product,
                     created_ms, actor_id, target_id, outcome, source_event_id
                     FROM events WHERE org = ? ORDER BY seq, gseq",
                )
                .map_err(eng)?;
            let mut rows = st.query([org]).map_err(eng)?;
            while let Some(r) = rows.next().map_err(eng)? {
                let mut columns = Vec::new();
                for (i, name) in [
                    (6, "type"),
                    (7, "category"),
                    (8, "product"),
                    (10, "actor_id"),
                    (11, "target_id"),
                    (12, "outcome"),
                    (13, "source_event_id"),
                ] {
                    if let Some(v) = r.get::<_, Option<String>>(i).map_err(eng)? {
                        columns.push((name, v));
                    }
                }
                if let Some(ms) = r.get::<_, Option<i64>>(9).map_err(eng)? {
                    columns.push(("created_ms", ms.to_string()));
                }
                let at = position(r).map_err(eng)?;
                f(LogRow {
                    gseq: at.gseq,
                    org: r.get(1).map_err(eng)?,
                    seq: at.seq,
                    received_ms: at.received_ms,
                    entry: r
                        .get::<_, Option<Vec<u8>>>(4)
                        .map_err(eng)?
                        .map(|e| super::codec::decode_entry(e, at)),
                    leaf: r
                        .get::<_, Option<Vec<u8>>>(5)
                        .map_err(eng)?
                        .unwrap_or_default(),
                    columns,
                })?;
            }
            Ok(())
        })
    }

    fn log_nodes(&self, org: OrgKey) -> StoreResult<Vec<(u32, u64, Vec<u8>)>> {
        self.with_reader(|c| {
            let mut st = c
                .prepare("SELECT level, idx, hash FROM nodes WHERE org = ? ORDER BY level, idx")
                .map_err(eng)?;
            let rows = st
                .query_map([org], |r| {
                    Ok((
                        r.get::<_, i64>(0)? as u32,
                        r.get::<_, i64>(1)? as u64,
                        r.get::<_, Vec<u8>>(2)?,
                    ))
                })
                .map_err(eng)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(eng)
        })
    }

    fn checkpoints(&self, org: OrgKey) -> StoreResult<Vec<CheckpointRecord>> {
        self.with_reader(|c| {
            let mut st = c
                .prepare(
                    "SELECT size, root, note, signed_ms FROM checkpoints WHERE org = ? ORDER BY size",
                )
                .map_err(eng)?;
            let rows = st
                .query_map([org], |r| {
                    Ok((
                        r.get::<_, i64>(0)? as u64,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })
                .map_err(eng)?;
            let mut out = Vec::new();
            for row in rows {
                let (size, root, note, signed_ms) = row.map_err(eng)?;
                // A root of the wrong length cannot match any tree; keep
                // the record so the caller reports it.
                let root: Hash = root.try_into().unwrap_or([0; 32]);
                out.push(CheckpointRecord {
                    org,
                    size,
                    root,
                    note,
                    signed_ms,
                });
            }
            Ok(out)
        })
    }

    fn log_owners(&self) -> StoreResult<Vec<OrgKey>> {
        self.with_reader(|c| {
            let mut st = c
                .prepare(
                    "SELECT org FROM events GROUP BY org UNION SELECT org FROM heads
                     UNION SELECT org FROM checkpoints GROUP BY org ORDER BY 1",
                )
                .map_err(eng)?;
            let rows = st.query_map([], |r| r.get::<_, i64>(0)).map_err(eng)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(eng)
        })
    }

    fn disk_bytes(&self) -> StoreResult<u64> {
        let mut total = 0;
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            if let Ok(m) = std::fs::metadata(&p) {
                total += m.len();
            }
        }
        Ok(total)
    }

    fn ping(&self) -> StoreResult<()> {
        self.with_reader(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(eng))
    }
}

impl SqliteStore {
    fn checkpoint_query(
        &self,
        sql: &str,
        org: OrgKey,
        size: u64,
    ) -> StoreResult<Option<CheckpointRecord>> {
        self.with_reader(|c| {
            c.prepare_cached(sql)
                .map_err(eng)?
                .query_row(params![org, size as i64], |r| {
                    Ok((
                        r.get::<_, i64>(0)? as u64,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })
                .optional()
                .map_err(eng)?
                .map(|(size, root, note, signed_ms)| {
                    Ok(CheckpointRecord {
                        org,
                        size,
                        root: hash_of(root)?,
                        note,
                        signed_ms,
                    })
                })
                .transpose()
        })
    }
}
