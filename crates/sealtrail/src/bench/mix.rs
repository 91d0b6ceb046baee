//! The benchmark mix: a deterministic generator of valid events shaped like
//! the activity of an AI platform.
//!
//! Figures are only comparable between runs when the data is the same, so
//! every event is a pure function of its index: the same `--events` gives
//! the same bytes on every machine. The shares below are an assumption
//! about a busy AI platform (agent and resource traffic dominate, admin
//! changes are rare), not a measurement of one; `docs/BENCHMARKS.md`
//! prints the shares the generator actually produced in the run.
//!
//! Three organizations in two trees: `org_bench_acme` (parent) with its
//! child `org_bench_acme_api`, and `org_bench_globex`. A request comes from
//! one source (an ingest key of one tree), as it does in production, so
//! each batch belongs to one tree; inside the Acme tree events are split
//! between the parent and the child.

use serde_json::{Map, Value, json};

/// Organizations: (id, display name, parent index).
pub const ORGS: [(&str, &str, Option<usize>); 3] = [
    ("org_bench_acme", "Acme (bench)", None),
    ("org_bench_acme_api", "Acme API platform (bench)", Some(0)),
    ("org_bench_globex", "Globex (bench)", None),
];

/// Actors per organization (200 in all).
pub const ACTORS: [u64; 3] = [110, 55, 35];

/// Ingest sources: (root organization index, product). One key each.
pub const SOURCES: [(usize, &str); 2] = [(0, "platform"), (2, "platform")];

/// Share of batches per source, per mille.
const SOURCE_WEIGHTS: [u64; 2] = [720, 280];

/// Inside the Acme tree: share of events for the parent, per mille (the
/// rest go to the child).
const ACME_PARENT_SHARE: u64 = 600;

/// Source clock of event 0: 2026-11-01T00:00:00Z.
pub const BASE_MS: i64 = 1_793_491_200_000;

/// Mean spacing of `created_at` between consecutive events (ms), so 1M
/// events span about 14 hours and 10M about 6 days.
pub const SPACING_MS: i64 = 50;

/// Activity types and their share, per 100,000 events.
pub const TYPES: &[(&str, u64)] = &[
    ("tool.invoked", 26_000),
    ("data.accessed", 11_000),
    ("file.downloaded", 9_000),
    ("user.login", 8_000),
    ("file.created", 6_000),
    ("mcp_server.connected", 6_000),
    ("user.logout", 3_000),
    ("file.deleted", 2_000),
    ("user.login_failed", 1_500),
    ("project.created", 1_500),
    ("skill.updated", 1_500),
    ("account.settings_updated", 1_200),
    ("skill.created", 1_000),
    ("api_key.created", 1_000),
    ("api_key.deleted", 800),
    ("workspace.updated", 800),
    ("member.invited", 600),
    ("member.added", 600),
    ("member.role_changed", 600),
    ("permission.granted", 600),
    ("session.revoked", 600),
    ("api_key.rotated", 500),
    ("api_key.updated", 500),
    ("mcp_server.added", 500),
    ("project.deleted", 500),
    ("organization.settings_updated", 400),
    ("permission.revoked", 400),
    ("scim.user_created", 400),
    ("member.removed", 300),
    ("workspace.created", 300),
    ("mcp_server.removed", 300),
    ("skill.deleted", 300),
    ("scim.user_deleted", 200),
    ("sso.configured", 100),
    ("ip_allowlist.updated", 100),
    ("admin_key.created", 100),
    ("admin_key.deleted", 100),
    ("workspace.archived", 100),
];

const FIRST: [&str; 16] = [
    "ada", "grace", "alan", "barbara", "edsger", "frances", "ken", "margaret", "dennis", "radia",
    "john", "hedy", "donald", "leslie", "tim", "sophie",
];
const LAST: [&str; 12] = [
    "lovelace", "hopper", "turing", "liskov", "dijkstra", "allen", "thompson", "hamilton",
    "ritchie", "perlman", "backus", "lamarr",
];
const TOOLS: [&str; 8] = [
    "search_docs",
    "run_query",
    "create_ticket",
    "read_calendar",
    "send_message",
    "list_files",
    "fetch_url",
    "summarize_table",
];
const SERVERS: [&str; 5] = ["github", "jira", "gdrive", "slack", "postgres"];
const AGENTS: [&str; 5] = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "platform-sdk-python/1.42.0 CPython/3.12.7 Linux/6.8",
    "platform-sdk-typescript/0.39.1 node/22.11.0",
];

/// A small, fast, deterministic generator (SplitMix64): the mix must not
/// depend on a library's algorithm changing between versions.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for one index of one stream.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        self.next_u64() % n
    }

    /// A skewed pick in `0..n`: low indexes are much more frequent, as a
    /// few people and keys produce most of the activity.
    pub fn skewed(&mut self, n: u64) -> u64 {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((u * u * n as f64) as u64).min(n.saturating_sub(1))
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// Which tree (source index into [`SOURCES`]) batch `b` belongs to.
pub fn batch_source(b: u64) -> usize {
    let mut r = Rng::new(b.wrapping_mul(0xA076_1D64_78BD_642F) ^ 0x5eed);
    if r.below(1000) < SOURCE_WEIGHTS[0] {
        0
    } else {
        1
    }
}

/// The organization index of event `i` sent by `source`.
fn org_of(r: &mut Rng, source: usize) -> usize {
    match SOURCES[source].0 {
        0 => {
            if r.below(1000) < ACME_PARENT_SHARE {
                0
            } else {
                1
            }
        }
        other => other,
    }
}

fn short(org: usize) -> &'static str {
    ["acme", "acmeapi", "globex"][org.min(2)]
}

/// The id of actor `n` of organization `org`.
pub fn actor_id(org: usize, n: u64) -> String {
    format!("user_{}_{n:03}", short(org))
}

/// The email of actor `n` of organization `org` (personal data).
pub fn actor_email(org: usize, n: u64) -> String {
    let f = FIRST[(n as usize) % FIRST.len()];
    let l = LAST[(n as usize / FIRST.len()) % LAST.len()];
    format!("{f}.{l}{n}@{}.example", short(org))
}

fn actor_name(n: u64) -> String {
    let f = FIRST[(n as usize) % FIRST.len()];
    let l = LAST[(n as usize / FIRST.len()) % LAST.len()];
    format!("{} {}", capitalize(f), capitalize(l))
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn pick_type(r: &mut Rng) -> &'static str {
    let total: u64 = TYPES.iter().map(|(_, w)| w).sum();
    let mut x = r.below(total);
    for (t, w) in TYPES {
        if x < *w {
            return t;
        }
        x -= w;
    }
    TYPES[0].0
}

/// `created_at` of event `i` in milliseconds: increasing on average with
/// some jitter, as several sources' clocks interleave.
pub fn created_ms(i: u64, r: &mut Rng) -> i64 {
    BASE_MS + i as i64 * SPACING_MS + r.below(2_000) as i64 - 1_000
}

/// A ULID-like source event id: time-ordered prefix, random suffix, as
/// modern sources generate them.
fn source_event_id(ms: i64, r: &mut Rng) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut out = String::with_capacity(26);
    let t = ms as u64;
    for k in (0..10).rev() {
        out.push(ALPHABET[((t >> (k * 5)) & 31) as usize] as char);
    }
    let mut rnd = r.next_u64();
    let mut rnd2 = r.next_u64();
    for k in 0..16 {
        let v = if k < 12 { &mut rnd } else { &mut rnd2 };
        out.push(ALPHABET[(*v & 31) as usize] as char);
        *v >>= 5;
    }
    out
}

fn ip(r: &mut Rng, n: u64) -> String {
    // A handful of addresses per actor, from the documentation ranges.
    let nets = ["192.0.2", "198.51.100", "203.0.113"];
    format!(
        "{}.{}",
        nets[(n % 3) as usize],
        (n * 7 + r.below(3)) % 254 + 1
    )
}

/// Event `i` of a batch from `source`, as a JSON value. Every event is
/// valid for the built-in catalog.
pub fn event(i: u64, source: usize) -> Value {
    let mut r = Rng::new(i);
    let org = org_of(&mut r, source);
    let ty = pick_type(&mut r);
    let ms = created_ms(i, &mut r);
    let n = r.skewed(ACTORS[org]);
    let mut actor = Map::new();
    let kind = match ty {
        "user.login_failed" => "unauthenticated",
        "user.login" | "user.logout" | "account.settings_updated" => "user",
        "tool.invoked" | "data.accessed" | "mcp_server.connected" => {
            if r.below(100) < 55 {
                "agent"
            } else {
                "user"
            }
        }
        _ => match r.below(100) {
            0..=74 => "user",
            75..=89 => "api_key",
            _ => "service_account",
        },
    };
    actor.insert("type".into(), json!(kind));
    match kind {
        "unauthenticated" => {
            actor.insert("ip_address".into(), json!(ip(&mut r, n)));
            actor.insert("user_agent".into(), json!(r.pick(&AGENTS)));
        }
        "agent" => {
            actor.insert(
                "id".into(),
                json!(format!("agent_{}_{:02}", short(org), n % 20)),
            );
            actor.insert("on_behalf_of".into(), json!(actor_id(org, n)));
            actor.insert(
                "api_key_id".into(),
                json!(format!("key_{}_{:02}", short(org), n % 12)),
            );
        }
        "api_key" => {
            actor.insert(
                "id".into(),
                json!(format!("key_{}_{:02}", short(org), n % 12)),
            );
            actor.insert(
                "api_key_id".into(),
                json!(format!("key_{}_{:02}", short(org), n % 12)),
            );
            actor.insert("ip_address".into(), json!(ip(&mut r, n)));
            actor.insert("user_agent".into(), json!(AGENTS[3 + (n % 2) as usize]));
        }
        "service_account" => {
            actor.insert(
                "id".into(),
                json!(format!("svc_{}_{:02}", short(org), n % 6)),
            );
        }
        _ => {
            actor.insert("id".into(), json!(actor_id(org, n)));
            actor.insert("email".into(), json!(actor_email(org, n)));
            if r.below(100) < 30 {
                actor.insert("name".into(), json!(actor_name(n)));
            }
            actor.insert("ip_address".into(), json!(ip(&mut r, n)));
            actor.insert("user_agent".into(), json!(r.pick(&AGENTS)));
        }
    }
    let mut metadata = Map::new();
    metadata.insert(
        "request_id".into(),
        json!(format!("req_{:016x}", r.next_u64())),
    );
    let noun = ty.split('.').next().unwrap_or("object");
    let target = match ty {
        "tool.invoked" => {
            let server = r.pick(&SERVERS);
            metadata.insert("tool_name".into(), json!(r.pick(&TOOLS)));
            metadata.insert("server".into(), json!(server));
            metadata.insert("duration_ms".into(), json!(r.below(4_000)));
            Some(json!({"type": "mcp_server", "id": format!("mcp_{}_{server}", short(org))}))
        }
        "mcp_server.connected" | "mcp_server.added" | "mcp_server.removed" => {
            let server = r.pick(&SERVERS);
            metadata.insert("transport".into(), json!("streamable_http"));
            Some(
                json!({"type": "mcp_server", "id": format!("mcp_{}_{server}", short(org)), "name": server}),
            )
        }
        "data.accessed" => {
            metadata.insert("resource_kind".into(), json!("document"));
            metadata.insert("bytes".into(), json!(r.below(2_000_000)));
            Some(json!({"type": "document", "id": format!("doc_{:010x}", r.below(1 << 36))}))
        }
        t if t.starts_with("file.") => {
            metadata.insert("size_bytes".into(), json!(r.below(50_000_000)));
            metadata.insert("mime_type".into(), json!("application/pdf"));
            Some(
                json!({"type": "file", "id": format!("file_{:012x}", r.below(1 << 44)), "name": format!("report-{}.pdf", r.below(10_000))}),
            )
        }
        t if t.starts_with("member.") || t.starts_with("scim.") => {
            let m = r.below(ACTORS[org]);
            if t.starts_with("scim.") {
                metadata.insert("user_name".into(), json!(actor_email(org, m)));
                metadata.insert("display_name".into(), json!(actor_name(m)));
            }
            metadata.insert("email".into(), json!(actor_email(org, m)));
            Some(json!({"type": "user", "id": actor_id(org, m)}))
        }
        "session.revoked" | "user.login" | "user.logout" => {
            metadata.insert(
                "auth_method".into(),
                json!(["sso", "password", "magic_link"][r.below(3) as usize]),
            );
            (ty == "session.revoked")
                .then(|| json!({"type": "session", "id": format!("sess_{:016x}", r.next_u64())}))
        }
        "user.login_failed" => {
            metadata.insert("username".into(), json!(actor_email(org, n)));
            None
        }
        "permission.granted" | "permission.revoked" => {
            metadata.insert(
                "permission".into(),
                json!(["files:read", "files:write", "admin", "billing"][r.below(4) as usize]),
            );
            Some(json!({"type": "user", "id": actor_id(org, r.below(ACTORS[org]))}))
        }
        "organization.settings_updated" | "sso.configured" | "ip_allowlist.updated" => None,
        "account.settings_updated" => None,
        _ => Some(
            json!({"type": noun, "id": format!("{noun}_{:010x}", r.below(1 << 36)), "name": format!("{noun}-{}", r.below(1_000))}),
        ),
    };
    if ty.starts_with("api_key.") {
        metadata.insert("scopes".into(), json!(["files:read", "messages:write"]));
    }
    let mut e = Map::new();
    e.insert("source_event_id".into(), json!(source_event_id(ms, &mut r)));
    e.insert("type".into(), json!(ty));
    e.insert("created_at".into(), json!(crate::time::fmt_ms(ms)));
    e.insert("organization_id".into(), json!(ORGS[org].0));
    if r.below(100) < 60 {
        e.insert(
            "workspace_id".into(),
            json!(format!("wrk_{}_{}", short(org), r.below(8))),
        );
    }
    e.insert("actor".into(), Value::Object(actor));
    if let Some(t) = target {
        e.insert("target".into(), t);
    }
    let failed = ty == "user.login_failed" || r.below(100) < 3;
    if failed {
        e.insert("outcome".into(), json!("failure"));
        e.insert(
            "reason".into(),
            json!(if ty == "user.login_failed" {
                "invalid credentials"
            } else {
                "permission denied"
            }),
        );
    }
    match ty {
        "member.role_changed" => {
            e.insert(
                "changes".into(),
                json!([{"field": "role", "old": "member", "new": "admin"}]),
            );
        }
        "account.settings_updated" | "organization.settings_updated" | "workspace.updated" => {
            e.insert(
                "changes".into(),
                json!([{"field": "data_retention_days", "old": 30, "new": 90}]),
            );
        }
        _ => {}
    }
    e.insert("metadata".into(), Value::Object(metadata));
    Value::Object(e)
}

/// The JSON array body of the `n` events starting at event `first`, sent
/// in requests of `size` events, and the source it must be sent with (a
/// request comes from one source).
pub fn batch_body_from(first: u64, n: u64, size: u64) -> (usize, Vec<u8>) {
    let source = batch_source(first / size.max(1));
    (source, body_for(first, n, source, None))
}

/// The JSON array body of events `first..first+n` from `source`, with one
/// extra metadata entry in each (the stream benchmark's send time).
pub fn body_for(first: u64, n: u64, source: usize, extra: Option<(&str, Value)>) -> Vec<u8> {
    let mut out = Vec::with_capacity(n as usize * 600 + 2);
    out.push(b'[');
    for k in 0..n {
        if k > 0 {
            out.push(b',');
        }
        let mut v = event(first + k, source);
        if let Some((key, val)) = &extra
            && let Some(md) = v.get_mut("metadata").and_then(Value::as_object_mut)
        {
            md.insert((*key).to_string(), val.clone());
        }
        // Writing a Value into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, &v);
    }
    out.push(b']');
    out
}

/// What the generator produced over a sample: share of each type and size
/// statistics, for the documentation of the mix.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct MixStats {
    /// Events sampled.
    pub events: u64,
    /// (type, share in percent), most frequent first.
    pub types: Vec<(String, f64)>,
    /// Share per organization, percent.
    pub orgs: Vec<(String, f64)>,
    /// Distinct actor ids seen.
    pub actors: usize,
    /// Mean event size in bytes (JSON as sent).
    pub mean_bytes: f64,
    /// 5th and 95th percentile sizes.
    pub p5_bytes: usize,
    /// 95th percentile size.
    pub p95_bytes: usize,
    /// Share of events carrying at least one personal field, percent.
    pub personal_pct: f64,
    /// Share of failures, percent.
    pub failure_pct: f64,
}

/// Samples the mix the way the harness sends it.
pub fn stats(events: u64) -> MixStats {
    use std::collections::{BTreeMap, BTreeSet};
    let mut types: BTreeMap<String, u64> = BTreeMap::new();
    let mut orgs: BTreeMap<String, u64> = BTreeMap::new();
    let mut actors = BTreeSet::new();
    let mut sizes = Vec::with_capacity(events as usize);
    let (mut personal, mut failures) = (0u64, 0u64);
    for i in 0..events {
        let v = event(i, batch_source(i / 1000));
        let s = serde_json::to_string(&v).unwrap_or_default();
        sizes.push(s.len());
        *types
            .entry(v["type"].as_str().unwrap_or("").to_string())
            .or_default() += 1;
        *orgs
            .entry(v["organization_id"].as_str().unwrap_or("").to_string())
            .or_default() += 1;
        if let Some(id) = v["actor"]["id"].as_str() {
            actors.insert(id.to_string());
        }
        let a = &v["actor"];
        if !a["email"].is_null()
            || !a["ip_address"].is_null()
            || !a["user_agent"].is_null()
            || !v["metadata"]["email"].is_null()
            || !v["metadata"]["username"].is_null()
        {
            personal += 1;
        }
        if v["outcome"] == "failure" {
            failures += 1;
        }
    }
    sizes.sort_unstable();
    let pct = |n: u64| 100.0 * n as f64 / events.max(1) as f64;
    let mut types: Vec<(String, f64)> = types.into_iter().map(|(k, n)| (k, pct(n))).collect();
    types.sort_by(|a, b| b.1.total_cmp(&a.1));
    let q = |p: f64| {
        sizes
            .get(((sizes.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(0)
    };
    MixStats {
        events,
        types,
        orgs: orgs.into_iter().map(|(k, n)| (k, pct(n))).collect(),
        actors: actors.len(),
        mean_bytes: sizes.iter().sum::<usize>() as f64 / sizes.len().max(1) as f64,
        p5_bytes: q(0.05),
        p95_bytes: q(0.95),
        personal_pct: pct(personal),
        failure_pct: pct(failures),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealtrail_model::{Catalog, Limits, parse_activity};

    #[test]
    fn every_event_of_the_mix_is_valid() {
        let catalog = Catalog::builtin();
        let limits = Limits::default();
        for i in 0..20_000 {
            let v = event(i, batch_source(i / 1000));
            let len = serde_json::to_string(&v).unwrap().len();
            if let Err(e) = parse_activity(&v, len, &catalog, &limits) {
                panic!("event {i} ({}) refused: {e:?}", v["type"]);
            }
        }
    }

    #[test]
    fn the_mix_is_deterministic_and_sized_as_documented() {
        assert_eq!(event(42, 0), event(42, 0));
        let s = stats(20_000);
        assert!(s.mean_bytes > 300.0 && s.mean_bytes < 700.0, "{s:?}");
        assert!(s.actors > 150, "{s:?}");
        assert_eq!(s.orgs.len(), 3);
    }
}
