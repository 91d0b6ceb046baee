//! The `sealtrail` command line: the server, the demo, operator commands,
//! client commands for administrators, and offline verification.

pub mod client;
pub mod integrity;
pub mod sinks;
pub mod witness;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;

/// Sealtrail: a self-hostable, tamper-evident Compliance API.
#[derive(Parser, Debug)]
#[command(name = "sealtrail", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Server options shared by `serve` and `demo`.
#[derive(Args, Debug, Clone)]
pub struct ServerArgs {
    /// Configuration file (TOML). Environment variables SEALTRAIL_* override it.
    #[arg(long, short = 'c', env = "SEALTRAIL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Data directory (database and key files).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Storage engine: `sqlite` (embedded, the default) or a
    /// `postgres://user@host:port/db` URL. Overrides SEALTRAIL_STORAGE.
    #[arg(long)]
    pub storage: Option<String>,
}

impl ServerArgs {
    /// The effective configuration: file, then environment, then flags.
    pub fn load(&self) -> anyhow::Result<Config> {
        let mut cfg = Config::load(self.config.as_deref())?;
        if let Some(l) = self.listen {
            cfg.listen = l;
        }
        if let Some(d) = &self.data_dir {
            cfg.data_dir = d.clone();
        }
        if let Some(s) = &self.storage {
            cfg.storage = s.clone();
        }
        Ok(cfg)
    }
}

/// Where a client command sends its requests.
#[derive(Args, Debug, Clone)]
pub struct ClientArgs {
    /// Server URL.
    #[arg(long, env = "SEALTRAIL_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API key (an operator key for `orgs` and `keys`, a compliance key for
    /// `activities`).
    #[arg(long, env = "SEALTRAIL_KEY", hide_env_values = true)]
    pub key: Option<String>,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server.
    Serve(ServerArgs),
    /// Run the server with a simulated AI platform sending it a realistic
    /// multi-organization dataset, then live activity (in a fresh temporary
    /// data directory unless --data-dir is given).
    Demo(crate::demo::DemoArgs),
    /// Manage organizations (operator key).
    #[command(subcommand)]
    Orgs(client::OrgsCmd),
    /// Manage ingest and compliance keys (operator key).
    #[command(subcommand)]
    Keys(client::KeysCmd),
    /// Read the compliance feed (compliance key).
    #[command(subcommand)]
    Activities(client::ActivitiesCmd),
    /// Erasure, retention and legal holds (compliance key).
    #[command(subcommand)]
    Privacy(client::PrivacyCmd),
    /// Download an evidence bundle (compliance key with the export scope).
    Export(integrity::ExportArgs),
    /// Check an evidence bundle offline with the log's public key.
    Verify(integrity::VerifyArgs),
    /// Check a data directory offline: leaves, tiles, heads, checkpoints.
    Fsck(integrity::FsckArgs),
    /// Watch a server's checkpoints and alarm if a log is not append-only.
    Witness(witness::WitnessArgs),
    /// Push delivery to SIEMs and webhooks (compliance key with manage:sinks).
    #[command(subcommand)]
    Sinks(sinks::SinksCmd),
    /// Benchmark a real server in this process against the machine's limits.
    Bench(crate::bench::BenchArgs),
}

/// Runs the command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Demo(args) => crate::demo::command(args).await,
        Command::Orgs(c) => client::orgs(c).await,
        Command::Keys(c) => client::keys(c).await,
        Command::Activities(c) => client::activities(c).await,
        Command::Privacy(c) => client::privacy(c).await,
        Command::Export(a) => integrity::export(a).await,
        Command::Verify(a) => integrity::verify(a),
        Command::Fsck(a) => integrity::fsck(a),
        Command::Witness(a) => witness::run(a).await,
        Command::Sinks(c) => sinks::run(c).await,
        Command::Bench(a) => crate::bench::run(a).await.map(|_| ()),
    }
}

async fn serve(args: ServerArgs) -> anyhow::Result<()> {
    let cfg = args.load()?;
    let running = crate::server::start(cfg).await?;
    println!("Sealtrail listening on http://{}", running.addr);
    println!("API docs:  http://{}/docs", running.addr);
    if let Some(token) = &running.app.bootstrap_operator_token {
        println!();
        println!("Operator key (shown once; store it now):");
        println!("  {token}");
    }
    tracing::info!(addr = %running.addr, "listening");
    running.wait().await;
    Ok(())
}
