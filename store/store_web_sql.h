/*
 * store_web_sql.h - schema migration 2 of the SQLite store: the tables of
 * the web application (store/sqlite_web.c, tessera/store_web.h). Kept apart
 * so store/sqlite.c only lists it.
 */
#ifndef TESSERA_STORE_WEB_SQL_H
#define TESSERA_STORE_WEB_SQL_H

#define TSR__STORE_WEB_MIGRATION_2                                                        \
  "CREATE TABLE web_users (\n"                                                            \
  "  id         INTEGER PRIMARY KEY,\n"                                                   \
  "  name       TEXT NOT NULL UNIQUE,\n"                                                  \
  "  role       TEXT NOT NULL CHECK (role IN ('admin','analyst','viewer')),\n"            \
  "  pwhash     TEXT NOT NULL,\n"                                                         \
  "  created_at INTEGER NOT NULL\n"                                                       \
  ");\n"                                                                                  \
  "CREATE TABLE web_sessions (\n"                                                         \
  "  token_hash TEXT PRIMARY KEY,\n"                                                      \
  "  user_id    INTEGER NOT NULL REFERENCES web_users(id) ON DELETE CASCADE,\n"           \
  "  csrf       TEXT NOT NULL,\n"                                                         \
  "  created_at INTEGER NOT NULL,\n"                                                      \
  "  expires_at INTEGER NOT NULL\n"                                                       \
  ") WITHOUT ROWID;\n"                                                                    \
  "CREATE INDEX web_sessions_user ON web_sessions(user_id);\n"                            \
  "CREATE TABLE web_tokens (\n"                                                           \
  "  id         INTEGER PRIMARY KEY,\n"                                                   \
  "  user_id    INTEGER NOT NULL REFERENCES web_users(id) ON DELETE CASCADE,\n"           \
  "  token_hash TEXT NOT NULL UNIQUE,\n"                                                  \
  "  created_at INTEGER NOT NULL\n"                                                       \
  ");\n"                                                                                  \
  "CREATE TABLE web_requests (\n"                                                         \
  "  id          INTEGER PRIMARY KEY,\n"                                                  \
  "  ts          INTEGER NOT NULL,\n"                                                     \
  "  user_name   TEXT,\n"                                                                 \
  "  method      TEXT NOT NULL,\n"                                                        \
  "  path        TEXT NOT NULL,\n"                                                        \
  "  status      INTEGER NOT NULL,\n"                                                     \
  "  duration_ms REAL NOT NULL,\n"                                                        \
  "  bytes_in    INTEGER NOT NULL,\n"                                                     \
  "  bytes_out   INTEGER NOT NULL\n"                                                      \
  ");\n"                                                                                  \
  "CREATE INDEX web_requests_ts ON web_requests(ts);\n"                                   \
  "CREATE TABLE web_uploads (\n"                                                          \
  "  dataset_id INTEGER PRIMARY KEY REFERENCES datasets(id) ON DELETE CASCADE,\n"         \
  "  owner      INTEGER REFERENCES web_users(id) ON DELETE SET NULL,\n"                   \
  "  name       TEXT NOT NULL\n"                                                          \
  ");\n"                                                                                  \
  "CREATE TABLE web_runs (\n"                                                             \
  "  run_id     INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,\n"             \
  "  upload_id  INTEGER,\n"                                                               \
  "  owner      INTEGER REFERENCES web_users(id) ON DELETE SET NULL\n"                    \
  ");\n"                                                                                  \
  "CREATE TABLE web_history (\n"                                                          \
  "  run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"               \
  "  customer_id TEXT NOT NULL,\n"                                                        \
  "  day         INTEGER NOT NULL,\n"                                                     \
  "  ntx         INTEGER NOT NULL,\n"                                                     \
  "  amount      REAL NOT NULL,\n"                                                        \
  "  PRIMARY KEY (run_id, customer_id, day)\n"                                            \
  ") WITHOUT ROWID;\n"

#endif
