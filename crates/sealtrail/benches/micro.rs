//! Micro-benchmarks of the per-event work on the ingest path: validating
//! an event, committing to its personal fields and sealing them, encoding
//! its canonical entry, hashing the leaf, pushing it onto the frontier,
//! and generating proofs. Each is timed alone so a regression in one shows
//! up here before it blurs into the end-to-end figures of `sealtrail bench`.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sealtrail::bench::mix;
use sealtrail::log::entry::{self, EntryMeta};
use sealtrail::privacy::{crypto, split};
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
    let key = crypto::new_key();
    g.bench_function("commitments + seal of personal fields (1000 events)", |b| {
        b.iter(|| {
            for input in &inputs {
                let def = catalog.get(&input.activity_type).unwrap();
                let mut openings = split::Openings::new();
                for f in split::personal_fields(input, def) {
                    let salt = crypto::new_salt();
                    black_box(crypto::commitment(&salt, &f.value));
                    openings.insert(
                        f.path,
                        split::Opening {
                            salt: split::salt_b64(&salt),
                            value: f.value,
                        },
                    );
                }
                if !openings.is_empty() {
                    black_box(split::seal_envelope(&key, b"subject-ref-16by", &openings).unwrap());
                }
            }
        })
    });
    let commitments: BTreeMap<String, String> =
        [("actor.email".to_string(), "c".repeat(44))].into();
    g.bench_function("entry::encode (1000 events)", |b| {
        b.iter(|| {
            for (i, input) in inputs.iter().enumerate() {
                let meta = EntryMeta {
                    id: "act_0000000000000000000000000",
                    organization_id: &input.organization_id,
                    seq: i as u64,
                    received_ms: 1_793_491_200_000,
                    product: Some("platform"),
                };
                black_box(entry::encode(input, &meta, &commitments));
            }
        })
    });
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
