//! Syslog: RFC 5424 messages over TCP (RFC 6587 octet counting) or TLS
//! (RFC 5425, the same framing), with a JSON, CEF or LEEF 2.0 body.
//!
//! Syslog has no acknowledgement: a batch counts as delivered once it is
//! written and flushed to the connection. A broken connection is noticed
//! before the next batch (or by the failed write) and the batch in flight
//! is sent again on a new connection.

pub mod cef;
pub mod config;
pub mod encoder;
pub mod leef;
pub mod service;
#[cfg(test)]
mod tests;
