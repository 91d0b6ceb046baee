//! The tamper-evidence commands: `export` (client), `verify` (offline,
//! with only a public key) and `fsck` (offline, on a data directory).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use sealtrail_tlog::{NoteSigner, NoteVerifier};
use serde_json::{Map, Value, json};

use super::ClientArgs;
use super::client::FeedFilters;
use crate::bundle::verify::{parse_keys, verify_bytes};

/// `sealtrail export`: download an evidence bundle.
#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    filters: FeedFilters,
    /// Export the whole log of this organization (complete up to its
    /// checkpoint) instead of filtering.
    #[arg(long = "log", value_name = "ORG", conflicts_with_all = ["types", "exclude_types", "actors", "actor_emails", "api_keys", "orgs", "targets", "categories", "products", "ip", "outcome", "since", "until"])]
    whole_log: Option<String>,
    /// Prove the bundle's checkpoint consistent with one you already hold:
    /// ORG=TREE_SIZE; repeatable.
    #[arg(long = "consistency-from", value_name = "ORG=SIZE")]
    consistency_from: Vec<String>,
    /// Where to write the bundle.
    #[arg(long, short = 'o')]
    output: PathBuf,
    #[command(flatten)]
    client: ClientArgs,
}

/// `sealtrail verify`: check a bundle offline.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The bundle file.
    bundle: PathBuf,
    /// A trusted verifier key (`<name>+<id>+<base64>`); repeatable, for
    /// rotated keys.
    #[arg(long = "key")]
    keys: Vec<String>,
    /// A file of trusted verifier keys, one per line.
    #[arg(long)]
    key_file: Option<PathBuf>,
}

/// `sealtrail fsck`: verify a data directory offline.
#[derive(Args, Debug)]
pub struct FsckArgs {
    /// The server's data directory.
    #[arg(long)]
    data_dir: PathBuf,
    /// The log name checkpoint origins start with (default: the signing
    /// key's name, which is the log name).
    #[arg(long)]
    log_name: Option<String>,
}

fn filters_body(f: &FeedFilters) -> Map<String, Value> {
    let mut m = Map::new();
    let mut list = |k: &str, v: &[String]| {
        if !v.is_empty() {
            m.insert(k.into(), json!(v));
        }
    };
    list("activity_types", &f.types);
    list("exclude_activity_types", &f.exclude_types);
    list("actor_ids", &f.actors);
    list("actor_emails", &f.actor_emails);
    list("api_key_ids", &f.api_keys);
    list("organization_ids", &f.orgs);
    list("target_ids", &f.targets);
    list("categories", &f.categories);
    list("products", &f.products);
    for (k, v) in [
        ("ip_address", &f.ip),
        ("outcome", &f.outcome),
        ("created_at.gte", &f.since),
        ("created_at.lt", &f.until),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
    m
}

/// Runs `sealtrail export`.
pub async fn export(a: ExportArgs) -> anyhow::Result<()> {
    let key = a.client.key.clone().ok_or_else(|| {
        anyhow::anyhow!(
            "an API key with the export scope is needed: pass --key or set SEALTRAIL_KEY"
        )
    })?;
    let mut body = match &a.whole_log {
        Some(org) => {
            let mut m = Map::new();
            m.insert("organization_id".into(), json!(org));
            m
        }
        None => filters_body(&a.filters),
    };
    let mut from = BTreeMap::new();
    for c in &a.consistency_from {
        let (org, size) = c
            .split_once('=')
            .and_then(|(o, s)| Some((o.to_string(), s.parse::<u64>().ok()?)))
            .ok_or_else(|| anyhow::anyhow!("--consistency-from takes ORG=SIZE, not {c:?}"))?;
        from.insert(org, size);
    }
    if !from.is_empty() {
        body.insert("consistency_from".into(), json!(from));
    }
    let url = format!(
        "{}/v1/compliance/exports",
        a.client.url.trim_end_matches('/')
    );
    let resp = reqwest::Client::new()
        .post(&url)
        .header("x-api-key", key)
        .json(&Value::Object(body))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach {}: {e}", a.client.url))?;
    let status = resp.status();
    let bytes = resp.bytes().await?;
    if !status.is_success() {
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let msg = v
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        anyhow::bail!("{status}: {msg}");
    }
    let summary: Value = serde_json::from_slice(&bytes)
        .map_err(|e| anyhow::anyhow!("the server sent something that is not a bundle: {e}"))?;
    std::fs::write(&a.output, &bytes)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", a.output.display()))?;
    let events = summary["events"].as_array().map_or(0, Vec::len);
    let logs = summary["logs"].as_array().map_or(0, Vec::len);
    eprintln!(
        "wrote {} ({events} events from {logs} logs); check it with `sealtrail verify {} --key <vkey>`",
        a.output.display(),
        a.output.display()
    );
    Ok(())
}

/// Runs `sealtrail verify`: prints every failure, then the verdict; the
/// exit code is nonzero unless everything verified.
pub fn verify(a: VerifyArgs) -> anyhow::Result<()> {
    let mut keys = String::new();
    for k in &a.keys {
        keys.push_str(k);
        keys.push('\n');
    }
    if let Some(f) = &a.key_file {
        keys.push_str(
            &std::fs::read_to_string(f)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?,
        );
    }
    let trusted = parse_keys(&keys).map_err(|e| anyhow::anyhow!(e))?;
    if trusted.is_empty() {
        anyhow::bail!(
            "give the log's public key with --key <vkey> or --key-file <file>; the keys inside a bundle are not trusted"
        );
    }
    let bytes = std::fs::read(&a.bundle)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", a.bundle.display()))?;
    let report = verify_bytes(&bytes, &trusted);
    for p in &report.problems {
        println!("{p}");
    }
    for n in &report.notices {
        println!("note: {n}");
    }
    if report.ok() {
        println!("{}", report.summary());
        Ok(())
    } else {
        anyhow::bail!("{}", report.summary())
    }
}

/// The checkpoint verifiers of a data directory, read without creating
/// anything: the current key's verifier and the retired ones.
pub fn data_dir_verifiers(dir: &Path) -> anyhow::Result<(Vec<NoteVerifier>, String)> {
    let signer_dir = dir.join("signer");
    let cur = signer_dir.join("current.key");
    let text = std::fs::read_to_string(&cur).map_err(|e| {
        anyhow::anyhow!(
            "cannot read the signing key {}: {e} (is this a Sealtrail data directory?)",
            cur.display()
        )
    })?;
    let signer = NoteSigner::from_skey(text.trim())
        .map_err(|e| anyhow::anyhow!("signing key {}: {e}", cur.display()))?;
    let mut v = vec![signer.verifier()];
    if let Ok(t) = std::fs::read_to_string(signer_dir.join("retired.vkeys")) {
        v.extend(parse_keys(&t).map_err(|e| anyhow::anyhow!("retired.vkeys: {e}"))?);
    }
    Ok((v, signer.name().to_string()))
}

/// Runs `sealtrail fsck`.
pub fn fsck(a: FsckArgs) -> anyhow::Result<()> {
    let db = a.data_dir.join("sealtrail.db");
    if !db.exists() {
        anyhow::bail!("{} does not exist", db.display());
    }
    let (verifiers, key_name) = data_dir_verifiers(&a.data_dir)?;
    let log_name = a.log_name.unwrap_or(key_name);
    let store = crate::storage::sqlite::SqliteStore::open_read_only(&db)?;
    let report = crate::log::fsck::check_all(
        &store,
        &verifiers,
        &log_name,
        crate::log::fsck::Options { deep: true },
    )?;
    println!("fsck of {} (log name {log_name})", db.display());
    for l in &report.logs {
        println!(
            "  {}: {} rows ({} pruned), head {}, {} checkpoints: {}",
            l.org,
            l.rows,
            l.pruned,
            l.head,
            l.checkpoints,
            if l.ok { "ok" } else { "FAILED" }
        );
    }
    for f in &report.findings {
        println!("{f}");
    }
    if report.ok() {
        println!(
            "all {} logs verified: every leaf, tile, head and checkpoint matches",
            report.logs.len()
        );
        Ok(())
    } else {
        anyhow::bail!(
            "{} problems found; the database was changed behind the server's back",
            report.findings.len()
        )
    }
}
