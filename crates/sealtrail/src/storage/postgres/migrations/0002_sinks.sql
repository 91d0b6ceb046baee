-- Push-delivery sinks: settings, sealed secrets, durable cursor, health.
CREATE TABLE IF NOT EXISTS sinks (
  id TEXT PRIMARY KEY,
  org BIGINT NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  config TEXT NOT NULL,
  filter TEXT NOT NULL,
  secrets BYTEA NOT NULL,
  paused BOOLEAN NOT NULL,
  epoch BIGINT NOT NULL,
  cursor_gseq BIGINT NOT NULL,
  created_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL,
  last_success_ms BIGINT,
  last_error TEXT,
  last_error_ms BIGINT,
  delivered BIGINT NOT NULL DEFAULT 0
);
