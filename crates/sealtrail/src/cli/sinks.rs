//! `sealtrail sinks …`: managing push delivery over the HTTP API.

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::ClientArgs;
use super::client::{Http, print};

/// `sealtrail sinks …`
#[derive(Subcommand, Debug)]
pub enum SinksCmd {
    /// Create a sink. Give the whole body with --body-file, or the parts
    /// with flags (see docs/SIEM.md for each type's settings).
    Create {
        /// A JSON file holding the request body of POST /v1/compliance/sinks.
        #[arg(long, conflicts_with_all = ["kind", "destination"])]
        body_file: Option<std::path::PathBuf>,
        /// Label.
        #[arg(long, default_value = "sink")]
        name: String,
        /// webhook, splunk_hec, datadog, syslog, elastic or sentinel.
        #[arg(long = "type")]
        kind: Option<String>,
        /// The destination settings as JSON, e.g. '{"url": "https://…"}'.
        #[arg(long)]
        destination: Option<String>,
        /// A secret as name=value (e.g. token=…); repeatable.
        #[arg(long = "secret")]
        secrets: Vec<String>,
        /// The feed filter as a query string, e.g. 'activity_types[]=api_key.*'.
        #[arg(long)]
        filter: Option<String>,
        /// Organization whose events to deliver (default: the key's).
        #[arg(long = "org")]
        org: Option<String>,
        /// json or ocsf.
        #[arg(long)]
        encoding: Option<String>,
        /// Most events per request.
        #[arg(long)]
        batch_size: Option<usize>,
        /// now (default), beginning, an activity id or an RFC 3339 time.
        #[arg(long)]
        start_from: Option<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List sinks with their health and lag.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show one sink.
    Get {
        /// Sink id (`snk_…`).
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Stop delivering (the cursor stays; events wait in the log).
    Pause {
        /// Sink id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Deliver again from where it stopped.
    Resume {
        /// Sink id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Move the cursor: deliver again from an event, a time, or the start.
    Replay {
        /// Sink id.
        id: String,
        /// From this activity id (inclusive).
        #[arg(long, group = "from")]
        from_id: Option<String>,
        /// Every event that happened at or after this RFC 3339 time.
        #[arg(long, group = "from")]
        from_time: Option<String>,
        /// From the first event.
        #[arg(long, group = "from")]
        from_beginning: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Remove a sink.
    Delete {
        /// Sink id.
        id: String,
        #[command(flatten)]
        client: ClientArgs,
    },
}

/// The create body from flags.
#[allow(clippy::too_many_arguments)]
fn create_body(
    name: String,
    kind: Option<String>,
    destination: Option<String>,
    secrets: Vec<String>,
    filter: Option<String>,
    org: Option<String>,
    encoding: Option<String>,
    batch_size: Option<usize>,
    start_from: Option<String>,
) -> anyhow::Result<Value> {
    let kind = kind.ok_or_else(|| anyhow::anyhow!("give --type (or --body-file)"))?;
    let destination: Value = serde_json::from_str(
        &destination.ok_or_else(|| anyhow::anyhow!("give --destination as JSON"))?,
    )
    .map_err(|e| anyhow::anyhow!("--destination is not JSON: {e}"))?;
    let mut sec = Map::new();
    for s in secrets {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--secret takes name=value"))?;
        sec.insert(k.to_string(), json!(v));
    }
    let mut body = json!({
        "name": name,
        "type": kind,
        "destination": destination,
        "secrets": sec,
    });
    let o = body
        .as_object_mut()
        .ok_or_else(|| anyhow::anyhow!("internal: body is not an object"))?;
    let mut opt = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            o.insert(k.to_string(), v);
        }
    };
    opt("filter", filter.map(Value::from));
    opt("organization_id", org.map(Value::from));
    opt("encoding", encoding.map(Value::from));
    opt("batch_size", batch_size.map(Value::from));
    opt("start_from", start_from.map(Value::from));
    Ok(body)
}

/// Runs `sealtrail sinks …`.
pub async fn run(cmd: SinksCmd) -> anyhow::Result<()> {
    let path = |id: &str, action: &str| format!("/v1/compliance/sinks/{id}{action}");
    match cmd {
        SinksCmd::Create {
            body_file,
            name,
            kind,
            destination,
            secrets,
            filter,
            org,
            encoding,
            batch_size,
            start_from,
            client,
        } => {
            let h = Http::new(&client)?;
            let body = match body_file {
                Some(p) => {
                    let text = std::fs::read_to_string(&p)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))?;
                    serde_json::from_str(&text)
                        .map_err(|e| anyhow::anyhow!("{} is not JSON: {e}", p.display()))?
                }
                None => create_body(
                    name,
                    kind,
                    destination,
                    secrets,
                    filter,
                    org,
                    encoding,
                    batch_size,
                    start_from,
                )?,
            };
            print(
                &h.send(Method::POST, "/v1/compliance/sinks", &[], Some(body))
                    .await?,
            );
        }
        SinksCmd::List { client } => {
            let h = Http::new(&client)?;
            let v = h
                .send(Method::GET, "/v1/compliance/sinks", &[], None)
                .await?;
            for s in v["data"].as_array().into_iter().flatten() {
                let hl = &s["health"];
                println!(
                    "{}  {:<10}  {:<7}  lag {} events / {}s  last ok {}  {}",
                    s["id"].as_str().unwrap_or("?"),
                    s["type"].as_str().unwrap_or("?"),
                    hl["state"].as_str().unwrap_or("?"),
                    hl["lag_events"],
                    hl["lag_seconds"],
                    hl["last_success_at"].as_str().unwrap_or("never"),
                    s["name"].as_str().unwrap_or(""),
                );
                if let Some(e) = hl["last_error"].as_str() {
                    println!("    last error: {e}");
                }
            }
        }
        SinksCmd::Get { id, client } => {
            let h = Http::new(&client)?;
            print(&h.send(Method::GET, &path(&id, ""), &[], None).await?);
        }
        SinksCmd::Pause { id, client } => {
            let h = Http::new(&client)?;
            print(
                &h.send(Method::POST, &path(&id, "/pause"), &[], None)
                    .await?,
            );
        }
        SinksCmd::Resume { id, client } => {
            let h = Http::new(&client)?;
            print(
                &h.send(Method::POST, &path(&id, "/resume"), &[], None)
                    .await?,
            );
        }
        SinksCmd::Replay {
            id,
            from_id,
            from_time,
            from_beginning,
            client,
        } => {
            let h = Http::new(&client)?;
            let body = match (from_id, from_time, from_beginning) {
                (Some(i), _, _) => json!({"from_id": i}),
                (_, Some(t), _) => json!({"from_time": t}),
                (_, _, true) => json!({"from_beginning": true}),
                _ => anyhow::bail!("give --from-id, --from-time or --from-beginning"),
            };
            print(
                &h.send(Method::POST, &path(&id, "/replay"), &[], Some(body))
                    .await?,
            );
        }
        SinksCmd::Delete { id, client } => {
            let h = Http::new(&client)?;
            print(&h.send(Method::DELETE, &path(&id, ""), &[], None).await?);
        }
    }
    Ok(())
}
