//! The running server's shared state, and how it is put together.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use sealtrail_model::{Catalog, Limits};

use crate::auth::ratelimit::RateLimiter;
use crate::config::Config;
use crate::log::checkpoint::SignerKeys;
use crate::log::sequencer::Sequencer;
use crate::metrics::Metrics;
use crate::privacy::crypto::MasterKey;
use crate::registry::Registry;
use crate::storage::postgres::PgStore;
use crate::storage::sqlite::SqliteStore;
use crate::storage::{KeyKind, Org, OrgKey, Storage};

/// Everything a request handler or background task needs.
pub struct App {
    /// The configuration it was started with.
    pub config: Config,
    /// The storage engine.
    pub store: Arc<dyn Storage>,
    /// The embedded engine, when that is the engine (for maintenance).
    pub sqlite: Option<Arc<SqliteStore>>,
    /// Organizations.
    pub registry: Arc<RwLock<Registry>>,
    /// The writer.
    pub sequencer: Sequencer,
    /// Activity types.
    pub catalog: Arc<Catalog>,
    /// Event limits.
    pub limits: Limits,
    /// Personal-data keys.
    pub master: MasterKey,
    /// Checkpoint signing keys.
    pub signer: SignerKeys,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Compliance-plane rate limits.
    pub limiter: RateLimiter,
    /// A freshly generated operator token, to print once at first start.
    pub bootstrap_operator_token: Option<String>,
    /// Wakes delivery workers when a sink changes.
    pub sinks: crate::delivery::Hub,
    /// Stored key records by id (`auth::KeyCache`).
    pub keys: Arc<crate::auth::KeyCache>,
    /// Unwrapped subject keys (`privacy::keycache`).
    pub subject_keys: Arc<crate::privacy::keycache::SubjectKeyCache>,
    /// Complete proof tiles (`log::proofs::TileCache`).
    pub tiles: crate::log::proofs::TileCache,
}

/// Shared handle.
pub type SharedApp = Arc<App>;

impl App {
    /// Opens storage, loads keys and starts the sequencer.
    pub fn open(config: Config) -> anyhow::Result<App> {
        config.validate()?;
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            anyhow::anyhow!(
                "cannot create data directory {}: {e}",
                config.data_dir.display()
            )
        })?;
        let catalog = Arc::new(
            Catalog::with_custom(config.activity_types.clone())
                .map_err(|e| anyhow::anyhow!("activity_types in config: {e}"))?,
        );
        let (store, sqlite): (Arc<dyn Storage>, Option<Arc<SqliteStore>>) = match config
            .storage
            .as_str()
        {
            "" | "sqlite" => {
                let s = Arc::new(SqliteStore::open(&db_path(&config))?);
                (s.clone(), Some(s))
            }
            url if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let s: Arc<dyn Storage> = Arc::new(PgStore::open(url)?);
                (s, None)
            }
            other => anyhow::bail!(
                "storage {other:?} is not supported; use \"sqlite\" (the embedded engine) or a postgres:// URL"
            ),
        };
        let master = MasterKey::load_or_create(&config.data_dir.join("master.key"))?;
        let signer = SignerKeys::load_or_create(&config.data_dir, &config.log_name)?;
        let registry = Arc::new(RwLock::new(Registry::new(store.orgs()?)));
        let metrics = Arc::new(Metrics::default());
        let keys = Arc::new(crate::auth::KeyCache::new(
            crate::auth::KEY_CACHE_ENTRIES,
            true,
            metrics.key_cache.clone(),
        ));
        let tiles = crate::log::proofs::TileCache::new(
            crate::log::proofs::TILE_CACHE_TILES,
            metrics.tile_cache.clone(),
        );
        let subject_keys = Arc::new(crate::privacy::keycache::SubjectKeyCache::new(
            crate::privacy::keycache::SUBJECT_KEY_CACHE_ENTRIES,
            true,
            metrics.subject_key_cache.clone(),
        ));
        // Before the sequencer subscribes, so the caches hear the first
        // resynchronisation of a shared store.
        crate::cache::follow(store.as_ref(), {
            let (k1, k2) = (keys.clone(), keys.clone());
            let (s1, s2) = (subject_keys.clone(), subject_keys.clone());
            crate::cache::Followed {
                on_keys: vec![Box::new(move || k1.cache().clear())],
                on_subjects: vec![Box::new(move || s1.cache().clear())],
                set_live: vec![
                    Box::new(move |live| k2.cache().set_live(live)),
                    Box::new(move |live| s2.cache().set_live(live)),
                ],
            }
        });
        crate::log::fsck::startup_check(store.as_ref(), &signer.verifiers(), &config.log_name)?;
        crate::log::proofs::check_heads(store.as_ref(), &registry)?;
        let sequencer = Sequencer::start(
            store.clone(),
            master.clone(),
            registry.clone(),
            metrics.clone(),
            config.max_batch_jobs,
        )?;
        let bootstrap_operator_token = bootstrap_operator(store.as_ref(), &config)?;
        Ok(App {
            limiter: RateLimiter::new(config.rate_limit_per_minute),
            limits: config.limits.to_limits(),
            config,
            store,
            sqlite,
            registry,
            sequencer,
            catalog,
            master,
            signer,
            metrics,
            bootstrap_operator_token,
            sinks: crate::delivery::Hub::default(),
            keys,
            subject_keys,
            tiles,
        })
    }

    /// An organization by public id.
    pub fn org(&self, id: &str) -> Option<Org> {
        let found = self.registry.read().ok()?.by_id(id).cloned();
        if found.is_none() && self.store.shared() {
            // Created on another node moments ago: its notice may not have
            // arrived yet, so look in the store before saying "unknown".
            let fresh = Registry::new(self.store.orgs().ok()?);
            let hit = fresh.by_id(id).cloned();
            if let Ok(mut reg) = self.registry.write() {
                *reg = fresh;
            }
            return hit;
        }
        found
    }

    /// An organization by key.
    pub fn org_by_key(&self, key: OrgKey) -> Option<Org> {
        self.registry.read().ok()?.by_key(key).cloned()
    }

    /// The organization and its descendants.
    pub fn subtree(&self, key: OrgKey) -> Vec<OrgKey> {
        self.registry
            .read()
            .map(|r| r.subtree(key))
            .unwrap_or_default()
    }

    /// Whether `org` is `ancestor` or below it.
    pub fn is_within(&self, org: OrgKey, ancestor: OrgKey) -> bool {
        self.registry
            .read()
            .map(|r| r.is_within(org, ancestor))
            .unwrap_or(false)
    }

    /// All organizations.
    pub fn orgs(&self) -> Vec<Org> {
        self.registry.read().map(|r| r.all()).unwrap_or_default()
    }
}

/// Where the embedded database lives.
pub fn db_path(config: &Config) -> PathBuf {
    config.data_dir.join("sealtrail.db")
}

/// Makes sure an operator key exists: the configured one, or one generated
/// now (returned so the caller can show it once).
fn bootstrap_operator(store: &dyn Storage, config: &Config) -> anyhow::Result<Option<String>> {
    let existing = store
        .keys(None)?
        .into_iter()
        .filter(|k| k.kind == KeyKind::Operator && k.revoked_ms.is_none())
        .collect::<Vec<_>>();
    if let Some(token) = &config.operator_key {
        let (id, secret) = crate::auth::split_token(token).ok_or_else(|| {
            anyhow::anyhow!("operator_key must look like <id>.<secret> (as `sealtrail` prints it)")
        })?;
        let hash = crate::auth::secret_hash(secret);
        match store.key(id)? {
            Some(k) if k.secret_hash == hash && k.kind == KeyKind::Operator => {}
            Some(_) => anyhow::bail!("operator_key id {id} is already used by another key"),
            None => store.insert_key(&crate::storage::KeyRecord {
                id: id.to_string(),
                kind: KeyKind::Operator,
                secret_hash: hash,
                org: None,
                product: None,
                scopes: vec![],
                name: "configured operator key".into(),
                created_ms: crate::time::now_ms(),
                expires_ms: None,
                revoked_ms: None,
            })?,
        }
        return Ok(None);
    }
    if !existing.is_empty() {
        return Ok(None);
    }
    let minted = crate::auth::mint(
        KeyKind::Operator,
        None,
        None,
        vec![],
        "bootstrap operator key".into(),
        None,
    );
    store.insert_key(&minted.record)?;
    Ok(Some(minted.token))
}
