//! Micro-benchmarks of the per-event work on the ingest path: validating
//! an event, committing to its personal fields and sealing them, encoding
//! its canonical entry, hashing the leaf, pushing it onto the frontier,
//! and generating proofs. Each is timed alone so a regression in one shows
//! up here before it blurs into the end-to-end figures of `sealtrail bench`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sealtrail::bench::mix;
use sealtrail::log::prepare::{finish_entry, prepare};
use sealtrail::privacy::crypto::{self, MasterKey};
use sealtrail::privacy::split;
use sealtrail::storage::Org;
use sealtrail_model::{Catalog, Limits, parse_activity};
use sealtrail_tlog::{Frontier, MemoryTree, consistency_proof, inclusion_proof, leaf_hash};

fn events(n: u64) -> Vec<(serde_json::Value, usize)> {
    (0..n)
        .map(|i| {
            let v = mix::event(i, mix::batch_source(i / 1000));
            let len = v.to_string().len();
            (v, len)
        })
        .collect()
}

fn ingest_path(c: &mut Criterion) {
    let catalog = Catalog::builtin();
    let limits = Limits::default();
    let evs = events(1000);
    let inputs: Vec<_> = evs
        .iter()
        .map(|(v, len)| parse_activity(v, *len, &catalog, &limits).unwrap())
        .collect();

    let mut g = c.benchmark_group("ingest_path");
    g.throughput(Throughput::Elements(evs.len() as u64));
    g.bench_function("parse_activity (1000 events of the mix)", |b| {
        b.iter(|| {
            for (v, len) in &evs {
                black_box(parse_activity(v, *len, &catalog, &limits).unwrap());
            }
        })
    });
    let master = MasterKey::from_secret(&[7; 32]);
    let org = Org {
        key: 1,
        id: "org_bench".into(),
        name: "bench".into(),
        parent: None,
        tree: 1,
        enabled: true,
        logging_enabled_at: None,
        logging_disabled_at: None,
        created_ms: 0,
        retention_days: None,
    };
    // Off the sequencer: canonical entry parts, salts, commitments, blind
    // indexes and pseudonyms.
    g.bench_function("prepare: entry parts + commitments (1000 events)", |b| {
        b.iter(|| {
            for input in &inputs {
                let def = catalog.get(&input.activity_type).unwrap();
                black_box(prepare(input, def, &org, Some("platform"), &master, false));
            }
        })
    });
    // The same with the compressed stored form (the embedded engine's).
    g.bench_function("prepare + compressed stored form (1000 events)", |b| {
        b.iter(|| {
            for input in &inputs {
                let def = catalog.get(&input.activity_type).unwrap();
                black_box(prepare(input, def, &org, Some("platform"), &master, true));
            }
        })
    });
    let prepared: Vec<_> = inputs
        .iter()
        .map(|input| {
            prepare(
                input,
                catalog.get(&input.activity_type).unwrap(),
                &org,
                Some("platform"),
                &master,
                true,
            )
        })
        .collect();
    let key = crypto::new_key();
    // On the sequencer: sealing the openings and splicing the entry.
    g.bench_function(
        "sequencer: seal openings + finish entry (1000 events)",
        |b| {
            b.iter(|| {
                for (i, p) in prepared.iter().enumerate() {
                    for so in &p.openings {
                        black_box(split::seal_plaintext(&key, &so.sref, &so.plaintext));
                    }
                    black_box(finish_entry(
                        &p.parts,
                        "act_0000000000000000000000000",
                        1_793_491_200_000,
                        i as u64,
                    ));
                }
            })
        },
    );
    let entries: Vec<Vec<u8>> = evs
        .iter()
        .map(|(v, _)| v.to_string().into_bytes())
        .collect();
    g.bench_function("leaf_hash (1000 entries)", |b| {
        b.iter(|| {
            for e in &entries {
                black_box(leaf_hash(e));
            }
        })
    });
    let leaves: Vec<_> = entries.iter().map(|e| leaf_hash(e)).collect();
    g.bench_function("Frontier::push (1000 leaves)", |b| {
        b.iter(|| {
            let mut f = Frontier::new();
            for l in &leaves {
                f.push(*l, |_, _, h| {
                    black_box(h);
                })
                .unwrap();
            }
            black_box(f.root())
        })
    });
    g.finish();
}

fn proofs(c: &mut Criterion) {
    let mut g = c.benchmark_group("proofs_from_memory_tree");
    for size in [1u64 << 10, 1 << 20] {
        let mut tree = MemoryTree::new();
        for i in 0..size {
            tree.push(leaf_hash(&i.to_be_bytes()));
        }
        g.bench_with_input(BenchmarkId::new("inclusion", size), &size, |b, &n| {
            let mut i = 0u64;
            b.iter(|| {
                i = (i + 7919) % n;
                black_box(inclusion_proof(i, n, &mut |l, k| tree.subtree(l, k)).unwrap())
            })
        });
        g.bench_with_input(BenchmarkId::new("consistency", size), &size, |b, &n| {
            let mut i = 1u64;
            b.iter(|| {
                i = i % (n - 1) + 7919 % (n - 1) + 1;
                black_box(consistency_proof(i.min(n), n, &mut |l, k| tree.subtree(l, k)).unwrap())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, ingest_path, proofs);
criterion_main!(benches);
