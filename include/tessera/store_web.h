/*
 * tessera/store_web.h - the web application's tables in the store (schema
 * migration 2): accounts with argon2id password hashes, sessions (hash of the
 * cookie token + CSRF secret), API tokens (hash only), the request log,
 * uploaded datasets and web runs with their owner, and per-customer purchase
 * histories of web runs.
 *
 * Same conventions as tessera/store.h: tsr_status return, tsr_error *err
 * last, borrowed inputs, callbacks receive borrowed rows. SQLite and
 * PostgreSQL back ends (store/web.c; tables in store/schema.def). One
 * thread per handle. Every statement is prepared with bound parameters.
 * Hashing is the caller's job: this layer stores and compares text only.
 */
#ifndef TESSERA_STORE_WEB_H
#define TESSERA_STORE_WEB_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/error.h"
#include "tessera/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsr_web_user {
  int64_t id;
  const char *name;   /* 1..64 bytes */
  const char *role;   /* "admin", "analyst", "viewer" */
  const char *pwhash; /* crypto_pwhash_str output */
  int64_t created_at; /* ms */
} tsr_web_user;

/* Adds a user. TSR_EEXIST "user 'x': already exists". OUT: *id (may be NULL). */
TSR_API tsr_status tsr_web_user_add(tsr_store *s, const char *name, const char *role,
                                    const char *pwhash, int64_t *id, tsr_error *err);
/* Replaces a user's password hash and role (role NULL = keep). */
TSR_API tsr_status tsr_web_user_update(tsr_store *s, const char *name, const char *role,
                                       const char *pwhash, tsr_error *err);
/* Deletes a user (and its sessions and tokens). TSR_ENOTFOUND. */
TSR_API tsr_status tsr_web_user_del(tsr_store *s, const char *name, tsr_error *err);
/* By name (id 0) or by id. OUT: *out (tsr_store_free). TSR_ENOTFOUND. */
TSR_API tsr_status tsr_web_user_get(tsr_store *s, int64_t id, const char *name,
                                    tsr_web_user **out, tsr_error *err);
typedef int (*tsr_web_user_cb)(void *ctx, const tsr_web_user *u);
/* Users by name. */
TSR_API tsr_status tsr_web_users_list(tsr_store *s, tsr_web_user_cb cb, void *ctx,
                                      tsr_error *err);

/* Sessions: token_hash is the hex hash of the cookie token. */
TSR_API tsr_status tsr_web_session_add(tsr_store *s, const char *token_hash, int64_t user_id,
                                       const char *csrf, int64_t expires_at, tsr_error *err);
/* The user of a live session (expires_at > now) and its CSRF secret.
 * OUT: *user (tsr_store_free), csrf copied into csrf_buf (cap bytes).
 * TSR_ENOTFOUND when unknown or expired. */
TSR_API tsr_status tsr_web_session_get(tsr_store *s, const char *token_hash, int64_t now,
                                       tsr_web_user **user, char *csrf_buf, size_t cap,
                                       tsr_error *err);
TSR_API tsr_status tsr_web_session_del(tsr_store *s, const char *token_hash, tsr_error *err);
/* Ends every session of user_id except the one of keep_hash (NULL: ends
 * them all), as after a password change. OUT: *ended = sessions deleted
 * (may be NULL). */
TSR_API tsr_status tsr_web_sessions_del(tsr_store *s, int64_t user_id, const char *keep_hash,
                                        int64_t *ended, tsr_error *err);

/* API tokens (hash of the token only). */
TSR_API tsr_status tsr_web_token_add(tsr_store *s, int64_t user_id, const char *token_hash,
                                     tsr_error *err);
/* OUT: *user (tsr_store_free). TSR_ENOTFOUND. */
TSR_API tsr_status tsr_web_token_get(tsr_store *s, const char *token_hash,
                                     tsr_web_user **user, tsr_error *err);

/* One served request. */
typedef struct tsr_web_request {
  int64_t ts;         /* ms */
  const char *user;   /* or NULL */
  const char *method;
  const char *path;
  int status;
  double duration_ms;
  int64_t bytes_in, bytes_out;
  int64_t repeats;    /* requests this row stands for (repeated failures are
                         aggregated); 0 = 1 */
} tsr_web_request;

/* Appends n requests in one transaction. */
TSR_API tsr_status tsr_web_requests_add(tsr_store *s, const tsr_web_request *rows, size_t n,
                                        tsr_error *err);
/* OUT: *n rows in the request log. */
TSR_API tsr_status tsr_web_requests_count(tsr_store *s, int64_t *n, tsr_error *err);
/* Retention (store/web_limits.c): deletes requests older than before_ts and,
 * when max_rows > 0, the oldest beyond the newest max_rows. OUT (may be
 * NULL): *deleted. */
TSR_API tsr_status tsr_web_requests_prune(tsr_store *s, int64_t before_ts, int64_t max_rows,
                                          int64_t *deleted, tsr_error *err);

/* Failed logins per (user name, client address), kept in the store so a
 * restart does not reset a lock-out. fails: failures of the pair counted
 * since `since` (0 when none). fail: records one at `now`; a pair whose
 * count started before now - window_ms starts again at 1. clear: after a
 * successful login. */
TSR_API tsr_status tsr_web_login_fails(tsr_store *s, const char *user, const char *address,
                                       int64_t since, int64_t *fails, tsr_error *err);
TSR_API tsr_status tsr_web_login_fail(tsr_store *s, const char *user, const char *address,
                                      int64_t now, int64_t window_ms, tsr_error *err);
TSR_API tsr_status tsr_web_login_clear(tsr_store *s, const char *user, const char *address,
                                       tsr_error *err);

/* Uploads: the dataset of an uploaded file, its owner (user id) and name. */
TSR_API tsr_status tsr_web_upload_add(tsr_store *s, int64_t dataset_id, int64_t owner,
                                      const char *name, tsr_error *err);
/* OUT: *owner (0 = none). TSR_ENOTFOUND when dataset_id is not an upload. */
TSR_API tsr_status tsr_web_upload_owner(tsr_store *s, int64_t dataset_id, int64_t *owner,
                                        tsr_error *err);
/* Deletes dataset id with its rejects and upload row (runs keep their results,
 * dataset_id set NULL). TSR_ENOTFOUND. */
TSR_API tsr_status tsr_web_dataset_delete(tsr_store *s, int64_t id, tsr_error *err);

/* Web runs: which upload a run analysed and who started it. */
TSR_API tsr_status tsr_web_run_add(tsr_store *s, int64_t run_id, int64_t upload_id,
                                   int64_t owner, tsr_error *err);
/* OUT: *upload_id, *owner (either may be NULL). TSR_ENOTFOUND. */
TSR_API tsr_status tsr_web_run_get(tsr_store *s, int64_t run_id, int64_t *upload_id,
                                   int64_t *owner, tsr_error *err);
/* The run (newest first) whose output_dir equals dir. OUT: *run_id. */
TSR_API tsr_status tsr_web_run_by_output(tsr_store *s, const char *dir, int64_t *run_id,
                                         tsr_error *err);
/* Marks every web run still "running" as interrupted (a server that stopped
 * without finishing them: crash, kill -9). Runs of other processes (the CLI)
 * are left alone. OUT (may be NULL): *n runs changed. */
TSR_API tsr_status tsr_web_runs_interrupt(tsr_store *s, int64_t *n, tsr_error *err);
/* Deletes a run with its customers, segments, events and history. */
TSR_API tsr_status tsr_web_run_delete(tsr_store *s, int64_t run_id, tsr_error *err);

/* Purchase history of a customer in a run: one row per active day. */
typedef struct tsr_web_history_row {
  int64_t day;    /* days since 1970-01-01 */
  int64_t ntx;    /* purchases that day */
  double amount;  /* spend that day */
} tsr_web_history_row;

/* Appends rows of one customer (joins an open transaction). */
TSR_API tsr_status tsr_web_history_add(tsr_store *s, int64_t run_id, const char *customer_id,
                                       const tsr_web_history_row *rows, size_t n,
                                       tsr_error *err);
/* Customer i's rows for tsr_web_history_load: *rows (valid until the next
 * call) and *n; a status other than TSR_OK stops the load with it. Called
 * with rows == NULL as a hint that customer i comes soon (*n: 0 some
 * customers ahead, 1 nearer; prefetch its memory; the result is ignored). */
typedef tsr_status (*tsr_web_history_src)(void *ctx, size_t i, const tsr_web_history_row **rows,
                                          size_t *n, tsr_error *err);
/* The histories of n customers of a run in one bulk load (COPY on
 * PostgreSQL, multi-row INSERTs on SQLite) in key order: ids[i] is customer
 * i, src(ctx, i, ...) gives its rows (called in any order, once or twice).
 * Joins an open transaction or runs in its own. Rows already stored for a
 * (customer, day) are an error (tsr_web_history_add replaces them). */
TSR_API tsr_status tsr_web_history_load(tsr_store *s, int64_t run_id, const char *const *ids,
                                        size_t n, tsr_web_history_src src, void *ctx,
                                        tsr_error *err);
typedef int (*tsr_web_history_cb)(void *ctx, const tsr_web_history_row *row);
/* By day (a nonzero cb stops). From the customer's row (customers.history,
 * schema version 4) when it holds the history (not NULL), else from the
 * web_history table (runs stored before version 4; ledger customers
 * without a customers row, such as those with refunds only). Rows added
 * with tsr_web_history_add for a customer whose row holds a history are
 * not seen. TSR_EINVAL when the row's text is malformed. */
TSR_API tsr_status tsr_web_history_list(tsr_store *s, int64_t run_id, const char *customer_id,
                                        tsr_web_history_cb cb, void *ctx, tsr_error *err);

/* The compact text of a purchase history (tsr_customer.history): the rows
 * (by day) as entries separated by ';', each "D[*N],A": D the day minus the
 * previous entry's day (the first entry: the day itself), "*N" the
 * purchases when not 1, A the amount in hundredths when that is exact
 * (amount == A / 100.0, -0 excepted), else '~' and the amount at 17
 * significant digits. No rows: "". Example: "19723*2,1500;14,2000" is
 * 2024-01-01 two purchases 15.00, 2024-01-15 one purchase 20.00. Parsing
 * gives every row back exactly (days, counts, amounts bit for bit).
 * Bytes needed: at most n * TSR_WEB_HISTORY_ENTRY_MAX + 1. */
#define TSR_WEB_HISTORY_ENTRY_MAX 72
/* Writes the text of rows[0..n) and its NUL to buf (cap bytes). Returns its
 * length, or SIZE_MAX (buf "") when cap is below what is needed. */
TSR_API size_t tsr_web_history_format(const tsr_web_history_row *rows, size_t n, char *buf,
                                      size_t cap);
/* Calls cb for each row of text in order (a nonzero return stops).
 * TSR_EINVAL "history: malformed text at byte N". */
TSR_API tsr_status tsr_web_history_parse(const char *text, tsr_web_history_cb cb, void *ctx,
                                         tsr_error *err);

/* on = 1: keeps the frequent statements of this module prepared on s's
 * connection (logins, histories) until called with on = 0, which must happen
 * before tsr_store_close(s). For long-lived handles (the server's, one per
 * thread). TSR_ELIMIT when too many connections are registered. */
TSR_API tsr_status tsr_web_store_cache(tsr_store *s, int on);

/* Aggregates of a run's customers for the dashboard, as JSON text:
 *   {"clusters":[{"cluster":0,"customers":..,"revenue":..,"mean_frequency":..,
 *     "mean_recency":..,"mean_T":..,"mean_monetary":..,"mean_clv":..,
 *     "mean_p_alive":..}],
 *    "rf_grid":[{"r":1,"f":1,"customers":..,"mean_monetary":..}],
 *    "p_alive_hist":[counts of 10 bins over [0,1]],
 *    "frequency_hist":[{"frequency":0,"customers":..}] (0..19, 20 = 20+),
 *    "clv_hist":{"edges":[..],"counts":[..]} (10 bins, quantile range)}
 * OUT: *json (caller frees with free()). */
TSR_API tsr_status tsr_web_run_aggregates(tsr_store *s, int64_t run_id, char **json,
                                          tsr_error *err);

#ifdef __cplusplus
}
#endif
#endif
