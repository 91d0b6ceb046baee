//! Ingest and query throughput of the PostgreSQL engine beside the embedded
//! engine and beside plain PostgreSQL baselines (one INSERT per event, and
//! COPY). A measurement, not a pass/fail test: run it on purpose with
//!
//!   SEALTRAIL_TEST_PG_URL=$(scripts/pg.sh start) \
//!     cargo test --release -p sealtrail --test pg_bench -- --ignored --nocapture
//!
//! Sizes: SEALTRAIL_BENCH_EVENTS (default 200000).

use std::time::Instant;

use reqwest::{Client, StatusCode};
use sealtrail::config::Config;
use sealtrail::server::start;
use serde_json::{Value, json};

fn body(i: usize) -> Value {
    json!({
        "source_event_id": format!("ev-{i}"),
        "type": if i.is_multiple_of(3) { "file.downloaded" } else { "user.login_succeeded" },
        "created_at": "2026-12-04T10:00:00Z",
        "organization_id": "org_bench",
        "actor": {"type": "user", "id": format!("user_{}", i % 1000), "email": format!("u{}@example.com", i % 1000), "ip_address": "192.0.2.10"},
        "target": {"type": "file", "id": format!("file_{}", i % 5000)},
        "metadata": {"bytes": i * 7 % 100_000}
    })
}

/// (ingest events/s, feed page ms) through HTTP on one engine.
async fn http_run(storage: String, n: usize) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        storage,
        rate_limit_per_minute: 1_000_000,
        ..Config::default()
    };
    let running = start(cfg).await.unwrap();
    let op = running.app.bootstrap_operator_token.clone().unwrap();
    let base = format!("http://{}", running.addr);
    let http = Client::new();
    let post = |path: &str, key: &str, b: Value| {
        http.post(format!("{base}{path}"))
            .header("x-api-key", key)
            .json(&b)
            .send()
    };
    post(
        "/v1/operator/organizations",
        &op,
        json!({"id": "org_bench", "name": "bench"}),
    )
    .await
    .unwrap();
    post(
        "/v1/operator/organizations/org_bench/enable",
        &op,
        json!({}),
    )
    .await
    .unwrap();
    let ik: Value = post(
        "/v1/operator/keys",
        &op,
        json!({"kind": "ingest", "organization_id": "org_bench", "product": "platform"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let ck: Value = post(
        "/v1/operator/keys",
        &op,
        json!({"kind": "compliance", "organization_id": "org_bench", "scopes": ["read:activities"]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let ik = ik["token"].as_str().unwrap().to_string();
    let ck = ck["token"].as_str().unwrap().to_string();
    // Bodies are serialised before the clock starts.
    let batches: Vec<String> = (0..n)
        .collect::<Vec<_>>()
        .chunks(1000)
        .map(|c| Value::Array(c.iter().map(|i| body(*i)).collect()).to_string())
        .collect();
    let started = Instant::now();
    let clients = 4;
    let mut tasks = Vec::new();
    for w in 0..clients {
        let mine: Vec<String> = batches.iter().skip(w).step_by(clients).cloned().collect();
        let (http, base, ik) = (http.clone(), base.clone(), ik.clone());
        tasks.push(tokio::spawn(async move {
            for b in mine {
                let r = http
                    .post(format!("{base}/v1/ingest/activities"))
                    .header("x-api-key", &ik)
                    .header("content-type", "application/json")
                    .body(b)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::OK);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    // A filtered feed page (actor + type), 100 times.
    let q = Instant::now();
    for i in 0..100 {
        let r = http
            .get(format!(
                "{base}/v1/compliance/activities?actor_ids[]=user_{}&activity_types[]=file.*&limit=100",
                i * 3
            ))
            .header("x-api-key", &ck)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let page_ms = q.elapsed().as_secs_f64() * 1000.0 / 100.0;
    running.shutdown().await;
    (rate, page_ms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run with --ignored --nocapture"]
async fn ingest_and_query_side_by_side() {
    let n: usize = std::env::var("SEALTRAIL_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let Some(pg) = sealtrail::storage::postgres::test_database("bench").unwrap() else {
        eprintln!("skipped: SEALTRAIL_TEST_PG_URL is not set");
        return;
    };
    let (sqlite_rate, sqlite_page) = http_run(String::new(), n).await;
    let (pg_rate, pg_page) = http_run(pg.clone(), n).await;
    let bodies: Vec<String> = (0..n).map(|i| body(i).to_string()).collect();
    let naive_n = n.min(20_000);
    let (p1, p2, b1, b2) = (
        pg.clone(),
        pg.clone(),
        bodies[..naive_n].to_vec(),
        bodies.clone(),
    );
    let naive = tokio::task::spawn_blocking(move || {
        sealtrail::storage::postgres::baseline::naive_inserts(&p1, &b1)
    })
    .await
    .unwrap()
    .unwrap();
    let copy = tokio::task::spawn_blocking(move || {
        sealtrail::storage::postgres::baseline::copy_rows(&p2, &b2, 10_000)
    })
    .await
    .unwrap()
    .unwrap();
    println!("events: {n} (naive baseline: {naive_n}), HTTP batches of 1000, 4 clients");
    println!("| engine | ingest events/s | filtered feed page ms |");
    println!("|---|---:|---:|");
    println!("| embedded (SQLite) | {sqlite_rate:.0} | {sqlite_page:.2} |");
    println!("| PostgreSQL engine | {pg_rate:.0} | {pg_page:.2} |");
    println!("| PostgreSQL, one INSERT per event | {naive:.0} | |");
    println!("| PostgreSQL, COPY (bigint, jsonb) | {copy:.0} | |");
}
