//! Ingest, as a source sees it over HTTP: framing, limits, idempotency,
//! enablement and content exclusion.

mod common;

use common::*;
use serde_json::{Value, json};

/// An org that records, a source for it and a reader of it.
async fn setup(s: &Server, org: &str) -> (String, String) {
    s.org(org, None).await;
    let ingest = s.ingest_key(org, "platform").await;
    let reader = s.compliance_key(org, ALL_READ).await;
    (ingest, reader)
}

/// What the source sent, as the feed shows it.
async fn sent(s: &Server, reader: &str) -> Vec<Value> {
    s.feed_all(reader, "products[]=platform").await
}

fn statuses(b: &Value) -> Vec<String> {
    b["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_retried_batch_is_stored_once() {
    let s = Server::start().await;
    let (ingest, reader) = setup(&s, "acme").await;
    let batch = vec![
        event_sid("acme", "api_key.created", "src-1"),
        event_sid("acme", "user.login", "src-2"),
        event_sid("acme", "file.downloaded", "src-3"),
    ];
    let first = s.ingest_ok(&ingest, &batch).await;
    let seqs: Vec<u64> = first.iter().map(|x| x.1).collect();
    assert_eq!(seqs, vec![seqs[0], seqs[0] + 1, seqs[0] + 2]);

    // The same batch again, as a JSON array and as NDJSON: every event is a
    // duplicate carrying the original id and sequence.
    let ndjson = batch
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    for retry in [
        s.ingest(&ingest, &batch).await,
        s.ingest_raw(&ingest, Some("application/x-ndjson"), ndjson.into_bytes())
            .await,
    ] {
        let b = retry.expect(200);
        assert_eq!(b["accepted"], 0);
        assert_eq!(b["duplicates"], 3);
        for (i, r) in b["results"].as_array().unwrap().iter().enumerate() {
            assert_eq!(r["status"], "duplicate");
            assert_eq!(r["index"], i);
            assert_eq!(r["id"], first[i].0.as_str());
            assert_eq!(r["seq"], first[i].1);
        }
    }

    // One copy each in the feed, with the ids the source was given.
    let feed = sent(&s, &reader).await;
    assert_eq!(
        ids(&feed),
        first.iter().map(|x| x.0.clone()).collect::<Vec<_>>()
    );
    for (e, (_, seq)) in feed.iter().zip(&first) {
        assert_eq!(e["log"]["seq"], *seq);
    }
    let m = s.metrics().await;
    assert_eq!(
        metric(&m, "sealtrail_ingest_events_total{result=\"duplicate\"}"),
        6.0
    );
    assert_eq!(
        metric(&m, "sealtrail_ingest_events_total{result=\"accepted\"}"),
        3.0
    );
}

#[tokio::test]
async fn the_same_source_event_twice_in_one_batch_is_stored_once() {
    let s = Server::start().await;
    let (ingest, reader) = setup(&s, "acme").await;
    let e = event_sid("acme", "user.login", "twice");
    let r = s.ingest(&ingest, &[e.clone(), e]).await;
    let b = r.expect(200);
    assert_eq!(statuses(b), vec!["accepted", "duplicate"]);
    assert_eq!(b["results"][0]["id"], b["results"][1]["id"]);
    assert_eq!(b["results"][0]["seq"], b["results"][1]["seq"]);
    assert_eq!(sent(&s, &reader).await.len(), 1);
}

#[tokio::test]
async fn source_event_ids_are_scoped_to_the_product() {
    // Two products may use the same event id without colliding.
    let s = Server::start().await;
    let (platform, reader) = setup(&s, "acme").await;
    let cowork = s.ingest_key("acme", "cowork").await;
    let e = event_sid("acme", "user.login", "same-id");
    let a = s.ingest_ok(&platform, std::slice::from_ref(&e)).await;
    let b = s.ingest_ok(&cowork, &[e]).await;
    assert_ne!(a[0].0, b[0].0);
    let feed = s.feed_all(&reader, "products[]=platform,cowork").await;
    assert_eq!(feed.len(), 2);
}

#[tokio::test]
async fn ndjson_json_arrays_and_single_objects_are_accepted() {
    let s = Server::start().await;
    let (ingest, reader) = setup(&s, "acme").await;

    // NDJSON with blank lines and CRLF endings.
    let body = format!(
        "{}\r\n\n{}\n{}\n\n",
        event("acme", "user.login"),
        event("acme", "user.logout"),
        event("acme", "api_key.created")
    );
    let r = s
        .ingest_raw(&ingest, Some("application/x-ndjson"), body.into_bytes())
        .await;
    let b = r.expect(200);
    assert_eq!(b["accepted"], 3);
    let idx: Vec<u64> = b["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(idx, vec![0, 1, 2]);

    // A JSON array with a charset parameter.
    let arr = json!([event("acme", "file.created"), event("acme", "file.deleted")]);
    let r = s
        .ingest_raw(
            &ingest,
            Some("application/json; charset=utf-8"),
            arr.to_string().into_bytes(),
        )
        .await;
    assert_eq!(r.expect(200)["accepted"], 2);

    // One event object on its own.
    let r = s
        .ingest_raw(
            &ingest,
            Some("application/json"),
            event("acme", "project.created").to_string().into_bytes(),
        )
        .await;
    assert_eq!(r.expect(200)["accepted"], 1);

    assert_eq!(
        types(&sent(&s, &reader).await),
        vec![
            "user.login",
            "user.logout",
            "api_key.created",
            "file.created",
            "file.deleted",
            "project.created"
        ]
    );
}

#[tokio::test]
async fn a_batch_holds_at_most_1000_events() {
    let s = Server::start().await;
    let (ingest, reader) = setup(&s, "acme").await;
    let batch: Vec<Value> = (0..1000).map(|_| event("acme", "user.login")).collect();
    assert_eq!(s.ingest_ok(&ingest, &batch).await.len(), 1000);

    let mut over = batch.clone();
    over.push(event("acme", "user.login"));
    s.ingest(&ingest, &over)
        .await
        .problem(413, "too_many_events", Some("body"));
    let ndjson = over
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    s.ingest_raw(&ingest, Some("application/x-ndjson"), ndjson.into_bytes())
        .await
        .problem(413, "too_many_events", Some("body"));

    assert_eq!(sent(&s, &reader).await.len(), 1000);
}

#[tokio::test]
async fn a_body_is_at_most_5_mb() {
    let s = Server::start().await;
    let (ingest, reader) = setup(&s, "acme").await;
    let limit = 5 * 1024 * 1024;

    // Just under the limit is accepted, whatever the server's defaults.
    let mut body = format!("[{}]", event("acme", "user.login")).into_bytes();
    body.resize(limit, b' ');
    let r = s.ingest_raw(&ingest, Some("application/json"), body).await;
    assert_eq!(r.expect(200)["accepted"], 1);

    // One byte more is refused with a problem body.
    let mut body = format!("[{}]", event("acme", "user.login")).into_bytes();
    body.resize(limit + 1, b' ');
    let r = s.ingest_raw(&ingest, Some("application/json"), body).await;
    r.problem(413, "too_large", Some("body"));
    assert_eq!(sent(&s, &reader).await.len(), 1);
}

#[tokio::test]
async fn a_body_that_is_not_json_or_ndjson_is_refused_with_415() {
    let s = Server::start().await;
    let (ingest, reader) = setup(&s, "acme").await;
    let body = json!([event("acme", "user.login")]).to_string();
    for ct in [None, Some("text/plain"), Some("application/xml")] {
        s.ingest_raw(&ingest, ct, body.clone().into_bytes())
            .await
            .problem(415, "unsupported_media_type", Some("content-type"));
    }
    assert!(sent(&s, &reader).await.is_empty());
}

#[tokio::test]
async fn malformed_json_is_refused_naming_where() {
    let s = Server::start().await;
    let (ingest, reader) = setup(&s, "acme").await;
    let good = event("acme", "user.login").to_string();

    let body = format!("{good}\n{{\"type\": \n{good}\n");
    s.ingest_raw(&ingest, Some("application/x-ndjson"), body.into_bytes())
        .await
        .problem(400, "invalid_parameter", Some("line 2"));

    s.ingest_raw(
        &ingest,
        Some("application/json"),
        format!("[{good},").into_bytes(),
    )
    .await
    .problem(400, "invalid_parameter", Some("body"));
    s.ingest_raw(&ingest, Some("application/json"), b"\"hello\"".to_vec())
        .await
        .problem(400, "invalid_parameter", Some("body"));
    s.ingest_raw(&ingest, Some("application/json"), b"[]".to_vec())
        .await
        .problem(400, "invalid_parameter", Some("body"));

    // A malformed batch stores nothing, not even its good lines.
    assert!(sent(&s, &reader).await.is_empty());
}

#[tokio::test]
async fn an_organization_not_enabled_stores_nothing_and_counts_refusals() {
    let s = Server::start().await;
    s.create_org("dormant", None).await;
    let ingest = s.ingest_key("dormant", "platform").await;
    let reader = s.compliance_key("dormant", ALL_READ).await;
    let batch: Vec<Value> = (0..3)
        .map(|i| event_sid("dormant", "user.login", &format!("e{i}")))
        .collect();

    let r = s.ingest(&ingest, &batch).await;
    let b = r.problem(422, "organization_not_enabled", Some("organization_id"));
    assert_eq!(b["refused"], 3);
    for (i, res) in b["results"].as_array().unwrap().iter().enumerate() {
        assert_eq!(res["status"], "refused");
        assert_eq!(res["index"], i);
        assert_eq!(res["error"]["type"], "organization_not_enabled");
        assert_eq!(res["error"]["field"], "organization_id");
        assert!(res.get("id").is_none());
    }
    let m = s.metrics().await;
    assert_eq!(
        metric(
            &m,
            "sealtrail_ingest_refused_total{reason=\"organization_not_enabled\"}"
        ),
        3.0
    );
    assert_eq!(
        metric(&m, "sealtrail_ingest_events_total{result=\"refused\"}"),
        3.0
    );

    // Nothing of it is in the log: the feed is empty, and says that
    // coverage has not begun.
    let feed = s.feed(&reader, "").await;
    let b = feed.expect(200);
    assert_eq!(b["data"], json!([]));
    assert_eq!(
        b["coverage"],
        json!([{"organization_id": "dormant", "logging_enabled": false, "logging_enabled_at": null}])
    );

    // After enablement the log starts with compliance.enabled, and the same
    // events are new (nothing was kept to deduplicate against).
    s.enable("dormant").await;
    let r = s.ingest(&ingest, &batch).await;
    assert_eq!(statuses(r.expect(200)), vec!["accepted"; 3]);
    let all = s.feed_all(&reader, NO_READS).await;
    assert_eq!(
        types(&all),
        vec![
            "compliance.enabled",
            "user.login",
            "user.login",
            "user.login"
        ]
    );
    assert_eq!(all[0]["log"]["seq"], 0);
    let b = s.feed(&reader, "limit=1").await.expect(200).clone();
    assert_eq!(b["coverage"][0]["logging_enabled"], true);
    let began = b["coverage"][0]["logging_enabled_at"].as_str().unwrap();
    assert!(began <= all[0]["received_at"].as_str().unwrap());
    assert!(began >= all[0]["created_at"].as_str().unwrap());

    // Disabling is recorded, and refuses again.
    s.post(
        "/v1/operator/organizations/dormant/disable",
        Some(&s.operator),
        &json!({}),
    )
    .await
    .expect(200);
    let r = s.ingest(&ingest, &[event("dormant", "user.logout")]).await;
    r.problem(422, "organization_not_enabled", Some("organization_id"));
    let all = s.feed_all(&reader, NO_READS).await;
    assert_eq!(types(&all).last().unwrap(), "compliance.disabled");
    assert_eq!(all.len(), 5);
    assert_eq!(
        metric(
            &s.metrics().await,
            "sealtrail_ingest_refused_total{reason=\"organization_not_enabled\"}"
        ),
        4.0
    );
}

#[tokio::test]
async fn a_mixed_batch_stores_what_may_be_stored_and_says_why_not_for_the_rest() {
    let s = Server::start().await;
    s.org("parent", None).await;
    s.create_org("child", Some("parent")).await;
    let ingest = s.ingest_key("parent", "platform").await;
    let reader = s.compliance_key("parent", ALL_READ).await;
    let r = s
        .ingest(
            &ingest,
            &[
                event("parent", "user.login"),
                event("child", "user.login"),
                event("parent", "user.logout"),
            ],
        )
        .await;
    let b = r.expect(200);
    assert_eq!(statuses(b), vec!["accepted", "refused", "accepted"]);
    assert_eq!(b["results"][1]["error"]["type"], "organization_not_enabled");
    assert_eq!(
        (b["accepted"].clone(), b["refused"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(
        types(&sent(&s, &reader).await),
        vec!["user.login", "user.logout"]
    );
}

#[tokio::test]
async fn inference_content_is_refused_naming_the_field() {
    let s = Server::start().await;
    let (ingest, reader) = setup(&s, "acme").await;
    let with = |f: &dyn Fn(&mut Value)| {
        let mut e = event("acme", "tool.invoked");
        e["metadata"] = json!({ "tool_name": "search", "server": "mcp-1" });
        f(&mut e);
        e
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            with(&|e| e["metadata"]["a"] = json!({ "b": { "prompt": "tell me a secret" } })),
            "inference_content",
            "metadata.a.b.prompt",
        ),
        (
            with(&|e| e["messages"] = json!([{ "role": "user" }])),
            "inference_content",
            "messages",
        ),
        (
            with(&|e| e["metadata"]["steps"] = json!([{ "modelResponse": "..." }])),
            "inference_content",
            "metadata.steps[0].modelResponse",
        ),
        (
            with(&|e| e["changes"] = json!([{ "field": "system_prompt", "old": "a", "new": "b" }])),
            "inference_content",
            "changes[0].field",
        ),
        (
            with(&|e| e["target"]["Completions"] = json!("x")),
            "inference_content",
            "target.Completions",
        ),
        (
            with(&|e| e["metadata"]["note"] = json!("x".repeat(2000))),
            "too_long",
            "metadata.note",
        ),
        (
            with(&|e| {
                for i in 0..20 {
                    e["metadata"][format!("k{i}")] = json!("y".repeat(1000));
                }
            }),
            "too_large",
            "",
        ),
        (
            with(&|e| e["metadata"]["d"] = json!([[[[[[[["deep"]]]]]]]])),
            "too_deep",
            "metadata.d[0][0][0][0][0][0]",
        ),
    ];
    // Words that merely contain a keyword are not content.
    let allowed = with(&|e| {
        e["metadata"]["input_tokens"] = json!(12);
        e["metadata"]["prompt_id"] = json!("p_1");
        e["metadata"]["content_type"] = json!("text/csv");
    });
    let mut batch: Vec<Value> = cases.iter().map(|c| c.0.clone()).collect();
    batch.push(allowed);
    let r = s.ingest(&ingest, &batch).await;
    let b = r.expect(200);
    assert_eq!(b["accepted"], 1);
    assert_eq!(b["refused"], cases.len());
    for (i, (_, kind, field)) in cases.iter().enumerate() {
        let res = &b["results"][i];
        assert_eq!(res["status"], "refused", "case {i}: {res}");
        assert_eq!(res["error"]["type"], *kind, "case {i}: {res}");
        assert_eq!(
            res["error"]["field"].as_str().unwrap_or(""),
            *field,
            "case {i}: {res}"
        );
        let msg = res["error"]["message"].as_str().unwrap();
        if !field.is_empty() {
            assert!(
                msg.contains(field),
                "case {i}: message names the field: {msg}"
            );
        }
    }
    let stored = sent(&s, &reader).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["metadata"]["prompt_id"], "p_1");
    assert_eq!(
        metric(
            &s.metrics().await,
            "sealtrail_ingest_refused_total{reason=\"inference_content\"}"
        ),
        5.0
    );
}

#[tokio::test]
async fn only_ingest_keys_may_ingest() {
    let s = Server::start().await;
    let (_, reader) = setup(&s, "acme").await;
    let batch = [event("acme", "user.login")];
    s.ingest(&reader, &batch)
        .await
        .problem(403, "forbidden", None);
    let op = s.operator.clone();
    s.ingest(&op, &batch).await.problem(403, "forbidden", None);
    s.ingest("ink_nobody.secret", &batch)
        .await
        .problem(401, "unauthenticated", None);
    let r = s
        .send(
            s.http
                .post(s.url("/v1/ingest/activities"))
                .json(&json!(batch)),
        )
        .await;
    r.problem(401, "unauthenticated", None);
    assert!(sent(&s, &reader).await.is_empty());
}

#[tokio::test]
async fn a_retry_gets_the_original_result_even_after_recording_stops() {
    // The source never saw the first answer; recording was switched off
    // since. Its retry must learn the events are stored, not that they
    // were refused.
    let s = Server::start().await;
    let (ingest, reader) = setup(&s, "acme").await;
    let batch = vec![event_sid("acme", "user.login", "late-1")];
    let first = s.ingest_ok(&ingest, &batch).await;
    s.post(
        "/v1/operator/organizations/acme/disable",
        Some(&s.operator),
        &json!({}),
    )
    .await
    .expect(200);
    let r = s.ingest(&ingest, &batch).await;
    let b = r.expect(200);
    assert_eq!(b["results"][0]["status"], "duplicate");
    assert_eq!(b["results"][0]["id"], first[0].0.as_str());
    assert_eq!(b["results"][0]["seq"], first[0].1);
    // A new event is still refused.
    s.ingest(&ingest, &[event_sid("acme", "user.login", "late-2")])
        .await
        .problem(422, "organization_not_enabled", Some("organization_id"));
    assert_eq!(sent(&s, &reader).await.len(), 1);
}
