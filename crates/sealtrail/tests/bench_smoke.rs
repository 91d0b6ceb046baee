//! The benchmark harness runs end to end with tiny sizes (`--quick`) and
//! its report carries every row with a figure and its limit. No timing is
//! asserted: a test machine's speed proves nothing.

use sealtrail::bench::{self, BenchArgs, report};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_run_reports_every_row_with_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("BENCHMARKS.md");
    std::fs::write(
        &out,
        format!(
            "# Benchmarks\n\nhand-written text\n\n{}\nold\n{}\n\nmore text\n",
            report::START,
            report::END
        ),
    )
    .unwrap();
    let args = BenchArgs::quick_into(out.clone(), dir.path().join("work"));
    let results = bench::run(args).await.unwrap();
    let rows = report::rows(&results);

    let expect = [
        "batches of 1000, concurrency 1",
        "batches of 1000, concurrency 4",
        "batches of 1000, concurrency 16",
        "single-event requests, concurrency 16",
        "single-event requests, concurrency 64",
        "server CPU per event",
        "vs PostgreSQL COPY",
        "vs the naive baseline",
        "no filter",
        "activity_types[] exact",
        "prefix wildcard",
        "actor_ids[]",
        "actor_emails[]",
        "created_at",
        "deep cursor",
        "ingest-to-stream latency",
        "inclusion proof",
        "consistency proof",
        "bundle verification",
        "bytes on disk per event",
        "peak memory",
    ];
    for e in expect {
        assert!(
            rows.iter().any(|r| r.measure.contains(e)),
            "no row for {e}: {:#?}",
            rows.iter().map(|r| &r.measure).collect::<Vec<_>>()
        );
    }
    for r in &rows {
        assert!(r.value.is_some(), "{} has no figure", r.measure);
        assert!(!r.limit_name.is_empty(), "{} names no limit", r.measure);
        let pg = r.limit_name.contains("PostgreSQL");
        assert!(
            r.limit_value.is_some() || (pg && r.limit == "not measured: no PostgreSQL"),
            "{} has no limit figure: {}",
            r.measure,
            r.limit
        );
        if r.limit_value.is_some() {
            assert!(r.ratio.ends_with('×'), "{} has no ratio", r.measure);
        }
    }

    let doc = std::fs::read_to_string(&out).unwrap();
    assert!(doc.starts_with("# Benchmarks\n\nhand-written text"));
    assert!(doc.trim_end().ends_with("more text"));
    assert!(!doc.contains("\nold\n"));
    assert!(doc.contains("| measure | Sealtrail | limit (name) | ratio | SPEC target | met? |"));
    let svg = std::fs::read_to_string(dir.path().join("benchmarks.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
}
