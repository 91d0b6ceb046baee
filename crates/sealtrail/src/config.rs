//! Configuration: a TOML file, overridden by `SEALTRAIL_*` environment
//! variables, overridden by command-line flags.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use sealtrail_model::{CustomTypeConfig, Limits};
use serde::Deserialize;

/// Everything `sealtrail serve` needs.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory for the database and the key files.
    pub data_dir: PathBuf,
    /// Storage URL: empty or `sqlite` for the embedded engine in `data_dir`,
    /// or `postgres://user@host:port/db` for PostgreSQL (several nodes may
    /// share one database; keys stay in each node's `data_dir`).
    pub storage: String,
    /// Name of this log deployment; checkpoint origins are
    /// `<log_name>/<organization id>`.
    pub log_name: String,
    /// The operator key token; when unset one is generated at first start
    /// and printed once.
    pub operator_key: Option<String>,
    /// How often checkpoints are signed for logs that grew (milliseconds).
    pub checkpoint_interval_ms: u64,
    /// Compliance-plane requests per minute per parent organization.
    pub rate_limit_per_minute: u32,
    /// Most jobs (ingest requests) per group commit.
    pub max_batch_jobs: usize,
    /// Event validation limits.
    pub limits: LimitsConfig,
    /// Operator-registered activity types.
    pub activity_types: Vec<CustomTypeConfig>,
    /// Default retention (days) for organizations that set none; 0 keeps
    /// everything.
    pub default_retention_days: u32,
    /// Smallest retention an organization may set (days).
    pub retention_min_days: u32,
    /// Largest retention an organization may set (days).
    pub retention_max_days: u32,
    /// How often the pruner runs (seconds).
    pub prune_interval_secs: u64,
}

/// The event limits as written in the config file.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest event in bytes.
    pub max_event_bytes: usize,
    /// Longest free-text string in characters.
    pub max_string_chars: usize,
    /// Deepest nesting.
    pub max_depth: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let l = Limits::default();
        LimitsConfig {
            max_event_bytes: l.max_event_bytes,
            max_string_chars: l.max_string_chars,
            max_depth: l.max_depth,
        }
    }
}

impl LimitsConfig {
    /// The model's limits.
    pub fn to_limits(&self) -> Limits {
        Limits {
            max_event_bytes: self.max_event_bytes,
            max_string_chars: self.max_string_chars,
            max_depth: self.max_depth,
            ..Limits::default()
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./sealtrail-data"),
            storage: String::new(),
            log_name: "sealtrail.local".into(),
            operator_key: None,
            checkpoint_interval_ms: 1000,
            rate_limit_per_minute: 600,
            max_batch_jobs: 512,
            limits: LimitsConfig::default(),
            activity_types: Vec::new(),
            default_retention_days: 0,
            retention_min_days: 1,
            retention_max_days: 36_500,
            prune_interval_secs: 3600,
        }
    }
}

impl Config {
    /// Reads the file (if any), then applies `SEALTRAIL_*` variables.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        let mut cfg = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", p.display()))?;
                toml::from_str::<Config>(&text)
                    .map_err(|e| anyhow::anyhow!("config file {}: {e}", p.display()))?
            }
            None => Config::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok())?;
        Ok(cfg)
    }

    /// Applies environment overrides through `get` (testable).
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        fn parse<T: std::str::FromStr>(name: &str, v: String) -> anyhow::Result<T>
        where
            T::Err: std::fmt::Display,
        {
            v.parse()
                .map_err(|e| anyhow::anyhow!("environment variable {name}={v:?}: {e}"))
        }
        if let Some(v) = get("SEALTRAIL_LISTEN") {
            self.listen = parse("SEALTRAIL_LISTEN", v)?;
        }
        if let Some(v) = get("SEALTRAIL_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = get("SEALTRAIL_STORAGE") {
            self.storage = v;
        }
        if let Some(v) = get("SEALTRAIL_LOG_NAME") {
            self.log_name = v;
        }
        if let Some(v) = get("SEALTRAIL_OPERATOR_KEY") {
            self.operator_key = Some(v);
        }
        if let Some(v) = get("SEALTRAIL_CHECKPOINT_INTERVAL_MS") {
            self.checkpoint_interval_ms = parse("SEALTRAIL_CHECKPOINT_INTERVAL_MS", v)?;
        }
        if let Some(v) = get("SEALTRAIL_DEFAULT_RETENTION_DAYS") {
            self.default_retention_days = parse("SEALTRAIL_DEFAULT_RETENTION_DAYS", v)?;
        }
        if let Some(v) = get("SEALTRAIL_PRUNE_INTERVAL_SECS") {
            self.prune_interval_secs = parse("SEALTRAIL_PRUNE_INTERVAL_SECS", v)?;
        }
        if let Some(v) = get("SEALTRAIL_RATE_LIMIT_PER_MINUTE") {
            self.rate_limit_per_minute = parse("SEALTRAIL_RATE_LIMIT_PER_MINUTE", v)?;
        }
        Ok(())
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.log_name.is_empty()
            || self.log_name.contains(char::is_whitespace)
            || self.log_name.contains('+')
        {
            anyhow::bail!(
                "log_name must be non-empty with no spaces or '+' (it starts checkpoint origins)"
            );
        }
        if self.checkpoint_interval_ms == 0 {
            anyhow::bail!("checkpoint_interval_ms must be at least 1");
        }
        if self.rate_limit_per_minute == 0 {
            anyhow::bail!("rate_limit_per_minute must be at least 1");
        }
        if self.retention_min_days > self.retention_max_days {
            anyhow::bail!("retention_min_days must not exceed retention_max_days");
        }
        if self.prune_interval_secs == 0 {
            anyhow::bail!("prune_interval_secs must be at least 1");
        }
        if self.max_batch_jobs == 0 {
            anyhow::bail!("max_batch_jobs must be at least 1");
        }
        Ok(())
    }
}

/// Reads a 32-byte secret file, or creates one with mode 0600.
pub fn load_or_create_secret(path: &Path, what: &str) -> anyhow::Result<[u8; 32]> {
    match std::fs::read(path) {
        Ok(bytes) => bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("{what} file {} is not 32 bytes", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret: [u8; 32] = crate::ids::random_bytes();
            write_private(path, &secret).map_err(|e| {
                anyhow::anyhow!("cannot create {what} file {}: {e}", path.display())
            })?;
            Ok(secret)
        }
        Err(e) => Err(anyhow::anyhow!(
            "cannot read {what} file {}: {e}",
            path.display()
        )),
    }
}

/// Writes a file readable only by its owner, durably.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
