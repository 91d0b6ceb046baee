//! The storage contract, checked identically on both engines: the embedded
//! one and PostgreSQL. `conformance` takes any `Arc<dyn Storage>`, so a
//! broader engine-parameterised suite can call it as one of its cases.
//!
//! PostgreSQL cases need `SEALTRAIL_TEST_PG_URL` (scripts/test.sh starts a
//! server and sets it); without it they are skipped with a notice, except
//! under CI, where they fail.

use std::sync::Arc;

use sealtrail::storage::postgres::{PgStore, SCHEMA_VERSION, test_database};
use sealtrail::storage::sqlite::SqliteStore;
use sealtrail::storage::*;
use sealtrail_tlog::{Frontier, leaf_hash};

fn pg(prefix: &str) -> Option<Arc<PgStore>> {
    match test_database(prefix) {
        Ok(Some(url)) => Some(Arc::new(PgStore::open(&url).expect("open PostgreSQL"))),
        Ok(None) => {
            eprintln!("skipped: SEALTRAIL_TEST_PG_URL is not set (scripts/pg.sh start prints one)");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

fn org(id: &str) -> Org {
    Org {
        key: 0,
        id: id.into(),
        name: id.into(),
        parent: None,
        tree: 0,
        enabled: true,
        logging_enabled_at: Some(1),
        logging_disabled_at: None,
        created_ms: 1,
        retention_days: None,
    }
}

/// Appends `n` events to `org`'s log the way the sequencer does: gseq from
/// the transaction, seq from the head, head stored at the end.
fn append(
    t: &mut dyn Txn,
    o: &Org,
    n: u64,
    tag: &str,
    subject: Option<&[u8; 16]>,
) -> StoreResult<Vec<u64>> {
    let mut head = t.log_head(o.key)?;
    let mut gseqs = Vec::new();
    for i in 0..n {
        let gseq = t.next_gseq()?;
        let seq = head.frontier.size();
        let entry = format!("{tag}-{}-{seq}", o.id).into_bytes();
        let leaf = leaf_hash(&entry);
        let mut nodes = Vec::new();
        head.frontier
            .push(leaf, |l, idx, h| {
                if l % 8 == 0 {
                    nodes.push((l, idx, *h));
                }
            })
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        t.insert_event(&NewEvent {
            gseq,
            tree: o.tree,
            org: o.key,
            seq,
            activity_type: if i % 2 == 0 {
                "file.downloaded".into()
            } else {
                "user.login_succeeded".into()
            },
            category: if i % 2 == 0 { "data_access" } else { "auth" },
            product: Some("platform".into()),
            created_ms: 1_000 + seq as i64,
            received_ms: sealtrail::time::now_ms(),
            actor_id: Some(format!("user_{}", i % 3)),
            actor_email_bi: Some(vec![i as u8 % 3; 16]),
            ip_bi: None,
            api_key_id: None,
            target_id: Some(format!("file_{i}")),
            outcome: if i % 5 == 4 { "failure" } else { "success" },
            source_event_id: Some(format!("{tag}-{i}")),
            entry,
            stored_entry: None,
            leaf,
            pii: subject.map(|_| b"sealed".to_vec()),
            subjects: subject.map(|s| vec![s.to_vec()]).unwrap_or_default(),
        })?;
        for (l, idx, h) in nodes {
            t.insert_node(o.key, l, idx, &h)?;
        }
        gseqs.push(gseq);
    }
    t.set_log_head(&head)?;
    Ok(gseqs)
}

/// The storage contract. Run on a fresh, empty store.
pub fn conformance(store: Arc<dyn Storage>) {
    let s = store.as_ref();
    assert_eq!(s.max_gseq().unwrap(), 0);
    assert!(s.orgs().unwrap().is_empty());

    // Organizations: a root's tree is itself; duplicate ids conflict.
    let mut a = org("org_a");
    let mut b = org("org_b");
    s.write(&mut |t| {
        a.key = t.insert_org(&a)?;
        a.tree = a.key;
        b.key = t.insert_org(&b)?;
        b.tree = b.key;
        Ok(())
    })
    .unwrap();
    let dup = s.write(&mut |t| t.insert_org(&org("org_a")).map(|_| ()));
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let orgs = s.orgs().unwrap();
    assert_eq!(orgs.len(), 2);
    assert_eq!(orgs[0], a);
    b.retention_days = Some(30);
    b.enabled = false;
    s.write(&mut |t| t.update_org(&b)).unwrap();
    assert_eq!(s.orgs().unwrap()[1], b);

    // Keys.
    let key = KeyRecord {
        id: "ink_1".into(),
        kind: KeyKind::Ingest,
        secret_hash: [7; 32],
        org: Some(a.key),
        product: Some("platform".into()),
        scopes: vec!["read:activities".into(), "export".into()],
        name: "k".into(),
        created_ms: 5,
        expires_ms: None,
        revoked_ms: None,
    };
    s.insert_key(&key).unwrap();
    assert_eq!(s.key("ink_1").unwrap(), Some(key.clone()));
    assert!(s.key("nope").unwrap().is_none());
    assert_eq!(s.keys(Some(a.key)).unwrap().len(), 1);
    assert_eq!(s.keys(Some(b.key)).unwrap().len(), 0);
    assert_eq!(s.keys(None).unwrap().len(), 1);
    s.revoke_key("ink_1", 9).unwrap();
    s.revoke_key("ink_1", 10).unwrap();
    assert_eq!(s.key("ink_1").unwrap().unwrap().revoked_ms, Some(9));
    assert!(matches!(
        s.revoke_key("nope", 1),
        Err(StoreError::NotFound(_))
    ));

    // Events: one group commit with three jobs, the middle one rolled back.
    let subject = [0xAB; 16];
    let mut first = Vec::new();
    s.write(&mut |t| {
        t.savepoint()?;
        first = append(t, &a, 300, "one", Some(&subject))?;
        t.release_savepoint()?;
        t.savepoint()?;
        let mut tmp = org("org_rolled_back");
        tmp.key = t.insert_org(&tmp)?;
        t.put_subject_key(&SubjectKeyRecord {
            org: a.key,
            subject: vec![1; 16],
            wrapped: Some(vec![2; 40]),
            created_ms: 1,
            erased_ms: None,
        })?;
        t.rollback_savepoint()?;
        t.savepoint()?;
        // Idempotency sees events written earlier in the same transaction.
        assert_eq!(
            t.find_source_event(a.key, "platform", "one-7")?
                .map(|(_, seq, _)| seq),
            Some(7)
        );
        assert!(t.find_source_event(a.key, "other", "one-7")?.is_none());
        t.put_subject_key(&SubjectKeyRecord {
            org: a.key,
            subject: subject.to_vec(),
            wrapped: Some(vec![3; 40]),
            created_ms: 2,
            erased_ms: None,
        })?;
        assert_eq!(
            t.subject_key(a.key, &subject)?.and_then(|k| k.wrapped),
            Some(vec![3; 40])
        );
        t.release_savepoint()?;
        Ok(())
    })
    .unwrap();
    assert_eq!(s.orgs().unwrap().len(), 2, "the rolled-back org is gone");
    assert!(
        s.subject_keys(a.key, &[vec![1; 16]]).unwrap().is_empty(),
        "the rolled-back key is gone"
    );
    assert_eq!(first.len(), 300);
    assert!(first.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(s.max_gseq().unwrap(), *first.last().unwrap());

    // A failed transaction leaves nothing behind.
    let failed = s.write(&mut |t| {
        append(t, &a, 5, "lost", None)?;
        Err(StoreError::Engine("abandoned".into()))
    });
    assert!(failed.is_err());
    assert_eq!(s.head(a.key).unwrap().frontier.size(), 300);
    assert!(s.event_by_seq(a.key, 300).unwrap().is_none());

    // Later commits get larger gseqs; a second log is independent.
    let mut second = Vec::new();
    s.write(&mut |t| {
        second = append(t, &b, 20, "two", None)?;
        append(t, &a, 10, "three", None)?;
        Ok(())
    })
    .unwrap();
    assert!(second[0] > *first.last().unwrap());

    // Heads, leaves and subtrees agree, and rebuild the same root.
    let head = s.head(a.key).unwrap();
    assert_eq!(head.frontier.size(), 310);
    let leaves = s.leaf_hashes(a.key, 0, 310).unwrap();
    assert_eq!(leaves.len(), 310);
    let mut f = Frontier::new();
    for l in &leaves {
        f.push(*l, |_, _, _| {}).unwrap();
    }
    assert_eq!(f.root(), head.frontier.root());
    assert!(s.node(a.key, 8, 0).unwrap().is_some());
    assert_eq!(s.nodes(a.key, 8, 0, 1).unwrap().len(), 1);
    assert!(
        s.nodes(a.key, 8, 0, 2).is_err(),
        "a missing subtree is an error"
    );
    assert!(s.leaf_hashes(a.key, 300, 311).is_err());
    assert_eq!(s.head(999).unwrap().frontier.size(), 0);

    // Lookups.
    let e = s.event_by_seq(a.key, 7).unwrap().unwrap();
    assert_eq!(e.gseq, first[7]);
    assert_eq!(e.leaf, leaves[7]);
    assert_eq!(e.activity_type, "user.login_succeeded");
    assert_eq!(e.entry.as_deref(), Some(&b"one-org_a-7"[..]));
    let g = s.event_by_gseq(first[7]).unwrap().unwrap();
    assert_eq!((g.org, g.seq), (a.key, 7));
    assert!(s.event_by_gseq(10_000_000).unwrap().is_none());

    // Feed queries: every filter, both directions, cursors, limits.
    let base = EventQuery {
        orgs: vec![a.key],
        trees: vec![a.tree],
        limit: 1000,
        ..EventQuery::default()
    };
    let all = s.query(&base).unwrap();
    assert_eq!(all.len(), 310);
    assert!(
        all.windows(2).all(|w| w[0].gseq > w[1].gseq),
        "newest first"
    );
    let asc = s
        .query(&EventQuery {
            scan: Some(Scan::Asc),
            cursor_gseq: Some(first[9]),
            limit: 5,
            ..base.clone()
        })
        .unwrap();
    assert_eq!(
        asc.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![10, 11, 12, 13, 14]
    );
    let desc = s
        .query(&EventQuery {
            cursor_gseq: Some(first[9]),
            limit: 3,
            ..base.clone()
        })
        .unwrap();
    assert_eq!(
        desc.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![8, 7, 6]
    );
    let count = |q: EventQuery| s.query(&q).unwrap().len();
    assert_eq!(
        count(EventQuery {
            types: vec![TypePattern::Prefix("file.".into())],
            ..base.clone()
        }),
        155
    );
    assert_eq!(
        count(EventQuery {
            types: vec![TypePattern::Exact("user.login_succeeded".into())],
            ..base.clone()
        }),
        155
    );
    assert_eq!(
        count(EventQuery {
            exclude_types: vec![TypePattern::Prefix("user.".into())],
            ..base.clone()
        }),
        155
    );
    assert_eq!(
        count(EventQuery {
            types: vec![TypePattern::All],
            ..base.clone()
        }),
        310
    );
    assert_eq!(
        count(EventQuery {
            actor_ids: vec!["user_0".into()],
            ..base.clone()
        }),
        100 + 4
    );
    assert_eq!(
        count(EventQuery {
            actor_email_bis: vec![vec![1; 16]],
            ..base.clone()
        }),
        100 + 3
    );
    assert_eq!(
        count(EventQuery {
            target_ids: vec!["file_3".into(), "file_4".into()],
            ..base.clone()
        }),
        4
    );
    assert_eq!(
        count(EventQuery {
            categories: vec!["auth".into()],
            ..base.clone()
        }),
        155
    );
    assert_eq!(
        count(EventQuery {
            products: vec!["platform".into()],
            ..base.clone()
        }),
        310
    );
    assert_eq!(
        count(EventQuery {
            products: vec!["other".into()],
            ..base.clone()
        }),
        0
    );
    assert_eq!(
        count(EventQuery {
            outcome: Some("failure".into()),
            ..base.clone()
        }),
        60 + 2
    );
    assert_eq!(
        count(EventQuery {
            created_from: Some(1_010),
            created_until: Some(1_020),
            ..base.clone()
        }),
        10,
        "seqs 10..20"
    );
    assert_eq!(
        count(EventQuery {
            orgs: vec![a.key, b.key],
            trees: vec![a.tree, b.tree],
            ..base.clone()
        }),
        330
    );

    // Checkpoints.
    for (size, note) in [(10u64, "ten"), (300, "three hundred")] {
        s.insert_checkpoint(&CheckpointRecord {
            org: a.key,
            size,
            root: [size as u8; 32],
            note: note.into(),
            signed_ms: 1,
        })
        .unwrap();
    }
    s.insert_checkpoint(&CheckpointRecord {
        org: a.key,
        size: 10,
        root: [0; 32],
        note: "again".into(),
        signed_ms: 2,
    })
    .unwrap();
    assert_eq!(s.latest_checkpoint(a.key).unwrap().unwrap().size, 300);
    let c = s.checkpoint_covering(a.key, 11).unwrap().unwrap();
    assert_eq!((c.size, c.note.as_str()), (300, "three hundred"));
    assert_eq!(
        s.checkpoint_covering(a.key, 5).unwrap().unwrap().note,
        "ten",
        "the first write of a size wins"
    );
    assert!(s.checkpoint_covering(a.key, 301).unwrap().is_none());
    assert!(s.latest_checkpoint(b.key).unwrap().is_none());

    // Subject keys and erasure.
    let keys = s
        .subject_keys(a.key, &[subject.to_vec(), vec![9; 16]])
        .unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].wrapped, Some(vec![3; 40]));
    s.write(&mut |t| {
        let evs = t.events_with_subject(a.key, &subject)?;
        assert_eq!(evs.len(), 300);
        for e in &evs {
            t.set_event_pii(e.gseq, None, &[], true)?;
        }
        t.put_subject_key(&SubjectKeyRecord {
            org: a.key,
            subject: subject.to_vec(),
            wrapped: None,
            created_ms: 2,
            erased_ms: Some(3),
        })?;
        t.put_erasure("era_1", r#"{"status":"completed"}"#)?;
        Ok(())
    })
    .unwrap();
    let k = s.subject_keys(a.key, &[subject.to_vec()]).unwrap();
    assert_eq!((k[0].wrapped.clone(), k[0].erased_ms), (None, Some(3)));
    assert!(s.event_by_seq(a.key, 0).unwrap().unwrap().pii.is_none());
    assert_eq!(
        count(EventQuery {
            actor_email_bis: vec![vec![1; 16]],
            ..base.clone()
        }),
        3,
        "erased events leave the email index"
    );
    assert_eq!(
        s.erasure("era_1").unwrap().as_deref(),
        Some(r#"{"status":"completed"}"#)
    );
    assert!(s.erasure("era_2").unwrap().is_none());

    // Legal holds.
    let hold = LegalHold {
        id: "hold_1".into(),
        org: a.key,
        subject: Some(vec![5; 16]),
        reason: "case".into(),
        created_ms: 4,
        released_ms: None,
    };
    s.write(&mut |t| t.insert_hold(&hold)).unwrap();
    assert_eq!(s.holds().unwrap(), vec![hold.clone()]);
    let mut released = None;
    s.write(&mut |t| {
        released = Some((t.release_hold("hold_1", 8)?, t.release_hold("hold_1", 9)?));
        Ok(())
    })
    .unwrap();
    assert_eq!(released, Some((true, false)));
    assert_eq!(s.holds().unwrap()[0].released_ms, Some(8));

    // Pruning keeps leaves and held subjects' events, and is idempotent.
    let held = [0xCD; 16];
    s.write(&mut |t| {
        append(t, &a, 4, "held", Some(&held))?;
        Ok(())
    })
    .unwrap();
    let mut pruned = 0;
    s.write(&mut |t| {
        pruned = t.prune(a.key, 314, &[held.to_vec()])?;
        Ok(())
    })
    .unwrap();
    assert_eq!(pruned, 310);
    s.write(&mut |t| {
        pruned = t.prune(a.key, 314, &[])?;
        Ok(())
    })
    .unwrap();
    assert_eq!(pruned, 4, "only the held events were left");
    let p = s.event_by_seq(a.key, 3).unwrap().unwrap();
    assert!(p.entry.is_none() && p.pii.is_none());
    assert_eq!(p.leaf, leaves[3]);
    assert_eq!(p.activity_type, "user.login_succeeded");
    assert_eq!(s.leaf_hashes(a.key, 0, 314).unwrap().len(), 314);

    // Relinking moves an organization's events to another tree.
    s.write(&mut |t| t.set_events_tree(b.key, a.key)).unwrap();
    assert_eq!(
        count(EventQuery {
            orgs: vec![b.key],
            trees: vec![a.key],
            ..base.clone()
        }),
        20
    );

    assert!(s.disk_bytes().unwrap() > 0);
    s.ping().unwrap();
    s.scrub().unwrap();
    assert!(s.try_lease("test").unwrap());
}

#[test]
fn the_embedded_engine_meets_the_storage_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("sealtrail.db")).unwrap();
    assert!(!store.shared());
    conformance(Arc::new(store));
}

#[test]
fn the_postgres_engine_meets_the_storage_contract() {
    let Some(store) = pg("conformance") else {
        return;
    };
    assert!(store.shared());
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    conformance(store);
}

#[test]
fn postgres_migrations_apply_once_when_nodes_start_together() {
    let Ok(Some(url)) = test_database("migrate").map_err(|e| panic!("{e}")) else {
        eprintln!("skipped: SEALTRAIL_TEST_PG_URL is not set");
        return;
    };
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let u = url.clone();
            std::thread::spawn(move || PgStore::open(&u).map(|s| s.schema_version()))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap().unwrap(), SCHEMA_VERSION);
    }
}

#[test]
fn postgres_commits_from_two_stores_serialize_in_gseq_order() {
    let Ok(Some(url)) = test_database("serial").map_err(|e| panic!("{e}")) else {
        eprintln!("skipped: SEALTRAIL_TEST_PG_URL is not set");
        return;
    };
    let one = Arc::new(PgStore::open(&url).unwrap());
    let two = Arc::new(PgStore::open(&url).unwrap());
    let mut o = org("org_shared");
    one.write(&mut |t| {
        o.key = t.insert_org(&o)?;
        o.tree = o.key;
        Ok(())
    })
    .unwrap();
    let threads: Vec<_> = [one.clone(), two.clone()]
        .into_iter()
        .enumerate()
        .map(|(n, s)| {
            let o = o.clone();
            std::thread::spawn(move || {
                for i in 0..20 {
                    s.write(&mut |t| append(t, &o, 25, &format!("n{n}-{i}"), None).map(|_| ()))
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // Gap-free per-organization sequence, gseq increasing along it.
    let all = one
        .query(&EventQuery {
            orgs: vec![o.key],
            trees: vec![o.tree],
            scan: Some(Scan::Asc),
            limit: 10_000,
            ..EventQuery::default()
        })
        .unwrap();
    assert_eq!(all.len(), 1000);
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e.seq, i as u64);
    }
    assert!(all.windows(2).all(|w| w[0].gseq < w[1].gseq));
    assert!(all.windows(2).all(|w| w[0].received_ms <= w[1].received_ms));
    let head = two.head(o.key).unwrap();
    let mut f = Frontier::new();
    for l in two.leaf_hashes(o.key, 0, 1000).unwrap() {
        f.push(l, |_, _, _| {}).unwrap();
    }
    assert_eq!(f.root(), head.frontier.root());
    // Only one store holds a lease at a time.
    assert!(one.try_lease("signer").unwrap());
    assert!(!two.try_lease("signer").unwrap());
    assert!(one.try_lease("signer").unwrap());
    drop(one);
    let mut took_over = false;
    for _ in 0..50 {
        if two.try_lease("signer").unwrap() {
            took_over = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(took_over, "the lease passes on when its holder goes away");
}
