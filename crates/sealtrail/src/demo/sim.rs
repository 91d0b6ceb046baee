//! A simulated AI platform: the people, workspaces, API keys, files, skills,
//! projects and agents of one company, and the activity they produce, as the
//! JSON a source sends to `POST /v1/ingest/activities`.
//!
//! The demo uses it to fill a realistic dataset and keep it moving; load
//! generators can use it to get traffic with a realistic mix of types,
//! actors and sizes. It is deterministic for a seed: the same seed and time
//! range give the same events, so a dataset can be reproduced.
//!
//! Every event satisfies the catalog (a test passes a long stream through
//! the validation ingest uses), and none carries inference content: tool
//! calls are recorded by tool and server name, data access by reference.
//! Network addresses come from the documentation ranges (RFC 5737) and
//! domains from the reserved example domains (RFC 2606).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use serde_json::{Map, Value, json};

use super::rng::Rng;

/// The products the simulated platform reports as. Each needs its own ingest
/// key: `platform` for the API platform and organization-wide settings,
/// `enterprise` for the chat product, `cowork` for its agents.
pub const PRODUCTS: [&str; 3] = ["platform", "enterprise", "cowork"];

/// The organizations the simulated company uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimOrgs {
    /// The parent organization: company-wide settings (SSO, allowlists).
    pub parent: String,
    /// The enterprise (chat and agents) organization, linked under the parent.
    pub enterprise: String,
    /// The API platform organization, linked under the parent.
    pub api: String,
}

impl Default for SimOrgs {
    fn default() -> Self {
        SimOrgs {
            parent: "org_acme".into(),
            enterprise: "org_acme_enterprise".into(),
            api: "org_acme_api".into(),
        }
    }
}

impl SimOrgs {
    /// The three organization ids, parent first.
    pub fn all(&self) -> [&str; 3] {
        [&self.parent, &self.enterprise, &self.api]
    }

    /// The organizations a product writes to, so each product's ingest key
    /// can be issued for the smallest part of the tree it needs.
    pub fn key_org(&self, product: &str) -> &str {
        match product {
            "platform" => &self.parent,
            _ => &self.enterprise,
        }
    }
}

/// A suspicious pattern placed in the history, so detection rules have
/// something to find and a demo has a story to tell.
#[derive(Clone, Debug)]
pub struct Planted {
    /// Short name of the pattern, e.g. `failed_logins_then_success`.
    pub pattern: &'static str,
    /// One line for people.
    pub summary: String,
    /// When the pattern's last event happened (source clock, ms).
    pub at_ms: i64,
    /// The `source_event_id` of the event that completes the pattern.
    pub source_event_id: String,
}

/// Which of the company's organizations an event belongs to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Org {
    Parent,
    #[default]
    Enterprise,
    Api,
}

#[derive(Clone, Debug)]
struct Person {
    id: String,
    name: String,
    email: String,
    role: &'static str,
    enterprise: bool,
    api: bool,
    active: bool,
    ip: String,
    browser: &'static str,
}

impl Person {
    fn is_admin(&self) -> bool {
        matches!(self.role, "owner" | "admin")
    }
}

#[derive(Clone, Debug)]
struct Workspace {
    id: String,
    name: String,
    archived: bool,
}

#[derive(Clone, Debug)]
struct ApiKey {
    id: String,
    name: String,
    workspace: String,
    server_ip: String,
    client: &'static str,
}

#[derive(Clone, Debug)]
struct Named {
    id: String,
    name: String,
    org: Org,
}

#[derive(Clone, Debug)]
struct FileRef {
    id: String,
    name: String,
    org: Org,
    workspace: Option<String>,
    size: u64,
}

#[derive(Clone, Debug)]
struct McpServer {
    id: String,
    name: &'static str,
    url: String,
    tools: &'static [&'static str],
    added: bool,
}

/// First name, last name, email local part, role, member of enterprise,
/// member of the API platform, starts active.
type PersonRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    bool,
    bool,
);

const PEOPLE: &[PersonRow] = &[
    ("Maya", "Chen", "maya.chen", "owner", true, true, true),
    (
        "Daniel",
        "Okafor",
        "daniel.okafor",
        "admin",
        true,
        true,
        true,
    ),
    ("Priya", "Raman", "priya.raman", "admin", true, false, true),
    (
        "Lukas",
        "Becker",
        "lukas.becker",
        "developer",
        false,
        true,
        true,
    ),
    (
        "Sofia",
        "Alvarez",
        "sofia.alvarez",
        "developer",
        false,
        true,
        true,
    ),
    (
        "Kenji",
        "Watanabe",
        "kenji.watanabe",
        "developer",
        true,
        true,
        true,
    ),
    (
        "Amara",
        "Nwosu",
        "amara.nwosu",
        "developer",
        false,
        true,
        true,
    ),
    (
        "Tom",
        "Lindqvist",
        "tom.lindqvist",
        "developer",
        true,
        true,
        true,
    ),
    (
        "Hannah",
        "Schmidt",
        "hannah.schmidt",
        "member",
        true,
        false,
        true,
    ),
    ("Omar", "Haddad", "omar.haddad", "member", true, false, true),
    ("Grace", "Kim", "grace.kim", "member", true, false, true),
    ("Mateo", "Rossi", "mateo.rossi", "member", true, false, true),
    ("Aisha", "Patel", "aisha.patel", "member", true, false, true),
    ("Ben", "Carter", "ben.carter", "member", true, false, true),
    (
        "Chloé",
        "Dubois",
        "chloe.dubois",
        "member",
        true,
        false,
        true,
    ),
    ("Ivan", "Petrov", "ivan.petrov", "member", true, true, true),
    (
        "Fatima",
        "Zahra",
        "fatima.zahra",
        "member",
        true,
        false,
        true,
    ),
    (
        "Noah",
        "Williams",
        "noah.williams",
        "member",
        true,
        false,
        true,
    ),
    (
        "Elena",
        "Popescu",
        "elena.popescu",
        "member",
        true,
        false,
        true,
    ),
    (
        "Samuel",
        "Mensah",
        "samuel.mensah",
        "developer",
        true,
        true,
        true,
    ),
    ("Yuki", "Sato", "yuki.sato", "member", true, false, true),
    (
        "Lars",
        "Nielsen",
        "lars.nielsen",
        "developer",
        false,
        true,
        true,
    ),
    ("Zoe", "Martin", "zoe.martin", "member", true, false, false),
    (
        "Rahul",
        "Mehta",
        "rahul.mehta",
        "developer",
        false,
        true,
        false,
    ),
    (
        "Olivia",
        "Brown",
        "olivia.brown",
        "member",
        true,
        false,
        false,
    ),
];

/// Indexes into [`PEOPLE`] of the people in the planted stories.
const ADMIN: usize = 1;
const IT_ADMIN: usize = 2;
const DEVELOPER_TOM: usize = 7;
const FINANCE_OMAR: usize = 9;
const DEPARTING_NOAH: usize = 17;
const CONTRACTOR_LARS: usize = 21;
const SUPPORT_AISHA: usize = 12;
const HIRES: [usize; 3] = [22, 23, 24];

const BROWSERS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
];
const DESKTOP_APP: &str = "AcmeAI-Desktop/1.8.3 (Macintosh; macOS 15.2) Electron/33.2.0";
const MOBILE_APP: &str = "AcmeAI/1.8.3 (iPhone; iOS 18.2; Scale/3.00)";
const AGENT_RUNTIME: &str = "AcmeCowork/2.1.0 (agent-runtime; linux x86_64)";
const SCRIPTED_CLIENT: &str = "python-requests/2.32.3";
const SDK_CLIENTS: &[&str] = &[
    "acme-ai-python/0.42.0 httpx/0.28.1",
    "acme-ai-typescript/0.33.1 node/22.11.0",
    "acme-ai-go/0.9.2 Go-http-client/2.0",
    "curl/8.11.1",
];

const FILE_TOPICS: &[&str] = &[
    "board-deck",
    "q3-forecast",
    "vendor-contract",
    "customer-list",
    "pricing-model",
    "soc2-evidence",
    "security-review",
    "hiring-plan",
    "product-roadmap",
    "incident-postmortem",
    "brand-guidelines",
    "sales-playbook",
    "legal-memo",
    "budget",
    "payroll-summary",
    "churn-analysis",
    "partner-agreement",
    "architecture-overview",
];
const FILE_VERSIONS: &[&str] = &["2026-q1", "2026-q2", "2026-q3", "v2", "final", "draft"];
const FILE_TYPES: &[(&str, &str)] = &[
    ("pdf", "application/pdf"),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("csv", "text/csv"),
    (
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
];
const API_FILE_STEMS: &[&str] = &[
    "eval-set",
    "support-transcripts-redacted",
    "invoice-scan",
    "fine-tune-batch",
    "product-catalog",
    "kb-export",
];

const SKILLS: &[&str] = &[
    "pdf-redaction",
    "invoice-extraction",
    "brand-voice",
    "contract-review-checklist",
    "sql-helper",
    "log-triage",
    "meeting-notes-format",
    "expense-policy",
    "release-notes",
    "okr-tracker",
];
const PROJECTS: &[&str] = &[
    "Q4 Planning",
    "Vendor Due Diligence",
    "Incident Postmortems",
    "Product Launch Atlas",
    "Customer Research",
    "Pricing Refresh",
    "SOC 2 Readiness",
    "Hiring Pipeline",
    "EMEA Expansion",
];
const WORKSPACES: &[&str] = &["Default", "Production", "Research", "Staging"];
const NEW_WORKSPACES: &[&str] = &[
    "Evals",
    "Partner Sandbox",
    "Support Automation",
    "Data Science",
];
const KEY_NAMES: &[&str] = &[
    "prod-backend",
    "ci-deploy",
    "data-pipeline",
    "support-bot",
    "eval-harness",
    "analytics-etl",
];
const NEW_KEY_NAMES: &[&str] = &[
    "batch-jobs",
    "staging-web",
    "notebook",
    "webhook-relay",
    "search-indexer",
    "qa-automation",
];
const PERMISSIONS: &[&str] = &[
    "workspace:read",
    "workspace:write",
    "files:read",
    "files:write",
    "api_keys:manage",
    "billing:read",
];

/// MCP servers the company may connect: name, tools.
const MCP_CATALOG: &[(&str, &[&str])] = &[
    (
        "github",
        &[
            "search_code",
            "get_pull_request",
            "list_commits",
            "create_issue",
        ],
    ),
    (
        "google-drive",
        &["search_files", "get_file_metadata", "list_folder"],
    ),
    ("linear", &["list_issues", "create_issue", "update_issue"]),
    (
        "slack",
        &["search_channels", "list_threads", "post_message"],
    ),
    ("jira", &["search_issues", "get_issue", "transition_issue"]),
    ("sentry", &["list_issues", "get_event"]),
    ("notion", &["search_pages", "get_page"]),
    (
        "postgres-analytics",
        &["list_tables", "describe_table", "run_query"],
    ),
];
/// How many servers of [`MCP_CATALOG`] are connected before recording starts.
const MCP_INITIAL: usize = 4;
const PASTE_TOOLS: &[&str] = &["upload_snippet", "list_snippets"];

/// How often each kind of administrator change happens, in the order of
/// the arms of `Simulator::admin_change_of`.
const ADMIN_CHANGE_WEIGHTS: [u32; 14] = [5, 3, 1, 4, 3, 2, 2, 2, 3, 2, 2, 2, 1, 1];

/// Minutes and hours in milliseconds, for readable offsets.
const SEC: i64 = 1_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

/// What an episode is: a slice of the company's life that produces one or
/// more related events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Episode {
    /// Chosen at random when it happens.
    Ordinary,
    /// An administrator's change of the given kind (see `admin_change`),
    /// scheduled so that even rare changes appear in every history.
    Admin(u64),
    /// A person joins (invite, SCIM provisioning, first login).
    Hire(usize),
    /// Planted: a burst of failed logins, then a success.
    BruteForce,
    /// Planted: an API key created and deleted within minutes.
    ShortLivedKey,
    /// Planted: a contractor is promoted to admin at night, then mints an admin key.
    Escalation,
    /// Planted: a departing employee downloads many files, then leaves.
    MassDownload,
    /// Planted: an unknown MCP server is added and used.
    RogueMcp,
}

/// The simulated company and its platform.
#[derive(Clone, Debug)]
pub struct Simulator {
    rng: Rng,
    seed: u64,
    orgs: SimOrgs,
    counter: u64,
    people: Vec<Person>,
    sessions: Vec<Option<String>>,
    workspaces: Vec<Workspace>,
    api_keys: Vec<ApiKey>,
    admin_keys: Vec<Named>,
    files: Vec<FileRef>,
    skills: Vec<Named>,
    projects: Vec<Named>,
    mcp: Vec<McpServer>,
    allowlist: Vec<String>,
    planted: Vec<Planted>,
    out: Vec<Value>,
}

impl Simulator {
    /// A company in the state it was in before recording began, fixed by `seed`.
    pub fn new(seed: u64, orgs: SimOrgs) -> Simulator {
        let mut rng = Rng::new(seed);
        let people: Vec<Person> = PEOPLE
            .iter()
            .map(|&(first, last, local, role, enterprise, api, active)| {
                let domain = if local == "lars.nielsen" {
                    "contractor.example.net"
                } else {
                    "acme.example.com"
                };
                let ip = if rng.chance(0.6) {
                    format!("198.51.100.{}", rng.between(10, 21))
                } else {
                    format!("192.0.2.{}", rng.between(20, 250))
                };
                Person {
                    id: format!("user_{}", rng.token(12)),
                    name: format!("{first} {last}"),
                    email: format!("{local}@{domain}"),
                    role,
                    enterprise,
                    api,
                    active,
                    ip,
                    browser: rng.pick(BROWSERS),
                }
            })
            .collect();
        let workspaces: Vec<Workspace> = WORKSPACES
            .iter()
            .map(|n| Workspace {
                id: format!("wrk_{}", rng.token(10)),
                name: (*n).to_string(),
                archived: false,
            })
            .collect();
        let mut sim = Simulator {
            sessions: vec![None; people.len()],
            people,
            workspaces,
            rng,
            seed,
            orgs,
            counter: 0,
            api_keys: Vec::new(),
            admin_keys: Vec::new(),
            files: Vec::new(),
            skills: Vec::new(),
            projects: Vec::new(),
            mcp: Vec::new(),
            allowlist: vec!["198.51.100.0/27".into(), "192.0.2.0/24".into()],
            planted: Vec::new(),
            out: Vec::new(),
        };
        for name in KEY_NAMES {
            let k = sim.new_api_key(name);
            sim.api_keys.push(k);
        }
        let admin_key = Named {
            id: format!("admkey_{}", sim.rng.token(10)),
            name: "terraform".into(),
            org: Org::Api,
        };
        sim.admin_keys.push(admin_key);
        for _ in 0..70 {
            let f = sim.new_file(Org::Enterprise);
            sim.files.push(f);
        }
        for _ in 0..30 {
            let f = sim.new_file(Org::Api);
            sim.files.push(f);
        }
        for (i, name) in SKILLS.iter().take(5).enumerate() {
            let org = if i % 3 == 2 {
                Org::Api
            } else {
                Org::Enterprise
            };
            let s = Named {
                id: format!("skill_{}", sim.rng.token(10)),
                name: (*name).to_string(),
                org,
            };
            sim.skills.push(s);
        }
        for name in PROJECTS.iter().take(5) {
            let p = Named {
                id: format!("proj_{}", sim.rng.token(10)),
                name: (*name).to_string(),
                org: Org::Enterprise,
            };
            sim.projects.push(p);
        }
        for (i, (name, tools)) in MCP_CATALOG.iter().enumerate() {
            let m = McpServer {
                id: format!("mcp_{}", sim.rng.token(10)),
                name,
                url: format!("https://mcp.{name}.example.com/sse"),
                tools,
                added: i < MCP_INITIAL,
            };
            sim.mcp.push(m);
        }
        sim
    }

    /// The organizations events are written for.
    pub fn orgs(&self) -> &SimOrgs {
        &self.orgs
    }

    /// The patterns planted so far.
    pub fn planted(&self) -> &[Planted] {
        &self.planted
    }

    /// Events spread over `[start_ms, end_ms)`, about `target` of them plus
    /// the planted patterns, in `created_at` order. Busy in working hours,
    /// quiet at night and at weekends, like a real company.
    pub fn history(&mut self, start_ms: i64, end_ms: i64, target: usize) -> Vec<Value> {
        if end_ms <= start_ms || target == 0 {
            return Vec::new();
        }
        // How many events an ordinary episode makes depends on the mix;
        // measure it on a copy so the number of episodes matches `target`.
        let per_episode = {
            let mut probe = self.clone();
            let n = 200;
            let mut events = 0usize;
            for i in 0..n {
                events += probe.episode(start_ms + i * MIN).len();
            }
            (events as f64 / n as f64).max(1.0)
        };
        let episodes = ((target as f64 / per_episode).round() as usize).max(1);
        let span = end_ms - start_ms;
        let mut plan: Vec<(i64, Episode)> = (0..episodes)
            .map(|_| (self.busy_time(start_ms, end_ms), Episode::Ordinary))
            .collect();
        let at = |fraction: f64, hour: i64, minute: i64| {
            let day = start_ms + (span as f64 * fraction) as i64;
            day - day.rem_euclid(DAY) + hour * HOUR + minute * MIN
        };
        let stories = [
            (at(0.15, 9, 30), Episode::Hire(HIRES[0])),
            (at(0.35, 3, 12), Episode::BruteForce),
            (at(0.45, 10, 5), Episode::Hire(HIRES[1])),
            (at(0.55, 14, 41), Episode::ShortLivedKey),
            (at(0.60, 9, 50), Episode::Hire(HIRES[2])),
            (at(0.70, 2, 14), Episode::Escalation),
            (at(0.80, 18, 7), Episode::MassDownload),
            (at(0.90, 16, 22), Episode::RogueMcp),
        ];
        // One of each kind of administrator change, on weekday-ish
        // mornings spread over the range, so rare types always appear.
        for kind in 0..ADMIN_CHANGE_WEIGHTS.len() as u64 {
            let fraction = 0.04 + 0.065 * kind as f64;
            plan.push((at(fraction, 11, 20), Episode::Admin(kind)));
        }
        plan.extend(
            stories
                .into_iter()
                .filter(|(t, _)| *t >= start_ms && *t < end_ms),
        );
        plan.sort_by_key(|(t, _)| *t);
        let mut events = Vec::with_capacity(target + target / 10);
        for (t, kind) in plan {
            let evs = self.run(kind, t);
            events.extend(evs.into_iter().filter(|e| created_ms(e) < end_ms));
        }
        events.sort_by_key(created_ms);
        events
    }

    /// The events of one ordinary episode starting at `at_ms`, in order.
    /// Later events of an episode happen seconds to an hour after it starts.
    pub fn episode(&mut self, at_ms: i64) -> Vec<Value> {
        self.run(Episode::Ordinary, at_ms)
    }

    /// An endless stream of events from `start_ms` on, about `per_second`
    /// of them per second. Read it either with [`EventStream::due`] and a
    /// wall clock (the live demo), or as an iterator whose source time
    /// advances only as it is consumed (load generators); not both.
    pub fn stream(self, start_ms: i64, per_second: f64) -> EventStream {
        let per_second = if per_second.is_finite() {
            per_second.max(0.001)
        } else {
            1.0
        };
        EventStream {
            sim: self,
            clock: start_ms,
            gap_ms: (1000.0 / per_second).max(1.0),
            per_second,
            started: start_ms,
            last_due: start_ms,
            released: 0,
            pending: BinaryHeap::new(),
            seq: 0,
        }
    }

    fn run(&mut self, kind: Episode, at: i64) -> Vec<Value> {
        match kind {
            Episode::Ordinary => self.ordinary(at),
            Episode::Admin(kind) => self.admin_change_of(kind, at),
            Episode::Hire(i) => self.hire(i, at),
            Episode::BruteForce => self.brute_force(at),
            Episode::ShortLivedKey => self.short_lived_key(at),
            Episode::Escalation => self.escalation(at),
            Episode::MassDownload => self.mass_download(at),
            Episode::RogueMcp => self.rogue_mcp(at),
        }
        std::mem::take(&mut self.out)
    }

    /// A time in the range, weighted towards working hours on weekdays.
    fn busy_time(&mut self, start: i64, end: i64) -> i64 {
        let mut t = self.rng.between(start, end);
        for _ in 0..64 {
            let hour = t.rem_euclid(DAY) / HOUR;
            // 1970-01-01 was a Thursday: day 0 is weekday 4 (Sunday = 0).
            let weekday = (t.div_euclid(DAY) + 4).rem_euclid(7);
            let mut w = match hour {
                8..=17 => 1.0,
                7 | 18..=20 => 0.35,
                _ => 0.06,
            };
            if weekday == 0 || weekday == 6 {
                w *= 0.2;
            }
            if self.rng.chance(w) {
                break;
            }
            t = self.rng.between(start, end);
        }
        t
    }

    fn ordinary(&mut self, at: i64) {
        let weights = [30, 25, 18, 12, 7, 4, 2];
        match self.rng.weighted(&weights) {
            0 => self.enterprise_session(at),
            1 => self.cowork_run(at),
            2 => self.api_traffic(at),
            3 => self.console_session(at),
            4 => {
                let kind = self.rng.weighted(&ADMIN_CHANGE_WEIGHTS) as u64;
                self.admin_change_of(kind, at);
            }
            5 => self.typo_login(at),
            _ => self.unknown_login(at),
        }
    }

    // ----- people and things -------------------------------------------------

    fn org_id(&self, org: Org) -> String {
        match org {
            Org::Parent => self.orgs.parent.clone(),
            Org::Enterprise => self.orgs.enterprise.clone(),
            Org::Api => self.orgs.api.clone(),
        }
    }

    fn active_people(&self, want: impl Fn(&Person) -> bool) -> Vec<usize> {
        self.people
            .iter()
            .enumerate()
            .filter(|(_, p)| p.active && want(p))
            .map(|(i, _)| i)
            .collect()
    }

    fn someone(&mut self, want: impl Fn(&Person) -> bool) -> usize {
        let ids = self.active_people(want);
        self.rng.pick(&ids)
    }

    fn person(&self, i: usize) -> Person {
        self.people.get(i).cloned().unwrap_or_else(|| Person {
            id: "user_unknown".into(),
            name: "Unknown".into(),
            email: "unknown@acme.example.com".into(),
            role: "member",
            enterprise: true,
            api: false,
            active: false,
            ip: "198.51.100.10".into(),
            browser: "",
        })
    }

    fn new_api_key(&mut self, name: &str) -> ApiKey {
        let ws = self
            .workspaces
            .iter()
            .filter(|w| !w.archived)
            .map(|w| w.id.clone())
            .collect::<Vec<_>>();
        let i = self.rng.index(ws.len());
        ApiKey {
            id: format!("key_{}", self.rng.token(12)),
            name: name.to_string(),
            workspace: ws.get(i).cloned().unwrap_or_default(),
            server_ip: format!("198.51.100.{}", self.rng.between(200, 241)),
            client: self.rng.pick(SDK_CLIENTS),
        }
    }

    fn new_file(&mut self, org: Org) -> FileRef {
        let (name, workspace) = if org == Org::Api {
            let stem = self.rng.pick(API_FILE_STEMS);
            let ext = self.rng.pick(&["jsonl", "pdf", "csv"]);
            let ws = self.pick_workspace().map(|w| w.id);
            (format!("{stem}-{:04}.{ext}", self.rng.below(10_000)), ws)
        } else {
            let topic = self.rng.pick(FILE_TOPICS);
            let version = self.rng.pick(FILE_VERSIONS);
            let (ext, _) = self.rng.pick(FILE_TYPES);
            (format!("{topic}-{version}.{ext}"), None)
        };
        FileRef {
            id: format!("file_{}", self.rng.token(14)),
            name,
            org,
            workspace,
            size: 4_096 + self.rng.below(24_000_000),
        }
    }

    fn pick_workspace(&mut self) -> Option<Workspace> {
        let live: Vec<usize> = (0..self.workspaces.len())
            .filter(|&i| self.workspaces.get(i).is_some_and(|w| !w.archived))
            .collect();
        let i = self.rng.pick(&live);
        self.workspaces.get(i).cloned()
    }

    fn pick_file(&mut self, org: Org) -> Option<FileRef> {
        let idx: Vec<usize> = (0..self.files.len())
            .filter(|&i| self.files.get(i).is_some_and(|f| f.org == org))
            .collect();
        if idx.is_empty() {
            return None;
        }
        let i = self.rng.pick(&idx);
        self.files.get(i).cloned()
    }

    fn remove_file(&mut self, id: &str) {
        self.files.retain(|f| f.id != id);
    }

    fn added_mcp(&mut self) -> Option<McpServer> {
        let idx: Vec<usize> = (0..self.mcp.len())
            .filter(|&i| self.mcp.get(i).is_some_and(|m| m.added))
            .collect();
        if idx.is_empty() {
            return None;
        }
        let i = self.rng.pick(&idx);
        self.mcp.get(i).cloned()
    }

    fn mime(name: &str) -> &'static str {
        let ext = name.rsplit('.').next().unwrap_or("");
        FILE_TYPES
            .iter()
            .find(|(e, _)| *e == ext)
            .map(|(_, m)| *m)
            .unwrap_or(match ext {
                "jsonl" => "application/jsonl",
                _ => "application/octet-stream",
            })
    }

    // ----- actors -------------------------------------------------------------

    fn user_actor(p: &Person, ip: &str, ua: &str) -> Value {
        json!({
            "type": "user",
            "id": p.id,
            "email": p.email,
            "name": p.name,
            "ip_address": ip,
            "user_agent": ua,
        })
    }

    fn key_actor(k: &ApiKey) -> Value {
        json!({
            "type": "api_key",
            "id": k.id,
            "api_key_id": k.id,
            "ip_address": k.server_ip,
            "user_agent": k.client,
        })
    }

    fn agent_actor(p: &Person) -> Value {
        let suffix = p.id.strip_prefix("user_").unwrap_or(&p.id);
        json!({
            "type": "agent",
            "id": format!("agent_cowork_{suffix}"),
            "name": "Cowork agent",
            "on_behalf_of": p.id,
            "user_agent": AGENT_RUNTIME,
        })
    }

    fn scim_actor() -> Value {
        json!({
            "type": "service_account",
            "id": "svc_scim_okta",
            "name": "Okta SCIM directory sync",
            "ip_address": "198.51.100.250",
            "user_agent": "Okta SCIM Client 1.0.0",
        })
    }

    // ----- building events ----------------------------------------------------

    fn emit(&mut self, ty: &str, org: Org, product: &str, at: i64, actor: Value) -> Draft<'_> {
        self.counter += 1;
        let mut m = Map::new();
        m.insert(
            "source_event_id".into(),
            json!(format!("sim-{:x}-{}", self.seed, self.counter)),
        );
        m.insert("type".into(), json!(ty));
        m.insert("created_at".into(), json!(crate::time::fmt_ms(at)));
        m.insert("organization_id".into(), json!(self.org_id(org)));
        m.insert("product".into(), json!(product));
        m.insert("actor".into(), actor);
        Draft {
            out: &mut self.out,
            m,
        }
    }

    fn last_source_event_id(&self) -> String {
        format!("sim-{:x}-{}", self.seed, self.counter)
    }

    // ----- ordinary episodes --------------------------------------------------

    fn login(&mut self, who: usize, org: Org, product: &str, at: i64, ip: &str, ua: &str) {
        let p = self.person(who);
        let session = format!("sess_{}", self.rng.token(16));
        if let Some(s) = self.sessions.get_mut(who) {
            *s = Some(session.clone());
        }
        let method = if org == Org::Enterprise {
            "sso"
        } else {
            self.rng.pick(&["sso", "password", "google"])
        };
        let mfa = method != "sso" || self.rng.chance(0.3);
        self.emit("user.login", org, product, at, Self::user_actor(&p, ip, ua))
            .target("session", &session, None)
            .meta("method", json!(method))
            .meta("mfa", json!(mfa))
            .done();
    }

    fn logout(&mut self, who: usize, org: Org, product: &str, at: i64, ip: &str, ua: &str) {
        let p = self.person(who);
        let session = self.sessions.get_mut(who).and_then(Option::take);
        let mut d = self.emit(
            "user.logout",
            org,
            product,
            at,
            Self::user_actor(&p, ip, ua),
        );
        if let Some(s) = session {
            d = d.target("session", &s, None);
        }
        d.done();
    }

    fn enterprise_session(&mut self, at: i64) {
        let who = self.someone(|p| p.enterprise);
        let p = self.person(who);
        let (ua, ip) = match self.rng.weighted(&[6, 3, 1]) {
            0 => (p.browser, p.ip.clone()),
            1 => (DESKTOP_APP, p.ip.clone()),
            _ => (
                MOBILE_APP,
                format!("192.0.2.{}", self.rng.between(100, 200)),
            ),
        };
        let mut t = at;
        self.login(who, Org::Enterprise, "enterprise", t, &ip, ua);
        let actor = Self::user_actor(&p, &ip, ua);
        for _ in 0..self.rng.between(1, 7) {
            t += self.rng.between(20 * SEC, 12 * MIN);
            let pe = Org::Enterprise;
            match self.rng.weighted(&[20, 12, 16, 10, 6, 2, 2, 1, 2, 2, 1]) {
                0 => {
                    if let Some(f) = self.pick_file(pe) {
                        self.emit("file.downloaded", pe, "enterprise", t, actor.clone())
                            .file(&f)
                            .done();
                    }
                }
                1 => {
                    let f = self.new_file(pe);
                    self.emit("file.created", pe, "enterprise", t, actor.clone())
                        .file(&f)
                        .done();
                    self.files.push(f);
                }
                2 => self.tool_call(pe, "enterprise", t, actor.clone()),
                3 => self.data_access(pe, "enterprise", t, actor.clone()),
                4 => {
                    if let Some(m) = self.added_mcp() {
                        self.emit("mcp_server.connected", pe, "enterprise", t, actor.clone())
                            .target("mcp_server", &m.id, Some(m.name))
                            .meta("url", json!(m.url))
                            .meta("transport", json!("sse"))
                            .done();
                    }
                }
                5 => {
                    let name = self.rng.pick(PROJECTS);
                    let id = format!("proj_{}", self.rng.token(10));
                    let visibility = self.rng.pick(&["private", "team"]);
                    self.emit("project.created", pe, "enterprise", t, actor.clone())
                        .target("project", &id, Some(name))
                        .meta("visibility", json!(visibility))
                        .done();
                    self.projects.push(Named {
                        id,
                        name: name.to_string(),
                        org: pe,
                    });
                }
                6 => {
                    let mine: Vec<Named> = self
                        .skills
                        .iter()
                        .filter(|s| s.org == pe)
                        .cloned()
                        .collect();
                    let i = self.rng.index(mine.len());
                    if let Some(s) = mine.get(i) {
                        let old = self.rng.between(1, 9);
                        self.emit("skill.updated", pe, "enterprise", t, actor.clone())
                            .target("skill", &s.id, Some(&s.name))
                            .change("version", json!(old), json!(old + 1))
                            .done();
                    }
                }
                7 => {
                    let name = self.rng.pick(SKILLS);
                    let id = format!("skill_{}", self.rng.token(10));
                    self.emit("skill.created", pe, "enterprise", t, actor.clone())
                        .target("skill", &id, Some(name))
                        .meta("version", json!(1))
                        .done();
                    self.skills.push(Named {
                        id,
                        name: name.to_string(),
                        org: pe,
                    });
                }
                8 => {
                    let (field, old, new) = match self.rng.below(3) {
                        0 => ("mfa_enabled", json!(false), json!(true)),
                        1 => ("email_digest", json!("daily"), json!("weekly")),
                        _ => ("locale", json!("en-US"), json!("en-GB")),
                    };
                    self.emit(
                        "account.settings_updated",
                        pe,
                        "enterprise",
                        t,
                        actor.clone(),
                    )
                    .change(field, old, new)
                    .done();
                }
                9 => {
                    if let Some(f) = self.pick_file(pe) {
                        self.emit("file.deleted", pe, "enterprise", t, actor.clone())
                            .file(&f)
                            .done();
                        self.remove_file(&f.id);
                    }
                }
                _ => {
                    if self.projects.len() > 3 {
                        let i = self.rng.index(self.projects.len());
                        let pr = self.projects.remove(i.min(self.projects.len() - 1));
                        self.emit("project.deleted", pe, "enterprise", t, actor.clone())
                            .target("project", &pr.id, Some(&pr.name))
                            .done();
                    }
                }
            }
        }
        if self.rng.chance(0.4) {
            t += self.rng.between(MIN, 40 * MIN);
            self.logout(who, Org::Enterprise, "enterprise", t, &ip, ua);
        }
    }

    fn tool_call(&mut self, org: Org, product: &str, at: i64, actor: Value) {
        if let Some(m) = self.added_mcp() {
            self.tool_call_on(&m, org, product, at, actor, true);
        }
    }

    fn tool_call_on(
        &mut self,
        m: &McpServer,
        org: Org,
        product: &str,
        at: i64,
        actor: Value,
        may_fail: bool,
    ) {
        let tool = self.rng.pick(m.tools);
        let failed = may_fail && self.rng.chance(0.04);
        let duration = self.rng.between(40, 4_000);
        let mut d = self
            .emit("tool.invoked", org, product, at, actor)
            .target("mcp_server", &m.id, Some(m.name))
            .meta("tool_name", json!(tool))
            .meta("server", json!(m.name))
            .meta("duration_ms", json!(duration));
        if failed {
            d = d.failure(if duration > 3_000 {
                "timeout"
            } else {
                "tool_error"
            });
        }
        d.done();
    }

    fn data_access(&mut self, org: Org, product: &str, at: i64, actor: Value) {
        let (source, ty, id, name) = match self.rng.below(4) {
            0 => (
                "google-drive",
                "drive_file",
                format!("gdrive:{}", self.rng.token(20)),
                format!(
                    "{}-{}",
                    self.rng.pick(FILE_TOPICS),
                    self.rng.pick(FILE_VERSIONS)
                ),
            ),
            1 => {
                let repo = self.rng.pick(&[
                    "payments-api",
                    "web-app",
                    "infra",
                    "data-platform",
                    "mobile",
                ]);
                (
                    "github",
                    "repository",
                    format!("github:acme/{repo}"),
                    format!("acme/{repo}"),
                )
            }
            2 => {
                let table = self.rng.pick(&[
                    "customers",
                    "orders",
                    "invoices",
                    "usage_daily",
                    "support_tickets",
                ]);
                (
                    "postgres-analytics",
                    "database_table",
                    format!("pg:analytics.{table}"),
                    format!("analytics.{table}"),
                )
            }
            _ => (
                "notion",
                "page",
                format!("notion:{}", self.rng.token(16)),
                self.rng.pick(PROJECTS).to_string(),
            ),
        };
        self.emit("data.accessed", org, product, at, actor)
            .target(ty, &id, Some(&name))
            .meta("source", json!(source))
            .meta("access", json!("read"))
            .done();
    }

    fn cowork_run(&mut self, at: i64) {
        let who = self.someone(|p| p.enterprise);
        let p = self.person(who);
        let actor = Self::agent_actor(&p);
        let pe = Org::Enterprise;
        let mut t = at;
        let Some(first) = self.added_mcp() else {
            return;
        };
        let mut servers = vec![first];
        if self.rng.chance(0.4)
            && let Some(m) = self.added_mcp()
            && servers.iter().all(|s| s.id != m.id)
        {
            servers.push(m);
        }
        for m in &servers {
            self.emit("mcp_server.connected", pe, "cowork", t, actor.clone())
                .target("mcp_server", &m.id, Some(m.name))
                .meta("url", json!(m.url))
                .meta("transport", json!("streamable_http"))
                .done();
            t += self.rng.between(200, 2 * SEC);
        }
        for _ in 0..self.rng.between(2, 11) {
            t += self.rng.between(2 * SEC, 40 * SEC);
            if self.rng.chance(0.25) {
                self.data_access(pe, "cowork", t, actor.clone());
            } else {
                let i = self.rng.index(servers.len());
                if let Some(m) = servers.get(i).cloned() {
                    self.tool_call_on(&m, pe, "cowork", t, actor.clone(), true);
                }
            }
        }
        if self.rng.chance(0.3) {
            t += self.rng.between(5 * SEC, MIN);
            let mut f = self.new_file(pe);
            f.name = format!(
                "{}-summary.{}",
                self.rng.pick(FILE_TOPICS),
                self.rng.pick(&["docx", "pdf", "xlsx"])
            );
            self.emit("file.created", pe, "cowork", t, actor.clone())
                .file(&f)
                .done();
            self.files.push(f);
        }
    }

    fn api_traffic(&mut self, at: i64) {
        let i = self.rng.index(self.api_keys.len());
        let Some(key) = self.api_keys.get(i).cloned() else {
            return;
        };
        let actor = Self::key_actor(&key);
        let pa = Org::Api;
        let mut t = at;
        for _ in 0..self.rng.between(1, 8) {
            t += self.rng.between(SEC, 5 * MIN);
            match self.rng.weighted(&[10, 10, 3, 6, 1]) {
                0 => {
                    let mut f = self.new_file(pa);
                    f.workspace = Some(key.workspace.clone());
                    self.emit("file.created", pa, "platform", t, actor.clone())
                        .ws(&key.workspace)
                        .file(&f)
                        .done();
                    self.files.push(f);
                }
                1 => {
                    if let Some(f) = self.pick_file(pa) {
                        self.emit("file.downloaded", pa, "platform", t, actor.clone())
                            .ws(&key.workspace)
                            .file(&f)
                            .done();
                    }
                }
                2 => {
                    if let Some(f) = self.pick_file(pa) {
                        self.emit("file.deleted", pa, "platform", t, actor.clone())
                            .ws(&key.workspace)
                            .file(&f)
                            .done();
                        self.remove_file(&f.id);
                    }
                }
                3 => {
                    if let Some(m) = self.added_mcp() {
                        let tool = self.rng.pick(m.tools);
                        let duration = self.rng.between(30, 2_500);
                        self.emit("tool.invoked", pa, "platform", t, actor.clone())
                            .ws(&key.workspace)
                            .target("mcp_server", &m.id, Some(m.name))
                            .meta("tool_name", json!(tool))
                            .meta("server", json!(m.name))
                            .meta("duration_ms", json!(duration))
                            .meta("via", json!("mcp_connector"))
                            .done();
                    }
                }
                _ => {
                    let api_skills: Vec<Named> = self
                        .skills
                        .iter()
                        .filter(|s| s.org == pa)
                        .cloned()
                        .collect();
                    let j = self.rng.index(api_skills.len());
                    if let Some(s) = api_skills.get(j) {
                        let old = self.rng.between(1, 9);
                        self.emit("skill.updated", pa, "platform", t, actor.clone())
                            .ws(&key.workspace)
                            .target("skill", &s.id, Some(&s.name))
                            .change("version", json!(old), json!(old + 1))
                            .done();
                    }
                }
            }
        }
    }

    fn console_session(&mut self, at: i64) {
        let who = self.someone(|p| p.api);
        let p = self.person(who);
        let ip = p.ip.clone();
        let ua = p.browser;
        let pa = Org::Api;
        let mut t = at;
        self.login(who, pa, "platform", t, &ip, ua);
        let actor = Self::user_actor(&p, &ip, ua);
        for _ in 0..self.rng.between(1, 5) {
            t += self.rng.between(30 * SEC, 10 * MIN);
            let admin = p.is_admin();
            let w: [u32; 10] = if admin {
                [4, 3, 2, 2, 2, 1, 4, 4, 2, 1]
            } else {
                [4, 3, 2, 2, 1, 0, 4, 4, 2, 1]
            };
            match self.rng.weighted(&w) {
                0 => {
                    let name = self.rng.pick(NEW_KEY_NAMES);
                    let k = self.new_api_key(name);
                    self.emit("api_key.created", pa, "platform", t, actor.clone())
                        .ws(&k.workspace)
                        .target("api_key", &k.id, Some(&k.name))
                        .meta("scopes", json!(["messages:write", "files:read"]))
                        .done();
                    self.api_keys.push(k);
                }
                1 => {
                    let i = self.rng.index(self.api_keys.len());
                    if let Some(k) = self.api_keys.get(i).cloned() {
                        let new_id = format!("key_{}", self.rng.token(12));
                        self.emit("api_key.rotated", pa, "platform", t, actor.clone())
                            .ws(&k.workspace)
                            .target("api_key", &k.id, Some(&k.name))
                            .meta("replaced_by", json!(new_id))
                            .meta("grace_period_hours", json!(24))
                            .done();
                        if let Some(slot) = self.api_keys.get_mut(i) {
                            slot.id = new_id;
                        }
                    }
                }
                2 => {
                    let i = self.rng.index(self.api_keys.len());
                    if let Some(k) = self.api_keys.get(i).cloned() {
                        let limit = self.rng.pick(&[50, 100, 250, 500]);
                        self.emit("api_key.updated", pa, "platform", t, actor.clone())
                            .ws(&k.workspace)
                            .target("api_key", &k.id, Some(&k.name))
                            .change("rate_limit_rpm", json!(limit), json!(limit * 2))
                            .done();
                    }
                }
                3 => {
                    if self.api_keys.len() > 4 {
                        let i = self.rng.index(self.api_keys.len());
                        let k = self.api_keys.remove(i.min(self.api_keys.len() - 1));
                        self.emit("api_key.deleted", pa, "platform", t, actor.clone())
                            .ws(&k.workspace)
                            .target("api_key", &k.id, Some(&k.name))
                            .done();
                    }
                }
                4 => {
                    if let Some(w) = self.pick_workspace() {
                        let old = self.rng.pick(&[500, 1_000, 2_500]);
                        self.emit("workspace.updated", pa, "platform", t, actor.clone())
                            .ws(&w.id)
                            .target("workspace", &w.id, Some(&w.name))
                            .change("monthly_spend_limit_usd", json!(old), json!(old * 2))
                            .done();
                    }
                }
                5 => {
                    let name = self.rng.pick(NEW_WORKSPACES);
                    let w = Workspace {
                        id: format!("wrk_{}", self.rng.token(10)),
                        name: name.to_string(),
                        archived: false,
                    };
                    self.emit("workspace.created", pa, "platform", t, actor.clone())
                        .ws(&w.id)
                        .target("workspace", &w.id, Some(&w.name))
                        .done();
                    self.workspaces.push(w);
                }
                6 => {
                    let mut f = self.new_file(pa);
                    let ws = self.pick_workspace().map(|w| w.id).unwrap_or_default();
                    f.workspace = Some(ws.clone());
                    self.emit("file.created", pa, "platform", t, actor.clone())
                        .ws(&ws)
                        .file(&f)
                        .done();
                    self.files.push(f);
                }
                7 => {
                    if let Some(f) = self.pick_file(pa) {
                        let mut d = self.emit("file.downloaded", pa, "platform", t, actor.clone());
                        if let Some(ws) = &f.workspace {
                            d = d.ws(ws);
                        }
                        d.file(&f).done();
                    }
                }
                8 => {
                    let api_skills: Vec<Named> = self
                        .skills
                        .iter()
                        .filter(|s| s.org == pa)
                        .cloned()
                        .collect();
                    let j = self.rng.index(api_skills.len());
                    if let Some(s) = api_skills.get(j) {
                        let old = self.rng.between(1, 9);
                        self.emit("skill.updated", pa, "platform", t, actor.clone())
                            .target("skill", &s.id, Some(&s.name))
                            .change("version", json!(old), json!(old + 1))
                            .done();
                    }
                }
                _ => {
                    let name = self.rng.pick(SKILLS);
                    let id = format!("skill_{}", self.rng.token(10));
                    self.emit("skill.created", pa, "platform", t, actor.clone())
                        .target("skill", &id, Some(name))
                        .meta("version", json!(1))
                        .done();
                    self.skills.push(Named {
                        id,
                        name: name.to_string(),
                        org: pa,
                    });
                }
            }
        }
        if self.rng.chance(0.5) {
            t += self.rng.between(MIN, 30 * MIN);
            self.logout(who, pa, "platform", t, &ip, ua);
        }
    }

    fn admin_change_of(&mut self, kind: u64, at: i64) {
        let who = self.someone(Person::is_admin);
        let p = self.person(who);
        let actor = Self::user_actor(&p, &p.ip, p.browser);
        // Administrators often start from the company-wide admin console,
        // which belongs to the parent organization.
        if self.rng.chance(0.6) {
            let before = at - self.rng.between(MIN, 5 * MIN);
            self.login(who, Org::Parent, "platform", before, &p.ip, p.browser);
        }
        let t = at;
        let pe = Org::Enterprise;
        let pa = Org::Api;
        match kind {
            0 => {
                let (org, product) = self.rng.pick(&[
                    (Org::Parent, "platform"),
                    (Org::Api, "platform"),
                    (Org::Enterprise, "enterprise"),
                ]);
                let (field, old, new) = match self.rng.below(5) {
                    0 => ("require_mfa", json!(false), json!(true)),
                    1 => ("session_timeout_minutes", json!(720), json!(480)),
                    2 => ("allow_public_sharing", json!(true), json!(false)),
                    3 => ("default_member_role", json!("member"), json!("viewer")),
                    _ => ("data_export_enabled", json!(true), json!(false)),
                };
                self.emit("organization.settings_updated", org, product, t, actor)
                    .change(field, old, new)
                    .done();
            }
            1 => {
                let old = self.allowlist.clone();
                if self.allowlist.len() > 3 && self.rng.chance(0.5) {
                    self.allowlist.pop();
                } else {
                    let cidr = format!("203.0.113.{}/32", self.rng.between(1, 250));
                    self.allowlist.push(cidr);
                }
                let org = self.rng.pick(&[Org::Parent, Org::Api]);
                let new = json!(self.allowlist);
                self.emit("ip_allowlist.updated", org, "platform", t, actor)
                    .change("cidrs", json!(old), new)
                    .done();
            }
            2 => {
                self.emit("sso.configured", Org::Parent, "platform", t, actor)
                    .target("sso_connection", "sso_okta_acme", Some("Okta (SAML)"))
                    .meta("provider", json!("okta"))
                    .meta("protocol", json!("saml"))
                    .meta("enforced", json!(true))
                    .done();
            }
            3 => {
                let target = self.someone(|q| !q.is_admin());
                let q = self.person(target);
                let (org, product) = if q.enterprise {
                    (pe, "enterprise")
                } else {
                    (pa, "platform")
                };
                let (old, new) = match q.role {
                    "developer" => ("developer", "user"),
                    _ => ("member", "viewer"),
                };
                let (old, new) = if self.rng.chance(0.5) {
                    (new, old)
                } else {
                    (old, new)
                };
                self.emit("member.role_changed", org, product, t, actor)
                    .target("user", &q.id, Some(&q.name))
                    .change("role", json!(old), json!(new))
                    .done();
            }
            4 | 5 => {
                let granted = self.rng.chance(0.6);
                let target = self.someone(|q| q.api);
                let q = self.person(target);
                let perm = self.rng.pick(PERMISSIONS);
                let ty = if granted {
                    "permission.granted"
                } else {
                    "permission.revoked"
                };
                let ws = self.pick_workspace().map(|w| w.id).unwrap_or_default();
                self.emit(ty, pa, "platform", t, actor)
                    .ws(&ws)
                    .target("user", &q.id, Some(&q.name))
                    .meta("permission", json!(perm))
                    .done();
            }
            6 => {
                let k = Named {
                    id: format!("admkey_{}", self.rng.token(10)),
                    name: self
                        .rng
                        .pick(&["terraform", "billing-export", "scim-bridge"])
                        .into(),
                    org: pa,
                };
                self.emit("admin_key.created", pa, "platform", t, actor)
                    .target("admin_key", &k.id, Some(&k.name))
                    .done();
                self.admin_keys.push(k);
            }
            7 => {
                if !self.admin_keys.is_empty() {
                    let k = self.admin_keys.remove(0);
                    self.emit("admin_key.deleted", k.org, "platform", t, actor)
                        .target("admin_key", &k.id, Some(&k.name))
                        .done();
                }
            }
            8 => {
                let target = self.someone(|q| q.enterprise && q.id != p.id);
                let session = self.sessions.get_mut(target).and_then(Option::take);
                let session = session.unwrap_or_else(|| format!("sess_{}", self.rng.token(16)));
                let q = self.person(target);
                self.emit("session.revoked", pe, "enterprise", t, actor)
                    .target("session", &session, None)
                    .meta("user_id", json!(q.id))
                    .meta("reason_code", json!("admin_action"))
                    .done();
            }
            9 => {
                let idle: Vec<usize> = (0..self.mcp.len())
                    .filter(|&i| self.mcp.get(i).is_some_and(|m| !m.added))
                    .collect();
                if !idle.is_empty() {
                    let i = self.rng.pick(&idle);
                    if let Some(m) = self.mcp.get_mut(i) {
                        m.added = true;
                    }
                    if let Some(m) = self.mcp.get(i).cloned() {
                        self.emit("mcp_server.added", pe, "enterprise", t, actor)
                            .target("mcp_server", &m.id, Some(m.name))
                            .meta("url", json!(m.url))
                            .meta("tools_count", json!(m.tools.len()))
                            .done();
                    }
                }
            }
            10 => {
                let added = self.mcp.iter().filter(|m| m.added).count();
                if added > 2
                    && let Some(m) = self.added_mcp()
                {
                    if let Some(slot) = self.mcp.iter_mut().find(|x| x.id == m.id) {
                        slot.added = false;
                    }
                    self.emit("mcp_server.removed", pe, "enterprise", t, actor)
                        .target("mcp_server", &m.id, Some(m.name))
                        .done();
                }
            }
            11 => {
                if self.skills.len() > 4 {
                    let i = self.rng.index(self.skills.len());
                    let s = self.skills.remove(i.min(self.skills.len() - 1));
                    let product = if s.org == pa {
                        "platform"
                    } else {
                        "enterprise"
                    };
                    self.emit("skill.deleted", s.org, product, t, actor)
                        .target("skill", &s.id, Some(&s.name))
                        .done();
                }
            }
            12 => {
                let live = self.workspaces.iter().filter(|w| !w.archived).count();
                if live > 3 {
                    let i = self
                        .workspaces
                        .iter()
                        .rposition(|w| !w.archived)
                        .unwrap_or(0);
                    if let Some(w) = self.workspaces.get_mut(i) {
                        w.archived = true;
                    }
                    if let Some(w) = self.workspaces.get(i).cloned() {
                        self.emit("workspace.archived", pa, "platform", t, actor)
                            .ws(&w.id)
                            .target("workspace", &w.id, Some(&w.name))
                            .done();
                    }
                }
            }
            _ => {
                let name = self.rng.pick(NEW_WORKSPACES);
                let w = Workspace {
                    id: format!("wrk_{}", self.rng.token(10)),
                    name: name.to_string(),
                    archived: false,
                };
                self.emit("workspace.created", pa, "platform", t, actor)
                    .ws(&w.id)
                    .target("workspace", &w.id, Some(&w.name))
                    .done();
                self.workspaces.push(w);
            }
        }
    }

    fn typo_login(&mut self, at: i64) {
        let who = self.someone(|_| true);
        let p = self.person(who);
        let (org, product) = if p.enterprise {
            (Org::Enterprise, "enterprise")
        } else {
            (Org::Api, "platform")
        };
        let ua = p.browser;
        self.emit(
            "user.login_failed",
            org,
            product,
            at,
            Self::user_actor(&p, &p.ip, ua),
        )
        .meta("username", json!(p.email))
        .meta("method", json!("password"))
        .failure("invalid_password")
        .done();
        let t = at + self.rng.between(8 * SEC, 50 * SEC);
        self.login(who, org, product, t, &p.ip, ua);
    }

    fn unknown_login(&mut self, at: i64) {
        let ip = format!("203.0.113.{}", self.rng.between(2, 250));
        let username = self.rng.pick(&[
            "admin@acme.example.com",
            "test@acme.example.com",
            "it-support@acme.example.com",
            "jsmith@acme.example.com",
        ]);
        let (org, product) = self
            .rng
            .pick(&[(Org::Enterprise, "enterprise"), (Org::Api, "platform")]);
        let actor = json!({
            "type": "unauthenticated",
            "ip_address": ip,
            "user_agent": SCRIPTED_CLIENT,
        });
        self.emit("user.login_failed", org, product, at, actor)
            .meta("username", json!(username))
            .meta("method", json!("password"))
            .failure("unknown_user")
            .done();
    }

    // ----- scheduled and planted episodes -------------------------------------

    fn hire(&mut self, who: usize, at: i64) {
        let admin = self.person(IT_ADMIN);
        let q = self.person(who);
        let (org, product) = if q.enterprise {
            (Org::Enterprise, "enterprise")
        } else {
            (Org::Api, "platform")
        };
        let invite = format!("inv_{}", self.rng.token(12));
        self.emit(
            "member.invited",
            org,
            product,
            at,
            Self::user_actor(&admin, &admin.ip, admin.browser),
        )
        .target("invitation", &invite, None)
        .meta("email", json!(q.email))
        .meta("role", json!(q.role))
        .done();
        let t = at + 4 * MIN;
        self.emit("scim.user_created", org, product, t, Self::scim_actor())
            .target("user", &q.id, None)
            .meta("email", json!(q.email))
            .meta("user_name", json!(q.email))
            .meta("display_name", json!(q.name))
            .done();
        let t = t + 3 * HOUR + self.rng.between(0, HOUR);
        self.emit(
            "member.added",
            org,
            product,
            t,
            Self::user_actor(&q, &q.ip, q.browser),
        )
        .target("user", &q.id, Some(&q.name))
        .meta("email", json!(q.email))
        .meta("role", json!(q.role))
        .meta("invitation_id", json!(invite))
        .done();
        if let Some(p) = self.people.get_mut(who) {
            p.active = true;
        }
        self.login(who, org, product, t + 30 * SEC, &q.ip, q.browser);
    }

    fn brute_force(&mut self, at: i64) {
        let victim = self.person(FINANCE_OMAR);
        let ip = "203.0.113.77";
        let mut t = at;
        let tries = 14;
        for _ in 0..tries {
            let actor = json!({
                "type": "unauthenticated",
                "ip_address": ip,
                "user_agent": SCRIPTED_CLIENT,
            });
            self.emit("user.login_failed", Org::Enterprise, "enterprise", t, actor)
                .meta("username", json!(victim.email))
                .meta("method", json!("password"))
                .failure("invalid_password")
                .done();
            t += self.rng.between(4 * SEC, 15 * SEC);
        }
        self.login(
            FINANCE_OMAR,
            Org::Enterprise,
            "enterprise",
            t,
            ip,
            SCRIPTED_CLIENT,
        );
        let done = t;
        let sid = self.last_source_event_id();
        let actor = Self::user_actor(&victim, ip, SCRIPTED_CLIENT);
        for _ in 0..6 {
            t += self.rng.between(5 * SEC, 30 * SEC);
            if let Some(f) = self.pick_file(Org::Enterprise) {
                self.emit(
                    "file.downloaded",
                    Org::Enterprise,
                    "enterprise",
                    t,
                    actor.clone(),
                )
                .file(&f)
                .done();
            }
        }
        self.planted.push(Planted {
            pattern: "failed_logins_then_success",
            summary: format!(
                "{tries} failed logins for {} from {ip}, then a successful login and downloads",
                victim.email
            ),
            at_ms: done,
            source_event_id: sid,
        });
    }

    fn short_lived_key(&mut self, at: i64) {
        let dev = self.person(DEVELOPER_TOM);
        let actor = Self::user_actor(&dev, &dev.ip, dev.browser);
        let pa = Org::Api;
        self.login(DEVELOPER_TOM, pa, "platform", at, &dev.ip, dev.browser);
        let t = at + 40 * SEC;
        let key = format!("key_{}", self.rng.token(12));
        let ws = self.pick_workspace().map(|w| w.id).unwrap_or_default();
        self.emit("api_key.created", pa, "platform", t, actor.clone())
            .ws(&ws)
            .target("api_key", &key, Some("tmp-debug"))
            .meta(
                "scopes",
                json!(["messages:write", "files:read", "files:write"]),
            )
            .done();
        let t2 = t + 3 * MIN + 12 * SEC;
        self.emit("api_key.deleted", pa, "platform", t2, actor)
            .ws(&ws)
            .target("api_key", &key, Some("tmp-debug"))
            .done();
        self.planted.push(Planted {
            pattern: "api_key_created_then_deleted",
            summary: format!(
                "{} created API key {key} (tmp-debug) and deleted it 3 minutes later",
                dev.email
            ),
            at_ms: t2,
            source_event_id: self.last_source_event_id(),
        });
    }

    fn escalation(&mut self, at: i64) {
        let admin = self.person(ADMIN);
        let lars = self.person(CONTRACTOR_LARS);
        let odd_ip = "203.0.113.45";
        let pa = Org::Api;
        let actor = Self::user_actor(&admin, odd_ip, admin.browser);
        self.login(ADMIN, pa, "platform", at, odd_ip, admin.browser);
        let t = at + 2 * MIN;
        self.emit("member.role_changed", pa, "platform", t, actor)
            .target("user", &lars.id, Some(&lars.name))
            .change("role", json!("developer"), json!("admin"))
            .done();
        if let Some(p) = self.people.get_mut(CONTRACTOR_LARS) {
            p.role = "admin";
        }
        let t2 = t + 6 * MIN;
        let lars_actor = Self::user_actor(&lars, odd_ip, SCRIPTED_CLIENT);
        let k = Named {
            id: format!("admkey_{}", self.rng.token(10)),
            name: "automation".into(),
            org: pa,
        };
        self.emit("admin_key.created", pa, "platform", t2, lars_actor)
            .target("admin_key", &k.id, Some(&k.name))
            .done();
        self.admin_keys.push(k);
        self.planted.push(Planted {
            pattern: "privilege_escalation",
            summary: format!(
                "{} promoted contractor {} to admin at night from {odd_ip}; an admin key followed",
                admin.email, lars.email
            ),
            at_ms: t2,
            source_event_id: self.last_source_event_id(),
        });
    }

    fn mass_download(&mut self, at: i64) {
        let noah = self.person(DEPARTING_NOAH);
        let pe = Org::Enterprise;
        self.login(DEPARTING_NOAH, pe, "enterprise", at, &noah.ip, DESKTOP_APP);
        let actor = Self::user_actor(&noah, &noah.ip, DESKTOP_APP);
        let mut t = at + MIN;
        let mut ids: Vec<usize> = (0..self.files.len())
            .filter(|&i| self.files.get(i).is_some_and(|f| f.org == pe))
            .collect();
        let n = 60.min(ids.len());
        let mut last = String::new();
        for _ in 0..n {
            if ids.is_empty() {
                break;
            }
            let i = self.rng.index(ids.len());
            let fi = ids.swap_remove(i.min(ids.len() - 1));
            if let Some(f) = self.files.get(fi).cloned() {
                self.emit("file.downloaded", pe, "enterprise", t, actor.clone())
                    .file(&f)
                    .done();
                last = self.last_source_event_id();
            }
            t += self.rng.between(2 * SEC, 12 * SEC);
        }
        self.planted.push(Planted {
            pattern: "mass_file_download",
            summary: format!(
                "{} downloaded {n} files in {} minutes, two days before leaving",
                noah.email,
                (t - at) / MIN
            ),
            at_ms: t,
            source_event_id: last,
        });
        // Offboarding two days later: SCIM deprovisioning, then removal.
        let admin = self.person(IT_ADMIN);
        let t = at + 2 * DAY - 8 * HOUR;
        let session = self
            .sessions
            .get_mut(DEPARTING_NOAH)
            .and_then(Option::take)
            .unwrap_or_else(|| format!("sess_{}", self.rng.token(16)));
        let admin_actor = Self::user_actor(&admin, &admin.ip, admin.browser);
        self.emit("session.revoked", pe, "enterprise", t, admin_actor.clone())
            .target("session", &session, None)
            .meta("user_id", json!(noah.id))
            .meta("reason_code", json!("offboarding"))
            .done();
        self.emit(
            "scim.user_deleted",
            pe,
            "enterprise",
            t + MIN,
            Self::scim_actor(),
        )
        .target("user", &noah.id, None)
        .meta("email", json!(noah.email))
        .meta("user_name", json!(noah.email))
        .meta("display_name", json!(noah.name))
        .done();
        self.emit("member.removed", pe, "enterprise", t + 2 * MIN, admin_actor)
            .target("user", &noah.id, Some(&noah.name))
            .meta("email", json!(noah.email))
            .done();
        if let Some(p) = self.people.get_mut(DEPARTING_NOAH) {
            p.active = false;
        }
    }

    fn rogue_mcp(&mut self, at: i64) {
        let who = self.person(SUPPORT_AISHA);
        let pe = Org::Enterprise;
        let actor = Self::user_actor(&who, &who.ip, who.browser);
        let m = McpServer {
            id: format!("mcp_{}", self.rng.token(10)),
            name: "paste-sync",
            url: "https://paste-sync.example.org/mcp".into(),
            tools: PASTE_TOOLS,
            added: true,
        };
        self.emit("mcp_server.added", pe, "enterprise", at, actor.clone())
            .target("mcp_server", &m.id, Some(m.name))
            .meta("url", json!(m.url))
            .meta("tools_count", json!(m.tools.len()))
            .done();
        let added = self.last_source_event_id();
        let mut t = at + 30 * SEC;
        self.emit("mcp_server.connected", pe, "enterprise", t, actor.clone())
            .target("mcp_server", &m.id, Some(m.name))
            .meta("url", json!(m.url))
            .meta("transport", json!("sse"))
            .done();
        let agent = Self::agent_actor(&who);
        for _ in 0..8 {
            t += self.rng.between(3 * SEC, 20 * SEC);
            self.tool_call_on(&m, pe, "cowork", t, agent.clone(), false);
        }
        self.planted.push(Planted {
            pattern: "new_mcp_server",
            summary: format!(
                "{} added an unknown MCP server ({}) and an agent used it right away",
                who.email, m.url
            ),
            at_ms: at,
            source_event_id: added,
        });
        self.mcp.push(m);
    }
}

/// One event under construction; [`Draft::done`] adds it to the episode.
struct Draft<'a> {
    out: &'a mut Vec<Value>,
    m: Map<String, Value>,
}

impl Draft<'_> {
    fn target(mut self, ty: &str, id: &str, name: Option<&str>) -> Self {
        let mut t = Map::new();
        t.insert("type".into(), json!(ty));
        t.insert("id".into(), json!(id));
        if let Some(n) = name {
            t.insert("name".into(), json!(n));
        }
        self.m.insert("target".into(), Value::Object(t));
        self
    }

    fn file(self, f: &FileRef) -> Self {
        self.target("file", &f.id, Some(&f.name))
            .meta("size_bytes", json!(f.size))
            .meta("mime_type", json!(Simulator::mime(&f.name)))
    }

    fn ws(mut self, id: &str) -> Self {
        if !id.is_empty() {
            self.m.insert("workspace_id".into(), json!(id));
        }
        self
    }

    fn meta(mut self, key: &str, value: Value) -> Self {
        if let Value::Object(md) = self
            .m
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()))
        {
            md.insert(key.into(), value);
        }
        self
    }

    fn change(mut self, field: &str, old: Value, new: Value) -> Self {
        if let Value::Array(cs) = self
            .m
            .entry("changes")
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            cs.push(json!({ "field": field, "old": old, "new": new }));
        }
        self
    }

    fn failure(mut self, reason: &str) -> Self {
        self.m.insert("outcome".into(), json!("failure"));
        self.m.insert("reason".into(), json!(reason));
        self
    }

    fn done(self) {
        self.out.push(Value::Object(self.m));
    }
}

/// The `created_at` of a simulated event in ms (0 if unreadable).
pub fn created_ms(e: &Value) -> i64 {
    e.get("created_at")
        .and_then(Value::as_str)
        .and_then(|s| crate::time::parse_rfc3339(s).ok())
        .unwrap_or(0)
}

/// Endless simulated activity; see [`Simulator::stream`].
pub struct EventStream {
    sim: Simulator,
    /// Source time of the iterator: where the next episode starts.
    clock: i64,
    gap_ms: f64,
    per_second: f64,
    /// Wall-clock start and progress of [`EventStream::due`].
    started: i64,
    last_due: i64,
    released: u64,
    pending: BinaryHeap<Reverse<(i64, u64, PendingEvent)>>,
    seq: u64,
}

/// An event waiting in the stream's queue, ordered only by its position.
#[derive(Debug)]
struct PendingEvent(Value);

impl PartialEq for PendingEvent {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for PendingEvent {}
impl PartialOrd for PendingEvent {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for PendingEvent {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl EventStream {
    /// Queues one episode starting at `at`; returns how many of its events
    /// are due by `now`.
    fn push_episode(&mut self, at: i64, now: i64) -> (usize, u64) {
        let evs = self.sim.episode(at);
        let n = evs.len();
        let mut ready = 0;
        for e in evs {
            let t = created_ms(&e);
            if t <= now {
                ready += 1;
            }
            self.seq += 1;
            self.pending.push(Reverse((t, self.seq, PendingEvent(e))));
        }
        (n, ready)
    }

    /// Plays one more episode at the iterator's clock and moves the clock
    /// on by about the time the configured rate allots to its events.
    fn advance(&mut self) -> usize {
        let (n, _) = self.push_episode(self.clock, i64::MIN);
        let jitter = 0.5 + self.sim.rng.unit();
        self.clock += (self.gap_ms * n.max(1) as f64 * jitter).max(1.0) as i64;
        n
    }

    /// Events whose time has come by `now_ms`, in `created_at` order.
    ///
    /// Episodes spread their events over up to an hour (a session's later
    /// actions, an agent's tool calls), so starting episodes at a fixed pace
    /// would release far fewer events than asked for during the first
    /// hour. Instead new episodes start whenever the events due so far fall
    /// short of `per_second` times the elapsed time; later events of earlier
    /// episodes count towards the rate when they come due.
    pub fn due(&mut self, now_ms: i64) -> Vec<Value> {
        let elapsed = now_ms.saturating_sub(self.started).max(0);
        let target = (elapsed as f64 * self.per_second / 1000.0) as u64;
        let mut ready = self
            .pending
            .iter()
            .filter(|Reverse((t, _, _))| *t <= now_ms)
            .count() as u64;
        // Bounded, in case episodes ever stop producing due events.
        for _ in 0..100_000 {
            if self.released + ready >= target {
                break;
            }
            let at = self.sim.rng.between(self.last_due, now_ms + 1);
            let (n, due) = self.push_episode(at, now_ms);
            if n == 0 {
                continue;
            }
            ready += due;
        }
        self.last_due = self.last_due.max(now_ms);
        let mut out = Vec::new();
        while let Some(Reverse((t, _, _))) = self.pending.peek() {
            if *t > now_ms {
                break;
            }
            if let Some(Reverse((_, _, PendingEvent(e)))) = self.pending.pop() {
                out.push(e);
            }
        }
        self.released += out.len() as u64;
        out
    }

    /// The simulator behind the stream.
    pub fn simulator(&self) -> &Simulator {
        &self.sim
    }
}

impl Iterator for EventStream {
    type Item = Value;

    /// The next event in source time. An event is released once the clock
    /// has passed it, since later episodes only make later events.
    fn next(&mut self) -> Option<Value> {
        let mut idle = 0;
        loop {
            if let Some(Reverse((t, _, _))) = self.pending.peek()
                && *t < self.clock
                && let Some(Reverse((_, _, PendingEvent(e)))) = self.pending.pop()
            {
                return Some(e);
            }
            if self.advance() == 0 {
                idle += 1;
                if idle > 10_000 && self.pending.is_empty() {
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use sealtrail_model::{Catalog, Category, Limits, parse_activity_at};

    use super::*;

    const NOW: i64 = 1_796_000_000_000;

    fn check_all(events: &[Value]) -> BTreeSet<String> {
        let catalog = Catalog::builtin();
        let limits = Limits::default();
        let now = jiff::Timestamp::from_millisecond(NOW).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let mut types = BTreeSet::new();
        for e in events {
            let text = serde_json::to_string(e).unwrap();
            let parsed = parse_activity_at(e, text.len(), &catalog, &limits, now)
                .unwrap_or_else(|err| panic!("refused: {err:?}\n{text}"));
            assert_ne!(parsed.category, Category::Compliance);
            // Each product's ingest key is issued for part of the tree only.
            let product = parsed.product.as_deref().unwrap_or("");
            let orgs = SimOrgs::default();
            let allowed: &[&str] = match product {
                "platform" => &[&orgs.parent, &orgs.api],
                "enterprise" | "cowork" => &[&orgs.enterprise],
                _ => &[],
            };
            assert!(
                allowed.contains(&parsed.organization_id.as_str()),
                "{product} may not write {}: {text}",
                parsed.organization_id
            );
            types.insert(parsed.activity_type);
        }
        types
    }

    #[test]
    fn history_is_valid_covers_every_source_type_and_has_the_planted_patterns() {
        for seed in 1..=6 {
            history_from_seed(seed);
        }
    }

    fn history_from_seed(seed: u64) {
        let mut sim = Simulator::new(seed, SimOrgs::default());
        let events = sim.history(NOW - 30 * DAY, NOW, 4_000);
        assert!(
            (3_600..=4_600).contains(&events.len()),
            "{} events",
            events.len()
        );
        let types = check_all(&events);
        let catalog = Catalog::builtin();
        let expected: BTreeSet<String> = catalog
            .iter()
            .filter(|d| d.category != Category::Compliance)
            .map(|d| d.name.clone())
            .collect();
        let missing: Vec<_> = expected.difference(&types).collect();
        assert!(
            missing.is_empty(),
            "seed {seed} never generated {missing:?}"
        );
        let patterns: BTreeSet<&str> = sim.planted().iter().map(|p| p.pattern).collect();
        assert_eq!(patterns.len(), 5, "{patterns:?}");
        let mut ids = BTreeSet::new();
        for e in &events {
            let t = created_ms(e);
            assert!((NOW - 30 * DAY..NOW).contains(&t));
            assert!(ids.insert(e["source_event_id"].as_str().unwrap().to_string()));
        }
        assert!(
            events
                .windows(2)
                .all(|w| created_ms(&w[0]) <= created_ms(&w[1]))
        );
        for org in SimOrgs::default().all() {
            assert!(events.iter().any(|e| e["organization_id"] == org), "{org}");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_dataset() {
        let a = Simulator::new(99, SimOrgs::default()).history(NOW - DAY, NOW, 500);
        let b = Simulator::new(99, SimOrgs::default()).history(NOW - DAY, NOW, 500);
        let c = Simulator::new(100, SimOrgs::default()).history(NOW - DAY, NOW, 500);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn a_long_stream_stays_valid() {
        let sim = Simulator::new(3, SimOrgs::default());
        let events: Vec<Value> = sim.stream(NOW - 3 * DAY, 20.0).take(20_000).collect();
        assert_eq!(events.len(), 20_000);
        check_all(&events);
        let first = created_ms(&events[0]);
        let last = created_ms(&events[events.len() - 1]);
        assert!(last > first);
    }

    #[test]
    fn due_releases_events_only_when_their_time_comes() {
        let mut s = Simulator::new(5, SimOrgs::default()).stream(NOW, 10.0);
        let mut total = 0;
        for step in 1..=60 {
            let now = NOW + step * SEC;
            let due = s.due(now);
            assert!(due.iter().all(|e| created_ms(e) <= now));
            total += due.len();
        }
        // About 10 a second from the first second on, not only once the
        // episodes' later events come due.
        assert!((590..=700).contains(&total), "{total}");
    }
}
