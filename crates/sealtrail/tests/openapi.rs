//! The OpenAPI document at `/v1/openapi.json`: it is OpenAPI 3.1 shaped,
//! it lists exactly the routes the router serves, and what the real server
//! answers validates against it (status, content type, headers and body).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jsonschema::Validator;
use reqwest::StatusCode;
use sealtrail::api::ROUTES;
use sealtrail::config::Config;
use sealtrail::server::{Running, start};
use serde_json::{Value, json};

const DOC: &str = include_str!("../src/api/openapi.json");
const ROUTER_SRC: &str = include_str!("../src/api/mod.rs");
const DOCS_PAGE: &str = include_str!("../src/api/docs.html");
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn doc() -> Value {
    serde_json::from_str(DOC).expect("openapi.json is valid JSON")
}

/// Follows a local `$ref` (repeatedly) to the value it names.
fn deref<'a>(doc: &'a Value, mut v: &'a Value) -> &'a Value {
    for _ in 0..16 {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                v = lookup(doc, r).unwrap_or_else(|| panic!("dangling $ref {r}"));
            }
            None => return v,
        }
    }
    panic!("$ref chain too long")
}

fn lookup<'a>(doc: &'a Value, r: &str) -> Option<&'a Value> {
    doc.pointer(r.strip_prefix('#')?)
}

/// Every `(METHOD, path)` the document describes.
fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths is an object") {
        for m in METHODS {
            if item.get(*m).is_some() {
                out.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// A compiled validator for the schema at a JSON pointer of the document.
/// The schema is compiled on its own, with the document's `components`
/// alongside so its `#/components/...` references resolve.
fn validator(doc: &Value, pointer: &str) -> Validator {
    let schema = lookup(doc, pointer).unwrap_or_else(|| panic!("no schema at {pointer}"));
    let mut root = schema.clone();
    root.as_object_mut()
        .unwrap_or_else(|| panic!("schema at {pointer} is not an object"))
        .insert("components".into(), doc["components"].clone());
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("schema at {pointer} does not compile: {e}"))
}

fn errors(v: &Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn esc(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

#[test]
fn document_is_openapi_3_1_shaped() {
    let d = doc();
    assert!(
        d["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")),
        "openapi must be 3.1.x"
    );
    assert!(d["info"]["title"].is_string() && d["info"]["version"].is_string());
    let tags: BTreeSet<&str> = d["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| t["name"].as_str().expect("tag name"))
        .collect();
    let schemes = d["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    assert_eq!(schemes["ApiKey"]["in"], "header");
    assert_eq!(schemes["ApiKey"]["name"], "x-api-key");
    assert_eq!(schemes["Bearer"]["scheme"], "bearer");

    // Every $ref resolves.
    fn walk<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r);
                }
                m.values().for_each(|v| walk(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut refs = Vec::new();
    walk(&d, &mut refs);
    assert!(refs.len() > 50);
    for r in &refs {
        assert!(lookup(&d, r).is_some(), "dangling $ref {r}");
    }

    let mut op_ids = BTreeSet::new();
    for (path, item) in d["paths"].as_object().expect("paths") {
        assert!(path.starts_with('/'), "{path}");
        for m in METHODS {
            let Some(op) = item.get(*m) else { continue };
            let what = format!("{} {path}", m.to_uppercase());
            let id = op["operationId"].as_str().expect("operationId");
            assert!(op_ids.insert(id.to_string()), "duplicate operationId {id}");
            assert!(op["summary"].is_string(), "{what}: summary");
            assert!(op["description"].is_string(), "{what}: description");
            for t in op["tags"].as_array().expect("tags") {
                assert!(tags.contains(t.as_str().unwrap_or("")), "{what}: tag {t}");
            }
            for req in op["security"].as_array().expect("security is explicit") {
                for name in req.as_object().expect("requirement").keys() {
                    assert!(schemes.contains_key(name), "{what}: scheme {name}");
                }
            }
            // Parameters: unique, path templates declared.
            let params: Vec<&Value> = op["parameters"]
                .as_array()
                .map(|a| a.iter().map(|p| deref(&d, p)).collect())
                .unwrap_or_default();
            let mut names = BTreeSet::new();
            for p in &params {
                let key = (p["name"].as_str().unwrap(), p["in"].as_str().unwrap());
                assert!(names.insert(key), "{what}: duplicate parameter {key:?}");
                assert!(p["schema"].is_object(), "{what}: {key:?} has a schema");
                if p["schema"]["type"] == "array" {
                    assert!(key.0.ends_with("[]"), "{what}: array {key:?} uses []");
                    assert_eq!(p["style"], "form", "{what}: {key:?}");
                    assert_eq!(p["explode"], true, "{what}: {key:?}");
                }
            }
            for seg in path.split('/').filter(|s| s.starts_with('{')) {
                let name = seg.trim_matches(|c| c == '{' || c == '}');
                assert!(
                    params
                        .iter()
                        .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true),
                    "{what}: path parameter {name} is declared and required"
                );
            }
            // Responses: status codes, and every JSON error is a problem.
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{what}: a success"
            );
            for (status, r) in responses {
                assert!(
                    status.len() == 3 && status.parse::<u16>().is_ok(),
                    "{what}: {status}"
                );
                let r = deref(&d, r);
                assert!(r["description"].is_string(), "{what} {status}");
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = &r["content"]["application/json"]["schema"];
                    if schema.is_object() {
                        let target = deref(&d, schema);
                        let req = target["required"].as_array().expect("required");
                        assert!(
                            req.contains(&json!("type")) && req.contains(&json!("message")),
                            "{what} {status}: a problem has type and message"
                        );
                    }
                }
            }
            // Authenticated endpoints document 401 and 403.
            if !op["security"].as_array().unwrap().is_empty() {
                for s in ["401", "403"] {
                    assert!(responses.contains_key(s), "{what}: documents {s}");
                }
            }
        }
    }
    assert_eq!(
        d["components"]["parameters"]["activity_types"]["name"],
        "activity_types[]"
    );
}

#[test]
fn schemas_refuse_drift() {
    // The validator is strict where the server is: a missing field, an
    // unknown field or a wrong status tag is caught.
    let d = doc();
    let page = validator(&d, "#/components/schemas/Page");
    let ok =
        json!({"data": [], "first_id": null, "last_id": null, "has_more": false, "coverage": []});
    assert!(errors(&page, &ok).is_empty());
    let mut missing = ok.clone();
    missing.as_object_mut().unwrap().remove("coverage");
    assert!(!errors(&page, &missing).is_empty());
    let mut extra = ok.clone();
    extra["next_cursor"] = json!("x");
    assert!(!errors(&page, &extra).is_empty());
    let problem = validator(&d, "#/components/schemas/Problem");
    assert!(
        errors(
            &problem,
            &json!({"type": "x", "message": "y", "field": "z"})
        )
        .is_empty()
    );
    assert!(!errors(&problem, &json!({"error": "x"})).is_empty());
    let result = validator(&d, "#/components/schemas/EventResult");
    assert!(errors(&result, &json!({"status": "accepted", "index": 0, "id": "act_01M91BCAPN0000000000009072", "seq": 1})).is_empty());
    assert!(!errors(&result, &json!({"status": "stored", "index": 0, "id": "act_01M91BCAPN0000000000009072", "seq": 1})).is_empty());
    let activity = validator(&d, "#/components/schemas/Activity");
    let mut ex = d["paths"]["/v1/compliance/activities/{id}"]["get"]["responses"]["200"]["content"]
        ["application/json"]["example"]
        .clone();
    assert!(errors(&activity, &ex).is_empty());
    ex["created_at"] = json!("yesterday");
    assert!(!errors(&activity, &ex).is_empty(), "formats are checked");

    // A page holds activities, pruned stubs or OCSF events, each exactly.
    let ocsf = d["components"]["schemas"]["OcsfEvent"]["examples"][0].clone();
    let stub = json!({
        "id": "act_01M91BCAPN0000000000009072", "organization_id": "org_a",
        "type": "api_key.created", "created_at": "2026-12-04T19:00:00.000Z",
        "received_at": "2026-12-04T20:19:24.501Z", "pruned": true,
        "log": {"seq": 1, "leaf_hash": "oRXDDweEyMpRAtj5xvZLMS8IIKog27htqtQymgazLvQ="}
    });
    let mut mixed = ok.clone();
    mixed["data"] = json!([ocsf, stub]);
    assert!(
        errors(&page, &mixed).is_empty(),
        "{:?}",
        errors(&page, &mixed)
    );
    let mut no_metadata = ocsf.clone();
    no_metadata.as_object_mut().unwrap().remove("metadata");
    mixed["data"] = json!([no_metadata]);
    assert!(
        !errors(&page, &mixed).is_empty(),
        "OCSF events need metadata"
    );
    let mut untyped = stub.clone();
    untyped.as_object_mut().unwrap().remove("type");
    mixed["data"] = json!([untyped]);
    assert!(
        !errors(&page, &mixed).is_empty(),
        "pruned stubs keep their type"
    );
    let bundle = validator(&d, "#/components/schemas/EvidenceBundle");
    let mut ex = d["paths"]["/v1/compliance/exports"]["post"]["responses"]["200"]["content"]
        ["application/json"]["example"]
        .clone();
    assert!(errors(&bundle, &ex).is_empty());
    ex["format"] = json!("sealtrail-bundle/v2");
    assert!(!errors(&bundle, &ex).is_empty(), "the format is pinned");

    // A sink view never carries a secret value; settings follow the type.
    let sink = validator(&d, "#/components/schemas/Sink");
    let mut ex = d["paths"]["/v1/compliance/sinks/{id}"]["get"]["responses"]["200"]["content"]
        ["application/json"]["example"]
        .clone();
    assert!(errors(&sink, &ex).is_empty());
    ex["secrets"]["secret"] = json!("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    assert!(
        !errors(&sink, &ex).is_empty(),
        "secrets only say they are set"
    );
    let create = validator(&d, "#/components/schemas/CreateSink");
    let hook = json!({"name": "n", "type": "webhook", "destination": {"url": "http://127.0.0.1:9/"},
                      "secrets": {"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}});
    assert!(errors(&create, &hook).is_empty());
    let mut syslog = hook.clone();
    syslog["type"] = json!("syslog");
    assert!(!errors(&create, &syslog).is_empty(), "destination by type");
    let mut unsigned = hook.clone();
    unsigned.as_object_mut().unwrap().remove("secrets");
    assert!(
        !errors(&create, &unsigned).is_empty(),
        "a webhook needs its secret"
    );
}

#[test]
fn examples_validate_against_their_schemas() {
    let d = doc();
    let mut checked = 0;
    for (path, item) in d["paths"].as_object().unwrap() {
        for m in METHODS {
            let Some(op) = item.get(*m) else { continue };
            let base = format!("#/paths/{}/{m}", esc(path));
            let mut media: Vec<(String, &Value)> = Vec::new();
            if let Some(c) = op["requestBody"]["content"].as_object() {
                for (ct, mt) in c {
                    media.push((format!("{base}/requestBody/content/{}", esc(ct)), mt));
                }
            }
            for (status, r) in op["responses"].as_object().unwrap() {
                let (ptr, r) = match r.get("$ref").and_then(Value::as_str) {
                    Some(rf) => (rf.to_string(), deref(&d, r)),
                    None => (format!("{base}/responses/{status}"), r),
                };
                if let Some(c) = r["content"].as_object() {
                    for (ct, mt) in c {
                        media.push((format!("{ptr}/content/{}", esc(ct)), mt));
                    }
                }
            }
            for (ptr, mt) in media {
                if let Some(ex) = mt.get("example") {
                    let v = validator(&d, &format!("{ptr}/schema"));
                    let errs = errors(&v, ex);
                    assert!(errs.is_empty(), "example at {ptr}: {errs:?}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 10, "only {checked} examples");
}

#[test]
fn every_route_is_documented_and_every_documented_route_is_served() {
    let d = doc();
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(served.len(), ROUTES.len(), "ROUTES has duplicates");
    let documented = documented_routes(&d);
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served but missing from openapi.json: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "in openapi.json but not served: {unserved:?}"
    );
    // The router registers routes only through the `routes!` table, so
    // ROUTES is the whole truth.
    for (i, _) in ROUTER_SRC.match_indices(".route(") {
        let rest = ROUTER_SRC[i + ".route(".len()..].trim_start();
        assert!(
            rest.starts_with("$path"),
            "api/mod.rs registers a route outside `routes!`: add it to the table instead"
        );
    }
    for forbidden in [".nest(", ".merge(", ".route_service("] {
        assert!(
            !ROUTER_SRC.contains(forbidden),
            "api/mod.rs uses {forbidden}: add routes to the `routes!` table so they are documented"
        );
    }
}

#[test]
fn docs_page_is_self_contained() {
    // The page must work with no internet: no external scripts, styles,
    // fonts or images, and it reads the document from this server.
    let lower = DOCS_PAGE.to_ascii_lowercase();
    for needle in [
        "<script src",
        "<link",
        "@import",
        "url(",
        "<img",
        "src=\"http",
        "href=\"http",
        "fetch(\"http",
    ] {
        assert!(!lower.contains(needle), "docs.html contains {needle:?}");
    }
    assert!(DOCS_PAGE.contains("\"/v1/openapi.json\""));
    assert!(DOCS_PAGE.contains("<style>") && DOCS_PAGE.contains("<script>"));
}

/// Calls the running server and checks each answer against the document.
struct Api {
    doc: Value,
    base: String,
    http: reqwest::Client,
    validators: HashMap<String, Validator>,
    /// `(METHOD, path template)` → statuses seen.
    seen: BTreeMap<(String, String), BTreeSet<u16>>,
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

/// A request to make.
struct Req<'a> {
    method: &'a str,
    template: &'a str,
    uri: String,
    token: Option<&'a str>,
    body: Option<(&'a str, Vec<u8>)>,
    accept: Option<&'a str>,
    headers: Vec<(&'a str, &'a str)>,
}

fn req<'a>(method: &'a str, template: &'a str) -> Req<'a> {
    Req {
        method,
        template,
        uri: template.to_string(),
        token: None,
        body: None,
        accept: None,
        headers: Vec::new(),
    }
}

impl<'a> Req<'a> {
    fn uri(mut self, uri: impl Into<String>) -> Self {
        self.uri = uri.into();
        self
    }
    fn key(mut self, token: &'a str) -> Self {
        self.token = Some(token);
        self
    }
    fn json(mut self, v: &Value) -> Self {
        self.body = Some(("application/json", serde_json::to_vec(v).unwrap()));
        self
    }
    fn raw(mut self, ct: &'a str, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some((ct, body.into()));
        self
    }
    fn accept(mut self, a: &'a str) -> Self {
        self.accept = Some(a);
        self
    }
    fn header(mut self, name: &'a str, value: &'a str) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// One Server-Sent Event: its fields, as an SSE parser delivers them.
type SseEvent = BTreeMap<String, String>;

/// Reads a stream until its first event that carries data (comments and
/// blank keep-alives are skipped), or fails after 10 seconds.
async fn next_event(resp: &mut reqwest::Response, buf: &mut Vec<u8>) -> SseEvent {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
            let block = String::from_utf8(buf[..end].to_vec()).expect("UTF-8 event");
            buf.drain(..end + 2);
            let mut ev = SseEvent::new();
            for line in block.lines().filter(|l| !l.starts_with(':')) {
                let (k, v) = line.split_once(':').unwrap_or((line, ""));
                let v = v.strip_prefix(' ').unwrap_or(v);
                ev.entry(k.to_string())
                    .and_modify(|old| {
                        old.push('\n');
                        old.push_str(v);
                    })
                    .or_insert_with(|| v.to_string());
            }
            if ev.contains_key("data") {
                return ev;
            }
        }
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .expect("an event within 10 s")
            .expect("the stream reads")
            .expect("the stream ended before an event");
        buf.extend_from_slice(&chunk);
    }
}

impl Api {
    fn validator(&mut self, pointer: &str) -> &Validator {
        if !self.validators.contains_key(pointer) {
            let v = validator(&self.doc, pointer);
            self.validators.insert(pointer.to_string(), v);
        }
        &self.validators[pointer]
    }

    /// Sends a request, asserts its status, and checks the answer (status
    /// documented, content type documented, documented headers present,
    /// body valid against the schema). A JSON request body is checked
    /// against the request schema too, when `expect` is a success.
    async fn call(&mut self, r: Req<'_>, expect: u16) -> Answer {
        let what = format!("{} {}", r.method, r.uri);
        let op_ptr = format!("#/paths/{}/{}", esc(r.template), r.method.to_lowercase());
        assert!(
            lookup(&self.doc, &op_ptr).is_some(),
            "{what}: {} {} is not in the document",
            r.method,
            r.template
        );
        if let Some(("application/json", bytes)) = &r.body
            && expect < 300
        {
            let ptr = format!("{op_ptr}/requestBody/content/application~1json/schema");
            let body: Value = serde_json::from_slice(bytes).unwrap();
            let errs = errors(self.validator(&ptr), &body);
            assert!(errs.is_empty(), "{what}: request body: {errs:?}");
        }
        let method = reqwest::Method::from_bytes(r.method.as_bytes()).unwrap();
        let mut rb = self.http.request(method, format!("{}{}", self.base, r.uri));
        if let Some(t) = r.token {
            rb = rb.header("x-api-key", t);
        }
        if let Some(a) = r.accept {
            rb = rb.header("accept", a);
        }
        for (k, v) in &r.headers {
            rb = rb.header(*k, *v);
        }
        if let Some((ct, body)) = r.body {
            rb = rb.header("content-type", ct).body(body);
        }
        let resp = rb.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        assert_eq!(status.as_u16(), expect, "{what}: {text}");
        self.seen
            .entry((r.method.to_string(), r.template.to_string()))
            .or_default()
            .insert(status.as_u16());

        let resp_ptr = format!("{op_ptr}/responses/{}", status.as_u16());
        let resp_doc = lookup(&self.doc, &resp_ptr)
            .unwrap_or_else(|| panic!("{what}: status {status} is not documented"));
        let resp_ptr = match resp_doc.get("$ref").and_then(Value::as_str) {
            Some(rf) => rf.to_string(),
            None => resp_ptr,
        };
        let resp_doc = deref(&self.doc, resp_doc).clone();
        let ct = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap()
            .trim()
            .to_string();
        let media = resp_doc["content"]
            .get(&ct)
            .unwrap_or_else(|| panic!("{what}: content type {ct:?} not documented for {status}"));
        if let Some(hs) = resp_doc["headers"].as_object() {
            for (name, h) in hs {
                let h = deref(&self.doc, h);
                let v = headers
                    .get(name.as_str())
                    .unwrap_or_else(|| panic!("{what}: documented header {name} missing"));
                if h["schema"]["type"] == "integer" {
                    assert!(
                        v.to_str().unwrap().parse::<u64>().is_ok(),
                        "{what}: header {name} is an integer"
                    );
                }
            }
        }
        let schema_ptr = format!("{resp_ptr}/content/{}/schema", esc(&ct));
        let instance = if ct.ends_with("json") {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: not JSON: {e}"))
        } else {
            assert!(media["schema"]["type"] == "string" || media["schema"].get("$ref").is_some());
            Value::String(text.clone())
        };
        let errs = errors(self.validator(&schema_ptr), &instance);
        assert!(
            errs.is_empty(),
            "{what}: {status} body does not match {schema_ptr}: {errs:?}\n{text}"
        );
        Answer {
            status,
            headers,
            text,
        }
    }
}

impl Api {
    /// Opens a Server-Sent Events stream (no body): asserts a 200 whose
    /// content type is the documented `text/event-stream` and whose
    /// documented headers are present, and returns the open response.
    async fn open_stream(&mut self, r: Req<'_>) -> reqwest::Response {
        let what = format!("{} {}", r.method, r.uri);
        let op_ptr = format!("#/paths/{}/{}", esc(r.template), r.method.to_lowercase());
        let mut rb = self.http.get(format!("{}{}", self.base, r.uri));
        if let Some(t) = r.token {
            rb = rb.header("x-api-key", t);
        }
        for (k, v) in &r.headers {
            rb = rb.header(*k, *v);
        }
        let resp = rb.send().await.expect("request");
        assert_eq!(resp.status().as_u16(), 200, "{what}");
        self.seen
            .entry((r.method.to_string(), r.template.to_string()))
            .or_default()
            .insert(200);
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(
            ct.starts_with("text/event-stream"),
            "{what}: content type {ct}"
        );
        let doc = deref(
            &self.doc,
            lookup(&self.doc, &format!("{op_ptr}/responses/200")).expect("200 documented"),
        )
        .clone();
        assert!(
            doc["content"]["text/event-stream"]["schema"].is_object(),
            "{what}: text/event-stream documented"
        );
        for name in doc["headers"]
            .as_object()
            .into_iter()
            .flat_map(|h| h.keys())
        {
            assert!(
                resp.headers().contains_key(name.as_str()),
                "{what}: documented header {name} missing"
            );
        }
        resp
    }

    /// Reads the next event of a stream and checks it against the
    /// document's per-event schema, and its `data` against `data_schema`.
    async fn stream_event(
        &mut self,
        template: &str,
        resp: &mut reqwest::Response,
        buf: &mut Vec<u8>,
        data_schema: &str,
    ) -> (SseEvent, Value) {
        let ev = next_event(resp, buf).await;
        let ptr = format!(
            "#/paths/{}/get/responses/200/content/text~1event-stream/schema",
            esc(template)
        );
        let as_json = serde_json::to_value(&ev).unwrap();
        let errs = errors(self.validator(&ptr), &as_json);
        assert!(
            errs.is_empty(),
            "event does not match {ptr}: {errs:?}\n{ev:?}"
        );
        let data: Value = serde_json::from_str(&ev["data"])
            .unwrap_or_else(|e| panic!("data is not JSON ({e}): {ev:?}"));
        let errs = errors(self.validator(data_schema), &data);
        assert!(
            errs.is_empty(),
            "data does not match {data_schema}: {errs:?}\n{data}"
        );
        (ev, data)
    }
}

async fn server(dir: &std::path::Path, rate_limit: u32) -> Running {
    start(Config {
        checkpoint_interval_ms: 100,
        rate_limit_per_minute: rate_limit,
        ..sealtrail::testing::config(dir, "openapi")
    })
    .await
    .expect("server starts")
}

fn event(org: &str, n: usize) -> Value {
    json!({
        "type": "api_key.created",
        "created_at": "2026-12-04T19:00:00Z",
        "organization_id": org,
        "source_event_id": format!("evt-{n}"),
        "actor": {"type": "user", "id": "user_1", "email": "a@example.com", "ip_address": "203.0.113.7", "user_agent": "cli/1.0"},
        "target": {"type": "api_key", "id": format!("key_{n}"), "name": "ci-deploy"},
        "changes": [{"field": "role", "old": "member", "new": "admin"}],
        "metadata": {"scopes": ["files:read"]}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_conform_to_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let running = server(dir.path(), 100_000).await;
    let op_token = running
        .app
        .bootstrap_operator_token
        .clone()
        .expect("bootstrap operator token");
    let op = op_token.as_str();
    let mut api = Api {
        doc: doc(),
        base: format!("http://{}", running.addr),
        http: reqwest::Client::new(),
        validators: HashMap::new(),
        seen: BTreeMap::new(),
    };

    // Public endpoints.
    for p in ["/healthz", "/readyz", "/metrics", "/", "/docs"] {
        api.call(req("GET", p), 200).await;
    }
    let served = api.call(req("GET", "/v1/openapi.json"), 200).await;
    assert_eq!(served.json(), api.doc, "the served document is the file");
    api.call(req("GET", "/v1/integrity/keys"), 200).await;

    // Operator plane.
    let orgs = "/v1/operator/organizations";
    api.call(
        req("POST", orgs).json(&json!({"id": "org_p", "name": "Parent"})),
        401,
    )
    .await;
    api.call(
        req("POST", orgs)
            .key(op)
            .json(&json!({"id": "org_p", "name": "Parent"})),
        201,
    )
    .await;
    api.call(
        req("POST", orgs)
            .key(op)
            .json(&json!({"id": "org_c", "name": "Child", "parent_id": "org_p"})),
        201,
    )
    .await;
    api.call(
        req("POST", orgs)
            .key(op)
            .json(&json!({"id": "org_r", "name": "Region"})),
        201,
    )
    .await;
    api.call(
        req("POST", orgs)
            .key(op)
            .json(&json!({"id": "org_p", "name": "Again"})),
        409,
    )
    .await;
    api.call(
        req("POST", orgs)
            .key(op)
            .json(&json!({"name": "Orphan", "parent_id": "org_nope"})),
        422,
    )
    .await;
    api.call(
        req("POST", orgs)
            .key(op)
            .json(&json!({"name": "x", "colour": "red"})),
        400,
    )
    .await;
    let bad = api
        .call(
            req("POST", orgs).key(op).raw("application/json", "{bad"),
            400,
        )
        .await;
    assert_eq!(bad.json()["field"], "body");
    api.call(req("POST", orgs).key(op).raw("text/plain", "hi"), 415)
        .await;
    api.call(req("GET", orgs).key(op), 200).await;
    let one = "/v1/operator/organizations/{id}";
    api.call(req("GET", one).uri(format!("{orgs}/org_c")).key(op), 200)
        .await;
    api.call(req("GET", one).uri(format!("{orgs}/org_nope")).key(op), 404)
        .await;
    let enc = api
        .call(req("GET", one).uri(format!("{orgs}/%FF")).key(op), 400)
        .await;
    assert_eq!(enc.json()["field"], "id");
    let link = "/v1/operator/organizations/{id}/link";
    api.call(
        req("POST", link)
            .uri(format!("{orgs}/org_r/link"))
            .key(op)
            .json(&json!({"parent_id": "org_p"})),
        200,
    )
    .await;
    api.call(
        req("POST", link)
            .uri(format!("{orgs}/org_r/link"))
            .key(op)
            .json(&json!({"parent_id": "org_p"})),
        409,
    )
    .await;
    api.call(
        req("POST", link)
            .uri(format!("{orgs}/org_nope/link"))
            .key(op)
            .json(&json!({"parent_id": "org_p"})),
        404,
    )
    .await;
    for o in ["org_p", "org_c", "org_r"] {
        api.call(
            req("POST", "/v1/operator/organizations/{id}/enable")
                .uri(format!("{orgs}/{o}/enable"))
                .key(op),
            200,
        )
        .await;
    }
    api.call(
        req("POST", "/v1/operator/organizations/{id}/disable")
            .uri(format!("{orgs}/org_r/disable"))
            .key(op),
        200,
    )
    .await;
    api.call(
        req("POST", "/v1/operator/organizations/{id}/enable")
            .uri(format!("{orgs}/org_nope/enable"))
            .key(op),
        404,
    )
    .await;

    let keys = "/v1/operator/keys";
    let ingest = api
        .call(
            req("POST", keys).key(op).json(&json!({
                "kind": "ingest", "organization_id": "org_p", "product": "platform", "name": "platform source"
            })),
            201,
        )
        .await
        .json();
    let ingest = ingest["token"].as_str().unwrap().to_string();
    let reader = api
        .call(
            req("POST", keys).key(op).json(&json!({
                "kind": "compliance", "organization_id": "org_p",
                "scopes": ["read:activities", "read:integrity"], "name": "siem",
                "expires_at": "2099-01-01T00:00:00Z"
            })),
            201,
        )
        .await
        .json();
    let reader = reader["token"].as_str().unwrap().to_string();
    let narrow = api
        .call(
            req("POST", keys).key(op).json(&json!({
                "kind": "compliance", "organization_id": "org_c", "scopes": ["read:activities"]
            })),
            201,
        )
        .await
        .json();
    let narrow_id = narrow["id"].as_str().unwrap().to_string();
    let narrow = narrow["token"].as_str().unwrap().to_string();
    api.call(
        req("POST", keys).key(op).json(
            &json!({"kind": "compliance", "organization_id": "org_nope", "scopes": ["export"]}),
        ),
        422,
    )
    .await;
    api.call(
        req("POST", keys)
            .key(op)
            .json(&json!({"kind": "compliance", "organization_id": "org_p", "scopes": ["read:everything"]})),
        400,
    )
    .await;
    api.call(req("GET", keys).key(op), 200).await;
    api.call(
        req("GET", keys)
            .uri(format!("{keys}?organization_id=org_p"))
            .key(op),
        200,
    )
    .await;
    api.call(
        req("GET", keys)
            .uri(format!("{keys}?organization_id=org_nope"))
            .key(op),
        404,
    )
    .await;
    let unknown = api
        .call(
            req("GET", keys).uri(format!("{keys}?colour=red")).key(op),
            400,
        )
        .await;
    assert_eq!(unknown.json()["field"], "colour");
    api.call(req("GET", keys).key(&reader), 403).await;

    // Ingest.
    let ing = "/v1/ingest/activities";
    let mut bad_event = event("org_c", 99);
    bad_event["metadata"]["system_prompt"] = json!("hello");
    let mixed = api
        .call(
            req("POST", ing).key(&ingest).raw(
                "application/json",
                serde_json::to_vec(&json!([event("org_c", 1), bad_event])).unwrap(),
            ),
            200,
        )
        .await
        .json();
    assert_eq!(mixed["results"][0]["status"], "accepted");
    assert_eq!(mixed["results"][1]["status"], "refused");
    let dup = api
        .call(
            req("POST", ing)
                .key(&ingest)
                .json(&json!([event("org_c", 1)])),
            200,
        )
        .await
        .json();
    assert_eq!(dup["results"][0]["status"], "duplicate");
    api.call(req("POST", ing).key(&ingest).json(&event("org_p", 2)), 200)
        .await;
    let ndjson = format!(
        "{}\n{}\n",
        serde_json::to_string(&event("org_c", 3)).unwrap(),
        serde_json::to_string(&event("org_r", 4)).unwrap()
    );
    let nd = api
        .call(
            req("POST", ing)
                .key(&ingest)
                .raw("application/x-ndjson", ndjson),
            200,
        )
        .await
        .json();
    assert_eq!(nd["accepted"], 1, "org_r is disabled: {nd}");
    api.call(
        req("POST", ing).key(&ingest).raw(
            "application/json",
            serde_json::to_vec(&json!([{"type": "bogus.type"}])).unwrap(),
        ),
        422,
    )
    .await;
    api.call(req("POST", ing).key(&ingest).raw("text/plain", "x"), 415)
        .await;
    api.call(
        req("POST", ing).key(&ingest).raw("application/json", "[{"),
        400,
    )
    .await;
    let many: Vec<Value> = (0..1001).map(|i| json!({"n": i})).collect();
    api.call(req("POST", ing).key(&ingest).json(&json!(many)), 413)
        .await;
    api.call(req("POST", ing).json(&json!([event("org_c", 5)])), 401)
        .await;
    api.call(
        req("POST", ing)
            .key(&reader)
            .json(&json!([event("org_c", 5)])),
        403,
    )
    .await;

    // Wait for a checkpoint covering the child's events.
    let child_event = mixed["results"][0]["id"].as_str().unwrap().to_string();
    let inc = "/v1/compliance/integrity/inclusion";
    let mut covered = false;
    for _ in 0..100 {
        let r = api
            .http
            .get(format!("{}{inc}?activity_id={child_event}", api.base))
            .header("x-api-key", &reader)
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            covered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(covered, "a checkpoint covers the event");

    // The feed.
    let feed = "/v1/compliance/activities";
    let page = api.call(req("GET", feed).key(&reader), 200).await;
    assert!(page.headers.contains_key("ratelimit-remaining"));
    let page = page.json();
    assert!(page["data"].as_array().unwrap().len() >= 3);
    let filtered = api
        .call(
            req("GET", feed)
                .uri(format!(
                    "{feed}?activity_types[]=api_key.*&exclude_activity_types[]=compliance_api.accessed\
                     &organization_ids[]=org_c&actor_ids[]=user_1&actor_emails[]=A@example.com\
                     &categories[]=admin&products[]=platform&ip_address=203.0.113.7&outcome=success\
                     &created_at.gte=2026-12-01T00:00:00Z&created_at.lt=2026-12-05T00:00:00%2B01:00\
                     &limit=1&order=asc&include_proof=true&format=json"
                ))
                .key(&reader),
            200,
        )
        .await
        .json();
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);
    assert_eq!(filtered["has_more"], true);
    assert!(filtered["data"][0]["log"]["inclusion_proof"].is_object());
    let after = filtered["last_id"].as_str().unwrap();
    let next = api
        .call(
            req("GET", feed)
                .uri(format!(
                    "{feed}?organization_ids[]=org_c&order=asc&limit=1&after_id={after}"
                ))
                .key(&reader),
            200,
        )
        .await
        .json();
    let before = next["first_id"].as_str().unwrap();
    api.call(
        req("GET", feed)
            .uri(format!("{feed}?order=asc&before_id={before}"))
            .key(&reader),
        200,
    )
    .await;
    for (q, field) in [
        ("limit=0", "limit"),
        ("colour=red", "colour"),
        ("categories[]=secret", "categories[]"),
        ("created_at.gt=yesterday", "created_at.gt"),
        ("after_id=act_1", "after_id"),
    ] {
        let e = api
            .call(
                req("GET", feed).uri(format!("{feed}?{q}")).key(&reader),
                400,
            )
            .await;
        assert_eq!(e.json()["field"], field, "{q}");
    }
    api.call(req("GET", feed), 401).await;
    api.call(req("GET", feed).key(&ingest), 403).await;
    api.call(
        req("GET", feed)
            .uri(format!("{feed}?organization_ids[]=org_p"))
            .key(&narrow),
        403,
    )
    .await;

    let one = "/v1/compliance/activities/{id}";
    let ev = api
        .call(
            req("GET", one)
                .uri(format!("{feed}/{child_event}"))
                .key(&reader),
            200,
        )
        .await
        .json();
    assert_eq!(ev["actor"]["email"], "a@example.com");
    api.call(
        req("GET", one)
            .uri(format!("{feed}/{child_event}?include_proof=true"))
            .key(&reader),
        200,
    )
    .await;
    api.call(
        req("GET", one).uri(format!("{feed}/act_nope")).key(&reader),
        400,
    )
    .await;
    let missing = sealtrail::ids::ActivityId::new(1, 999_999_999).to_string();
    api.call(
        req("GET", one)
            .uri(format!("{feed}/{missing}"))
            .key(&reader),
        404,
    )
    .await;
    api.call(req("GET", "/v1/compliance/organizations").key(&reader), 200)
        .await;

    // Integrity.
    let cp = "/v1/compliance/integrity/checkpoint";
    let c = api
        .call(
            req("GET", cp)
                .uri(format!("{cp}?organization_id=org_c"))
                .key(&reader),
            200,
        )
        .await
        .json();
    let size = c["tree_size"].as_u64().unwrap();
    let note = api
        .call(
            req("GET", cp)
                .uri(format!("{cp}?organization_id=org_c&size={size}"))
                .key(&reader)
                .accept("text/plain"),
            200,
        )
        .await;
    assert_eq!(note.text, c["note"].as_str().unwrap());
    api.call(
        req("GET", cp).uri(format!("{cp}?size=999999")).key(&reader),
        404,
    )
    .await;
    api.call(req("GET", cp).uri(format!("{cp}?size=x")).key(&reader), 400)
        .await;
    api.call(
        req("GET", cp)
            .uri(format!("{cp}?organization_id=org_p"))
            .key(&narrow),
        403,
    )
    .await;
    api.call(
        req("GET", inc)
            .uri(format!("{inc}?activity_id={child_event}"))
            .key(&reader),
        200,
    )
    .await;
    api.call(
        req("GET", inc)
            .uri(format!("{inc}?activity_id={child_event}&tree_size={size}"))
            .key(&reader),
        200,
    )
    .await;
    // The child's first event (seq 1 after compliance.enabled) is not in a
    // tree of size 1.
    api.call(
        req("GET", inc)
            .uri(format!("{inc}?activity_id={child_event}&tree_size=1"))
            .key(&reader),
        409,
    )
    .await;
    api.call(req("GET", inc).key(&reader), 400).await;
    api.call(
        req("GET", inc)
            .uri(format!("{inc}?activity_id={missing}"))
            .key(&reader),
        404,
    )
    .await;
    let cons = "/v1/compliance/integrity/consistency";
    api.call(
        req("GET", cons)
            .uri(format!("{cons}?organization_id=org_c&first=1"))
            .key(&reader),
        200,
    )
    .await;
    api.call(
        req("GET", cons)
            .uri(format!(
                "{cons}?organization_id=org_c&first=1&second={size}"
            ))
            .key(&reader),
        200,
    )
    .await;
    api.call(
        req("GET", cons)
            .uri(format!("{cons}?organization_id=org_c&first=5&second=2"))
            .key(&reader),
        400,
    )
    .await;
    api.call(req("GET", cons).key(&narrow), 403).await;

    // The stream: resumable Server-Sent Events of the feed.
    let st = "/v1/compliance/activities/stream";
    let oldest = api
        .call(
            req("GET", feed)
                .uri(format!("{feed}?organization_ids[]=org_c&order=asc&limit=2"))
                .key(&reader),
            200,
        )
        .await
        .json();
    let oldest_id = oldest["first_id"].as_str().unwrap().to_string();
    let second_id = oldest["last_id"].as_str().unwrap().to_string();
    let mut resp = api
        .open_stream(
            req("GET", st)
                .uri(format!(
                    "{st}?organization_ids[]=org_c&after_id={oldest_id}"
                ))
                .key(&reader),
        )
        .await;
    let mut buf = Vec::new();
    let activity = "#/components/schemas/Activity";
    let (ev, data) = api.stream_event(st, &mut resp, &mut buf, activity).await;
    assert_eq!(ev["event"], "activity");
    assert_eq!(ev["id"], second_id, "resumes right after the cursor");
    assert_eq!(data["id"].as_str(), Some(second_id.as_str()));
    drop(resp);
    // Last-Event-ID resumes the same way; OCSF events validate too.
    let mut resp = api
        .open_stream(
            req("GET", st)
                .uri(format!("{st}?organization_ids[]=org_c&format=ocsf"))
                .key(&reader)
                .header("last-event-id", &oldest_id),
        )
        .await;
    let mut buf = Vec::new();
    let (ev, data) = api
        .stream_event(st, &mut resp, &mut buf, "#/components/schemas/OcsfEvent")
        .await;
    assert_eq!(ev["id"], second_id);
    assert_eq!(data["metadata"]["uid"].as_str(), Some(second_id.as_str()));
    drop(resp);
    // Without a cursor, the stream delivers what is committed from now on.
    let mut resp = api
        .open_stream(
            req("GET", st)
                .uri(format!(
                    "{st}?organization_ids[]=org_c&activity_types[]=api_key.*&include_proof=true"
                ))
                .key(&reader),
        )
        .await;
    api.call(
        req("POST", ing)
            .key(&ingest)
            .json(&json!([event("org_c", 6)])),
        200,
    )
    .await;
    let mut buf = Vec::new();
    let (_, live) = api.stream_event(st, &mut resp, &mut buf, activity).await;
    assert_eq!(live["source_event_id"], "evt-6");
    drop(resp);
    for (q, field) in [
        ("limit=10", "limit"),
        ("order=asc", "order"),
        (&*format!("before_id={second_id}"), "before_id"),
        ("format=xml", "format"),
        ("colour=red", "colour"),
    ] {
        let e = api
            .call(req("GET", st).uri(format!("{st}?{q}")).key(&reader), 400)
            .await;
        assert_eq!(e.json()["field"], field, "{q}");
    }
    let e = api
        .call(
            req("GET", st)
                .key(&reader)
                .header("last-event-id", "act_nope"),
            400,
        )
        .await;
    assert_eq!(e.json()["field"], "last-event-id");
    api.call(req("GET", st), 401).await;
    api.call(req("GET", st).key(&ingest), 403).await;
    api.call(
        req("GET", st)
            .uri(format!("{st}?organization_ids[]=org_p"))
            .key(&narrow),
        403,
    )
    .await;
    // The feed in OCSF.
    let ocsf = api
        .call(
            req("GET", feed)
                .uri(format!("{feed}?organization_ids[]=org_c&format=ocsf"))
                .key(&reader),
            200,
        )
        .await
        .json();
    assert!(ocsf["data"][0]["class_uid"].is_u64());

    // Evidence bundles.
    api.call(
        req("POST", orgs)
            .key(op)
            .json(&json!({"id": "org_x", "name": "Outside"})),
        201,
    )
    .await;
    let officer = api
        .call(
            req("POST", keys).key(op).json(&json!({
                "kind": "compliance", "organization_id": "org_p",
                "scopes": ["read:activities", "export", "delete:subject_data"], "name": "dpo"
            })),
            201,
        )
        .await
        .json();
    let officer = officer["token"].as_str().unwrap().to_string();
    let ex = "/v1/compliance/exports";
    let whole = api
        .call(
            req("POST", ex)
                .key(&officer)
                .json(&json!({"organization_id": "org_c"})),
            200,
        )
        .await;
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        whole.text.as_bytes(),
    ));
    assert_eq!(
        whole.headers["x-sealtrail-bundle-digest"],
        format!("sha-256={digest}").as_str()
    );
    let report = sealtrail::bundle::verify::verify_bytes(
        whole.text.as_bytes(),
        &running.app.signer.verifiers(),
    );
    assert!(report.ok(), "{:?}", report.problems);
    let bundle = whole.json();
    assert_eq!(bundle["format"], "sealtrail-bundle/v1");
    assert_eq!(bundle["selection"]["kind"], "log");
    assert_eq!(bundle["logs"][0]["organization_id"], "org_c");
    let events = bundle["events"].as_array().unwrap();
    assert!(events.len() >= 3);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["seq"], i as u64, "a whole log has every position");
    }
    let filtered = api
        .call(
            req("POST", ex).key(&officer).json(&json!({
                "activity_types": ["api_key.*"], "organization_ids": ["org_c"],
                "created_at.gte": "2026-12-01T00:00:00Z", "outcome": "success",
                "consistency_from": {"org_c": size}
            })),
            200,
        )
        .await
        .json();
    assert_eq!(filtered["selection"]["kind"], "filter");
    assert!(
        filtered["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["display"]["type"] == "api_key.created")
    );
    let log = &filtered["logs"][0];
    assert_eq!(log["checkpoints"][0]["tree_size"], size);
    assert_eq!(log["consistency"][0]["first"], size, "{log}");
    for (b, field) in [
        (
            json!({"organization_id": "org_c", "activity_types": ["api_key.*"]}),
            "organization_id",
        ),
        (json!({"colour": "red"}), "colour"),
        (json!({"categories": ["secret"]}), "categories"),
        (json!({"created_at.gt": "yesterday"}), "created_at.gt"),
    ] {
        let e = api.call(req("POST", ex).key(&officer).json(&b), 400).await;
        assert_eq!(e.json()["field"], field, "{b}");
    }
    for b in [
        json!({"organization_id": "org_c", "consistency_from": {"org_c": 999_999}}),
        json!({"organization_id": "org_c", "consistency_from": {"org_r": 1}}),
    ] {
        let e = api.call(req("POST", ex).key(&officer).json(&b), 422).await;
        assert_eq!(e.json()["field"], "consistency_from", "{b}");
    }
    api.call(
        req("POST", orgs)
            .key(op)
            .json(&json!({"id": "org_e", "name": "Empty", "parent_id": "org_p"})),
        201,
    )
    .await;
    api.call(
        req("POST", ex)
            .key(&officer)
            .json(&json!({"organization_id": "org_e"})),
        409,
    )
    .await;
    api.call(
        req("POST", ex)
            .key(&officer)
            .json(&json!({"organization_id": "org_x"})),
        403,
    )
    .await;
    api.call(
        req("POST", ex)
            .key(&reader)
            .json(&json!({"organization_id": "org_c"})),
        403,
    )
    .await;
    api.call(req("POST", ex).json(&json!({})), 401).await;
    api.call(req("POST", ex).key(&officer).raw("text/plain", "{}"), 415)
        .await;
    let huge = json!({"actor_ids": ["x".repeat(3 << 20)]});
    api.call(req("POST", ex).key(&officer).json(&huge), 413)
        .await;

    // Retention.
    let ret = "/v1/compliance/retention";
    let r = api.call(req("GET", ret).key(&reader), 200).await.json();
    assert!(r["data"].as_array().unwrap().len() >= 3, "{r}");
    let e = api
        .call(
            req("GET", ret)
                .uri(format!("{ret}?colour=red"))
                .key(&reader),
            400,
        )
        .await;
    assert_eq!(e.json()["field"], "colour");
    api.call(req("GET", ret), 401).await;
    api.call(req("GET", ret).key(&ingest), 403).await;
    let set = api
        .call(
            req("PUT", ret)
                .key(&officer)
                .json(&json!({"organization_id": "org_c", "days": 400})),
            200,
        )
        .await
        .json();
    assert_eq!(set["retention_days"], 400);
    let cleared = api
        .call(
            req("PUT", ret)
                .key(&officer)
                .json(&json!({"organization_id": "org_c", "days": null})),
            200,
        )
        .await
        .json();
    assert!(cleared["retention_days"].is_null());
    let e = api
        .call(
            req("PUT", ret)
                .key(&officer)
                .json(&json!({"organization_id": "org_c", "days": 0})),
            400,
        )
        .await;
    assert_eq!(e.json()["field"], "days");
    let e = api
        .call(
            req("PUT", ret)
                .key(&officer)
                .json(&json!({"organization_id": "org_x", "days": 30})),
            403,
        )
        .await;
    assert_eq!(e.json()["field"], "organization_id");
    api.call(
        req("PUT", ret)
            .key(&reader)
            .json(&json!({"organization_id": "org_c", "days": 30})),
        403,
    )
    .await;
    api.call(req("PUT", ret).key(&officer).raw("text/plain", "{}"), 415)
        .await;

    // Legal holds and erasure.
    let lh = "/v1/compliance/legal_holds";
    let hold = api
        .call(
            req("POST", lh).key(&officer).json(&json!({
                "organization_id": "org_c", "subject": {"id": "user_1"}, "reason": "case 2026-17"
            })),
            201,
        )
        .await
        .json();
    assert_eq!(hold["scope"], "subject");
    assert_eq!(hold["active"], true);
    let hold_id = hold["id"].as_str().unwrap().to_string();
    let e = api
        .call(
            req("POST", lh)
                .key(&officer)
                .json(&json!({"organization_id": "org_c", "reason": " "})),
            400,
        )
        .await;
    assert_eq!(e.json()["field"], "reason");
    api.call(
        req("POST", lh)
            .key(&officer)
            .json(&json!({"organization_id": "org_x", "reason": "case 1"})),
        403,
    )
    .await;
    api.call(
        req("POST", lh)
            .key(&reader)
            .json(&json!({"organization_id": "org_c", "reason": "case 1"})),
        403,
    )
    .await;
    api.call(req("POST", lh).key(&officer).raw("text/plain", "{}"), 415)
        .await;
    let list = api.call(req("GET", lh).key(&officer), 200).await.json();
    assert_eq!(list["data"][0]["id"], hold_id.as_str());
    api.call(
        req("GET", lh).uri(format!("{lh}?colour=red")).key(&officer),
        400,
    )
    .await;
    api.call(req("GET", lh).key(&reader), 403).await;
    api.call(req("GET", lh), 401).await;

    let er = "/v1/compliance/erasures";
    let erase_user_1 = json!({"subject": {"id": "user_1"}, "organization_ids": ["org_c"]});
    let e = api
        .call(req("POST", er).key(&officer).json(&erase_user_1), 409)
        .await;
    assert!(e.json()["message"].as_str().unwrap().contains(&hold_id));
    let rel = "/v1/compliance/legal_holds/{id}/release";
    for _ in 0..2 {
        let released = api
            .call(
                req("POST", rel)
                    .uri(format!("{lh}/{hold_id}/release"))
                    .key(&officer),
                200,
            )
            .await
            .json();
        assert_eq!(released["active"], false);
    }
    api.call(
        req("POST", rel)
            .uri(format!("{lh}/hold_nope/release"))
            .key(&officer),
        404,
    )
    .await;
    api.call(
        req("POST", rel)
            .uri(format!("{lh}/{hold_id}/release"))
            .key(&reader),
        403,
    )
    .await;
    let erased = api
        .call(req("POST", er).key(&officer).json(&erase_user_1), 201)
        .await
        .json();
    assert_eq!(erased["status"], "completed");
    assert!(erased["events_affected"].as_u64().unwrap() >= 1, "{erased}");
    let era_id = erased["id"].as_str().unwrap().to_string();
    let one_er = "/v1/compliance/erasures/{id}";
    let again = api
        .call(
            req("GET", one_er)
                .uri(format!("{er}/{era_id}"))
                .key(&officer),
            200,
        )
        .await
        .json();
    assert_eq!(again, erased);
    api.call(
        req("GET", one_er)
            .uri(format!("{er}/era_nope"))
            .key(&officer),
        404,
    )
    .await;
    api.call(
        req("GET", one_er)
            .uri(format!("{er}/{era_id}"))
            .key(&reader),
        403,
    )
    .await;
    for (b, status, field) in [
        (json!({"subject": {}}), 400, "subject"),
        (
            json!({"subject": {"email": "nobody"}}),
            400,
            "subject.email",
        ),
        (
            json!({"subject": {"id": "user_1"}, "colour": 1}),
            400,
            "colour",
        ),
        (
            json!({"subject": {"id": "user_1"}, "organization_ids": ["org_x"]}),
            403,
            "organization_ids",
        ),
    ] {
        let e = api
            .call(req("POST", er).key(&officer).json(&b), status)
            .await;
        assert_eq!(e.json()["field"], field, "{b}");
    }
    api.call(req("POST", er).key(&reader).json(&erase_user_1), 403)
        .await;
    api.call(req("POST", er).json(&erase_user_1), 401).await;
    api.call(req("POST", er).key(&officer).raw("text/plain", "{}"), 415)
        .await;
    // The erased event still validates, its personal fields null.
    let ev = api
        .call(
            req("GET", one)
                .uri(format!("{feed}/{child_event}"))
                .key(&reader),
            200,
        )
        .await
        .json();
    assert!(ev["actor"]["email"].is_null(), "{ev}");
    assert!(
        ev["erased_fields"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );

    // Retention prunes: stubs in the feed, the stream and bundles conform.
    api.call(
        req("PUT", ret)
            .key(&officer)
            .json(&json!({"organization_id": "org_c", "days": 1})),
        200,
    )
    .await;
    let later = sealtrail::time::now_ms() + 3 * 86_400_000;
    let pruned = sealtrail::privacy::retention::prune_due_at(&running.app, later)
        .await
        .expect("prunes");
    assert!(pruned >= 3, "{pruned}");
    let page = api
        .call(
            req("GET", feed)
                .uri(format!("{feed}?organization_ids[]=org_c&order=asc"))
                .key(&reader),
            200,
        )
        .await
        .json();
    assert_eq!(page["data"][0]["pruned"], true, "{page}");
    api.call(
        req("GET", feed)
            .uri(format!("{feed}?organization_ids[]=org_c&format=ocsf"))
            .key(&reader),
        200,
    )
    .await;
    let mut resp = api
        .open_stream(
            req("GET", st)
                .uri(format!(
                    "{st}?organization_ids[]=org_c&after_id={oldest_id}"
                ))
                .key(&reader),
        )
        .await;
    let mut buf = Vec::new();
    let (_, stub) = api
        .stream_event(
            st,
            &mut resp,
            &mut buf,
            "#/components/schemas/PrunedActivity",
        )
        .await;
    assert_eq!(stub["id"].as_str(), Some(second_id.as_str()));
    drop(resp);
    let pruned_bundle = api
        .call(
            req("POST", ex)
                .key(&officer)
                .json(&json!({"organization_id": "org_c"})),
            200,
        )
        .await;
    let report = sealtrail::bundle::verify::verify_bytes(
        pruned_bundle.text.as_bytes(),
        &running.app.signer.verifiers(),
    );
    assert!(report.ok(), "{:?}", report.problems);
    assert!(pruned_bundle.json()["events"][0].get("entry").is_none());

    // Sinks. The webhook points at a local port nobody listens on, so
    // delivery is attempted and fails without any traffic leaving the host.
    let sink_key = api
        .call(
            req("POST", keys).key(op).json(&json!({
                "kind": "compliance", "organization_id": "org_p", "scopes": ["manage:sinks"], "name": "sinks"
            })),
            201,
        )
        .await
        .json();
    let sk = sink_key["token"].as_str().unwrap().to_string();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let hook_url = format!("http://127.0.0.1:{closed}/hook");
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let sinks = "/v1/compliance/sinks";
    let new_sink = json!({
        "name": "soc webhook", "type": "webhook", "organization_id": "org_c",
        "filter": {"activity_types": ["api_key.*"], "outcome": "success"},
        "encoding": "ocsf", "batch_size": 10, "timeout_ms": 1000,
        "backoff": {"initial_ms": 10, "max_ms": 50},
        "destination": {"url": hook_url, "headers": {"x-team": "soc"}},
        "secrets": {"secret": secret}, "start_from": "beginning", "paused": true
    });
    let created = api
        .call(req("POST", sinks).key(&sk).json(&new_sink), 201)
        .await;
    assert!(
        !created.text.contains(secret.trim_start_matches("whsec_")),
        "the secret leaked: {}",
        created.text
    );
    let created = created.json();
    assert_eq!(created["secrets"], json!({"secret": {"set": true}}));
    assert_eq!(created["health"]["state"], "paused");
    assert!(created["health"]["lag_events"].as_u64().unwrap() >= 1);
    let sink_id = created["id"].as_str().unwrap().to_string();
    // Every kind's settings are accepted as documented (created paused,
    // pointing at the same closed port).
    let local = format!("http://127.0.0.1:{closed}");
    for (kind, dest, secrets) in [
        (
            "splunk_hec",
            json!({"url": local, "index": "audit", "ack": true}),
            json!({"token": "7f1c4b2e"}),
        ),
        (
            "datadog",
            json!({"url": local, "ddtags": "env:test"}),
            json!({"api_key": "dd-key"}),
        ),
        (
            "syslog",
            json!({"host": "127.0.0.1", "port": closed, "transport": "tcp", "format": "leef"}),
            json!({}),
        ),
        (
            "elastic",
            json!({"url": local, "index": "logs-sealtrail-default"}),
            json!({"username": "elastic", "password": "changeme"}),
        ),
        (
            "sentinel",
            json!({"endpoint": local, "authority_url": local, "dcr_immutable_id": "dcr-0123",
                   "stream": "Custom-SealtrailActivity_CL", "tenant_id": "tenant", "client_id": "client"}),
            json!({"client_secret": "s3cr3t"}),
        ),
    ] {
        let v = api
            .call(
                req("POST", sinks).key(&sk).json(&json!({
                    "name": kind, "type": kind, "destination": dest, "secrets": secrets, "paused": true
                })),
                201,
            )
            .await
            .json();
        let one = format!("{sinks}/{}", v["id"].as_str().unwrap());
        api.call(
            req("DELETE", "/v1/compliance/sinks/{id}").uri(one).key(&sk),
            200,
        )
        .await;
    }
    for (b, status, field) in [
        (
            json!({"secrets": {"secret": "not-base64!"}}),
            400,
            "secrets.secret",
        ),
        (json!({"filter": "limit=5"}), 400, "filter.limit"),
        (json!({"type": "carrier_pigeon"}), 400, "type"),
        (json!({"destination": [hook_url]}), 400, "destination"),
        (
            json!({"destination": {"url": hook_url, "tls": []}}),
            400,
            "destination.tls",
        ),
        (json!({"backoff": [10, 50]}), 400, "backoff"),
        (json!({"batch_size": 0}), 400, "batch_size"),
        (json!({"colour": "red"}), 400, "colour"),
        (json!({"organization_id": "org_x"}), 403, "organization_id"),
    ] {
        let mut body = new_sink.clone();
        for (k, v) in b.as_object().unwrap() {
            body[k] = v.clone();
        }
        let e = api
            .call(req("POST", sinks).key(&sk).json(&body), status)
            .await;
        assert_eq!(e.json()["field"], field, "{b}");
    }
    let e = api
        .call(
            req("POST", sinks)
                .key(&sk)
                .raw("application/json", format!("[{new_sink}]")),
            400,
        )
        .await;
    assert_eq!(e.json()["field"], "body");
    api.call(req("POST", sinks).key(&sk).raw("text/plain", "{}"), 415)
        .await;
    let mut huge = new_sink.clone();
    huge["name"] = json!("x".repeat(3 << 20));
    api.call(req("POST", sinks).key(&sk).json(&huge), 413).await;
    api.call(req("POST", sinks).key(&reader).json(&new_sink), 403)
        .await;
    api.call(req("POST", sinks).json(&new_sink), 401).await;

    let list = api.call(req("GET", sinks).key(&sk), 200).await.json();
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["data"][0]["id"], sink_id.as_str());
    let e = api
        .call(
            req("GET", sinks)
                .uri(format!("{sinks}?colour=red"))
                .key(&sk),
            400,
        )
        .await;
    assert_eq!(e.json()["field"], "colour");
    api.call(req("GET", sinks).key(&reader), 403).await;
    api.call(req("GET", sinks), 401).await;

    let one_sink = "/v1/compliance/sinks/{id}";
    let at = format!("{sinks}/{sink_id}");
    api.call(req("GET", one_sink).uri(&at).key(&sk), 200).await;
    api.call(
        req("GET", one_sink)
            .uri(format!("{sinks}/snk_nope"))
            .key(&sk),
        404,
    )
    .await;
    let e = api
        .call(
            req("GET", one_sink).uri(format!("{sinks}/%FF")).key(&sk),
            400,
        )
        .await;
    assert_eq!(e.json()["field"], "id");
    api.call(req("GET", one_sink).uri(&at).key(&reader), 403)
        .await;

    let patched = api
        .call(
            req("PATCH", one_sink).uri(&at).key(&sk).json(&json!({
                "name": "soc webhook (eu)", "batch_size": 5, "encoding": "json",
                "filter": "activity_types[]=api_key.*", "secrets": {"secret": secret}
            })),
            200,
        )
        .await
        .json();
    assert_eq!(patched["name"], "soc webhook (eu)");
    assert_eq!(patched["filter"], "activity_types[]=api_key.*");
    let put = api
        .call(
            req("PUT", one_sink)
                .uri(&at)
                .key(&sk)
                .json(&json!({"destination": {"url": hook_url}, "timeout_ms": 500})),
            200,
        )
        .await
        .json();
    assert_eq!(put["destination"], json!({"url": hook_url}));
    for (b, field) in [
        (json!({"batch_size": 0}), "batch_size"),
        (json!({"secrets": {"secret": null}}), "secrets"),
        (
            json!({"destination": {"host": "127.0.0.1"}}),
            "destination.host",
        ),
        (json!({"type": "syslog"}), "type"),
    ] {
        let e = api
            .call(req("PATCH", one_sink).uri(&at).key(&sk).json(&b), 400)
            .await;
        assert_eq!(e.json()["field"], field, "{b}");
    }
    api.call(
        req("PATCH", one_sink)
            .uri(format!("{sinks}/snk_nope"))
            .key(&sk)
            .json(&json!({"name": "x"})),
        404,
    )
    .await;
    api.call(
        req("PATCH", one_sink)
            .uri(&at)
            .key(&sk)
            .raw("text/plain", "{}"),
        415,
    )
    .await;

    let pause = "/v1/compliance/sinks/{id}/pause";
    let resume = "/v1/compliance/sinks/{id}/resume";
    let replay = "/v1/compliance/sinks/{id}/replay";
    let paused = api
        .call(req("POST", pause).uri(format!("{at}/pause")).key(&sk), 200)
        .await
        .json();
    assert_eq!(paused["health"]["state"], "paused");
    let resumed = api
        .call(
            req("POST", resume).uri(format!("{at}/resume")).key(&sk),
            200,
        )
        .await
        .json();
    assert_eq!(resumed["paused"], false);
    // Delivery is attempted, refused by the closed port, and reported.
    let mut failing = Value::Null;
    for _ in 0..100 {
        failing = api
            .call(req("GET", one_sink).uri(&at).key(&sk), 200)
            .await
            .json();
        if failing["health"]["state"] == "failing" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(failing["health"]["state"], "failing", "{failing}");
    assert!(failing["health"]["last_error"].is_string(), "{failing}");
    api.call(
        req("POST", pause)
            .uri(format!("{sinks}/snk_nope/pause"))
            .key(&sk),
        404,
    )
    .await;
    api.call(
        req("POST", resume)
            .uri(format!("{sinks}/snk_nope/resume"))
            .key(&sk),
        404,
    )
    .await;
    api.call(
        req("POST", pause).uri(format!("{at}/pause")).key(&reader),
        403,
    )
    .await;
    for b in [
        json!({"from_id": child_event}),
        json!({"from_time": "2026-12-01T00:00:00Z"}),
        json!({"from_beginning": true}),
    ] {
        let v = api
            .call(
                req("POST", replay)
                    .uri(format!("{at}/replay"))
                    .key(&sk)
                    .json(&b),
                200,
            )
            .await
            .json();
        assert!(v["cursor"]["gseq"].is_u64(), "{b}: {v}");
    }
    for (b, field) in [
        (
            json!({"from_id": child_event, "from_beginning": true}),
            "body",
        ),
        (json!({}), "body"),
        (json!({"from_id": "evt_1"}), "from_id"),
        (json!({"from_time": "yesterday"}), "from_time"),
        (json!({"from_page": 2}), "from_page"),
    ] {
        let e = api
            .call(
                req("POST", replay)
                    .uri(format!("{at}/replay"))
                    .key(&sk)
                    .json(&b),
                400,
            )
            .await;
        assert_eq!(e.json()["field"], field, "{b}");
    }
    api.call(
        req("POST", replay)
            .uri(format!("{sinks}/snk_nope/replay"))
            .key(&sk)
            .json(&json!({"from_beginning": true})),
        404,
    )
    .await;
    api.call(
        req("POST", replay)
            .uri(format!("{at}/replay"))
            .key(&sk)
            .raw("text/plain", "{}"),
        415,
    )
    .await;

    api.call(req("DELETE", one_sink).uri(&at).key(&reader), 403)
        .await;
    let gone = api
        .call(req("DELETE", one_sink).uri(&at).key(&sk), 200)
        .await
        .json();
    assert_eq!(gone, json!({"id": sink_id, "deleted": true}));
    api.call(req("DELETE", one_sink).uri(&at).key(&sk), 404)
        .await;
    api.call(req("GET", one_sink).uri(&at).key(&sk), 404).await;
    // Every change is in the log, never with the secret.
    let changes = api
        .call(
            req("GET", feed)
                .uri(format!(
                    "{feed}?activity_types[]=compliance.sink_changed&organization_ids[]=org_p&order=asc&limit=100"
                ))
                .key(&reader),
            200,
        )
        .await;
    assert!(!changes.text.contains(secret.trim_start_matches("whsec_")));
    let actions: Vec<String> = changes.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"]["id"] == sink_id.as_str())
        .map(|e| e["metadata"]["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actions,
        [
            "created", "updated", "updated", "paused", "resumed", "replayed", "replayed",
            "replayed", "deleted"
        ]
    );

    // Revocation last: the narrow key stops working.
    let rev = "/v1/operator/keys/{id}/revoke";
    api.call(
        req("POST", rev)
            .uri(format!("{keys}/{narrow_id}/revoke"))
            .key(op),
        200,
    )
    .await;
    api.call(req("GET", feed).key(&narrow), 401).await;
    let op_id = op.split('.').next().unwrap();
    api.call(
        req("POST", rev)
            .uri(format!("{keys}/{op_id}/revoke"))
            .key(op),
        409,
    )
    .await;
    api.call(
        req("POST", rev)
            .uri(format!("{keys}/key_nope/revoke"))
            .key(op),
        404,
    )
    .await;

    // Every documented operation answered with success at least once.
    for (m, p) in documented_routes(&api.doc) {
        let statuses = api.seen.get(&(m.clone(), p.clone()));
        assert!(
            statuses.is_some_and(|s| s.iter().any(|c| (200..300).contains(c))),
            "{m} {p} was not exercised with a success: {statuses:?}"
        );
    }
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_answers_conform() {
    let dir = tempfile::tempdir().unwrap();
    let running = server(dir.path(), 2).await;
    let op = running.app.bootstrap_operator_token.clone().unwrap();
    let mut api = Api {
        doc: doc(),
        base: format!("http://{}", running.addr),
        http: reqwest::Client::new(),
        validators: HashMap::new(),
        seen: BTreeMap::new(),
    };
    api.call(
        req("POST", "/v1/operator/organizations")
            .key(&op)
            .json(&json!({"id": "org_a", "name": "A"})),
        201,
    )
    .await;
    let key = api
        .call(
            req("POST", "/v1/operator/keys").key(&op).json(&json!({
                "kind": "compliance", "organization_id": "org_a", "scopes": ["read:activities"]
            })),
            201,
        )
        .await
        .json();
    let key = key["token"].as_str().unwrap().to_string();
    let feed = "/v1/compliance/activities";
    api.call(req("GET", feed).key(&key), 200).await;
    api.call(req("GET", feed).key(&key), 200).await;
    let limited = api.call(req("GET", feed).key(&key), 429).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.json()["type"], "rate_limited");
    assert_eq!(limited.headers["ratelimit-remaining"], "0");
    running.shutdown().await;
}
