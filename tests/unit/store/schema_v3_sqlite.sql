-- The SQLite schema of tessera's store as written by hand up to release
-- b984e54 (store/sqlite.c migrations 1-3 and store/store_web_sql.h), and
-- version 4 (customers.history, issue 18), kept
-- as a fixture: tests/unit/store/test_schema.c checks that the schema
-- generated from store/schema.def equals it and that a database of
-- version 1 migrates to it.
-- @version 1
CREATE TABLE datasets (
  id            INTEGER PRIMARY KEY,
  created_at    INTEGER NOT NULL,
  source        TEXT NOT NULL,
  checksum      TEXT NOT NULL,
  bytes         INTEGER NOT NULL DEFAULT 0,
  rows_read     INTEGER NOT NULL DEFAULT 0,
  rows_accepted INTEGER NOT NULL DEFAULT 0,
  rows_rejected INTEGER NOT NULL DEFAULT 0,
  duplicates    INTEGER NOT NULL DEFAULT 0,
  refunds       INTEGER NOT NULL DEFAULT 0,
  options       TEXT,
  stored_path   TEXT
);
CREATE INDEX datasets_checksum ON datasets(checksum, id);
CREATE TABLE rejects (
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  line       INTEGER NOT NULL,
  col        INTEGER NOT NULL DEFAULT 0,
  field      TEXT,
  reason     TEXT NOT NULL,
  raw        TEXT
);
CREATE INDEX rejects_dataset ON rejects(dataset_id, line);
CREATE TABLE runs (
  id          INTEGER PRIMARY KEY,
  dataset_id  INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
  created_at  INTEGER NOT NULL,
  command     TEXT NOT NULL,
  params      TEXT,
  status      TEXT NOT NULL CHECK (status IN
                ('running','done','failed','interrupted','canceled')),
  started_at  INTEGER,
  finished_at INTEGER,
  timings     TEXT,
  summary     TEXT,
  error       TEXT,
  output_dir  TEXT,
  n_customers INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_created ON runs(created_at, id);
CREATE INDEX runs_dataset ON runs(dataset_id);
CREATE INDEX runs_status ON runs(status);
CREATE TABLE customers (
  run_id             INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  customer_id        TEXT NOT NULL,
  frequency          REAL,
  recency            REAL,
  T                  REAL,
  monetary_value     REAL,
  revenue            REAL,
  n_transactions     INTEGER,
  first_purchase     INTEGER,
  last_purchase      INTEGER,
  r_score            INTEGER,
  f_score            INTEGER,
  m_score            INTEGER,
  rfm_cell           TEXT,
  segment            TEXT,
  cluster            INTEGER,
  expected_purchases REAL,
  p_alive            REAL,
  clv                REAL,
  clv_lo             REAL,
  clv_hi             REAL,
  extra              TEXT,
  PRIMARY KEY (run_id, customer_id)
) WITHOUT ROWID;
CREATE TABLE segments (
  run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  scheme        TEXT NOT NULL,
  segment       TEXT NOT NULL,
  customers     INTEGER NOT NULL,
  share         REAL,
  mean_r        REAL,
  mean_f        REAL,
  mean_m        REAL,
  revenue       REAL,
  revenue_share REAL,
  PRIMARY KEY (run_id, scheme, segment)
);
CREATE TABLE models (
  id         INTEGER PRIMARY KEY,
  run_id     INTEGER REFERENCES runs(id) ON DELETE SET NULL,
  kind       TEXT NOT NULL,
  version    INTEGER NOT NULL,
  params     TEXT,
  fit_stats  TEXT,
  created_at INTEGER NOT NULL,
  promoted   INTEGER NOT NULL DEFAULT 0 CHECK (promoted IN (0, 1)),
  UNIQUE (kind, version)
);
CREATE UNIQUE INDEX models_promoted ON models(kind) WHERE promoted = 1;
CREATE INDEX models_run ON models(run_id);
CREATE TABLE events (
  id          INTEGER PRIMARY KEY,
  run_id      INTEGER REFERENCES runs(id) ON DELETE CASCADE,
  ts          INTEGER NOT NULL,
  level       TEXT NOT NULL CHECK (level IN ('info','warn','error')),
  step        TEXT NOT NULL,
  message     TEXT NOT NULL,
  rows_in     INTEGER,
  rows_out    INTEGER,
  duration_ms REAL
);
CREATE INDEX events_run ON events(run_id, id);
-- @version 2
CREATE TABLE web_users (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  role       TEXT NOT NULL CHECK (role IN ('admin','analyst','viewer')),
  pwhash     TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE web_sessions (
  token_hash TEXT PRIMARY KEY,
  user_id    INTEGER NOT NULL REFERENCES web_users(id) ON DELETE CASCADE,
  csrf       TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX web_sessions_user ON web_sessions(user_id);
CREATE TABLE web_tokens (
  id         INTEGER PRIMARY KEY,
  user_id    INTEGER NOT NULL REFERENCES web_users(id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);
CREATE TABLE web_requests (
  id          INTEGER PRIMARY KEY,
  ts          INTEGER NOT NULL,
  user_name   TEXT,
  method      TEXT NOT NULL,
  path        TEXT NOT NULL,
  status      INTEGER NOT NULL,
  duration_ms REAL NOT NULL,
  bytes_in    INTEGER NOT NULL,
  bytes_out   INTEGER NOT NULL
);
CREATE INDEX web_requests_ts ON web_requests(ts);
CREATE TABLE web_uploads (
  dataset_id INTEGER PRIMARY KEY REFERENCES datasets(id) ON DELETE CASCADE,
  owner      INTEGER REFERENCES web_users(id) ON DELETE SET NULL,
  name       TEXT NOT NULL
);
CREATE TABLE web_runs (
  run_id     INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
  upload_id  INTEGER,
  owner      INTEGER REFERENCES web_users(id) ON DELETE SET NULL
);
CREATE TABLE web_history (
  run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  customer_id TEXT NOT NULL,
  day         INTEGER NOT NULL,
  ntx         INTEGER NOT NULL,
  amount      REAL NOT NULL,
  PRIMARY KEY (run_id, customer_id, day)
) WITHOUT ROWID;
-- @version 3
ALTER TABLE runs ADD COLUMN owner TEXT;
ALTER TABLE web_requests ADD COLUMN repeats INTEGER NOT NULL DEFAULT 1;
CREATE TABLE web_login_failures (
  user_name TEXT NOT NULL,
  address   TEXT NOT NULL,
  fails     INTEGER NOT NULL,
  first_ts  INTEGER NOT NULL,
  last_ts   INTEGER NOT NULL,
  PRIMARY KEY (user_name, address)
);
-- @version 4
ALTER TABLE customers ADD COLUMN history TEXT;
