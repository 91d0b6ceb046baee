//! Bytes on disk per event: the database and its WAL after a checkpoint
//! (so the WAL does not count twice), divided by the events stored, with
//! the share of each table and index so a miss can be traced to its cause.

use serde::Serialize;

use super::{Harness, progress, sys};

/// The footprint of the stored events.
#[derive(Clone, Debug, Serialize)]
pub struct DiskFigure {
    /// Events in the database (including the harness's own audit records).
    pub events: u64,
    /// Database + WAL + shared memory, bytes.
    pub bytes: u64,
    /// `bytes / events`.
    pub bytes_per_event: f64,
    /// Bytes per event of each table and index (from SQLite's `dbstat`).
    pub by_object: Vec<(String, f64)>,
    /// Mean stored size of the largest columns of `events`, bytes.
    pub columns: Vec<(String, f64)>,
}

/// Checkpoints the WAL and measures.
pub async fn measure(h: &Harness) -> anyhow::Result<DiskFigure> {
    let app = h.app.clone();
    let path = crate::app::db_path(&app.config);
    let fig = tokio::task::spawn_blocking(move || -> anyhow::Result<DiskFigure> {
        app.store.scrub()?;
        let events = app.store.max_gseq()?;
        let bytes = sys::db_bytes(&path);
        let conn = rusqlite::Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        let per = |b: f64| b / events.max(1) as f64;
        let by_object = match conn
            .prepare("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 12")
        {
            Ok(mut st) => st
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?)))?
                .filter_map(Result::ok)
                .map(|(n, b)| (n, per(b)))
                .collect(),
            Err(_) => Vec::new(),
        };
        let columns = conn
            .query_row(
                "SELECT avg(length(entry)), avg(length(pii)), avg(length(subjects)),
                        avg(length(source_event_id)), avg(length(actor_email_bi))
                 FROM (SELECT * FROM events ORDER BY gseq DESC LIMIT 100000)",
                [],
                |r| {
                    Ok(vec![
                        (
                            "entry".to_string(),
                            r.get::<_, Option<f64>>(0)?.unwrap_or(0.0),
                        ),
                        (
                            "pii".to_string(),
                            r.get::<_, Option<f64>>(1)?.unwrap_or(0.0),
                        ),
                        (
                            "subjects".to_string(),
                            r.get::<_, Option<f64>>(2)?.unwrap_or(0.0),
                        ),
                        (
                            "source_event_id".to_string(),
                            r.get::<_, Option<f64>>(3)?.unwrap_or(0.0),
                        ),
                        (
                            "actor_email_bi".to_string(),
                            r.get::<_, Option<f64>>(4)?.unwrap_or(0.0),
                        ),
                    ])
                },
            )
            .unwrap_or_default();
        Ok(DiskFigure {
            events,
            bytes,
            bytes_per_event: per(bytes as f64),
            by_object,
            columns,
        })
    })
    .await??;
    progress(format!(
        "disk: {} events, {:.0} bytes/event",
        fig.events, fig.bytes_per_event
    ));
    Ok(fig)
}
