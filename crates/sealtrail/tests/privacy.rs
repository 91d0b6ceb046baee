//! Privacy promises: erasure removes a subject's personal data for good
//! while every checkpoint and proof still verifies; legal holds block
//! erasure and pruning; retention prunes bodies and keeps the tree.

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::{Client, StatusCode};
use sealtrail::config::Config;
use sealtrail::server::{Running, start};
use sealtrail::testing::Engine;
use sealtrail_tlog::{NoteVerifier, open_checkpoint, verify_consistency, verify_inclusion};
use serde_json::{Value, json};

struct Env {
    engine: Engine,
    running: Running,
    http: Client,
    base: String,
    op: String,
    _dir: tempfile::TempDir,
}

impl Env {
    /// Starts a server on the engine `SEALTRAIL_TEST_ENGINE` selects.
    async fn start() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config {
            checkpoint_interval_ms: 100,
            rate_limit_per_minute: 100_000,
            ..sealtrail::testing::config(dir.path(), "privacy")
        };
        let running = start(cfg).await.unwrap();
        let op = running.app.bootstrap_operator_token.clone().unwrap();
        Env {
            engine: Engine::selected(),
            base: format!("http://{}", running.addr),
            running,
            http: Client::new(),
            op,
            _dir: dir,
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-api-key", key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let v = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, v)
    }

    async fn post(&self, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, key, Some(body))
            .await
    }

    async fn get(&self, path: &str, key: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, key, None).await
    }

    /// An enabled organization with an ingest key and an all-scopes compliance key.
    async fn org(&self, id: &str) -> (String, String) {
        let (s, _) = self
            .post(
                "/v1/operator/organizations",
                &self.op,
                json!({"id": id, "name": id}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, _) = self
            .post(
                &format!("/v1/operator/organizations/{id}/enable"),
                &self.op,
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (_, ik) = self
            .post(
                "/v1/operator/keys",
                &self.op,
                json!({"kind": "ingest", "organization_id": id, "product": "platform"}),
            )
            .await;
        let scopes = [
            "read:activities",
            "read:integrity",
            "export",
            "delete:subject_data",
        ];
        let (_, ck) = self
            .post(
                "/v1/operator/keys",
                &self.op,
                json!({"kind": "compliance", "organization_id": id, "scopes": scopes}),
            )
            .await;
        (
            ik["token"].as_str().unwrap().to_string(),
            ck["token"].as_str().unwrap().to_string(),
        )
    }

    async fn ingest(&self, key: &str, events: Vec<Value>) {
        for chunk in events.chunks(1000) {
            let (s, v) = self
                .post("/v1/ingest/activities", key, Value::Array(chunk.to_vec()))
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
            assert_eq!(v["refused"], 0, "{v}");
        }
    }

    async fn checkpoint(&self, ck: &str, org: &str, min_size: u64) -> (u64, [u8; 32], String) {
        for _ in 0..100 {
            let (s, v) = self
                .get(
                    &format!("/v1/compliance/integrity/checkpoint?organization_id={org}"),
                    ck,
                )
                .await;
            if s == StatusCode::OK && v["tree_size"].as_u64().unwrap() >= min_size {
                let root: [u8; 32] = B64
                    .decode(v["root_hash"].as_str().unwrap())
                    .unwrap()
                    .try_into()
                    .unwrap();
                return (
                    v["tree_size"].as_u64().unwrap(),
                    root,
                    v["note"].as_str().unwrap().to_string(),
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no checkpoint of size >= {min_size}");
    }

    fn db_files(&self) -> Vec<Vec<u8>> {
        db_files(self._dir.path())
    }
}

fn db_files(dir: &std::path::Path) -> Vec<Vec<u8>> {
    {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                out.push(std::fs::read(&p).unwrap());
            }
        }
        out
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn event(i: usize, actor: &str, email: &str, ip: &str) -> Value {
    json!({
        "source_event_id": format!("{actor}-{i}"),
        "type": "file.downloaded",
        "created_at": "2026-12-04T10:00:00Z",
        "organization_id": "org_priv",
        "actor": {"type": "user", "id": actor, "email": email, "ip_address": ip, "user_agent": "Mozilla/5.0 (X11; Linux x86_64)"},
        "target": {"type": "file", "id": format!("file_{i}"), "name": format!("report-{i}.pdf")}
    })
}

fn proof_of(v: &Value) -> Vec<[u8; 32]> {
    v["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| B64.decode(h.as_str().unwrap()).unwrap().try_into().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_a_subject_with_1000_events_leaves_no_trace_and_every_proof_verifies() {
    let env = Env::start().await;
    let (ik, ck) = env.org("org_priv").await;
    let mut events = Vec::new();
    for i in 0..1000 {
        events.push(event(
            i,
            "user_erin",
            "erin.subject@example.com",
            "198.51.100.77",
        ));
        if i % 10 == 0 {
            events.push(event(
                i,
                "user_other",
                "other.person@example.com",
                "203.0.113.9",
            ));
        }
    }
    env.ingest(&ik, events).await;
    let head = 1 + 1000 + 100;
    let (size_before, root_before, note_before) = env.checkpoint(&ck, "org_priv", head).await;
    // An evidence bundle of the whole log, taken before the erasure.
    let bundle_before = env
        .http
        .post(format!("{}/v1/compliance/exports", env.base))
        .header("x-api-key", &ck)
        .json(&json!({"organization_id": "org_priv"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bundle_before.status(), StatusCode::OK);
    let bundle_before = bundle_before.bytes().await.unwrap();
    assert!(
        contains(&bundle_before, b"erin.subject@example.com"),
        "the bundle opens the commitments"
    );

    // Personal data is never stored in the clear, even before erasure.
    // (The raw-file checks read the embedded engine's files; on PostgreSQL
    // the same rows are written by the same sealing code.)
    let sqlite = env.engine == Engine::Sqlite;
    for f in env.db_files().into_iter().filter(|_| sqlite) {
        assert!(!contains(&f, b"erin.subject@example.com"));
        assert!(!contains(&f, b"198.51.100.77"));
    }
    // Remember the wrapped key of the subject as stored, to prove it is gone.
    let db = env._dir.path().join("sealtrail.db");
    let wrapped: Vec<Vec<u8>> = if !sqlite {
        Vec::new()
    } else {
        let c = rusqlite::Connection::open(&db).unwrap();
        let mut st = c
            .prepare("SELECT wrapped FROM subject_keys WHERE wrapped IS NOT NULL")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert!(!sqlite || wrapped.len() == 2, "one key per subject");

    // The feed shows the subject's data while it exists.
    let (_, page) = env
        .get(
            "/v1/compliance/activities?actor_ids[]=user_erin&limit=5",
            &ck,
        )
        .await;
    assert_eq!(
        page["data"][0]["actor"]["email"],
        "erin.subject@example.com"
    );
    let sample_id = page["data"][0]["id"].as_str().unwrap().to_string();
    let (_, proof_before) = env
        .get(
            &format!(
                "/v1/compliance/integrity/inclusion?activity_id={sample_id}&tree_size={size_before}"
            ),
            &ck,
        )
        .await;

    let (s, rec) = env
        .post(
            "/v1/compliance/erasures",
            &ck,
            json!({"subject": {"id": "user_erin"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rec}");
    assert_eq!(rec["status"], "completed");
    assert_eq!(rec["events_affected"], 1000);
    assert_eq!(rec["keys_destroyed"], 1);
    let pseudo = rec["subject_pseudonym"].as_str().unwrap().to_string();
    assert!(!pseudo.contains("erin"));

    // Status is readable; erasing again is harmless.
    let (s, again) = env
        .get(
            &format!("/v1/compliance/erasures/{}", rec["id"].as_str().unwrap()),
            &ck,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again["events_affected"], 1000);
    let (s, twice) = env
        .post(
            "/v1/compliance/erasures",
            &ck,
            json!({"subject": {"id": "user_erin"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(twice["events_affected"], 0);
    assert_eq!(twice["keys_destroyed"], 0);

    // The feed shows the fields as erased; other subjects are untouched.
    let (_, page) = env
        .get(
            "/v1/compliance/activities?actor_ids[]=user_erin&limit=1000",
            &ck,
        )
        .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1000);
    for e in page["data"].as_array().unwrap() {
        assert_eq!(e["actor"]["email"], Value::Null);
        assert_eq!(e["actor"]["ip_address"], Value::Null);
        assert_eq!(e["target"]["name"], Value::Null);
        let erased: Vec<&str> = e["erased_fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(erased.contains(&"actor.email") && erased.contains(&"actor.ip_address"));
    }
    let (_, other) = env
        .get(
            "/v1/compliance/activities?actor_ids[]=user_other&limit=1",
            &ck,
        )
        .await;
    assert_eq!(
        other["data"][0]["actor"]["email"],
        "other.person@example.com"
    );
    // Filtering by the erased email finds nothing any more.
    let (_, by_email) = env
        .get(
            "/v1/compliance/activities?actor_emails[]=erin.subject@example.com",
            &ck,
        )
        .await;
    assert_eq!(by_email["data"].as_array().unwrap().len(), 0);

    // The erasure itself is recorded, with the pseudonym only.
    let (_, rec_ev) = env
        .get(
            "/v1/compliance/activities?activity_types[]=compliance.subject_erased",
            &ck,
        )
        .await;
    assert_eq!(rec_ev["data"][0]["target"]["id"], pseudo.as_str());
    assert!(!rec_ev.to_string().contains("user_erin"));

    // Every checkpoint and proof is unchanged and verifies, and so does the
    // bundle exported before the erasure.
    let keys_doc: Value = env
        .http
        .get(format!("{}/v1/integrity/keys", env.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let trusted = vec![NoteVerifier::parse(keys_doc["current"].as_str().unwrap()).unwrap()];
    let report = sealtrail::bundle::verify::verify_bytes(&bundle_before, &trusted);
    assert!(report.ok(), "{}", report.summary());
    let keys: Value = env
        .http
        .get(format!("{}/v1/integrity/keys", env.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let verifier = NoteVerifier::parse(keys["current"].as_str().unwrap()).unwrap();
    let cp = open_checkpoint(&note_before, std::slice::from_ref(&verifier), None).unwrap();
    assert_eq!((cp.size, cp.root_hash), (size_before, root_before));
    let (_, proof_after) = env
        .get(
            &format!(
                "/v1/compliance/integrity/inclusion?activity_id={sample_id}&tree_size={size_before}"
            ),
            &ck,
        )
        .await;
    assert_eq!(proof_before["proof"], proof_after["proof"]);
    assert_eq!(proof_before["leaf_hash"], proof_after["leaf_hash"]);
    let leaf: [u8; 32] = B64
        .decode(proof_after["leaf_hash"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    verify_inclusion(
        &leaf,
        proof_after["leaf_index"].as_u64().unwrap(),
        size_before,
        &proof_of(&proof_after),
        &root_before,
    )
    .unwrap();
    let (size_after, root_after, note_after) =
        env.checkpoint(&ck, "org_priv", size_before + 1).await;
    open_checkpoint(&note_after, &[verifier], None).unwrap();
    let (_, cons) = env
        .get(&format!("/v1/compliance/integrity/consistency?organization_id=org_priv&first={size_before}&second={size_after}"), &ck)
        .await;
    verify_consistency(
        size_before,
        size_after,
        &root_before,
        &root_after,
        &proof_of(&cons),
    )
    .unwrap();

    // Nothing of the subject remains readable in the raw files: not the
    // plaintext, and not the wrapped key that could open the ciphertext.
    let Env {
        running, _dir: dir, ..
    } = env;
    running.shutdown().await;
    if !sqlite {
        return;
    }
    let erin_key = wrapped
        .iter()
        .find(|w| {
            let c = rusqlite::Connection::open(&db).unwrap();
            let n: i64 = c
                .query_row(
                    "SELECT count(*) FROM subject_keys WHERE wrapped = ?",
                    [w.as_slice()],
                    |r| r.get(0),
                )
                .unwrap();
            n == 0
        })
        .expect("the erased subject's wrapped key is no longer stored");
    for f in db_files(dir.path()) {
        assert!(!contains(&f, b"erin.subject@example.com"));
        assert!(!contains(&f, b"198.51.100.77"));
        assert!(
            !contains(&f, erin_key),
            "the destroyed key survives in a database file"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legal_hold_blocks_erasure_and_pruning_until_released() {
    let env = Env::start().await;
    let (ik, ck) = env.org("org_priv").await;
    env.ingest(
        &ik,
        (0..20)
            .map(|i| event(i, "user_held", "held@example.com", "192.0.2.5"))
            .collect(),
    )
    .await;

    // A subject hold blocks that subject's erasure, with a clear reason.
    let (s, hold) = env
        .post("/v1/compliance/legal_holds", &ck, json!({"organization_id": "org_priv", "subject": {"id": "user_held"}, "reason": "case 2026-114"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{hold}");
    let (s, err) = env
        .post(
            "/v1/compliance/erasures",
            &ck,
            json!({"subject": {"id": "user_held"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(err["type"], "conflict");
    assert!(
        err["message"].as_str().unwrap().contains("legal hold"),
        "{err}"
    );

    // An organization hold blocks every erasure and all pruning.
    let (_, org_hold) = env
        .post(
            "/v1/compliance/legal_holds",
            &ck,
            json!({"organization_id": "org_priv", "reason": "litigation"}),
        )
        .await;
    let (s, _) = env
        .post(
            "/v1/compliance/erasures",
            &ck,
            json!({"subject": {"id": "someone_else"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = env
        .call(
            reqwest::Method::PUT,
            "/v1/compliance/retention",
            &ck,
            Some(json!({"organization_id": "org_priv", "days": 1})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let later = sealtrail::time::now_ms() + 3 * 86_400_000;
    let pruned = sealtrail::privacy::retention::prune_due_at(&env.running.app, later)
        .await
        .unwrap();
    assert_eq!(pruned, 0, "an organization hold stops pruning");

    // Released, the organization is pruned except for the held subject.
    let (s, _) = env
        .post(
            &format!(
                "/v1/compliance/legal_holds/{}/release",
                org_hold["id"].as_str().unwrap()
            ),
            &ck,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let pruned = sealtrail::privacy::retention::prune_due_at(&env.running.app, later)
        .await
        .unwrap();
    assert!(pruned >= 1, "the enablement and audit events are pruned");
    let (_, held) = env
        .get(
            "/v1/compliance/activities?actor_ids[]=user_held&limit=100",
            &ck,
        )
        .await;
    assert_eq!(held["data"].as_array().unwrap().len(), 20);
    assert!(
        held["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"]["email"] == "held@example.com")
    );

    // Released, the subject can be erased.
    let (s, _) = env
        .post(
            &format!(
                "/v1/compliance/legal_holds/{}/release",
                hold["id"].as_str().unwrap()
            ),
            &ck,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, rec) = env
        .post(
            "/v1/compliance/erasures",
            &ck,
            json!({"subject": {"email": "held@example.com"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rec}");
    assert_eq!(
        rec["events_affected"], 20,
        "erasing by email finds the subject's id too"
    );
    let (_, types) = env
        .get(
            "/v1/compliance/activities?activity_types[]=compliance.*&limit=1000",
            &ck,
        )
        .await;
    let names: Vec<&str> = types["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for t in [
        "compliance.legal_hold_set",
        "compliance.legal_hold_released",
        "compliance.retention_changed",
        "compliance.retention_pruned",
    ] {
        assert!(names.contains(&t), "{t} missing from {names:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_prunes_bodies_and_keeps_the_tree_verifiable() {
    let env = Env::start().await;
    let (ik, ck) = env.org("org_priv").await;
    env.ingest(
        &ik,
        (0..300)
            .map(|i| event(i, &format!("user_{}", i % 7), "x@example.com", "192.0.2.1"))
            .collect(),
    )
    .await;
    let (size_before, root_before, _) = env.checkpoint(&ck, "org_priv", 301).await;
    let (_, sample) = env
        .get(
            "/v1/compliance/activities?order=asc&limit=2&activity_types[]=file.downloaded",
            &ck,
        )
        .await;
    let old_id = sample["data"][0]["id"].as_str().unwrap().to_string();

    let (s, v) = env
        .call(
            reqwest::Method::PUT,
            "/v1/compliance/retention",
            &ck,
            Some(json!({"organization_id": "org_priv", "days": 0})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["field"], "days");
    let (s, _) = env
        .call(
            reqwest::Method::PUT,
            "/v1/compliance/retention",
            &ck,
            Some(json!({"organization_id": "org_priv", "days": 30})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // Nothing is old enough yet.
    assert_eq!(
        sealtrail::privacy::retention::prune_due(&env.running.app)
            .await
            .unwrap(),
        0
    );
    // Thirty-one days later, everything stored so far is past retention.
    let later = sealtrail::time::now_ms() + 31 * 86_400_000;
    let pruned = sealtrail::privacy::retention::prune_due_at(&env.running.app, later)
        .await
        .unwrap();
    assert!(pruned >= 301, "pruned {pruned}");

    let (s, ev) = env
        .get(&format!("/v1/compliance/activities/{old_id}"), &ck)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ev["pruned"], true);
    assert!(ev.get("actor").is_none());

    // The proof of a pruned event, and the consistency of the log, hold.
    let (s, proof) = env
        .get(
            &format!(
                "/v1/compliance/integrity/inclusion?activity_id={old_id}&tree_size={size_before}"
            ),
            &ck,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{proof}");
    let leaf: [u8; 32] = B64
        .decode(proof["leaf_hash"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    verify_inclusion(
        &leaf,
        proof["leaf_index"].as_u64().unwrap(),
        size_before,
        &proof_of(&proof),
        &root_before,
    )
    .unwrap();
    let (size_after, root_after, _) = env.checkpoint(&ck, "org_priv", size_before + 2).await;
    let (_, cons) = env
        .get(&format!("/v1/compliance/integrity/consistency?organization_id=org_priv&first={size_before}&second={size_after}"), &ck)
        .await;
    verify_consistency(
        size_before,
        size_after,
        &root_before,
        &root_after,
        &proof_of(&cons),
    )
    .unwrap();
    let (_, rec) = env
        .get(
            "/v1/compliance/activities?activity_types[]=compliance.retention_pruned",
            &ck,
        )
        .await;
    assert!(
        rec["data"][0]["metadata"]["events_pruned"]
            .as_u64()
            .unwrap()
            >= 301
    );
}

/// Whether a node holds the unwrapped key of `subject` in organization
/// `org` in its shared subject-key cache.
fn holds_key(s: &common::Server, org: &str, subject: &str) -> bool {
    let key = s.app.org(org).unwrap().key;
    let sref = s.app.master.subject_ref(org, subject);
    s.app.subject_keys.cache().get(&(key, sref)).is_some()
}

fn subject_key_hits(metrics: &str) -> f64 {
    common::metric(
        metrics,
        "sealtrail_cache_lookups_total{cache=\"subject_keys\",result=\"hit\"}",
    )
}

#[tokio::test]
async fn an_erasure_drops_the_cached_subject_key_at_once_and_on_every_node() {
    let a = common::Server::start().await;
    a.org("acme", None).await;
    let ik = a.ingest_key("acme", "platform").await;
    let ck = a
        .compliance_key("acme", &["read:activities", "delete:subject_data"])
        .await;
    let events: Vec<Value> = (0..3)
        .map(|i| {
            json!({
                "type": "user.login",
                "created_at": common::now(),
                "organization_id": "acme",
                "actor": {"type": "user", "id": "user_cache", "email": "cache@example.com"},
                "target": {"type": "session", "id": format!("s{i}")},
            })
        })
        .collect();
    a.ingest_ok(&ik, &events).await;
    let b = a.join().await;
    let page = "actor_ids[]=user_cache";

    // Every node renders the email, the second time with the key from
    // memory.
    for n in std::iter::once(&a).chain(b.as_ref()) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let before = subject_key_hits(&n.metrics().await);
            let data = n.feed_all(&ck, page).await;
            assert_eq!(data.len(), 3);
            assert!(
                data.iter()
                    .all(|e| e["actor"]["email"] == "cache@example.com")
            );
            let after = subject_key_hits(&n.metrics().await);
            if after > before && holds_key(n, "acme", "user_cache") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the subject key is never served from the cache"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    let r = a
        .post(
            "/v1/compliance/erasures",
            Some(&ck),
            &json!({"subject": {"id": "user_cache"}}),
        )
        .await;
    assert_eq!(r.expect(201)["keys_destroyed"], 1);
    // On the erasing node: gone from memory before the answer, and the
    // next read shows the fields erased.
    assert!(!holds_key(&a, "acme", "user_cache"));
    for e in a.feed_all(&ck, page).await {
        assert_eq!(e["actor"]["email"], Value::Null);
        assert!(e["erased_fields"].to_string().contains("actor.email"));
    }
    if let Some(b) = &b {
        // The other node drops it promptly too, and shows the erasure.
        let deadline = Instant::now() + Duration::from_secs(5);
        while holds_key(b, "acme", "user_cache") {
            assert!(
                Instant::now() < deadline,
                "node B still holds a subject key erased on node A"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for e in b.feed_all(&ck, page).await {
            assert_eq!(e["actor"]["email"], Value::Null);
            assert!(e["erased_fields"].to_string().contains("actor.email"));
        }
    }
}
