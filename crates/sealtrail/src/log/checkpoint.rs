//! Signed checkpoints: the signing keys and the task that signs each log's
//! new size at a fixed interval.
//!
//! A checkpoint is signed only for a head read from committed storage, and
//! only after checking that it is consistent with the previous checkpoint
//! of the same log, so two inconsistent checkpoints are never signed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sealtrail_tlog::{Checkpoint, NoteSigner, NoteVerifier, sign_checkpoint, verify_consistency};

use crate::app::App;
use crate::storage::{CheckpointRecord, Org};
use crate::time::now_ms;

/// The current signing key and the verifier keys of retired ones.
#[derive(Clone)]
pub struct SignerKeys {
    /// Signs new checkpoints.
    pub current: Arc<NoteSigner>,
    /// Verifies checkpoints signed before a rotation.
    pub retired: Vec<NoteVerifier>,
}

fn signer_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("signer")
}

impl SignerKeys {
    /// Loads the signing key from `<data_dir>/signer/current.key`, creating
    /// it (mode 0600) at first start; retired verifier keys are read from
    /// `<data_dir>/signer/retired.vkeys`, one per line.
    pub fn load_or_create(data_dir: &Path, log_name: &str) -> anyhow::Result<SignerKeys> {
        let dir = signer_dir(data_dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join("current.key");
        let current = match std::fs::read_to_string(&path) {
            Ok(text) => NoteSigner::from_skey(text.trim())
                .map_err(|e| anyhow::anyhow!("signing key {}: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let s = NoteSigner::generate(log_name)
                    .map_err(|e| anyhow::anyhow!("cannot create a signing key: {e}"))?;
                crate::config::write_private(&path, format!("{}\n", s.to_skey()).as_bytes())
                    .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
                s
            }
            Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
        };
        let mut retired = Vec::new();
        if let Ok(text) = std::fs::read_to_string(dir.join("retired.vkeys")) {
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                retired.push(
                    NoteVerifier::parse(line)
                        .map_err(|e| anyhow::anyhow!("retired.vkeys: {line:?}: {e}"))?,
                );
            }
        }
        Ok(SignerKeys {
            current: Arc::new(current),
            retired,
        })
    }

    /// Retires the current key (its verifier key stays published) and
    /// creates a new one. Takes effect at the next start.
    pub fn rotate(data_dir: &Path, log_name: &str) -> anyhow::Result<String> {
        let keys = SignerKeys::load_or_create(data_dir, log_name)?;
        let dir = signer_dir(data_dir);
        let mut retired = std::fs::read_to_string(dir.join("retired.vkeys")).unwrap_or_default();
        retired.push_str(&keys.current.verifier_key());
        retired.push('\n');
        std::fs::write(dir.join("retired.vkeys"), retired)?;
        std::fs::remove_file(dir.join("current.key"))?;
        let fresh = SignerKeys::load_or_create(data_dir, log_name)?;
        Ok(fresh.current.verifier_key())
    }

    /// Every verifier key, current first.
    pub fn verifier_keys(&self) -> Vec<String> {
        let mut v = vec![self.current.verifier_key()];
        v.extend(self.retired.iter().map(|r| {
            // NoteVerifier has no formatter of its own; rebuild the vkey.
            vkey_of(r)
        }));
        v
    }

    /// Every verifier.
    pub fn verifiers(&self) -> Vec<NoteVerifier> {
        let mut v = vec![self.current.verifier()];
        v.extend(self.retired.iter().cloned());
        v
    }
}

fn vkey_of(v: &NoteVerifier) -> String {
    use base64::Engine as _;
    let mut raw = vec![1u8];
    raw.extend_from_slice(v.verifying_key().as_bytes());
    format!(
        "{}+{:08x}+{}",
        v.name(),
        v.key_id(),
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// The origin line of an organization's log.
pub fn origin(log_name: &str, org_id: &str) -> String {
    format!("{log_name}/{org_id}")
}

/// The lease that makes one node the checkpoint signer.
pub const SIGNER_LEASE: &str = "checkpoint-signer";

/// Signs a checkpoint for every log that grew since its last one.
pub fn sign_due(app: &App) -> anyhow::Result<usize> {
    // Where several nodes share the store, one signs at a time: the holder
    // of the signer lease. If it dies, its lease ends with its database
    // session and the next node to try takes over.
    if app.store.shared() && !app.store.try_lease(SIGNER_LEASE)? {
        return Ok(0);
    }
    let mut signed = 0;
    for org in app.orgs() {
        if sign_org(app, &org)? {
            signed += 1;
        }
    }
    Ok(signed)
}

/// Signs a checkpoint for one log if it grew. Returns whether it signed.
pub fn sign_org(app: &App, org: &Org) -> anyhow::Result<bool> {
    let head = app.store.head(org.key)?;
    let size = head.frontier.size();
    if size == 0 {
        return Ok(false);
    }
    let root = head.frontier.root();
    let prev = app.store.latest_checkpoint(org.key)?;
    if let Some(p) = &prev {
        if p.size >= size {
            return Ok(false);
        }
        // From storage, not the tile cache: this checks the stored log.
        let tiles = crate::log::proofs::TileCache::off();
        let proof =
            crate::log::proofs::consistency(app.store.as_ref(), &tiles, org.key, p.size, size)
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        verify_consistency(p.size, size, &p.root, &root, &proof).map_err(|e| {
            anyhow::anyhow!(
                "refusing to sign: log of {} at size {size} is not consistent with its checkpoint at size {}: {e}",
                org.id,
                p.size
            )
        })?;
    }
    let cp = Checkpoint::new(origin(&app.config.log_name, &org.id), size, root);
    let note = sign_checkpoint(&cp, &app.signer.current)
        .map_err(|e| anyhow::anyhow!("cannot sign checkpoint: {e}"))?;
    app.store.insert_checkpoint(&CheckpointRecord {
        org: org.key,
        size,
        root,
        note,
        signed_ms: now_ms(),
    })?;
    app.metrics.checkpoints_signed.inc();
    Ok(true)
}

/// Signs checkpoints every `interval` until `stop` fires, then once more.
pub async fn run(app: Arc<App>, interval: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        let a = app.clone();
        match tokio::task::spawn_blocking(move || sign_due(&a)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "checkpoint signing failed"),
            Err(e) => tracing::error!(error = %e, "checkpoint task panicked"),
        }
    }
    let a = app.clone();
    let _ = tokio::task::spawn_blocking(move || sign_due(&a)).await;
}
