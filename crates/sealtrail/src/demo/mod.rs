//! `sealtrail demo`: the product's main job on embedded storage, with a
//! realistic dataset.
//!
//! It starts the real server in-process, sets up a company (a parent
//! organization linking an enterprise and an API-platform organization)
//! through the operator API, and then acts as the company's AI platform:
//! it sends a month of history and then live activity through the ingest
//! API with ingest keys, the way any source would. Nothing is written to
//! storage directly, so what the demo shows is what the product does.
//!
//! `sim.rs` is the simulated platform (reusable by load generators),
//! `source.rs` the HTTP client it talks through.

pub mod rng;
pub mod sim;
pub mod source;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::Value;

use crate::cli::ServerArgs;
use crate::config::Config;
use crate::server::Running;
use sim::{PRODUCTS, Planted, SimOrgs, Simulator};
use source::{Api, Tally};

/// Every compliance scope, for the demo's main key.
const ALL_SCOPES: [&str; 7] = [
    "read:activities",
    "read:integrity",
    "export",
    "delete:subject_data",
    "manage:sinks",
    "manage:rules",
    "manage:reviews",
];

/// Events per ingest request while seeding: well under the 1,000 limit, and
/// small enough that the feed's commit order follows the history's order.
const SEED_WINDOW: usize = 500;

/// History events per simulated day when `--history-events` is not given:
/// about 4,000 for the default 30 days, seeded in a few seconds.
const EVENTS_PER_DAY: usize = 135;

/// The most history events the demo seeds.
const MAX_HISTORY_EVENTS: usize = 200_000;

/// `sealtrail demo` flags.
#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// Server options. Without --data-dir (or a data_dir in the
    /// configuration) the demo uses a fresh directory under the system's
    /// temporary directory.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Days of history to seed (events dated over this many past days).
    #[arg(long, default_value_t = 30)]
    pub history_days: u32,
    /// How many history events to seed (default: about 135 per day).
    #[arg(long)]
    pub history_events: Option<usize>,
    /// Live events per second after seeding.
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// Seed the history, then serve it without producing live activity.
    #[arg(long)]
    pub no_live: bool,
    /// Seed of the simulated company: the same seed gives the same people,
    /// keys and activity.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// What [`run_demo`] needs.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// The server configuration; `data_dir` must not hold a database yet.
    pub config: Config,
    /// Days of history.
    pub history_days: u32,
    /// History events (default: [`EVENTS_PER_DAY`] per day).
    pub history_events: Option<usize>,
    /// Seed of the simulated company.
    pub seed: u64,
}

impl DemoOptions {
    /// Defaults around a configuration: 30 days of history, seed 1.
    pub fn new(config: Config) -> DemoOptions {
        DemoOptions {
            config,
            history_days: 30,
            history_events: None,
            seed: 1,
        }
    }

    fn target_events(&self) -> usize {
        self.history_events
            .unwrap_or(self.history_days as usize * EVENTS_PER_DAY)
            .min(MAX_HISTORY_EVENTS)
    }
}

/// A planted pattern and the id the server gave its completing event.
#[derive(Clone, Debug)]
pub struct PlantedEvent {
    /// The pattern.
    pub planted: Planted,
    /// The activity id, when the event was stored.
    pub activity_id: Option<String>,
}

/// A seeded demo with its server running.
pub struct DemoHandle {
    /// Where the server listens.
    pub addr: SocketAddr,
    /// `http://<addr>`.
    pub url: String,
    /// The operator key (the bootstrap key, or the configured one).
    pub operator_key: String,
    /// A compliance key on the parent organization with every scope.
    pub compliance_key: String,
    /// A compliance key on the parent organization that can only read.
    pub read_only_key: String,
    /// The ingest key of each product.
    pub ingest_keys: BTreeMap<String, String>,
    /// The organizations.
    pub orgs: SimOrgs,
    /// What ingest said about the seeded history.
    pub seeded: Tally,
    /// The history events as they were sent.
    pub seeded_events: Vec<Value>,
    /// The activity id of each seeded event, in the order of `seeded_events`.
    pub seeded_ids: Vec<Option<String>>,
    /// How long seeding took.
    pub seed_time: Duration,
    /// The patterns planted in the history.
    pub planted: Vec<PlantedEvent>,
    /// The data directory.
    pub data_dir: PathBuf,
    /// Days of history seeded.
    pub history_days: u32,
    /// The server.
    pub running: Running,
    api: Api,
    sim: Simulator,
}

/// Starts the server, sets up the company and seeds its history. The server
/// keeps running in the returned handle.
pub async fn run_demo(opts: DemoOptions) -> anyhow::Result<DemoHandle> {
    let db = crate::app::db_path(&opts.config);
    if db.exists() {
        anyhow::bail!(
            "{} already holds a Sealtrail database; the demo sets up its organizations from \
             scratch, so give it a new --data-dir (or none, for a fresh temporary one)",
            opts.config.data_dir.display()
        );
    }
    let configured_operator = opts.config.operator_key.clone();
    let data_dir = opts.config.data_dir.clone();
    let running = crate::server::start(opts.config.clone()).await?;
    let operator_key = match running
        .app
        .bootstrap_operator_token
        .clone()
        .or(configured_operator)
    {
        Some(k) => k,
        None => {
            running.shutdown().await;
            anyhow::bail!("no operator key is available to set up the demo");
        }
    };
    let url = format!("http://{}", running.addr);
    let api = Api::new(&url);
    let orgs = SimOrgs::default();
    let setup = set_up(&api, &operator_key, &orgs).await;
    let (keys, compliance_key, read_only_key) = match setup {
        Ok(k) => k,
        Err(e) => {
            running.shutdown().await;
            return Err(e.context("setting up the demo organizations"));
        }
    };
    let mut sim = Simulator::new(opts.seed, orgs.clone());
    let now = crate::time::now_ms();
    let start = now - i64::from(opts.history_days) * 86_400_000;
    let events = sim.history(start, now, opts.target_events());
    let started = Instant::now();
    let seeded = seed(&api, &keys, &events).await;
    let (tally, ids) = match seeded {
        Ok(s) => s,
        Err(e) => {
            running.shutdown().await;
            return Err(e.context("seeding the history"));
        }
    };
    let seed_time = started.elapsed();
    wait_for_checkpoints(&running, &orgs).await;
    let by_source: BTreeMap<&str, usize> = events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| Some((e.get("source_event_id")?.as_str()?, i)))
        .collect();
    let planted = sim
        .planted()
        .iter()
        .map(|p| PlantedEvent {
            planted: p.clone(),
            activity_id: by_source
                .get(p.source_event_id.as_str())
                .and_then(|&i| ids.get(i).cloned().flatten()),
        })
        .collect();
    Ok(DemoHandle {
        addr: running.addr,
        url,
        operator_key,
        compliance_key,
        read_only_key,
        ingest_keys: keys,
        orgs,
        seeded: tally,
        seeded_events: events,
        seeded_ids: ids,
        seed_time,
        planted,
        data_dir,
        history_days: opts.history_days,
        running,
        api,
        sim,
    })
}

type Keys = (BTreeMap<String, String>, String, String);

/// Organizations, links, enablement and keys, through the operator API.
async fn set_up(api: &Api, op: &str, orgs: &SimOrgs) -> anyhow::Result<Keys> {
    api.create_org(op, &orgs.parent, "Acme Corp").await?;
    api.create_org(op, &orgs.enterprise, "Acme Corp Enterprise")
        .await?;
    api.create_org(op, &orgs.api, "Acme Corp API Platform")
        .await?;
    api.link(op, &orgs.enterprise, &orgs.parent).await?;
    api.link(op, &orgs.api, &orgs.parent).await?;
    for org in orgs.all() {
        api.enable(op, org).await?;
    }
    let mut keys = BTreeMap::new();
    for product in PRODUCTS {
        let token = api.ingest_key(op, orgs.key_org(product), product).await?;
        keys.insert(product.to_string(), token);
    }
    let compliance = api
        .compliance_key(op, &orgs.parent, &ALL_SCOPES, "compliance officer (demo)")
        .await?;
    let read_only = api
        .compliance_key(
            op,
            &orgs.parent,
            &["read:activities", "read:integrity"],
            "SIEM reader (demo)",
        )
        .await?;
    Ok((keys, compliance, read_only))
}

/// Sends events in time order, window by window, one request per product
/// per window; returns the totals and each event's activity id.
async fn seed(
    api: &Api,
    keys: &BTreeMap<String, String>,
    events: &[Value],
) -> anyhow::Result<(Tally, Vec<Option<String>>)> {
    let mut tally = Tally::default();
    let mut ids = vec![None; events.len()];
    for (w, window) in events.chunks(SEED_WINDOW).enumerate() {
        for product in PRODUCTS {
            let (positions, batch): (Vec<usize>, Vec<Value>) = window
                .iter()
                .enumerate()
                .filter(|(_, e)| e.get("product").and_then(Value::as_str) == Some(product))
                .map(|(i, e)| (w * SEED_WINDOW + i, e.clone()))
                .unzip();
            if batch.is_empty() {
                continue;
            }
            let key = keys
                .get(product)
                .ok_or_else(|| anyhow::anyhow!("no ingest key for product {product}"))?;
            let reply = api.ingest(key, &batch).await?;
            tally.add(batch.len(), &reply);
            for (pos, id) in positions.into_iter().zip(reply.ids) {
                if let Some(slot) = ids.get_mut(pos) {
                    *slot = id;
                }
            }
        }
    }
    Ok((tally, ids))
}

/// Waits (briefly) until every log has a signed checkpoint, so the
/// checkpoint command printed next works at once.
async fn wait_for_checkpoints(running: &Running, orgs: &SimOrgs) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let keys: Vec<_> = orgs
        .all()
        .iter()
        .filter_map(|id| running.app.org(id))
        .map(|o| o.key)
        .collect();
    while Instant::now() < deadline {
        let app = running.app.clone();
        let keys = keys.clone();
        let done = tokio::task::spawn_blocking(move || {
            keys.iter().all(|k| {
                let head = app.store.head(*k).map(|h| h.frontier.size()).unwrap_or(0);
                matches!(app.store.latest_checkpoint(*k), Ok(Some(c)) if c.size >= head)
            })
        })
        .await
        .unwrap_or(true);
        if done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl DemoHandle {
    /// Keeps the company working: about `rate` events per second, dated
    /// now, sent as they happen, until `stop` completes. Returns the totals.
    /// A failed request is reported and the loop goes on, so a busy moment
    /// does not end the demo.
    pub async fn live(&self, rate: f64, stop: impl Future<Output = ()>) -> Tally {
        let mut stream = self.sim.clone().stream(crate::time::now_ms(), rate);
        let mut tally = Tally::default();
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut report = Instant::now();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = tick.tick() => {}
            }
            let due = stream.due(crate::time::now_ms());
            for product in PRODUCTS {
                let batch: Vec<Value> = due
                    .iter()
                    .filter(|e| e.get("product").and_then(Value::as_str) == Some(product))
                    .cloned()
                    .collect();
                let Some(key) = self.ingest_keys.get(product) else {
                    continue;
                };
                for chunk in batch.chunks(crate::ingest::MAX_EVENTS) {
                    match self.api.ingest(key, chunk).await {
                        Ok(r) => {
                            for why in &r.refusals {
                                tracing::warn!(product, reason = %why, "demo event refused");
                            }
                            tally.add(chunk.len(), &r);
                        }
                        Err(e) => tracing::warn!(error = %e, "demo ingest failed"),
                    }
                }
            }
            if report.elapsed() >= Duration::from_secs(30) {
                report = Instant::now();
                println!(
                    "live: {} events sent, {} stored, {} refused",
                    tally.sent, tally.accepted, tally.refused
                );
            }
        }
        tally
    }

    /// Stops the server gracefully.
    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }

    /// An email worth filtering by: the person of the mass-download story,
    /// or else the busiest person.
    fn featured_email(&self) -> String {
        let email_of = |sid: &str| {
            self.seeded_events
                .iter()
                .find(|e| e.get("source_event_id").and_then(Value::as_str) == Some(sid))
                .and_then(|e| e.pointer("/actor/email"))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        if let Some(e) = self
            .planted
            .iter()
            .find(|p| p.planted.pattern == "mass_file_download")
            .and_then(|p| email_of(&p.planted.source_event_id))
        {
            return e;
        }
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for e in &self.seeded_events {
            if let Some(m) = e.pointer("/actor/email").and_then(Value::as_str) {
                *counts.entry(m).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(m, _)| m.to_string())
            .unwrap_or_else(|| "maya.chen@acme.example.com".into())
    }

    /// An activity worth opening: the login that ended the failed-login
    /// burst, or else the newest seeded event.
    fn featured_activity(&self) -> Option<String> {
        self.planted
            .iter()
            .find(|p| p.planted.pattern == "failed_logins_then_success")
            .and_then(|p| p.activity_id.clone())
            .or_else(|| self.seeded_ids.iter().rev().flatten().next().cloned())
    }

    /// What to print: where to look, which keys to use, commands to paste.
    pub fn banner(&self) -> String {
        use std::fmt::Write as _;
        let u = &self.url;
        let k = &self.compliance_key;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Sealtrail demo: a simulated AI platform (Acme Corp) sends its activity to a real Sealtrail server.\n"
        );
        let _ = writeln!(s, "  Listening on   {u}");
        let _ = writeln!(s, "  API docs       {u}/docs");
        let _ = writeln!(
            s,
            "  Data dir       {} (embedded SQLite)",
            self.data_dir.display()
        );
        let _ = writeln!(s);
        let _ = writeln!(s, "  Organizations, recording enabled on all three:");
        let _ = writeln!(
            s,
            "    {:<22}Acme Corp (parent; its keys read all three)",
            self.orgs.parent
        );
        let _ = writeln!(
            s,
            "    {:<22}Acme Corp Enterprise (products enterprise, cowork)",
            self.orgs.enterprise
        );
        let _ = writeln!(
            s,
            "    {:<22}Acme Corp API Platform (product platform)",
            self.orgs.api
        );
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "  Seeded {} events dated over the last {} days: {} ingest requests, {} stored, {} refused, {:.1} s.",
            self.seeded.sent,
            self.history_days,
            self.seeded.requests,
            self.seeded.accepted,
            self.seeded.refused,
            self.seed_time.as_secs_f64()
        );
        let _ = writeln!(
            s,
            "  (created_at is the source's clock; received_at is now: recording is never backfilled.)"
        );
        for why in &self.seeded.refusals {
            let _ = writeln!(s, "  refused: {why}");
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "Keys (shown once; the server keeps only their hashes):");
        let _ = writeln!(s, "  compliance key, all scopes, {}:", self.orgs.parent);
        let _ = writeln!(s, "    {k}");
        let _ = writeln!(
            s,
            "  read-only compliance key (read:activities, read:integrity):"
        );
        let _ = writeln!(s, "    {}", self.read_only_key);
        let _ = writeln!(s, "  operator key:");
        let _ = writeln!(s, "    {}", self.operator_key);
        let _ = writeln!(s);
        let _ = writeln!(s, "Paste into a shell:");
        let _ = writeln!(s);
        let _ = writeln!(s, "  export SEALTRAIL_URL={u}");
        let _ = writeln!(s, "  export SEALTRAIL_KEY={k}");
        let _ = writeln!(s);
        let h = "-H \"x-api-key: $SEALTRAIL_KEY\"";
        let _ = writeln!(
            s,
            "  # the newest activities across the three organizations"
        );
        let _ = writeln!(
            s,
            "  curl -s {h} \"$SEALTRAIL_URL/v1/compliance/activities?limit=5\""
        );
        let _ = writeln!(
            s,
            "  # every API key change (prefix wildcard; -g lets curl pass the brackets)"
        );
        let _ = writeln!(
            s,
            "  curl -sg {h} \"$SEALTRAIL_URL/v1/compliance/activities?activity_types[]=api_key.*&limit=20\""
        );
        let _ = writeln!(s, "  # everything one person did");
        let _ = writeln!(
            s,
            "  curl -sg {h} \"$SEALTRAIL_URL/v1/compliance/activities?actor_emails[]={}\"",
            self.featured_email()
        );
        if let Some(id) = self.featured_activity() {
            let _ = writeln!(s, "  # one activity, with its inclusion proof");
            let _ = writeln!(
                s,
                "  curl -s {h} \"$SEALTRAIL_URL/v1/compliance/activities/{id}?include_proof=true\""
            );
        }
        let _ = writeln!(
            s,
            "  # the signed checkpoint of the enterprise organization's log"
        );
        let _ = writeln!(
            s,
            "  curl -s {h} -H 'accept: text/plain' \"$SEALTRAIL_URL/v1/compliance/integrity/checkpoint?organization_id={}\"",
            self.orgs.enterprise
        );
        let _ = writeln!(s, "  # the same feed from the command line");
        let _ = writeln!(
            s,
            "  sealtrail activities list --url {u} --key {k} --type 'user.*' --max 20"
        );
        if !self.planted.is_empty() {
            let _ = writeln!(s);
            let _ = writeln!(s, "Planted in the history for detection:");
            for p in &self.planted {
                let _ = writeln!(
                    s,
                    "  {}  {:<28} {}",
                    crate::time::fmt_ms(p.planted.at_ms),
                    p.planted.pattern,
                    p.planted.summary
                );
            }
        }
        s
    }
}

/// Ctrl-C or SIGTERM: the same signals that stop the server.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// `sealtrail demo`.
pub async fn command(args: DemoArgs) -> anyhow::Result<()> {
    if !(args.rate.is_finite() && args.rate > 0.0 && args.rate <= 10_000.0) {
        anyhow::bail!("--rate must be more than 0 and at most 10000 events per second");
    }
    if args.history_days > 3_650 {
        anyhow::bail!("--history-days must be at most 3650");
    }
    let mut config = args.server.load()?;
    if config.data_dir == Config::default().data_dir {
        let suffix = crate::ids::base32(&crate::ids::random_bytes::<5>()).to_lowercase();
        config.data_dir = std::env::temp_dir().join(format!("sealtrail-demo-{suffix}"));
    }
    let opts = DemoOptions {
        config,
        history_days: args.history_days,
        history_events: args.history_events,
        seed: args.seed,
    };
    let handle = run_demo(opts).await?;
    println!("{}", handle.banner());
    if args.no_live {
        println!("No live activity (--no-live). Ctrl-C stops the server.");
        shutdown_signal().await;
    } else {
        println!(
            "Live: about {} events/s, dated now, from here on. Ctrl-C stops the demo.",
            args.rate
        );
        let tally = handle.live(args.rate, shutdown_signal()).await;
        println!(
            "\nStopping: {} live events sent, {} stored, {} refused.",
            tally.sent, tally.accepted, tally.refused
        );
    }
    println!("Data kept in {}", handle.data_dir.display());
    handle.shutdown().await;
    Ok(())
}
