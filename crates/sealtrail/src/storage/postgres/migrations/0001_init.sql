-- Sealtrail on PostgreSQL, schema version 1.
--
-- `events` holds bodies and filter columns and is partitioned by month of
-- received time, so retention can drop a whole month at once. Everything a
-- proof or an idempotent retry needs lives in tables that are never
-- partitioned: `leaves` (one row per leaf, kept forever), `nodes`, `heads`,
-- `source_events`.

CREATE TABLE log_state(
  id int PRIMARY KEY CHECK (id = 1),
  gseq bigint NOT NULL,      -- last global commit sequence handed out
  last_ms bigint NOT NULL    -- greatest received time committed
);
INSERT INTO log_state(id, gseq, last_ms) VALUES (1, 0, 0);

CREATE TABLE orgs(
  key bigserial PRIMARY KEY,
  id text NOT NULL UNIQUE,
  name text NOT NULL,
  parent bigint,
  tree bigint NOT NULL,
  enabled boolean NOT NULL,
  enabled_ms bigint,
  disabled_ms bigint,
  created_ms bigint NOT NULL,
  retention_days bigint
);

CREATE TABLE keys(
  id text PRIMARY KEY,
  kind text NOT NULL,
  secret_hash bytea NOT NULL,
  org bigint,
  product text,
  scopes text NOT NULL,
  name text NOT NULL,
  created_ms bigint NOT NULL,
  expires_ms bigint,
  revoked_ms bigint
);
CREATE INDEX keys_org ON keys(org, created_ms);

CREATE TABLE events(
  gseq bigint NOT NULL,
  tree bigint NOT NULL,
  org bigint NOT NULL,
  seq bigint NOT NULL,
  -- byte order, so `prefix.*` filters are index range scans whatever the
  -- database's locale
  type text COLLATE "C" NOT NULL,
  category text NOT NULL,
  product text,
  created_ms bigint NOT NULL,
  received_ms bigint NOT NULL,
  actor_id text,
  actor_email_bi bytea,
  ip_bi bytea,
  api_key_id text,
  target_id text,
  outcome text NOT NULL,
  source_event_id text,
  entry bytea,
  leaf bytea NOT NULL,
  pii bytea,
  subjects bytea,
  PRIMARY KEY (gseq, received_ms)
) PARTITION BY RANGE (received_ms);
-- Rows whose received time has no monthly partition yet (a clock far off):
-- kept, never refused. The engine creates months ahead, so this stays empty.
CREATE TABLE events_default PARTITION OF events DEFAULT;

-- One index per feed filter, each ending in gseq so a filtered page is an
-- index range scan in commit order (both directions).
CREATE UNIQUE INDEX events_org_seq ON events(org, seq, received_ms);
CREATE INDEX events_tree ON events(tree, gseq);
CREATE INDEX events_actor ON events(tree, actor_id, gseq) WHERE actor_id IS NOT NULL;
CREATE INDEX events_email ON events(tree, actor_email_bi, gseq) WHERE actor_email_bi IS NOT NULL;
CREATE INDEX events_ip ON events(tree, ip_bi, gseq) WHERE ip_bi IS NOT NULL;
CREATE INDEX events_target ON events(tree, target_id, gseq) WHERE target_id IS NOT NULL;
CREATE INDEX events_api_key ON events(tree, api_key_id, gseq) WHERE api_key_id IS NOT NULL;
CREATE INDEX events_type ON events(tree, type, gseq);

-- The permanent skeleton of each log: what proofs, lookups by id and the
-- start-up head check need, and what survives a dropped partition.
CREATE TABLE leaves(
  org bigint NOT NULL,
  seq bigint NOT NULL,
  gseq bigint NOT NULL,
  received_ms bigint NOT NULL,
  created_ms bigint NOT NULL,
  type text COLLATE "C" NOT NULL,
  leaf bytea NOT NULL,
  PRIMARY KEY (org, seq)
);
CREATE UNIQUE INDEX leaves_gseq ON leaves(gseq);

-- Idempotency per (organization, product, source event id). A unique index
-- on the partitioned table would have to include received_ms and so could
-- not catch a retry that lands in another month.
CREATE TABLE source_events(
  org bigint NOT NULL,
  product text NOT NULL,
  source_event_id text NOT NULL,
  gseq bigint NOT NULL,
  seq bigint NOT NULL,
  received_ms bigint NOT NULL,
  PRIMARY KEY (org, product, source_event_id)
);

CREATE TABLE nodes(
  org bigint NOT NULL,
  level bigint NOT NULL,
  idx bigint NOT NULL,
  hash bytea NOT NULL,
  PRIMARY KEY (org, level, idx)
);

CREATE TABLE heads(
  org bigint PRIMARY KEY,
  size bigint NOT NULL,
  frontier bytea NOT NULL
);

CREATE TABLE checkpoints(
  org bigint NOT NULL,
  size bigint NOT NULL,
  root bytea NOT NULL,
  note text NOT NULL,
  signed_ms bigint NOT NULL,
  PRIMARY KEY (org, size)
);

CREATE TABLE legal_holds(
  id text PRIMARY KEY,
  org bigint NOT NULL,
  subject bytea,
  reason text NOT NULL,
  created_ms bigint NOT NULL,
  released_ms bigint
);

CREATE TABLE erasures(
  id text PRIMARY KEY,
  body text NOT NULL
);

CREATE TABLE subject_keys(
  org bigint NOT NULL,
  subject bytea NOT NULL,
  wrapped bytea,
  created_ms bigint NOT NULL,
  erased_ms bigint,
  PRIMARY KEY (org, subject)
);
