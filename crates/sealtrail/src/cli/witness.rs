//! `sealtrail witness`: an independent monitor of a server's logs.
//!
//! It remembers, in a state file, the last checkpoint it accepted for each
//! organization and the server's public keys (pinned at first run). Each
//! round it fetches the newest checkpoint, checks its signature with the
//! pinned keys, asks for a consistency proof from the size it last saw and
//! checks it. A log that shrank, forked or changed its history, or a
//! signing key that changed without the old one being listed as rotated,
//! is an alarm: the witness says which organization and which sizes, keeps
//! both signed notes as evidence, and exits nonzero.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use clap::Args;
use sealtrail_tlog::{Hash, NoteVerifier, open_checkpoint, verify_consistency};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ClientArgs;

/// The state file's format marker.
const STATE_FORMAT: &str = "sealtrail-witness-state/v1";

/// `sealtrail witness`.
#[derive(Args, Debug)]
pub struct WitnessArgs {
    /// The state file (created at first run).
    #[arg(long)]
    state: PathBuf,
    /// Organizations to watch; repeatable (default: every organization the
    /// key can read, which needs the read:activities scope).
    #[arg(long = "org")]
    orgs: Vec<String>,
    /// Pin this verifier key at first run instead of trusting what the
    /// server publishes then; repeatable.
    #[arg(long = "trust-key")]
    trust_keys: Vec<String>,
    /// Run one round and exit.
    #[arg(long)]
    once: bool,
    /// Seconds between rounds.
    #[arg(long, default_value_t = 60)]
    interval: u64,
    #[command(flatten)]
    client: ClientArgs,
}

/// What the witness remembers.
#[derive(Serialize, Deserialize, Debug, Default)]
pub struct WitnessState {
    /// Always [`STATE_FORMAT`].
    pub format: String,
    /// The server watched.
    pub url: String,
    /// Pinned verifier keys.
    pub keys: Vec<String>,
    /// Per organization id, the last accepted checkpoint.
    pub logs: BTreeMap<String, Seen>,
    /// Evidence of past alarms, kept so it is not lost.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<Alarm>,
}

/// The last checkpoint accepted for one log.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Seen {
    /// Tree size.
    pub tree_size: u64,
    /// Base64 root.
    pub root_hash: String,
    /// The signed note.
    pub note: String,
    /// When it was accepted.
    pub seen_at: String,
}

/// An alarm with its evidence.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Alarm {
    /// Organization id (empty for key alarms).
    pub organization_id: String,
    /// What was wrong.
    pub message: String,
    /// The previously accepted note.
    pub old_note: Option<String>,
    /// The offending note.
    pub new_note: Option<String>,
    /// When it was raised.
    pub at: String,
}

struct Client {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Client {
    async fn get(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header("x-api-key", &self.key)
            .header("accept", "application/json")
            .query(query)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach {}: {e}", self.base))?;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            anyhow::bail!(
                "{path}: {status}: {}",
                v.get("message").and_then(Value::as_str).unwrap_or("")
            );
        }
        Ok(v)
    }
}

fn load_state(path: &Path) -> anyhow::Result<Option<WitnessState>> {
    match std::fs::read(path) {
        Ok(b) => {
            let s: WitnessState = serde_json::from_slice(&b)
                .map_err(|e| anyhow::anyhow!("state file {}: {e}", path.display()))?;
            if s.format != STATE_FORMAT {
                anyhow::bail!(
                    "state file {} has format {:?}, expected {STATE_FORMAT:?}",
                    path.display(),
                    s.format
                );
            }
            Ok(Some(s))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
    }
}

/// Writes the state atomically, so a crash never leaves half a file.
fn save_state(path: &Path, s: &WitnessState) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(s)?)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| anyhow::anyhow!("cannot replace {}: {e}", path.display()))?;
    Ok(())
}

fn now() -> String {
    crate::time::fmt_ms(crate::time::now_ms())
}

fn decode_hash(s: &str) -> anyhow::Result<Hash> {
    let raw = B64.decode(s)?;
    raw.as_slice()
        .try_into()
        .map_err(|_| anyhow::anyhow!("a hash must be 32 bytes"))
}

/// Runs `sealtrail witness`.
pub async fn run(a: WitnessArgs) -> anyhow::Result<()> {
    let key = a.client.key.clone().ok_or_else(|| {
        anyhow::anyhow!("a compliance key with read:integrity is needed: pass --key")
    })?;
    let client = Client {
        base: a.client.url.trim_end_matches('/').to_string(),
        key,
        http: reqwest::Client::new(),
    };
    loop {
        let alarms = round(&a, &client).await?;
        if !alarms.is_empty() {
            for al in &alarms {
                eprintln!("ALARM {}: {}", al.organization_id, al.message);
            }
            anyhow::bail!(
                "{} alarms; evidence kept in {}",
                alarms.len(),
                a.state.display()
            );
        }
        if a.once {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(a.interval.max(1))).await;
    }
}

/// One round over every watched log. Returns the alarms raised (already
/// saved in the state file).
async fn round(a: &WitnessArgs, c: &Client) -> anyhow::Result<Vec<Alarm>> {
    let mut state = match load_state(&a.state)? {
        Some(s) => s,
        None => WitnessState {
            format: STATE_FORMAT.into(),
            url: c.base.clone(),
            ..WitnessState::default()
        },
    };
    let mut alarms = Vec::new();

    // Keys: pin at first run, then only accept a rotation that still
    // lists every pinned key.
    let published = c.get("/v1/integrity/keys", &[]).await?;
    let server_keys: Vec<String> = published["keys"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if state.keys.is_empty() {
        state.keys = if a.trust_keys.is_empty() {
            server_keys.clone()
        } else {
            a.trust_keys.clone()
        };
        println!("pinned {} verifier keys", state.keys.len());
    } else {
        let missing: Vec<&String> = state
            .keys
            .iter()
            .filter(|k| !server_keys.contains(k))
            .collect();
        if !missing.is_empty() {
            alarms.push(Alarm {
                organization_id: String::new(),
                message: format!(
                    "the server no longer publishes pinned key(s) {}: its signing key changed without a listed rotation",
                    missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ),
                old_note: None,
                new_note: None,
                at: now(),
            });
        } else {
            for k in &server_keys {
                if !state.keys.contains(k) {
                    println!("notice: the server rotated its signing key; now also trusting {k}");
                    state.keys.push(k.clone());
                }
            }
        }
    }
    let verifiers: Vec<NoteVerifier> = state
        .keys
        .iter()
        .filter_map(|k| NoteVerifier::parse(k).ok())
        .collect();
    if verifiers.is_empty() {
        anyhow::bail!("no usable verifier key is pinned");
    }
    let log_name = verifiers[0].name().to_string();

    let orgs: Vec<String> = if a.orgs.is_empty() {
        let v = c
            .get("/v1/compliance/organizations", &[])
            .await
            .map_err(|e| anyhow::anyhow!("{e} (pass --org to name the organizations to watch)"))?;
        v["data"]
            .as_array()
            .map(|d| {
                d.iter()
                    .filter_map(|o| o["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        a.orgs.clone()
    };

    for org in orgs {
        let cp = match c
            .get(
                "/v1/compliance/integrity/checkpoint",
                &[("organization_id", org.clone())],
            )
            .await
        {
            Ok(v) => v,
            Err(e) if e.to_string().contains("404") => {
                println!("{org}: no checkpoint yet");
                continue;
            }
            Err(e) => return Err(e),
        };
        let note = cp["note"].as_str().unwrap_or_default().to_string();
        let prev = state.logs.get(&org).cloned();
        let old_note = prev.as_ref().map(|p| p.note.clone());
        let alarm = |message: String| Alarm {
            organization_id: org.clone(),
            message,
            old_note: old_note.clone(),
            new_note: Some(note.clone()),
            at: now(),
        };
        let origin = format!("{log_name}/{org}");
        let opened = match open_checkpoint(&note, &verifiers, Some(&origin)) {
            Ok(o) => o,
            Err(e) => {
                alarms.push(alarm(format!(
                    "the newest checkpoint does not verify with the pinned keys: {e}"
                )));
                continue;
            }
        };
        let Some(prev) = prev else {
            println!("{org}: first checkpoint accepted at size {}", opened.size);
            state.logs.insert(org.clone(), seen(&opened, &note));
            continue;
        };
        let old_root = decode_hash(&prev.root_hash)?;
        if opened.size < prev.tree_size {
            alarms.push(alarm(format!(
                "the log shrank: size {} was seen, the server now signs size {}",
                prev.tree_size, opened.size
            )));
            continue;
        }
        if opened.size == prev.tree_size {
            if opened.root_hash != old_root {
                alarms.push(alarm(format!(
                    "two different roots were signed for size {}: the log forked",
                    opened.size
                )));
            }
            continue;
        }
        let proof = match c
            .get(
                "/v1/compliance/integrity/consistency",
                &[
                    ("organization_id", org.clone()),
                    ("first", prev.tree_size.to_string()),
                    ("second", opened.size.to_string()),
                ],
            )
            .await
        {
            Ok(v) => v["proof"]
                .as_array()
                .map(|p| {
                    p.iter()
                        .map(|h| decode_hash(h.as_str().unwrap_or_default()))
                        .collect::<anyhow::Result<Vec<Hash>>>()
                })
                .transpose()?
                .unwrap_or_default(),
            Err(e) => {
                alarms.push(alarm(format!(
                    "the server gave no consistency proof from size {} to {}: {e}",
                    prev.tree_size, opened.size
                )));
                continue;
            }
        };
        match verify_consistency(
            prev.tree_size,
            opened.size,
            &old_root,
            &opened.root_hash,
            &proof,
        ) {
            Ok(()) => {
                println!(
                    "{org}: size {} -> {} consistent",
                    prev.tree_size, opened.size
                );
                state.logs.insert(org.clone(), seen(&opened, &note));
            }
            Err(e) => alarms.push(alarm(format!(
                "the checkpoint at size {} is not consistent with the one at size {}: {e}",
                opened.size, prev.tree_size
            ))),
        }
    }
    state.alarms.extend(alarms.iter().cloned());
    save_state(&a.state, &state)?;
    Ok(alarms)
}

fn seen(cp: &sealtrail_tlog::Checkpoint, note: &str) -> Seen {
    Seen {
        tree_size: cp.size,
        root_hash: B64.encode(cp.root_hash),
        note: note.to_string(),
        seen_at: now(),
    }
}
