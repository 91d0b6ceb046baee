//! The report: one row per Sealtrail figure with its limit, the ratio and
//! the SPEC target; printed, written into `docs/BENCHMARKS.md` between its
//! markers (or as JSON), and drawn as `benchmarks.svg` beside it.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::{BenchArgs, Results};

/// Start marker of the generated block.
pub const START: &str = "<!-- results:start -->";
/// End marker of the generated block.
pub const END: &str = "<!-- results:end -->";

/// One line of the results table.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// What is measured.
    pub measure: String,
    /// Sealtrail's figure, as printed.
    pub sealtrail: String,
    /// The number the ratio uses.
    pub value: Option<f64>,
    /// The limit's name.
    pub limit_name: String,
    /// The limit, as printed (or why it was not measured).
    pub limit: String,
    /// The number the ratio uses.
    pub limit_value: Option<f64>,
    /// Sealtrail ÷ limit.
    pub ratio: String,
    /// The SPEC §6 target, as printed.
    pub target: String,
    /// The target as a number, in the figure's unit.
    pub target_value: Option<f64>,
    /// `yes`, `no`, or `—` when there is no target.
    pub met: String,
    /// Whether bigger is better (throughput) or smaller (latency, size).
    pub higher_is_better: bool,
}

fn num(v: f64) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    let a = v.abs();
    if a >= 100.0 {
        let s = format!("{:.0}", v);
        // Thousands separators.
        let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("{sign}{out}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

struct RowBuilder {
    row: Row,
}

impl RowBuilder {
    fn new(measure: impl Into<String>, sealtrail: impl Into<String>, value: f64) -> RowBuilder {
        RowBuilder {
            row: Row {
                measure: measure.into(),
                sealtrail: sealtrail.into(),
                value: value.is_finite().then_some(value),
                limit_name: String::new(),
                limit: "not measured".into(),
                limit_value: None,
                ratio: "—".into(),
                target: "—".into(),
                target_value: None,
                met: "—".into(),
                higher_is_better: true,
            },
        }
    }
    fn lower_is_better(mut self) -> Self {
        self.row.higher_is_better = false;
        self
    }
    fn limit(mut self, name: &str, shown: Option<(String, f64)>, missing: &str) -> Self {
        self.row.limit_name = name.into();
        match shown {
            Some((s, v)) => {
                self.row.limit = s;
                self.row.limit_value = Some(v);
            }
            None => self.row.limit = missing.into(),
        }
        self
    }
    fn target(mut self, shown: &str, v: f64) -> Self {
        self.row.target = shown.into();
        self.row.target_value = Some(v);
        self
    }
    fn build(mut self) -> Row {
        if let (Some(v), Some(l)) = (self.row.value, self.row.limit_value)
            && l > 0.0
        {
            self.row.ratio = format!("{}×", num(v / l));
        }
        if let (Some(v), Some(t)) = (self.row.value, self.row.target_value) {
            let ok = if self.row.higher_is_better {
                v >= t
            } else {
                v <= t
            };
            self.row.met = if ok { "yes" } else { "no" }.into();
        }
        self.row
    }
}

/// Builds the table from the results.
pub fn rows(r: &Results) -> Vec<Row> {
    let mut out = Vec::new();
    let l = &r.limits;
    const RAW: &str =
        "raw SQLite insert, same rows, schema and indexes, commit every 10k, synchronous=FULL";
    const NO_RAW: &str = "not measured (--only without limits)";
    const NO_PG: &str = "not measured: no PostgreSQL";
    let raw10k = l
        .sqlite_per_10k
        .as_ref()
        .map(|s| (format!("{} rows/s", num(s.rows_per_s)), s.rows_per_s));
    for f in &r.ingest {
        let (what, target, tv) = if f.mode == "single" {
            (
                format!(
                    "ingest, single-event requests, concurrency {} (req/s)",
                    f.concurrency
                ),
                "≥ 15,000/s",
                15_000.0,
            )
        } else {
            (
                format!(
                    "ingest, batches of {}, concurrency {} (events/s)",
                    f.batch, f.concurrency
                ),
                "≥ 100,000/s",
                100_000.0,
            )
        };
        out.push(
            RowBuilder::new(
                what,
                format!(
                    "{}/s (server CPU {} µs/event)",
                    num(f.events_per_s),
                    num(f.server_cpu_us)
                ),
                f.events_per_s,
            )
            .limit(RAW, raw10k.clone(), NO_RAW)
            .target(target, tv)
            .build(),
        );
    }
    let best_batched = r
        .ingest
        .iter()
        .filter(|f| f.mode == "batched")
        .max_by(|a, b| a.events_per_s.total_cmp(&b.events_per_s));
    if let Some(f) = best_batched {
        out.push(
            RowBuilder::new(
                format!(
                    "server CPU per event, batched, concurrency {} (µs)",
                    f.concurrency
                ),
                format!("{} µs", num(f.server_cpu_us)),
                f.server_cpu_us,
            )
            .lower_is_better()
            .limit(
                "raw SQLite insert CPU per row (same rows, commit every 10k)",
                l.sqlite_per_10k
                    .as_ref()
                    .map(|s| (format!("{} µs", num(s.cpu_us_per_row)), s.cpu_us_per_row)),
                NO_RAW,
            )
            .target("≤ 20 µs (2 cores ÷ 100,000/s)", 20.0)
            .build(),
        );
        // Sealing an event into its log is one leaf hash plus, on average,
        // one node hash (the frontier merge); its share of the server's CPU
        // per event is what sealing costs ingest.
        if let (Some(leaf), Some(node)) = (l.leaf_hashes_per_s, l.node_hashes_per_s)
            && leaf > 0.0
            && node > 0.0
            && f.server_cpu_us > 0.0
        {
            let seal_us = 1e6 / leaf + 1e6 / node;
            let share = seal_us / f.server_cpu_us * 100.0;
            out.push(
                RowBuilder::new(
                    "Merkle sealing share of ingest CPU per event (leaf hash + frontier merge, %)",
                    format!(
                        "{} % ({} µs of {} µs)",
                        num(share),
                        num(seal_us),
                        num(f.server_cpu_us)
                    ),
                    share,
                )
                .lower_is_better()
                .limit(
                    "RFC 6962 leaf and node hash rates measured above",
                    Some((format!("{} µs per event", num(seal_us)), share)),
                    NO_RAW,
                )
                .target("≤ 10 % (sealed ingest within 10% of unsealed)", 10.0)
                .build(),
            );
        }
        out.push(
            RowBuilder::new(
                "ingest, best batched, vs PostgreSQL COPY (events/s)",
                format!("{}/s", num(f.events_per_s)),
                f.events_per_s,
            )
            .limit(
                "PostgreSQL COPY into (bigint, jsonb), same events",
                l.pg.as_ref().map(|p| {
                    (
                        format!("{} rows/s", num(p.copy_rows_per_s)),
                        p.copy_rows_per_s,
                    )
                }),
                NO_PG,
            )
            .build(),
        );
        out.push(
            RowBuilder::new(
                "ingest, best batched, vs the naive baseline (events/s)",
                format!("{}/s", num(f.events_per_s)),
                f.events_per_s,
            )
            .limit(
                "naive: one INSERT per event into PostgreSQL, autocommit, 8 clients",
                l.pg.as_ref()
                    .map(|p| (format!("{}/s", num(p.naive_8_per_s)), p.naive_8_per_s)),
                NO_PG,
            )
            .build(),
        );
    }
    if let Some(f) = r
        .ingest
        .iter()
        .filter(|f| f.mode == "single")
        .max_by(|a, b| a.events_per_s.total_cmp(&b.events_per_s))
    {
        out.push(
            RowBuilder::new(
                format!(
                    "ingest, single-event c={}, vs the naive baseline (req/s)",
                    f.concurrency
                ),
                format!("{}/s", num(f.events_per_s)),
                f.events_per_s,
            )
            .limit(
                "naive: one INSERT per event into PostgreSQL, autocommit, 8 clients",
                l.pg.as_ref()
                    .map(|p| (format!("{}/s", num(p.naive_8_per_s)), p.naive_8_per_s)),
                NO_PG,
            )
            .build(),
        );
    }
    for q in &r.queries {
        let target_note = if q.set_events >= 10_000_000 {
            "≤ 20 ms p99 (over 10M)".to_string()
        } else {
            "≤ 20 ms p99 (SPEC: over 10M; this set is smaller)".to_string()
        };
        out.push(
            RowBuilder::new(
                format!(
                    "feed page (100), {}, {} events, {} samples: p50 / p99 (ms)",
                    q.filter,
                    num(q.set_events as f64),
                    q.samples
                ),
                format!("{} / {} ms", num(q.api_p50_ms), num(q.api_p99_ms)),
                q.api_p99_ms,
            )
            .lower_is_better()
            .limit(
                "same storage query in-process (no HTTP, rendering, audit)",
                Some((
                    format!("{} / {} ms", num(q.store_p50_ms), num(q.store_p99_ms)),
                    q.store_p99_ms,
                )),
                NO_RAW,
            )
            .target(&target_note, 20.0)
            .build(),
        );
    }
    if let Some(s) = &r.stream {
        out.push(
            RowBuilder::new(
                format!(
                    "ingest-to-stream latency at {}/s: p50 / p99 (ms)",
                    num(s.rate as f64)
                ),
                format!("{} / {} ms", num(s.p50_ms), num(s.p99_ms)),
                s.p99_ms,
            )
            .lower_is_better()
            .limit(
                "fsync of a small append (one commit's floor)",
                l.fsync_p50_ms
                    .zip(l.fsync_p99_ms)
                    .map(|(a, b)| (format!("{} / {} ms", num(a), num(b)), b)),
                NO_RAW,
            )
            .target("≤ 50 ms p99", 50.0)
            .build(),
        );
    }
    for p in &r.proofs {
        let b = RowBuilder::new(
            format!(
                "{} proof via API, tree of {}: p50 / p99 (ms)",
                p.kind,
                num(p.tree_size as f64)
            ),
            format!("{} / {} ms", num(p.api_p50_ms), num(p.api_p99_ms)),
            p.api_p99_ms,
        )
        .lower_is_better()
        .limit(
            "same proof from the library on the same storage",
            Some((
                format!("{} / {} ms", num(p.lib_p50_ms), num(p.lib_p99_ms)),
                p.lib_p99_ms,
            )),
            NO_RAW,
        );
        out.push(if p.kind == "inclusion" {
            b.target("≤ 1 ms", 1.0).build()
        } else {
            b.build()
        });
    }
    if let Some(v) = &r.verify {
        let bound = l
            .leaf_hashes_per_s
            .zip(l.node_hashes_per_s)
            .map(|(lr, nr)| {
                let s = (v.leaf_hashes as f64 / lr + v.node_hashes as f64 / nr) * 1e6
                    / v.events.max(1) as f64;
                (format!("{} s", num(s)), s)
            });
        // The real verifier's figure when there is one, else the
        // library-level equivalent (both in the detail line below).
        let (events, secs, what) = match &v.bundle {
            Some(b) => (
                b.events,
                b.per_million_secs,
                "`sealtrail verify`'s verifier",
            ),
            None => (v.events, v.per_million_secs, "library-level equivalent"),
        };
        let scaled = if events >= 1_000_000 {
            String::new()
        } else {
            format!(", scaled from {}", num(events as f64))
        };
        out.push(
            RowBuilder::new(
                format!("bundle verification, 1M events ({what}; s{scaled})"),
                format!("{} s", num(secs)),
                secs,
            )
            .lower_is_better()
            .limit(
                "SHA-256 bound: the same leaf and node hashes at the measured hash rates",
                bound,
                NO_RAW,
            )
            .target("≤ 10 s", 10.0)
            .build(),
        );
    }
    if let Some(d) = &r.disk {
        out.push(
            RowBuilder::new(
                format!("bytes on disk per event, {} events", num(d.events as f64)),
                format!("{} B", num(d.bytes_per_event)),
                d.bytes_per_event,
            )
            .lower_is_better()
            .limit(
                "raw SQLite, same rows, schema and indexes",
                l.sqlite_per_10k
                    .as_ref()
                    .map(|s| (format!("{} B", num(s.bytes_per_row)), s.bytes_per_row)),
                NO_RAW,
            )
            .target("≤ 400 B", 400.0)
            .build(),
        );
    }
    if let Some(m) = r.peak_rss_bytes {
        let mib = m as f64 / (1 << 20) as f64;
        out.push(
            RowBuilder::new(
                "peak memory (VmHWM; server and load generator share the process) (MiB)",
                format!("{} MiB", num(mib)),
                mib,
            )
            .lower_is_better()
            .limit(
                "size of the database on disk",
                r.disk.as_ref().map(|d| {
                    let db = d.bytes as f64 / (1 << 20) as f64;
                    (format!("{} MiB", num(db)), db)
                }),
                NO_RAW,
            )
            .build(),
        );
    }
    out
}

fn limits_table(r: &Results) -> String {
    let l = &r.limits;
    let mut s = String::from("| limit | figure |\n|---|---|\n");
    let mut line = |k: &str, v: String| {
        let _ = writeln!(s, "| {k} | {v} |");
    };
    let opt = |v: Option<f64>, unit: &str| {
        v.map_or("not measured".into(), |v| format!("{} {unit}", num(v)))
    };
    line(
        "SHA-256 (sha2, one core, 1 MiB buffers)",
        opt(l.sha256_gb_per_s, "GB/s"),
    );
    line(
        "RFC 6962 leaf hashes, 600-byte entries (one core)",
        opt(l.leaf_hashes_per_s, "/s"),
    );
    line(
        "RFC 6962 node hashes (one core)",
        opt(l.node_hashes_per_s, "/s"),
    );
    line(
        "Ed25519 checkpoint signatures (one core)",
        opt(l.ed25519_sign_per_s, "/s"),
    );
    line(
        "fsync (fdatasync) of a 128-byte append: p50 / p99",
        match (l.fsync_p50_ms, l.fsync_p99_ms) {
            (Some(a), Some(b)) => format!("{} / {} ms", num(a), num(b)),
            _ => "not measured".into(),
        },
    );
    for (name, s) in [
        ("raw SQLite insert, one transaction", &l.sqlite_one_txn),
        (
            "raw SQLite insert, commit every 10k rows",
            &l.sqlite_per_10k,
        ),
    ] {
        line(
            name,
            s.as_ref().map_or("not measured".into(), |s| {
                format!(
                    "{} rows/s ({} rows, {} µs CPU/row, {} B/row)",
                    num(s.rows_per_s),
                    num(s.rows as f64),
                    num(s.cpu_us_per_row),
                    num(s.bytes_per_row)
                )
            }),
        );
    }
    match &l.pg {
        Some(p) => {
            line(
                "PostgreSQL COPY into (bigint, jsonb)",
                format!(
                    "{} rows/s ({} rows)",
                    num(p.copy_rows_per_s),
                    num(p.copy_rows as f64)
                ),
            );
            line(
                "PostgreSQL, one INSERT per event, autocommit: 1 / 8 clients",
                format!("{}/s / {}/s", num(p.naive_1_per_s), num(p.naive_8_per_s)),
            );
            line(
                "PostgreSQL server",
                format!("{} ({})", p.version, p.durability),
            );
        }
        None => line(
            "PostgreSQL COPY; one INSERT per event",
            l.pg_note
                .clone()
                .unwrap_or_else(|| "not measured: no PostgreSQL".into()),
        ),
    }
    s
}

/// The Markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| measure | Sealtrail | limit (name) | ratio | SPEC target | met? |\n|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} ({}) | {} | {} | {} |",
            r.measure, r.sealtrail, r.limit, r.limit_name, r.ratio, r.target, r.met
        );
    }
    s
}

fn machine_line(r: &Results) -> String {
    match &r.machine {
        Some(m) => format!(
            "{} · {} cores · {:.1} GiB · Linux {} · {} · {} · commit {} · load average at start {}",
            m.cpu, m.cores, m.memory_gib, m.kernel, m.rustc, m.date, m.commit, m.load_at_start
        ),
        None => "unknown machine".into(),
    }
}

fn block(args: &BenchArgs, r: &Results, rows: &[Row], chart: Option<&str>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{START}");
    let _ = writeln!(
        s,
        "_Generated by `sealtrail bench`; do not edit by hand._\n"
    );
    if let Some(n) = &args.note {
        let _ = writeln!(s, "**{n}**\n");
    }
    if args.quick {
        let _ = writeln!(
            s,
            "**--quick run: tiny sizes that only check the harness; these figures mean nothing.**\n"
        );
    }
    let _ = writeln!(s, "Machine: {}  ", machine_line(r));
    let _ = writeln!(s, "Command: `{}`  ", r.command);
    if let Some(z) = &r.sizes {
        let _ = writeln!(
            s,
            "Sizes: {} events per batched level, single-event levels {} s each, query sets {:?}, {} samples per filter, stream {}/s for {} s, raw SQLite {} rows, verification {} events\n",
            num(z.events as f64),
            z.singles_secs,
            z.query_sets,
            z.query_samples,
            z.stream_rate,
            z.stream_secs,
            num(z.raw_rows as f64),
            num(z.verify_events as f64)
        );
    }
    s.push_str(&table(rows));
    s.push_str("\nRatio = Sealtrail ÷ limit (for rates, below 1 is slower than the limit; for times and sizes, above 1 is slower or larger).\n\n");
    if !r.ingest.is_empty() {
        s.push_str("Ingest detail (the load generator runs in the same process, on the same two cores):\n\n| level | events | s | events/s | server CPU µs/event | load generator CPU µs/event | request p50 / p99 ms | events in DB before |\n|---|---|---|---|---|---|---|---|\n");
        for f in &r.ingest {
            let _ = writeln!(
                s,
                "| {} ×{} c={} | {} | {} | {} | {} | {} | {} / {} | {} |",
                f.mode,
                f.batch,
                f.concurrency,
                num(f.events as f64),
                num(f.secs),
                num(f.events_per_s),
                num(f.server_cpu_us),
                num(f.load_cpu_us),
                num(f.req_p50_ms),
                num(f.req_p99_ms),
                num(f.db_events_before as f64)
            );
        }
        s.push('\n');
    }
    s.push_str("Limits measured in the same run:\n\n");
    s.push_str(&limits_table(r));
    if let Some(d) = &r.disk {
        s.push_str("\nWhere the bytes go (bytes per event, from SQLite `dbstat`):\n\n| object | bytes/event |\n|---|---|\n");
        for (n, b) in &d.by_object {
            let _ = writeln!(s, "| {n} | {} |", num(*b));
        }
        s.push_str("\nMean stored column sizes (bytes):");
        for (n, b) in &d.columns {
            let _ = write!(s, " {n} {};", num(*b));
        }
        s.push('\n');
    }
    if let Some(v) = &r.verify {
        if let Some(b) = &v.bundle {
            let _ = writeln!(
                s,
                "\nBundle verification: a sealtrail-bundle/v1 document of {} events in {} log sections ({} MB of JSON, built by the harness; no openings, the bench has no subject keys) read and verified by `bundle::verify::verify_bytes`, what `sealtrail verify` runs: {} s.",
                num(b.events as f64),
                num(b.logs as f64),
                num(b.bytes as f64 / 1e6),
                num(b.secs)
            );
        }
        let _ = writeln!(
            s,
            "\nVerification floor: {}; {} events, mean entry {} B: checkpoint + leaves + root {} s, inclusion proofs {} s ({} node hashes).",
            v.method,
            num(v.events as f64),
            num(v.mean_entry_bytes),
            num(v.leaves_root_secs),
            num(v.proofs_secs),
            num(v.node_hashes as f64)
        );
    }
    if let Some(m) = &r.mix {
        let _ = writeln!(
            s,
            "\nThe mix as generated ({} events sampled): mean {} B per event as sent (p5 {} B, p95 {} B), {} distinct actor ids, {}% with personal fields, {}% failures. Organizations: {}. Types:\n",
            num(m.events as f64),
            num(m.mean_bytes),
            m.p5_bytes,
            m.p95_bytes,
            m.actors,
            num(m.personal_pct),
            num(m.failure_pct),
            m.orgs
                .iter()
                .map(|(o, p)| format!("{o} {}%", num(*p)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        s.push_str(
            &m.types
                .iter()
                .map(|(t, p)| format!("`{t}` {}%", num(*p)))
                .collect::<Vec<_>>()
                .join(" · "),
        );
        s.push('\n');
    }
    if let Some(c) = chart {
        let _ = writeln!(s, "\n![Sealtrail figures beside their limits]({c})");
    }
    let _ = writeln!(s, "{END}");
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The chart: for each row with a limit, a bar for Sealtrail and one for
/// its limit, scaled to the larger of the two (and of the target, drawn as
/// a red tick), so rows of different units share one picture.
pub fn svg(rows: &[Row], title: &str) -> String {
    let drawn: Vec<&Row> = rows
        .iter()
        .filter(|r| r.value.is_some() && (r.limit_value.is_some() || r.target_value.is_some()))
        .collect();
    let (w, label_w, bar_x, bar_w, row_h, top) = (1100.0, 470.0, 480.0, 380.0, 40.0, 60.0);
    let h = top + row_h * drawn.len() as f64 + 40.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="10" y="22" font-size="15" font-weight="bold">{}</text>"#,
        esc(title)
    );
    let _ = writeln!(
        s,
        r##"<rect x="10" y="34" width="12" height="10" fill="#2b6cb0"/><text x="26" y="43">Sealtrail</text><rect x="100" y="34" width="12" height="10" fill="#a0aec0"/><text x="116" y="43">limit measured in the same run</text><line x1="330" y1="33" x2="330" y2="45" stroke="#e53e3e" stroke-width="2"/><text x="336" y="43">SPEC target (bars scaled per row)</text>"##
    );
    for (i, r) in drawn.iter().enumerate() {
        let y = top + row_h * i as f64;
        let v = r.value.unwrap_or(0.0);
        let l = r.limit_value.unwrap_or(0.0);
        let t = r.target_value.unwrap_or(0.0);
        let max = v.max(l).max(t).max(f64::MIN_POSITIVE);
        let len = |x: f64| (x / max * bar_w).max(1.0);
        let mut label = r.measure.clone();
        if label.chars().count() > 75 {
            label = label.chars().take(74).collect::<String>() + "…";
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            label_w,
            y + 17.0,
            esc(&label)
        );
        let _ = writeln!(
            s,
            r##"<rect x="{bar_x}" y="{}" width="{:.1}" height="12" fill="#2b6cb0"/>"##,
            y + 4.0,
            len(v)
        );
        if r.limit_value.is_some() {
            let _ = writeln!(
                s,
                r##"<rect x="{bar_x}" y="{}" width="{:.1}" height="12" fill="#a0aec0"/>"##,
                y + 18.0,
                len(l)
            );
        }
        if r.target_value.is_some() {
            let x = bar_x + len(t);
            let _ = writeln!(
                s,
                r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="#e53e3e" stroke-width="2"/>"##,
                y + 1.0,
                y + 33.0
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}">{}</text>"#,
            bar_x + bar_w + 12.0,
            y + 15.0,
            esc(&r.sealtrail)
        );
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" fill="#4a5568">{} · {}</text>"##,
            bar_x + bar_w + 12.0,
            y + 29.0,
            esc(&r.limit),
            esc(&r.ratio)
        );
    }
    let _ = writeln!(s, "</svg>");
    s
}

/// Replaces the generated block of a Markdown document, or appends one.
pub fn splice(doc: &str, block: &str) -> String {
    match (doc.find(START), doc.find(END)) {
        (Some(a), Some(b)) if b > a => {
            let mut out = String::with_capacity(doc.len() + block.len());
            out.push_str(&doc[..a]);
            out.push_str(block.trim_end_matches('\n'));
            out.push_str(&doc[b + END.len()..]);
            if !out.ends_with('\n') {
                out.push('\n');
            }
            out
        }
        _ => {
            let mut out = doc.to_string();
            if !out.is_empty() && !out.ends_with("\n\n") {
                out.push('\n');
            }
            out.push_str(block);
            out
        }
    }
}

/// Prints the table and writes the output files.
pub fn write(args: &BenchArgs, r: &Results) -> anyhow::Result<()> {
    let rows = rows(r);
    println!("\nSealtrail benchmark — {}", machine_line(r));
    if let Some(n) = &args.note {
        println!("{n}");
    }
    println!("\n{}", table(&rows));
    println!("Limits measured in the same run:\n\n{}", limits_table(r));
    let out = &args.out;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    if out.extension().is_some_and(|e| e == "json") {
        let v = serde_json::json!({ "results": r, "rows": rows });
        std::fs::write(out, serde_json::to_vec_pretty(&v)?)?;
        eprintln!("[bench] wrote {}", out.display());
        return Ok(());
    }
    let chart_path = out.with_file_name("benchmarks.svg");
    let title = format!(
        "Sealtrail benchmark{}{} — {}",
        if args.quick {
            " (--quick: meaningless sizes)"
        } else {
            ""
        },
        if args.note.is_some() {
            " (see the note in the results)"
        } else {
            ""
        },
        r.machine
            .as_ref()
            .map(|m| format!("{}, {} cores, {}", m.cpu, m.cores, m.date))
            .unwrap_or_default()
    );
    std::fs::write(&chart_path, svg(&rows, &title))?;
    let doc = std::fs::read_to_string(out).unwrap_or_default();
    let chart_name = chart_path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    std::fs::write(out, splice(&doc, &block(args, r, &rows, Some(&chart_name))))?;
    write_json_beside(out, r, &rows)?;
    eprintln!(
        "[bench] wrote {} and {}",
        out.display(),
        chart_path.display()
    );
    Ok(())
}

fn write_json_beside(out: &Path, r: &Results, rows: &[Row]) -> anyhow::Result<()> {
    let v = serde_json::json!({ "results": r, "rows": rows });
    std::fs::write(
        out.with_file_name("benchmarks.json"),
        serde_json::to_vec_pretty(&v)?,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_only_the_block() {
        let doc = format!("# T\n\nbefore\n\n{START}\nold\n{END}\n\nafter\n");
        let out = splice(&doc, &format!("{START}\nnew\n{END}\n"));
        assert_eq!(
            out,
            format!("# T\n\nbefore\n\n{START}\nnew\n{END}\n\nafter\n")
        );
        let fresh = splice("", &format!("{START}\nx\n{END}\n"));
        assert!(fresh.starts_with(START));
    }

    #[test]
    fn numbers_are_readable() {
        assert_eq!(num(123_456.7), "123,457");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(0.01234), "0.012");
    }
}
