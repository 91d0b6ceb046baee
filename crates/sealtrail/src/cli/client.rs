//! Client commands: they talk to a running server over its HTTP API, as
//! any administrator's script would.

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::ClientArgs;

/// `sealtrail orgs …`
#[derive(Subcommand, Debug)]
pub enum OrgsCmd {
    /// Create an organization.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Id to use (default: generated).
        #[arg(long)]
        id: Option<String>,
        /// Parent organization id.
        #[arg(long)]
        parent: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List organizations.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Link an organization under a parent.
    Link {
        /// Organization to link.
        id: String,
        /// New parent.
        #[arg(long)]
        parent: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Start recording for an organization.
    Enable {
        /// Organization id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Stop recording for an organization.
    Disable {
        /// Organization id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// `sealtrail keys …`
#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// Create an ingest key (for a source) or a compliance key (for a reader).
    Create {
        /// `ingest` or `compliance`.
        #[arg(long)]
        kind: String,
        /// Organization id.
        #[arg(long = "org")]
        org: String,
        /// Product (ingest keys).
        #[arg(long)]
        product: Option<String>,
        /// Scope (compliance keys); repeat for several.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Label.
        #[arg(long, default_value = "")]
        name: String,
        /// Expiry, RFC 3339.
        #[arg(long)]
        expires_at: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List keys.
    List {
        /// Only keys of this organization.
        #[arg(long = "org")]
        org: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Revoke a key.
    Revoke {
        /// Key id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// Filters of the feed, as flags.
#[derive(Args, Debug, Clone, Default)]
pub struct FeedFilters {
    /// Activity type or `prefix.*`; repeatable.
    #[arg(long = "type")]
    pub types: Vec<String>,
    /// Exclude an activity type or `prefix.*`; repeatable.
    #[arg(long = "exclude-type")]
    pub exclude_types: Vec<String>,
    /// Actor id; repeatable.
    #[arg(long = "actor")]
    pub actors: Vec<String>,
    /// Actor email; repeatable.
    #[arg(long = "actor-email")]
    pub actor_emails: Vec<String>,
    /// API key id; repeatable.
    #[arg(long = "api-key")]
    pub api_keys: Vec<String>,
    /// Organization id; repeatable.
    #[arg(long = "org")]
    pub orgs: Vec<String>,
    /// Target id; repeatable.
    #[arg(long = "target")]
    pub targets: Vec<String>,
    /// Category; repeatable.
    #[arg(long = "category")]
    pub categories: Vec<String>,
    /// Product; repeatable.
    #[arg(long = "product")]
    pub products: Vec<String>,
    /// Actor IP address.
    #[arg(long)]
    pub ip: Option<String>,
    /// success or failure.
    #[arg(long)]
    pub outcome: Option<String>,
    /// Created at or after (RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// Created before (RFC 3339).
    #[arg(long)]
    pub until: Option<String>,
}

impl FeedFilters {
    /// As query pairs.
    pub fn pairs(&self) -> Vec<(String, String)> {
        let mut v = Vec::new();
        let many = |v: &mut Vec<(String, String)>, k: &str, xs: &[String]| {
            for x in xs {
                v.push((format!("{k}[]"), x.clone()));
            }
        };
        many(&mut v, "activity_types", &self.types);
        many(&mut v, "exclude_activity_types", &self.exclude_types);
        many(&mut v, "actor_ids", &self.actors);
        many(&mut v, "actor_emails", &self.actor_emails);
        many(&mut v, "api_key_ids", &self.api_keys);
        many(&mut v, "organization_ids", &self.orgs);
        many(&mut v, "target_ids", &self.targets);
        many(&mut v, "categories", &self.categories);
        many(&mut v, "products", &self.products);
        if let Some(ip) = &self.ip {
            v.push(("ip_address".into(), ip.clone()));
        }
        if let Some(o) = &self.outcome {
            v.push(("outcome".into(), o.clone()));
        }
        if let Some(s) = &self.since {
            v.push(("created_at.gte".into(), s.clone()));
        }
        if let Some(u) = &self.until {
            v.push(("created_at.lt".into(), u.clone()));
        }
        v
    }
}

/// `sealtrail activities …`
#[derive(Subcommand, Debug)]
pub enum ActivitiesCmd {
    /// List activities (newest first), following cursors up to --max.
    List {
        #[command(flatten)]
        filters: FeedFilters,
        /// Page size.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Stop after this many activities.
        #[arg(long, default_value_t = 100)]
        max: usize,
        /// Oldest first.
        #[arg(long)]
        asc: bool,
        /// Print one JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Follow new activities as they arrive (polling with a cursor, so none
    /// is missed or repeated).
    Tail {
        #[command(flatten)]
        filters: FeedFilters,
        /// Poll interval in milliseconds.
        #[arg(long, default_value_t = 1000)]
        interval_ms: u64,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
        /// Stop after this many activities (0: never).
        #[arg(long, default_value_t = 0)]
        max: usize,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show one activity.
    Get {
        /// Activity id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

pub(crate) struct Http {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Http {
    pub(crate) fn new(c: &ClientArgs) -> anyhow::Result<Http> {
        let key = c.key.clone().ok_or_else(|| {
            anyhow::anyhow!("an API key is needed: pass --key or set SEALTRAIL_KEY")
        })?;
        Ok(Http {
            base: c.url.trim_end_matches('/').to_string(),
            key,
            http: reqwest::Client::new(),
        })
    }

    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(String, String)],
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-api-key", &self.key)
            .query(query);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach {}: {e}", self.base))?;
        let status = resp.status();
        let text = resp.text().await?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        if !status.is_success() {
            let msg = v.get("message").and_then(Value::as_str).unwrap_or(&text);
            let field = v
                .get("field")
                .and_then(Value::as_str)
                .map(|f| format!(" (field: {f})"))
                .unwrap_or_default();
            anyhow::bail!("{status}: {msg}{field}");
        }
        Ok(v)
    }
}

pub(crate) fn print(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// Runs `sealtrail orgs …`.
pub async fn orgs(cmd: OrgsCmd) -> anyhow::Result<()> {
    use reqwest::Method;
    match cmd {
        OrgsCmd::Create {
            name,
            id,
            parent,
            client,
        } => {
            let h = Http::new(&client)?;
            let v = h
                .send(
                    Method::POST,
                    "/v1/operator/organizations",
                    &[],
                    Some(json!({"name": name, "id": id, "parent_id": parent})),
                )
                .await?;
            print(&v);
        }
        OrgsCmd::List { client } => {
            let h = Http::new(&client)?;
            let v = h
                .send(Method::GET, "/v1/operator/organizations", &[], None)
                .await?;
            println!(
                "{:<28} {:<28} {:<8} {:<25} NAME",
                "ID", "PARENT", "ENABLED", "ENABLED AT"
            );
            for o in v["data"].as_array().cloned().unwrap_or_default() {
                println!(
                    "{:<28} {:<28} {:<8} {:<25} {}",
                    o["id"].as_str().unwrap_or(""),
                    o["parent_id"].as_str().unwrap_or("-"),
                    o["logging_enabled"].as_bool().unwrap_or(false),
                    o["logging_enabled_at"].as_str().unwrap_or("-"),
                    o["name"].as_str().unwrap_or("")
                );
            }
        }
        OrgsCmd::Link { id, parent, client } => {
            let h = Http::new(&client)?;
            print(
                &h.send(
                    Method::POST,
                    &format!("/v1/operator/organizations/{id}/link"),
                    &[],
                    Some(json!({"parent_id": parent})),
                )
                .await?,
            );
        }
        OrgsCmd::Enable { id, client } => {
            let h = Http::new(&client)?;
            print(
                &h.send(
                    Method::POST,
                    &format!("/v1/operator/organizations/{id}/enable"),
                    &[],
                    None,
                )
                .await?,
            );
        }
        OrgsCmd::Disable { id, client } => {
            let h = Http::new(&client)?;
            print(
                &h.send(
                    Method::POST,
                    &format!("/v1/operator/organizations/{id}/disable"),
                    &[],
                    None,
                )
                .await?,
            );
        }
    }
    Ok(())
}

/// Runs `sealtrail keys …`.
pub async fn keys(cmd: KeysCmd) -> anyhow::Result<()> {
    use reqwest::Method;
    match cmd {
        KeysCmd::Create {
            kind,
            org,
            product,
            scopes,
            name,
            expires_at,
            client,
        } => {
            let h = Http::new(&client)?;
            let v = h
                .send(
                    Method::POST,
                    "/v1/operator/keys",
                    &[],
                    Some(json!({"kind": kind, "organization_id": org, "product": product, "scopes": scopes, "name": name, "expires_at": expires_at})),
                )
                .await?;
            print(&v);
            eprintln!("The token is shown once; store it now.");
        }
        KeysCmd::List { org, client } => {
            let h = Http::new(&client)?;
            let q: Vec<(String, String)> = org
                .map(|o| vec![("organization_id".to_string(), o)])
                .unwrap_or_default();
            let v = h.send(Method::GET, "/v1/operator/keys", &q, None).await?;
            println!(
                "{:<28} {:<11} {:<28} {:<40} REVOKED",
                "ID", "KIND", "ORG", "PRODUCT/SCOPES"
            );
            for k in v["data"].as_array().cloned().unwrap_or_default() {
                let what = match k["product"].as_str() {
                    Some(p) => p.to_string(),
                    None => k["scopes"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .unwrap_or_default(),
                };
                println!(
                    "{:<28} {:<11} {:<28} {:<40} {}",
                    k["id"].as_str().unwrap_or(""),
                    k["kind"].as_str().unwrap_or(""),
                    k["organization_id"].as_str().unwrap_or("-"),
                    what,
                    k["revoked_at"].as_str().unwrap_or("-")
                );
            }
        }
        KeysCmd::Revoke { id, client } => {
            let h = Http::new(&client)?;
            print(
                &h.send(
                    Method::POST,
                    &format!("/v1/operator/keys/{id}/revoke"),
                    &[],
                    None,
                )
                .await?,
            );
        }
    }
    Ok(())
}

fn line(e: &Value) -> String {
    format!(
        "{}  {:<24} {:<10} {:<30} {:<24} {}",
        e["created_at"].as_str().unwrap_or(""),
        e["type"].as_str().unwrap_or(""),
        e["outcome"].as_str().unwrap_or(""),
        e["actor"]["email"]
            .as_str()
            .or(e["actor"]["id"].as_str())
            .unwrap_or("-"),
        e["organization_id"].as_str().unwrap_or(""),
        e["id"].as_str().unwrap_or("")
    )
}

/// Runs `sealtrail activities …`.
pub async fn activities(cmd: ActivitiesCmd) -> anyhow::Result<()> {
    use reqwest::Method;
    match cmd {
        ActivitiesCmd::List {
            filters,
            limit,
            max,
            asc,
            json,
            client,
        } => {
            let h = Http::new(&client)?;
            let mut seen = 0usize;
            let mut cursor: Option<String> = None;
            loop {
                let mut q = filters.pairs();
                q.push((
                    "limit".into(),
                    limit.min(max.saturating_sub(seen)).max(1).to_string(),
                ));
                if asc {
                    q.push(("order".into(), "asc".into()));
                }
                if let Some(c) = &cursor {
                    q.push(("after_id".into(), c.clone()));
                }
                let page = h
                    .send(Method::GET, "/v1/compliance/activities", &q, None)
                    .await?;
                for e in page["data"].as_array().cloned().unwrap_or_default() {
                    if json {
                        println!("{e}");
                    } else {
                        println!("{}", line(&e));
                    }
                    seen += 1;
                }
                cursor = page["last_id"].as_str().map(str::to_string);
                if !page["has_more"].as_bool().unwrap_or(false) || seen >= max || cursor.is_none() {
                    break;
                }
            }
        }
        ActivitiesCmd::Tail {
            filters,
            interval_ms,
            json,
            max,
            client,
        } => {
            let h = Http::new(&client)?;
            // Start from the newest event, then read forward.
            let mut q = filters.pairs();
            q.push(("limit".into(), "1".into()));
            let first = h
                .send(Method::GET, "/v1/compliance/activities", &q, None)
                .await?;
            let mut cursor = first["first_id"].as_str().map(str::to_string);
            let mut seen = 0usize;
            loop {
                let mut q = filters.pairs();
                q.push(("order".into(), "asc".into()));
                q.push(("limit".into(), "1000".into()));
                if let Some(c) = &cursor {
                    q.push(("after_id".into(), c.clone()));
                }
                let page = h
                    .send(Method::GET, "/v1/compliance/activities", &q, None)
                    .await?;
                for e in page["data"].as_array().cloned().unwrap_or_default() {
                    if json {
                        println!("{e}");
                    } else {
                        println!("{}", line(&e));
                    }
                    seen += 1;
                    if max > 0 && seen >= max {
                        return Ok(());
                    }
                }
                if let Some(l) = page["last_id"].as_str() {
                    cursor = Some(l.to_string());
                }
                if !page["has_more"].as_bool().unwrap_or(false) {
                    tokio::time::sleep(std::time::Duration::from_millis(interval_ms)).await;
                }
            }
        }
        ActivitiesCmd::Get { id, client } => {
            let h = Http::new(&client)?;
            print(
                &h.send(
                    Method::GET,
                    &format!("/v1/compliance/activities/{id}"),
                    &[],
                    None,
                )
                .await?,
            );
        }
    }
    Ok(())
}

/// `sealtrail privacy …` (compliance key with `delete:subject_data`).
#[derive(Subcommand, Debug)]
pub enum PrivacyCmd {
    /// Erase a data subject's personal data (GDPR Art. 17); proofs stay valid.
    Erase {
        /// The subject's id as sources send it.
        #[arg(long = "subject-id")]
        subject_id: Option<String>,
        /// The subject's email.
        #[arg(long)]
        email: Option<String>,
        /// Limit to these organizations (default: every one the key reads).
        #[arg(long = "org")]
        orgs: Vec<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show an erasure's status.
    Erasure {
        /// Erasure id (`era_…`).
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show retention, or set it with --org and --days (or --keep-forever).
    Retention {
        /// Organization to set.
        #[arg(long = "org")]
        org: Option<String>,
        /// Days to keep event bodies.
        #[arg(long)]
        days: Option<u32>,
        /// Clear the organization's retention (keep bodies forever).
        #[arg(long)]
        keep_forever: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Place a legal hold on an organization, or on a subject in it.
    Hold {
        /// Organization id.
        #[arg(long = "org")]
        org: String,
        /// Hold only this subject (by id).
        #[arg(long = "subject-id")]
        subject_id: Option<String>,
        /// Hold only this subject (by email).
        #[arg(long)]
        email: Option<String>,
        /// Case reference.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Release a legal hold.
    Release {
        /// Hold id (`hold_…`).
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List legal holds.
    Holds {
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// Runs `sealtrail privacy …`.
pub async fn privacy(cmd: PrivacyCmd) -> anyhow::Result<()> {
    use reqwest::Method;
    match cmd {
        PrivacyCmd::Erase {
            subject_id,
            email,
            orgs,
            client,
        } => {
            let h = Http::new(&client)?;
            let body =
                json!({"subject": {"id": subject_id, "email": email}, "organization_ids": orgs});
            print(
                &h.send(Method::POST, "/v1/compliance/erasures", &[], Some(body))
                    .await?,
            );
        }
        PrivacyCmd::Erasure { id, client } => {
            let h = Http::new(&client)?;
            print(
                &h.send(
                    Method::GET,
                    &format!("/v1/compliance/erasures/{id}"),
                    &[],
                    None,
                )
                .await?,
            );
        }
        PrivacyCmd::Retention {
            org,
            days,
            keep_forever,
            client,
        } => {
            let h = Http::new(&client)?;
            match org {
                Some(org) => {
                    if days.is_none() && !keep_forever {
                        anyhow::bail!("give --days N or --keep-forever");
                    }
                    let body = json!({"organization_id": org, "days": if keep_forever { None } else { days }});
                    print(
                        &h.send(Method::PUT, "/v1/compliance/retention", &[], Some(body))
                            .await?,
                    );
                }
                None => print(
                    &h.send(Method::GET, "/v1/compliance/retention", &[], None)
                        .await?,
                ),
            }
        }
        PrivacyCmd::Hold {
            org,
            subject_id,
            email,
            reason,
            client,
        } => {
            let h = Http::new(&client)?;
            let subject = if subject_id.is_some() || email.is_some() {
                json!({"id": subject_id, "email": email})
            } else {
                Value::Null
            };
            let body = json!({"organization_id": org, "subject": subject, "reason": reason});
            print(
                &h.send(Method::POST, "/v1/compliance/legal_holds", &[], Some(body))
                    .await?,
            );
        }
        PrivacyCmd::Release { id, client } => {
            let h = Http::new(&client)?;
            print(
                &h.send(
                    Method::POST,
                    &format!("/v1/compliance/legal_holds/{id}/release"),
                    &[],
                    None,
                )
                .await?,
            );
        }
        PrivacyCmd::Holds { client } => {
            let h = Http::new(&client)?;
            print(
                &h.send(Method::GET, "/v1/compliance/legal_holds", &[], None)
                    .await?,
            );
        }
    }
    Ok(())
}
