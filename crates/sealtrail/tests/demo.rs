//! The demo is the product's main job on embedded storage: a simulated AI
//! platform fills a real server through the ingest API. These tests check
//! the promises it makes to someone trying Sealtrail for the first time:
//! the feed holds a realistic multi-organization dataset, nothing the
//! simulated source sent was refused, filters return exactly the expected
//! subsets, and the binary prints a URL and a key that work.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use sealtrail::config::Config;
use sealtrail::demo::{DemoHandle, DemoOptions, run_demo};
use sealtrail_model::{Catalog, Category};
use serde_json::Value;

async fn get(h: &DemoHandle, key: &str, path_and_query: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(format!("{}{path_and_query}", h.url))
        .header("x-api-key", key)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

/// Every activity matching `query`, oldest first, following cursors.
async fn all(h: &DemoHandle, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut q = format!("/v1/compliance/activities?order=asc&limit=5000{query}");
        if let Some(a) = &after {
            q.push_str(&format!("&after_id={a}"));
        }
        let (status, page) = get(h, &h.compliance_key, &q).await;
        assert_eq!(status, 200, "{q}: {page}");
        let data = page["data"].as_array().expect("data").clone();
        out.extend(data);
        if page["has_more"] != Value::Bool(true) {
            return out;
        }
        after = page["last_id"].as_str().map(str::to_string);
    }
}

fn source_events(feed: &[Value]) -> Vec<&Value> {
    feed.iter()
        .filter(|e| e["category"] != "compliance")
        .collect()
}

fn str_at<'a>(e: &'a Value, pointer: &str) -> &'a str {
    e.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_fills_a_multi_org_feed_through_ingest_and_filters_find_exact_subsets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = sealtrail::testing::config(&dir.path().join("data"), "demo");
    let h = run_demo(DemoOptions::new(config)).await.expect("demo");

    // Nothing the simulated platform sent was refused.
    assert_eq!(h.seeded.refused, 0, "refused: {:?}", h.seeded.refusals);
    assert_eq!(h.seeded.duplicates, 0);
    assert_eq!(h.seeded.accepted, h.seeded_events.len());
    assert!(h.seeded_ids.iter().all(Option::is_some));
    assert!(
        (3_000..=6_000).contains(&h.seeded_events.len()),
        "{} events",
        h.seeded_events.len()
    );
    assert!(h.seeded.requests >= 3);

    // Every generated type is a source type of the catalog.
    let catalog = Catalog::builtin();
    let generated: BTreeSet<&str> = h.seeded_events.iter().map(|e| str_at(e, "/type")).collect();
    for ty in &generated {
        let def = catalog
            .get(ty)
            .unwrap_or_else(|| panic!("{ty} is not in the catalog"));
        assert_ne!(def.category, Category::Compliance, "{ty}");
    }
    let source_types = catalog
        .iter()
        .filter(|d| d.category != Category::Compliance)
        .count();
    assert_eq!(generated.len(), source_types, "every source type appears");

    // The parent's key reads one feed with thousands of events across the
    // three organizations and all four categories.
    let feed = all(&h, "").await;
    let src = source_events(&feed);
    assert_eq!(src.len(), h.seeded_events.len());
    let mut by_org: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_category: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &feed {
        *by_org.entry(str_at(e, "/organization_id")).or_default() += 1;
        *by_category.entry(str_at(e, "/category")).or_default() += 1;
        assert!(catalog.get(str_at(e, "/type")).is_some());
    }
    for org in h.orgs.all() {
        assert!(
            by_org.get(org).copied().unwrap_or(0) > 10,
            "{org}: {by_org:?}"
        );
    }
    for c in ["admin", "resource", "agent", "compliance"] {
        assert!(
            by_category.get(c).copied().unwrap_or(0) > 0,
            "{c}: {by_category:?}"
        );
    }
    // Enabling was recorded in each organization's own log.
    let enabled: BTreeSet<&str> = feed
        .iter()
        .filter(|e| e["type"] == "compliance.enabled")
        .map(|e| str_at(e, "/organization_id"))
        .collect();
    assert_eq!(enabled, h.orgs.all().into_iter().collect());
    // What was sent is what is served: source ids, types and actors.
    let sent: BTreeMap<&str, &Value> = h
        .seeded_events
        .iter()
        .map(|e| (str_at(e, "/source_event_id"), e))
        .collect();
    for e in &src {
        let original = sent
            .get(str_at(e, "/source_event_id"))
            .unwrap_or_else(|| panic!("not sent: {e}"));
        assert_eq!(e["type"], original["type"]);
        assert_eq!(e["created_at"], original["created_at"]);
        assert_eq!(e["actor"]["email"], original["actor"]["email"]);
        assert_eq!(e["organization_id"], original["organization_id"]);
    }

    // A prefix wildcard returns exactly the API key events.
    let want = h
        .seeded_events
        .iter()
        .filter(|e| str_at(e, "/type").starts_with("api_key."))
        .count();
    assert!(want >= 5, "{want}");
    let got = all(&h, "&activity_types[]=api_key.*").await;
    assert_eq!(got.len(), want);
    assert!(
        got.iter()
            .all(|e| str_at(e, "/type").starts_with("api_key."))
    );

    // Excluding with a wildcard returns the complement.
    let got = all(&h, "&exclude_activity_types[]=tool.*&categories[]=agent").await;
    let want = h
        .seeded_events
        .iter()
        .filter(|e| {
            let t = str_at(e, "/type");
            catalog.get(t).map(|d| d.category) == Some(Category::Agent) && !t.starts_with("tool.")
        })
        .count();
    assert_eq!(got.len(), want);

    // Failed logins, including the planted burst.
    let got = all(&h, "&activity_types[]=user.*&outcome=failure").await;
    let want = h
        .seeded_events
        .iter()
        .filter(|e| e["type"] == "user.login_failed")
        .count();
    assert_eq!(got.len(), want);
    assert!(want >= 14, "{want}");

    // An email filter returns everything that person did, and nothing else.
    let email = "noah.williams@acme.example.com";
    let want = h
        .seeded_events
        .iter()
        .filter(|e| str_at(e, "/actor/email") == email)
        .count();
    assert!(
        want >= 60,
        "the mass download alone is 60 events; got {want}"
    );
    let got = all(&h, &format!("&actor_emails[]={email}")).await;
    assert_eq!(got.len(), want);
    assert!(got.iter().all(|e| str_at(e, "/actor/email") == email));
    let downloads = got
        .iter()
        .filter(|e| e["type"] == "file.downloaded")
        .count();
    assert!(downloads >= 60, "{downloads}");

    // Filtering by a child organization narrows the parent's feed.
    let got = all(&h, &format!("&organization_ids[]={}", h.orgs.api)).await;
    let want = h
        .seeded_events
        .iter()
        .filter(|e| e["organization_id"] == h.orgs.api.as_str())
        .count();
    assert_eq!(source_events(&got).len(), want);
    assert!(
        got.iter()
            .all(|e| e["organization_id"] == h.orgs.api.as_str())
    );

    // The planted patterns were all stored, and one opens with its proof.
    assert_eq!(h.planted.len(), 5);
    assert!(h.planted.iter().all(|p| p.activity_id.is_some()));
    let id = h.planted[0].activity_id.clone().unwrap_or_default();
    let (status, ev) = get(
        &h,
        &h.compliance_key,
        &format!("/v1/compliance/activities/{id}?include_proof=true"),
    )
    .await;
    assert_eq!(status, 200, "{ev}");
    assert_eq!(ev["type"], "user.login");
    assert!(ev["log"]["inclusion_proof"].is_object(), "{ev}");

    // Every log has a signed checkpoint by the time the demo prints.
    for org in h.orgs.all() {
        let (status, cp) = get(
            &h,
            &h.read_only_key,
            &format!("/v1/compliance/integrity/checkpoint?organization_id={org}"),
        )
        .await;
        assert_eq!(status, 200, "{org}: {cp}");
        assert!(cp["tree_size"].as_u64().unwrap_or(0) > 0);
    }

    // The banner names the real address and key.
    let banner = h.banner();
    assert!(banner.contains(&format!("export SEALTRAIL_URL={}", h.url)));
    assert!(banner.contains(&format!("export SEALTRAIL_KEY={}", h.compliance_key)));
    assert!(banner.contains(&h.operator_key));

    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_refuses_a_data_dir_that_already_holds_a_database() {
    // SQLite only: the database this refusal looks for is the embedded file.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    std::fs::write(dir.path().join("sealtrail.db"), b"").expect("write");
    let err = run_demo(DemoOptions::new(config))
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("already holds"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_prints_a_working_url_and_key_and_keeps_the_feed_moving() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_sealtrail"));
    cmd.args(["demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data);
    let storage = sealtrail::testing::storage("demo");
    if !storage.is_empty() {
        cmd.args(["--storage", &storage]);
    }
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = Vec::new();
    let (mut url, mut key) = (None, None);
    let read = async {
        while let Ok(Some(line)) = lines.next_line().await {
            printed.push(line.clone());
            if let Some(u) = line.trim().strip_prefix("export SEALTRAIL_URL=") {
                url = Some(u.to_string());
            }
            if let Some(k) = line.trim().strip_prefix("export SEALTRAIL_KEY=") {
                key = Some(k.to_string());
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(180), read)
        .await
        .expect("the demo printed its key in time");
    let (url, key) = match (url, key) {
        (Some(u), Some(k)) => (u, k),
        _ => panic!("no URL or key in:\n{}", printed.join("\n")),
    };
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );
    assert!(printed.iter().any(|l| l.contains(&format!("{url}/docs"))));

    let http = reqwest::Client::new();
    let feed = |q: String| {
        let http = http.clone();
        let url = url.clone();
        let key = key.clone();
        async move {
            let resp = http
                .get(format!("{url}/v1/compliance/activities?{q}"))
                .header("x-api-key", key)
                .send()
                .await
                .expect("feed request");
            assert_eq!(resp.status().as_u16(), 200);
            resp.json::<Value>().await.expect("json")
        }
    };
    let page = feed("limit=100".into()).await;
    let data = page["data"].as_array().expect("data");
    assert_eq!(data.len(), 100);
    assert_eq!(page["has_more"], true);
    let newest = page["first_id"].as_str().expect("first_id").to_string();

    // Live activity keeps arriving after the banner (about 5 a second).
    let mut live = 0;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let page = feed(format!("order=asc&after_id={newest}&limit=100")).await;
        live = source_events(page["data"].as_array().expect("data")).len();
        if live > 0 {
            break;
        }
    }
    assert!(live > 0, "no live events within 15 s");

    // Ctrl-C stops it gracefully.
    let pid = child.id().expect("pid").to_string();
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .is_ok_and(|s| s.success());
    if interrupted {
        let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .expect("stopped in time")
            .expect("wait");
        assert!(status.success(), "{status}");
        let mut rest = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            rest.push(line);
        }
        assert!(
            rest.iter().any(|l| l.starts_with("Stopping:")),
            "{}",
            rest.join("\n")
        );
    } else {
        child.kill().await.expect("kill");
    }
}
