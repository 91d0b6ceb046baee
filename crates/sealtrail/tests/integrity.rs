//! Tamper evidence end to end: evidence bundles verified offline (and by an
//! independent Go verifier), single-byte mutations named by `verify`,
//! database tampering named by `fsck` and refused at restart, and a witness
//! that alarms on a split view.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sealtrail::bundle::verify::{Subject, parse_keys, verify_bytes};
use sealtrail::config::Config;
use sealtrail::server::{Running, start};
use sealtrail::testing::Engine;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_sealtrail");

struct Env {
    running: Running,
    /// `Config::storage` of the server.
    storage: String,
    base: String,
    http: reqwest::Client,
    ingest: String,
    reader: String,
    vkey: String,
}

/// A server on `engine` over the data directory `dir`.
async fn server(engine: Engine, dir: &Path) -> (Running, String) {
    let cfg = Config {
        checkpoint_interval_ms: 200,
        ..engine.config(dir, "integrity")
    };
    let storage = cfg.storage.clone();
    (start(cfg).await.unwrap(), storage)
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    key: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http.request(method, url).header("x-api-key", key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

impl Env {
    /// A server on the selected engine with one enabled organization.
    async fn new(dir: &Path, org: &str) -> Env {
        Env::on(Engine::selected(), dir, org).await
    }

    async fn on(engine: Engine, dir: &Path, org: &str) -> Env {
        let (running, storage) = server(engine, dir).await;
        let op = running.app.bootstrap_operator_token.clone().unwrap();
        let base = format!("http://{}", running.addr);
        let http = reqwest::Client::new();
        let post = reqwest::Method::POST;
        let (s, v) = call(
            &http,
            post.clone(),
            format!("{base}/v1/operator/organizations"),
            &op,
            Some(json!({"id": org, "name": org})),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        let (s, v) = call(
            &http,
            post.clone(),
            format!("{base}/v1/operator/organizations/{org}/enable"),
            &op,
            None,
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = call(
            &http,
            post.clone(),
            format!("{base}/v1/operator/keys"),
            &op,
            Some(json!({"kind": "ingest", "organization_id": org, "product": "platform"})),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        let ingest = v["token"].as_str().unwrap().to_string();
        let (s, v) = call(&http, post, format!("{base}/v1/operator/keys"), &op, Some(json!({"kind": "compliance", "organization_id": org, "scopes": ["read:activities", "read:integrity", "export"]}))).await;
        assert_eq!(s, 201, "{v}");
        let reader = v["token"].as_str().unwrap().to_string();
        let (_, keys) = call(
            &http,
            reqwest::Method::GET,
            format!("{base}/v1/integrity/keys"),
            "",
            None,
        )
        .await;
        let vkey = keys["current"].as_str().unwrap().to_string();
        Env {
            running,
            storage,
            base,
            http,
            ingest,
            reader,
            vkey,
        }
    }

    async fn ingest(&self, org: &str, n: usize, tag: &str) {
        let now = sealtrail::time::fmt_ms(sealtrail::time::now_ms());
        let events: Vec<Value> = (0..n)
            .map(|i| {
                json!({
                    "type": if i % 3 == 0 { "api_key.created" } else { "user.login" },
                    "created_at": now,
                    "organization_id": org,
                    "source_event_id": format!("{tag}-{i}"),
                    "actor": {"type": "user", "id": format!("user_{}", i % 7), "email": format!("person{}@example.com", i % 7), "ip_address": "203.0.113.7"},
                    "target": {"type": "api_key", "id": format!("key_{i}"), "name": "ci"},
                    "outcome": if i % 5 == 0 { "failure" } else { "success" },
                })
            })
            .collect();
        for chunk in events.chunks(500) {
            let (s, v) = call(
                &self.http,
                reqwest::Method::POST,
                format!("{}/v1/ingest/activities", self.base),
                &self.ingest,
                Some(Value::Array(chunk.to_vec())),
            )
            .await;
            assert_eq!(s, 200, "{v}");
        }
    }

    async fn export(&self, body: Value) -> (u16, Vec<u8>) {
        let resp = self
            .http
            .post(format!("{}/v1/compliance/exports", self.base))
            .header("x-api-key", &self.reader)
            .json(&body)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
    }

    async fn checkpoint_size(&self, org: &str) -> u64 {
        let (s, v) = call(
            &self.http,
            reqwest::Method::GET,
            format!(
                "{}/v1/compliance/integrity/checkpoint?organization_id={org}",
                self.base
            ),
            &self.reader,
            None,
        )
        .await;
        if s != 200 {
            return 0;
        }
        v["tree_size"].as_u64().unwrap()
    }

    /// Waits until a checkpoint covers the whole log.
    async fn settle(&self, org: &str) -> u64 {
        for _ in 0..100 {
            let head = {
                let o = self.running.app.org(org).unwrap();
                self.running.app.store.head(o.key).unwrap().frontier.size()
            };
            let cp = self.checkpoint_size(org).await;
            // Reading the checkpoint itself appends one audit event; accept
            // a checkpoint that covers everything before that read.
            if cp + 1 >= head && cp > 0 {
                return cp;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no checkpoint covered the log of {org}");
    }
}

fn keys(vkey: &str) -> Vec<sealtrail_tlog::NoteVerifier> {
    parse_keys(vkey).unwrap()
}

fn event_subject(p: &sealtrail::bundle::verify::Problem) -> Option<(String, u64)> {
    match &p.subject {
        Subject::Event { id, seq, .. } => Some((id.clone(), *seq)),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_verify_offline_and_every_mutation_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new(dir.path(), "org_a").await;
    env.ingest("org_a", 30, "a").await;
    let first_cp = env.settle("org_a").await;
    env.ingest("org_a", 20, "b").await;

    // Whole-log export: complete, verifies, recorded.
    let (s, bytes) = env.export(json!({"organization_id": "org_a"})).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&bytes));
    let report = verify_bytes(&bytes, &keys(&env.vkey));
    assert!(report.ok(), "{:?}", report.problems);
    let bundle: Value = serde_json::from_slice(&bytes).unwrap();
    let n = bundle["events"].as_array().unwrap().len();
    assert!(n >= 50, "{n}");
    assert_eq!(
        report.summary(),
        format!("all {n} events verified against 1 checkpoints")
    );
    assert!(
        report.notices.iter().any(|m| m.contains("is complete")),
        "{:?}",
        report.notices
    );
    // Personal values are committed in the entry and opened beside it.
    let ev = bundle["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["openings"].get("actor.email").is_some())
        .unwrap();
    assert!(!ev["entry"].as_str().unwrap().contains("@example.com"));
    assert!(
        ev["display"]["actor"]["email"]
            .as_str()
            .unwrap()
            .ends_with("@example.com")
    );

    // The export was recorded in the reader's log, with the bundle digest.
    let (_, feed) = call(
        &env.http,
        reqwest::Method::GET,
        format!(
            "{}/v1/compliance/activities?activity_types[]=compliance.export_created",
            env.base
        ),
        &env.reader,
        None,
    )
    .await;
    let rec = &feed["data"][0];
    assert_eq!(rec["type"], "compliance.export_created");
    assert_eq!(rec["metadata"]["event_count"].as_u64(), Some(n as u64));
    let digest = sha2_hex(&bytes);
    assert_eq!(
        rec["metadata"]["bundle_sha256"].as_str(),
        Some(digest.as_str())
    );

    // Through the command line, with the exit code.
    let path = dir.path().join("bundle.json");
    std::fs::write(&path, &bytes).unwrap();
    let out = Command::new(BIN)
        .args(["verify", path.to_str().unwrap(), "--key", &env.vkey])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("all {n} events verified against 1 checkpoints")),
        "{stdout}"
    );

    // A wrong key verifies nothing.
    let other = sealtrail_tlog::NoteSigner::generate("sealtrail.local")
        .unwrap()
        .verifier_key();
    assert!(!verify_bytes(&bytes, &keys(&other)).ok());

    // Every single-byte change of an entry names that event.
    let events = bundle["events"].as_array().unwrap().clone();
    let mut mutations = 0;
    for (ei, ev) in events.iter().enumerate().step_by(7) {
        let entry = ev["entry"].as_str().unwrap().as_bytes().to_vec();
        for pos in (0..entry.len()).step_by(9) {
            let mut e = entry.clone();
            e[pos] ^= 0x01;
            let Ok(text) = String::from_utf8(e) else {
                continue;
            };
            let mut b = bundle.clone();
            b["events"][ei]["entry"] = json!(text);
            let r = verify_bytes(&serde_json::to_vec(&b).unwrap(), &keys(&env.vkey));
            assert!(!r.ok(), "entry byte {pos} of event {ei} changed unnoticed");
            let named: Vec<_> = r.problems.iter().filter_map(event_subject).collect();
            assert!(
                named
                    .iter()
                    .all(|(id, seq)| id == ev["id"].as_str().unwrap()
                        && *seq == ev["seq"].as_u64().unwrap()),
                "{:?}",
                r.problems
            );
            assert!(!named.is_empty());
            mutations += 1;
        }
    }
    // Every byte of every proof node of sampled events.
    for (ei, ev) in events.iter().enumerate().step_by(11) {
        let proof = ev["inclusion_proof"].as_array().unwrap();
        for (pi, node) in proof.iter().enumerate() {
            let raw = B64.decode(node.as_str().unwrap()).unwrap();
            for pos in (0..32).step_by(5) {
                let mut m = raw.clone();
                m[pos] ^= 0x80;
                let mut b = bundle.clone();
                b["events"][ei]["inclusion_proof"][pi] = json!(B64.encode(&m));
                let r = verify_bytes(&serde_json::to_vec(&b).unwrap(), &keys(&env.vkey));
                assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
                assert_eq!(
                    event_subject(&r.problems[0]).unwrap().1,
                    ev["seq"].as_u64().unwrap()
                );
                assert!(
                    r.problems[0].reason.contains("inclusion proof"),
                    "{}",
                    r.problems[0]
                );
                mutations += 1;
            }
        }
    }
    // Every byte of the checkpoint signature.
    let note = bundle["logs"][0]["checkpoints"][0]["note"]
        .as_str()
        .unwrap()
        .to_string();
    let (text, sig_line) = note.rsplit_once("\n\u{2014} ").unwrap();
    let (name, sig_b64) = sig_line.trim_end().split_once(' ').unwrap();
    let sig = B64.decode(sig_b64).unwrap();
    for pos in 0..sig.len() {
        let mut m = sig.clone();
        m[pos] ^= 0x04;
        let mutated = format!("{text}\n\u{2014} {name} {}\n", B64.encode(&m));
        let mut b = bundle.clone();
        b["logs"][0]["checkpoints"][0]["note"] = json!(mutated);
        let r = verify_bytes(&serde_json::to_vec(&b).unwrap(), &keys(&env.vkey));
        assert!(!r.ok());
        assert!(
            matches!(r.problems[0].subject, Subject::Checkpoint { .. }),
            "{:?}",
            r.problems
        );
        assert!(
            r.problems[0].reason.contains("signature"),
            "{}",
            r.problems[0]
        );
        mutations += 1;
    }
    // An opening that does not match its commitment, and a display that lies.
    let ei = events
        .iter()
        .position(|e| e["openings"].get("actor.email").is_some())
        .unwrap();
    let mut b = bundle.clone();
    b["events"][ei]["openings"]["actor.email"]["value"] = json!("someone-else@example.com");
    let r = verify_bytes(&serde_json::to_vec(&b).unwrap(), &keys(&env.vkey));
    assert!(
        r.problems
            .iter()
            .any(|p| p.reason.contains("opening of actor.email")),
        "{:?}",
        r.problems
    );
    let mut b = bundle.clone();
    b["events"][ei]["display"]["outcome"] = json!("other");
    let r = verify_bytes(&serde_json::to_vec(&b).unwrap(), &keys(&env.vkey));
    assert!(
        r.problems
            .iter()
            .any(|p| p.reason.contains("displayed value of outcome")),
        "{:?}",
        r.problems
    );
    // Dropping an event from a whole-log export is noticed.
    let mut b = bundle.clone();
    b["events"].as_array_mut().unwrap().remove(3);
    let r = verify_bytes(&serde_json::to_vec(&b).unwrap(), &keys(&env.vkey));
    assert!(
        r.problems
            .iter()
            .any(|p| p.reason.contains("seq 3 is missing")),
        "{:?}",
        r.problems
    );
    assert!(mutations > 100, "{mutations}");

    // The CLI names the failure and exits nonzero.
    let mut b = bundle.clone();
    b["events"][5]["inclusion_proof"][0] = json!(B64.encode([0u8; 32]));
    std::fs::write(&path, serde_json::to_vec(&b).unwrap()).unwrap();
    let out = Command::new(BIN)
        .args(["verify", path.to_str().unwrap(), "--key", &env.vkey])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        stdout.contains(&format!(
            "FAIL event {} (org org_a, seq 5): inclusion proof",
            events[5]["id"].as_str().unwrap()
        )),
        "{stdout}"
    );

    // A filtered export proven consistent with a checkpoint held earlier.
    let (s, bytes) = env
        .export(json!({"activity_types": ["user.login"], "consistency_from": {"org_a": first_cp}}))
        .await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&bytes));
    let r = verify_bytes(&bytes, &keys(&env.vkey));
    assert!(r.ok(), "{:?}", r.problems);
    let fb: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(fb["logs"][0]["checkpoints"].as_array().unwrap().len(), 2);
    assert!(
        fb["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["display"]["type"] == "user.login")
    );
    let proof = fb["logs"][0]["consistency"][0]["proof"]
        .as_array()
        .unwrap()
        .clone();
    for pi in 0..proof.len() {
        let mut b = fb.clone();
        b["logs"][0]["consistency"][0]["proof"][pi] = json!(B64.encode([7u8; 32]));
        let r = verify_bytes(&serde_json::to_vec(&b).unwrap(), &keys(&env.vkey));
        assert!(
            matches!(r.problems[0].subject, Subject::Consistency { .. }),
            "{:?}",
            r.problems
        );
    }
    std::fs::write(dir.path().join("filtered.json"), &bytes).unwrap();

    // Bad requests say what is wrong.
    let (s, body) = env
        .export(json!({"organization_id": "org_a", "outcome": "failure"}))
        .await;
    assert_eq!(s, 400, "{}", String::from_utf8_lossy(&body));
    let (s, body) = env
        .export(json!({"activity_types": ["no such type!"]}))
        .await;
    assert_eq!(s, 400, "{}", String::from_utf8_lossy(&body));
    let (s, _) = env
        .export(json!({"organization_ids": ["org_elsewhere"]}))
        .await;
    assert_eq!(s, 403);

    third_party(dir.path(), &env.vkey);
    env.running.shutdown().await;
}

fn sha2_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// The independent Go verifier (golang.org/x/mod/sumdb/{note,tlog}),
/// offline from Debian's source packages.
fn third_party(dir: &Path, vkey: &str) {
    let gocode = Path::new("/usr/share/gocode/src/golang.org/x/mod/sumdb/tlog");
    if Command::new("go").arg("version").output().is_err() || !gocode.exists() {
        let _ = Command::new("apt-get")
            .args(["install", "-y", "golang-go", "golang-golang-x-mod-dev"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status();
    }
    if Command::new("go").arg("version").output().is_err() || !gocode.exists() {
        if std::env::var_os("SEALTRAIL_SKIP_GO").is_some() {
            eprintln!("skipping the Go verifier: SEALTRAIL_SKIP_GO is set and Go is not installed");
            return;
        }
        panic!(
            "the Go verifier needs `go` and golang.org/x/mod sources in /usr/share/gocode (apt-get install golang-go golang-golang-x-mod-dev), or set SEALTRAIL_SKIP_GO=1"
        );
    }
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/thirdparty/verify_bundle.go");
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gocache");
    for bundle in ["bundle.json", "filtered.json"] {
        let out = Command::new("go")
            .args([
                "run",
                src.to_str().unwrap(),
                dir.join(bundle).to_str().unwrap(),
                vkey,
            ])
            .env("GO111MODULE", "off")
            .env("GOPATH", "/usr/share/gocode")
            .env("GOFLAGS", "")
            .env("GOPROXY", "off")
            .env("GOCACHE", &cache)
            .env("HOME", dir)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if bundle == "bundle.json" {
            // The last write of bundle.json above is the tampered one.
            assert!(
                !out.status.success(),
                "the Go verifier accepted a tampered proof: {stdout}"
            );
            assert!(stderr.contains("FAIL: event"), "{stderr}");
        } else {
            assert!(out.status.success(), "{stdout} {stderr}");
            assert!(
                stdout.starts_with("ok: ") && stdout.contains("1 consistency proofs"),
                "{stdout}"
            );
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

fn fsck(dir: &Path) -> (bool, String) {
    let out = Command::new(BIN)
        .args(["fsck", "--data-dir", dir.to_str().unwrap()])
        .env("SEALTRAIL_LOG", "error")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn db(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("sealtrail.db")).unwrap()
}

/// The stored form of org 1's entry at `seq`, as the file holds it.
fn stored_bytes(c: &rusqlite::Connection, seq: u64) -> Vec<u8> {
    c.query_row(
        "SELECT entry FROM events WHERE org = 1 AND seq = ?",
        [seq as i64],
        |r| r.get(0),
    )
    .unwrap()
}

/// Writes bytes into org 1's `entry` column at `seq`, behind the server.
fn set_stored(c: &rusqlite::Connection, seq: u64, bytes: &[u8]) {
    c.execute(
        "UPDATE events SET entry = ? WHERE org = 1 AND seq = ?",
        rusqlite::params![bytes, seq as i64],
    )
    .unwrap();
}

/// The entry of org 1's event at `seq`, decoded from its stored form.
fn stored_entry(c: &rusqlite::Connection, seq: u64) -> String {
    let at: sealtrail::storage::codec::Position = c
        .query_row(
            "SELECT gseq, received_ms FROM events WHERE org = 1 AND seq = ?",
            [seq as i64],
            |r| {
                Ok(sealtrail::storage::codec::Position {
                    gseq: r.get::<_, i64>(0)? as u64,
                    received_ms: r.get(1)?,
                    seq,
                })
            },
        )
        .unwrap();
    String::from_utf8(sealtrail::storage::codec::decode_entry(
        stored_bytes(c, seq),
        at,
    ))
    .unwrap()
}

fn id_at(c: &rusqlite::Connection, seq: u64) -> String {
    let (gseq, ms): (i64, i64) = c
        .query_row(
            "SELECT gseq, received_ms FROM events WHERE org = 1 AND seq = ?",
            [seq as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    sealtrail::ids::ActivityId::new(ms as u64, gseq as u64).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fsck_names_tampered_events_and_restart_refuses() {
    // SQLite only: `fsck` reads the embedded files and the tampering edits
    // them; a_tampered_postgres_log_refuses_to_start covers PostgreSQL.
    let root = tempfile::tempdir().unwrap();
    let clean = root.path().join("clean");
    let env = Env::on(Engine::Sqlite, &clean, "org_t").await;
    env.ingest("org_t", 300, "t").await;
    env.settle("org_t").await;
    env.running.shutdown().await;
    {
        let c = db(&clean);
        c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
        let org: i64 = c
            .query_row("SELECT key FROM orgs WHERE id = 'org_t'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(org, 1);
    }
    let (ok, out) = fsck(&clean);
    assert!(ok, "{out}");
    assert!(out.contains("org_t") && out.contains(" ok"), "{out}");

    let case = |name: &str, sql: &dyn Fn(&rusqlite::Connection)| -> (PathBuf, bool, String) {
        let d = root.path().join(name);
        copy_dir(&clean, &d);
        sql(&db(&d));
        let (ok, out) = fsck(&d);
        eprintln!("--- fsck after {name}:\n{out}");
        (d, ok, out)
    };

    // Edited body (leaf left alone): named by the leaf check.
    // (Entries are stored compressed; the edit is written back in the
    // uncompressed stored form, as an editor of the file could.)
    let (edited, ok, out) = case("edited", &|c| {
        let text = stored_entry(c, 12).replace("\"outcome\":\"", "\"outcome\":\"x");
        set_stored(c, 12, text.as_bytes());
    });
    let id12 = id_at(&db(&clean), 12);
    assert!(!ok);
    assert!(
        out.contains(&format!("edited org_t: event {id12} (seq 12"))
            && out.contains("no longer hash to its stored leaf"),
        "{out}"
    );

    // One byte of a compressed stored entry flipped: whether or not it
    // still decompresses, it no longer gives the bytes its leaf hashes.
    let (_, ok, out) = case("flipped", &|c| {
        let mut stored = stored_bytes(c, 13);
        assert_ne!(stored[0], b'{', "entries are stored compressed");
        let mid = stored.len() / 2;
        stored[mid] ^= 0x01;
        set_stored(c, 13, &stored);
    });
    let id13 = id_at(&db(&clean), 13);
    assert!(!ok);
    assert!(
        out.contains(&format!("edited org_t: event {id13} (seq 13"))
            && out.contains("no longer hash to its stored leaf"),
        "{out}"
    );

    // Edited body with its leaf recomputed, inside a complete tile: the
    // tile and the checkpoints disagree, the indexed columns name the row.
    let (_, ok, out) = case("releafed", &|c| {
        let text = stored_entry(c, 40).replace("\"outcome\":\"", "\"outcome\":\"x");
        let leaf = sealtrail_tlog::leaf_hash(text.as_bytes());
        c.execute(
            "UPDATE events SET entry = ?, leaf = ? WHERE org = 1 AND seq = 40",
            rusqlite::params![text.as_bytes(), &leaf[..]],
        )
        .unwrap();
    });
    let id40 = id_at(&db(&clean), 40);
    assert!(!ok);
    assert!(
        out.contains(&format!("event {id40} (seq 40")) && out.contains("outcome"),
        "{out}"
    );
    assert!(out.contains("subtree (8, 0)"), "{out}");

    // Deleted row in the middle, and rows cut from the tail with the head rewound.
    let (_, ok, out) = case("deleted", &|c| {
        c.execute("DELETE FROM events WHERE org = 1 AND seq = 7", [])
            .unwrap();
    });
    assert!(!ok);
    assert!(
        out.contains("deleted org_t: seq 7 missing (1 events)"),
        "{out}"
    );
    let (_, ok, out) = case("truncated", &|c| {
        c.execute("DELETE FROM events WHERE org = 1 AND seq >= 290", [])
            .unwrap();
    });
    assert!(!ok);
    assert!(out.contains("deleted org_t: seq 290.."), "{out}");

    // Inserted rows: beyond the head, and a duplicate position.
    let (_, ok, out) = case("inserted", &|c| {
        let size: i64 = c
            .query_row("SELECT size FROM heads WHERE org = 1", [], |r| r.get(0))
            .unwrap();
        c.execute(
            "INSERT INTO events(gseq, tree, org, seq, type, category, product, created_ms, received_ms, outcome, entry, leaf)
             SELECT (SELECT MAX(gseq) FROM events) + 1, tree, org, ?, type, category, product, created_ms, received_ms, outcome, entry, leaf FROM events WHERE org = 1 AND seq = 3",
            [size],
        )
        .unwrap();
    });
    assert!(!ok);
    assert!(
        out.contains("inserted org_t: event") && out.contains("beyond the log head"),
        "{out}"
    );
    let (_, ok, out) = case("duplicate", &|c| {
        c.execute_batch("DROP INDEX events_org_seq;").unwrap();
        c.execute(
            "INSERT INTO events(gseq, tree, org, seq, type, category, product, created_ms, received_ms, outcome, entry, leaf)
             SELECT (SELECT MAX(gseq) FROM events) + 1, tree, org, seq, type, category, product, created_ms, received_ms, outcome, entry, leaf FROM events WHERE org = 1 AND seq = 20",
            [],
        )
        .unwrap();
    });
    assert!(!ok);
    assert!(out.contains("repeats a sequence number"), "{out}");

    // A stored checkpoint whose signature was altered.
    let (_, ok, out) = case("badsig", &|c| {
        c.execute("UPDATE checkpoints SET note = replace(note, '\n\u{2014} ', '\n\u{2014} x') WHERE org = 1", []).unwrap();
    });
    assert!(!ok);
    assert!(
        out.contains("signature org_t: the checkpoint at size"),
        "{out}"
    );

    // Pruned bodies are fine as long as the leaf stays.
    let (_, ok, out) = case("pruned", &|c| {
        c.execute(
            "UPDATE events SET entry = NULL, pii = NULL WHERE org = 1 AND seq < 50",
            [],
        )
        .unwrap();
    });
    assert!(ok, "{out}");
    assert!(out.contains("(50 pruned)"), "{out}");

    // The server refuses to start on a tampered log, and says where.
    let err = match start(Engine::Sqlite.config(&edited, "integrity")).await {
        Ok(_) => panic!("the server started on a tampered database"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("refusing to start") && err.contains(&id12),
        "{err}"
    );
    // And starts again on the clean copy.
    let (r, _) = server(Engine::Sqlite, &clean).await;
    r.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_postgres_log_refuses_to_start() {
    if Engine::selected() != Engine::Postgres {
        // On SQLite, fsck_names_tampered_events_and_restart_refuses covers it.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new(dir.path(), "org_t").await;
    env.ingest("org_t", 30, "t").await;
    env.settle("org_t").await;
    let (s, page) = call(
        &env.http,
        reqwest::Method::GET,
        format!(
            "{}/v1/compliance/activities?order=asc&limit=100&organization_ids[]=org_t",
            env.base
        ),
        &env.reader,
        None,
    )
    .await;
    assert_eq!(s, 200, "{page}");
    let id12 = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["log"]["seq"] == 12)
        .expect("the event at seq 12")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let Env {
        running, storage, ..
    } = env;
    running.shutdown().await;

    // Edited body, leaf left alone.
    let pg = sealtrail::storage::postgres::PgStore::open(&storage).unwrap();
    pg.execute_raw(
        "UPDATE events SET entry = convert_to(replace(convert_from(entry, 'UTF8'), '\"outcome\":\"', '\"outcome\":\"x'), 'UTF8') \
         WHERE org = 1 AND seq = 12",
    )
    .unwrap();
    drop(pg);
    let cfg = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        storage,
        ..Config::default()
    };
    let err = match start(cfg).await {
        Ok(_) => panic!("the server started on a tampered database"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("refusing to start") && err.contains(&id12),
        "{err}"
    );
}

fn witness(url: &str, key: &str, state: &Path, org: &str) -> (bool, String) {
    let out = Command::new(BIN)
        .args([
            "witness",
            "--url",
            url,
            "--key",
            key,
            "--state",
            state.to_str().unwrap(),
            "--org",
            org,
            "--once",
        ])
        .env("SEALTRAIL_LOG", "error")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn witness_follows_growth_and_alarms_on_a_split_view() {
    let root = tempfile::tempdir().unwrap();
    let state = root.path().join("witness.json");
    let a_dir = root.path().join("a");
    let a = Env::new(&a_dir, "org_w").await;
    a.ingest("org_w", 10, "a").await;
    a.settle("org_w").await;
    let (ok, out) = witness(&a.base, &a.reader, &state, "org_w");
    assert!(ok && out.contains("first checkpoint accepted"), "{out}");
    a.ingest("org_w", 10, "b").await;
    a.settle("org_w").await;
    let (ok, out) = witness(&a.base, &a.reader, &state, "org_w");
    assert!(ok && out.contains("consistent"), "{out}");
    let seen: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let seen_size = seen["logs"]["org_w"]["tree_size"].as_u64().unwrap();

    // A second server holding the same signing key shows another history
    // for the same organization: a split view.
    let b_dir = root.path().join("b");
    copy_dir(&a_dir.join("signer"), &b_dir.join("signer"));
    let b = Env::new(&b_dir, "org_w").await;
    assert_eq!(b.vkey, a.vkey);
    b.ingest("org_w", 60, "other").await;
    b.settle("org_w").await;
    let (ok, out) = witness(&b.base, &b.reader, &state, "org_w");
    assert!(!ok, "{out}");
    assert!(
        out.contains("ALARM org_w") && out.contains(&format!("with the one at size {seen_size}")),
        "{out}"
    );
    let kept: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(
        kept["logs"]["org_w"]["tree_size"].as_u64(),
        Some(seen_size),
        "the state must not advance on an alarm"
    );
    assert!(kept["alarms"][0]["new_note"].as_str().is_some());

    // A smaller log signed by the same key: it shrank.
    let c_dir = root.path().join("c");
    copy_dir(&a_dir.join("signer"), &c_dir.join("signer"));
    let c = Env::new(&c_dir, "org_w").await;
    c.ingest("org_w", 2, "c").await;
    c.settle("org_w").await;
    let (ok, out) = witness(&c.base, &c.reader, &state, "org_w");
    assert!(!ok && out.contains("the log shrank"), "{out}");

    // A server with another key: the pinned key is gone.
    let d = Env::new(&root.path().join("d"), "org_w").await;
    d.ingest("org_w", 40, "d").await;
    d.settle("org_w").await;
    let (ok, out) = witness(&d.base, &d.reader, &state, "org_w");
    assert!(
        !ok && out.contains("no longer publishes pinned key"),
        "{out}"
    );

    for e in [a, b, c, d] {
        e.running.shutdown().await;
    }
}
