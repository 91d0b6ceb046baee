//! Sealtrail: a self-hostable, tamper-evident Compliance API.
//!
//! See `ARCHITECTURE.md` at the repository root for the code map.

pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod bench;
pub mod bundle;
pub mod cache;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod demo;
pub mod error;
pub mod feed;
pub mod ids;
pub mod ingest;
pub mod log;
pub mod metrics;
pub mod operator;
pub mod privacy;
pub mod registry;
pub mod server;
pub mod storage;
pub mod testing;
pub mod time;
