//! `sealtrail bench`: the benchmark harness.
//!
//! It starts a real server in this process (a temporary data directory,
//! `127.0.0.1:0`), drives it over loopback HTTP from a separate runtime
//! whose threads are named so their CPU time can be told apart from the
//! server's, and measures in the same run the limits each figure is
//! compared with: raw SQLite inserts of the identical rows, SHA-256,
//! Ed25519, fsync, and PostgreSQL when `SEALTRAIL_BENCH_PG_URL` is set.
//! A figure without the limit beside it says little, and a limit measured
//! on another day or machine says less, hence one run for both.
//!
//! The parts, in the order they run: the mix (`mix.rs`), the machine
//! limits (`limits.rs`), ingest (`ingest.rs`), filling the query set,
//! bytes on disk (`disk.rs`), feed queries (`query.rs`), proofs
//! (`proofs.rs`), ingest-to-stream latency (`stream.rs`), raw SQLite and
//! PostgreSQL limits (`limits.rs`), bundle verification (`verify.rs`);
//! `report.rs` prints the table and writes `docs/BENCHMARKS.md` and the
//! chart.

pub mod disk;
pub mod ingest;
pub mod limits;
pub mod mix;
pub mod proofs;
pub mod query;
pub mod report;
pub mod stream;
pub mod sys;
pub mod verify;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;
use serde_json::{Value, json};

use crate::app::App;
use crate::config::Config;

/// Options of `sealtrail bench`.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Events sent at each batched ingest concurrency (1, 4, 16).
    #[arg(long, default_value_t = 200_000)]
    pub events: u64,
    /// Size of the query set (default 1,000,000; with --full, queries run
    /// at 1,000,000 and again at 10,000,000).
    #[arg(long)]
    pub query_events: Option<u64>,
    /// Also fill and query 10,000,000 events (takes much longer).
    #[arg(long)]
    pub full: bool,
    /// Where to write the results: a Markdown file (the table goes between
    /// its `<!-- results:start -->` and `<!-- results:end -->` markers, the
    /// chart beside it as `benchmarks.svg`) or a `.json` file.
    #[arg(long, default_value = "docs/BENCHMARKS.md")]
    pub out: PathBuf,
    /// Tiny sizes: checks that every part runs, in about a minute. Its
    /// figures mean nothing.
    #[arg(long)]
    pub quick: bool,
    /// Run only some parts: ingest, query, stream, proofs, verify, limits
    /// (comma-separated). The report marks the rest as not measured.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Directory for the temporary databases (on the disk being measured).
    #[arg(long, default_value = "target/sealtrail-bench")]
    pub work_dir: PathBuf,
    /// PostgreSQL URL for the PostgreSQL limits (COPY, one INSERT per
    /// event); without it they are reported as not measured.
    #[arg(long, env = "SEALTRAIL_BENCH_PG_URL", hide_env_values = true)]
    pub pg_url: Option<String>,
    /// A line printed above the results, e.g. "disturbed: machine shared".
    #[arg(long)]
    pub note: Option<String>,
}

impl BenchArgs {
    /// Options for a run with everything at its defaults except these.
    pub fn quick_into(out: PathBuf, work_dir: PathBuf) -> BenchArgs {
        BenchArgs {
            events: 1_000,
            query_events: None,
            full: false,
            out,
            quick: true,
            only: vec![],
            work_dir,
            pg_url: None,
            note: None,
        }
    }

    fn wants(&self, part: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| p == part)
    }
}

/// How much each part does.
#[derive(Clone, Debug, Serialize)]
pub struct Sizes {
    /// Events per batched ingest level.
    pub events: u64,
    /// Query sets, in order.
    pub query_sets: Vec<u64>,
    /// Seconds per single-event level.
    pub singles_secs: f64,
    /// Seconds of steady stream load.
    pub stream_secs: f64,
    /// Events per second of the stream load.
    pub stream_rate: u64,
    /// Samples per feed filter.
    pub query_samples: usize,
    /// Samples per proof kind.
    pub proof_samples: usize,
    /// Events in the verification bundle.
    pub verify_events: u64,
    /// Rows of the raw SQLite limit.
    pub raw_rows: u64,
    /// Seconds of each hashing or signing limit.
    pub crypto_secs: f64,
    /// Seconds of each naive PostgreSQL level.
    pub pg_naive_secs: f64,
}

impl Sizes {
    fn from(args: &BenchArgs) -> Sizes {
        if args.quick {
            return Sizes {
                events: args.events.min(5_000),
                query_sets: vec![args.query_events.unwrap_or(4_000)],
                singles_secs: 0.5,
                stream_secs: 1.0,
                stream_rate: 500,
                query_samples: 10,
                proof_samples: 10,
                verify_events: 5_000,
                raw_rows: 5_000,
                crypto_secs: 0.1,
                pg_naive_secs: 0.5,
            };
        }
        let base = args.query_events.unwrap_or(1_000_000);
        let mut query_sets = vec![base];
        if args.full && base < 10_000_000 {
            query_sets.push(10_000_000);
        }
        Sizes {
            events: args.events,
            query_sets,
            singles_secs: 10.0,
            stream_secs: 10.0,
            stream_rate: 10_000,
            query_samples: 300,
            proof_samples: 300,
            verify_events: 1_000_000,
            raw_rows: args.events,
            crypto_secs: 1.0,
            pg_naive_secs: 10.0,
        }
    }
}

/// Everything measured in a run; `None` where a part did not run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Results {
    /// The machine.
    pub machine: Option<sys::Machine>,
    /// The command line that produced the run.
    pub command: String,
    /// The sizes used.
    pub sizes: Option<Sizes>,
    /// What the mix generator produced.
    pub mix: Option<mix::MixStats>,
    /// Ingest levels.
    pub ingest: Vec<ingest::IngestFigure>,
    /// Feed queries.
    pub queries: Vec<query::QueryFigure>,
    /// Ingest-to-stream latency.
    pub stream: Option<stream::StreamFigure>,
    /// Proof latencies.
    pub proofs: Vec<proofs::ProofFigure>,
    /// Bundle verification.
    pub verify: Option<verify::VerifyFigure>,
    /// Bytes on disk.
    pub disk: Option<disk::DiskFigure>,
    /// Peak resident memory of the process after the server phases.
    pub peak_rss_bytes: Option<u64>,
    /// The limits measured in the same run.
    pub limits: limits::LimitFigures,
}

/// A running server and the clients that drive it.
pub struct Harness {
    /// The server's state (the server runs in this process).
    pub app: Arc<App>,
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// One ingest key per source of the mix.
    pub ingest_keys: Vec<String>,
    /// A compliance key for the Acme tree (read activities and integrity).
    pub reader_key: String,
    /// HTTP client used from the load runtime.
    pub http: reqwest::Client,
    /// The load generator's runtime: its threads are named
    /// [`sys::LOAD_THREAD`] so their CPU time is not counted as the server's.
    pub load: tokio::runtime::Handle,
    /// The next event index of the mix: every event sent in a run is
    /// distinct, so idempotency never turns one into a duplicate.
    pub next_event: Arc<AtomicU64>,
    /// The data directory.
    pub data_dir: PathBuf,
}

impl Harness {
    /// Runs a future on the load generator's runtime and waits for it.
    pub async fn on_load<F, T>(&self, f: F) -> anyhow::Result<T>
    where
        F: std::future::Future<Output = anyhow::Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        self.load
            .spawn(f)
            .await
            .map_err(|e| anyhow::anyhow!("load task failed: {e}"))?
    }

    /// The Acme parent organization's key in storage.
    pub fn acme_key(&self) -> anyhow::Result<crate::storage::OrgKey> {
        self.app
            .org(mix::ORGS[0].0)
            .map(|o| o.key)
            .ok_or_else(|| anyhow::anyhow!("benchmark organization missing"))
    }
}

async fn call(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let resp = http
        .post(format!("{base}{path}"))
        .header("x-api-key", token)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("POST {path}"))?;
    let status = resp.status();
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        anyhow::bail!("POST {path} answered {status}: {v}");
    }
    Ok(v)
}

/// Starts the server and creates the organizations and keys of the mix.
async fn start_server(
    data_dir: PathBuf,
    load: tokio::runtime::Handle,
) -> anyhow::Result<(crate::server::Running, Harness)> {
    let config = Config {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: data_dir.clone(),
        // The harness reads much faster than the production default allows.
        rate_limit_per_minute: u32::MAX,
        ..Config::default()
    };
    let running = crate::server::start(config).await?;
    let base = format!("http://{}", running.addr);
    let op = running
        .app
        .bootstrap_operator_token
        .clone()
        .ok_or_else(|| anyhow::anyhow!("a fresh data directory must yield an operator key"))?;
    let setup = reqwest::Client::new();
    for (id, name, parent) in mix::ORGS {
        let mut body = json!({"id": id, "name": name});
        if let Some(p) = parent {
            body["parent_id"] = json!(mix::ORGS[p].0);
        }
        call(&setup, &base, &op, "/v1/operator/organizations", body).await?;
        call(
            &setup,
            &base,
            &op,
            &format!("/v1/operator/organizations/{id}/enable"),
            json!({}),
        )
        .await?;
    }
    let mut ingest_keys = Vec::new();
    for (org, product) in mix::SOURCES {
        let k = call(
            &setup,
            &base,
            &op,
            "/v1/operator/keys",
            json!({"kind": "ingest", "organization_id": mix::ORGS[org].0, "product": product}),
        )
        .await?;
        ingest_keys.push(
            k["token"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("no token in {k}"))?
                .to_string(),
        );
    }
    let k = call(
        &setup,
        &base,
        &op,
        "/v1/operator/keys",
        json!({"kind": "compliance", "organization_id": mix::ORGS[0].0,
               "scopes": ["read:activities", "read:integrity"]}),
    )
    .await?;
    let reader_key = k["token"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no token in {k}"))?
        .to_string();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(300))
        .build()?;
    let app = running.app.clone();
    Ok((
        running,
        Harness {
            app,
            base,
            ingest_keys,
            reader_key,
            http,
            load,
            next_event: Arc::new(AtomicU64::new(0)),
            data_dir,
        },
    ))
}

fn progress(msg: impl AsRef<str>) {
    eprintln!("[bench] {}", msg.as_ref());
}

/// Runs the benchmark and writes the report.
pub async fn run(args: BenchArgs) -> anyhow::Result<Results> {
    let sizes = Sizes::from(&args);
    let mut res = Results {
        machine: Some(sys::machine()),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        sizes: Some(sizes.clone()),
        ..Results::default()
    };
    if cfg!(debug_assertions) && !args.quick {
        progress("warning: this is a debug build; figures are meaningless (use --release)");
    }
    progress(format!("sizes: {sizes:?}"));
    res.mix = Some(tokio::task::spawn_blocking(|| mix::stats(50_000)).await?);

    std::fs::create_dir_all(&args.work_dir)
        .with_context(|| format!("cannot create {}", args.work_dir.display()))?;
    let work = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(&args.work_dir)
        .with_context(|| format!("cannot create a directory in {}", args.work_dir.display()))?;

    if args.wants("limits") {
        progress("limits: SHA-256, Ed25519, fsync");
        let dir = work.path().to_path_buf();
        let secs = sizes.crypto_secs;
        res.limits =
            tokio::task::spawn_blocking(move || limits::machine_limits(&dir, secs)).await??;
    }

    let load_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(sys::LOAD_THREAD)
        .thread_keep_alive(Duration::from_secs(24 * 3600))
        .enable_all()
        .build()?;
    let outcome = server_parts(&args, &sizes, &mut res, work.path(), load_rt.handle()).await;
    load_rt.shutdown_background();
    outcome?;

    if args.wants("limits") {
        let src = work.path().join("server").join("sealtrail.db");
        if src.exists() {
            progress("limits: raw SQLite inserts of the identical rows");
            let dir = work.path().to_path_buf();
            let rows = sizes.raw_rows;
            let (one, per10k) =
                tokio::task::spawn_blocking(move || limits::raw_sqlite(&src, &dir, rows)).await??;
            res.limits.sqlite_one_txn = Some(one);
            res.limits.sqlite_per_10k = Some(per10k);
        }
        match &args.pg_url {
            Some(url) => {
                progress("limits: PostgreSQL COPY and one INSERT per event");
                res.limits.pg = Some(limits::postgres(url, &sizes).await?);
            }
            None => {
                res.limits.pg_note = Some("not measured: no PostgreSQL".into());
            }
        }
    }
    if args.wants("verify") {
        let src = work.path().join("server").join("sealtrail.db");
        if src.exists() {
            progress("verify: leaf hashes, roots and inclusion proofs");
            let n = sizes.verify_events;
            res.verify = Some(tokio::task::spawn_blocking(move || verify::run(&src, n)).await??);
        }
    }
    report::write(&args, &res)?;
    Ok(res)
}

async fn server_parts(
    args: &BenchArgs,
    sizes: &Sizes,
    res: &mut Results,
    work: &std::path::Path,
    load: &tokio::runtime::Handle,
) -> anyhow::Result<()> {
    let server_parts = ["ingest", "query", "stream", "proofs", "verify", "limits"];
    if !server_parts.iter().any(|p| args.wants(p)) {
        return Ok(());
    }
    let (running, h) = start_server(work.join("server"), load.clone()).await?;
    progress(format!("server on {}", h.base));
    if args.wants("ingest") {
        res.ingest = ingest::run(&h, sizes).await?;
    }
    let needs_data = ["query", "proofs", "verify", "limits"]
        .iter()
        .any(|p| args.wants(p));
    for (i, &set) in sizes.query_sets.iter().enumerate() {
        if !needs_data && i == 0 {
            break;
        }
        if i > 0 && !args.wants("query") {
            break;
        }
        ingest::fill(&h, set).await?;
        res.disk = Some(disk::measure(&h).await?);
        if args.wants("query") {
            res.queries
                .extend(query::run(&h, set, sizes.query_samples).await?);
        }
        if i == 0 && args.wants("proofs") {
            res.proofs = proofs::run(&h, sizes.proof_samples).await?;
        }
        if i == 0 && args.wants("stream") {
            res.stream = Some(stream::run(&h, sizes.stream_rate, sizes.stream_secs).await?);
        }
    }
    if needs_data && sizes.query_sets.is_empty() {
        ingest::fill(&h, sizes.events).await?;
    }
    if !needs_data && args.wants("stream") {
        res.stream = Some(stream::run(&h, sizes.stream_rate, sizes.stream_secs).await?);
    }
    res.peak_rss_bytes = sys::peak_rss_bytes();
    drop(h);
    running.shutdown().await;
    Ok(())
}
