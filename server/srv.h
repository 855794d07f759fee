/*
 * srv.h - internals shared by the server/ files (not API).
 *   server.c  daemon, request life cycle, routing, responses, static files,
 *             metrics, request log
 *   auth.c    passwords, tokens, sessions, CSRF, login rate limiting
 *   jobs.c    background analysis jobs (worker threads)
 *   api.c     JSON API under /api/v1
 *   pages.c   server-rendered HTML pages
 *   sbuf.c    growable string buffer with HTML / CSV escaping
 */
#ifndef TESSERA_SRV_H
#define TESSERA_SRV_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>
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

/* ---------------------------------------------------------------- sbuf.c */
typedef struct sbuf {
  char *p;
  size_t n, cap;
  int oom;
} sbuf;
void sb_put(sbuf *b, const char *s, size_t n);
void sb_puts(sbuf *b, const char *s);
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* HTML-escapes s (& < > " ' ). */
void sb_html(sbuf *b, const char *s);
/* A CSV cell: quoted when needed; cells starting with = + - @ (or tab/CR)
 * get a leading ' so spreadsheets do not run them as formulas. */
void sb_csv(sbuf *b, const char *s);
/* Percent-encodes s for a URL query or path segment. */
void sb_url(sbuf *b, const char *s);
void sb_free(sbuf *b);
/* A JSON string (escaped; NULL -> null). */
void sb_json_str(sbuf *b, const char *s);
/* A JSON number, shortest exact form; non-finite -> null. */
void sb_json_num(sbuf *b, double v);

/* ---------------------------------------------------------------- jobs */
enum { JOB_QUEUED = 0, JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_CANCELED, JOB_INTERRUPTED };
const char *job_state_name(int st);

#define JOB_MAX_KV 32
typedef struct job {
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
  size_t nkv;
  struct { char name[32]; char value[TSR_PARAM_TEXT_MAX + 1]; } kv[JOB_MAX_KV];
  int64_t created_ms, started_ms, finished_ms;
  struct job *next; /* queue */
} job;

/* ---------------------------------------------------------------- server state */
typedef struct logrec {
  tsr_web_request q;
  char user[65], method[8], path[256];
} logrec;

enum { M_STATUS_N = 20, M_BUCKETS = 12 };

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
  atomic_llong m_status[M_STATUS_N];
  atomic_llong m_bucket[M_BUCKETS + 1];
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
  struct logrec *logq;  /* filled by request threads */
  struct logrec *logq2; /* written by the logger thread (swapped) */
  size_t nlog;
  int log_stop;
  pthread_t log_thread;
  /* jobs */
  pthread_mutex_t jobs_mu;
  pthread_cond_t jobs_cv;
  job *jobs[SRV_MAX_JOBS]; /* ring by id */
  int64_t next_job;
  job *q_head, *q_tail;
  int jobs_stop;
  pthread_t *workers;
  unsigned nworkers;
  atomic_int jobs_running;
  /* results cache: JSON of finished runs */
  pthread_mutex_t cache_mu;
  struct { int64_t run_id; char *json; size_t len; } cache[16];
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
typedef struct field {
  char name[40];
  char *value;
  size_t len;
} field;

typedef struct req {
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
  field fields[SRV_MAX_FIELDS];
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
} req;

enum { BODY_NONE = 0, BODY_BUFFER, BODY_RAW_UPLOAD, BODY_FORM };

/* server.c */
tsr_store *srv_store(srv *S);               /* this thread's handle, or NULL */
double srv_now(void);                        /* monotonic seconds */
const char *req_arg(req *r, const char *name); /* query argument or NULL */
const char *req_field(req *r, const char *name); /* form field or NULL */
const char *req_header(req *r, const char *name);
int req_is_api(const req *r);
/* Responses (each returns MHD_YES/MHD_NO from queueing). body is copied. */
enum MHD_Result send_body(req *r, int status, const char *ctype, const char *body, size_t len);
enum MHD_Result send_json(req *r, int status, json_t *j); /* steals j */
enum MHD_Result send_error(req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
enum MHD_Result send_redirect(req *r, const char *location);
enum MHD_Result send_sbuf(req *r, int status, const char *ctype, sbuf *b); /* frees b */
/* Queues resp (a streamed body) with the usual headers. */
enum MHD_Result send_response(req *r, int status, struct MHD_Response *resp, const char *ctype);
/* HTTP status for a tsr_status (404, 400, 409, 500...). */
int status_http(tsr_status st);
/* Invalidate a cached run result. */
void cache_drop(srv *S, int64_t run_id);
/* Cached dashboard JSON of a finished run (copy, caller frees) or NULL. */
char *cache_get(srv *S, int64_t run_id, size_t *len);
void cache_put(srv *S, int64_t run_id, const char *json, size_t len);

/* auth.c */
void auth_init(srv *S);
/* Resolves the user of r from a bearer token or session cookie (once). */
void auth_resolve(req *r);
/* 1 when r may proceed as role (admin > analyst > viewer); else sends
 * 401/403 and returns 0 (*ret set). */
int auth_need(req *r, const char *role, enum MHD_Result *ret);
/* CSRF check of a state-changing request with a cookie session: 1 ok, else
 * sends 403 EAUTH and returns 0. */
int auth_csrf(req *r, enum MHD_Result *ret);
int role_rank(const char *role);
/* Login: checks rate limits and the password. 0 ok (*user set, owned),
 * else an HTTP status (401, 429, 503) with msg. */
int auth_login(req *r, const char *name, const char *pw, tsr_web_user **user, char *msg, size_t cap);
/* Creates a session for user: sets r->cookie and r->csrf. 0 or -1. */
int auth_session_new(req *r, const tsr_web_user *u);
void auth_logout(req *r);
/* Forgets every cached login (after account changes). */
void auth_cache_clear(srv *S);

/* jobs.c */
int jobs_start(srv *S);
void jobs_stop(srv *S);
/* Queues j (owned by the jobs table afterwards). OUT: id. */
int64_t jobs_submit(srv *S, job *j);
/* Copies job id into *out: 0 or -1 (unknown). */
int jobs_get(srv *S, int64_t id, job *out);
int jobs_get_by_run(srv *S, int64_t run_id, job *out);
int jobs_cancel(srv *S, int64_t id);
/* Calls cb for every remembered job, newest first (copies). */
void jobs_each(srv *S, void (*cb)(void *ctx, const job *j), void *ctx);
/* Validates params (JSON object or form fields) into j->kv; on error fills
 * msg/field and returns -1. */
int jobs_params_json(job *j, json_t *params, char *msg, size_t cap, char *field_name, size_t fcap);
int jobs_params_form(job *j, req *r, char *msg, size_t cap, char *field_name, size_t fcap);
json_t *job_json(const job *j);
/* Checks the column mapping of j against the header and first rows of
 * j->input (columns exist; the date and amount columns read on at least one
 * row). 0, or -1 with msg and the field. */
int jobs_check_columns(job *j, char *msg, size_t cap, char *field_name, size_t fcap);

/* api.c */
enum MHD_Result api_dispatch(req *r);
/* shared with pages.c */
json_t *api_dataset_json(tsr_store *st, int64_t id, int preview, tsr_error *err);
json_t *api_customer_json(const tsr_customer *c);
char *api_run_results(srv *S, tsr_store *st, int64_t run_id, size_t *len, tsr_error *err);
/* The report data JSON of a finished run (lib/report, cached). */
char *api_run_report(srv *S, tsr_store *st, int64_t run_id, size_t *len, tsr_error *err);
int api_upload_finish(req *r, int64_t *dataset_id, char *msg, size_t cap);

/* decisions.c: POST /api/v1/decisions, .../{id}/reward (docs/api.md) */
int decisions_start(srv *S, char *errbuf, size_t cap); /* 0 or an exit code */
void decisions_stop(srv *S);                           /* flushes the writer */
enum MHD_Result decisions_api(req *r, tsr_store *st, int n, char **seg);
enum MHD_Result api_predict(req *r, tsr_store *st, const char *cid, const char *what); /* api_predict.c */

/* pages.c */
enum MHD_Result pages_dispatch(req *r);
/* retrain.c: POST /api/v1/retrain and POST /retrain (admin; caller checks) */
enum MHD_Result retrain_api(req *r, tsr_store *st);
enum MHD_Result retrain_page(req *r, tsr_store *st);
enum MHD_Result page_error(req *r, int status, const char *title, const char *msg);

#endif
