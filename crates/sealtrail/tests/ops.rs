//! Operating the server: health, readiness, metrics, and the one problem
//! shape of every error.

mod common;

use std::sync::Arc;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn health_and_readiness_answer_without_credentials() {
    let s = Server::start().await;
    let h = s.get("/healthz", None).await;
    assert_eq!((h.status, h.text.trim()), (200, "ok"));
    let r = s.get("/readyz", None).await;
    assert_eq!((r.status, r.text.trim()), (200, "ready"));
}

fn histogram_is_consistent(m: &str, name: &str) -> f64 {
    let count = metric(m, &format!("{name}_count"));
    assert_eq!(
        metric(m, &format!("{name}_bucket{{le=\"+Inf\"}}")),
        count,
        "{name}"
    );
    let mut last = 0.0;
    for line in m
        .lines()
        .filter(|l| l.starts_with(&format!("{name}_bucket")))
    {
        let v: f64 = line.rsplit_once(' ').unwrap().1.parse().unwrap();
        assert!(v >= last, "{name} buckets are cumulative: {line}");
        last = v;
    }
    count
}

#[tokio::test]
async fn metrics_count_ingest_refusals_latency_and_group_commits() {
    let s = Server::start().await;
    s.org("acme", None).await;
    s.create_org("dormant", None).await;
    let ingest = s.ingest_key("acme", "platform").await;
    let dormant = s.ingest_key("dormant", "platform").await;
    let reader = s.compliance_key("acme", ALL_READ).await;

    let mut prompt = event("acme", "user.login");
    prompt["metadata"] = json!({"prompt": "hi"});
    let batch: Vec<Value> = (0..10).map(|_| event("acme", "user.login")).collect();
    s.ingest_ok(&ingest, &batch).await;
    s.ingest(&ingest, &[prompt, event("acme", "user.login")])
        .await
        .expect(200);
    s.ingest(&dormant, &[event("dormant", "user.login")])
        .await
        .expect(422);
    for _ in 0..3 {
        s.feed(&reader, "").await.expect(200);
    }
    s.settle().await;

    let r = s.get("/metrics", None).await;
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let m = r.text;
    assert_eq!(
        metric(&m, "sealtrail_ingest_events_total{result=\"accepted\"}"),
        11.0
    );
    assert_eq!(
        metric(&m, "sealtrail_ingest_events_total{result=\"refused\"}"),
        2.0
    );
    assert_eq!(
        metric(
            &m,
            "sealtrail_ingest_refused_total{reason=\"inference_content\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &m,
            "sealtrail_ingest_refused_total{reason=\"organization_not_enabled\"}"
        ),
        1.0
    );
    assert_eq!(
        histogram_is_consistent(&m, "sealtrail_ingest_request_seconds"),
        3.0
    );
    assert_eq!(
        histogram_is_consistent(&m, "sealtrail_feed_request_seconds"),
        3.0
    );
    assert_eq!(metric(&m, "sealtrail_audit_records_total"), 3.0);
    assert_eq!(metric(&m, "sealtrail_organizations_enabled"), 1.0);
    assert!(metric(&m, "sealtrail_storage_bytes") > 0.0);
    // Every event appended went through a group commit: 11 from the source,
    // compliance.enabled, compliance.key_created and three read records.
    let commits = histogram_is_consistent(&m, "sealtrail_group_commit_events");
    assert!(commits >= 1.0);
    assert_eq!(metric(&m, "sealtrail_group_commit_events_sum"), 16.0);
    let total = s.feed_all(&reader, "").await.len();
    assert_eq!(total, 16);
    assert!(histogram_is_consistent(&m, "sealtrail_group_commit_seconds") >= commits);
    assert_eq!(metric(&m, "sealtrail_group_commit_failures_total"), 0.0);

    // Checkpoints are signed for logs that grew.
    let mut signed = 0.0;
    for _ in 0..50 {
        signed = metric(&s.metrics().await, "sealtrail_checkpoints_signed_total");
        if signed >= 1.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(signed >= 1.0);
}

#[tokio::test]
async fn every_error_has_the_same_problem_shape() {
    let s = Server::start().await;
    s.org("acme", None).await;
    let reader = s.compliance_key("acme", ALL_READ).await;
    let ingest = s.ingest_key("acme", "platform").await;
    let op = s.operator.clone();

    s.get("/v1/compliance/activities", None)
        .await
        .problem(401, "unauthenticated", None);
    s.feed("cpk_x.not-a-key", "")
        .await
        .problem(401, "unauthenticated", None);
    s.get("/v1/operator/organizations", Some(&reader))
        .await
        .problem(403, "forbidden", None);
    s.get("/v1/nothing-here", None)
        .await
        .problem(404, "not_found", None);
    s.get("/v1/operator/organizations/nope", Some(&op))
        .await
        .problem(404, "not_found", None);
    let r = s
        .send(
            s.http
                .delete(s.url("/v1/compliance/activities"))
                .header("x-api-key", &reader),
        )
        .await;
    r.problem(405, "method_not_allowed", None);
    s.post(
        "/v1/operator/organizations",
        Some(&op),
        &json!({"id": "acme", "name": "again"}),
    )
    .await
    .problem(409, "conflict", None);
    s.post(
        "/v1/operator/organizations",
        Some(&op),
        &json!({"id": "orphan", "name": "x", "parent_id": "missing"}),
    )
    .await
    .problem(422, "unprocessable", Some("parent_id"));
    s.post(
        "/v1/operator/organizations",
        Some(&op),
        &json!({"id": 5, "name": "x"}),
    )
    .await
    .problem(400, "invalid_parameter", Some("id"));
    s.post(
        "/v1/operator/organizations",
        Some(&op),
        &json!({"id": "bad id!", "name": "x"}),
    )
    .await
    .problem(400, "invalid_parameter", Some("id"));
    let r = s
        .send(
            s.http
                .post(s.url("/v1/operator/organizations"))
                .header("x-api-key", &op)
                .header("content-type", "text/plain")
                .body("{}"),
        )
        .await;
    r.problem(415, "unsupported_media_type", Some("content-type"));
    let many: Vec<Value> = (0..1001).map(|_| event("acme", "user.login")).collect();
    s.ingest(&ingest, &many)
        .await
        .problem(413, "too_many_events", Some("body"));
    s.ingest(&ingest, &[event("acme", "no.such_type")])
        .await
        .problem(422, "unknown_type", Some("type"));
    s.ingest(&ingest, &[event("acme", "compliance.enabled")])
        .await
        .problem(422, "reserved_type", Some("type"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_operator_change_does_not_fail_other_writers() {
    // Group commit shares one transaction among concurrent requests; one
    // request's refusal must not take the others down with it.
    let s = Arc::new(Server::start().await);
    s.org("acme", None).await;
    let ingest = s.ingest_key("acme", "platform").await;
    let reader = s.compliance_key("acme", ALL_READ).await;

    let mut writers = Vec::new();
    for w in 0..6 {
        let (s, ingest) = (s.clone(), ingest.clone());
        writers.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            for b in 0..40 {
                let r = s
                    .ingest(
                        &ingest,
                        &[event_sid("acme", "user.login", &format!("{w}-{b}"))],
                    )
                    .await;
                if r.status != 200 {
                    failures.push(r.text);
                }
            }
            failures
        }));
    }
    let conflicts = {
        let s = s.clone();
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..60 {
                let r = s
                    .post(
                        "/v1/operator/organizations",
                        Some(&s.operator),
                        &json!({"id": "acme", "name": "duplicate"}),
                    )
                    .await;
                statuses.push(r.status);
            }
            statuses
        })
    };
    let mut failures = Vec::new();
    for w in writers {
        failures.extend(w.await.unwrap());
    }
    assert!(conflicts.await.unwrap().iter().all(|s| *s == 409));
    assert!(
        failures.is_empty(),
        "{} ingest requests failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    assert_eq!(s.feed_all(&reader, "products[]=platform").await.len(), 240);
}
