//! The limits every Sealtrail figure is compared with, measured in the
//! same run on the same disk: what the machine can do at best with the
//! same work and none of Sealtrail's (no HTTP, no validation, no hashing).
//!
//! - SHA-256 throughput, leaf and node hashes per second, Ed25519 signs per
//!   second, fsync latency of a small append;
//! - raw SQLite inserts of the rows the sequencer wrote in this run, into
//!   the same schema and indexes with the same settings (WAL,
//!   `synchronous=FULL`), in one transaction and committed every 10,000;
//! - with PostgreSQL: `COPY` into `(bigint, jsonb)` and the naive baseline
//!   a user would otherwise write, one autocommitted `INSERT` per event
//!   from 1 and 8 clients.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::SinkExt as _;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::sys::{self, CpuSnap, p50_p99};
use super::{Sizes, mix};

/// Every limit of a run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LimitFigures {
    /// SHA-256 over 1 MiB buffers, GB/s (one core).
    pub sha256_gb_per_s: Option<f64>,
    /// RFC 6962 leaf hashes of 600-byte entries per second (one core).
    pub leaf_hashes_per_s: Option<f64>,
    /// RFC 6962 node hashes per second (one core).
    pub node_hashes_per_s: Option<f64>,
    /// Ed25519 checkpoint signatures per second (one core).
    pub ed25519_sign_per_s: Option<f64>,
    /// fsync (fdatasync) of a 128-byte append, p50 (ms).
    pub fsync_p50_ms: Option<f64>,
    /// Same, p99 (ms).
    pub fsync_p99_ms: Option<f64>,
    /// Raw SQLite, one transaction.
    pub sqlite_one_txn: Option<RawSqlite>,
    /// Raw SQLite, committed every 10,000 rows.
    pub sqlite_per_10k: Option<RawSqlite>,
    /// PostgreSQL limits.
    pub pg: Option<PgFigure>,
    /// Why PostgreSQL was not measured.
    pub pg_note: Option<String>,
}

/// One raw SQLite insert run.
#[derive(Clone, Debug, Serialize)]
pub struct RawSqlite {
    /// Rows inserted.
    pub rows: u64,
    /// Commits.
    pub commits: u64,
    /// Rows per second.
    pub rows_per_s: f64,
    /// CPU time per row (µs).
    pub cpu_us_per_row: f64,
    /// Database + WAL after a checkpoint, per row.
    pub bytes_per_row: f64,
}

/// The PostgreSQL limits.
#[derive(Clone, Debug, Serialize)]
pub struct PgFigure {
    /// `SELECT version()`.
    pub version: String,
    /// `fsync` and `synchronous_commit` of the server.
    pub durability: String,
    /// Rows copied.
    pub copy_rows: u64,
    /// COPY rows per second.
    pub copy_rows_per_s: f64,
    /// One INSERT per event, autocommit, 1 client: events per second.
    pub naive_1_per_s: f64,
    /// Same with 8 clients.
    pub naive_8_per_s: f64,
}

fn rate(secs: f64, mut f: impl FnMut() -> u64) -> f64 {
    let t = Instant::now();
    let mut n = 0u64;
    while t.elapsed().as_secs_f64() < secs {
        n += f();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

/// Hashing, signing and fsync limits.
pub fn machine_limits(dir: &Path, secs: f64) -> anyhow::Result<LimitFigures> {
    let buf = vec![0x5au8; 1 << 20];
    let sha = rate(secs, || {
        std::hint::black_box(Sha256::digest(std::hint::black_box(&buf)));
        1 << 20
    }) / 1e9;
    let mut entry = vec![b'x'; 600];
    let mut k = 0u8;
    let leaf = rate(secs, || {
        for _ in 0..1000 {
            k = k.wrapping_add(1);
            entry[0] = k;
            std::hint::black_box(sealtrail_tlog::leaf_hash(&entry));
        }
        1000
    });
    let (a, mut b) = ([1u8; 32], [2u8; 32]);
    let node = rate(secs, || {
        for _ in 0..1000 {
            b = sealtrail_tlog::node_hash(&a, &b);
        }
        1000
    });
    let signer = sealtrail_tlog::NoteSigner::from_seed("sealtrail.bench/limit", &[9u8; 32])?;
    let body =
        b"sealtrail.bench/org_bench_acme\n1000000\nq6lH0YcmXzQkD6nQ8e0s6l1bVQ0xw6nC0pJ0g1mEw2o=\n";
    let sign = rate(secs, || {
        for _ in 0..10 {
            std::hint::black_box(signer.sign(body));
        }
        10
    });
    let path = dir.join("fsync-probe");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    let samples = ((secs * 1000.0) as usize).clamp(100, 2000);
    let mut lat = Vec::with_capacity(samples);
    for _ in 0..samples {
        f.write_all(&[b'.'; 128])?;
        let t = Instant::now();
        f.sync_data()?;
        lat.push(t.elapsed().as_secs_f64() * 1e3);
    }
    drop(f);
    let _ = std::fs::remove_file(&path);
    let (f50, f99) = p50_p99(&mut lat);
    super::progress(format!(
        "  SHA-256 {sha:.2} GB/s, leaf hashes {leaf:.0}/s, node hashes {node:.0}/s, Ed25519 {sign:.0} signs/s, fsync p50 {f50:.3} ms p99 {f99:.3} ms"
    ));
    Ok(LimitFigures {
        sha256_gb_per_s: Some(sha),
        leaf_hashes_per_s: Some(leaf),
        node_hashes_per_s: Some(node),
        ed25519_sign_per_s: Some(sign),
        fsync_p50_ms: Some(f50),
        fsync_p99_ms: Some(f99),
        ..LimitFigures::default()
    })
}

const EVENT_COLS: &str = "gseq, tree, org, seq, type, category, product, created_ms, received_ms, \
     actor_id, actor_email_bi, ip_bi, api_key_id, target_id, outcome, source_event_id, entry, \
     leaf, pii, subjects";

/// Inserts the first `rows` event rows of `src` into fresh databases with
/// the same schema: once in one transaction, once committed every 10,000.
pub fn raw_sqlite(src: &Path, dir: &Path, rows: u64) -> anyhow::Result<(RawSqlite, RawSqlite)> {
    let conn =
        rusqlite::Connection::open_with_flags(src, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut st = conn.prepare(&format!(
        "SELECT {EVENT_COLS} FROM events ORDER BY gseq LIMIT ?"
    ))?;
    let data: Vec<Vec<rusqlite::types::Value>> = st
        .query_map([rows as i64], |r| {
            (0..20)
                .map(|i| r.get::<_, rusqlite::types::Value>(i))
                .collect()
        })?
        .collect::<Result<_, _>>()?;
    drop(st);
    drop(conn);
    let one = insert_rows(&dir.join("raw-one.db"), &data, u64::MAX)?;
    let per10k = insert_rows(&dir.join("raw-10k.db"), &data, 10_000)?;
    super::progress(format!(
        "  raw SQLite ({} rows): one transaction {:.0} rows/s, every 10k {:.0} rows/s, {:.0} bytes/row",
        data.len(),
        one.rows_per_s,
        per10k.rows_per_s,
        per10k.bytes_per_row
    ));
    Ok((one, per10k))
}

fn insert_rows(
    path: &Path,
    data: &[Vec<rusqlite::types::Value>],
    every: u64,
) -> anyhow::Result<RawSqlite> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(crate::storage::sqlite::PRAGMAS)?;
    conn.execute_batch(crate::storage::sqlite::SCHEMA)?;
    let sql = format!(
        "INSERT INTO events({EVENT_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    );
    let cpu0 = CpuSnap::now();
    let t = Instant::now();
    let mut commits = 0;
    for chunk in data.chunks(every.min(usize::MAX as u64) as usize) {
        let tx = conn.transaction()?;
        {
            let mut ins = tx.prepare_cached(&sql)?;
            for row in chunk {
                ins.execute(rusqlite::params_from_iter(row.iter()))?;
            }
        }
        tx.commit()?;
        commits += 1;
    }
    let secs = t.elapsed().as_secs_f64();
    let (cpu, _) = CpuSnap::now().since(&cpu0);
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    drop(conn);
    let n = data.len().max(1) as f64;
    let bytes = sys::db_bytes(path);
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(&p);
    }
    Ok(RawSqlite {
        rows: data.len() as u64,
        commits,
        rows_per_s: n / secs,
        cpu_us_per_row: cpu.as_secs_f64() * 1e6 / n,
        bytes_per_row: bytes as f64 / n,
    })
}

async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::warn!(error = %e, "benchmark PostgreSQL connection ended");
        }
    });
    Ok(client)
}

/// COPY and one-INSERT-per-event against the PostgreSQL at `url`.
pub async fn postgres(url: &str, sizes: &Sizes) -> anyhow::Result<PgFigure> {
    let client = connect(url).await?;
    let version: String = client.query_one("SELECT version()", &[]).await?.get(0);
    let fsync: String = client.query_one("SHOW fsync", &[]).await?.get(0);
    let sync: String = client
        .query_one("SHOW synchronous_commit", &[])
        .await?
        .get(0);
    client
        .batch_execute(
            "DROP TABLE IF EXISTS sealtrail_bench_copy, sealtrail_bench_naive;
             CREATE TABLE sealtrail_bench_copy(id bigint PRIMARY KEY, body jsonb NOT NULL);
             CREATE TABLE sealtrail_bench_naive(id bigint PRIMARY KEY, body jsonb NOT NULL);",
        )
        .await?;
    let rows = sizes.raw_rows;
    let bodies: Arc<Vec<String>> = Arc::new(
        tokio::task::spawn_blocking(move || {
            (0..rows)
                .map(|i| mix::event(i, mix::batch_source(i / 1000)).to_string())
                .collect::<Vec<_>>()
        })
        .await?,
    );

    // COPY, text format: escape backslashes (the JSON text never holds a
    // raw tab or newline).
    let mut payload = Vec::with_capacity(bodies.len() * 600);
    for (i, b) in bodies.iter().enumerate() {
        payload.extend_from_slice(format!("{i}\t").as_bytes());
        payload.extend_from_slice(b.replace('\\', "\\\\").as_bytes());
        payload.push(b'\n');
    }
    let t = Instant::now();
    let sink = client
        .copy_in("COPY sealtrail_bench_copy (id, body) FROM STDIN")
        .await?;
    futures_util::pin_mut!(sink);
    for chunk in payload.chunks(1 << 20) {
        sink.send(bytes::Bytes::copy_from_slice(chunk)).await?;
    }
    let copied = sink.finish().await?;
    let copy_rate = copied as f64 / t.elapsed().as_secs_f64();

    let naive = |clients: usize, secs: f64| {
        let bodies = bodies.clone();
        let url = url.to_string();
        async move {
            let next = Arc::new(AtomicU64::new(0));
            let deadline = Instant::now() + Duration::from_secs_f64(secs);
            let t = Instant::now();
            let mut tasks = Vec::new();
            for _ in 0..clients {
                let c = connect(&url).await?;
                let (bodies, next) = (bodies.clone(), next.clone());
                tasks.push(tokio::spawn(async move {
                    let st = c
                        .prepare("INSERT INTO sealtrail_bench_naive(id, body) VALUES ($1, $2::text::jsonb)")
                        .await?;
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        let id = next.fetch_add(1, Ordering::Relaxed);
                        let body = &bodies[(id as usize) % bodies.len().max(1)];
                        c.execute(&st, &[&(id as i64), body]).await?;
                        n += 1;
                    }
                    Ok::<_, anyhow::Error>(n)
                }));
            }
            let mut n = 0;
            for t in tasks {
                n += t.await??;
            }
            Ok::<_, anyhow::Error>(n as f64 / t.elapsed().as_secs_f64())
        }
    };
    let naive_1 = naive(1, sizes.pg_naive_secs).await?;
    client
        .batch_execute("TRUNCATE sealtrail_bench_naive")
        .await?;
    let naive_8 = naive(8, sizes.pg_naive_secs).await?;
    client
        .batch_execute("DROP TABLE IF EXISTS sealtrail_bench_copy, sealtrail_bench_naive")
        .await?;
    super::progress(format!(
        "  PostgreSQL: COPY {copy_rate:.0} rows/s; one INSERT per event {naive_1:.0}/s (1 client), {naive_8:.0}/s (8 clients)"
    ));
    Ok(PgFigure {
        version,
        durability: format!("fsync={fsync}, synchronous_commit={sync}"),
        copy_rows: copied,
        copy_rows_per_s: copy_rate,
        naive_1_per_s: naive_1,
        naive_8_per_s: naive_8,
    })
}
