//! The compliance feed: filters, cursors, and turning stored entries back
//! into activities.
//!
//! Cursors are activity ids, which encode the global commit sequence. Since
//! one writer commits in sequence order and readers see whole commits, a
//! position in that sequence is stable: paging never skips or repeats an
//! event, however many arrive meanwhile.

pub mod params;
pub mod render;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::app::App;
use crate::error::ApiError;
use crate::storage::{EventQuery, OrgKey, Scan};
use params::FeedParams;

/// A page of the feed.
#[derive(Debug, Serialize)]
pub struct Page {
    /// Events, in the requested order.
    pub data: Vec<Value>,
    /// Id of the first event in `data`.
    pub first_id: Option<String>,
    /// Id of the last event in `data`.
    pub last_id: Option<String>,
    /// Whether more events lie beyond this page in the direction read.
    pub has_more: bool,
    /// Where recording coverage begins for each organization in scope.
    pub coverage: Vec<Coverage>,
}

/// When an organization's recording began.
#[derive(Debug, Serialize)]
pub struct Coverage {
    /// Organization id.
    pub organization_id: String,
    /// Whether recording is on now.
    pub logging_enabled: bool,
    /// When recording was (last) switched on; nothing before it exists.
    pub logging_enabled_at: Option<String>,
}

/// The organizations a reader rooted at `scope_root` asked for.
pub fn resolve_orgs(
    app: &App,
    scope_root: OrgKey,
    requested: &[String],
) -> Result<Vec<OrgKey>, ApiError> {
    let all = app.subtree(scope_root);
    if requested.is_empty() {
        return Ok(all);
    }
    let mut out = Vec::new();
    for id in requested {
        match app.org(id) {
            Some(o) if all.contains(&o.key) => out.push(o.key),
            _ => {
                return Err(ApiError::forbidden(format!(
                    "organization {id:?} is not readable with this key"
                ))
                .with_field("organization_ids[]"));
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Builds the storage query for a resolved scope.
pub fn build_query(
    app: &App,
    orgs: &[OrgKey],
    p: &FeedParams,
    scan: Scan,
    cursor: Option<u64>,
    limit: usize,
) -> EventQuery {
    let org_ids: Vec<String> = orgs
        .iter()
        .filter_map(|k| app.org_by_key(*k))
        .map(|o| o.id)
        .collect();
    let mut trees: Vec<OrgKey> = orgs
        .iter()
        .filter_map(|k| app.org_by_key(*k))
        .map(|o| o.tree)
        .collect();
    trees.sort();
    trees.dedup();
    let mut email_bis = Vec::new();
    for e in &p.actor_emails {
        for oid in &org_ids {
            email_bis.push(app.master.blind_index(oid, "email", &e.to_lowercase()));
        }
    }
    let mut ip_bis = Vec::new();
    if let Some(ip) = &p.ip_address {
        for oid in &org_ids {
            ip_bis.push(app.master.blind_index(oid, "ip", ip));
        }
    }
    EventQuery {
        orgs: orgs.to_vec(),
        trees,
        types: p.activity_types.clone(),
        exclude_types: p.exclude_activity_types.clone(),
        actor_ids: p.actor_ids.clone(),
        actor_email_bis: email_bis,
        api_key_ids: p.api_key_ids.clone(),
        target_ids: p.target_ids.clone(),
        categories: p.categories.clone(),
        products: p.products.clone(),
        ip_bis,
        outcome: p.outcome.clone(),
        created_from: p.created_from,
        created_until: p.created_until,
        cursor_gseq: cursor,
        scan: Some(scan),
        limit,
    }
}

/// Reads one page of the feed for a reader rooted at `scope_root`.
pub fn page(app: &App, scope_root: OrgKey, p: &FeedParams) -> Result<Page, ApiError> {
    let orgs = resolve_orgs(app, scope_root, &p.organization_ids)?;
    // `before_id` pages towards the other end: scan the opposite way from
    // the cursor, then restore the requested order.
    let (scan, cursor, reverse) = match (p.order, &p.after_id, &p.before_id) {
        (o, Some(a), None) => (o, Some(a.gseq()), false),
        (o, None, Some(b)) => (flip(o), Some(b.gseq()), true),
        (o, None, None) => (o, None, false),
        (_, Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "before_id",
                "use after_id or before_id, not both",
            ));
        }
    };
    let q = build_query(app, &orgs, p, scan, cursor, p.limit + 1);
    let mut rows = app.store.query(&q)?;
    let has_more = rows.len() > p.limit;
    rows.truncate(p.limit);
    if reverse {
        rows.reverse();
    }
    let mut renderer = render::Renderer::new(app);
    let mut data = Vec::with_capacity(rows.len());
    for r in &rows {
        data.push(Value::Object(renderer.render(r, p.include_proof)?));
    }
    let id_of = |v: Option<&Value>| {
        v.and_then(|e| e.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let coverage = orgs
        .iter()
        .filter_map(|k| app.org_by_key(*k))
        .map(|o| Coverage {
            organization_id: o.id,
            logging_enabled: o.enabled,
            logging_enabled_at: o.logging_enabled_at.map(crate::time::fmt_ms),
        })
        .collect();
    Ok(Page {
        first_id: id_of(data.first()),
        last_id: id_of(data.last()),
        has_more,
        data,
        coverage,
    })
}

fn flip(s: Scan) -> Scan {
    match s {
        Scan::Asc => Scan::Desc,
        Scan::Desc => Scan::Asc,
    }
}

/// The filters of a request, echoed into its audit record.
pub fn filters_echo(raw_query: &str) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in form_urlencoded::parse(raw_query.as_bytes()) {
        let key = k.trim_end_matches("[]").to_string();
        // Personal filter values would land in a leaf entry, which can
        // never be erased: record that they were given, not what they were.
        let v = if key == "actor_emails" || key == "ip_address" {
            Value::String("(redacted)".into())
        } else {
            Value::String(v.into_owned())
        };
        match m.get_mut(&key) {
            Some(Value::Array(a)) => a.push(v),
            _ => {
                m.insert(key, Value::Array(vec![v]));
            }
        }
    }
    m
}
