//! A minimal HTTP/1.1 server for receivers under test: it hands each
//! request to a handler that decides the reply, including faults a real
//! server library would not produce on demand (connection resets, answers
//! slower than the client's timeout).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as received.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    /// Path with query.
    pub target: String,
    /// Header names lowercased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: tokio::time::Instant,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What to do with a request.
pub enum Reply {
    /// A response.
    Status(u16, Vec<(String, String)>, Vec<u8>),
    /// Reset the connection (TCP RST) without answering.
    Reset,
    /// Answer, but only after a delay.
    Slow(Duration, Box<Reply>),
}

impl Reply {
    pub fn json(status: u16, v: serde_json::Value) -> Reply {
        Reply::Status(
            status,
            vec![("content-type".into(), "application/json".into())],
            v.to_string().into_bytes(),
        )
    }

    pub fn empty(status: u16) -> Reply {
        Reply::Status(status, vec![], vec![])
    }
}

pub type Handler = Arc<dyn Fn(Req) -> Reply + Send + Sync>;

/// Serves on a free loopback port until the process ends.
pub async fn serve(handler: Handler) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = l.accept().await else {
                return;
            };
            tokio::spawn(conn(s, handler.clone()));
        }
    });
    addr
}

/// A connection that can be torn down with a TCP reset.
pub trait Resettable: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    fn reset(&self);
}

impl Resettable for TcpStream {
    fn reset(&self) {
        let _ = self.set_zero_linger();
    }
}

impl Resettable for tokio_rustls::server::TlsStream<TcpStream> {
    fn reset(&self) {
        let _ = self.get_ref().0.set_zero_linger();
    }
}

/// Serves HTTPS with this TLS configuration on a free loopback port.
pub async fn serve_tls(handler: Handler, tls: Arc<rustls::ServerConfig>) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = l.accept().await else {
                return;
            };
            let (acceptor, handler) = (acceptor.clone(), handler.clone());
            tokio::spawn(async move {
                if let Ok(t) = acceptor.accept(s).await {
                    conn(t, handler).await;
                }
            });
        }
    });
    addr
}

async fn conn<S: Resettable>(mut s: S, handler: Handler) {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p;
            }
            let mut chunk = [0u8; 8192];
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or("").split(' ');
        let method = first.next().unwrap_or("").to_string();
        let target = first.next().unwrap_or("").to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let body_start = head_end + 4;
        while buf.len() < body_start + len {
            let mut chunk = [0u8; 65536];
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = buf[body_start..body_start + len].to_vec();
        buf.drain(..body_start + len);
        let req = Req {
            method,
            target,
            headers,
            body,
            at: tokio::time::Instant::now(),
        };
        let mut reply = handler(req);
        loop {
            match reply {
                Reply::Slow(d, r) => {
                    tokio::time::sleep(d).await;
                    reply = *r;
                }
                Reply::Reset => {
                    s.reset();
                    return;
                }
                Reply::Status(code, hs, body) => {
                    let mut out =
                        format!("HTTP/1.1 {code} X\r\ncontent-length: {}\r\n", body.len());
                    for (k, v) in hs {
                        out.push_str(&format!("{k}: {v}\r\n"));
                    }
                    out.push_str("\r\n");
                    let mut bytes = out.into_bytes();
                    bytes.extend_from_slice(&body);
                    if s.write_all(&bytes).await.is_err() {
                        return;
                    }
                    break;
                }
            }
        }
    }
}
