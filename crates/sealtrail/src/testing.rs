//! Support for the black-box test suites: which storage engine a test
//! server runs on. The suites build every server configuration through
//! [`config`] (or [`storage`]), so the whole suite runs on either engine:
//!
//! ```text
//! cargo test -p sealtrail --tests                                 # SQLite
//! SEALTRAIL_TEST_ENGINE=postgres SEALTRAIL_TEST_PG_URL=postgres://… \
//!     cargo test -p sealtrail --tests                             # PostgreSQL
//! ```

use std::path::Path;

use crate::config::Config;
use crate::storage::postgres::{TEST_URL_VAR, create_database};

/// The variable selecting the engine of test servers: `sqlite` (the
/// default when unset or empty) or `postgres`.
pub const ENGINE_VAR: &str = "SEALTRAIL_TEST_ENGINE";

/// A storage engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// The engine `SEALTRAIL_TEST_ENGINE` selects. Any value other than
    /// `sqlite` or `postgres` panics, so a typo never runs the suite on the
    /// wrong engine unnoticed.
    pub fn selected() -> Engine {
        let v = std::env::var(ENGINE_VAR).unwrap_or_default();
        match v.trim().to_ascii_lowercase().as_str() {
            "" | "sqlite" => Engine::Sqlite,
            "postgres" | "postgresql" => Engine::Postgres,
            other => panic!("{ENGINE_VAR}={other:?}: use \"sqlite\" or \"postgres\""),
        }
    }

    /// The value of `Config::storage` for a new server on this engine: empty
    /// for SQLite (files in the data directory), or the URL of a fresh
    /// database on the server `SEALTRAIL_TEST_PG_URL` names, its name
    /// starting with `prefix`. Panics when PostgreSQL is asked for and no
    /// server is configured or reachable: a PostgreSQL run never passes by
    /// falling back to SQLite.
    pub fn storage(self, prefix: &str) -> String {
        match self {
            Engine::Sqlite => String::new(),
            Engine::Postgres => {
                let base = std::env::var(TEST_URL_VAR).unwrap_or_default();
                assert!(
                    !base.is_empty(),
                    "{ENGINE_VAR}=postgres needs {TEST_URL_VAR} (scripts/pg.sh start prints one)"
                );
                create_database(&base, prefix)
                    .unwrap_or_else(|e| panic!("cannot create a test database on {base}: {e}"))
            }
        }
    }

    /// A test server's configuration on this engine: loopback on a port the
    /// system picks, `data_dir`, the engine's storage, other settings at
    /// their defaults.
    pub fn config(self, data_dir: &Path, prefix: &str) -> Config {
        Config {
            listen: ([127, 0, 0, 1], 0).into(),
            data_dir: data_dir.to_path_buf(),
            storage: self.storage(prefix),
            ..Config::default()
        }
    }
}

/// [`Engine::storage`] on the selected engine.
pub fn storage(prefix: &str) -> String {
    Engine::selected().storage(prefix)
}

/// [`Engine::config`] on the selected engine.
pub fn config(data_dir: &Path, prefix: &str) -> Config {
    Engine::selected().config(data_dir, prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_keeps_its_files_in_the_data_directory() {
        let cfg = Engine::Sqlite.config(Path::new("/tmp/x"), "t");
        assert_eq!(cfg.storage, "");
        assert_eq!(cfg.data_dir, Path::new("/tmp/x"));
        assert_eq!(cfg.listen.to_string(), "127.0.0.1:0");
    }
}
