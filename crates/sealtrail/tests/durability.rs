//! Durable before acknowledged: the real binary is killed with SIGKILL in
//! the middle of sustained ingest, restarted on the same data directory,
//! and must hold every event it acknowledged, in gap-free logs that still
//! prove themselves. On PostgreSQL (`SEALTRAIL_TEST_ENGINE=postgres`) the
//! binary is started with `--storage postgres://…` and killed the same way.

mod common;

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::event_sid;
use sealtrail_tlog::{Hash, NoteVerifier, open_checkpoint, verify_consistency, verify_inclusion};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const ORGS: [&str; 3] = ["org-a", "org-b", "org-c"];

/// The binary, serving on a port it picks itself.
struct Proc {
    child: Child,
    base: String,
    operator: Option<String>,
}

async fn spawn(dir: &std::path::Path, storage: &str) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealtrail"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir);
    if !storage.is_empty() {
        cmd.args(["--storage", storage]);
    }
    let mut child = cmd
        .env("SEALTRAIL_CHECKPOINT_INTERVAL_MS", "200")
        .env("SEALTRAIL_LOG", "warn")
        .env_remove("SEALTRAIL_OPERATOR_KEY")
        .env_remove("SEALTRAIL_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let read = async {
        let mut base = None;
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(addr) = line.strip_prefix("Sealtrail listening on ") {
                base = Some(addr.trim().to_string());
            } else if line.starts_with("API docs") {
                break;
            }
        }
        // At first start, a blank line, a heading and the key follow at once.
        let mut operator = None;
        if let Ok(Ok(Some(blank))) =
            tokio::time::timeout(Duration::from_secs(1), lines.next_line()).await
        {
            assert!(blank.trim().is_empty(), "unexpected output {blank:?}");
            let heading = lines.next_line().await.unwrap().unwrap();
            assert!(heading.starts_with("Operator key"), "{heading:?}");
            operator = Some(lines.next_line().await.unwrap().unwrap().trim().to_string());
        }
        (base.expect("the listening address is printed"), operator)
    };
    let (base, operator) = tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("the server starts within 30 s");
    // Keep reading so the server never writes into a closed pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Proc {
        child,
        base,
        operator,
    }
}

#[derive(Clone)]
struct Http {
    base: String,
    http: reqwest::Client,
}

impl Http {
    async fn get(&self, path: &str, key: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{}", self.base, path))
            .header("x-api-key", key)
            .send()
            .await
            .expect("answered");
        let st = r.status().as_u16();
        (st, r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, key: &str, body: &Value) -> Result<(u16, Value), String> {
        let r = self
            .http
            .post(format!("{}{}", self.base, path))
            .header("x-api-key", key)
            .json(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let st = r.status().as_u16();
        let body = r.json().await.map_err(|e| e.to_string())?;
        Ok((st, body))
    }

    async fn all(&self, key: &str, org: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut after = String::new();
        loop {
            let (st, b) = self
                .get(
                    &format!(
                        "/v1/compliance/activities?order=asc&limit=5000&organization_ids[]={org}{after}"
                    ),
                    key,
                )
                .await;
            assert_eq!(st, 200, "{b}");
            out.extend(b["data"].as_array().unwrap().iter().cloned());
            if !b["has_more"].as_bool().unwrap() {
                return out;
            }
            after = format!("&after_id={}", b["last_id"].as_str().unwrap());
        }
    }

    /// Waits for a checkpoint of at least `size` leaves.
    async fn checkpoint(&self, key: &str, org: &str, size: u64) -> Value {
        for _ in 0..200 {
            let (st, b) = self
                .get(
                    &format!("/v1/compliance/integrity/checkpoint?organization_id={org}"),
                    key,
                )
                .await;
            if st == 200 && b["tree_size"].as_u64().unwrap() >= size {
                return b;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no checkpoint of {org} covers {size} leaves");
    }
}

fn hash(b64: &str) -> Hash {
    B64.decode(b64).unwrap().try_into().unwrap()
}

/// What one ingester learned: acknowledged events and batches whose fate it
/// could not know (sent when the server died).
#[derive(Default)]
struct Learned {
    acked: Vec<(String, String, u64)>,
    unknown: Vec<Vec<Value>>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_server_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sealtrail::testing::storage("durability");
    let mut p = spawn(dir.path(), &storage).await;
    let operator = p
        .operator
        .clone()
        .expect("first start prints the operator key");
    let c = Http {
        base: p.base.clone(),
        http: reqwest::Client::new(),
    };

    let mut ingest = HashMap::new();
    let mut read = HashMap::new();
    for org in ORGS {
        let (st, _) = c
            .post(
                "/v1/operator/organizations",
                &operator,
                &json!({"id": org, "name": org}),
            )
            .await
            .unwrap();
        assert_eq!(st, 201);
        let (st, _) = c
            .post(
                &format!("/v1/operator/organizations/{org}/enable"),
                &operator,
                &json!({}),
            )
            .await
            .unwrap();
        assert_eq!(st, 200);
        for (body, map) in [
            (
                json!({"kind": "ingest", "organization_id": org, "product": "platform"}),
                &mut ingest,
            ),
            (
                json!({"kind": "compliance", "organization_id": org,
                       "scopes": ["read:activities", "read:integrity"]}),
                &mut read,
            ),
        ] {
            let (st, b) = c.post("/v1/operator/keys", &operator, &body).await.unwrap();
            assert_eq!(st, 201, "{b}");
            map.insert(org, b["token"].as_str().unwrap().to_string());
        }
    }
    let ingest = Arc::new(ingest);

    // Sustained ingest from six concurrent sources.
    let stop = Arc::new(AtomicBool::new(false));
    let acked_total = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for w in 0..6 {
        let org = ORGS[w % 3];
        let (c, ingest, stop, total) =
            (c.clone(), ingest.clone(), stop.clone(), acked_total.clone());
        workers.push(tokio::spawn(async move {
            let mut l = Learned::default();
            for n in 0.. {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let batch: Vec<Value> = (0..20)
                    .map(|i| event_sid(org, "file.created", &format!("w{w}-{n}-{i}")))
                    .collect();
                match c
                    .post(
                        "/v1/ingest/activities",
                        &ingest[org],
                        &Value::from(batch.clone()),
                    )
                    .await
                {
                    Ok((200, b)) => {
                        for (e, r) in batch.iter().zip(b["results"].as_array().unwrap()) {
                            assert_eq!(r["status"], "accepted", "{r}");
                            l.acked.push((
                                e["source_event_id"].as_str().unwrap().to_string(),
                                r["id"].as_str().unwrap().to_string(),
                                r["seq"].as_u64().unwrap(),
                            ));
                        }
                        total.fetch_add(batch.len(), Ordering::SeqCst);
                    }
                    Ok((st, b)) => panic!("ingest answered {st}: {b}"),
                    Err(_) => {
                        l.unknown.push(batch);
                        break;
                    }
                }
            }
            (org, l)
        }));
    }

    // A checkpoint signed before the crash, to hold the log to later.
    let before = c.checkpoint(&read["org-a"], "org-a", 50).await;
    let (_, keys_before) = c.get("/v1/integrity/keys", &read["org-a"]).await;

    let started = Instant::now();
    while acked_total.load(Ordering::SeqCst) < 3000 && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    p.child.start_kill().unwrap();
    let status = p.child.wait().await.unwrap();
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "killed with SIGKILL");
    }
    stop.store(true, Ordering::SeqCst);
    let mut learned: HashMap<&str, Learned> = HashMap::new();
    for w in workers {
        let (org, l) = w.await.unwrap();
        let e = learned.entry(org).or_default();
        e.acked.extend(l.acked);
        e.unknown.extend(l.unknown);
    }
    let acked: usize = learned.values().map(|l| l.acked.len()).sum();
    assert!(
        acked >= 1000,
        "only {acked} events were acknowledged before the kill"
    );

    // Restart on the same data directory.
    let p2 = spawn(dir.path(), &storage).await;
    assert!(p2.operator.is_none(), "the operator key is shown only once");
    let c = Http {
        base: p2.base.clone(),
        http: reqwest::Client::new(),
    };
    let (_, keys_after) = c.get("/v1/integrity/keys", &read["org-a"]).await;
    assert_eq!(keys_after["current"], keys_before["current"]);
    let verifier = NoteVerifier::parse(keys_after["current"].as_str().unwrap()).unwrap();

    for org in ORGS {
        let key = &read[org];
        let l = &learned[org];
        let events = c.all(key, org).await;

        // Gap-free: the log is 0..n-1, in commit order.
        let seqs: Vec<u64> = events
            .iter()
            .map(|e| e["log"]["seq"].as_u64().unwrap())
            .collect();
        let expected: Vec<u64> = (0..seqs.len() as u64).collect();
        assert_eq!(seqs, expected, "{org}: sequence has gaps or repeats");

        // Every acknowledged event is there, where it was acknowledged.
        let by_id: HashMap<&str, &Value> = events
            .iter()
            .map(|e| (e["id"].as_str().unwrap(), e))
            .collect();
        for (sid, id, seq) in &l.acked {
            let e = by_id
                .get(id.as_str())
                .unwrap_or_else(|| panic!("{org}: acknowledged {id} ({sid}) is lost"));
            assert_eq!(e["log"]["seq"], *seq, "{org}: {id}");
            assert_eq!(e["source_event_id"], sid.as_str());
        }

        // A batch in flight at the kill is stored whole or not at all, and
        // a retry completes it exactly once.
        for batch in &l.unknown {
            let (st, b) = c
                .post(
                    "/v1/ingest/activities",
                    &ingest[org],
                    &Value::from(batch.clone()),
                )
                .await
                .unwrap();
            assert_eq!(st, 200, "{b}");
            let kinds: HashSet<&str> = b["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["status"].as_str().unwrap())
                .collect();
            assert_eq!(kinds.len(), 1, "{org}: a batch was half stored: {kinds:?}");
        }
        let events = c.all(key, org).await;
        let sids: Vec<&str> = events
            .iter()
            .filter_map(|e| e["source_event_id"].as_str())
            .collect();
        let unique: HashSet<&str> = sids.iter().copied().collect();
        assert_eq!(
            unique.len(),
            sids.len(),
            "{org}: a source event is stored twice"
        );
        assert!(sids.len() >= l.acked.len() + 20 * l.unknown.len());
        let seqs: Vec<u64> = events
            .iter()
            .map(|e| e["log"]["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());

        // Checkpoints and proofs still work, and the log after the crash
        // extends the one signed before it.
        let cp = c.checkpoint(key, org, seqs.len() as u64).await;
        let opened = open_checkpoint(
            cp["note"].as_str().unwrap(),
            std::slice::from_ref(&verifier),
            Some(cp["origin"].as_str().unwrap()),
        )
        .expect("the checkpoint is signed by the log's key");
        assert_eq!(opened.size, cp["tree_size"].as_u64().unwrap());
        for (_, id, seq) in [l.acked.first().unwrap(), l.acked.last().unwrap()] {
            let (st, inc) = c
                .get(
                    &format!(
                        "/v1/compliance/integrity/inclusion?activity_id={id}&tree_size={}",
                        opened.size
                    ),
                    key,
                )
                .await;
            assert_eq!(st, 200, "{inc}");
            assert_eq!(inc["leaf_hash"], by_id[id.as_str()]["log"]["leaf_hash"]);
            let proof: Vec<Hash> = inc["proof"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| hash(h.as_str().unwrap()))
                .collect();
            verify_inclusion(
                &hash(inc["leaf_hash"].as_str().unwrap()),
                *seq,
                opened.size,
                &proof,
                &opened.root_hash,
            )
            .unwrap_or_else(|e| panic!("{org}: inclusion of {id}: {e}"));
        }
        if org == "org-a" {
            let old = open_checkpoint(
                before["note"].as_str().unwrap(),
                std::slice::from_ref(&verifier),
                None,
            )
            .unwrap();
            let (st, cons) = c
                .get(
                    &format!(
                        "/v1/compliance/integrity/consistency?organization_id={org}&first={}&second={}",
                        old.size, opened.size
                    ),
                    key,
                )
                .await;
            assert_eq!(st, 200, "{cons}");
            let proof: Vec<Hash> = cons["proof"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| hash(h.as_str().unwrap()))
                .collect();
            verify_consistency(
                old.size,
                opened.size,
                &old.root_hash,
                &opened.root_hash,
                &proof,
            )
            .expect("the log after the crash extends the log before it");
        }
    }
    drop(p2);
}
