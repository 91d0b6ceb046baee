//! Connecting to a syslog receiver over TCP or TLS and writing frames.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use sealtrail_model::Catalog;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::config::{Config, Secrets, Transport};
use super::encoder::{self, Header};
use crate::delivery::settings::{Invalid, Settings};
use crate::delivery::{Record, SendError, SendFuture, Sink};

trait Stream: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Stream for T {}

/// A syslog destination.
pub struct SyslogSink {
    host: String,
    port: u16,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    header: Header,
    timeout: Duration,
    catalog: Arc<Catalog>,
    conn: Option<(Box<dyn Stream>, TcpStream)>,
}

impl SyslogSink {
    /// Validates the settings and prepares the connector (no connection
    /// is made until the first send).
    pub fn new(
        cfg: Config,
        _secrets: Secrets,
        s: &Settings,
        catalog: Arc<Catalog>,
    ) -> Result<SyslogSink, Invalid> {
        if cfg.host.is_empty() || cfg.host.contains(char::is_whitespace) {
            return Err((
                "destination.host".into(),
                "host is empty or has spaces".into(),
            ));
        }
        if cfg.port == 0 {
            return Err(("destination.port".into(), "port must be 1 to 65535".into()));
        }
        if cfg.facility > 23 {
            return Err((
                "destination.facility".into(),
                "facility must be 0 to 23".into(),
            ));
        }
        if cfg.leef_delimiter == '=' || cfg.leef_delimiter == '\\' || cfg.leef_delimiter == '|' {
            return Err((
                "destination.leef_delimiter".into(),
                "the LEEF delimiter cannot be '=', '\\' or '|'".into(),
            ));
        }
        let tls = match cfg.transport {
            Transport::Tcp => None,
            Transport::Tls => {
                let name = cfg
                    .tls_server_name
                    .clone()
                    .unwrap_or_else(|| cfg.host.clone());
                let sn = ServerName::try_from(name).map_err(|_| {
                    (
                        "destination.tls_server_name".to_string(),
                        "not a valid TLS server name".to_string(),
                    )
                })?;
                let config = crate::delivery::tls::client_config(&cfg.tls)
                    .map_err(|e| ("destination.tls".to_string(), e))?;
                Some((tokio_rustls::TlsConnector::from(Arc::new(config)), sn))
            }
        };
        Ok(SyslogSink {
            header: Header {
                facility: cfg.facility,
                hostname: cfg
                    .hostname
                    .clone()
                    .unwrap_or_else(crate::delivery::splunk_hec::service::local_host),
                app_name: cfg.app_name.clone(),
                sd_id: cfg.structured_data.then(|| cfg.sd_id.clone()),
                format: cfg.format,
                leef_delimiter: cfg.leef_delimiter,
            },
            host: cfg.host,
            port: cfg.port,
            tls,
            timeout: s.timeout(),
            catalog,
            conn: None,
        })
    }

    async fn connect(&self) -> Result<(Box<dyn Stream>, TcpStream), SendError> {
        let addr = format!("{}:{}", self.host, self.port);
        let tcp = tokio::time::timeout(self.timeout, TcpStream::connect(&addr))
            .await
            .map_err(|_| SendError::transient(format!("syslog: connecting to {addr} timed out")))?
            .map_err(|e| SendError::transient(format!("syslog: cannot connect to {addr}: {e}")))?;
        let _ = tcp.set_nodelay(true);
        // A second handle on the same socket, to notice a receiver that
        // closed the connection without writing through the TLS layer.
        let probe = tcp
            .into_std()
            .and_then(|s| {
                let c = s.try_clone()?;
                Ok((TcpStream::from_std(s)?, TcpStream::from_std(c)?))
            })
            .map_err(|e| SendError::transient(format!("syslog: socket setup failed: {e}")))?;
        let (tcp, probe) = probe;
        let stream: Box<dyn Stream> = match &self.tls {
            None => Box::new(tcp),
            Some((connector, name)) => {
                let s = tokio::time::timeout(self.timeout, connector.connect(name.clone(), tcp))
                    .await
                    .map_err(|_| SendError::transient("syslog: TLS handshake timed out"))?
                    .map_err(|e| {
                        SendError::transient(format!("syslog: TLS handshake failed: {e}"))
                    })?;
                Box::new(s)
            }
        };
        Ok((stream, probe))
    }

    /// Whether the receiver has closed the connection (or sent anything,
    /// which a syslog receiver never does), checked without blocking.
    fn closed(probe: &TcpStream) -> bool {
        let mut buf = [0u8; 1];
        match probe.try_read(&mut buf) {
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
            Err(_) => true,
        }
    }
}

impl Sink for SyslogSink {
    fn max_batch(&self) -> usize {
        1000
    }

    fn send<'a>(&'a mut self, records: &'a [Record]) -> SendFuture<'a> {
        Box::pin(async move {
            if self.tls.is_none()
                && let Some((_, probe)) = &self.conn
                && Self::closed(probe)
            {
                self.conn = None;
            }
            let mut buf = Vec::with_capacity(records.len() * 512);
            for r in records {
                encoder::frame(&encoder::message(&self.header, r, &self.catalog), &mut buf);
            }
            let (mut stream, probe) = match self.conn.take() {
                Some(c) => c,
                None => self.connect().await?,
            };
            let write = async {
                stream.write_all(&buf).await?;
                stream.flush().await
            };
            match tokio::time::timeout(self.timeout, write).await {
                Ok(Ok(())) => {
                    self.conn = Some((stream, probe));
                    Ok(records.len())
                }
                Ok(Err(e)) => Err(SendError::transient(format!("syslog: write failed: {e}"))),
                Err(_) => Err(SendError::transient("syslog: write timed out")),
            }
        })
    }
}
