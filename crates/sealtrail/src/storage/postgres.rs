//! The PostgreSQL engine: many stateless Sealtrail nodes on one database.
//!
//! The [`Storage`] interface is blocking (it is called from the sequencer
//! thread and from `spawn_blocking`), while the client is asynchronous. The
//! engine owns a small runtime of its own and every call is a future spawned
//! there and waited for on a plain channel, so a call never enters a runtime
//! from inside another one and is safe from any thread.
//!
//! Correctness with several nodes rests on one rule: every group commit
//! takes the same transaction-scoped advisory lock before it hands out
//! global sequence numbers, so `gseq` order is commit order across nodes
//! and a reader's cursor can never skip an event that commits late with a
//! smaller `gseq`. Each commit carries a whole batch, so the lock is taken
//! once per batch, not per event. After commit, `NOTIFY sealtrail_commit`
//! wakes live streams on every node, `NOTIFY sealtrail_orgs` makes
//! every node reload its organization directory, and `NOTIFY
//! sealtrail_subjects` (an erasure) and `NOTIFY sealtrail_keys` (a
//! revocation) make every node drop what it cached of them.
//!
//! Layout: see `postgres/migrations/`. Event bodies are in `events`,
//! partitioned by month of received time; leaves, subtrees, heads and the
//! idempotency index are in unpartitioned tables, so dropping a month never
//! breaks a proof or a retry.

use std::collections::HashMap;
use std::future::Future;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use sealtrail_tlog::{Frontier, Hash};
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{AsyncMessage, Client, NoTls, Row, Statement};

use super::*;

/// Versioned migrations, applied in order at start and recorded in
/// `schema_migrations`. Never edit one that has shipped: add the next.
/// The schema version a store has once every migration is applied.
pub const SCHEMA_VERSION: i32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "initial schema",
        include_str!("postgres/migrations/0001_init.sql"),
    ),
    (
        2,
        "delivery sinks",
        include_str!("postgres/migrations/0002_sinks.sql"),
    ),
];

const SINK_COLS: &str = "id, org, name, kind, config, filter, secrets, paused, epoch, cursor_gseq, \
     created_ms, updated_ms, last_success_ms, last_error, last_error_ms, delivered";

fn sink_from_row(r: &Row) -> StoreResult<SinkRecord> {
    Ok(SinkRecord {
        id: get(r, 0)?,
        org: get(r, 1)?,
        name: get(r, 2)?,
        kind: get(r, 3)?,
        config: get(r, 4)?,
        filter: get(r, 5)?,
        secrets: get(r, 6)?,
        paused: get(r, 7)?,
        epoch: get::<i64>(r, 8)? as u64,
        cursor_gseq: get::<i64>(r, 9)? as u64,
        created_ms: get(r, 10)?,
        updated_ms: get(r, 11)?,
        last_success_ms: get(r, 12)?,
        last_error: get(r, 13)?,
        last_error_ms: get(r, 14)?,
        delivered: get::<i64>(r, 15)? as u64,
    })
}

/// Advisory lock keys (arbitrary constants, one namespace per purpose).
const LOCK_WRITE: i64 = 0x5ea1_7a11_0001;
const LOCK_MIGRATE: i64 = 0x5ea1_7a11_0002;
const LOCK_LEASE_BASE: i64 = 0x5ea1_7a11_1000;

/// Connections kept open for readers.
const MAX_IDLE_READERS: usize = 8;

/// A parameter owned by a future.
type Param = Box<dyn ToSql + Sync + Send>;

fn eng(e: tokio_postgres::Error) -> StoreError {
    if e.is_closed() {
        return StoreError::Unavailable(format!("the PostgreSQL connection is closed: {e}"));
    }
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        let msg = format!("{} ({code})", db.message());
        return match code {
            "23505" => StoreError::Conflict(msg),
            // serialization failure, deadlock, too many connections,
            // admin shutdown, cannot connect now
            "40001" | "40P01" | "53300" | "57P01" | "57P03" => StoreError::Unavailable(msg),
            _ => StoreError::Engine(msg),
        };
    }
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    StoreError::Unavailable(format!("PostgreSQL: {msg}"))
}

fn get<'a, T: FromSql<'a>>(r: &'a Row, i: usize) -> StoreResult<T> {
    r.try_get(i)
        .map_err(|e| StoreError::Corrupt(format!("column {i}: {e}")))
}

fn hash_of(v: Vec<u8>) -> StoreResult<Hash> {
    v.try_into()
        .map_err(|_| StoreError::Corrupt("a stored hash is not 32 bytes".into()))
}

fn to_i64(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Engine(format!("{v} does not fit a bigint")))
}

fn to_u64(v: i64) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative sequence {v}")))
}

/// One connection and its prepared statements.
struct Conn {
    client: Client,
    stmts: Mutex<HashMap<String, Statement>>,
}

impl Conn {
    async fn connect(url: &str) -> StoreResult<Arc<Conn>> {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await.map_err(eng)?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "PostgreSQL connection ended");
            }
        });
        Ok(Arc::new(Conn {
            client,
            stmts: Mutex::new(HashMap::new()),
        }))
    }

    /// The prepared statement for `sql`, prepared once per connection.
    async fn stmt(&self, sql: &str) -> StoreResult<Statement> {
        if let Ok(m) = self.stmts.lock()
            && let Some(s) = m.get(sql)
        {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql).await.map_err(eng)?;
        if let Ok(mut m) = self.stmts.lock() {
            m.insert(sql.to_string(), s.clone());
        }
        Ok(s)
    }

    async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<Vec<Row>> {
        let st = self.stmt(sql).await?;
        self.client.query(&st, params).await.map_err(eng)
    }

    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Option<Row>> {
        let st = self.stmt(sql).await?;
        self.client.query_opt(&st, params).await.map_err(eng)
    }

    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<u64> {
        let st = self.stmt(sql).await?;
        self.client.execute(&st, params).await.map_err(eng)
    }

    /// Runs statements without parameters in one round trip, returning
    /// the first column of every row as text.
    async fn simple(&self, sql: &str) -> StoreResult<Vec<Vec<Option<String>>>> {
        let msgs = self.client.simple_query(sql).await.map_err(eng)?;
        let mut rows = Vec::new();
        for m in msgs {
            if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
                rows.push((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect());
            }
        }
        Ok(rows)
    }
}

/// The runtime the engine's futures run on, and the way in from blocking
/// code.
struct Bridge {
    rt: Mutex<Option<tokio::runtime::Runtime>>,
    handle: tokio::runtime::Handle,
}

impl Bridge {
    fn new() -> StoreResult<Bridge> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sealtrail-pg")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Engine(format!("cannot start the PostgreSQL runtime: {e}")))?;
        let handle = rt.handle().clone();
        Ok(Bridge {
            rt: Mutex::new(Some(rt)),
            handle,
        })
    }

    /// Runs `fut` on the engine's runtime and waits for it.
    fn block<T: Send + 'static>(
        &self,
        fut: impl Future<Output = StoreResult<T>> + Send + 'static,
    ) -> StoreResult<T> {
        let (tx, rx) = std_mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv()
            .map_err(|_| StoreError::Unavailable("the PostgreSQL engine is shutting down".into()))?
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // Dropping a runtime from inside another one panics; shutting it
        // down in the background never does, and closes every connection
        // (which also releases any lease this node held).
        if let Ok(mut g) = self.rt.lock()
            && let Some(rt) = g.take()
        {
            rt.shutdown_background();
        }
    }
}

/// The PostgreSQL engine.
pub struct PgStore {
    url: String,
    bridge: Bridge,
    writer: Mutex<Option<Arc<Conn>>>,
    readers: Mutex<Vec<Arc<Conn>>>,
    leases: Mutex<HashMap<String, (Arc<Conn>, bool)>>,
    listeners: Arc<Mutex<Vec<ChangeListener>>>,
    listening: Mutex<bool>,
    /// End (ms) of the last monthly partition known to exist.
    partitions_until: Mutex<i64>,
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`), applies pending
    /// migrations under an advisory lock (so nodes starting together apply
    /// each once) and creates the event partitions for the coming months.
    pub fn open(url: &str) -> StoreResult<PgStore> {
        let store = PgStore {
            url: url.to_string(),
            bridge: Bridge::new()?,
            writer: Mutex::new(None),
            readers: Mutex::new(Vec::new()),
            leases: Mutex::new(HashMap::new()),
            listeners: Arc::new(Mutex::new(Vec::new())),
            listening: Mutex::new(false),
            partitions_until: Mutex::new(0),
        };
        let u = store.url.clone();
        store.bridge.block(async move { migrate(&u).await })?;
        store.ensure_partitions(crate::time::now_ms())?;
        Ok(store)
    }

    /// The schema version now applied.
    pub fn schema_version(&self) -> StoreResult<i32> {
        self.read(|c| async move {
            let r = c
                .query_opt("SELECT max(version) FROM schema_migrations", &[])
                .await?;
            Ok(match r {
                Some(r) => get::<Option<i32>>(&r, 0)?.unwrap_or(0),
                None => 0,
            })
        })
    }

    fn checkout(&self) -> StoreResult<Arc<Conn>> {
        let pooled = self
            .readers
            .lock()
            .map_err(|_| StoreError::Unavailable("reader pool poisoned".into()))?
            .pop();
        match pooled {
            Some(c) if !c.client.is_closed() => Ok(c),
            _ => {
                let u = self.url.clone();
                self.bridge.block(async move { Conn::connect(&u).await })
            }
        }
    }

    fn checkin(&self, c: Arc<Conn>) {
        if c.client.is_closed() {
            return;
        }
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < MAX_IDLE_READERS
        {
            pool.push(c);
        }
    }

    /// Runs a read on a pooled connection.
    fn read<T, F, Fut>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Conn>) -> Fut,
        Fut: Future<Output = StoreResult<T>> + Send + 'static,
    {
        let c = self.checkout()?;
        let out = self.bridge.block(f(c.clone()));
        self.checkin(c);
        out
    }

    fn writer(&self) -> StoreResult<Arc<Conn>> {
        let mut w = self
            .writer
            .lock()
            .map_err(|_| StoreError::Unavailable("writer poisoned".into()))?;
        if let Some(c) = w.as_ref()
            && !c.client.is_closed()
        {
            return Ok(c.clone());
        }
        let u = self.url.clone();
        let c = self.bridge.block(async move { Conn::connect(&u).await })?;
        *w = Some(c.clone());
        Ok(c)
    }

    /// Makes sure monthly partitions exist from last month to two months
    /// ahead of `now_ms`. Cheap when they do (an in-memory comparison).
    fn ensure_partitions(&self, now_ms: i64) -> StoreResult<()> {
        let until = *self
            .partitions_until
            .lock()
            .map_err(|_| StoreError::Unavailable("partition state poisoned".into()))?;
        if now_ms + 35 * 86_400_000 < until {
            return Ok(());
        }
        let months = month_starts(now_ms, -1, 3)?;
        let mut sql = format!(
            "SET client_min_messages = warning; BEGIN; SELECT pg_advisory_xact_lock({LOCK_WRITE});"
        );
        for w in months.windows(2) {
            let (from, to, name) = (w[0].0, w[1].0, &w[0].1);
            sql.push_str(&format!(
                "CREATE TABLE IF NOT EXISTS {name} PARTITION OF events FOR VALUES FROM ({from}) TO ({to});"
            ));
        }
        sql.push_str("COMMIT;");
        let c = self.checkout()?;
        let res = self.bridge.block({
            let c = c.clone();
            async move {
                if let Err(e) = c.simple(&sql).await {
                    let _ = c.simple("ROLLBACK").await;
                    return Err(e);
                }
                Ok(())
            }
        });
        self.checkin(c);
        match res {
            Ok(()) => {
                if let (Ok(mut u), Some(last)) = (self.partitions_until.lock(), months.last()) {
                    *u = last.0;
                }
                Ok(())
            }
            Err(e) => {
                // Rows still land in the default partition: log, go on.
                tracing::warn!(error = %e, "cannot create event partitions");
                Ok(())
            }
        }
    }

    fn start_listener(&self) {
        let Ok(mut started) = self.listening.lock() else {
            return;
        };
        if *started {
            return;
        }
        *started = true;
        // Listeners may block (they reload from this store), so they run on
        // a thread of their own, never on the engine's runtime.
        let (tx, rx) = std_mpsc::channel::<Change>();
        let listeners = self.listeners.clone();
        let spawned = std::thread::Builder::new()
            .name("sealtrail-pg-notify".into())
            .spawn(move || {
                while let Ok(ch) = rx.recv() {
                    let ls: Vec<ChangeListener> = match listeners.lock() {
                        Ok(l) => l.clone(),
                        Err(_) => return,
                    };
                    for l in ls {
                        l(ch);
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the notification thread");
            return;
        }
        let url = self.url.clone();
        self.bridge.handle.spawn(listen_loop(url, tx));
    }
}

/// Keeps one connection listening for commits, organization, key and
/// subject-key changes, reconnecting after failures. After every
/// (re)connection it announces a resynchronisation, since notifications
/// sent meanwhile were lost, and when the connection ends it announces
/// [`Change::Lost`], so caches stop serving until the next one.
async fn listen_loop(url: String, out: std_mpsc::Sender<Change>) {
    loop {
        match tokio_postgres::connect(&url, NoTls).await {
            Ok((client, mut connection)) => {
                let (ntx, mut nrx) = tokio::sync::mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    let mut stream =
                        futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                    while let Some(msg) = stream.next().await {
                        match msg {
                            Ok(AsyncMessage::Notification(n)) => {
                                if ntx.send(n).is_err() {
                                    break;
                                }
                            }
                            Ok(_) => {}
                            Err(_) => break,
                        }
                    }
                });
                if client
                    .batch_execute(
                        "LISTEN sealtrail_commit; LISTEN sealtrail_orgs;
                         LISTEN sealtrail_keys; LISTEN sealtrail_subjects",
                    )
                    .await
                    .is_ok()
                {
                    if out.send(Change::Resync).is_err() {
                        return;
                    }
                    let resync = client
                        .query_one("SELECT coalesce(max(gseq), 0) FROM leaves", &[])
                        .await
                        .ok()
                        .and_then(|r| r.try_get::<_, i64>(0).ok())
                        .and_then(|g| u64::try_from(g).ok());
                    if out.send(Change::Orgs).is_err() {
                        return;
                    }
                    if let Some(g) = resync
                        && out.send(Change::Committed(g)).is_err()
                    {
                        return;
                    }
                    while let Some(n) = nrx.recv().await {
                        let ch = match n.channel() {
                            "sealtrail_commit" => match n.payload().parse::<u64>() {
                                Ok(g) => Change::Committed(g),
                                Err(_) => continue,
                            },
                            "sealtrail_orgs" => Change::Orgs,
                            "sealtrail_keys" => Change::Keys,
                            "sealtrail_subjects" => Change::Subjects,
                            _ => continue,
                        };
                        if out.send(ch).is_err() {
                            return;
                        }
                    }
                    if out.send(Change::Lost).is_err() {
                        return;
                    }
                }
                driver.abort();
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for PostgreSQL notifications"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Applies pending migrations, each in its own transaction, under a
/// session advisory lock so concurrent starts apply each exactly once.
async fn migrate(url: &str) -> StoreResult<()> {
    let c = Conn::connect(url).await?;
    c.simple(&format!(
        "SET client_min_messages = warning; SELECT pg_advisory_lock({LOCK_MIGRATE});
         CREATE TABLE IF NOT EXISTS schema_migrations(
           version int PRIMARY KEY, name text NOT NULL, applied_ms bigint NOT NULL)"
    ))
    .await?;
    let res = async {
        let rows = c
            .query("SELECT version FROM schema_migrations", &[])
            .await?;
        let mut done = Vec::new();
        for r in &rows {
            done.push(get::<i32>(r, 0)?);
        }
        for (version, name, sql) in MIGRATIONS {
            if done.contains(version) {
                continue;
            }
            c.simple("BEGIN").await?;
            let applied = async {
                c.simple(sql).await?;
                c.execute(
                    "INSERT INTO schema_migrations(version, name, applied_ms) VALUES ($1, $2, $3)",
                    &[version, name, &crate::time::now_ms()],
                )
                .await?;
                c.simple("COMMIT").await?;
                Ok::<_, StoreError>(())
            }
            .await;
            if let Err(e) = applied {
                let _ = c.simple("ROLLBACK").await;
                return Err(StoreError::Engine(format!(
                    "migration {version} ({name}) failed: {e}"
                )));
            }
            tracing::info!(version, name, "applied PostgreSQL migration");
        }
        Ok(())
    }
    .await;
    let _ = c
        .simple(&format!("SELECT pg_advisory_unlock({LOCK_MIGRATE})"))
        .await;
    res
}

const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (UTC), counting
/// in 400-year eras so the arithmetic stays exact for any year.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month) of a day count since 1970-01-01.
fn civil_month(days: i64) -> (i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m)
}

/// Month boundaries (UTC) from `from` months before to `to` months after
/// the month of `ms`, each with the name of the partition starting there.
fn month_starts(ms: i64, from: i64, to: i64) -> StoreResult<Vec<(i64, String)>> {
    let (y, m) = civil_month(ms.div_euclid(DAY_MS));
    let mut out = Vec::new();
    for k in from..=to {
        let total = y * 12 + (m - 1) + k;
        let (y, m) = (total.div_euclid(12), total.rem_euclid(12) + 1);
        if !(0..=9999).contains(&y) {
            return Err(StoreError::Engine(format!("time {ms} is out of range")));
        }
        out.push((
            days_from_civil(y, m, 1) * DAY_MS,
            format!("events_y{y:04}m{m:02}"),
        ));
    }
    Ok(out)
}

/// Parses a partition name back into the (start, end) ms of its month.
fn partition_range(name: &str) -> Option<(i64, i64)> {
    let rest = name.strip_prefix("events_y")?;
    let (y, m) = rest.split_once('m')?;
    let (y, m): (i64, i64) = (y.parse().ok()?, m.parse().ok()?);
    if !(1..=12).contains(&m) {
        return None;
    }
    let start = days_from_civil(y, m, 1) * DAY_MS;
    let next = month_starts(start, 1, 1).ok()?;
    Some((start, next.first()?.0))
}

/// Events buffered by a transaction, column by column, inserted with one
/// statement per table when the job ends.
#[derive(Default)]
struct EventBuf {
    gseq: Vec<i64>,
    tree: Vec<i64>,
    org: Vec<i64>,
    seq: Vec<i64>,
    typ: Vec<String>,
    category: Vec<String>,
    product: Vec<Option<String>>,
    created_ms: Vec<i64>,
    received_ms: Vec<i64>,
    actor_id: Vec<Option<String>>,
    email_bi: Vec<Option<Vec<u8>>>,
    ip_bi: Vec<Option<Vec<u8>>>,
    api_key_id: Vec<Option<String>>,
    target_id: Vec<Option<String>>,
    outcome: Vec<String>,
    source_event_id: Vec<Option<String>>,
    entry: Vec<Option<Vec<u8>>>,
    leaf: Vec<Vec<u8>>,
    pii: Vec<Option<Vec<u8>>>,
    subjects: Vec<Option<Vec<u8>>>,
    /// Idempotency rows: (org, product, source id) → (gseq, seq, ms).
    sources: HashMap<(OrgKey, String, String), (u64, u64, i64)>,
    nodes: Vec<(i64, i64, i64, Vec<u8>)>,
    subject_keys: Vec<SubjectKeyRecord>,
}

impl EventBuf {
    fn is_empty(&self) -> bool {
        self.gseq.is_empty() && self.nodes.is_empty() && self.subject_keys.is_empty()
    }
}

const INSERT_EVENTS: &str = "INSERT INTO events(gseq, tree, org, seq, type, category, product,
  created_ms, received_ms, actor_id, actor_email_bi, ip_bi, api_key_id, target_id, outcome,
  source_event_id, entry, leaf, pii, subjects)
  SELECT * FROM unnest($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::text[], $6::text[],
  $7::text[], $8::int8[], $9::int8[], $10::text[], $11::bytea[], $12::bytea[], $13::text[],
  $14::text[], $15::text[], $16::text[], $17::bytea[], $18::bytea[], $19::bytea[], $20::bytea[])";
const INSERT_LEAVES: &str =
    "INSERT INTO leaves(org, seq, gseq, received_ms, created_ms, type, leaf)
  SELECT * FROM unnest($1::int8[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::text[],
  $7::bytea[])";
const INSERT_SOURCES: &str = "INSERT INTO source_events(org, product, source_event_id, gseq, seq,
  received_ms) SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::int8[], $5::int8[],
  $6::int8[])";
const INSERT_NODES: &str = "INSERT INTO nodes(org, level, idx, hash)
  SELECT * FROM unnest($1::int8[], $2::int8[], $3::int8[], $4::bytea[])
  ON CONFLICT (org, level, idx) DO UPDATE SET hash = excluded.hash";
const UPSERT_SUBJECT_KEYS: &str = "INSERT INTO subject_keys(org, subject, wrapped, created_ms,
  erased_ms) SELECT * FROM unnest($1::int8[], $2::bytea[], $3::bytea[], $4::int8[], $5::int8[])
  ON CONFLICT (org, subject) DO UPDATE SET wrapped = excluded.wrapped,
  created_ms = excluded.created_ms, erased_ms = excluded.erased_ms";
const UPSERT_HEADS: &str = "INSERT INTO heads(org, size, frontier)
  SELECT * FROM unnest($1::int8[], $2::int8[], $3::bytea[])
  ON CONFLICT (org) DO UPDATE SET size = excluded.size, frontier = excluded.frontier";

/// Writes a buffer with one statement per table, pipelined on one
/// connection.
async fn flush_buf(c: Arc<Conn>, b: EventBuf) -> StoreResult<()> {
    let events = async {
        if b.gseq.is_empty() {
            return Ok(0);
        }
        let (e, l) = futures_util::future::join(
            c.execute(
                INSERT_EVENTS,
                &[
                    &b.gseq,
                    &b.tree,
                    &b.org,
                    &b.seq,
                    &b.typ,
                    &b.category,
                    &b.product,
                    &b.created_ms,
                    &b.received_ms,
                    &b.actor_id,
                    &b.email_bi,
                    &b.ip_bi,
                    &b.api_key_id,
                    &b.target_id,
                    &b.outcome,
                    &b.source_event_id,
                    &b.entry,
                    &b.leaf,
                    &b.pii,
                    &b.subjects,
                ],
            ),
            c.execute(
                INSERT_LEAVES,
                &[
                    &b.org,
                    &b.seq,
                    &b.gseq,
                    &b.received_ms,
                    &b.created_ms,
                    &b.typ,
                    &b.leaf,
                ],
            ),
        )
        .await;
        e?;
        l
    };
    let sources = async {
        if b.sources.is_empty() {
            return Ok(0);
        }
        let rows: Vec<_> = b.sources.iter().collect();
        let org: Vec<i64> = rows.iter().map(|(k, _)| k.0).collect();
        let product: Vec<&str> = rows.iter().map(|(k, _)| k.1.as_str()).collect();
        let sid: Vec<&str> = rows.iter().map(|(k, _)| k.2.as_str()).collect();
        let gseq = rows
            .iter()
            .map(|(_, v)| to_i64(v.0))
            .collect::<StoreResult<Vec<i64>>>()?;
        let seq = rows
            .iter()
            .map(|(_, v)| to_i64(v.1))
            .collect::<StoreResult<Vec<i64>>>()?;
        let ms: Vec<i64> = rows.iter().map(|(_, v)| v.2).collect();
        c.execute(INSERT_SOURCES, &[&org, &product, &sid, &gseq, &seq, &ms])
            .await
    };
    let nodes = async {
        if b.nodes.is_empty() {
            return Ok(0);
        }
        let org: Vec<i64> = b.nodes.iter().map(|n| n.0).collect();
        let level: Vec<i64> = b.nodes.iter().map(|n| n.1).collect();
        let idx: Vec<i64> = b.nodes.iter().map(|n| n.2).collect();
        let hash: Vec<&[u8]> = b.nodes.iter().map(|n| n.3.as_slice()).collect();
        c.execute(INSERT_NODES, &[&org, &level, &idx, &hash]).await
    };
    let keys = async {
        if b.subject_keys.is_empty() {
            return Ok(0);
        }
        let k = &b.subject_keys;
        let org: Vec<i64> = k.iter().map(|k| k.org).collect();
        let subject: Vec<&[u8]> = k.iter().map(|k| k.subject.as_slice()).collect();
        let wrapped: Vec<Option<&[u8]>> = k.iter().map(|k| k.wrapped.as_deref()).collect();
        let created: Vec<i64> = k.iter().map(|k| k.created_ms).collect();
        let erased: Vec<Option<i64>> = k.iter().map(|k| k.erased_ms).collect();
        c.execute(
            UPSERT_SUBJECT_KEYS,
            &[&org, &subject, &wrapped, &created, &erased],
        )
        .await
    };
    let (a, b2, n, k) = futures_util::future::join4(events, sources, nodes, keys).await;
    a?;
    b2?;
    n?;
    k?;
    Ok(())
}

struct PgTxn<'a> {
    bridge: &'a Bridge,
    conn: Arc<Conn>,
    /// Last gseq handed out.
    gseq: u64,
    /// Greatest received time committed before this transaction.
    floor_ms: i64,
    /// Greatest received time written by this transaction.
    max_ms: i64,
    /// Highest gseq written (and not rolled back), for the commit notice.
    written_gseq: Option<u64>,
    buf: EventBuf,
    heads: Vec<LogHead>,
    /// A job started; its savepoint is set before its first statement.
    sp_pending: bool,
    /// The job's savepoint exists in the database.
    sp_open: bool,
    orgs_changed: bool,
    /// A subject key was erased or envelopes removed: other nodes' caches
    /// of unwrapped subject keys must drop what they hold.
    subjects_changed: bool,
}

impl PgTxn<'_> {
    fn run<T: Send + 'static, Fut>(&self, f: impl FnOnce(Arc<Conn>) -> Fut) -> StoreResult<T>
    where
        Fut: Future<Output = StoreResult<T>> + Send + 'static,
    {
        self.bridge.block(f(self.conn.clone()))
    }

    /// Before a statement that writes: set the job's savepoint, then write
    /// out what the job buffered, so statements apply in program order.
    fn prepare_write(&mut self) -> StoreResult<()> {
        if self.sp_pending {
            self.run(|c| async move { c.simple("SAVEPOINT job").await.map(|_| ()) })?;
            self.sp_pending = false;
            self.sp_open = true;
        }
        self.flush()
    }

    fn flush(&mut self) -> StoreResult<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        let top = buf.gseq.iter().copied().max();
        self.run(|c| flush_buf(c, buf))?;
        if let Some(g) = top {
            let g = to_u64(g)?;
            self.written_gseq = Some(self.written_gseq.map_or(g, |w| w.max(g)));
        }
        Ok(())
    }

    /// Commits: the last buffered rows, the heads, the shared counters and
    /// the notices, then COMMIT.
    fn commit(&mut self) -> StoreResult<()> {
        self.flush()?;
        if !self.heads.is_empty() {
            let mut cols: (Vec<i64>, Vec<i64>, Vec<Vec<u8>>) = Default::default();
            for h in &self.heads {
                cols.0.push(h.org);
                cols.1.push(to_i64(h.frontier.size())?);
                cols.2.push(h.frontier.to_bytes());
            }
            self.run(
                |c| async move { c.execute(UPSERT_HEADS, &[&cols.0, &cols.1, &cols.2]).await },
            )?;
        }
        let mut sql = format!(
            "UPDATE log_state SET gseq = {}, last_ms = greatest(last_ms, {});",
            to_i64(self.gseq)?,
            self.max_ms
        );
        if let Some(g) = self.written_gseq {
            sql.push_str(&format!("SELECT pg_notify('sealtrail_commit', '{g}');"));
        }
        if self.orgs_changed {
            sql.push_str("SELECT pg_notify('sealtrail_orgs', '');");
        }
        if self.subjects_changed {
            sql.push_str("SELECT pg_notify('sealtrail_subjects', '');");
        }
        sql.push_str("COMMIT");
        self.run(|c| async move { c.simple(&sql).await.map(|_| ()) })
    }
}

const EVENT_COLS: &str = "gseq, org, seq, received_ms, entry, leaf, pii, type, created_ms";
const KEY_COLS: &str =
    "id, kind, secret_hash, org, product, scopes, name, created_ms, expires_ms, revoked_ms";
const ORG_COLS: &str =
    "key, id, name, parent, tree, enabled, enabled_ms, disabled_ms, created_ms, retention_days";

fn event_from_row(r: &Row) -> StoreResult<StoredEvent> {
    Ok(StoredEvent {
        gseq: to_u64(get(r, 0)?)?,
        org: get(r, 1)?,
        seq: to_u64(get(r, 2)?)?,
        received_ms: get(r, 3)?,
        entry: get(r, 4)?,
        leaf: hash_of(get(r, 5)?)?,
        pii: get(r, 6)?,
        activity_type: get(r, 7)?,
        created_ms: get(r, 8)?,
    })
}

fn org_from_row(r: &Row) -> StoreResult<Org> {
    Ok(Org {
        key: get(r, 0)?,
        id: get(r, 1)?,
        name: get(r, 2)?,
        parent: get(r, 3)?,
        tree: get(r, 4)?,
        enabled: get(r, 5)?,
        logging_enabled_at: get(r, 6)?,
        logging_disabled_at: get(r, 7)?,
        created_ms: get(r, 8)?,
        retention_days: get::<Option<i64>>(r, 9)?.and_then(|d| u32::try_from(d).ok()),
    })
}

fn key_from_row(r: &Row) -> StoreResult<KeyRecord> {
    let id: String = get(r, 0)?;
    let kind: String = get(r, 1)?;
    let scopes: String = get(r, 5)?;
    Ok(KeyRecord {
        kind: KeyKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("key {id} has unknown kind {kind}")))?,
        id,
        secret_hash: hash_of(get(r, 2)?)?,
        org: get(r, 3)?,
        product: get(r, 4)?,
        scopes: scopes
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        name: get(r, 6)?,
        created_ms: get(r, 7)?,
        expires_ms: get(r, 8)?,
        revoked_ms: get(r, 9)?,
    })
}

fn head_from(org: OrgKey, row: Option<Row>) -> StoreResult<LogHead> {
    let frontier = match row {
        Some(r) => Frontier::from_bytes(&get::<Vec<u8>>(&r, 0)?)
            .map_err(|e| StoreError::Corrupt(format!("log head of org {org}: {e}")))?,
        None => Frontier::new(),
    };
    Ok(LogHead { org, frontier })
}

impl Txn for PgTxn<'_> {
    fn savepoint(&mut self) -> StoreResult<()> {
        // Set lazily: most jobs only append, and their rows are written by
        // one statement when the job ends, which needs no savepoint.
        self.sp_pending = true;
        self.sp_open = false;
        Ok(())
    }

    fn rollback_savepoint(&mut self) -> StoreResult<()> {
        // Whatever is buffered belongs to this job (earlier jobs were
        // written out when they ended).
        self.buf = EventBuf::default();
        if self.sp_open {
            self.run(|c| async move {
                c.simple("ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job")
                    .await
                    .map(|_| ())
            })?;
        }
        self.sp_pending = false;
        self.sp_open = false;
        Ok(())
    }

    fn release_savepoint(&mut self) -> StoreResult<()> {
        self.flush()?;
        if self.sp_open {
            self.run(|c| async move { c.simple("RELEASE SAVEPOINT job").await.map(|_| ()) })?;
        }
        self.sp_pending = false;
        self.sp_open = false;
        Ok(())
    }

    fn log_head(&mut self, org: OrgKey) -> StoreResult<LogHead> {
        let row = self.run(|c| async move {
            c.query_opt(
                "SELECT frontier FROM heads WHERE org = $1 FOR UPDATE",
                &[&org],
            )
            .await
        })?;
        head_from(org, row)
    }

    fn set_log_head(&mut self, head: &LogHead) -> StoreResult<()> {
        self.heads.retain(|h| h.org != head.org);
        self.heads.push(head.clone());
        Ok(())
    }

    fn next_gseq(&mut self) -> StoreResult<u64> {
        self.gseq += 1;
        Ok(self.gseq)
    }

    fn find_source_event(
        &mut self,
        org: OrgKey,
        product: &str,
        source_event_id: &str,
    ) -> StoreResult<Option<(u64, u64, i64)>> {
        let k = (org, product.to_string(), source_event_id.to_string());
        if let Some(v) = self.buf.sources.get(&k) {
            return Ok(Some(*v));
        }
        let row = self.run(|c| async move {
            c.query_opt(
                "SELECT gseq, seq, received_ms FROM source_events
                 WHERE org = $1 AND product = $2 AND source_event_id = $3",
                &[&k.0, &k.1, &k.2],
            )
            .await
        })?;
        row.map(|r| Ok((to_u64(get(&r, 0)?)?, to_u64(get(&r, 1)?)?, get(&r, 2)?)))
            .transpose()
    }

    fn insert_event(&mut self, ev: &NewEvent) -> StoreResult<()> {
        let b = &mut self.buf;
        if let (Some(p), Some(sid)) = (&ev.product, &ev.source_event_id) {
            let k = (ev.org, p.clone(), sid.clone());
            if b.sources.contains_key(&k) {
                return Err(StoreError::Conflict(format!(
                    "source event {sid} is already stored"
                )));
            }
            b.sources.insert(k, (ev.gseq, ev.seq, ev.received_ms));
        }
        b.gseq.push(to_i64(ev.gseq)?);
        b.tree.push(ev.tree);
        b.org.push(ev.org);
        b.seq.push(to_i64(ev.seq)?);
        b.typ.push(ev.activity_type.clone());
        b.category.push(ev.category.to_string());
        b.product.push(ev.product.clone());
        b.created_ms.push(ev.created_ms);
        b.received_ms.push(ev.received_ms);
        b.actor_id.push(ev.actor_id.clone());
        b.email_bi.push(ev.actor_email_bi.clone());
        b.ip_bi.push(ev.ip_bi.clone());
        b.api_key_id.push(ev.api_key_id.clone());
        b.target_id.push(ev.target_id.clone());
        b.outcome.push(ev.outcome.to_string());
        b.source_event_id.push(ev.source_event_id.clone());
        b.entry.push(Some(ev.entry.clone()));
        b.leaf.push(ev.leaf.to_vec());
        b.pii.push(ev.pii.clone());
        b.subjects
            .push((!ev.subjects.is_empty()).then(|| ev.subjects.concat()));
        self.max_ms = self.max_ms.max(ev.received_ms);
        Ok(())
    }

    fn insert_node(&mut self, org: OrgKey, level: u32, index: u64, hash: &Hash) -> StoreResult<()> {
        self.buf
            .nodes
            .push((org, i64::from(level), to_i64(index)?, hash.to_vec()));
        Ok(())
    }

    fn insert_org(&mut self, org: &Org) -> StoreResult<OrgKey> {
        self.prepare_write()?;
        let o = org.clone();
        let key = self.run(|c| async move {
            let row = c
                .query_opt(
                    "INSERT INTO orgs(id, name, parent, tree, enabled, enabled_ms, disabled_ms,
                     created_ms, retention_days) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
                     ON CONFLICT (id) DO NOTHING RETURNING key",
                    &[
                        &o.id,
                        &o.name,
                        &o.parent,
                        &o.tree,
                        &o.enabled,
                        &o.logging_enabled_at,
                        &o.logging_disabled_at,
                        &o.created_ms,
                        &o.retention_days.map(i64::from),
                    ],
                )
                .await?;
            let Some(row) = row else {
                return Err(StoreError::Conflict(format!(
                    "organization {} already exists",
                    o.id
                )));
            };
            let key: i64 = get(&row, 0)?;
            if o.tree == 0 {
                // A root: its tree is itself.
                c.execute("UPDATE orgs SET tree = key WHERE key = $1", &[&key])
                    .await?;
            }
            Ok(key)
        })?;
        self.orgs_changed = true;
        Ok(key)
    }

    fn update_org(&mut self, org: &Org) -> StoreResult<()> {
        self.prepare_write()?;
        let o = org.clone();
        let n = self.run(|c| async move {
            c.execute(
                "UPDATE orgs SET name=$1, parent=$2, tree=$3, enabled=$4, enabled_ms=$5,
                 disabled_ms=$6, retention_days=$7 WHERE key=$8",
                &[
                    &o.name,
                    &o.parent,
                    &o.tree,
                    &o.enabled,
                    &o.logging_enabled_at,
                    &o.logging_disabled_at,
                    &o.retention_days.map(i64::from),
                    &o.key,
                ],
            )
            .await
        })?;
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "organization {} not found",
                org.id
            )));
        }
        self.orgs_changed = true;
        Ok(())
    }

    fn set_events_tree(&mut self, org: OrgKey, tree: OrgKey) -> StoreResult<()> {
        self.prepare_write()?;
        self.run(|c| async move {
            c.execute("UPDATE events SET tree = $1 WHERE org = $2", &[&tree, &org])
                .await
        })?;
        Ok(())
    }

    fn subject_key(
        &mut self,
        org: OrgKey,
        subject: &[u8],
    ) -> StoreResult<Option<SubjectKeyRecord>> {
        if let Some(k) = self
            .buf
            .subject_keys
            .iter()
            .rev()
            .find(|k| k.org == org && k.subject == subject)
        {
            return Ok(Some(k.clone()));
        }
        let s = subject.to_vec();
        let row = self.run(|c| async move {
            c.query_opt(
                "SELECT wrapped, created_ms, erased_ms FROM subject_keys
                 WHERE org = $1 AND subject = $2",
                &[&org, &s],
            )
            .await
        })?;
        row.map(|r| {
            Ok(SubjectKeyRecord {
                org,
                subject: subject.to_vec(),
                wrapped: get(&r, 0)?,
                created_ms: get(&r, 1)?,
                erased_ms: get(&r, 2)?,
            })
        })
        .transpose()
    }

    fn put_subject_key(&mut self, rec: &SubjectKeyRecord) -> StoreResult<()> {
        if rec.wrapped.is_none() {
            self.subjects_changed = true;
        }
        let keys = &mut self.buf.subject_keys;
        keys.retain(|k| !(k.org == rec.org && k.subject == rec.subject));
        keys.push(rec.clone());
        Ok(())
    }

    fn events_with_subject(
        &mut self,
        org: OrgKey,
        subject: &[u8],
    ) -> StoreResult<Vec<SubjectEvent>> {
        self.prepare_write()?;
        let s = subject.to_vec();
        let rows = self.run(|c| async move {
            c.query(
                "SELECT gseq, actor_id, pii, subjects FROM events
                 WHERE org = $1 AND subjects IS NOT NULL AND position($2::bytea in subjects) > 0",
                &[&org, &s],
            )
            .await
        })?;
        let mut out = Vec::new();
        for r in &rows {
            let ev = SubjectEvent {
                gseq: to_u64(get(r, 0)?)?,
                actor_id: get(r, 1)?,
                pii: get(r, 2)?,
                subjects: get::<Option<Vec<u8>>>(r, 3)?.unwrap_or_default(),
            };
            // position() may match across two 16-byte references; keep
            // only aligned matches.
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
        self.prepare_write()?;
        self.subjects_changed = true;
        let pii = pii.map(<[u8]>::to_vec);
        let subjects = (!subjects.is_empty()).then(|| subjects.to_vec());
        let g = to_i64(gseq)?;
        let sql = if clear_actor_index {
            "UPDATE events SET pii = $1, subjects = $2, actor_email_bi = NULL, ip_bi = NULL
             WHERE gseq = $3"
        } else {
            "UPDATE events SET pii = $1, subjects = $2 WHERE gseq = $3"
        };
        self.run(|c| async move { c.execute(sql, &[&pii, &subjects, &g]).await })?;
        Ok(())
    }

    fn prune(
        &mut self,
        org: OrgKey,
        below_seq: u64,
        keep_subjects: &[Vec<u8>],
    ) -> StoreResult<u64> {
        self.prepare_write()?;
        let below = to_i64(below_seq)?;
        if keep_subjects.is_empty() {
            return self.run(|c| async move {
                c.execute(
                    "UPDATE events SET entry = NULL, pii = NULL, subjects = NULL,
                     actor_email_bi = NULL, ip_bi = NULL
                     WHERE org = $1 AND seq < $2 AND entry IS NOT NULL",
                    &[&org, &below],
                )
                .await
            });
        }
        let keep = keep_subjects.to_vec();
        self.run(|c| async move {
            let rows = c
                .query(
                    "SELECT gseq, subjects FROM events
                     WHERE org = $1 AND seq < $2 AND entry IS NOT NULL",
                    &[&org, &below],
                )
                .await?;
            let mut prune: Vec<i64> = Vec::new();
            for r in &rows {
                let subjects: Option<Vec<u8>> = get(r, 1)?;
                let held = subjects
                    .as_deref()
                    .is_some_and(|s| s.chunks(16).any(|c| keep.iter().any(|k| k.as_slice() == c)));
                if !held {
                    prune.push(get(r, 0)?);
                }
            }
            c.execute(
                "UPDATE events SET entry = NULL, pii = NULL, subjects = NULL,
                 actor_email_bi = NULL, ip_bi = NULL WHERE org = $1 AND gseq = ANY($2)",
                &[&org, &prune],
            )
            .await
        })
    }

    fn insert_hold(&mut self, h: &LegalHold) -> StoreResult<()> {
        self.prepare_write()?;
        let h = h.clone();
        self.run(|c| async move {
            c.execute(
                "INSERT INTO legal_holds(id, org, subject, reason, created_ms, released_ms)
                 VALUES ($1,$2,$3,$4,$5,$6)",
                &[
                    &h.id,
                    &h.org,
                    &h.subject,
                    &h.reason,
                    &h.created_ms,
                    &h.released_ms,
                ],
            )
            .await
        })?;
        Ok(())
    }

    fn release_hold(&mut self, id: &str, at_ms: i64) -> StoreResult<bool> {
        self.prepare_write()?;
        let id = id.to_string();
        let n = self.run(|c| async move {
            c.execute(
                "UPDATE legal_holds SET released_ms = $1 WHERE id = $2 AND released_ms IS NULL",
                &[&at_ms, &id],
            )
            .await
        })?;
        Ok(n > 0)
    }

    fn put_erasure(&mut self, id: &str, body: &str) -> StoreResult<()> {
        self.prepare_write()?;
        let (id, body) = (id.to_string(), body.to_string());
        self.run(|c| async move {
            c.execute(
                "INSERT INTO erasures(id, body) VALUES ($1, $2)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                &[&id, &body],
            )
            .await
        })?;
        Ok(())
    }

    fn floor_ms(&mut self) -> StoreResult<i64> {
        Ok(self.floor_ms)
    }

    fn put_sink(&mut self, k: &SinkRecord) -> StoreResult<()> {
        self.prepare_write()?;
        let k = k.clone();
        let epoch = to_i64(k.epoch)?;
        let cursor = to_i64(k.cursor_gseq)?;
        let delivered = to_i64(k.delivered)?;
        self.run(|c| async move {
            c.execute(
                &format!(
                    "INSERT INTO sinks({SINK_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)
                     ON CONFLICT (id) DO UPDATE SET
                       name = excluded.name, kind = excluded.kind, config = excluded.config,
                       filter = excluded.filter, secrets = excluded.secrets,
                       paused = excluded.paused, updated_ms = excluded.updated_ms,
                       cursor_gseq = CASE WHEN excluded.epoch <> sinks.epoch
                                     THEN excluded.cursor_gseq ELSE sinks.cursor_gseq END,
                       epoch = excluded.epoch"
                ),
                &[
                    &k.id,
                    &k.org,
                    &k.name,
                    &k.kind,
                    &k.config,
                    &k.filter,
                    &k.secrets,
                    &k.paused,
                    &epoch,
                    &cursor,
                    &k.created_ms,
                    &k.updated_ms,
                    &k.last_success_ms,
                    &k.last_error,
                    &k.last_error_ms,
                    &delivered,
                ],
            )
            .await
        })?;
        Ok(())
    }

    fn delete_sink(&mut self, id: &str) -> StoreResult<bool> {
        self.prepare_write()?;
        let id = id.to_string();
        let n = self
            .run(|c| async move { c.execute("DELETE FROM sinks WHERE id = $1", &[&id]).await })?;
        Ok(n > 0)
    }
}

/// Appends `AND <col> = ANY($n)` for a non-empty filter.
fn push_any<T: ToSql + Sync + Send + Clone + 'static>(
    sql: &mut String,
    args: &mut Vec<Param>,
    col: &str,
    vals: &[T],
) where
    Vec<T>: ToSql,
{
    if vals.is_empty() {
        return;
    }
    args.push(Box::new(vals.to_vec()));
    sql.push_str(&format!(" AND {col} = ANY(${})", args.len()));
}

fn push_type_terms(sql: &mut String, args: &mut Vec<Param>, pats: &[TypePattern]) {
    let mut terms = Vec::new();
    for p in pats {
        match p {
            TypePattern::All => terms.push("true".to_string()),
            TypePattern::Exact(t) => {
                args.push(Box::new(t.clone()));
                terms.push(format!("type = ${}", args.len()));
            }
            TypePattern::Prefix(pre) => {
                // `pre` ends with '.', whose successor is '/': a range scan
                // (the column is collated "C", so this is byte order).
                let mut hi = pre.clone();
                hi.pop();
                hi.push('/');
                args.push(Box::new(pre.clone()));
                args.push(Box::new(hi));
                terms.push(format!(
                    "(type >= ${} AND type < ${})",
                    args.len() - 1,
                    args.len()
                ));
            }
        }
    }
    sql.push('(');
    sql.push_str(&terms.join(" OR "));
    sql.push(')');
}

/// Builds the SQL of a feed query: every filter is a parameter.
fn query_sql(q: &EventQuery) -> StoreResult<(String, Vec<Param>)> {
    let mut sql = format!("SELECT {EVENT_COLS} FROM events WHERE true");
    let mut args: Vec<Param> = Vec::new();
    push_any(&mut sql, &mut args, "tree", &q.trees);
    push_any(&mut sql, &mut args, "org", &q.orgs);
    if !q.types.is_empty() {
        sql.push_str(" AND ");
        push_type_terms(&mut sql, &mut args, &q.types);
    }
    if !q.exclude_types.is_empty() {
        sql.push_str(" AND NOT ");
        push_type_terms(&mut sql, &mut args, &q.exclude_types);
    }
    push_any(&mut sql, &mut args, "actor_id", &q.actor_ids);
    push_any(&mut sql, &mut args, "actor_email_bi", &q.actor_email_bis);
    push_any(&mut sql, &mut args, "api_key_id", &q.api_key_ids);
    push_any(&mut sql, &mut args, "target_id", &q.target_ids);
    push_any(&mut sql, &mut args, "category", &q.categories);
    push_any(&mut sql, &mut args, "product", &q.products);
    push_any(&mut sql, &mut args, "ip_bi", &q.ip_bis);
    if let Some(o) = &q.outcome {
        args.push(Box::new(o.clone()));
        sql.push_str(&format!(" AND outcome = ${}", args.len()));
    }
    if let Some(t) = q.created_from {
        args.push(Box::new(t));
        sql.push_str(&format!(" AND created_ms >= ${}", args.len()));
    }
    if let Some(t) = q.created_until {
        args.push(Box::new(t));
        sql.push_str(&format!(" AND created_ms < ${}", args.len()));
    }
    let desc = q.scan != Some(Scan::Asc);
    if let Some(g) = q.cursor_gseq {
        args.push(Box::new(to_i64(g)?));
        sql.push_str(&format!(
            " AND gseq {} ${}",
            if desc { "<" } else { ">" },
            args.len()
        ));
    }
    sql.push_str(if desc {
        " ORDER BY gseq DESC"
    } else {
        " ORDER BY gseq ASC"
    });
    args.push(Box::new(i64::try_from(q.limit).unwrap_or(i64::MAX)));
    sql.push_str(&format!(" LIMIT ${}", args.len()));
    Ok((sql, args))
}

/// A stored event from its permanent leaf row, when its body's partition
/// was dropped: the same as an event pruned by retention.
const LEAF_AS_EVENT: &str = "SELECT gseq, org, seq, received_ms, NULL::bytea, leaf, NULL::bytea,
  type, created_ms FROM leaves";

impl Storage for PgStore {
    fn write(&self, f: &mut dyn FnMut(&mut dyn Txn) -> StoreResult<()>) -> StoreResult<()> {
        self.ensure_partitions(crate::time::now_ms())?;
        let conn = self.writer()?;
        let begin = self.bridge.block({
            let c = conn.clone();
            async move {
                c.simple(&format!(
                    "BEGIN; SELECT pg_advisory_xact_lock({LOCK_WRITE});
                     SELECT gseq, last_ms FROM log_state WHERE id = 1"
                ))
                .await
            }
        });
        let rows = match begin {
            Ok(r) => r,
            Err(e) => {
                self.abandon(&conn);
                return Err(e);
            }
        };
        let state = rows
            .iter()
            .find(|r| r.len() == 2)
            .and_then(|r| {
                let g = r.first()?.as_deref()?.parse::<u64>().ok()?;
                let m = r.get(1)?.as_deref()?.parse::<i64>().ok()?;
                Some((g, m))
            })
            .ok_or_else(|| StoreError::Corrupt("log_state row is missing".into()));
        let (gseq, floor_ms) = match state {
            Ok(s) => s,
            Err(e) => {
                self.abandon(&conn);
                return Err(e);
            }
        };
        let mut t = PgTxn {
            bridge: &self.bridge,
            conn: conn.clone(),
            gseq,
            floor_ms,
            max_ms: floor_ms,
            written_gseq: None,
            buf: EventBuf::default(),
            heads: Vec::new(),
            sp_pending: false,
            sp_open: false,
            orgs_changed: false,
            subjects_changed: false,
        };
        let res = f(&mut t).and_then(|()| t.commit());
        if res.is_err() {
            self.abandon(&conn);
        }
        res
    }

    fn orgs(&self) -> StoreResult<Vec<Org>> {
        self.read(|c| async move {
            let rows = c
                .query(&format!("SELECT {ORG_COLS} FROM orgs ORDER BY key"), &[])
                .await?;
            rows.iter().map(org_from_row).collect()
        })
    }

    fn insert_key(&self, key: &KeyRecord) -> StoreResult<()> {
        let k = key.clone();
        self.read(|c| async move {
            c.execute(
                &format!("INSERT INTO keys({KEY_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"),
                &[
                    &k.id,
                    &k.kind.as_str(),
                    &&k.secret_hash[..],
                    &k.org,
                    &k.product,
                    &k.scopes.join(","),
                    &k.name,
                    &k.created_ms,
                    &k.expires_ms,
                    &k.revoked_ms,
                ],
            )
            .await
        })?;
        Ok(())
    }

    fn key(&self, id: &str) -> StoreResult<Option<KeyRecord>> {
        let id = id.to_string();
        self.read(|c| async move {
            c.query_opt(
                &format!("SELECT {KEY_COLS} FROM keys WHERE id = $1"),
                &[&id],
            )
            .await?
            .as_ref()
            .map(key_from_row)
            .transpose()
        })
    }

    fn keys(&self, org: Option<OrgKey>) -> StoreResult<Vec<KeyRecord>> {
        self.read(|c| async move {
            let rows = c
                .query(
                    &format!(
                        "SELECT {KEY_COLS} FROM keys WHERE ($1::int8 IS NULL OR org = $1)
                         ORDER BY created_ms, id"
                    ),
                    &[&org],
                )
                .await?;
            rows.iter().map(key_from_row).collect()
        })
    }

    fn revoke_key(&self, id: &str, at_ms: i64) -> StoreResult<()> {
        let id = id.to_string();
        let n = self.read(|c| {
            let id = id.clone();
            async move {
                // The notice commits with the update: every node's key
                // cache drops the record before it can serve it again.
                c.execute(
                    "WITH r AS (UPDATE keys SET revoked_ms = COALESCE(revoked_ms, $1)
                                WHERE id = $2 RETURNING id)
                     SELECT pg_notify('sealtrail_keys', r.id) FROM r",
                    &[&at_ms, &id],
                )
                .await
            }
        })?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("key {id} not found")));
        }
        Ok(())
    }

    fn query(&self, q: &EventQuery) -> StoreResult<Vec<StoredEvent>> {
        let (sql, args) = query_sql(q)?;
        self.read(|c| async move {
            let refs: Vec<&(dyn ToSql + Sync)> = args
                .iter()
                .map(|a| a.as_ref() as &(dyn ToSql + Sync))
                .collect();
            let rows = c.query(&sql, &refs).await?;
            rows.iter().map(event_from_row).collect()
        })
    }

    fn event_by_gseq(&self, gseq: u64) -> StoreResult<Option<StoredEvent>> {
        let g = to_i64(gseq)?;
        self.read(|c| async move {
            let row = c
                .query_opt(
                    &format!("SELECT {EVENT_COLS} FROM events WHERE gseq = $1"),
                    &[&g],
                )
                .await?;
            let row = match row {
                Some(r) => Some(r),
                None => {
                    c.query_opt(&format!("{LEAF_AS_EVENT} WHERE gseq = $1"), &[&g])
                        .await?
                }
            };
            row.as_ref().map(event_from_row).transpose()
        })
    }

    fn event_by_seq(&self, org: OrgKey, seq: u64) -> StoreResult<Option<StoredEvent>> {
        let s = to_i64(seq)?;
        self.read(|c| async move {
            let row = c
                .query_opt(
                    &format!("SELECT {EVENT_COLS} FROM events WHERE org = $1 AND seq = $2"),
                    &[&org, &s],
                )
                .await?;
            let row = match row {
                Some(r) => Some(r),
                None => {
                    c.query_opt(
                        &format!("{LEAF_AS_EVENT} WHERE org = $1 AND seq = $2"),
                        &[&org, &s],
                    )
                    .await?
                }
            };
            row.as_ref().map(event_from_row).transpose()
        })
    }

    fn max_gseq(&self) -> StoreResult<u64> {
        self.read(|c| async move {
            let r = c
                .query_opt("SELECT coalesce(max(gseq), 0) FROM leaves", &[])
                .await?;
            match r {
                Some(r) => to_u64(get(&r, 0)?),
                None => Ok(0),
            }
        })
    }

    fn leaf_hashes(&self, org: OrgKey, start: u64, end: u64) -> StoreResult<Vec<Hash>> {
        let (s, e) = (to_i64(start)?, to_i64(end)?);
        self.read(|c| async move {
            let rows = c
                .query(
                    "SELECT seq, leaf FROM leaves WHERE org = $1 AND seq >= $2 AND seq < $3
                     ORDER BY seq",
                    &[&org, &s, &e],
                )
                .await?;
            contiguous_hashes(
                org,
                "leaf",
                start,
                end,
                rows.iter()
                    .map(|r| Ok((to_u64(get::<i64>(r, 0)?)?, get::<Vec<u8>>(r, 1)?))),
            )
        })
    }

    fn node(&self, org: OrgKey, level: u32, index: u64) -> StoreResult<Option<Hash>> {
        let (l, i) = (i64::from(level), to_i64(index)?);
        self.read(|c| async move {
            c.query_opt(
                "SELECT hash FROM nodes WHERE org = $1 AND level = $2 AND idx = $3",
                &[&org, &l, &i],
            )
            .await?
            .map(|r| hash_of(get(&r, 0)?))
            .transpose()
        })
    }

    fn nodes(&self, org: OrgKey, level: u32, start: u64, end: u64) -> StoreResult<Vec<Hash>> {
        let (l, s, e) = (i64::from(level), to_i64(start)?, to_i64(end)?);
        self.read(|c| async move {
            let rows = c
                .query(
                    "SELECT idx, hash FROM nodes WHERE org = $1 AND level = $2 AND idx >= $3
                     AND idx < $4 ORDER BY idx",
                    &[&org, &l, &s, &e],
                )
                .await?;
            contiguous_hashes(
                org,
                &format!("level-{level} node"),
                start,
                end,
                rows.iter()
                    .map(|r| Ok((to_u64(get::<i64>(r, 0)?)?, get::<Vec<u8>>(r, 1)?))),
            )
        })
    }

    fn head(&self, org: OrgKey) -> StoreResult<LogHead> {
        let row = self.read(|c| async move {
            c.query_opt("SELECT frontier FROM heads WHERE org = $1", &[&org])
                .await
        })?;
        head_from(org, row)
    }

    fn insert_checkpoint(&self, cp: &CheckpointRecord) -> StoreResult<()> {
        let cp = cp.clone();
        self.read(|c| async move {
            c.execute(
                "INSERT INTO checkpoints(org, size, root, note, signed_ms) VALUES ($1,$2,$3,$4,$5)
                 ON CONFLICT (org, size) DO NOTHING",
                &[
                    &cp.org,
                    &to_i64(cp.size)?,
                    &&cp.root[..],
                    &cp.note,
                    &cp.signed_ms,
                ],
            )
            .await
        })?;
        Ok(())
    }

    fn latest_checkpoint(&self, org: OrgKey) -> StoreResult<Option<CheckpointRecord>> {
        self.checkpoint_query(
            "SELECT size, root, note, signed_ms FROM checkpoints WHERE org = $1 AND $2::int8 >= 0
             ORDER BY size DESC LIMIT 1",
            org,
            0,
        )
    }

    fn checkpoint_covering(&self, org: OrgKey, size: u64) -> StoreResult<Option<CheckpointRecord>> {
        self.checkpoint_query(
            "SELECT size, root, note, signed_ms FROM checkpoints WHERE org = $1 AND size >= $2
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
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        let subs = subjects.to_vec();
        self.read(|c| async move {
            let rows = c
                .query(
                    "SELECT subject, wrapped, created_ms, erased_ms FROM subject_keys
                     WHERE org = $1 AND subject = ANY($2)",
                    &[&org, &subs],
                )
                .await?;
            let mut found = Vec::with_capacity(rows.len());
            for r in &rows {
                found.push(SubjectKeyRecord {
                    org,
                    subject: get(r, 0)?,
                    wrapped: get(r, 1)?,
                    created_ms: get(r, 2)?,
                    erased_ms: get(r, 3)?,
                });
            }
            // In the order asked, like the embedded engine.
            let mut out = Vec::with_capacity(found.len());
            for s in &subs {
                if let Some(i) = found.iter().position(|k| &k.subject == s) {
                    out.push(found.swap_remove(i));
                }
            }
            Ok(out)
        })
    }

    fn sinks(&self) -> StoreResult<Vec<SinkRecord>> {
        self.read(|c| async move {
            let rows = c
                .query(
                    &format!("SELECT {SINK_COLS} FROM sinks ORDER BY created_ms, id"),
                    &[],
                )
                .await?;
            rows.iter().map(sink_from_row).collect()
        })
    }

    fn sink(&self, id: &str) -> StoreResult<Option<SinkRecord>> {
        let id = id.to_string();
        self.read(|c| async move {
            let rows = c
                .query(
                    &format!("SELECT {SINK_COLS} FROM sinks WHERE id = $1"),
                    &[&id],
                )
                .await?;
            rows.first().map(sink_from_row).transpose()
        })
    }

    fn sink_progress(&self, id: &str, epoch: u64, p: &SinkProgress) -> StoreResult<bool> {
        let id = id.to_string();
        let epoch = to_i64(epoch)?;
        let cursor = p.cursor_gseq.map(to_i64).transpose()?;
        let delivered = to_i64(p.delivered)?;
        let (at, error) = (p.at_ms, p.error.clone());
        // The cursor only moves forward within an epoch: a late report from
        // a send that was overtaken can never move it back.
        let n = self.read(|c| async move {
            c.execute(
                "UPDATE sinks SET
                   cursor_gseq = GREATEST(cursor_gseq, COALESCE($1, cursor_gseq)),
                   delivered = delivered + $2,
                   last_success_ms = CASE WHEN $2 > 0 OR $4::text IS NULL THEN $3 ELSE last_success_ms END,
                   last_error = CASE WHEN $4::text IS NULL THEN last_error ELSE $4 END,
                   last_error_ms = CASE WHEN $4::text IS NULL THEN last_error_ms ELSE $3 END
                 WHERE id = $5 AND epoch = $6",
                &[&cursor, &delivered, &at, &error, &id, &epoch],
            )
            .await
        })?;
        Ok(n > 0)
    }

    fn holds(&self) -> StoreResult<Vec<LegalHold>> {
        self.read(|c| async move {
            let rows = c
                .query(
                    "SELECT id, org, subject, reason, created_ms, released_ms FROM legal_holds
                     ORDER BY created_ms, id",
                    &[],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(LegalHold {
                        id: get(r, 0)?,
                        org: get(r, 1)?,
                        subject: get(r, 2)?,
                        reason: get(r, 3)?,
                        created_ms: get(r, 4)?,
                        released_ms: get(r, 5)?,
                    })
                })
                .collect()
        })
    }

    fn erasure(&self, id: &str) -> StoreResult<Option<String>> {
        let id = id.to_string();
        self.read(|c| async move {
            c.query_opt("SELECT body FROM erasures WHERE id = $1", &[&id])
                .await?
                .map(|r| get(&r, 0))
                .transpose()
        })
    }

    fn scrub(&self) -> StoreResult<()> {
        // The destroyed subject keys must not survive as dead row versions
        // in the table's files: VACUUM FULL rewrites `subject_keys` (small:
        // one row per subject) into a new file and drops the old one. Plain
        // VACUUM only marks the dead versions of `events` reusable; their
        // ciphertext is useless without the key. Neither can run in a
        // transaction. Old WAL segments are recycled by PostgreSQL itself.
        self.read(|c| async move {
            c.simple("VACUUM FULL subject_keys").await?;
            c.simple("VACUUM events").await.map(|_| ())
        })
    }

    fn scan_log(
        &self,
        org: OrgKey,
        f: &mut dyn FnMut(LogRow) -> StoreResult<()>,
    ) -> StoreResult<()> {
        // The log is its permanent skeleton (`leaves`) with the bodies
        // (`events`) beside it: a leaf whose body is gone (pruned, or its
        // partition dropped) reads as a pruned row, and a body without a
        // leaf still shows up, so either table's tampering is seen.
        let rows = self.read(|c| async move {
            c.query(
                "SELECT coalesce(l.gseq, e.gseq), coalesce(l.seq, e.seq),
                        coalesce(l.received_ms, e.received_ms), e.entry,
                        coalesce(l.leaf, e.leaf), coalesce(e.type, l.type), e.category,
                        e.product, coalesce(e.created_ms, l.created_ms), e.actor_id,
                        e.target_id, e.outcome, e.source_event_id
                 FROM (SELECT * FROM leaves WHERE org = $1) l
                 FULL JOIN (SELECT * FROM events WHERE org = $1) e
                   ON e.seq = l.seq AND e.gseq = l.gseq
                 ORDER BY 2, 1",
                &[&org],
            )
            .await
        })?;
        for r in &rows {
            let mut columns = Vec::new();
            for (i, name) in [
                (5, "type"),
                (6, "category"),
                (7, "product"),
                (9, "actor_id"),
                (10, "target_id"),
                (11, "outcome"),
                (12, "source_event_id"),
            ] {
                if let Some(v) = get::<Option<String>>(r, i)? {
                    columns.push((name, v));
                }
            }
            if let Some(ms) = get::<Option<i64>>(r, 8)? {
                columns.push(("created_ms", ms.to_string()));
            }
            f(LogRow {
                gseq: to_u64(get(r, 0)?)?,
                org,
                seq: to_u64(get(r, 1)?)?,
                received_ms: get(r, 2)?,
                entry: get(r, 3)?,
                leaf: get::<Option<Vec<u8>>>(r, 4)?.unwrap_or_default(),
                columns,
            })?;
        }
        Ok(())
    }

    fn log_nodes(&self, org: OrgKey) -> StoreResult<Vec<(u32, u64, Vec<u8>)>> {
        self.read(|c| async move {
            let rows = c
                .query(
                    "SELECT level, idx, hash FROM nodes WHERE org = $1 ORDER BY level, idx",
                    &[&org],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    let level: i64 = get(r, 0)?;
                    let level = u32::try_from(level)
                        .map_err(|_| StoreError::Corrupt(format!("node level {level}")))?;
                    Ok((level, to_u64(get(r, 1)?)?, get(r, 2)?))
                })
                .collect()
        })
    }

    fn checkpoints(&self, org: OrgKey) -> StoreResult<Vec<CheckpointRecord>> {
        self.read(|c| async move {
            let rows = c
                .query(
                    "SELECT size, root, note, signed_ms FROM checkpoints WHERE org = $1
                     ORDER BY size",
                    &[&org],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    // A root of the wrong length cannot match any tree;
                    // keep the record so the caller reports it.
                    let root: Vec<u8> = get(r, 1)?;
                    Ok(CheckpointRecord {
                        org,
                        size: to_u64(get(r, 0)?)?,
                        root: root.try_into().unwrap_or([0; 32]),
                        note: get(r, 2)?,
                        signed_ms: get(r, 3)?,
                    })
                })
                .collect()
        })
    }

    fn log_owners(&self) -> StoreResult<Vec<OrgKey>> {
        self.read(|c| async move {
            let rows = c
                .query(
                    "SELECT org FROM leaves GROUP BY org UNION SELECT org FROM events GROUP BY org
                     UNION SELECT org FROM heads UNION SELECT org FROM checkpoints GROUP BY org
                     ORDER BY 1",
                    &[],
                )
                .await?;
            rows.iter().map(|r| get(r, 0)).collect()
        })
    }

    fn disk_bytes(&self) -> StoreResult<u64> {
        self.read(|c| async move {
            let r = c
                .query_opt("SELECT pg_database_size(current_database())", &[])
                .await?;
            match r {
                Some(r) => to_u64(get(&r, 0)?),
                None => Ok(0),
            }
        })
    }

    fn ping(&self) -> StoreResult<()> {
        self.read(|c| async move { c.simple("SELECT 1").await.map(|_| ()) })
    }

    fn shared(&self) -> bool {
        true
    }

    fn subscribe(&self, listener: ChangeListener) {
        if let Ok(mut l) = self.listeners.lock() {
            l.push(listener);
        }
        self.start_listener();
    }

    fn try_lease(&self, name: &str) -> StoreResult<bool> {
        // A session-level advisory lock held by a connection kept for the
        // purpose: it is released by PostgreSQL when the session ends, so a
        // node that dies loses the lease and another node's next attempt
        // takes it.
        let key = LOCK_LEASE_BASE
            + i64::from(
                name.bytes()
                    .fold(0u16, |h, b| h.wrapping_mul(31).wrapping_add(u16::from(b))),
            );
        let mut leases = self
            .leases
            .lock()
            .map_err(|_| StoreError::Unavailable("lease state poisoned".into()))?;
        let (conn, held) = match leases.get(name) {
            Some((c, held)) if !c.client.is_closed() => (c.clone(), *held),
            _ => {
                let u = self.url.clone();
                let c = self.bridge.block(async move { Conn::connect(&u).await })?;
                (c, false)
            }
        };
        let res = if held {
            // Still ours as long as the session is alive.
            let c = conn.clone();
            self.bridge
                .block(async move { c.simple("SELECT 1").await.map(|_| true) })
        } else {
            let c = conn.clone();
            self.bridge.block(async move {
                let r = c
                    .query_opt("SELECT pg_try_advisory_lock($1)", &[&key])
                    .await?;
                match r {
                    Some(r) => get::<bool>(&r, 0),
                    None => Ok(false),
                }
            })
        };
        match res {
            Ok(now_held) => {
                leases.insert(name.to_string(), (conn, now_held));
                Ok(now_held)
            }
            Err(e) => {
                leases.remove(name);
                Err(e)
            }
        }
    }

    fn drop_partitions_before(&self, cutoff_ms: i64) -> StoreResult<u64> {
        let names = self.read(|c| async move {
            let rows = c
                .query(
                    "SELECT c.relname::text FROM pg_inherits i
                     JOIN pg_class c ON c.oid = i.inhrelid
                     JOIN pg_class p ON p.oid = i.inhparent
                     WHERE p.relname = 'events' AND c.relnamespace = p.relnamespace",
                    &[],
                )
                .await?;
            rows.iter()
                .map(|r| get::<String>(r, 0))
                .collect::<StoreResult<Vec<_>>>()
        })?;
        let mut doomed: Vec<String> = names
            .into_iter()
            .filter(|n| partition_range(n).is_some_and(|(_, end)| end <= cutoff_ms))
            .collect();
        doomed.sort();
        let mut dropped = 0;
        for name in doomed {
            // Names come from the catalog and match events_yYYYYmMM.
            let sql = format!(
                "BEGIN; SELECT pg_advisory_xact_lock({LOCK_WRITE}); DROP TABLE IF EXISTS {name}; COMMIT"
            );
            let r = self.read(|c| async move {
                if let Err(e) = c.simple(&sql).await {
                    let _ = c.simple("ROLLBACK").await;
                    return Err(e);
                }
                Ok(())
            });
            match r {
                Ok(()) => {
                    tracing::info!(partition = %name, "dropped an event partition past retention");
                    dropped += 1;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(dropped)
    }
}

impl PgStore {
    /// After a failed transaction: roll back, or drop the connection if it
    /// cannot even do that, so the next write starts clean.
    fn abandon(&self, conn: &Arc<Conn>) {
        let c = conn.clone();
        if self
            .bridge
            .block(async move { c.simple("ROLLBACK").await.map(|_| ()) })
            .is_err()
            && let Ok(mut w) = self.writer.lock()
        {
            *w = None;
        }
    }

    fn checkpoint_query(
        &self,
        sql: &'static str,
        org: OrgKey,
        size: u64,
    ) -> StoreResult<Option<CheckpointRecord>> {
        let s = to_i64(size)?;
        self.read(|c| async move {
            c.query_opt(sql, &[&org, &s])
                .await?
                .map(|r| {
                    Ok(CheckpointRecord {
                        org,
                        size: to_u64(get(&r, 0)?)?,
                        root: hash_of(get(&r, 1)?)?,
                        note: get(&r, 2)?,
                        signed_ms: get(&r, 3)?,
                    })
                })
                .transpose()
        })
    }

    /// Runs SQL without parameters (maintenance and tests).
    pub fn execute_raw(&self, sql: &str) -> StoreResult<()> {
        let sql = sql.to_string();
        self.read(|c| async move { c.simple(&sql).await.map(|_| ()) })
    }
}

/// Creates a new empty database next to the one `base_url` names and
/// returns its URL: each test (or benchmark run) gets its own, so they can
/// run in parallel on one server. `base_url` must be a `postgres://` URL.
pub fn create_database(base_url: &str, prefix: &str) -> StoreResult<String> {
    let (head, query) = match base_url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (base_url, None),
    };
    let slash = head
        .rfind('/')
        .filter(|i| *i > "postgres://".len().min(head.len()))
        .ok_or_else(|| StoreError::Engine(format!("{base_url} is not a postgres:// URL")))?;
    let suffix: [u8; 6] = crate::ids::random_bytes();
    let name = format!(
        "{}_{}",
        prefix
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<String>()
            .to_lowercase(),
        hex::encode(suffix)
    );
    let bridge = Bridge::new()?;
    let base = base_url.to_string();
    let create = format!("CREATE DATABASE {name}");
    bridge.block(async move {
        let c = Conn::connect(&base).await?;
        c.simple(&create).await.map(|_| ())
    })?;
    let mut url = format!("{}/{name}", &head[..slash]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    Ok(url)
}

/// Limits to report beside the engine's own figures: what PostgreSQL does
/// with the same rows and none of Sealtrail's work. Each returns rows per
/// second on a fresh table `bench_*` in the database `url` names.
pub mod baseline {
    use futures_util::SinkExt;

    use super::*;

    /// The naive engine: one `INSERT` (its own transaction, durable) per
    /// event, `(bigint, jsonb)`.
    pub fn naive_inserts(url: &str, bodies: &[String]) -> StoreResult<f64> {
        let bridge = Bridge::new()?;
        let (u, bodies) = (url.to_string(), bodies.to_vec());
        bridge.block(async move {
            let c = Conn::connect(&u).await?;
            c.simple(
                "DROP TABLE IF EXISTS bench_naive; CREATE TABLE bench_naive(id bigint PRIMARY KEY, body jsonb NOT NULL)",
            )
            .await?;
            let started = std::time::Instant::now();
            for (i, b) in bodies.iter().enumerate() {
                c.execute(
                    "INSERT INTO bench_naive(id, body) VALUES ($1, $2::text::jsonb)",
                    &[&(i as i64), b],
                )
                .await?;
            }
            Ok(bodies.len() as f64 / started.elapsed().as_secs_f64())
        })
    }

    /// The bulk ceiling: `COPY` of all events into `(bigint, jsonb)` in
    /// chunks of `chunk` rows, one transaction per chunk.
    pub fn copy_rows(url: &str, bodies: &[String], chunk: usize) -> StoreResult<f64> {
        let bridge = Bridge::new()?;
        let (u, bodies) = (url.to_string(), bodies.to_vec());
        let chunk = chunk.max(1);
        bridge.block(async move {
            let c = Conn::connect(&u).await?;
            c.simple(
                "DROP TABLE IF EXISTS bench_copy; CREATE TABLE bench_copy(id bigint PRIMARY KEY, body jsonb NOT NULL)",
            )
            .await?;
            let started = std::time::Instant::now();
            for (n, part) in bodies.chunks(chunk).enumerate() {
                let mut text = Vec::new();
                for (i, b) in part.iter().enumerate() {
                    // COPY text format: escape the escape character and the
                    // field and row separators.
                    let esc = b
                        .replace('\\', "\\\\")
                        .replace('\t', "\\t")
                        .replace('\n', "\\n");
                    text.extend_from_slice(format!("{}\t{esc}\n", n * chunk + i).as_bytes());
                }
                let sink = c
                    .client
                    .copy_in::<_, std::io::Cursor<Vec<u8>>>("COPY bench_copy(id, body) FROM STDIN")
                    .await
                    .map_err(eng)?;
                futures_util::pin_mut!(sink);
                sink.send(std::io::Cursor::new(text)).await.map_err(eng)?;
                sink.as_mut().finish().await.map_err(eng)?;
            }
            Ok(bodies.len() as f64 / started.elapsed().as_secs_f64())
        })
    }
}

/// The variable naming the PostgreSQL server tests run against.
pub const TEST_URL_VAR: &str = "SEALTRAIL_TEST_PG_URL";

/// For tests: a fresh database on the server named by
/// `SEALTRAIL_TEST_PG_URL`. `Ok(None)` when the variable is unset on a
/// developer machine (the caller skips, saying so); an error when it is
/// unset under CI (`CI=true`), so a missing server can never pass silently.
pub fn test_database(prefix: &str) -> Result<Option<String>, String> {
    match std::env::var(TEST_URL_VAR) {
        Ok(url) if !url.is_empty() => create_database(&url, prefix)
            .map(Some)
            .map_err(|e| format!("cannot create a test database on {url}: {e}")),
        _ if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") => Err(format!(
            "{TEST_URL_VAR} is not set under CI: run the suite through scripts/test.sh, which starts PostgreSQL"
        )),
        _ => {
            // Written to the process's stderr directly, not through the
            // test harness's captured output, so a skip is always visible.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "note: {TEST_URL_VAR} is not set; skipping PostgreSQL test case {prefix:?} \
                 (scripts/pg.sh start prints a URL)"
            );
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_roll_over_years() {
        let ms = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        let m = month_starts(ms, -1, 1).unwrap_or_default();
        let names: Vec<&str> = m.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(
            names,
            ["events_y2025m12", "events_y2026m01", "events_y2026m02"]
        );
        assert_eq!(m[1].0, ms);
        assert_eq!(partition_range("events_y2026m01"), Some((ms, m[2].0)));
        assert_eq!(partition_range("events_default"), None);
        // A leap February.
        let feb = month_starts(1_709_251_200_000 - 1, 0, 1).unwrap_or_default();
        assert_eq!(feb[0].1, "events_y2024m02");
        assert_eq!(feb[1].0 - feb[0].0, 29 * DAY_MS);
    }

    #[test]
    fn feed_queries_are_parameterised() {
        let q = EventQuery {
            trees: vec![1],
            orgs: vec![1, 2],
            types: vec![TypePattern::Prefix("file.".into())],
            actor_ids: vec!["u'; DROP TABLE events; --".into()],
            cursor_gseq: Some(9),
            limit: 10,
            ..EventQuery::default()
        };
        let (sql, args) = query_sql(&q).unwrap_or_default();
        assert!(!sql.contains("DROP"));
        assert_eq!(args.len(), 7);
        assert!(sql.ends_with("ORDER BY gseq DESC LIMIT $7"), "{sql}");
    }
}
