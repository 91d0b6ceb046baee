//! Inclusion and consistency proof latency, through the API and through
//! the library directly on the same storage (the limit: no HTTP, no JSON,
//! no audit record), for random leaves of the largest log of the set.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::mix::{self, Rng};
use super::sys::p50_p99;
use super::{Harness, progress};
use crate::ids::ActivityId;
use crate::log::proofs;

/// One proof kind.
#[derive(Clone, Debug, Serialize)]
pub struct ProofFigure {
    /// `inclusion` or `consistency`.
    pub kind: String,
    /// Size of the tree the proofs are against.
    pub tree_size: u64,
    /// Samples.
    pub samples: usize,
    /// API p50 (ms).
    pub api_p50_ms: f64,
    /// API p99 (ms).
    pub api_p99_ms: f64,
    /// Library p50 (ms).
    pub lib_p50_ms: f64,
    /// Library p99 (ms).
    pub lib_p99_ms: f64,
}

/// Measures both proof kinds.
pub async fn run(h: &Harness, samples: usize) -> anyhow::Result<Vec<ProofFigure>> {
    let org = h.acme_key()?;
    // Wait for a checkpoint that covers (nearly) the whole log.
    let waited = Instant::now();
    let cp = loop {
        let head = h.app.store.head(org)?.frontier.size();
        if let Some(cp) = h.app.store.latest_checkpoint(org)?
            && (cp.size * 10 >= head * 9 || waited.elapsed() > Duration::from_secs(15))
        {
            break cp;
        }
        if waited.elapsed() > Duration::from_secs(30) {
            anyhow::bail!("no checkpoint was signed within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let size = cp.size;
    let mut r = Rng::new(size);
    let mut ids = Vec::with_capacity(samples);
    let mut seqs = Vec::with_capacity(samples);
    for _ in 0..samples {
        let seq = r.below(size);
        if let Some(ev) = h.app.store.event_by_seq(org, seq)? {
            ids.push(ActivityId::new(ev.received_ms as u64, ev.gseq).to_string());
            seqs.push(seq);
        }
    }
    let firsts: Vec<u64> = (0..samples).map(|_| 1 + r.below(size.max(2) - 1)).collect();

    let http = h.http.clone();
    let base = h.base.clone();
    let key = h.reader_key.clone();
    let (ids2, firsts2) = (ids.clone(), firsts.clone());
    let (mut inc_api, mut con_api) = h
        .on_load(async move {
            let mut inc = Vec::new();
            for id in &ids2 {
                let url = format!(
                    "{base}/v1/compliance/integrity/inclusion?activity_id={id}&tree_size={size}"
                );
                inc.push(timed_get(&http, &url, &key).await?);
            }
            let mut con = Vec::new();
            for f in &firsts2 {
                let url = format!(
                    "{base}/v1/compliance/integrity/consistency?organization_id={}&first={f}&second={size}",
                    mix::ORGS[0].0
                );
                con.push(timed_get(&http, &url, &key).await?);
            }
            Ok((inc, con))
        })
        .await?;
    let app = h.app.clone();
    let (mut inc_lib, mut con_lib) =
        tokio::task::spawn_blocking(move || -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
            let store = app.store.as_ref();
            // The library figures read storage for every proof.
            let tiles = crate::log::proofs::TileCache::off();
            let mut inc = Vec::new();
            for &seq in &seqs {
                let t = Instant::now();
                let p = proofs::inclusion(store, &tiles, org, seq, size)
                    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
                inc.push(t.elapsed().as_secs_f64() * 1e3);
                std::hint::black_box(p);
            }
            let mut con = Vec::new();
            for &f in &firsts {
                let t = Instant::now();
                let p = proofs::consistency(store, &tiles, org, f, size)
                    .map_err(|e| anyhow::anyhow!("{}", e.message))?;
                con.push(t.elapsed().as_secs_f64() * 1e3);
                std::hint::black_box(p);
            }
            Ok((inc, con))
        })
        .await??;
    let mut out = Vec::new();
    for (kind, api, lib) in [
        ("inclusion", &mut inc_api, &mut inc_lib),
        ("consistency", &mut con_api, &mut con_lib),
    ] {
        let (a50, a99) = p50_p99(api);
        let (l50, l99) = p50_p99(lib);
        progress(format!(
            "proofs: {kind} (tree of {size}): API p50 {a50:.2} ms p99 {a99:.2} ms; library p50 {l50:.3} ms p99 {l99:.3} ms"
        ));
        out.push(ProofFigure {
            kind: kind.into(),
            tree_size: size,
            samples: api.len(),
            api_p50_ms: a50,
            api_p99_ms: a99,
            lib_p50_ms: l50,
            lib_p99_ms: l99,
        });
    }
    Ok(out)
}

async fn timed_get(http: &reqwest::Client, url: &str, key: &str) -> anyhow::Result<f64> {
    let t = Instant::now();
    let resp = http.get(url).header("x-api-key", key).send().await?;
    let status = resp.status();
    let body = resp.bytes().await?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    if !status.is_success() {
        anyhow::bail!(
            "{url} answered {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        );
    }
    Ok(ms)
}
