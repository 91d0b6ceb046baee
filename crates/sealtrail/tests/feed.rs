//! The compliance feed over HTTP: every filter, limits, cursors under
//! concurrent ingest, single events, and the record every read leaves.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::*;
use sealtrail::ids::ActivityId;
use serde_json::{Value, json};

/// Source ids of feed events.
fn sids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["source_event_id"].as_str().unwrap_or("-").to_string())
        .collect()
}

fn ts(base: jiff::Timestamp, secs: i64) -> String {
    (base + jiff::SignedDuration::from_secs(secs)).to_string()
}

#[tokio::test]
async fn every_filter_selects_exactly_the_matching_events() {
    let s = Server::start().await;
    s.org("acme", None).await;
    s.org("acme-eu", Some("acme")).await;
    let platform = s.ingest_key("acme", "platform").await;
    let cowork = s.ingest_key("acme", "cowork").await;
    let reader = s.compliance_key("acme", ALL_READ).await;
    let t0: jiff::Timestamp = "2026-01-10T10:00:00Z".parse().unwrap();

    let e = |sid: &str, org: &str, ty: &str, secs: i64, actor: Value, target: Value| {
        json!({
            "source_event_id": sid, "type": ty, "organization_id": org,
            "created_at": ts(t0, secs), "actor": actor, "target": target,
        })
    };
    let mut e2 = e(
        "e2",
        "acme",
        "api_key.deleted",
        1,
        json!({"type": "user", "id": "u2", "email": "b@x.com", "ip_address": "198.51.100.1"}),
        json!({"type": "api_key", "id": "key_1"}),
    );
    e2["outcome"] = json!("failure");
    e2["reason"] = json!("key is in use");
    let mut e5 = e(
        "e5",
        "acme",
        "tool.invoked",
        4,
        json!({"type": "agent", "id": "agent_7", "on_behalf_of": "u1"}),
        json!({"type": "tool", "id": "search"}),
    );
    e5["metadata"] = json!({"tool_name": "search", "server": "mcp-1"});
    let platform_batch = vec![
        e(
            "e1",
            "acme",
            "api_key.created",
            0,
            json!({"type": "user", "id": "u1", "email": "a@x.com",
                   "ip_address": "203.0.113.7", "api_key_id": "k1"}),
            json!({"type": "api_key", "id": "key_1"}),
        ),
        e(
            "e3",
            "acme",
            "user.login",
            2,
            json!({"type": "user", "id": "u1", "email": "A@X.com"}),
            json!({"type": "session", "id": "sess_1"}),
        ),
        e(
            "e4",
            "acme-eu",
            "file.downloaded",
            3,
            json!({"type": "user", "id": "u3", "ip_address": "2001:DB8::1"}),
            json!({"type": "file", "id": "file_9"}),
        ),
        e5,
    ];
    s.ingest_ok(&cowork, &[e2]).await;
    s.ingest_ok(&platform, &platform_batch).await;
    // Stored order (commit order): e2, e1, e3, e4, e5.

    let only_sources =
        "exclude_activity_types[]=compliance.*&exclude_activity_types[]=compliance_api.*";
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("", vec!["e5", "e4", "e3", "e1", "e2"]),
        ("order=asc", vec!["e2", "e1", "e3", "e4", "e5"]),
        ("activity_types[]=api_key.*", vec!["e1", "e2"]),
        (
            "activity_types[]=api_key.*&activity_types[]=user.login",
            vec!["e3", "e1", "e2"],
        ),
        (
            "activity_types[]=api_key.created,user.login",
            vec!["e3", "e1"],
        ),
        ("activity_types[]=api_key.rotated", vec![]),
        ("exclude_activity_types[]=api_key.*", vec!["e5", "e4", "e3"]),
        (
            "exclude_activity_types[]=user.login&exclude_activity_types[]=tool.invoked",
            vec!["e4", "e1", "e2"],
        ),
        ("actor_ids[]=u1", vec!["e3", "e1"]),
        ("actor_ids[]=u1&actor_ids[]=u3", vec!["e4", "e3", "e1"]),
        ("actor_emails[]=a@x.com", vec!["e3", "e1"]),
        ("actor_emails[]=B@X.COM", vec!["e2"]),
        ("api_key_ids[]=k1", vec!["e1"]),
        ("organization_ids[]=acme-eu", vec!["e4"]),
        ("organization_ids[]=acme", vec!["e5", "e3", "e1", "e2"]),
        ("target_ids[]=key_1", vec!["e1", "e2"]),
        ("target_ids[]=file_9&target_ids[]=search", vec!["e5", "e4"]),
        ("categories[]=resource", vec!["e4"]),
        ("categories[]=agent&categories[]=resource", vec!["e5", "e4"]),
        ("categories[]=admin", vec!["e3", "e1", "e2"]),
        ("products[]=cowork", vec!["e2"]),
        ("products[]=platform", vec!["e5", "e4", "e3", "e1"]),
        ("ip_address=203.0.113.7", vec!["e1"]),
        ("ip_address=2001:db8:0::1", vec!["e4"]),
        ("outcome=failure", vec!["e2"]),
        ("outcome=success", vec!["e5", "e4", "e3", "e1"]),
        (
            "created_at.gt=2026-01-10T10:00:00Z",
            vec!["e5", "e4", "e3", "e2"],
        ),
        (
            "created_at.gte=2026-01-10T10:00:00Z",
            vec!["e5", "e4", "e3", "e1", "e2"],
        ),
        ("created_at.lt=2026-01-10T10:00:02Z", vec!["e1", "e2"]),
        (
            "created_at.lte=2026-01-10T10:00:02Z",
            vec!["e3", "e1", "e2"],
        ),
        (
            "created_at.gte=2026-01-10T11:00:01%2B01:00&created_at.lt=2026-01-10T10:00:04Z",
            vec!["e4", "e3", "e2"],
        ),
        ("actor_ids[]=u1&activity_types[]=user.*", vec!["e3"]),
        ("limit=2", vec!["e5", "e4"]),
        ("limit=2&order=asc", vec!["e2", "e1"]),
    ];
    for (q, want) in cases {
        let r = s.feed(&reader, &format!("{only_sources}&{q}")).await;
        let b = r.expect(200);
        let data = b["data"].as_array().unwrap();
        assert_eq!(sids(data), want, "query {q}");
        assert_eq!(
            b["first_id"],
            data.first().map_or(Value::Null, |e| e["id"].clone())
        );
        assert_eq!(
            b["last_id"],
            data.last().map_or(Value::Null, |e| e["id"].clone())
        );
        assert_eq!(b["has_more"], q.starts_with("limit=2"), "query {q}");
    }

    // The record of who did what is whole: personal data comes back opened.
    let r = s
        .feed(&reader, &format!("{only_sources}&actor_emails[]=a@x.com"))
        .await;
    let data = r.expect(200)["data"].as_array().unwrap().clone();
    assert_eq!(data[1]["actor"]["email"], "a@x.com");
    assert_eq!(data[1]["actor"]["ip_address"], "203.0.113.7");
    assert_eq!(data[1]["category"], "admin");
    assert_eq!(data[1]["product"], "platform");
    assert_eq!(data[1]["organization_id"], "acme");

    // Sealtrail's own events are in the feed too, with their category.
    let r = s
        .feed(
            &reader,
            "categories[]=compliance&organization_ids[]=acme&order=asc",
        )
        .await;
    let own = r.expect(200)["data"].as_array().unwrap().clone();
    assert_eq!(
        types(&own)[..2],
        ["compliance.enabled", "compliance.key_created"]
    );
}

#[tokio::test]
async fn limits_and_cursors_page_through_the_feed() {
    let s = Server::start().await;
    s.org("acme", None).await;
    let ingest = s.ingest_key("acme", "platform").await;
    let reader = s.compliance_key("acme", ALL_READ).await;
    let batch: Vec<Value> = (0..250)
        .map(|i| event_sid("acme", "user.login", &format!("s{i:03}")))
        .collect();
    let acked = s.ingest_ok(&ingest, &batch).await;
    let all_desc: Vec<String> = acked.iter().rev().map(|a| a.0.clone()).collect();
    let q = "products[]=platform";

    // Default page: 100, newest first.
    let p1 = s.feed(&reader, q).await.expect(200).clone();
    let d1 = p1["data"].as_array().unwrap();
    assert_eq!(ids(d1), all_desc[..100]);
    assert_eq!(p1["has_more"], true);
    assert_eq!(p1["first_id"], all_desc[0].as_str());
    assert_eq!(p1["last_id"], all_desc[99].as_str());

    // after_id continues, before_id comes back to the same page.
    let p2 = s
        .feed(&reader, &format!("{q}&after_id={}", all_desc[99]))
        .await
        .expect(200)
        .clone();
    assert_eq!(ids(p2["data"].as_array().unwrap()), all_desc[100..200]);
    let back = s
        .feed(
            &reader,
            &format!("{q}&before_id={}", p2["first_id"].as_str().unwrap()),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(ids(back["data"].as_array().unwrap()), all_desc[..100]);
    assert_eq!(back["has_more"], false);
    let p3 = s
        .feed(&reader, &format!("{q}&after_id={}", all_desc[199]))
        .await
        .expect(200)
        .clone();
    assert_eq!(ids(p3["data"].as_array().unwrap()), all_desc[200..]);
    assert_eq!(p3["has_more"], false);

    // Ascending, and the largest page.
    let asc = s
        .feed(&reader, &format!("{q}&order=asc&limit=5000"))
        .await
        .expect(200)
        .clone();
    let mut all_asc = all_desc.clone();
    all_asc.reverse();
    assert_eq!(ids(asc["data"].as_array().unwrap()), all_asc);
    assert_eq!(asc["has_more"], false);

    // An empty page says so.
    let empty = s
        .feed(&reader, &format!("{q}&after_id={}", all_desc[249]))
        .await
        .expect(200)
        .clone();
    assert_eq!(empty["data"], json!([]));
    assert_eq!(empty["first_id"], Value::Null);
    assert_eq!(empty["last_id"], Value::Null);
    assert_eq!(empty["has_more"], false);

    for (bad, field) in [
        ("limit=5001", "limit"),
        ("limit=0", "limit"),
        ("limit=ten", "limit"),
        ("order=sideways", "order"),
        ("after_id=act_nope", "after_id"),
        ("before_id=42", "before_id"),
        ("created_at.gt=yesterday", "created_at.gt"),
        ("outcome=maybe", "outcome"),
        ("categories[]=gossip", "categories[]"),
        ("ip_address=300.1.1.1", "ip_address"),
        ("colour=red", "colour"),
        ("actor_id=u1", "actor_id"),
    ] {
        s.feed(&reader, bad)
            .await
            .problem(400, "invalid_parameter", Some(field));
    }
    let both = format!("after_id={}&before_id={}", all_desc[1], all_desc[0]);
    s.feed(&reader, &both)
        .await
        .problem(400, "invalid_parameter", None);
}

#[tokio::test]
async fn a_single_activity_reads_like_its_feed_entry() {
    let s = Server::start().await;
    s.org("acme", None).await;
    let ingest = s.ingest_key("acme", "platform").await;
    let reader = s.compliance_key("acme", ALL_READ).await;
    let mut ev = event_sid("acme", "member.invited", "inv-1");
    ev["metadata"] = json!({"email": "new@x.com", "role": "member"});
    let acked = s.ingest_ok(&ingest, &[ev]).await;
    let id = &acked[0].0;

    let in_feed = s.feed(&reader, "products[]=platform").await.expect(200)["data"][0].clone();
    let one = s
        .get(&format!("/v1/compliance/activities/{id}"), Some(&reader))
        .await
        .expect(200)
        .clone();
    assert_eq!(one, in_feed);
    assert_eq!(one["id"], id.as_str());
    assert_eq!(one["log"]["seq"], acked[0].1);
    assert_eq!(one["metadata"]["email"], "new@x.com");
    assert_eq!(one["source_event_id"], "inv-1");

    // With a proof once a checkpoint covers it.
    let mut proof = Value::Null;
    for _ in 0..50 {
        let r = s
            .get(
                &format!("/v1/compliance/activities/{id}?include_proof=true"),
                Some(&reader),
            )
            .await;
        proof = r.expect(200)["log"]["inclusion_proof"].clone();
        if proof.get("tree_size").is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(proof["tree_size"].as_u64().unwrap() > acked[0].1, "{proof}");

    // An id that could exist but does not is 404; a malformed one is 400.
    let ghost = ActivityId::new(1, 999_999).to_string();
    s.get(&format!("/v1/compliance/activities/{ghost}"), Some(&reader))
        .await
        .problem(404, "not_found", None);
    s.get("/v1/compliance/activities/act_123", Some(&reader))
        .await
        .problem(400, "invalid_parameter", Some("id"));
    s.get(
        &format!("/v1/compliance/activities/{id}?verbose=1"),
        Some(&reader),
    )
    .await
    .problem(400, "invalid_parameter", Some("verbose"));
}

#[tokio::test]
async fn every_read_is_recorded_once_and_reads_do_not_feed_on_themselves() {
    let s = Server::start().await;
    s.org("acme", None).await;
    let ingest = s.ingest_key("acme", "platform").await;
    let reader = s.compliance_key("acme", ALL_READ).await;
    let key_id = reader.split('.').next().unwrap().to_string();
    s.ingest_ok(
        &ingest,
        &[event("acme", "user.login"), event("acme", "user.logout")],
    )
    .await;
    let accessed = "activity_types[]=compliance_api.accessed&limit=5000";

    // A read before any other: there is nothing to see, not even itself.
    let r0 = s.feed(&reader, accessed).await.expect(200).clone();
    assert_eq!(r0["data"], json!([]));

    // Seven reads of different kinds.
    let id = s.feed(&reader, "products[]=platform").await.expect(200)["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.feed(&reader, "activity_types[]=user.*&limit=1")
        .await
        .expect(200);
    s.feed(&reader, "actor_ids[]=user_1&actor_ids[]=user_2")
        .await
        .expect(200);
    s.get(&format!("/v1/compliance/activities/{id}"), Some(&reader))
        .await
        .expect(200);
    s.get("/v1/compliance/organizations", Some(&reader))
        .await
        .expect(200);
    // A record is written after its read is answered; once it is
    // committed, the next read of the records sees it.
    s.settle().await;
    s.feed(&reader, accessed).await.expect(200);
    s.settle().await;
    s.feed(&reader, accessed).await.expect(200);
    s.settle().await;

    // r0, the seven reads, and not this one.
    let r = s.feed(&reader, &format!("{accessed}&order=asc")).await;
    let recs = r.expect(200)["data"].as_array().unwrap().clone();
    assert_eq!(recs.len(), 8);
    for rec in &recs {
        assert_eq!(rec["type"], "compliance_api.accessed");
        assert_eq!(rec["category"], "compliance");
        assert_eq!(rec["organization_id"], "acme");
        assert_eq!(rec["actor"]["api_key_id"], key_id.as_str());
        assert_eq!(rec["product"], "sealtrail");
    }
    let md: Vec<&Value> = recs.iter().map(|r| &r["metadata"]).collect();
    assert_eq!(md[0]["endpoint"], "GET /v1/compliance/activities");
    assert_eq!(md[0]["result_count"], 0);
    assert_eq!(
        md[0]["filters"]["activity_types"],
        json!(["compliance_api.accessed"])
    );
    assert_eq!(md[1]["result_count"], 2);
    assert_eq!(md[1]["filters"], json!({"products": ["platform"]}));
    assert_eq!(md[2]["result_count"], 1);
    assert_eq!(md[3]["filters"]["actor_ids"], json!(["user_1", "user_2"]));
    assert_eq!(md[4]["endpoint"], "GET /v1/compliance/activities/{id}");
    assert_eq!(md[4]["result_count"], 1);
    assert_eq!(md[5]["endpoint"], "GET /v1/compliance/organizations");
    // Each read of the records saw exactly the records before it.
    assert_eq!(md[6]["result_count"], 6);
    assert_eq!(md[7]["result_count"], 7);

    // N more reads add exactly N records.
    for _ in 0..5 {
        s.feed(&reader, accessed).await.expect(200);
    }
    s.settle().await;
    let r = s.feed(&reader, accessed).await;
    assert_eq!(r.expect(200)["data"].as_array().unwrap().len(), 8 + 1 + 5);
}

/// One pager's walk: every id it was shown.
async fn walk(
    s: &Server,
    reader: &str,
    order: &str,
    cursor: &str,
    start: Option<String>,
    tail_until_done: Option<Arc<AtomicBool>>,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cur = start;
    loop {
        let done_before = tail_until_done
            .as_ref()
            .is_some_and(|d| d.load(Ordering::SeqCst));
        let mut q = format!("products[]=platform&limit=97&order={order}");
        if let Some(c) = &cur {
            q.push_str(&format!("&{cursor}={c}"));
        }
        let b = s.feed(reader, &q).await.expect(200).clone();
        let page = ids(b["data"].as_array().unwrap());
        // A page is in the order asked for.
        let mut sorted = page.clone();
        sorted.sort_by_key(|i| i.parse::<ActivityId>().unwrap());
        if order == "desc" {
            sorted.reverse();
        }
        assert_eq!(page, sorted, "page order");
        // The next cursor is the edge of the page in the walking direction.
        let next = match cursor {
            "after_id" => b["last_id"].as_str().map(str::to_string),
            _ => b["first_id"].as_str().map(str::to_string),
        };
        if cursor == "after_id" {
            seen.extend(page);
        } else {
            seen.extend(page.into_iter().rev());
        }
        if next.is_some() {
            cur = next;
        }
        if !b["has_more"].as_bool().unwrap() {
            match &tail_until_done {
                None => return seen,
                Some(_) if done_before => return seen,
                Some(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn paging_while_10000_events_arrive_shows_every_event_exactly_once() {
    // Pagers poll hard; the rate limit is not what this test is about.
    let s = Arc::new(Server::start_with(|c| c.rate_limit_per_minute = 1_000_000).await);
    s.org("acme", None).await;
    let ingest = s.ingest_key("acme", "platform").await;
    let reader = s.compliance_key("acme", ALL_READ).await;
    let acked_before = s
        .ingest_ok(
            &ingest,
            &(0..100)
                .map(|_| event("acme", "user.login"))
                .collect::<Vec<_>>(),
        )
        .await;
    let oldest = acked_before[0].0.clone();

    let done = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicUsize::new(0));
    let mut ingesters = Vec::new();
    for w in 0..4 {
        let (s, ingest, progress) = (s.clone(), ingest.clone(), progress.clone());
        ingesters.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for b in 0..25 {
                let batch: Vec<Value> = (0..100)
                    .map(|i| event_sid("acme", "file.created", &format!("w{w}-b{b}-{i}")))
                    .collect();
                got.extend(s.ingest_ok(&ingest, &batch).await.into_iter().map(|a| a.0));
                progress.fetch_add(batch.len(), Ordering::SeqCst);
            }
            got
        }));
    }

    // Forward walks that follow the log as it grows, from its start.
    let fwd_after = {
        let (s, r, d) = (s.clone(), reader.clone(), done.clone());
        tokio::spawn(async move { walk(&s, &r, "asc", "after_id", None, Some(d)).await })
    };
    let fwd_before = {
        let (s, r, d, o) = (s.clone(), reader.clone(), done.clone(), oldest.clone());
        tokio::spawn(async move { walk(&s, &r, "desc", "before_id", Some(o), Some(d)).await })
    };
    // Backward walks that start at the newest event of the moment, once
    // some of the new events are in.
    while progress.load(Ordering::SeqCst) < 1000 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let back_after = {
        let (s, r) = (s.clone(), reader.clone());
        tokio::spawn(async move { walk(&s, &r, "desc", "after_id", None, None).await })
    };
    let back_before = {
        let (s, r) = (s.clone(), reader.clone());
        tokio::spawn(async move {
            let newest = s.feed(&r, "products[]=platform&limit=1").await.expect(200)["first_id"]
                .as_str()
                .unwrap()
                .to_string();
            let mut v = walk(&s, &r, "asc", "before_id", Some(newest.clone()), None).await;
            v.insert(0, newest);
            v
        })
    };

    let mut acked: Vec<String> = acked_before.into_iter().map(|a| a.0).collect();
    for h in ingesters {
        acked.extend(h.await.unwrap());
    }
    done.store(true, Ordering::SeqCst);
    assert_eq!(acked.len(), 10_100);
    let key = |i: &String| i.parse::<ActivityId>().unwrap();
    acked.sort_by_key(key);
    let acked_set: HashSet<String> = acked.iter().cloned().collect();
    assert_eq!(acked_set.len(), acked.len(), "ids are unique");

    let check = |name: &str, seen: Vec<String>, expect: &[String]| {
        let set: HashSet<&String> = seen.iter().collect();
        assert_eq!(set.len(), seen.len(), "{name}: an event was shown twice");
        let missing = expect.iter().filter(|i| !set.contains(i)).count();
        assert_eq!(missing, 0, "{name}: {missing} events were skipped");
        assert_eq!(seen.len(), expect.len(), "{name}: events outside the log");
    };
    check("asc after_id", fwd_after.await.unwrap(), &acked);
    check("desc before_id", fwd_before.await.unwrap(), &acked[1..]);
    let back = back_after.await.unwrap();
    let start = key(&back[0]);
    let expect: Vec<String> = acked.iter().filter(|i| key(i) <= start).cloned().collect();
    assert!(expect.len() > 1000, "{}", expect.len());
    check("desc after_id", back, &expect);
    let back = back_before.await.unwrap();
    let start = key(&back[0]);
    let expect: Vec<String> = acked.iter().filter(|i| key(i) <= start).cloned().collect();
    check("asc before_id", back, &expect);
}
