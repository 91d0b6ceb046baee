//! Keys and access: tenant isolation, organization trees, the key
//! lifecycle, scopes, what an ingest key may write, and rate limits.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// Creates a recording org with one event from a source; returns the
/// event's id.
async fn org_with_event(s: &Server, org: &str, parent: Option<&str>) -> String {
    s.org(org, parent).await;
    let k = s.ingest_key(org, "platform").await;
    s.ingest_ok(&k, &[event(org, "user.login")]).await[0]
        .0
        .clone()
}

fn orgs_of(events: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = events
        .iter()
        .map(|e| e["organization_id"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Waits for a first checkpoint of an org (signed every 200 ms here).
async fn wait_checkpoint(s: &Server, key: &str, org: &str) {
    for _ in 0..100 {
        let r = s
            .get(
                &format!("/v1/compliance/integrity/checkpoint?organization_id={org}"),
                Some(key),
            )
            .await;
        if r.status == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no checkpoint for {org}");
}

#[tokio::test]
async fn a_key_of_one_organization_gets_nothing_of_another() {
    let s = Server::start().await;
    let _a_event = org_with_event(&s, "org-a", None).await;
    let b_event = org_with_event(&s, "org-b", None).await;
    let a = s.compliance_key("org-a", ALL_READ).await;
    let b = s.compliance_key("org-b", ALL_READ).await;
    wait_checkpoint(&s, &b, "org-b").await;

    let feed = s.feed_all(&a, "").await;
    assert!(!feed.is_empty());
    assert_eq!(orgs_of(&feed), vec!["org-a"]);

    s.feed(&a, "organization_ids[]=org-b").await.problem(
        403,
        "forbidden",
        Some("organization_ids[]"),
    );
    s.feed(&a, "organization_ids[]=org-a&organization_ids[]=org-b")
        .await
        .problem(403, "forbidden", Some("organization_ids[]"));
    // A single event of another tenant does not exist for this key.
    s.get(&format!("/v1/compliance/activities/{b_event}"), Some(&a))
        .await
        .problem(404, "not_found", None);
    // Nor do its integrity data.
    s.get(
        "/v1/compliance/integrity/checkpoint?organization_id=org-b",
        Some(&a),
    )
    .await
    .problem(403, "forbidden", Some("organization_id"));
    s.get(
        &format!("/v1/compliance/integrity/inclusion?activity_id={b_event}"),
        Some(&a),
    )
    .await
    .problem(404, "not_found", None);
    s.get(
        "/v1/compliance/integrity/consistency?organization_id=org-b&first=1&second=2",
        Some(&a),
    )
    .await
    .problem(403, "forbidden", Some("organization_id"));
    let orgs = s.get("/v1/compliance/organizations", Some(&a)).await;
    let listed: Vec<&str> = orgs.expect(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec!["org-a"]);

    // The owner reads what the other key could not.
    s.get(&format!("/v1/compliance/activities/{b_event}"), Some(&b))
        .await
        .expect(200);
    s.get(
        &format!("/v1/compliance/integrity/inclusion?activity_id={b_event}"),
        Some(&b),
    )
    .await
    .expect(200);
    // And A's reads were recorded in A's log, never in B's.
    s.settle().await;
    let b_feed = s.feed_all(&b, "").await;
    assert_eq!(orgs_of(&b_feed), vec!["org-b"]);
    let a_key_id = a.split('.').next().unwrap();
    assert!(
        b_feed.iter().all(|e| e["actor"]["api_key_id"] != a_key_id),
        "B's log holds nothing of A's key"
    );
}

#[tokio::test]
async fn a_parent_reads_its_children_and_a_child_does_not_read_its_parent() {
    let s = Server::start().await;
    let p_event = org_with_event(&s, "parent", None).await;
    let c1_event = org_with_event(&s, "child-1", Some("parent")).await;
    let _c2_event = org_with_event(&s, "child-2", Some("parent")).await;
    // A root linked under the parent later: its earlier events come along.
    let l_event = org_with_event(&s, "linked", None).await;
    s.post(
        "/v1/operator/organizations/linked/link",
        Some(&s.operator),
        &json!({"parent_id": "parent"}),
    )
    .await
    .expect(200);
    let pk = s.compliance_key("parent", ALL_READ).await;
    let ck = s.compliance_key("child-1", ALL_READ).await;

    let all = s.feed_all(&pk, NO_READS).await;
    assert_eq!(
        orgs_of(&all),
        vec!["child-1", "child-2", "linked", "parent"]
    );
    let some = s
        .feed_all(
            &pk,
            &format!("{NO_READS}&organization_ids[]=child-1&organization_ids[]=linked"),
        )
        .await;
    assert_eq!(orgs_of(&some), vec!["child-1", "linked"]);
    for id in [&c1_event, &l_event, &p_event] {
        s.get(&format!("/v1/compliance/activities/{id}"), Some(&pk))
            .await
            .expect(200);
    }
    wait_checkpoint(&s, &pk, "child-2").await;

    // The child sees itself only.
    let mine = s.feed_all(&ck, "").await;
    assert_eq!(orgs_of(&mine), vec!["child-1"]);
    for other in ["parent", "child-2"] {
        s.feed(&ck, &format!("organization_ids[]={other}"))
            .await
            .problem(403, "forbidden", Some("organization_ids[]"));
        s.get(
            &format!("/v1/compliance/integrity/checkpoint?organization_id={other}"),
            Some(&ck),
        )
        .await
        .problem(403, "forbidden", Some("organization_id"));
    }
    s.get(&format!("/v1/compliance/activities/{p_event}"), Some(&ck))
        .await
        .problem(404, "not_found", None);
    s.get(&format!("/v1/compliance/activities/{c1_event}"), Some(&ck))
        .await
        .expect(200);
}

#[tokio::test]
async fn a_key_is_shown_once_and_stored_hashed() {
    let s = Server::start().await;
    s.org("acme", None).await;
    let r = s
        .create_key(json!({
            "kind": "compliance", "organization_id": "acme",
            "scopes": ["read:activities"], "name": "siem"
        }))
        .await;
    let created = r.expect(201).clone();
    let token = created["token"].as_str().unwrap().to_string();
    let (id, secret) = token.split_once('.').unwrap();
    assert_eq!(created["id"], id);
    assert_eq!(created["scopes"], json!(["read:activities"]));
    assert!(secret.len() >= 40, "a secret with enough entropy: {secret}");

    // Listing never shows it again.
    let list = s.get("/v1/operator/keys", Some(&s.operator)).await;
    let listed = list.expect(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap()
        .clone();
    assert!(listed.get("token").is_none());
    assert!(!list.text.contains(secret));

    // The secret is in nothing the server stored (files of the data
    // directory, and the database on PostgreSQL); the id is.
    let mut stored = 0;
    let mut id_seen = false;
    for (name, bytes) in s.stored() {
        stored += 1;
        assert!(
            !contains(&bytes, secret.as_bytes()),
            "{name} holds the key secret"
        );
        id_seen |= contains(&bytes, id.as_bytes());
    }
    assert!(stored >= 2 && id_seen, "the key is stored somewhere");

    // It works, of course.
    s.feed(&token, "").await.expect(200);
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn revocation_takes_effect_on_the_next_request() {
    let s = Server::start().await;
    s.org("acme", None).await;
    let reader = s.compliance_key("acme", ALL_READ).await;
    let auditor = s.compliance_key("acme", ALL_READ).await;
    let ingest = s.ingest_key("acme", "platform").await;
    s.feed(&reader, "").await.expect(200);
    s.ingest_ok(&ingest, &[event("acme", "user.login")]).await;

    for k in [&reader, &ingest] {
        let id = k.split('.').next().unwrap();
        let r = s
            .post(
                &format!("/v1/operator/keys/{id}/revoke"),
                Some(&s.operator),
                &json!({}),
            )
            .await;
        assert!(r.expect(200)["revoked_at"].is_string());
    }
    let r = s.feed(&reader, "").await;
    r.problem(401, "unauthenticated", None);
    assert!(r.body["message"].as_str().unwrap().contains("revoked"));
    s.ingest(&ingest, &[event("acme", "user.login")])
        .await
        .problem(401, "unauthenticated", None);

    // The revocation is in the log.
    let reader_id = reader.split('.').next().unwrap();
    let revoked = s
        .feed_all(&auditor, "activity_types[]=compliance.key_revoked")
        .await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["target"]["id"], reader_id);

    s.post(
        "/v1/operator/keys/cpk_nonexistent/revoke",
        Some(&s.operator),
        &json!({}),
    )
    .await
    .problem(404, "not_found", None);
}

/// The `api_keys` cache counters of a server.
async fn key_cache(s: &Server) -> (f64, f64) {
    let m = s.metrics().await;
    (
        metric(
            &m,
            "sealtrail_cache_lookups_total{cache=\"api_keys\",result=\"hit\"}",
        ),
        metric(
            &m,
            "sealtrail_cache_lookups_total{cache=\"api_keys\",result=\"miss\"}",
        ),
    )
}

#[tokio::test]
async fn a_cached_key_is_refused_on_the_next_request_after_revocation_on_every_node() {
    let s = Server::start().await;
    s.org("acme", None).await;
    let reader = s.compliance_key("acme", ALL_READ).await;
    let id = reader.split('.').next().unwrap().to_string();
    // A second node on a shared store caches the key too.
    let other = s.join().await;
    for n in std::iter::once(&s).chain(other.as_ref()) {
        for _ in 0..3 {
            n.feed(&reader, "").await.expect(200);
        }
        // Up to the first use (or, on a node that joined a shared store,
        // until it listens for notices) a read goes to storage; then the
        // record is served from memory.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (hits0, _) = key_cache(n).await;
            n.feed(&reader, "").await.expect(200);
            let (hits1, _) = key_cache(n).await;
            if hits1 > hits0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the key record is never served from the cache"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Unknown key ids are not kept.
    for i in 0..50 {
        s.feed(&format!("cpk_unknown{i}.secret"), "")
            .await
            .problem(401, "unauthenticated", None);
    }
    assert!(s.app.keys.cache().len() <= 3, "only real keys are cached");

    s.post(
        &format!("/v1/operator/keys/{id}/revoke"),
        Some(&s.operator),
        &json!({}),
    )
    .await
    .expect(200);
    let r = s.feed(&reader, "").await;
    r.problem(401, "unauthenticated", None);
    assert!(r.body["message"].as_str().unwrap().contains("revoked"));

    if let Some(b) = &other {
        // The revoking node's notice reaches the other node promptly.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let r = b.feed(&reader, "").await;
            if r.status == 401 {
                assert!(r.body["message"].as_str().unwrap().contains("revoked"));
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "node B still accepts a key revoked on node A (HTTP {})",
                r.status
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn an_expired_key_is_refused() {
    let s = Server::start().await;
    s.org("acme", None).await;
    let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_millis(1500);
    let r = s
        .create_key(json!({
            "kind": "compliance", "organization_id": "acme",
            "scopes": ["read:activities"], "expires_at": expires.to_string()
        }))
        .await;
    let created = r.expect(201).clone();
    assert!(created["expires_at"].is_string());
    let token = created["token"].as_str().unwrap().to_string();
    s.feed(&token, "").await.expect(200);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let r = s.feed(&token, "").await;
    r.problem(401, "unauthenticated", None);
    assert!(r.body["message"].as_str().unwrap().contains("expired"));

    let past = (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60)).to_string();
    s.create_key(json!({
        "kind": "compliance", "organization_id": "acme",
        "scopes": ["read:activities"], "expires_at": past
    }))
    .await
    .problem(400, "invalid_parameter", Some("expires_at"));
}

#[tokio::test]
async fn scopes_are_enforced_and_named() {
    let s = Server::start().await;
    let id = org_with_event(&s, "acme", None).await;
    let integrity_only = s.compliance_key("acme", &["read:integrity"]).await;
    let activities_only = s.compliance_key("acme", &["read:activities"]).await;

    for r in [
        s.feed(&integrity_only, "").await,
        s.get(
            &format!("/v1/compliance/activities/{id}"),
            Some(&integrity_only),
        )
        .await,
    ] {
        r.problem(403, "forbidden", None);
        assert!(
            r.body["message"]
                .as_str()
                .unwrap()
                .contains("read:activities")
        );
    }
    let r = s
        .get(
            "/v1/compliance/integrity/checkpoint?organization_id=acme",
            Some(&activities_only),
        )
        .await;
    r.problem(403, "forbidden", None);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("read:integrity")
    );

    // Planes do not mix.
    let op = s.operator.clone();
    s.feed(&op, "").await.problem(403, "forbidden", None);
    s.get("/v1/operator/keys", Some(&activities_only))
        .await
        .problem(403, "forbidden", None);
    let ingest = s.ingest_key("acme", "platform").await;
    s.feed(&ingest, "").await.problem(403, "forbidden", None);

    // Scopes are checked when the key is made.
    s.create_key(json!({
        "kind": "compliance", "organization_id": "acme", "scopes": ["read:everything"]
    }))
    .await
    .problem(400, "invalid_parameter", Some("scopes"));
    s.create_key(json!({"kind": "compliance", "organization_id": "acme", "scopes": []}))
        .await
        .problem(400, "invalid_parameter", Some("scopes"));
}

#[tokio::test]
async fn an_ingest_key_writes_only_its_product_and_its_tree() {
    let s = Server::start().await;
    s.org("parent", None).await;
    s.org("child", Some("parent")).await;
    s.org("other", None).await;
    let key = s.ingest_key("parent", "platform").await;
    let child_key = s.ingest_key("child", "platform").await;
    let reader = s.compliance_key("parent", ALL_READ).await;
    let other_reader = s.compliance_key("other", ALL_READ).await;

    let with_product = |org: &str, p: &str| {
        let mut e = event(org, "user.login");
        e["product"] = json!(p);
        e
    };
    let r = s
        .ingest(
            &key,
            &[
                with_product("parent", "cowork"),
                with_product("parent", "platform"),
                event("other", "user.login"),
                event("nowhere", "user.login"),
                event("child", "user.login"),
            ],
        )
        .await;
    let b = r.expect(200).clone();
    let res = b["results"].as_array().unwrap();
    assert_eq!(res[0]["error"]["type"], "product_mismatch");
    assert_eq!(res[0]["error"]["field"], "product");
    assert_eq!(res[1]["status"], "accepted");
    assert_eq!(res[2]["error"]["type"], "organization_not_allowed");
    assert_eq!(res[2]["error"]["field"], "organization_id");
    assert_eq!(res[3]["error"]["type"], "organization_not_allowed");
    assert_eq!(res[4]["status"], "accepted");

    // A child's source may not write for its parent.
    s.ingest(&child_key, &[event("parent", "user.login")])
        .await
        .problem(422, "organization_not_allowed", Some("organization_id"));

    let written = s.feed_all(&reader, "products[]=platform").await;
    assert_eq!(orgs_of(&written), vec!["child", "parent"]);
    assert_eq!(written.len(), 2);
    assert!(
        s.feed_all(&other_reader, "products[]=platform")
            .await
            .is_empty()
    );
    let m = s.metrics().await;
    assert_eq!(
        metric(
            &m,
            "sealtrail_ingest_refused_total{reason=\"product_mismatch\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &m,
            "sealtrail_ingest_refused_total{reason=\"organization_not_allowed\"}"
        ),
        3.0
    );
}

#[tokio::test]
async fn a_tree_over_its_rate_limit_is_told_when_to_retry() {
    let s = Server::start_with(|c| c.rate_limit_per_minute = 3).await;
    s.org("parent", None).await;
    s.org("child", Some("parent")).await;
    s.org("other", None).await;
    let pk = s.compliance_key("parent", ALL_READ).await;
    let ck = s.compliance_key("child", ALL_READ).await;
    let ok = s.compliance_key("other", ALL_READ).await;

    for remaining in ["2", "1", "0"] {
        let r = s.feed(&pk, "").await;
        r.expect(200);
        assert_eq!(r.header("ratelimit-limit"), Some("3"));
        assert_eq!(r.header("ratelimit-remaining"), Some(remaining));
        assert!(r.header("ratelimit-reset").is_some());
    }
    // The whole tree shares the limit, whatever the key.
    for r in [s.feed(&pk, "").await, s.feed(&ck, "").await] {
        r.problem(429, "rate_limited", None);
        let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=20).contains(&retry), "retry-after {retry}");
        assert_eq!(r.header("ratelimit-limit"), Some("3"));
        assert_eq!(r.header("ratelimit-remaining"), Some("0"));
        let reset: u64 = r.header("ratelimit-reset").unwrap().parse().unwrap();
        assert!(reset >= retry, "reset {reset} retry-after {retry}");
    }
    // Another tree is not affected.
    s.feed(&ok, "").await.expect(200);
    assert_eq!(
        metric(&s.metrics().await, "sealtrail_rate_limited_total"),
        2.0
    );
}

#[tokio::test]
async fn both_credential_headers_must_name_the_same_valid_key() {
    let s = Server::start().await;
    s.org("acme", None).await;
    let reader = s.compliance_key("acme", ALL_READ).await;
    let url = format!("{}/v1/compliance/activities", s.base);
    let send = |headers: Vec<(&'static str, String)>| {
        let mut rq = s.http.get(&url);
        for (k, v) in headers {
            rq = rq.header(k, v);
        }
        rq.send()
    };
    let status = |r: reqwest::Response| r.status().as_u16();
    // Either header alone, or both with the same key: accepted.
    assert_eq!(
        status(send(vec![("x-api-key", reader.clone())]).await.unwrap()),
        200
    );
    assert_eq!(
        status(
            send(vec![("authorization", format!("Bearer {reader}"))])
                .await
                .unwrap()
        ),
        200
    );
    assert_eq!(
        status(
            send(vec![
                ("x-api-key", reader.clone()),
                ("authorization", format!("Bearer {reader}"))
            ])
            .await
            .unwrap()
        ),
        200
    );
    // A valid x-api-key does not excuse a malformed or different Authorization.
    for bad in ["Basic abc".to_string(), "Bearer sk_other.key".to_string()] {
        let r = send(vec![
            ("x-api-key", reader.clone()),
            ("authorization", bad.clone()),
        ])
        .await
        .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{bad}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["type"], "unauthenticated", "{bad}");
    }
}
