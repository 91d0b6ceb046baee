//! A request refused inside a group commit must not take the other
//! requests of that commit down with it.

use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_organization_does_not_fail_its_neighbours() {
    let dir = tempfile::tempdir().unwrap();
    let running = sealtrail::server::start(sealtrail::testing::config(dir.path(), "group_commit"))
        .await
        .unwrap();
    let op = running.app.bootstrap_operator_token.clone().unwrap();
    let base = format!("http://{}", running.addr);
    let http = reqwest::Client::new();
    let create = |id: String| {
        http.post(format!("{base}/v1/operator/organizations"))
            .header("x-api-key", &op)
            .json(&json!({"id": id, "name": "x"}))
            .send()
    };
    // Several creates of the same new id race fresh ones into the same
    // commits: exactly one of each duplicate group wins, the others are
    // conflicts, and every fresh organization is created.
    for round in 0..10 {
        let mut tasks = Vec::new();
        for i in 0..8 {
            let id = if i % 2 == 0 {
                format!("org_dup_{round}")
            } else {
                format!("org_{round}_{i}")
            };
            tasks.push(create(id));
        }
        let answers = futures_util::future::join_all(tasks).await;
        let mut dup_created = 0;
        for (i, a) in answers.into_iter().enumerate() {
            let a = a.unwrap();
            let status = a.status().as_u16();
            let body = a.text().await.unwrap();
            if i % 2 == 0 {
                assert!(
                    status == 201 || status == 409,
                    "duplicate {i}: {status} {body}"
                );
                dup_created += usize::from(status == 201);
            } else {
                assert_eq!(status, 201, "fresh {i}: {body}");
            }
        }
        assert_eq!(dup_created, 1, "round {round}");
    }
    running.shutdown().await;
}
