//! A real rsyslog receives Sealtrail's syslog sinks over TCP and TLS
//! (octet counting, RFC 5425) and parses every message as RFC 5424; the
//! CEF and LEEF bodies it stores unescape back to the original values.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Env, ingest, wait_for};

/// rsyslogd running in a temporary directory with its own configuration.
struct Rsyslog {
    child: Child,
    dir: PathBuf,
    tcp_port: u16,
    tls_port: u16,
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn rsyslogd() -> Option<PathBuf> {
    ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A CA and a server certificate for `localhost`, as PEM.
fn certificates(dir: &Path) -> String {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "sealtrail test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    ca.pem()
}

fn start_rsyslog(dir: &Path) -> Rsyslog {
    let bin = rsyslogd().expect("rsyslogd is not installed; scripts/test.sh installs it");
    let (tcp_port, tls_port) = (free_port(), free_port());
    let d = dir.display();
    let conf = format!(
        r#"
global(workDirectory="{d}"
       defaultNetstreamDriverCAFile="{d}/ca.pem"
       defaultNetstreamDriverCertFile="{d}/cert.pem"
       defaultNetstreamDriverKeyFile="{d}/key.pem")
module(load="imtcp" maxSessions="50")
template(name="parsed" type="string"
  string="%protocol-version%\t%timereported:::date-rfc3339%\t%hostname%\t%app-name%\t%procid%\t%msgid%\t%structured-data%\t%msg%\n")
ruleset(name="tcp") {{ action(type="omfile" file="{d}/tcp.log" template="parsed") }}
ruleset(name="tls") {{ action(type="omfile" file="{d}/tls.log" template="parsed") }}
input(type="imtcp" address="127.0.0.1" port="{tcp_port}" ruleset="tcp")
input(type="imtcp" address="127.0.0.1" port="{tls_port}" ruleset="tls"
      streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="anon")
"#
    );
    std::fs::write(dir.join("rsyslog.conf"), conf).unwrap();
    let check = Command::new(&bin)
        .args(["-N1", "-f"])
        .arg(dir.join("rsyslog.conf"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "rsyslog refused the configuration: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let child = Command::new(&bin)
        .arg("-n")
        .arg("-f")
        .arg(dir.join("rsyslog.conf"))
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("rsyslogd.err")).unwrap(),
        ))
        .spawn()
        .unwrap();
    Rsyslog {
        child,
        dir: dir.to_path_buf(),
        tcp_port,
        tls_port,
    }
}

async fn wait_listening(port: u16) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("rsyslog is not listening on {port}");
}

/// Undoes the backslash escapes CEF extensions and LEEF values use.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some(o) => out.push(o),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Splits at `sep` where it is not escaped by a backslash, into at most
/// `max` parts (the last keeps the rest as is).
fn split_unescaped(s: &str, sep: char, max: usize) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut esc = false;
    for c in s.chars() {
        if esc {
            parts.last_mut().unwrap().push(c);
            esc = false;
        } else if c == '\\' {
            parts.last_mut().unwrap().push(c);
            esc = true;
        } else if c == sep && parts.len() < max {
            parts.push(String::new());
        } else {
            parts.last_mut().unwrap().push(c);
        }
    }
    parts
}

/// CEF extension pairs: keys are the words before an unescaped `=`.
fn cef_extension(ext: &str) -> Vec<(String, String)> {
    let bytes: Vec<char> = ext.chars().collect();
    let mut starts = Vec::new();
    // A key starts at the beginning or after a space and runs to an
    // unescaped '='.
    let mut i = 0;
    while i < bytes.len() {
        if i == 0 || bytes[i - 1] == ' ' {
            let mut j = i;
            while j < bytes.len() && bytes[j].is_ascii_alphanumeric() {
                j += 1;
            }
            if j > i && j < bytes.len() && bytes[j] == '=' && (i == 0 || bytes[i - 2] != '\\') {
                starts.push((i, j));
            }
        }
        i += 1;
    }
    let mut out = Vec::new();
    for (n, (k0, k1)) in starts.iter().enumerate() {
        let end = starts.get(n + 1).map(|(s, _)| s - 1).unwrap_or(bytes.len());
        let key: String = bytes[*k0..*k1].iter().collect();
        let raw: String = bytes[k1 + 1..end].iter().collect();
        out.push((key, unescape(&raw)));
    }
    out
}

struct Line {
    version: String,
    hostname: String,
    app: String,
    msgid: String,
    sd: String,
    msg: String,
}

fn read_lines(path: &Path) -> Vec<Line> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.splitn(8, '\t').collect();
            assert_eq!(f.len(), 8, "rsyslog line: {l}");
            Line {
                version: f[0].to_string(),
                hostname: f[2].to_string(),
                app: f[3].to_string(),
                msgid: f[5].to_string(),
                sd: f[6].to_string(),
                msg: f[7].trim_start().to_string(),
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_parses_every_message_over_tcp_and_tls_with_json_cef_and_leef() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = certificates(tmp.path());
    let rs = start_rsyslog(tmp.path());
    wait_listening(rs.tcp_port).await;
    wait_listening(rs.tls_port).await;

    let env = Env::start().await;
    let n = 40;
    let expected = ingest(&env.http, &env.base, &env.ik, 0, n).await;
    // One sink per format and transport, each started from the beginning.
    let mut sinks = Vec::new();
    for (transport, port) in [("tcp", rs.tcp_port), ("tls", rs.tls_port)] {
        for format in ["json", "cef", "leef"] {
            let mut dest = json!({
                "host": "127.0.0.1", "port": port, "transport": transport,
                "format": format, "hostname": "sealtrail-test",
            });
            if transport == "tls" {
                dest["tls_server_name"] = json!("localhost");
                dest["tls"] = json!({"ca_pem": ca});
            }
            let body = json!({
                "name": format!("syslog {transport} {format}"),
                "type": "syslog",
                "filter": {"activity_types": ["file.downloaded"]},
                "batch_size": 7,
                "destination": dest,
                "start_from": "beginning",
            });
            let (s, v) = env
                .call(Method::POST, "/v1/compliance/sinks", &env.ck, Some(body))
                .await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
            sinks.push((transport, format, v["id"].as_str().unwrap().to_string()));
        }
    }
    let (tcp_log, tls_log) = (rs.dir.join("tcp.log"), rs.dir.join("tls.log"));
    wait_for(60, "rsyslog to store every message", || {
        read_lines(&tcp_log).len() >= 3 * n && read_lines(&tls_log).len() >= 3 * n
    })
    .await;

    for (transport, path) in [("tcp", &tcp_log), ("tls", &tls_log)] {
        let lines = read_lines(path);
        let mut by_format: std::collections::HashMap<&str, Vec<String>> = Default::default();
        for l in &lines {
            assert_eq!(l.version, "1", "not parsed as RFC 5424: {}", l.msg);
            assert_eq!(l.hostname, "sealtrail-test");
            assert_eq!(l.app, "sealtrail");
            assert_eq!(l.msgid, "file.downloaded");
            assert!(l.sd.starts_with("[sealtrail@32473 id=\"act_"), "{}", l.sd);
            let id = l.sd.split('"').nth(1).unwrap().to_string();
            if l.msg.starts_with('{') {
                let v: Value = serde_json::from_str(&l.msg).unwrap();
                assert_eq!(v["id"], id);
                assert_eq!(
                    v["actor"]["user_agent"],
                    "Mozilla/5.0 (X11; Linux) ^|=\\ \"q\""
                );
                by_format.entry("json").or_default().push(id);
            } else if l.msg.starts_with("CEF:0|") {
                let header = split_unescaped(&l.msg, '|', 8);
                assert_eq!(header.len(), 8, "CEF header: {}", l.msg);
                assert_eq!(&header[1..3], ["Sealtrail", "Sealtrail"]);
                assert_eq!(header[4], "file.downloaded");
                let ext: std::collections::HashMap<String, String> =
                    cef_extension(&header[7]).into_iter().collect();
                assert_eq!(ext["externalId"], id);
                assert_eq!(
                    ext["requestClientApplication"],
                    "Mozilla/5.0 (X11; Linux) ^|=\\ \"q\""
                );
                assert!(
                    ext["cs5"].starts_with("report|") && ext["cs5"].ends_with("=final ^v2.pdf")
                );
                assert_eq!(ext["src"], "203.0.113.7");
                by_format.entry("cef").or_default().push(id);
            } else if l.msg.starts_with("LEEF:2.0|") {
                let header: Vec<&str> = l.msg.splitn(7, '|').collect();
                assert_eq!(header.len(), 7, "LEEF header: {}", l.msg);
                assert_eq!(header[4], "file.downloaded");
                assert_eq!(header[5], "^");
                let attrs: std::collections::HashMap<String, String> =
                    split_unescaped(header[6], '^', usize::MAX)
                        .into_iter()
                        .map(|kv| {
                            let (k, v) = kv.split_once('=').unwrap();
                            (k.to_string(), unescape(v))
                        })
                        .collect();
                assert_eq!(attrs["activityId"], id);
                assert_eq!(attrs["userAgent"], "Mozilla/5.0 (X11; Linux) ^|=\\ \"q\"");
                assert!(attrs["targetName"].ends_with("=final ^v2.pdf"));
                assert_eq!(attrs["devTime"], "2026-12-04T10:00:00.000Z");
                by_format.entry("leef").or_default().push(id);
            } else {
                panic!("unexpected body over {transport}: {}", l.msg);
            }
        }
        for format in ["json", "cef", "leef"] {
            let got = &by_format[format];
            // One connection per sink, so each sink's messages are stored
            // in the order they were sent: the log's.
            let mut dedup = got.clone();
            dedup.dedup();
            assert_eq!(
                dedup, expected,
                "{transport}/{format} order or completeness"
            );
        }
    }
    for (_, _, id) in sinks {
        let (_, v) = env
            .call(
                Method::GET,
                &format!("/v1/compliance/sinks/{id}"),
                &env.ck,
                None,
            )
            .await;
        assert_eq!(v["health"]["lag_events"], 0, "{v}");
    }
}
