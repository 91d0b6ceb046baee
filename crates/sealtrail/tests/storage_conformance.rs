//! The storage conformance suite: what every engine behind the `Storage`
//! and `Txn` traits must do, exercised directly (appends go through the
//! sequencer, as in the server).
//!
//! Every test runs against the engine `SEALTRAIL_TEST_ENGINE` selects
//! (see [`engines`]; adding an engine is one line there).

use std::path::Path;
use std::sync::{Arc, RwLock};

use sealtrail::log::sequencer::{Appended, Sequencer};
use sealtrail::metrics::Metrics;
use sealtrail::privacy::crypto::MasterKey;
use sealtrail::registry::Registry;
use sealtrail::storage::postgres::PgStore;
use sealtrail::storage::sqlite::SqliteStore;
use sealtrail::storage::{
    CheckpointRecord, EventQuery, KeyKind, KeyRecord, NewEvent, Org, Scan, Storage, StoreError,
    SubjectKeyRecord, TypePattern,
};
use sealtrail_model::{Catalog, Limits, parse_activity};
use sealtrail_tlog::{Frontier, MemoryTree, leaf_hash, reference_root};
use serde_json::{Value, json};

/// Opens (or reopens) an engine whose state lives under a directory.
type Engine = fn(&Path) -> Arc<dyn Storage>;

/// The engines under test: the selected one.
fn engines() -> Vec<(&'static str, Engine)> {
    match sealtrail::testing::Engine::selected() {
        sealtrail::testing::Engine::Sqlite => vec![("sqlite", |dir| {
            Arc::new(SqliteStore::open(&dir.join("sealtrail.db")).unwrap())
        })],
        // The database's URL is kept in the directory, so a reopen finds it.
        sealtrail::testing::Engine::Postgres => vec![("postgres", |dir| {
            let file = dir.join("postgres.url");
            let url = std::fs::read_to_string(&file).unwrap_or_else(|_| {
                let url = sealtrail::testing::storage("conformance");
                std::fs::write(&file, &url).unwrap();
                url
            });
            Arc::new(PgStore::open(&url).unwrap())
        })],
    }
}

/// An engine with a sequencer over it, as the server assembles them.
struct Rig {
    name: &'static str,
    store: Arc<dyn Storage>,
    seq: Sequencer,
    master: MasterKey,
    catalog: Arc<Catalog>,
}

impl Rig {
    fn open(name: &'static str, make: Engine, dir: &Path) -> Rig {
        let store = make(dir);
        let master = MasterKey::from_secret(&[7u8; 32]);
        let registry = Arc::new(RwLock::new(Registry::new(store.orgs().unwrap())));
        let seq = Sequencer::start(
            store.clone(),
            master.clone(),
            registry,
            Arc::new(Metrics::default()),
            64,
        )
        .unwrap();
        Rig {
            name,
            store,
            seq,
            master,
            catalog: Arc::new(Catalog::builtin()),
        }
    }

    /// A recording organization, optionally under a parent.
    async fn org(&self, id: &str, parent: Option<&Org>) -> Org {
        let org = Org {
            key: 0,
            id: id.into(),
            name: id.into(),
            parent: parent.map(|p| p.key),
            tree: parent.map_or(0, |p| p.tree),
            enabled: true,
            logging_enabled_at: Some(1),
            logging_disabled_at: None,
            created_ms: 1,
            retention_days: None,
        };
        self.seq
            .run(move |b| b.insert_org(org))
            .await
            .unwrap()
            .unwrap()
    }

    /// Appends events for a product in one job (one group commit).
    async fn append(&self, org: &Org, product: &str, events: Vec<Value>) -> Vec<Appended> {
        let catalog = self.catalog.clone();
        let (org, product) = (org.clone(), product.to_string());
        self.seq
            .run(move |b| {
                events
                    .iter()
                    .map(|e| {
                        let input =
                            parse_activity(e, e.to_string().len(), &catalog, &Limits::default())
                                .unwrap();
                        let def = catalog.get(&input.activity_type).unwrap();
                        b.append(&org, &input, def, Some(&product)).unwrap()
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap()
    }

    fn query(&self, q: EventQuery) -> Vec<u64> {
        self.store
            .query(&q)
            .unwrap()
            .into_iter()
            .map(|e| e.gseq)
            .collect()
    }
}

/// Runs a case on a fresh instance of every engine.
async fn each_engine<F, Fut>(case: F)
where
    F: Fn(Rig) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for (name, make) in engines() {
        let dir = tempfile::tempdir().unwrap();
        case(Rig::open(name, make, dir.path())).await;
    }
}

fn ev(org: &str, ty: &str) -> Value {
    json!({
        "type": ty, "created_at": "2026-01-10T10:00:00Z", "organization_id": org,
        "actor": {"type": "user", "id": "u1"}, "target": {"type": "t", "id": "t1"},
    })
}

fn q(org: &Org) -> EventQuery {
    EventQuery {
        orgs: vec![org.key],
        trees: vec![org.tree],
        limit: 1000,
        ..Default::default()
    }
}

fn gseqs(a: &[Appended]) -> Vec<u64> {
    a.iter().map(|x| x.gseq).collect()
}

fn pick(a: &[Appended], idx: &[usize]) -> Vec<u64> {
    idx.iter().map(|&i| a[i].gseq).collect()
}

#[tokio::test]
async fn appends_get_gap_free_sequences_and_one_global_order() {
    each_engine(|r| async move {
        let a = r.org("a", None).await;
        let b = r.org("b", None).await;
        let mut all = Vec::new();
        for round in 0..3 {
            let x = r
                .append(&a, "platform", vec![ev("a", "user.login"); 3])
                .await;
            let y = r
                .append(&b, "platform", vec![ev("b", "user.login"); 2])
                .await;
            assert_eq!(
                x.iter().map(|e| e.seq).collect::<Vec<_>>(),
                (round * 3..round * 3 + 3).collect::<Vec<u64>>(),
                "{}",
                r.name
            );
            assert_eq!(
                y.iter().map(|e| e.seq).collect::<Vec<_>>(),
                (round * 2..round * 2 + 2).collect::<Vec<u64>>()
            );
            all.extend(x);
            all.extend(y);
        }
        let g = gseqs(&all);
        assert!(g.windows(2).all(|w| w[0] < w[1]), "{}: {g:?}", r.name);
        assert_eq!(r.store.max_gseq().unwrap(), *g.last().unwrap());

        for ap in &all {
            let by_g = r.store.event_by_gseq(ap.gseq).unwrap().unwrap();
            assert_eq!(by_g.seq, ap.seq);
            let entry = by_g.entry.clone().unwrap();
            assert_eq!(by_g.leaf, leaf_hash(&entry));
            let by_s = r.store.event_by_seq(by_g.org, ap.seq).unwrap().unwrap();
            assert_eq!(by_s.gseq, ap.gseq);
        }
        assert!(
            r.store
                .event_by_gseq(g.last().unwrap() + 1)
                .unwrap()
                .is_none()
        );
        assert!(r.store.event_by_seq(a.key, 9).unwrap().is_none());

        // The head is the tree over the stored leaves.
        for (org, n) in [(&a, 9u64), (&b, 6)] {
            let head = r.store.head(org.key).unwrap();
            assert_eq!(head.frontier.size(), n);
            let leaves = r.store.leaf_hashes(org.key, 0, n).unwrap();
            assert_eq!(head.frontier.root(), reference_root(&leaves));
        }
        assert_eq!(r.store.head(999).unwrap().frontier.size(), 0);
    })
    .await;
}

#[tokio::test]
async fn concurrent_jobs_share_commits_without_losing_order() {
    each_engine(|r| async move {
        let a = r.org("a", None).await;
        let r = Arc::new(r);
        let mut jobs = Vec::new();
        for _ in 0..16 {
            let (r, a) = (r.clone(), a.clone());
            jobs.push(tokio::spawn(async move {
                r.append(&a, "platform", vec![ev("a", "user.login"); 5])
                    .await
            }));
        }
        let mut seqs = Vec::new();
        for j in jobs {
            let got = j.await.unwrap();
            // A job's events are consecutive.
            assert!(
                got.windows(2)
                    .all(|w| w[1].seq == w[0].seq + 1 && w[1].gseq > w[0].gseq)
            );
            seqs.extend(got.iter().map(|e| e.seq));
        }
        seqs.sort();
        assert_eq!(seqs, (0..80).collect::<Vec<u64>>(), "{}", r.name);
    })
    .await;
}

#[tokio::test]
async fn a_failed_write_leaves_no_trace() {
    each_engine(|r| async move {
        let a = r.org("a", None).await;
        r.append(&a, "platform", vec![ev("a", "user.login")]).await;
        let before = r.store.head(a.key).unwrap();
        let max = r.store.max_gseq().unwrap();
        let res = r.store.write(&mut |t| {
            let g = t.next_gseq()?;
            t.insert_event(&raw_event(g, a.key, a.tree, 1))?;
            t.insert_node(a.key, 8, 0, &[1; 32])?;
            let mut h = t.log_head(a.key)?;
            h.frontier.push([2; 32], |_, _, _| {}).unwrap();
            t.set_log_head(&h)?;
            t.insert_org(&Org {
                id: "ghost".into(),
                ..a.clone()
            })?;
            Err(StoreError::Engine("changed my mind".into()))
        });
        assert!(res.is_err());
        assert_eq!(r.store.max_gseq().unwrap(), max, "{}", r.name);
        assert!(r.store.event_by_seq(a.key, 1).unwrap().is_none());
        assert!(r.store.node(a.key, 8, 0).unwrap().is_none());
        assert_eq!(
            r.store.head(a.key).unwrap().frontier.root(),
            before.frontier.root()
        );
        assert!(r.store.orgs().unwrap().iter().all(|o| o.id != "ghost"));
        // And the next write works normally.
        let next = r.append(&a, "platform", vec![ev("a", "user.login")]).await;
        assert_eq!(next[0].seq, 1);
    })
    .await;
}

fn raw_event(gseq: u64, org: i64, tree: i64, seq: u64) -> NewEvent {
    NewEvent {
        gseq,
        tree,
        org,
        seq,
        activity_type: "user.login".into(),
        category: "admin",
        product: Some("platform".into()),
        created_ms: 1,
        received_ms: 1,
        actor_id: None,
        actor_email_bi: None,
        ip_bi: None,
        api_key_id: None,
        target_id: None,
        outcome: "success",
        source_event_id: None,
        entry: b"{}".to_vec(),
        stored_entry: None,
        leaf: leaf_hash(b"{}"),
        pii: None,
        subjects: vec![],
    }
}

#[tokio::test]
async fn a_taken_organization_id_is_a_conflict_that_spoils_nothing() {
    each_engine(|r| async move {
        let a = r.org("a", None).await;
        let res = r.store.write(&mut |t| {
            match t.insert_org(&Org {
                key: 0,
                ..a.clone()
            }) {
                Err(StoreError::Conflict(_)) => {}
                other => panic!("expected a conflict, got {other:?}"),
            }
            t.insert_org(&Org {
                key: 0,
                id: "b".into(),
                tree: 0,
                ..a.clone()
            })?;
            Ok(())
        });
        res.unwrap();
        let ids: Vec<String> = r.store.orgs().unwrap().into_iter().map(|o| o.id).collect();
        assert_eq!(ids, vec!["a", "b"], "{}", r.name);
        // A root is its own tree.
        let b = r.store.orgs().unwrap().pop().unwrap();
        assert_eq!(b.tree, b.key);
    })
    .await;
}

#[tokio::test]
async fn organizations_update_and_move_their_events_between_trees() {
    each_engine(|r| async move {
        let p = r.org("p", None).await;
        let c = r.org("c", None).await;
        let x = r
            .append(&c, "platform", vec![ev("c", "user.login"); 2])
            .await;
        let mut moved = c.clone();
        moved.parent = Some(p.key);
        moved.tree = p.tree;
        moved.enabled = false;
        moved.logging_disabled_at = Some(42);
        moved.retention_days = Some(30);
        let m2 = moved.clone();
        r.seq.run(move |b| b.update_org(m2).unwrap()).await.unwrap();
        let stored = r
            .store
            .orgs()
            .unwrap()
            .into_iter()
            .find(|o| o.id == "c")
            .unwrap();
        assert_eq!(stored, moved, "{}", r.name);
        let by_new_tree = r.query(EventQuery {
            orgs: vec![c.key],
            trees: vec![p.tree],
            limit: 10,
            ..Default::default()
        });
        assert_eq!(by_new_tree, vec![x[1].gseq, x[0].gseq]);
        let by_old_tree = r.query(EventQuery {
            orgs: vec![c.key],
            trees: vec![c.tree],
            limit: 10,
            ..Default::default()
        });
        assert!(by_old_tree.is_empty());
    })
    .await;
}

#[tokio::test]
async fn queries_filter_page_and_scope() {
    each_engine(|r| async move {
        let p = r.org("p", None).await;
        let c = r.org("c", Some(&p)).await;
        let other = r.org("o", None).await;
        let t = |secs: i64| format!("2026-01-10T10:00:{secs:02}Z");
        let mut e0 = ev("p", "api_key.created");
        e0["actor"] = json!({"type": "user", "id": "u1", "email": "A@x.com",
                             "ip_address": "203.0.113.7", "api_key_id": "k1"});
        e0["target"]["id"] = json!("key_1");
        e0["created_at"] = json!(t(0));
        let mut e1 = ev("p", "api_key.deleted");
        e1["outcome"] = json!("failure");
        e1["target"]["id"] = json!("key_1");
        e1["created_at"] = json!(t(1));
        let mut e2 = ev("p", "file.downloaded");
        e2["actor"]["id"] = json!("u2");
        e2["created_at"] = json!(t(2));
        let mut e3 = ev("c", "user.login");
        e3["created_at"] = json!(t(3));
        let mut a = r.append(&p, "platform", vec![e0, e1, e2]).await;
        a.extend(r.append(&c, "cowork", vec![e3]).await);
        r.append(&other, "platform", vec![ev("o", "user.login")])
            .await;

        let both = EventQuery {
            orgs: vec![p.key, c.key],
            trees: vec![p.tree],
            limit: 100,
            ..Default::default()
        };
        let with = |f: &dyn Fn(&mut EventQuery)| {
            let mut x = both.clone();
            f(&mut x);
            r.query(x)
        };
        let n = r.name;
        assert_eq!(with(&|_| {}), pick(&a, &[3, 2, 1, 0]), "{n}: newest first");
        assert_eq!(with(&|x| x.scan = Some(Scan::Asc)), pick(&a, &[0, 1, 2, 3]));
        assert_eq!(with(&|x| x.orgs = vec![c.key]), pick(&a, &[3]));
        assert_eq!(
            with(&|x| x.types = vec![TypePattern::Prefix("api_key.".into())]),
            pick(&a, &[1, 0])
        );
        assert_eq!(
            with(&|x| x.types = vec![
                TypePattern::Exact("user.login".into()),
                TypePattern::Exact("file.downloaded".into())
            ]),
            pick(&a, &[3, 2])
        );
        assert_eq!(
            with(&|x| x.types = vec![TypePattern::All]),
            pick(&a, &[3, 2, 1, 0])
        );
        assert_eq!(
            with(&|x| x.exclude_types = vec![TypePattern::Prefix("api_key.".into())]),
            pick(&a, &[3, 2])
        );
        // A prefix is a whole segment: "api_key." does not match "api_keys.x".
        assert_eq!(
            with(&|x| x.types = vec![TypePattern::Prefix("api.".into())]),
            Vec::<u64>::new()
        );
        assert_eq!(with(&|x| x.actor_ids = vec!["u2".into()]), pick(&a, &[2]));
        let email = r.master.blind_index("p", "email", "a@x.com");
        assert_eq!(
            with(&|x| x.actor_email_bis = vec![email.clone()]),
            pick(&a, &[0])
        );
        let ip = r.master.blind_index("p", "ip", "203.0.113.7");
        assert_eq!(with(&|x| x.ip_bis = vec![ip.clone()]), pick(&a, &[0]));
        assert_eq!(with(&|x| x.api_key_ids = vec!["k1".into()]), pick(&a, &[0]));
        assert_eq!(
            with(&|x| x.target_ids = vec!["key_1".into()]),
            pick(&a, &[1, 0])
        );
        assert_eq!(
            with(&|x| x.categories = vec!["resource".into()]),
            pick(&a, &[2])
        );
        assert_eq!(
            with(&|x| x.products = vec!["cowork".into()]),
            pick(&a, &[3])
        );
        assert_eq!(
            with(&|x| x.outcome = Some("failure".into())),
            pick(&a, &[1])
        );
        let ms = |s: i64| {
            jiff::Timestamp::from_second(1_768_039_200 + s)
                .unwrap()
                .as_millisecond()
        };
        assert_eq!(
            with(&|x| x.created_from = Some(ms(1))),
            pick(&a, &[3, 2, 1])
        );
        assert_eq!(with(&|x| x.created_until = Some(ms(1))), pick(&a, &[0]));
        // Cursors are exclusive, in the scan direction.
        assert_eq!(
            with(&|x| x.cursor_gseq = Some(a[2].gseq)),
            pick(&a, &[1, 0])
        );
        assert_eq!(
            with(&|x| {
                x.cursor_gseq = Some(a[1].gseq);
                x.scan = Some(Scan::Asc);
            }),
            pick(&a, &[2, 3])
        );
        assert_eq!(with(&|x| x.limit = 2), pick(&a, &[3, 2]));
        // Another tree is out of reach even when its org is named.
        assert!(
            r.query(EventQuery {
                orgs: vec![other.key],
                trees: vec![p.tree],
                limit: 10,
                ..Default::default()
            })
            .is_empty()
        );
        assert_eq!(r.query(q(&other)).len(), 1);
    })
    .await;
}

#[tokio::test]
async fn source_event_ids_are_found_per_organization_and_product() {
    each_engine(|r| async move {
        let a = r.org("a", None).await;
        let mut e = ev("a", "user.login");
        e["source_event_id"] = json!("src-1");
        let x = r.append(&a, "platform", vec![e]).await;
        let mut found = Vec::new();
        r.store
            .write(&mut |t| {
                found.push(t.find_source_event(a.key, "platform", "src-1")?);
                found.push(t.find_source_event(a.key, "cowork", "src-1")?);
                found.push(t.find_source_event(a.key, "platform", "src-2")?);
                Ok(())
            })
            .unwrap();
        let got = found[0].unwrap();
        assert_eq!((got.0, got.1), (x[0].gseq, 0), "{}", r.name);
        assert!(found[1].is_none() && found[2].is_none());
    })
    .await;
}

#[tokio::test]
async fn complete_subtrees_are_stored_as_tiles() {
    each_engine(|r| async move {
        let a = r.org("a", None).await;
        for _ in 0..3 {
            r.append(&a, "platform", vec![ev("a", "user.login"); 200])
                .await;
        }
        let leaves = r.store.leaf_hashes(a.key, 0, 600).unwrap();
        let mut tree = MemoryTree::new();
        for l in &leaves {
            tree.push(*l);
        }
        let tiles = r.store.nodes(a.key, 8, 0, 2).unwrap();
        assert_eq!(tiles[0], tree.subtree(8, 0).unwrap(), "{}", r.name);
        assert_eq!(tiles[1], tree.subtree(8, 1).unwrap());
        assert_eq!(r.store.node(a.key, 8, 1).unwrap(), Some(tiles[1]));
        // The incomplete third tile is not stored; asking for it says so.
        assert!(r.store.node(a.key, 8, 2).unwrap().is_none());
        assert!(r.store.nodes(a.key, 8, 0, 3).is_err());
        assert!(r.store.leaf_hashes(a.key, 590, 610).is_err());
        assert_eq!(
            r.store.leaf_hashes(a.key, 256, 258).unwrap(),
            leaves[256..258]
        );
        // The head rebuilds from tiles and leaves.
        let rebuilt = Frontier::from_subtrees(600, |l, i| {
            sealtrail::log::proofs::subtree_hash(r.store.as_ref(), a.key, l, i)
        })
        .unwrap();
        assert_eq!(rebuilt.root(), r.store.head(a.key).unwrap().frontier.root());
        assert_eq!(rebuilt.root(), tree.root());
    })
    .await;
}

#[tokio::test]
async fn checkpoints_are_kept_and_found_by_size() {
    each_engine(|r| async move {
        let a = r.org("a", None).await;
        let cp = |size: u64, note: &str| CheckpointRecord {
            org: a.key,
            size,
            root: [size as u8; 32],
            note: note.into(),
            signed_ms: size as i64,
        };
        assert!(r.store.latest_checkpoint(a.key).unwrap().is_none());
        r.store.insert_checkpoint(&cp(5, "five")).unwrap();
        r.store.insert_checkpoint(&cp(10, "ten")).unwrap();
        // A size already signed keeps its first note.
        r.store.insert_checkpoint(&cp(10, "forged")).unwrap();
        let latest = r.store.latest_checkpoint(a.key).unwrap().unwrap();
        assert_eq!(
            (latest.size, latest.note.as_str()),
            (10, "ten"),
            "{}",
            r.name
        );
        assert_eq!(latest.root, [10; 32]);
        assert_eq!(latest.signed_ms, 10);
        let size_of = |s: u64| {
            r.store
                .checkpoint_covering(a.key, s)
                .unwrap()
                .map(|c| c.size)
        };
        assert_eq!(size_of(5), Some(5));
        assert_eq!(size_of(6), Some(10));
        assert_eq!(size_of(11), None);
        assert!(r.store.latest_checkpoint(a.key + 1).unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn subject_keys_are_stored_replaced_and_erased() {
    each_engine(|r| async move {
        let a = r.org("a", None).await;
        let rec =
            |subject: &[u8], wrapped: Option<Vec<u8>>, erased: Option<i64>| SubjectKeyRecord {
                org: a.key,
                subject: subject.to_vec(),
                wrapped,
                created_ms: 3,
                erased_ms: erased,
            };
        let mut seen = None;
        r.store
            .write(&mut |t| {
                t.put_subject_key(&rec(b"s1", Some(vec![1, 2, 3]), None))?;
                t.put_subject_key(&rec(b"s2", Some(vec![4]), None))?;
                seen = t.subject_key(a.key, b"s1")?;
                Ok(())
            })
            .unwrap();
        assert_eq!(seen.unwrap().wrapped, Some(vec![1, 2, 3]), "{}", r.name);
        let got = r
            .store
            .subject_keys(a.key, &[b"s1".to_vec(), b"nobody".to_vec(), b"s2".to_vec()])
            .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].subject, b"s1");
        assert_eq!(got[1].wrapped, Some(vec![4]));
        // Another organization's subject of the same name is another key.
        assert!(
            r.store
                .subject_keys(a.key + 1, &[b"s1".to_vec()])
                .unwrap()
                .is_empty()
        );
        // Erasure replaces the wrapped key.
        r.store
            .write(&mut |t| t.put_subject_key(&rec(b"s1", None, Some(9))))
            .unwrap();
        let got = r.store.subject_keys(a.key, &[b"s1".to_vec()]).unwrap();
        assert_eq!(got[0].wrapped, None);
        assert_eq!(got[0].erased_ms, Some(9));
    })
    .await;
}

#[tokio::test]
async fn keys_are_stored_listed_and_revoked_once() {
    each_engine(|r| async move {
        let a = r.org("a", None).await;
        let key = |id: &str, org: Option<i64>, created: i64| KeyRecord {
            id: id.into(),
            kind: if org.is_some() {
                KeyKind::Compliance
            } else {
                KeyKind::Operator
            },
            secret_hash: [9; 32],
            org,
            product: None,
            scopes: if org.is_some() {
                vec!["read:activities".into(), "export".into()]
            } else {
                vec![]
            },
            name: format!("key {id}"),
            created_ms: created,
            expires_ms: Some(1000),
            revoked_ms: None,
        };
        r.store.insert_key(&key("opk_1", None, 1)).unwrap();
        r.store.insert_key(&key("cpk_1", Some(a.key), 2)).unwrap();
        assert!(r.store.insert_key(&key("cpk_1", Some(a.key), 3)).is_err());
        assert_eq!(
            r.store.key("cpk_1").unwrap(),
            Some(key("cpk_1", Some(a.key), 2)),
            "{}",
            r.name
        );
        assert!(r.store.key("nope").unwrap().is_none());
        let ids = |v: Vec<KeyRecord>| v.into_iter().map(|k| k.id).collect::<Vec<_>>();
        assert_eq!(ids(r.store.keys(None).unwrap()), vec!["opk_1", "cpk_1"]);
        assert_eq!(ids(r.store.keys(Some(a.key)).unwrap()), vec!["cpk_1"]);
        r.store.revoke_key("cpk_1", 50).unwrap();
        r.store.revoke_key("cpk_1", 60).unwrap();
        assert_eq!(r.store.key("cpk_1").unwrap().unwrap().revoked_ms, Some(50));
        assert!(matches!(
            r.store.revoke_key("nope", 1),
            Err(StoreError::NotFound(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn everything_survives_a_reopen_and_sequences_continue() {
    for (name, make) in engines() {
        let dir = tempfile::tempdir().unwrap();
        let (a, first) = {
            let r = Rig::open(name, make, dir.path());
            let a = r.org("a", None).await;
            let first = r
                .append(&a, "platform", vec![ev("a", "user.login"); 300])
                .await;
            r.store
                .insert_checkpoint(&CheckpointRecord {
                    org: a.key,
                    size: 300,
                    root: r.store.head(a.key).unwrap().frontier.root(),
                    note: "n".into(),
                    signed_ms: 1,
                })
                .unwrap();
            (a, first)
        };
        let r = Rig::open(name, make, dir.path());
        assert_eq!(r.store.orgs().unwrap(), vec![a.clone()], "{name}");
        assert_eq!(r.store.max_gseq().unwrap(), first.last().unwrap().gseq);
        let head = r.store.head(a.key).unwrap();
        assert_eq!(head.frontier.size(), 300);
        assert_eq!(
            r.store.latest_checkpoint(a.key).unwrap().unwrap().root,
            head.frontier.root()
        );
        let more = r.append(&a, "platform", vec![ev("a", "user.login")]).await;
        assert_eq!(more[0].seq, 300);
        assert!(more[0].gseq > first.last().unwrap().gseq);
        assert!(r.store.node(a.key, 8, 0).unwrap().is_some());
        r.store.ping().unwrap();
        assert!(r.store.disk_bytes().unwrap() > 0);
    }
}

/// Every feed query, however the engine plans it (one scan, or one branch
/// per filter value merged by commit order), returns exactly what a
/// brute-force filter over the same events returns: hundreds of random
/// combinations of filters, windows, cursors, orders and limits, over
/// events whose `created_at` does not follow the commit order.
#[tokio::test]
async fn random_queries_match_a_brute_force_filter() {
    use rand::{Rng, SeedableRng, rngs::StdRng};
    each_engine(|r| async move {
        let p = r.org("p", None).await;
        let c = r.org("c", Some(&p)).await;
        let o = r.org("o", None).await;
        let orgs = [p.clone(), c.clone(), o.clone()];
        let types = [
            "user.login",
            "file.downloaded",
            "file.created",
            "api_key.created",
            "api_key.deleted",
        ];
        let emails = ["a@x.com", "b@x.com", "c@y.org"];
        let base_s = 1_768_039_200i64;
        // Six hours: windows from seconds to hours, planned as a few
        // window buckets or as one range.
        const SPAN: i64 = 6 * 3600;
        let mut rng = StdRng::seed_from_u64(20261204);
        // (gseq, org index, type, actor id, email index, created ms)
        type Modelled<'a> = (u64, usize, &'a str, String, Option<usize>, i64);
        let mut model: Vec<Modelled> = Vec::new();
        for _ in 0..12 {
            let oi = rng.random_range(0..3);
            let org = &orgs[oi];
            let mut batch = Vec::new();
            let mut meta = Vec::new();
            for _ in 0..50 {
                let ty = types[rng.random_range(0..types.len())];
                let actor = format!("u{}", rng.random_range(0..6));
                let email = rng
                    .random_bool(0.7)
                    .then(|| rng.random_range(0..emails.len()));
                let secs = rng.random_range(0..SPAN);
                let mut e = ev(&org.id, ty);
                e["actor"]["id"] = json!(actor);
                if let Some(ei) = email {
                    e["actor"]["email"] = json!(emails[ei]);
                }
                let ts = jiff::Timestamp::from_second(base_s + secs).unwrap();
                e["created_at"] = json!(ts.to_string());
                batch.push(e);
                meta.push((ty, actor, email, (base_s + secs) * 1000));
            }
            let got = r.append(org, "platform", batch).await;
            for (a, (ty, actor, email, ms)) in got.iter().zip(meta) {
                model.push((a.gseq, oi, ty, actor, email, ms));
            }
        }
        let gmax = model.iter().map(|m| m.0).max().unwrap();
        for round in 0..400 {
            // Scope: the p tree (both orgs or the child only), or both trees.
            let scope: Vec<usize> = match rng.random_range(0..3) {
                0 => vec![0, 1],
                1 => vec![1],
                _ => vec![0, 1, 2],
            };
            let mut trees: Vec<i64> = scope.iter().map(|&i| orgs[i].tree).collect();
            trees.dedup();
            let mut qy = EventQuery {
                orgs: scope.iter().map(|&i| orgs[i].key).collect(),
                trees,
                limit: rng.random_range(1..40),
                ..Default::default()
            };
            let mut want_types: Option<Vec<String>> = None;
            let mut want_prefix: Option<String> = None;
            match rng.random_range(0..5) {
                0 | 1 => {
                    let n = rng.random_range(1..4);
                    let picked: Vec<String> = (0..n)
                        .map(|_| types[rng.random_range(0..types.len())].to_string())
                        .collect();
                    qy.types = picked.iter().cloned().map(TypePattern::Exact).collect();
                    want_types = Some(picked);
                }
                2 => {
                    qy.types = vec![TypePattern::Prefix("api_key.".into())];
                    want_prefix = Some("api_key.".into());
                }
                _ => {}
            }
            let mut want_actors: Option<Vec<String>> = None;
            if rng.random_bool(0.35) {
                let n = rng.random_range(1..4);
                let a: Vec<String> = (0..n)
                    .map(|_| format!("u{}", rng.random_range(0..7)))
                    .collect();
                qy.actor_ids = a.clone();
                want_actors = Some(a);
            }
            let mut want_emails: Option<Vec<usize>> = None;
            if rng.random_bool(0.35) {
                let n = rng.random_range(1..3);
                let picked: Vec<usize> =
                    (0..n).map(|_| rng.random_range(0..emails.len())).collect();
                for &ei in &picked {
                    for &oi in &scope {
                        qy.actor_email_bis.push(r.master.blind_index(
                            &orgs[oi].id,
                            "email",
                            emails[ei],
                        ));
                    }
                }
                want_emails = Some(picked);
            }
            match rng.random_range(0..4) {
                0 => {
                    let a = rng.random_range(0..SPAN);
                    let b = if rng.random_bool(0.5) {
                        rng.random_range(a..(a + 600).min(SPAN + 1))
                    } else {
                        rng.random_range(a..SPAN + 1)
                    };
                    qy.created_from = Some((base_s + a) * 1000);
                    qy.created_until = Some((base_s + b) * 1000);
                }
                1 => qy.created_from = Some((base_s + rng.random_range(0..SPAN)) * 1000),
                2 => qy.created_until = Some((base_s + rng.random_range(0..SPAN)) * 1000),
                _ => {}
            }
            if rng.random_bool(0.3) {
                qy.scan = Some(Scan::Asc);
            }
            if rng.random_bool(0.3) {
                qy.cursor_gseq = Some(rng.random_range(0..=gmax + 1));
            }
            let asc = qy.scan == Some(Scan::Asc);
            let mut want: Vec<u64> = model
                .iter()
                .filter(|m| scope.contains(&m.1))
                .filter(|m| {
                    want_types
                        .as_ref()
                        .is_none_or(|t| t.iter().any(|t| t == m.2))
                })
                .filter(|m| {
                    want_prefix
                        .as_ref()
                        .is_none_or(|p| m.2.starts_with(p.as_str()))
                })
                .filter(|m| want_actors.as_ref().is_none_or(|a| a.contains(&m.3)))
                .filter(|m| {
                    want_emails
                        .as_ref()
                        .is_none_or(|e| m.4.is_some_and(|x| e.contains(&x)))
                })
                .filter(|m| qy.created_from.is_none_or(|t| m.5 >= t))
                .filter(|m| qy.created_until.is_none_or(|t| m.5 < t))
                .filter(|m| {
                    qy.cursor_gseq
                        .is_none_or(|g| if asc { m.0 > g } else { m.0 < g })
                })
                .map(|m| m.0)
                .collect();
            want.sort_unstable();
            if !asc {
                want.reverse();
            }
            want.truncate(qy.limit);
            let got = r.query(qy.clone());
            assert_eq!(got, want, "{}: round {round}: {qy:?}", r.name);
        }
    })
    .await;
}
