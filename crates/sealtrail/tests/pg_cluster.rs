//! Three `sealtrail serve` processes on one PostgreSQL database, sharing
//! the master key and the checkpoint signing key, ingesting concurrently
//! into the same organizations. Each organization's log must stay gap-free
//! with no duplicates and verify from any node; one node signs at a time,
//! and another takes over when the signer is killed.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::{Client, StatusCode};
use sealtrail_tlog::{NoteVerifier, open_checkpoint, verify_consistency, verify_inclusion};
use serde_json::{Value, json};

const OPERATOR: &str = "opk_cluster.clustertestsecretclustertestsecret";

struct Node {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a node whose data directory holds copies of `keys`' key files.
fn node(url: &str, keys: &Path) -> Node {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("signer")).unwrap();
    for f in ["master.key", "signer/current.key"] {
        std::fs::copy(keys.join(f), dir.path().join(f)).unwrap();
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_sealtrail"))
        .args(["serve", "--listen", "127.0.0.1:0", "--storage", url])
        .arg("--data-dir")
        .arg(dir.path())
        .env("SEALTRAIL_OPERATOR_KEY", OPERATOR)
        .env("SEALTRAIL_CHECKPOINT_INTERVAL_MS", "200")
        .env("SEALTRAIL_RATE_LIMIT_PER_MINUTE", "1000000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .strip_prefix("Sealtrail listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_string();
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Node {
        child,
        base: addr,
        _dir: dir,
    }
}

async fn call(
    http: &Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = http
        .request(method, format!("{base}{path}"))
        .header("x-api-key", key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn post(
    http: &Client,
    base: &str,
    path: &str,
    key: &str,
    body: Value,
) -> (StatusCode, Value) {
    call(http, base, reqwest::Method::POST, path, key, Some(body)).await
}

async fn get(http: &Client, base: &str, path: &str, key: &str) -> (StatusCode, Value) {
    call(http, base, reqwest::Method::GET, path, key, None).await
}

fn event(org: &str, sid: &str) -> Value {
    json!({
        "source_event_id": sid,
        "type": "file.downloaded",
        "created_at": "2026-12-04T10:00:00Z",
        "organization_id": org,
        "actor": {"type": "user", "id": format!("user_{}", sid.len() % 5), "email": "a@example.com"},
        "target": {"type": "file", "id": sid}
    })
}

fn hashes(v: &Value) -> Vec<[u8; 32]> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| B64.decode(h.as_str().unwrap()).unwrap().try_into().unwrap())
        .collect()
}

fn b64_32(v: &Value) -> [u8; 32] {
    B64.decode(v.as_str().unwrap()).unwrap().try_into().unwrap()
}

async fn signed_total(http: &Client, base: &str) -> Option<u64> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|l| l.starts_with("sealtrail_checkpoints_signed_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
}

/// A checkpoint of at least `min` leaves, read from `base`.
async fn checkpoint(http: &Client, base: &str, ck: &str, org: &str, min: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (s, v) = get(
            http,
            base,
            &format!("/v1/compliance/integrity/checkpoint?organization_id={org}"),
            ck,
        )
        .await;
        if s == StatusCode::OK && v["tree_size"].as_u64().unwrap_or(0) >= min {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint of size >= {min} on {base}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_ingest_concurrently_and_every_log_stays_gap_free_and_verifiable() {
    let url = match sealtrail::storage::postgres::test_database("cluster") {
        Ok(Some(u)) => u,
        Ok(None) => {
            eprintln!("skipped: SEALTRAIL_TEST_PG_URL is not set");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    // One set of keys, copied to every node.
    let keys = tempfile::tempdir().unwrap();
    sealtrail::privacy::crypto::MasterKey::load_or_create(&keys.path().join("master.key")).unwrap();
    sealtrail::log::checkpoint::SignerKeys::load_or_create(keys.path(), "sealtrail.local").unwrap();
    // Started one after the other: the first applies the migrations and
    // registers the configured operator key.
    let mut nodes: Vec<Option<Node>> = Vec::new();
    for _ in 0..3 {
        nodes.push(Some(node(&url, keys.path())));
    }
    let bases: Vec<String> = nodes
        .iter()
        .map(|n| n.as_ref().unwrap().base.clone())
        .collect();
    let http = Client::new();

    // Organizations and keys, made on node 0.
    let orgs = ["org_one", "org_two"];
    let mut ingest_keys = HashMap::new();
    let mut compliance_keys = HashMap::new();
    for o in orgs {
        let b = &bases[0];
        let (s, v) = post(
            &http,
            b,
            "/v1/operator/organizations",
            OPERATOR,
            json!({"id": o, "name": o}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let (s, _) = post(
            &http,
            b,
            &format!("/v1/operator/organizations/{o}/enable"),
            OPERATOR,
            json!({}),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        let (_, ik) = post(
            &http,
            b,
            "/v1/operator/keys",
            OPERATOR,
            json!({"kind": "ingest", "organization_id": o, "product": "platform"}),
        )
        .await;
        let (_, ck) = post(&http, b, "/v1/operator/keys", OPERATOR, json!({"kind": "compliance", "organization_id": o, "scopes": ["read:activities", "read:integrity"]})).await;
        ingest_keys.insert(o, ik["token"].as_str().unwrap().to_string());
        compliance_keys.insert(o, ck["token"].as_str().unwrap().to_string());
    }
    // Every node sees the enabled organizations (their directories follow
    // the store's notices).
    for b in &bases {
        for o in orgs {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let (s, v) = post(
                    &http,
                    b,
                    "/v1/ingest/activities",
                    &ingest_keys[o],
                    json!([event(o, &format!("probe-{b}"))]),
                )
                .await;
                if s == StatusCode::OK && v["refused"] == 0 {
                    break;
                }
                assert!(Instant::now() < deadline, "{b} never accepted {o}: {v}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    // Concurrent ingest: each node gets its own stream of batches for both
    // organizations, and re-sends batches first sent to the next node (so
    // retries cross nodes).
    const BATCHES: usize = 12;
    const PER_BATCH: usize = 50;
    let mut tasks = Vec::new();
    for (n, b) in bases.iter().enumerate() {
        for o in orgs {
            let (http, b, key) = (http.clone(), b.clone(), ingest_keys[o].clone());
            let other = (n + 1) % bases.len();
            tasks.push(tokio::spawn(async move {
                let mut results = Vec::new();
                for i in 0..BATCHES {
                    for src in [n, other] {
                        let batch: Vec<Value> = (0..PER_BATCH)
                            .map(|k| event(o, &format!("n{src}-b{i}-e{k}")))
                            .collect();
                        let (s, v) = post(
                            &http,
                            &b,
                            "/v1/ingest/activities",
                            &key,
                            Value::Array(batch),
                        )
                        .await;
                        assert_eq!(s, StatusCode::OK, "{v}");
                        assert_eq!(v["refused"], 0, "{v}");
                        for (k, r) in v["results"].as_array().unwrap().iter().enumerate() {
                            results.push((
                                o,
                                format!("n{src}-b{i}-e{k}"),
                                r["status"].as_str().unwrap().to_string(),
                                r["id"].as_str().unwrap().to_string(),
                            ));
                        }
                    }
                }
                results
            }));
        }
    }
    let mut by_sid: HashMap<(&str, String), String> = HashMap::new();
    let mut accepted = 0;
    for t in tasks {
        for (o, sid, status, id) in t.await.unwrap() {
            if status == "accepted" {
                accepted += 1;
            }
            // Every answer for one source event names the same activity.
            let prev = by_sid.insert((o, sid.clone()), id.clone());
            assert!(
                prev.is_none() || prev.as_deref() == Some(id.as_str()),
                "{o}/{sid}: {prev:?} vs {id}"
            );
        }
    }
    let distinct = 3 * 2 * BATCHES * PER_BATCH;
    assert_eq!(by_sid.len(), distinct);
    assert_eq!(
        accepted, distinct,
        "each source event is accepted exactly once"
    );

    // The feed, paged from each node, holds every acknowledged event once,
    // and the organization's sequence is gap-free from 0.
    for o in orgs {
        let ck = &compliance_keys[o];
        let acked: HashSet<&String> = by_sid
            .iter()
            .filter(|((org, _), _)| *org == o)
            .map(|(_, id)| id)
            .collect();
        for b in &bases {
            let mut after: Option<String> = None;
            let mut ids = HashSet::new();
            let mut seqs = Vec::new();
            loop {
                let mut path =
                    format!("/v1/compliance/activities?order=asc&limit=500&organization_ids[]={o}");
                if let Some(a) = &after {
                    path.push_str(&format!("&after_id={a}"));
                }
                let (s, page) = get(&http, b, &path, ck).await;
                assert_eq!(s, StatusCode::OK, "{page}");
                for e in page["data"].as_array().unwrap() {
                    assert!(
                        ids.insert(e["id"].as_str().unwrap().to_string()),
                        "duplicate in feed"
                    );
                    seqs.push(e["log"]["seq"].as_u64().unwrap());
                }
                if page["has_more"] != true {
                    break;
                }
                after = page["last_id"].as_str().map(str::to_string);
            }
            assert!(
                acked.iter().all(|id| ids.contains(*id)),
                "{b} misses acknowledged events of {o}"
            );
            let n = seqs.len() as u64;
            seqs.sort();
            assert_eq!(
                seqs,
                (0..n).collect::<Vec<_>>(),
                "{o} on {b}: sequence has gaps or repeats"
            );
        }
    }

    // Checkpoints from the signer verify; proofs from any node verify.
    let (_, keys_doc) = get(&http, &bases[1], "/v1/integrity/keys", "").await;
    let verifier = NoteVerifier::parse(keys_doc["current"].as_str().unwrap()).unwrap();
    let o = orgs[0];
    let ck = &compliance_keys[o];
    let min = (distinct / 2) as u64;
    let cp1 = checkpoint(&http, &bases[2], ck, o, min).await;
    let size1 = cp1["tree_size"].as_u64().unwrap();
    let root1 = b64_32(&cp1["root_hash"]);
    let opened = open_checkpoint(
        cp1["note"].as_str().unwrap(),
        std::slice::from_ref(&verifier),
        None,
    )
    .unwrap();
    assert_eq!((opened.size, opened.root_hash), (size1, root1));
    let sample = by_sid[&(o, "n2-b5-e7".to_string())].clone();
    for b in &bases {
        let (s, p) = get(
            &http,
            b,
            &format!("/v1/compliance/integrity/inclusion?activity_id={sample}&tree_size={size1}"),
            ck,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{p}");
        verify_inclusion(
            &b64_32(&p["leaf_hash"]),
            p["leaf_index"].as_u64().unwrap(),
            size1,
            &hashes(&p["proof"]),
            &root1,
        )
        .unwrap();
    }

    // Exactly one node signs. Kill it; another takes over.
    let mut totals = Vec::new();
    for b in &bases {
        totals.push(signed_total(&http, b).await.unwrap_or(0));
    }
    let signers: Vec<usize> = (0..3).filter(|i| totals[*i] > 0).collect();
    assert_eq!(signers.len(), 1, "one signer at a time: {totals:?}");
    let dead = signers[0];
    nodes[dead] = None; // SIGKILL: its database session, and its lease, end
    let alive: Vec<usize> = (0..3).filter(|i| *i != dead).collect();
    let b = &bases[alive[0]];
    let batch: Vec<Value> = (0..20)
        .map(|k| event(o, &format!("after-kill-{k}")))
        .collect();
    let (s, v) = post(
        &http,
        b,
        "/v1/ingest/activities",
        &ingest_keys[o],
        Value::Array(batch),
    )
    .await;
    assert_eq!(
        (s, v["accepted"].as_u64()),
        (StatusCode::OK, Some(20)),
        "{v}"
    );
    let head_after = v["results"][19]["seq"].as_u64().unwrap() + 1;
    let cp2 = checkpoint(&http, &bases[alive[1]], ck, o, head_after).await;
    let size2 = cp2["tree_size"].as_u64().unwrap();
    let root2 = b64_32(&cp2["root_hash"]);
    open_checkpoint(cp2["note"].as_str().unwrap(), &[verifier], None).unwrap();
    let (s, cons) = get(
        &http,
        b,
        &format!(
            "/v1/compliance/integrity/consistency?organization_id={o}&first={size1}&second={size2}"
        ),
        ck,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{cons}");
    verify_consistency(size1, size2, &root1, &root2, &hashes(&cons["proof"])).unwrap();
    let mut new_signers = 0;
    for i in &alive {
        if signed_total(&http, &bases[*i]).await.unwrap_or(0) > 0 {
            new_signers += 1;
        }
    }
    assert_eq!(new_signers, 1, "one surviving node took over signing");
}
