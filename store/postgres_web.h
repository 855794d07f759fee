/*
 * postgres_web.h - the web tables on PostgreSQL (store/postgres_web.c),
 * called by store/sqlite_web.c for a store on the PostgreSQL back end once
 * it has checked the arguments. Errors: TSR_ESTORE with libpq's message,
 * TSR_EEXIST on an integrity violation of a one-statement write (as
 * sqlite_web.c for SQLITE_CONSTRAINT; message set), TSR_ENOTFOUND without a
 * message (sqlite_web.c words it). *changed: rows affected. Not public API.
 */
#ifndef TESSERA_POSTGRES_WEB_H
#define TESSERA_POSTGRES_WEB_H

#include <libpq-fe.h>

#include "tessera/store_web.h"

/* The connection of an impl of tsr__store_pg_methods (store/postgres.c). */
PGconn *tsr__pg_conn(void *impl);
/* Forgets the statements prepared on c (store/postgres.c, before PQfinish). */
void tsr__pgweb_forget(PGconn *c);

tsr_status tsr__pgweb_user_add(PGconn *c, const char *name, const char *role, const char *pwhash,
                               int64_t *id, tsr_error *err);
tsr_status tsr__pgweb_user_update(PGconn *c, const char *name, const char *role,
                                  const char *pwhash, int64_t *changed, tsr_error *err);
tsr_status tsr__pgweb_user_del(PGconn *c, const char *name, int64_t *changed, tsr_error *err);
tsr_status tsr__pgweb_user_get(PGconn *c, int64_t id, const char *name, tsr_web_user **out,
                               tsr_error *err);
tsr_status tsr__pgweb_users_list(PGconn *c, tsr_web_user_cb cb, void *ctx, tsr_error *err);
tsr_status tsr__pgweb_session_add(PGconn *c, const char *token_hash, int64_t user_id,
                                  const char *csrf, int64_t expires_at, tsr_error *err);
tsr_status tsr__pgweb_session_get(PGconn *c, const char *token_hash, int64_t now,
                                  tsr_web_user **user, char *csrf_buf, size_t cap,
                                  tsr_error *err);
tsr_status tsr__pgweb_session_del(PGconn *c, const char *token_hash, tsr_error *err);
tsr_status tsr__pgweb_token_add(PGconn *c, int64_t user_id, const char *token_hash,
                                tsr_error *err);
tsr_status tsr__pgweb_token_get(PGconn *c, const char *token_hash, tsr_web_user **user,
                                tsr_error *err);
tsr_status tsr__pgweb_requests_add(PGconn *c, const tsr_web_request *rows, size_t n,
                                   tsr_error *err);
tsr_status tsr__pgweb_requests_count(PGconn *c, int64_t *n, tsr_error *err);
tsr_status tsr__pgweb_upload_add(PGconn *c, int64_t dataset_id, int64_t owner, const char *name,
                                 tsr_error *err);
tsr_status tsr__pgweb_upload_owner(PGconn *c, int64_t dataset_id, int64_t *owner,
                                   tsr_error *err);
tsr_status tsr__pgweb_dataset_delete(PGconn *c, int64_t id, int64_t *changed, tsr_error *err);
tsr_status tsr__pgweb_run_add(PGconn *c, int64_t run_id, int64_t upload_id, int64_t owner,
                              tsr_error *err);
tsr_status tsr__pgweb_run_get(PGconn *c, int64_t run_id, int64_t *upload_id, int64_t *owner,
                              tsr_error *err);
tsr_status tsr__pgweb_run_by_output(PGconn *c, const char *dir, int64_t *run_id,
                                    tsr_error *err);
tsr_status tsr__pgweb_runs_interrupt(PGconn *c, int64_t *n, tsr_error *err);
tsr_status tsr__pgweb_run_delete(PGconn *c, int64_t run_id, int64_t *changed, tsr_error *err);
tsr_status tsr__pgweb_history_add(PGconn *c, int64_t run_id, const char *customer_id,
                                  const tsr_web_history_row *rows, size_t n, tsr_error *err);
tsr_status tsr__pgweb_history_list(PGconn *c, int64_t run_id, const char *customer_id,
                                   tsr_web_history_cb cb, void *ctx, tsr_error *err);
tsr_status tsr__pgweb_run_aggregates(PGconn *c, int64_t run_id, char **json, tsr_error *err);

#endif
