/*
 * srv.h - internals shared by the server/ files (not API).
 *   server.c  daemon, request life cycle (bodies, limits), static files,
 *             metrics, request log
 *   routes.def THE route table (method, path pattern, role, handler or view)
 *   routes.c  the dispatcher: matching, authentication, CSRF, roles, store
 *   http.c    HTTP helpers: request values, responses, escaping buffer,
 *             words for the web (no CLI flags or server paths in messages)
 *   views.c   the view layer: JSON values (json_t *) of datasets, runs,
 *             results, customers, jobs, events... sent by api.c, rendered
 *             by pages.c
 *   auth.c    passwords, tokens, sessions, CSRF, login rate limiting
 *   jobs.c    background analysis jobs (worker threads)
 *   api.c     handlers of the JSON API under /api/v1
 *   pages.c   handlers of the server-rendered HTML pages
 *   events.c  real-time endpoints; retrain.c the retrain action;
 *   decisions.c offer decisions
 * Every server-internal name starts with srv_ (SRV_ for constants).
 */
#ifndef TESSERA_SRV_H
#define TESSERA_SRV_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include "mhd_lazy.h" /* <microhttpd.h>, opened by tessera serve */
#include <sodium.h>

#include "server.h"
#include "tessera/analyze.h"
#include "tessera/params.h"
#include "tessera/store.h"
#include "tessera/store_web.h"

/* ---------------------------------------------------------------- limits */
#define SRV_MAX_BODY (1 << 20)      /* JSON / form bodies */
#define SRV_MAX_FIELD 8192          /* one form field */
#define SRV_MAX_FIELDS 48           /* form fields per request */
#define SRV_MAX_URL 2048            /* path + query */
#define SRV_MAX_JOBS 1024           /* jobs remembered in memory */
#define SRV_SESSION_MS (12LL * 3600 * 1000)
#define SRV_PREVIEW_ROWS 20
#define SRV_MAX_PARAMS 4           /* {placeholders} in a route pattern */

/* ---------------------------------------------------------------- http.c: buffer */
typedef struct srv_buf {
  char *p;
  size_t n, cap;
  int oom;
} srv_buf;
void srv_buf_put(srv_buf *b, const char *s, size_t n);
void srv_buf_puts(srv_buf *b, const char *s);
void srv_buf_printf(srv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* HTML-escapes s (& < > " ' ). */
void srv_buf_html(srv_buf *b, const char *s);
/* A CSV cell: quoted when needed; cells starting with = + - @ (or tab/CR)
 * get a leading ' so spreadsheets do not run them as formulas. */
void srv_buf_csv(srv_buf *b, const char *s);
/* Percent-encodes s for a URL query or path segment. */
void srv_buf_url(srv_buf *b, const char *s);
void srv_buf_free(srv_buf *b);
/* A JSON string (escaped; NULL -> null). */
void srv_buf_json_str(srv_buf *b, const char *s);
/* A JSON number, shortest exact form; non-finite -> null. */
void srv_buf_json_num(srv_buf *b, double v);

/* ---------------------------------------------------------------- jobs */
enum { SRV_JOB_QUEUED = 0, SRV_JOB_RUNNING, SRV_JOB_DONE, SRV_JOB_FAILED, SRV_JOB_CANCELED, SRV_JOB_INTERRUPTED };
const char *srv_job_state_name(int st);

typedef struct srv_job {
  int64_t id;
  int64_t run_id;     /* 0 until the run exists in the store */
  int64_t upload_id;  /* dataset analysed */
  int64_t owner;      /* user id */
  char owner_name[65];
  int state;
  char step[32];
  double frac;
  int64_t rows;       /* rows read so far */
  char error[700];
  volatile int cancel;
  int shutdown;       /* canceled because the server stops */
  char input[1200];   /* stored file */
  char out_dir[1200];
  tsr_params params;  /* the analysis inputs (tessera/params.def) */
  int64_t created_ms, started_ms, finished_ms;
  struct srv_job *next; /* queue */
} srv_job;

/* ---------------------------------------------------------------- server state */
typedef struct srv_logrec {
  tsr_web_request q;
  char user[65], method[8], path[256];
} srv_logrec;

enum { SRV_M_STATUS_N = 20, SRV_M_BUCKETS = 12 };

typedef struct srv {
  tsr_server_config cfg;
  char db[1024];
  char data_dir[1024];
  int tls;
  int64_t started_ms;
  struct MHD_Daemon *d;
  /* store handles, one per thread, closed at exit */
  pthread_mutex_t stores_mu;
  tsr_store **stores;
  size_t nstores, capstores;
  /* metrics */
  atomic_llong m_status[SRV_M_STATUS_N];
  atomic_llong m_bucket[SRV_M_BUCKETS + 1];
  atomic_llong m_requests;
  atomic_llong m_lat_us; /* sum of latencies, microseconds */
  atomic_llong m_bytes_in, m_bytes_out;
  atomic_llong m_jobs_started, m_jobs_done, m_jobs_failed, m_jobs_canceled;
  atomic_llong m_rows;
  atomic_llong m_log_dropped;
  atomic_llong m_login_fail;
  /* request log queue */
  pthread_mutex_t log_mu;
  pthread_cond_t log_cv;
  struct srv_logrec *logq;  /* filled by request threads */
  struct srv_logrec *logq2; /* written by the logger thread (swapped) */
  size_t nlog;
  int log_stop;
  pthread_t log_thread;
  /* jobs */
  pthread_mutex_t jobs_mu;
  pthread_cond_t jobs_cv;
  srv_job *jobs[SRV_MAX_JOBS]; /* ring by id */
  int64_t next_job;
  srv_job *q_head, *q_tail;
  int jobs_stop;
  pthread_t *workers;
  unsigned nworkers;
  atomic_int jobs_running;
  /* results cache: JSON of finished runs */
  pthread_mutex_t cache_mu;
  struct { int64_t key; json_t *val; char *text; size_t len; } cache[16]; /* views.c */
  unsigned cache_next;
  /* login limiting */
  atomic_int logins_active;
  /* auth cache: token/session hash -> user for a few seconds */
  pthread_mutex_t ac_mu;
  struct {
    char hash[65];
    int64_t user_id, expires_ms;
    char name[65], role[16], csrf[80];
    int via_token;
  } ac[256];
  char dummy_hash[crypto_pwhash_STRBYTES];
  struct decisions *dec; /* offer decisions (decisions.c), NULL when off */
} srv;

/* ---------------------------------------------------------------- requests */
typedef struct srv_field {
  char name[40];
  char *value;
  size_t len;
} srv_field;

typedef struct srv_req {
  srv *S;
  struct MHD_Connection *conn;
  char method[8];
  char path[SRV_MAX_URL];
  double t0;
  int64_t bytes_in, bytes_out;
  int status;
  /* body */
  int kind;               /* BODY_* */
  char *body;
  size_t body_len, body_cap;
  int too_large, bad_body;
  int discard;            /* body read and dropped (refused upload) */
  char bad_msg[200];
  struct MHD_PostProcessor *pp;
  srv_field *fields; /* SRV_MAX_FIELDS, allocated at the first form field */
  size_t nfields;
  /* streamed upload */
  int upload_route;
  int up_fd;
  char up_tmp[1100];
  char up_name[256];
  int64_t up_bytes;
  crypto_generichash_state up_hash;
  /* auth */
  int auth_done;
  tsr_web_user *user;   /* &user_s when logged in, else NULL */
  tsr_web_user user_s;
  char user_name[65], user_role[16];
  char csrf[80];
  int via_token;
  char session_hash[65];
  int set_cookie;       /* a Set-Cookie header to add */
  char cookie[256];
  char location[512];
  int want_report;      /* page loads the report's chart code */
  /* routing (routes.c): the matched route, this thread's store handle,
   * and the values of the pattern's {placeholders} in order: the text in
   * parg, the number in pid for {id} placeholders */
  const struct srv_route *route;
  tsr_store *st;
  const char *parg[SRV_MAX_PARAMS];
  int64_t pid[SRV_MAX_PARAMS];
  size_t nparg;
  char pbuf[SRV_MAX_URL];
} srv_req;

/* ---------------------------------------------------------------- routes.c */
/* A handler sends the response itself. */
typedef enum MHD_Result (*srv_handler)(srv_req *r);
/* A view returns the JSON value answered with 200, or NULL with err set
 * (answered with the error's status). Borrowed: r->st, r->pid, r->parg. */
typedef json_t *(*srv_view)(srv_req *r, tsr_error *err);

enum { SRV_PUBLIC = 0, SRV_VIEWER = 1, SRV_ANALYST = 2, SRV_ADMIN = 3 };
enum {
  SRV_F_UPLOAD = 1,   /* the body is a file streamed to disk (<= --max-upload) */
  SRV_F_NO_STORE = 2, /* needs no database handle */
  SRV_F_PREFIX = 4,   /* the pattern's last segment "*" matches the rest */
};

typedef struct srv_route {
  const char *method;  /* "GET" (also answers HEAD), "POST", "DELETE" */
  const char *pattern; /* "/api/v1/runs/{id}/segments": {id} = a number, {x} = text */
  int role;            /* SRV_PUBLIC (no login) .. SRV_ADMIN */
  unsigned flags;      /* SRV_F_* */
  srv_handler handler; /* either this ... */
  srv_view view;       /* ... or this */
} srv_route;

/* The table: server/routes.def, one line per endpoint. */
extern const srv_route srv_routes[];
extern const size_t srv_nroutes;
/* Finds the route of r (method and path), checks login, CSRF, role and the
 * store, and runs it; answers 401/403/404/405 itself. */
enum MHD_Result srv_route_request(srv_req *r);
/* 1 when method + path is a route that streams an upload. */
int srv_route_is_upload(const char *method, const char *path);

enum { SRV_BODY_NONE = 0, SRV_BODY_BUFFER, SRV_BODY_RAW_UPLOAD, SRV_BODY_FORM };

/* server.c */
tsr_store *srv_store(srv *S);               /* this thread's handle, or NULL */
double srv_now(void);                        /* monotonic seconds */
enum MHD_Result srv_serve_static(srv_req *r);
enum MHD_Result srv_serve_metrics(srv_req *r);
enum MHD_Result srv_serve_health(srv_req *r);

/* http.c: request values */
const char *srv_req_arg(srv_req *r, const char *name); /* query argument or NULL */
const char *srv_req_field(srv_req *r, const char *name); /* form field or NULL */
const char *srv_req_header(srv_req *r, const char *name);
int srv_req_is_api(const srv_req *r);
/* Responses (each returns MHD_YES/MHD_NO from queueing). body is copied. */
enum MHD_Result srv_send_body(srv_req *r, int status, const char *ctype, const char *body, size_t len);
enum MHD_Result srv_send_json(srv_req *r, int status, json_t *j); /* steals j */
enum MHD_Result srv_send_error(srv_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
enum MHD_Result srv_send_redirect(srv_req *r, const char *location);
enum MHD_Result srv_send_buf(srv_req *r, int status, const char *ctype, srv_buf *b); /* frees b */
/* Queues resp (a streamed body) with the usual headers. */
enum MHD_Result srv_send_response(srv_req *r, int status, struct MHD_Response *resp, const char *ctype);
/* An embedded file (not copied), cacheable. */
enum MHD_Result srv_send_static(srv_req *r, const void *data, size_t len, const char *ctype);
/* The error of a library call (status from st, message from e). */
enum MHD_Result srv_send_tsr(srv_req *r, tsr_status st, const tsr_error *e);
/* HTTP status for a tsr_status (404, 400, 409, 500...). */
int srv_status_http(tsr_status st);
/* Strict non-negative integer (at most 18 digits): 0, or -1. */
int srv_parse_id(const char *s, int64_t *out);
/* Query argument name as an integer in [lo, hi] (def when absent): 0, or
 * -1 with a 400 sent (*ret). */
int srv_query_int(srv_req *r, const char *name, int64_t lo, int64_t hi, int64_t def, int64_t *out,
                  enum MHD_Result *ret);
/* The JSON object body (form fields as strings), or NULL with 400 sent. */
json_t *srv_body_json(srv_req *r, enum MHD_Result *ret);
/* String member k of o, or NULL. */
const char *srv_json_text(json_t *o, const char *k);
/* Display text: control characters as '_', invalid UTF-8 as U+FFFD, at
 * most ~200 bytes. */
void srv_clean_text(const char *in, char *out, size_t cap);
/* A message for the web (issue 10): command-line options become the words
 * of the form ("--date-format" -> the "date format" input, server options
 * -> the upload limit, others -> the "words" setting), paths of the server's files
 * become the dataset's name or words, other absolute paths their last
 * component. srv_send_error and srv_page_error apply it to every message. */
void srv_web_text(const srv *S, const char *in, char *out, size_t cap);

/* views.c: the results cache (finished runs) */
void srv_cache_drop(srv *S, int64_t run_id);
void srv_cache_free(srv *S);

/* auth.c */
void srv_auth_init(srv *S);
/* Resolves the user of r from a bearer token or session cookie (once). */
void srv_auth_resolve(srv_req *r);
/* 1 when r may proceed as role (admin > analyst > viewer); else sends
 * 401/403 and returns 0 (*ret set). */
int srv_auth_need(srv_req *r, const char *role, enum MHD_Result *ret);
/* CSRF check of a state-changing request with a cookie session: 1 ok, else
 * sends 403 EAUTH and returns 0. */
int srv_auth_csrf(srv_req *r, enum MHD_Result *ret);
int srv_role_rank(const char *role);
/* Login: checks rate limits and the password. 0 ok (*user set, owned),
 * else an HTTP status (401, 429, 503) with msg. */
int srv_auth_login(srv_req *r, const char *name, const char *pw, tsr_web_user **user, char *msg, size_t cap);
/* Creates a session for user: sets r->cookie and r->csrf. 0 or -1. */
int srv_auth_session_new(srv_req *r, const tsr_web_user *u);
void srv_auth_logout(srv_req *r);
/* Forgets every cached login (after account changes). */
void srv_auth_cache_clear(srv *S);

/* jobs.c */
int srv_jobs_start(srv *S);
void srv_jobs_stop(srv *S);
/* A new analysis job of the user of r on dataset ds with params (a JSON
 * object of name: value, or NULL for the form fields of r), checked against
 * the params table and the file's columns. 0: *out is ready for
 * srv_jobs_submit (caller frees it otherwise); else an HTTP status with msg
 * (404 unknown dataset, 400 with the field, 500) and *out is the job as far
 * as it was read (NULL for 404 and 500), to show the form again. */
int srv_jobs_prepare(srv_req *r, int64_t ds, json_t *params, srv_job **out, char *msg, size_t cap,
                     char *fname, size_t fcap);
/* Queues j (owned by the jobs table afterwards) with a new output folder
 * under the data folder. OUT: id, 0 when too many jobs are queued. */
int64_t srv_jobs_submit(srv *S, srv_job *j);
/* Copies job id into *out: 0 or -1 (unknown). */
int srv_jobs_get(srv *S, int64_t id, srv_job *out);
int srv_jobs_get_by_run(srv *S, int64_t run_id, srv_job *out);
int srv_jobs_cancel(srv *S, int64_t id);
/* Calls cb for every remembered job, newest first (copies). */
void srv_jobs_each(srv *S, void (*cb)(void *ctx, const srv_job *j), void *ctx);
/* Validates params (JSON object or form fields) into j->params; on error fills
 * msg/field and returns -1. */
int srv_jobs_params_json(srv_job *j, json_t *params, char *msg, size_t cap, char *field_name, size_t fcap);
/* The valid values of params (a run's stored inputs) into j->kv. */
void srv_jobs_params_prefill(srv_job *j, json_t *params);
int srv_jobs_params_form(srv_job *j, srv_req *r, char *msg, size_t cap, char *field_name, size_t fcap);
/* Checks the column mapping of j against the header and first rows of
 * j->input (columns exist; the date and amount columns read on at least one
 * row). 0, or -1 with msg and the field. */
int srv_jobs_check_columns(srv_job *j, char *msg, size_t cap, char *field_name, size_t fcap);

/* views.c: JSON values shared by the API (sent) and the pages (rendered).
 * Each returns a new reference, or NULL with err set. */
json_t *srv_view_dataset(tsr_store *st, int64_t id, int preview, tsr_error *err);
json_t *srv_view_customer_row(const tsr_customer *c);
/* A page of a run's customers: {"total", "limit", "offset", "customers": [rows]}
 * (total counts every match of q); NULL with err when the run is unknown. */
json_t *srv_view_customers(tsr_store *st, const tsr_customer_query *q, tsr_error *err);
/* The index of a customer sort name (id, frequency, ... clv), -1 when unknown. */
int srv_customer_sort(const char *name);
const char *srv_customer_sort_name(tsr_customer_sort sort);
/* A customer of a run with its purchase history (and profile, bundle runs). */
json_t *srv_view_customer(tsr_store *st, int64_t run_id, const char *cid, tsr_error *err);
/* A run as listed (status, params, KPIs, error in words, its job). */
json_t *srv_view_run_row(srv *S, tsr_store *st, const tsr_run *run);
/* The dashboard of a run: {run, kpis, segments, models, aggregates}
 * (cached once the run is done). */
json_t *srv_view_run_results(srv *S, tsr_store *st, int64_t run_id, tsr_error *err);
/* The report data JSON text of a finished run (app/report, cached). */
char *srv_run_report(srv *S, tsr_store *st, int64_t run_id, size_t *len, tsr_error *err);
/* A job (its error in words). */
json_t *srv_view_job(const srv *S, const srv_job *j);
json_t *srv_view_params(void);
/* Table views: {"segments": [...]} and so on (r->pid[0] = run id). */
json_t *srv_view_run_segments(srv_req *r, tsr_error *err);
json_t *srv_view_run_models(srv_req *r, tsr_error *err);
json_t *srv_view_models(srv_req *r, tsr_error *err);
json_t *srv_view_jobs(srv_req *r, tsr_error *err);
json_t *srv_view_dataset_rejects(srv_req *r, tsr_error *err);
json_t *srv_view_me(srv_req *r, tsr_error *err);
json_t *srv_view_params_list(srv_req *r, tsr_error *err);
json_t *srv_view_api_index(srv_req *r, tsr_error *err);
/* One event of the log (message in words). */
json_t *srv_view_event(const srv *S, const tsr_event *ev);
int srv_reject_cb(void *ctx, const tsr_reject_row *x); /* appends to a json array */
int srv_seg_cb(void *ctx, const tsr_segment_row *s);
int srv_model_cb(void *ctx, const tsr_model *m);

/* api.c */
int srv_upload_finish(srv_req *r, int64_t *dataset_id, char *msg, size_t cap);
/* The JSON object body of r (form fields as strings); NULL with 400 sent. */

/* api_views.c: JSON views of the web pages (docs/api.md) */
enum MHD_Result views_reply(srv_req *r, json_t *view, const tsr_error *e); /* 200 or the error */
int views_id(const char *s, int64_t *out); /* a non-negative integer: 0, else -1 */
enum MHD_Result views_compare_api(srv_req *r, tsr_store *st, int64_t a, const char *b);
enum MHD_Result views_at_risk_api(srv_req *r, tsr_store *st, int64_t run);
enum MHD_Result views_segment_profiles_api(srv_req *r, tsr_store *st, int64_t run);
enum MHD_Result views_customer_api(srv_req *r, tsr_store *st, int64_t run, const char *cid);
enum MHD_Result views_message_api(srv_req *r, tsr_store *st, int64_t run, const char *cid);
enum MHD_Result views_password_api(srv_req *r, tsr_store *st);
json_t *view_compare(tsr_store *st, int64_t a, int64_t b, int by_cluster, tsr_error *e);
json_t *view_units(tsr_store *st, int64_t run); /* {"period","currency"} */
const char *views_default_templates(void);
void srv_views_people_clear(void); /* frees the customers.csv indexes of the message previews */
/* 200 when the password of r->user was changed, else an HTTP status + msg. */
int views_password_change(srv_req *r, tsr_store *st, const char *cur, const char *nw, const char *confirm, char *msg,
                          size_t cap);

/* findex.c: the shared index of a run's files (customer rows by key; docs/web.md) */
typedef struct srv_findex srv_findex;
struct tsr_csv_record;
typedef int (*srv_row_fn)(void *ctx, const char *const *v);
typedef int (*srv_record_fn)(void *ctx, const struct tsr_csv_record *rec);
/* The index of path by its column key (and key2, NULL = none), with the
 * numbers of column num (NULL = none), with one reference
 * (srv_findex_put); built on first use. NULL when the file is not indexed
 * (unreadable, no header, over the memory bound): then scan it. */
srv_findex *srv_findex_get(const char *path, const char *key, const char *key2, const char *num);
void srv_findex_put(srv_findex *x);
void srv_findex_clear(void); /* at shutdown */
size_t srv_findex_budget(void); /* bytes (TESSERA_VIEW_INDEX_MB) */
/* As a scan calling fn with the values of the columns want (by header
 * name, "" when missing) of the rows whose key is key, in file order; fn
 * returns non-zero to stop. 0, -1 when nwant > 16. */
int srv_findex_rows(const srv_findex *x, const char *key, const char *const *want, size_t nwant, srv_row_fn fn,
                    void *ctx);
/* fn with the values of the columns want of entry i's record; its result, -1 on a read error. */
int srv_findex_values(const srv_findex *x, size_t i, const char *const *want, size_t nwant, srv_row_fn fn,
                      void *ctx);
/* Entries of key: their count, *first = the first (in file order after it). */
size_t srv_findex_find(const srv_findex *x, const char *key, size_t *first);
double srv_findex_num(const srv_findex *x, size_t i); /* the num column (NAN when none) */
size_t srv_findex_seq(const srv_findex *x, size_t i); /* 1-based ordinal of the record (header 0) */
size_t srv_findex_nnum(const srv_findex *x); /* entries with a non-empty UTF-8 key and a finite num */
int srv_findex_key_col(const srv_findex *x);
/* Reads entry i's record and returns fn(ctx, rec); -1 on a read error. */
int srv_findex_record(const srv_findex *x, size_t i, srv_record_fn fn, void *ctx);
void srv_findex_metrics(srv_buf *b); /* tessera_view_files_* */
int srv_utf8_valid(const char *s);   /* as jansson checks strings */

/* pages_views.c: the newer pages and page parts (docs/web.md) */
enum MHD_Result views_home(srv_req *r, tsr_store *st);
enum MHD_Result views_compare_page(srv_req *r, tsr_store *st, int64_t run);
enum MHD_Result views_account_page(srv_req *r, tsr_store *st);
void views_models_table(srv_buf *b, json_t *models);
void views_segment_cells(srv_buf *b, const char *segment); /* <td>meaning</td><td>action</td> */
/* "at_risk" -> "At risk" into buf (cap bytes); returns buf. */
const char *views_segment_label(const char *segment, char *buf, size_t cap);
const char *views_param_label(const char *name);
int views_param_group(const char *name); /* 0 column mapping, 1 forecast, 2 advanced */
void views_bytes(srv_buf *b, double bytes); /* "1.2 MB" */
void views_run_top(srv_buf *b, int64_t run);
void views_run_extras(srv_buf *b, int64_t run);
void views_customer_extras(srv_req *r, srv_buf *b, int64_t run, const char *cid);
void views_glossary(srv_buf *b);                            /* <dt>/<dd> of the newer terms */

/* decisions.c: POST /api/v1/decisions, .../{id}/reward (docs/api.md) */
int srv_decisions_start(srv *S, char *errbuf, size_t cap); /* 0 or an exit code */
void srv_decisions_stop(srv *S);                           /* flushes the writer */
enum MHD_Result srv_decisions_api(srv_req *r, tsr_store *st, int n, char **seg);
enum MHD_Result api_predict(srv_req *r, tsr_store *st, const char *cid, const char *what); /* api_predict.c */

/* pages.c */
void page_head(srv_req *r, srv_buf *b, const char *title);
enum MHD_Result page_finish(srv_req *r, srv_buf *b, int status);
void page_csrf_field(srv_req *r, srv_buf *b);
/* retrain.c: POST /api/v1/retrain and POST /retrain (admin; caller checks) */
enum MHD_Result srv_retrain_api(srv_req *r, tsr_store *st);
enum MHD_Result srv_retrain_page(srv_req *r, tsr_store *st);
enum MHD_Result srv_page_error(srv_req *r, int status, const char *title, const char *msg);

#endif
