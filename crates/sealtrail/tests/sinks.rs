//! Sink promises: every event reaches the destination, in log order,
//! through 5xx answers, 429 with Retry-After, answers slower than the
//! timeout and connection resets; a repeat happens only after such a
//! fault and carries the same id. Receivers enforce each destination's
//! documented contract strictly and record what they accepted.

mod support;

use std::collections::{HashMap, HashSet};
use std::io::Read as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use support::http::{Reply, Req, serve};
use support::{Env, assert_in_order_at_least_once, ingest, wait_for};
use tokio::time::Instant;

const EVENTS: usize = 300;
const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The faults a receiver injects, by the number of the request.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    None,
    ServerError,
    TooMany,
    Slow,
    Reset,
}

fn plan(n: usize) -> Fault {
    match n {
        2 | 11 => Fault::ServerError,
        4 | 9 => Fault::TooMany,
        6 | 13 => Fault::Slow,
        8 | 15 => Fault::Reset,
        _ => Fault::None,
    }
}

/// What a receiver saw.
#[derive(Default)]
struct Recv {
    requests: usize,
    accepted: Vec<String>,
    violations: Vec<String>,
    /// (time of a 429, time of the next request).
    retry_gaps: Vec<(Instant, Option<Instant>)>,
    faults: Vec<Fault>,
    extra: HashMap<String, usize>,
}

impl Recv {
    /// Applies the fault plan to a well-formed request carrying `ids`.
    fn answer(&mut self, req: &Req, ids: Vec<String>, ok: Reply) -> Reply {
        self.requests += 1;
        if let Some((_, next @ None)) = self.retry_gaps.last_mut() {
            *next = Some(req.at);
        }
        let f = plan(self.requests);
        self.faults.push(f);
        match f {
            Fault::None => {
                self.accepted.extend(ids);
                ok
            }
            Fault::ServerError => Reply::json(503, json!({"error": "try later"})),
            Fault::TooMany => {
                self.retry_gaps.push((req.at, None));
                Reply::Status(
                    429,
                    vec![("retry-after".into(), "1".into())],
                    b"slow down".to_vec(),
                )
            }
            // Accepted, but the answer comes after the client gave up: the
            // batch will be sent again, and the repeats carry the same ids.
            Fault::Slow => {
                self.accepted.extend(ids);
                Reply::Slow(Duration::from_millis(1500), Box::new(ok))
            }
            Fault::Reset => Reply::Reset,
        }
    }

    fn reject(&mut self, why: String) -> Reply {
        self.violations.push(why.clone());
        Reply::json(400, json!({"error": why}))
    }
}

type Shared = Arc<Mutex<Recv>>;

fn distinct(r: &Shared) -> usize {
    r.lock()
        .unwrap()
        .accepted
        .iter()
        .collect::<HashSet<_>>()
        .len()
}

fn sink_body(kind: &str, destination: Value, secrets: Value) -> Value {
    json!({
        "name": format!("{kind} under test"),
        "type": kind,
        "filter": {"activity_types": ["file.downloaded"]},
        "batch_size": 25,
        "timeout_ms": 700,
        "backoff": {"initial_ms": 50, "max_ms": 400},
        "destination": destination,
        "secrets": secrets,
        "start_from": "beginning",
    })
}

async fn create_sink(env: &Env, body: Value) -> Value {
    let (s, v) = env
        .call(Method::POST, "/v1/compliance/sinks", &env.ck, Some(body))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

/// Ingests, waits for delivery, and checks order, completeness, the
/// faults really happened and Retry-After was honoured.
async fn deliver_through_faults(env: &Env, recv: &Shared) {
    let expected = ingest(&env.http, &env.base, &env.ik, 0, EVENTS).await;
    wait_for(90, "every event to arrive", || distinct(recv) >= EVENTS).await;
    let r = recv.lock().unwrap();
    assert!(
        r.violations.is_empty(),
        "contract violations: {:?}",
        r.violations
    );
    let repeats = assert_in_order_at_least_once(&expected, &r.accepted);
    for f in [
        Fault::ServerError,
        Fault::TooMany,
        Fault::Slow,
        Fault::Reset,
    ] {
        assert!(r.faults.contains(&f), "fault {f:?} was never injected");
    }
    // Slow answers make the sender time out and resend what was accepted.
    assert!(repeats > 0, "a timed-out batch must have been resent");
    for (at, next) in &r.retry_gaps {
        let next = next.expect("a request after the 429");
        assert!(
            next.duration_since(*at) >= Duration::from_millis(950),
            "Retry-After: 1 not honoured: retried after {:?}",
            next.duration_since(*at)
        );
    }
}

async fn sink_view(env: &Env, id: &str) -> Value {
    let (s, v) = env
        .call(
            Method::GET,
            &format!("/v1/compliance/sinks/{id}"),
            &env.ck,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

fn webhook_check(req: &Req, key: &[u8]) -> Result<Vec<String>, String> {
    if req.method != "POST" || req.target != "/hook" {
        return Err(format!("unexpected {} {}", req.method, req.target));
    }
    if !req
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json"))
    {
        return Err("content-type is not application/json".into());
    }
    let id = req.header("webhook-id").ok_or("no webhook-id")?;
    let ts: i64 = req
        .header("webhook-timestamp")
        .ok_or("no webhook-timestamp")?
        .parse()
        .map_err(|_| "webhook-timestamp is not an integer")?;
    let now = jiff::Timestamp::now().as_second();
    if (now - ts).abs() > 300 {
        return Err(format!(
            "webhook-timestamp {ts} is not within 5 minutes of {now}"
        ));
    }
    let sigs = req
        .header("webhook-signature")
        .ok_or("no webhook-signature")?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&req.body);
    let want = format!("v1,{}", B64.encode(mac.finalize().into_bytes()));
    if !sigs.split(' ').any(|s| s == want) {
        return Err(format!("bad signature {sigs}"));
    }
    let v: Value = serde_json::from_slice(&req.body).map_err(|e| e.to_string())?;
    if v["type"] != "compliance.activities" {
        return Err("body type".into());
    }
    let ids: Vec<String> = v["data"]["activities"]
        .as_array()
        .ok_or("no activities")?
        .iter()
        .map(|a| a["id"].as_str().unwrap_or_default().to_string())
        .collect();
    let first = ids.first().ok_or("empty batch")?;
    let last = ids.last().ok_or("empty batch")?;
    let want_id = if ids.len() == 1 {
        format!("msg_{first}")
    } else {
        format!("msg_{first}_{last}")
    };
    if id != want_id {
        return Err(format!("webhook-id {id} does not name the batch"));
    }
    Ok(ids)
}

async fn webhook_receiver() -> (String, Shared) {
    let key = B64
        .decode(WEBHOOK_SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let st: Shared = Arc::default();
    let s2 = st.clone();
    let addr = serve(Arc::new(move |req: Req| {
        let mut s = s2.lock().unwrap();
        match webhook_check(&req, &key) {
            Ok(ids) => s.answer(&req, ids, Reply::empty(204)),
            Err(e) => s.reject(e),
        }
    }))
    .await;
    (format!("http://{addr}/hook"), st)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_arrive_signed_in_order_through_faults() {
    let env = Env::start().await;
    let (url, recv) = webhook_receiver().await;
    let v = create_sink(
        &env,
        sink_body(
            "webhook",
            json!({"url": url}),
            json!({"secret": WEBHOOK_SECRET}),
        ),
    )
    .await;
    deliver_through_faults(&env, &recv).await;
    let id = v["id"].as_str().unwrap();
    // Health reflects the faults and the catch-up.
    let mut view = sink_view(&env, id).await;
    for _ in 0..50 {
        if view["health"]["lag_events"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        view = sink_view(&env, id).await;
    }
    assert_eq!(view["health"]["lag_events"], 0, "{view}");
    assert!(view["health"]["last_success_at"].is_string(), "{view}");
    assert!(view["health"]["last_error"].is_string(), "{view}");
    assert!(view["health"]["delivered_events"].as_u64().unwrap() >= EVENTS as u64);
}

fn hec_check(req: &Req, acks: &mut u64) -> Result<Vec<String>, String> {
    if req.header("authorization") != Some("Splunk hec-token-1") {
        return Err(format!("authorization {:?}", req.header("authorization")));
    }
    if req.header("x-splunk-request-channel").is_none() {
        return Err("acknowledgement is on but no channel header".into());
    }
    let first = req.body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err("HEC batches are concatenated objects, not an array".into());
    }
    let mut ids = Vec::new();
    for obj in serde_json::Deserializer::from_slice(&req.body).into_iter::<Value>() {
        let o = obj.map_err(|e| format!("not concatenated JSON objects: {e}"))?;
        if !o["time"].is_number() || !o["event"].is_object() {
            return Err(format!("event object lacks time or event: {o}"));
        }
        for k in ["host", "source", "sourcetype"] {
            if !o[k].is_string() {
                return Err(format!("event object lacks {k}"));
            }
        }
        if o["sourcetype"] != "sealtrail:activity" || o["index"] != "audit" {
            return Err("sourcetype or index not as configured".into());
        }
        let id = o["event"]["id"].as_str().unwrap_or_default().to_string();
        if o["fields"]["activity_id"] != id {
            return Err("fields.activity_id differs from the event id".into());
        }
        ids.push(id);
    }
    *acks += 1;
    Ok(ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splunk_hec_receives_concatenated_events_acknowledged_in_order() {
    let env = Env::start().await;
    let st: Shared = Arc::default();
    let s2 = st.clone();
    let ack_seq = Arc::new(Mutex::new(0u64));
    let polls: Arc<Mutex<HashMap<u64, usize>>> = Arc::default();
    let addr = serve(Arc::new(move |req: Req| {
        let mut s = s2.lock().unwrap();
        match req.target.as_str() {
            "/services/collector/event" => {
                let mut n = ack_seq.lock().unwrap();
                match hec_check(&req, &mut n) {
                    Ok(ids) => {
                        let ok =
                            Reply::json(200, json!({"text": "Success", "code": 0, "ackId": *n}));
                        s.answer(&req, ids, ok)
                    }
                    Err(e) => s.reject(e),
                }
            }
            "/services/collector/ack" => {
                let v: Value = serde_json::from_slice(&req.body).unwrap_or_default();
                let Some(id) = v["acks"][0].as_u64() else {
                    return s.reject("ack poll without acks".into());
                };
                *s.extra.entry("ack_polls".into()).or_default() += 1;
                // The first poll for each batch is not yet indexed.
                let mut p = polls.lock().unwrap();
                let seen = p.entry(id).or_default();
                *seen += 1;
                Reply::json(200, json!({"acks": {id.to_string(): *seen > 1}}))
            }
            other => s.reject(format!("unexpected path {other}")),
        }
    }))
    .await;
    create_sink(
        &env,
        sink_body(
            "splunk_hec",
            json!({"url": format!("http://{addr}"), "index": "audit", "ack": true, "ack_timeout_ms": 5000}),
            json!({"token": "hec-token-1"}),
        ),
    )
    .await;
    deliver_through_faults(&env, &st).await;
    assert!(st.lock().unwrap().extra["ack_polls"] > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datadog_receives_gzip_batches_within_limits_in_order() {
    let env = Env::start().await;
    let st: Shared = Arc::default();
    let s2 = st.clone();
    let addr = serve(Arc::new(move |req: Req| {
        let mut s = s2.lock().unwrap();
        let check = || -> Result<Vec<String>, String> {
            if req.method != "POST" || req.target != "/api/v2/logs" {
                return Err(format!("{} {}", req.method, req.target));
            }
            if req.header("dd-api-key") != Some("dd-key-1") {
                return Err("DD-API-KEY missing or wrong".into());
            }
            if req.header("content-encoding") != Some("gzip") {
                return Err("payload is not gzip".into());
            }
            if req.header("content-type") != Some("application/json") {
                return Err("content-type".into());
            }
            let mut raw = Vec::new();
            flate2::read::GzDecoder::new(&req.body[..])
                .read_to_end(&mut raw)
                .map_err(|e| format!("bad gzip: {e}"))?;
            if raw.len() > 5 * 1024 * 1024 {
                return Err(format!("payload of {} bytes exceeds 5 MB", raw.len()));
            }
            let v: Vec<Value> = serde_json::from_slice(&raw).map_err(|e| e.to_string())?;
            if v.is_empty() || v.len() > 1000 {
                return Err(format!("{} entries", v.len()));
            }
            let mut ids = Vec::new();
            for e in v {
                if e["ddsource"] != "sealtrail" || e["service"] != "sealtrail" {
                    return Err("ddsource/service".into());
                }
                let m: Value = serde_json::from_str(e["message"].as_str().ok_or("no message")?)
                    .map_err(|e| e.to_string())?;
                if m["id"] != e["activity_id"] {
                    return Err("activity_id".into());
                }
                ids.push(m["id"].as_str().unwrap_or_default().to_string());
            }
            Ok(ids)
        };
        match check() {
            Ok(ids) => s.answer(&req, ids, Reply::json(202, json!({}))),
            Err(e) => s.reject(e),
        }
    }))
    .await;
    create_sink(
        &env,
        sink_body(
            "datadog",
            json!({"url": format!("http://{addr}"), "ddtags": "env:test"}),
            json!({"api_key": "dd-key-1"}),
        ),
    )
    .await;
    deliver_through_faults(&env, &st).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elastic_bulk_stores_each_event_once_retrying_failed_items() {
    let env = Env::start().await;
    let st: Shared = Arc::default();
    let stored: Arc<Mutex<Vec<String>>> = Arc::default();
    let (s2, stored2) = (st.clone(), stored.clone());
    let addr = serve(Arc::new(move |req: Req| {
        let mut s = s2.lock().unwrap();
        let check = || -> Result<Vec<(String, Value)>, String> {
            if req.method != "POST" || req.target != "/_bulk" {
                return Err(format!("{} {}", req.method, req.target));
            }
            if req.header("content-type") != Some("application/x-ndjson") {
                return Err("content-type is not application/x-ndjson".into());
            }
            if req.header("authorization") != Some("ApiKey es-key-1") {
                return Err("authorization".into());
            }
            if req.body.last() != Some(&b'\n') {
                return Err("bulk body must end with a newline".into());
            }
            let text = std::str::from_utf8(&req.body).map_err(|e| e.to_string())?;
            let lines: Vec<&str> = text.lines().collect();
            if !lines.len().is_multiple_of(2) {
                return Err("odd number of bulk lines".into());
            }
            let mut items = Vec::new();
            for pair in lines.chunks(2) {
                let a: Value = serde_json::from_str(pair[0]).map_err(|e| e.to_string())?;
                let d: Value = serde_json::from_str(pair[1]).map_err(|e| e.to_string())?;
                let c = a.get("create").ok_or("action is not create")?;
                if c["_index"] != "sealtrail-test" {
                    return Err("index".into());
                }
                let id = c["_id"].as_str().ok_or("no _id")?.to_string();
                if d["id"] != id || !d["@timestamp"].is_string() {
                    return Err("document id or @timestamp".into());
                }
                items.push((id, d));
            }
            Ok(items)
        };
        let items = match check() {
            Ok(i) => i,
            Err(e) => return s.reject(e),
        };
        let ids: Vec<String> = items.iter().map(|(id, _)| id.clone()).collect();
        // Every third request has one item refused for back-pressure (429)
        // in the middle, the rest stored: the sender must retry that item
        // and may resend the later ones, which then conflict (409).
        let refuse_at = (s.requests % 3 == 0 && ids.len() > 5).then_some(5);
        let mut st_ids = stored2.lock().unwrap();
        let mut results = Vec::new();
        let mut newly = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            if Some(i) == refuse_at {
                results.push(json!({"create": {"_id": id, "status": 429, "error": {"type": "es_rejected_execution_exception", "reason": "queue full"}}}));
            } else if st_ids.contains(id) {
                results.push(json!({"create": {"_id": id, "status": 409, "error": {"type": "version_conflict_engine_exception", "reason": "document already exists"}}}));
            } else {
                newly.push(id.clone());
                results.push(json!({"create": {"_id": id, "status": 201, "result": "created"}}));
            }
        }
        let ok = Reply::json(200, json!({"took": 1, "errors": refuse_at.is_some(), "items": results}));
        let before = s.requests;
        let reply = s.answer(&req, ids, ok);
        if matches!(plan(before + 1), Fault::None | Fault::Slow) {
            st_ids.extend(newly);
        }
        reply
    }))
    .await;
    create_sink(
        &env,
        sink_body(
            "elastic",
            json!({"url": format!("http://{addr}"), "index": "sealtrail-test"}),
            json!({"api_key": "es-key-1"}),
        ),
    )
    .await;
    // What was sent is checked for order; what was stored, for
    // completeness: Elastic stores the items of one request independently.
    deliver_through_faults(&env, &st).await;
    wait_for(30, "every event to be stored", || {
        stored.lock().unwrap().len() >= EVENTS
    })
    .await;
    let stored = stored.lock().unwrap().clone();
    let set: HashSet<&String> = stored.iter().collect();
    assert_eq!(set.len(), stored.len(), "an event was stored twice");
    assert_eq!(set.len(), EVENTS, "stored {} of {EVENTS}", set.len());
    let sent = st.lock().unwrap().accepted.clone();
    let sent: HashSet<&String> = sent.iter().collect();
    assert!(set.iter().all(|id| sent.contains(id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_gets_a_token_and_ingests_rows_in_order() {
    let env = Env::start().await;
    let st: Shared = Arc::default();
    let s2 = st.clone();
    let issued: Arc<Mutex<Vec<String>>> = Arc::default();
    let addr = serve(Arc::new(move |req: Req| {
        let mut s = s2.lock().unwrap();
        let mut tokens = issued.lock().unwrap();
        if req.target == "/tenant-1/oauth2/v2.0/token" {
            if req.header("content-type") != Some("application/x-www-form-urlencoded") {
                return s.reject("token request is not a form".into());
            }
            let form: HashMap<String, String> = form_urlencoded::parse(&req.body)
                .into_owned()
                .collect();
            let want = [
                ("grant_type", "client_credentials"),
                ("client_id", "app-1"),
                ("client_secret", "sentinel-secret-1"),
                ("scope", "https://monitor.azure.com//.default"),
            ];
            for (k, v) in want {
                if form.get(k).map(String::as_str) != Some(v) {
                    return s.reject(format!("token form field {k} is {:?}", form.get(k)));
                }
            }
            let t = format!("tok-{}", tokens.len());
            tokens.push(t.clone());
            return Reply::json(200, json!({"token_type": "Bearer", "expires_in": 3599, "access_token": t}));
        }
        let path = "/dataCollectionRules/dcr-0123abcd/streams/Custom-SealtrailActivity_CL?api-version=2023-01-01";
        if req.method != "POST" || req.target != path {
            return s.reject(format!("{} {}", req.method, req.target));
        }
        let Some(tok) = req.header("authorization").and_then(|a| a.strip_prefix("Bearer ")) else {
            return s.reject("no bearer token".into());
        };
        // The first token is revoked after a while: the sender must fetch
        // a new one instead of failing.
        if !tokens.iter().any(|t| t == tok) || (tok == "tok-0" && s.requests >= 5) {
            *s.extra.entry("unauthorized".into()).or_default() += 1;
            return Reply::json(401, json!({"error": {"code": "InvalidToken"}}));
        }
        if req.header("content-type") != Some("application/json") {
            return s.reject("content-type".into());
        }
        if req.body.len() > 1024 * 1024 {
            return s.reject("call over 1 MB".into());
        }
        let rows: Vec<Value> = match serde_json::from_slice(&req.body) {
            Ok(r) => r,
            Err(e) => return s.reject(e.to_string()),
        };
        if rows.iter().any(|r| !r["TimeGenerated"].is_string()) {
            return s.reject("row without TimeGenerated".into());
        }
        let ids = rows
            .iter()
            .map(|r| r["id"].as_str().unwrap_or_default().to_string())
            .collect();
        s.answer(&req, ids, Reply::empty(204))
    }))
    .await;
    create_sink(
        &env,
        sink_body(
            "sentinel",
            json!({
                "endpoint": format!("http://{addr}"),
                "dcr_immutable_id": "dcr-0123abcd",
                "stream": "Custom-SealtrailActivity_CL",
                "tenant_id": "tenant-1",
                "client_id": "app-1",
                "authority_url": format!("http://{addr}"),
            }),
            json!({"client_secret": "sentinel-secret-1"}),
        ),
    )
    .await;
    deliver_through_faults(&env, &st).await;
    assert!(st.lock().unwrap().extra.contains_key("unauthorized"));
}

/// A CA and a `localhost` server configuration signed by it.
fn tls_server() -> (String, Arc<rustls::ServerConfig>) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    use rustls::pki_types::pem::PemObject as _;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap(),
    )
    .unwrap();
    (ca.pem(), Arc::new(config))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_over_https_trust_only_the_configured_ca() {
    let env = Env::start().await;
    let (ca, config) = tls_server();
    let key = B64
        .decode(WEBHOOK_SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let st: Shared = Arc::default();
    let s2 = st.clone();
    let addr = support::http::serve_tls(
        Arc::new(move |req: Req| {
            let mut s = s2.lock().unwrap();
            match webhook_check(&req, &key) {
                Ok(ids) => {
                    s.accepted.extend(ids);
                    Reply::empty(200)
                }
                Err(e) => s.reject(e),
            }
        }),
        config,
    )
    .await;
    let url = format!("https://localhost:{}/hook", addr.port());
    let mut trusted = sink_body(
        "webhook",
        json!({"url": url, "tls": {"ca_pem": ca}}),
        json!({"secret": WEBHOOK_SECRET}),
    );
    trusted["name"] = json!("trusted");
    create_sink(&env, trusted).await;
    // Without the CA, the system roots do not vouch for this server: the
    // sink fails and says why, and delivers nothing.
    let untrusted = create_sink(
        &env,
        sink_body(
            "webhook",
            json!({"url": url}),
            json!({"secret": WEBHOOK_SECRET}),
        ),
    )
    .await;
    let expected = ingest(&env.http, &env.base, &env.ik, 0, 20).await;
    wait_for(20, "delivery over https", || distinct(&st) >= 20).await;
    assert_eq!(st.lock().unwrap().accepted, expected);
    let id = untrusted["id"].as_str().unwrap();
    let mut v = sink_view(&env, id).await;
    for _ in 0..50 {
        if v["health"]["last_error"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        v = sink_view(&env, id).await;
    }
    let err = v["health"]["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(err.contains("certificate"), "{v}");
    assert_eq!(v["health"]["state"], "failing");
    assert_eq!(v["health"]["lag_events"], 20);
}
