/*
 * server.c - `tessera serve`: the libmicrohttpd daemon (thread pool with its
 * internal polling thread), the request life cycle (bodies streamed in
 * chunks, size limits, response queued on the final call, state freed in
 * NOTIFY_COMPLETED; the route is found by routes.c), the embedded static
 * files, /healthz, /metrics (Prometheus text) and the request log (every
 * request is queued and written to the store in batches by one logger
 * thread). Responses and security headers: http.c.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "srv.h"
#include "tessera/report.h"

/* ================================================================ helpers */

double srv_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static __thread tsr_store *tl_store;

/* The store handle of the calling thread (opened on first use; all closed
 * when the server stops). */
tsr_store *srv_store(srv *S) {
  if (tl_store) return tl_store;
  tsr_store *s = NULL;
  if (tsr_store_open(S->db, TSR_STORE_CREATE, &s, NULL) != TSR_OK) return NULL;
  tsr_web_store_cache(s, 1); /* keep the web statements prepared */
  pthread_mutex_lock(&S->stores_mu);
  if (S->nstores == S->capstores) {
    size_t cap = S->capstores ? 2 * S->capstores : 16;
    tsr_store **p = realloc(S->stores, cap * sizeof *p);
    if (!p) {
      pthread_mutex_unlock(&S->stores_mu);
      tsr_store_close(s);
      return NULL;
    }
    S->stores = p;
    S->capstores = cap;
  }
  S->stores[S->nstores++] = s;
  pthread_mutex_unlock(&S->stores_mu);
  tl_store = s;
  return s;
}

/* ================================================================ metrics */

static const int status_codes[SRV_M_STATUS_N] = {200, 201, 202, 204, 301, 302, 303, 304, 400, 401,
                                              403, 404, 405, 409, 413, 414, 415, 429, 500, 503};
static const double buckets[SRV_M_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                          0.05,   0.1,   0.25,   0.5,   1,    5};

static void metrics_record(srv *S, int status, double secs, int64_t in, int64_t out) {
  for (int i = 0; i < SRV_M_STATUS_N; i++)
    if (status_codes[i] == status) {
      atomic_fetch_add(&S->m_status[i], 1);
      break;
    }
  int b = 0;
  while (b < SRV_M_BUCKETS && secs > buckets[b]) b++;
  atomic_fetch_add(&S->m_bucket[b], 1);
  atomic_fetch_add(&S->m_requests, 1);
  atomic_fetch_add(&S->m_lat_us, (long long)(secs * 1e6));
  atomic_fetch_add(&S->m_bytes_in, in);
  atomic_fetch_add(&S->m_bytes_out, out);
}

enum MHD_Result srv_serve_metrics(srv_req *r) {
  srv *S = r->S;
  srv_buf b = {0};
  srv_buf_puts(&b, "# HELP tessera_http_requests_total HTTP requests served, by status code.\n"
              "# TYPE tessera_http_requests_total counter\n");
  for (int i = 0; i < SRV_M_STATUS_N; i++) {
    long long v = atomic_load(&S->m_status[i]);
    if (v) srv_buf_printf(&b, "tessera_http_requests_total{code=\"%d\"} %lld\n", status_codes[i], v);
  }
  srv_buf_puts(&b, "# HELP tessera_http_request_duration_seconds Time to serve a request.\n"
              "# TYPE tessera_http_request_duration_seconds histogram\n");
  long long cum = 0;
  for (int i = 0; i < SRV_M_BUCKETS; i++) {
    cum += atomic_load(&S->m_bucket[i]);
    srv_buf_printf(&b, "tessera_http_request_duration_seconds_bucket{le=\"%g\"} %lld\n", buckets[i], cum);
  }
  cum += atomic_load(&S->m_bucket[SRV_M_BUCKETS]);
  srv_buf_printf(&b, "tessera_http_request_duration_seconds_bucket{le=\"+Inf\"} %lld\n", cum);
  srv_buf_printf(&b, "tessera_http_request_duration_seconds_sum %.6f\n",
            (double)atomic_load(&S->m_lat_us) / 1e6);
  srv_buf_printf(&b, "tessera_http_request_duration_seconds_count %lld\n", atomic_load(&S->m_requests));
  srv_buf_printf(&b,
            "# HELP tessera_http_bytes_received_total Request body bytes received.\n"
            "# TYPE tessera_http_bytes_received_total counter\n"
            "tessera_http_bytes_received_total %lld\n"
            "# HELP tessera_http_bytes_sent_total Response body bytes sent.\n"
            "# TYPE tessera_http_bytes_sent_total counter\n"
            "tessera_http_bytes_sent_total %lld\n",
            atomic_load(&S->m_bytes_in), atomic_load(&S->m_bytes_out));
  srv_buf_printf(&b,
            "# HELP tessera_jobs_total Analysis jobs by outcome.\n"
            "# TYPE tessera_jobs_total counter\n"
            "tessera_jobs_total{state=\"started\"} %lld\n"
            "tessera_jobs_total{state=\"done\"} %lld\n"
            "tessera_jobs_total{state=\"failed\"} %lld\n"
            "tessera_jobs_total{state=\"canceled\"} %lld\n"
            "# HELP tessera_jobs_running Analysis jobs running now.\n"
            "# TYPE tessera_jobs_running gauge\n"
            "tessera_jobs_running %d\n"
            "# HELP tessera_rows_processed_total Transaction rows read by analysis jobs.\n"
            "# TYPE tessera_rows_processed_total counter\n"
            "tessera_rows_processed_total %lld\n"
            "# HELP tessera_login_failures_total Failed or refused logins.\n"
            "# TYPE tessera_login_failures_total counter\n"
            "tessera_login_failures_total %lld\n"
            "# HELP tessera_request_log_dropped_total Request log rows dropped (queue full).\n"
            "# TYPE tessera_request_log_dropped_total counter\n"
            "tessera_request_log_dropped_total %lld\n"
            "# HELP tessera_uptime_seconds Seconds since the server started.\n"
            "# TYPE tessera_uptime_seconds gauge\n"
            "tessera_uptime_seconds %.3f\n",
            atomic_load(&S->m_jobs_started), atomic_load(&S->m_jobs_done),
            atomic_load(&S->m_jobs_failed), atomic_load(&S->m_jobs_canceled),
            atomic_load(&S->jobs_running), atomic_load(&S->m_rows), atomic_load(&S->m_login_fail),
            atomic_load(&S->m_log_dropped), (double)(tsr_store_now_ms() - S->started_ms) / 1000);
  srv_findex_metrics(&b);
  return srv_send_buf(r, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
}

/* ================================================================ request log */

#define LOGQ_MAX 32768

static void log_push(srv *S, const srv_req *r) {
  pthread_mutex_lock(&S->log_mu);
  if (S->nlog >= LOGQ_MAX) {
    pthread_mutex_unlock(&S->log_mu);
    atomic_fetch_add(&S->m_log_dropped, 1);
    return;
  }
  srv_logrec *l = &S->logq[S->nlog++];
  l->q.ts = tsr_store_now_ms();
  snprintf(l->user, sizeof l->user, "%.64s", r->user ? r->user->name : "");
  snprintf(l->method, sizeof l->method, "%.7s", r->method);
  snprintf(l->path, sizeof l->path, "%.255s", r->path);
  l->q.status = r->status ? r->status : 500;
  l->q.duration_ms = (srv_now() - r->t0) * 1000;
  l->q.bytes_in = r->bytes_in;
  l->q.bytes_out = r->bytes_out;
  if (S->nlog == LOGQ_MAX / 2) pthread_cond_signal(&S->log_cv);
  pthread_mutex_unlock(&S->log_mu);
}

/* Logger thread: every 50 ms (or when the queue is half full) swaps the
 * queue with its own buffer under the lock and writes the rows in one
 * transaction outside it, so request threads never wait for the database. */
static void *log_main(void *arg) {
  srv *S = arg;
  tsr_web_request *rows = calloc(LOGQ_MAX, sizeof *rows);
  int64_t last_prune = 0;
  for (;;) {
    pthread_mutex_lock(&S->log_mu);
    if (!S->log_stop && S->nlog < LOGQ_MAX / 2) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 50000000L;
      if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&S->log_cv, &S->log_mu, &ts);
    }
    size_t n = S->nlog;
    int stop = S->log_stop;
    srv_logrec *batch = S->logq;
    S->logq = S->logq2;
    S->logq2 = batch;
    S->nlog = 0;
    pthread_mutex_unlock(&S->log_mu);
    if (n && rows) {
      /* repeated failures (same status, method, path and user within one
       * batch of <= 50 ms) become one row with a repeat count: a flood of
       * 401s writes a few rows per batch instead of one per request */
      size_t m = 0;
      for (size_t i = 0; i < n; i++) {
        const srv_logrec *l = &batch[i];
        int merged = 0;
        if (l->q.status >= 400) {
          for (size_t k = m, lo = m > 64 ? m - 64 : 0; k-- > lo;) {
            tsr_web_request *w = &rows[k];
            if (w->status == l->q.status && !strcmp(w->method, l->method) &&
                !strcmp(w->path, l->path) && !strcmp(w->user ? w->user : "", l->user)) {
              w->repeats++;
              w->bytes_in += l->q.bytes_in;
              w->bytes_out += l->q.bytes_out;
              if (l->q.duration_ms > w->duration_ms) w->duration_ms = l->q.duration_ms;
              merged = 1;
              break;
            }
          }
        }
        if (merged) continue;
        rows[m] = l->q;
        rows[m].user = l->user[0] ? l->user : NULL;
        rows[m].path = l->path;
        rows[m].method = l->method;
        rows[m].repeats = 1;
        m++;
      }
      tsr_store *st = srv_store(S);
      if (!st || tsr_web_requests_add(st, rows, m, NULL) != TSR_OK)
        atomic_fetch_add(&S->m_log_dropped, (long long)n);
    } else if (n) {
      atomic_fetch_add(&S->m_log_dropped, (long long)n);
    }
    /* retention: every minute (and at the first batch), rows older than
     * --log-keep-days and the oldest beyond --log-max-rows are deleted */
    int64_t now = tsr_store_now_ms();
    if (!stop && now - last_prune >= 60000) {
      tsr_store *st = srv_store(S);
      last_prune = now;
      if (st)
        tsr_web_requests_prune(st, now - (int64_t)S->cfg.log_keep_days * 86400000LL,
                               S->cfg.log_max_rows, NULL, NULL); /* retried next minute */
    }
    if (stop) break;
  }
  free(rows);
  return NULL;
}

/* ================================================================ bodies */

/* Appends upload bytes to the temporary file (opened on first use). */
static void upload_write(srv_req *r, const char *data, size_t n) {
  srv *S = r->S;
  if (r->too_large || r->bad_body) return;
  if (r->up_bytes + (int64_t)n > S->cfg.max_upload) {
    r->too_large = 1;
    return;
  }
  if (r->up_fd < 0) {
    snprintf(r->up_tmp, sizeof r->up_tmp, "%s/uploads/.upload-XXXXXX", S->data_dir);
    r->up_fd = mkstemp(r->up_tmp);
    if (r->up_fd < 0) {
      r->up_tmp[0] = '\0';
      r->bad_body = 1;
      snprintf(r->bad_msg, sizeof r->bad_msg, "cannot store the upload: %s", strerror(errno));
      return;
    }
    crypto_generichash_init(&r->up_hash, NULL, 0, 32);
  }
  size_t off = 0;
  while (off < n) {
    ssize_t w = write(r->up_fd, data + off, n - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      r->bad_body = 1;
      snprintf(r->bad_msg, sizeof r->bad_msg, "cannot store the upload: %s", strerror(errno));
      return;
    }
    off += (size_t)w;
  }
  crypto_generichash_update(&r->up_hash, (const unsigned char *)data, n);
  r->up_bytes += (int64_t)n;
}

static enum MHD_Result post_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *filename, const char *content_type,
                                 const char *transfer_encoding, const char *data, uint64_t off,
                                 size_t size) {
  srv_req *r = cls;
  (void)kind;
  (void)content_type;
  (void)transfer_encoding;
  if (!key) return MHD_YES;
  if (r->upload_route && !strcmp(key, "file")) {
    if (filename && !r->up_name[0]) snprintf(r->up_name, sizeof r->up_name, "%s", filename);
    if (size) upload_write(r, data, size);
    return MHD_YES;
  }
  srv_field *f = NULL;
  for (size_t i = 0; i < r->nfields; i++)
    if (!strcmp(r->fields[i].name, key)) f = &r->fields[i];
  if (!f || off == 0) {
    if (f && off == 0) {
      /* a repeated field: keep the first */
      return MHD_YES;
    }
    if (r->nfields >= SRV_MAX_FIELDS || strlen(key) >= sizeof f->name) {
      r->bad_body = 1;
      snprintf(r->bad_msg, sizeof r->bad_msg, "too many form fields or field name too long");
      return MHD_YES;
    }
    if (!r->fields && !(r->fields = calloc(SRV_MAX_FIELDS, sizeof *r->fields))) {
      r->bad_body = 1;
      snprintf(r->bad_msg, sizeof r->bad_msg, "out of memory");
      return MHD_YES;
    }
    f = &r->fields[r->nfields++];
    snprintf(f->name, sizeof f->name, "%s", key);
    f->value = NULL;
    f->len = 0;
  }
  if (f->len + size > SRV_MAX_FIELD) {
    r->too_large = 1;
    snprintf(r->bad_msg, sizeof r->bad_msg, "form field '%.39s' is longer than %d bytes", key,
             SRV_MAX_FIELD);
    return MHD_YES;
  }
  char *p = realloc(f->value, f->len + size + 1);
  if (!p) return MHD_NO;
  memcpy(p + f->len, data, size);
  f->len += size;
  p[f->len] = '\0';
  f->value = p;
  return MHD_YES;
}


/* ================================================================ dispatch */

enum MHD_Result srv_serve_static(srv_req *r) {
  for (const tsr_web_asset *a = tsr_web_assets; a->path; a++) {
    if (!strcmp(a->path, r->path)) {
      return srv_send_static(r, a->data, a->len, a->mime);
    }
  }
  /* the report's chart code and vendored chart library (app/report.c) */
  static const char *const report_assets[][2] = {{"chart.js", "text/javascript; charset=utf-8"},
                                                 {"chartjs-chart-matrix.js", "text/javascript; charset=utf-8"},
                                                 {"report.js", "text/javascript; charset=utf-8"},
                                                 {"report.css", "text/css; charset=utf-8"}};
  for (size_t i = 0; i < sizeof report_assets / sizeof *report_assets; i++) {
    if (strcmp(r->path + 8, report_assets[i][0])) continue;
    size_t len = 0;
    const char *data = tsr_report_asset(report_assets[i][0], &len);
    if (!len) break;
    return srv_send_static(r, data, len, report_assets[i][1]);
  }
  return srv_send_error(r, 404, "ENOTFOUND", "no such file: %s", r->path);
}

enum MHD_Result srv_serve_health(srv_req *r) {
  tsr_store *st = srv_store(r->S);
  int ok = st != NULL;
  return srv_send_json(r, ok ? 200 : 503,
                       json_pack("{s:s,s:I,s:i}", "status", ok ? "ok" : "store unavailable", "uptime_ms",
                                 (json_int_t)(tsr_store_now_ms() - r->S->started_ms), "jobs_running",
                                 atomic_load(&r->S->jobs_running)));
}

enum MHD_Result srv_serve_favicon(srv_req *r) { return srv_send_body(r, 204, "image/x-icon", "", 0); }

/* The request's body is complete: refusals found while reading it, then the
 * route (routes.c). */
static enum MHD_Result dispatch(srv_req *r) {
  if (r->pp) {
    MHD_destroy_post_processor(r->pp);
    r->pp = NULL;
  }
  if (r->up_fd >= 0) {
    close(r->up_fd);
    r->up_fd = -1;
  }
  if (r->discard) {
    enum MHD_Result ret;
    if (!srv_auth_need(r, "analyst", &ret)) return ret;
  }
  if (r->bad_body && !r->too_large)
    return srv_send_error(r, 400, "EPARSE", "%s", r->bad_msg[0] ? r->bad_msg : "malformed request body");
  if (r->too_large) {
    if (r->bad_msg[0]) return srv_send_error(r, 413, "ELIMIT", "%s", r->bad_msg);
    if (r->upload_route)
      return srv_send_error(r, 413, "ELIMIT", "the file is larger than the upload limit of %lld bytes",
                            (long long)r->S->cfg.max_upload);
    return srv_send_error(r, 413, "ELIMIT", "the request body is larger than %d bytes", SRV_MAX_BODY);
  }
  return srv_route_request(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
  srv *S = cls;
  (void)version;
  srv_req *r = *con_cls;
  if (!r) {
    r = calloc(1, sizeof *r);
    if (!r) return MHD_NO;
    r->S = S;
    r->conn = c;
    r->t0 = srv_now();
    r->up_fd = -1;
    snprintf(r->method, sizeof r->method, "%s", method);
    if (strlen(url) >= sizeof r->path) {
      r->bad_body = 1;
      snprintf(r->bad_msg, sizeof r->bad_msg, "the address is longer than %d bytes", SRV_MAX_URL);
      snprintf(r->path, sizeof r->path, "/too-long");
    } else {
      snprintf(r->path, sizeof r->path, "%s", url);
    }
    *con_cls = r;
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
      const char *ct = srv_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
      const char *cl = srv_req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
      r->upload_route = srv_route_is_upload(method, r->path);
      if (r->upload_route) {
        /* never store a body that will be refused: the answer (401/403) is
         * sent once the body has been read and dropped */
        srv_auth_resolve(r);
        if (!r->user || srv_role_rank(r->user->role) < 2) r->discard = 1;
      }
      long long limit = r->upload_route ? (long long)S->cfg.max_upload + 65536 : SRV_MAX_BODY;
      if (cl) {
        char *end = NULL;
        long long v = strtoll(cl, &end, 10);
        if (end && !*end && v > limit) {
          /* answered at once, before any of the body is read; MHD then
           * closes the connection instead of reading the rest */
          r->too_large = 1;
          if (r->upload_route) /* other bodies (<= 1 MiB) are read and dropped */
            return srv_send_error(r, 413, "ELIMIT",
                              "the file is larger than the upload limit of %lld bytes",
                              (long long)S->cfg.max_upload);
        }
      }
      /* uploads: multipart (browser form) or any other type as the raw file */
      if (ct && (!strncasecmp(ct, "multipart/form-data", 19) ||
                 (!r->upload_route && !strncasecmp(ct, "application/x-www-form-urlencoded", 33)))) {
        r->kind = SRV_BODY_FORM;
        r->pp = MHD_create_post_processor(c, 65536, post_iter, r);
        if (!r->pp) {
          r->bad_body = 1;
          snprintf(r->bad_msg, sizeof r->bad_msg, "malformed form encoding (no multipart boundary)");
        }
      } else if (r->upload_route) {
        r->kind = SRV_BODY_RAW_UPLOAD;
      } else {
        r->kind = SRV_BODY_BUFFER;
      }
    }
    return MHD_YES;
  }
  if (*upload_data_size) {
    size_t n = *upload_data_size;
    r->bytes_in += (int64_t)n;
    if (srv_now() - r->t0 > (double)S->cfg.body_timeout_s) {
      /* a body trickling in for longer than --body-timeout: drop the
       * connection (logged as 408) */
      r->status = 408;
      return MHD_NO;
    }
    if (!r->too_large && !r->bad_body && !r->discard) {
      switch (r->kind) {
        case SRV_BODY_BUFFER:
          if (r->body_len + n > SRV_MAX_BODY) {
            r->too_large = 1;
            free(r->body);
            r->body = NULL;
            r->body_len = r->body_cap = 0;
          } else {
            if (r->body_len + n + 1 > r->body_cap) {
              size_t cap = r->body_cap ? r->body_cap * 2 : 4096;
              while (cap < r->body_len + n + 1) cap *= 2;
              char *p = realloc(r->body, cap);
              if (!p) return MHD_NO;
              r->body = p;
              r->body_cap = cap;
            }
            memcpy(r->body + r->body_len, upload_data, n);
            r->body_len += n;
            r->body[r->body_len] = '\0';
          }
          break;
        case SRV_BODY_RAW_UPLOAD: upload_write(r, upload_data, n); break;
        case SRV_BODY_FORM:
          if (MHD_post_process(r->pp, upload_data, n) != MHD_YES && !r->too_large) {
            r->bad_body = 1;
            if (!r->bad_msg[0]) snprintf(r->bad_msg, sizeof r->bad_msg, "malformed form data");
          }
          break;
        default: break;
      }
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  return dispatch(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  srv *S = cls;
  (void)c;
  (void)toe;
  srv_req *r = *con_cls;
  if (!r) return;
  metrics_record(S, r->status ? r->status : 500, srv_now() - r->t0, r->bytes_in, r->bytes_out);
  log_push(S, r);
  if (r->pp) MHD_destroy_post_processor(r->pp);
  if (r->up_fd >= 0) close(r->up_fd);
  if (r->up_tmp[0]) unlink(r->up_tmp);
  free(r->body);
  for (size_t i = 0; i < r->nfields; i++) free(r->fields[i].value);
  free(r->fields);
  free(r);
  *con_cls = NULL;
}

/* ================================================================ start, stop */

void tsr_server_config_init(tsr_server_config *c) {
  memset(c, 0, sizeof *c);
  c->listen = "127.0.0.1:8080";
  c->max_upload = (int64_t)1 << 30;
  c->threads = 2;
  c->workers = 2;
  c->max_connections = 1000;
  c->max_per_address = 32;
  c->idle_timeout_s = 30;
  c->body_timeout_s = 600;
  c->log_keep_days = 30;
  c->log_max_rows = 1000000;
}

static char *read_file(const char *path, size_t max) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *b = malloc(max + 1);
  size_t n = b ? fread(b, 1, max, f) : 0;
  fclose(f);
  if (!b) return NULL;
  b[n] = '\0';
  return b;
}

static int mkdir_p(const char *dir) {
  char buf[1200];
  snprintf(buf, sizeof buf, "%s", dir);
  for (char *p = buf + 1; *p; p++) {
    if (*p == '/') {
      *p = '\0';
      mkdir(buf, 0700);
      *p = '/';
    }
  }
  return mkdir(buf, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

/* ================================================================ leftovers */

typedef struct keep_dirs {
  char (*dir)[1200];
  size_t n, cap;
} keep_dirs;

static int keep_dir_cb(void *ctx, const tsr_run *run) {
  keep_dirs *k = ctx;
  if (run->status == TSR_RUN_RUNNING || !run->output_dir) return 0;
  if (run->status != TSR_RUN_DONE) return 0; /* a failed or killed job's folder is partial */
  if (k->n == k->cap) {
    size_t nc = k->cap ? k->cap * 2 : 64;
    void *p = realloc(k->dir, nc * sizeof *k->dir);
    if (!p) return 1;
    k->dir = p;
    k->cap = nc;
  }
  snprintf(k->dir[k->n++], sizeof k->dir[0], "%s", run->output_dir);
  return 0;
}

static void remove_tree(const char *path) {
  DIR *d = opendir(path);
  if (d) {
    struct dirent *de;
    while ((de = readdir(d))) {
      if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
      char sub[2400];
      snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
      struct stat sb;
      if (lstat(sub, &sb) == 0 && S_ISDIR(sb.st_mode)) remove_tree(sub);
      else unlink(sub);
    }
    closedir(d);
  }
  rmdir(path);
}

/* At start-up, before any job or upload: removes what killed uploads and
 * jobs left behind (docs/web.md): uploads/.upload-* temporary files, and the
 * folders under runs/ that belong to no finished ("done") run. Returns the
 * number of entries removed, or -1 when the runs could not be listed (then
 * nothing under runs/ is touched). */
static long clean_leftovers(srv *S, tsr_store *st) {
  long removed = 0;
  char dir[1200];
  snprintf(dir, sizeof dir, "%s/uploads", S->data_dir);
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *de;
    while ((de = readdir(d)))
      if (!strncmp(de->d_name, ".upload-", 8)) {
        char p[2400];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (unlink(p) == 0) removed++;
      }
    closedir(d);
  }
  keep_dirs k = {NULL, 0, 0};
  if (tsr_store_runs_list(st, 0, 0, keep_dir_cb, &k, NULL) != TSR_OK) {
    free(k.dir);
    return -1;
  }
  snprintf(dir, sizeof dir, "%s/runs", S->data_dir);
  d = opendir(dir);
  if (d) {
    struct dirent *de;
    while ((de = readdir(d))) {
      if (de->d_name[0] == '.') continue;
      char p[2400];
      snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
      int keep = 0;
      for (size_t i = 0; i < k.n && !keep; i++) keep = !strcmp(k.dir[i], p);
      if (!keep) {
        remove_tree(p);
        removed++;
      }
    }
    closedir(d);
  }
  free(k.dir);
  return removed;
}

int tsr_server_run(const tsr_server_config *cfg, char *errbuf, size_t cap) {
  char why[400];
  if (tsr__mhd_open(why, sizeof why) != 0) { /* first: every MHD_* call goes through it */
    snprintf(errbuf, cap, "serve: %s", why);
    return 1;
  }
  if (sodium_init() < 0) {
    snprintf(errbuf, cap, "serve: libsodium failed to initialise");
    return 1;
  }
  srv *S = calloc(1, sizeof *S);
  if (!S) {
    snprintf(errbuf, cap, "serve: out of memory");
    return 1;
  }
  int rc = 1;
  S->cfg = *cfg;
  S->started_ms = tsr_store_now_ms();
  pthread_mutex_init(&S->stores_mu, NULL);
  pthread_mutex_init(&S->log_mu, NULL);
  pthread_cond_init(&S->log_cv, NULL);
  pthread_mutex_init(&S->jobs_mu, NULL);
  pthread_cond_init(&S->jobs_cv, NULL);
  pthread_mutex_init(&S->cache_mu, NULL);
  pthread_mutex_init(&S->ac_mu, NULL);
  snprintf(S->db, sizeof S->db, "%s", tsr_store_default_url(cfg->db));
  const char *dbpath = S->db;
  if (!strncmp(dbpath, "sqlite:", 7)) dbpath += 7;
  int on_pg = !strncmp(dbpath, "postgresql://", 13) || !strncmp(dbpath, "postgres://", 11);
  if (cfg->data_dir) snprintf(S->data_dir, sizeof S->data_dir, "%s", cfg->data_dir);
  else if (on_pg) snprintf(S->data_dir, sizeof S->data_dir, "tessera.data"); /* no file to sit by */
  else snprintf(S->data_dir, sizeof S->data_dir, "%.1000s.data", dbpath);
  char sub[1100];
  snprintf(sub, sizeof sub, "%s/uploads", S->data_dir);
  int dir_ok = mkdir_p(sub) == 0;
  snprintf(sub, sizeof sub, "%s/runs", S->data_dir);
  dir_ok = dir_ok && mkdir_p(sub) == 0;
  if (!dir_ok) {
    snprintf(errbuf, cap, "serve: %s: cannot create the data folder: %s", S->data_dir, strerror(errno));
    goto out;
  }
  /* open (create, migrate) the store once in this thread */
  tsr_store *main_store = NULL;
  tsr_error err;
  tsr_error_clear(&err);
  if (tsr_store_open(S->db, TSR_STORE_CREATE, &main_store, &err) != TSR_OK) {
    tsr_error_format(&err, errbuf, cap);
    rc = 6;
    goto out;
  }
  int64_t stale = 0;
  if (tsr_web_runs_interrupt(main_store, &stale, NULL) == TSR_OK && stale > 0)
    fprintf(stderr, "tessera: %lld run%s left running by an earlier server marked interrupted\n",
            (long long)stale, stale == 1 ? "" : "s");
  long left = clean_leftovers(S, main_store);
  if (left > 0)
    fprintf(stderr, "tessera: removed %ld partial upload%s and run folder%s left by a stopped server\n",
            left, left == 1 ? "" : "s", left == 1 ? "" : "s");
  else if (left < 0)
    fprintf(stderr, "tessera: warning: could not list the runs; run folders not cleaned\n");
  tsr_store_close(main_store);
  S->logq = calloc(LOGQ_MAX, sizeof *S->logq);
  S->logq2 = calloc(LOGQ_MAX, sizeof *S->logq2);
  if (!S->logq || !S->logq2) {
    snprintf(errbuf, cap, "serve: out of memory");
    goto out;
  }
  srv_auth_init(S);
  if ((rc = srv_decisions_start(S, errbuf, cap)) != 0) goto out;
  rc = 1;

  /* listen address */
  char host[256] = "127.0.0.1", port[16] = "8080";
  const char *l = cfg->listen;
  const char *colon = strrchr(l, ':');
  if (l[0] == '[') {
    const char *rb = strchr(l, ']');
    if (!rb || rb[1] != ':') {
      snprintf(errbuf, cap, "serve: --listen: expected HOST:PORT, got '%s'", l);
      rc = 2;
      goto out;
    }
    snprintf(host, sizeof host, "%.*s", (int)(rb - l - 1), l + 1);
    snprintf(port, sizeof port, "%s", rb + 2);
  } else if (colon) {
    if (colon > l) snprintf(host, sizeof host, "%.*s", (int)(colon - l), l);
    snprintf(port, sizeof port, "%s", colon + 1);
  } else {
    snprintf(port, sizeof port, "%s", l);
  }
  struct addrinfo hints = {0}, *ai = NULL;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
  int gai = getaddrinfo(host, port, &hints, &ai);
  if (gai != 0 || !ai) {
    snprintf(errbuf, cap, "serve: --listen: cannot resolve '%s': %s", l, gai_strerror(gai));
    rc = 2;
    goto out;
  }
  char *cert = NULL, *key = NULL;
  if (cfg->tls_cert && cfg->tls_key) {
    cert = read_file(cfg->tls_cert, 1 << 20);
    key = read_file(cfg->tls_key, 1 << 20);
    if (!cert || !key) {
      snprintf(errbuf, cap, "serve: cannot read %s", !cert ? cfg->tls_cert : cfg->tls_key);
      free(cert);
      free(key);
      freeaddrinfo(ai);
      rc = 3;
      goto out;
    }
    S->tls = 1;
  }

  /* signals: blocked in every thread, taken by sigwait below */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);

  if (srv_jobs_start(S) != 0 || pthread_create(&S->log_thread, NULL, log_main, S) != 0) {
    snprintf(errbuf, cap, "serve: cannot start threads");
    free(cert);
    free(key);
    freeaddrinfo(ai);
    goto out;
  }
  unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD;
  if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
  if (S->tls) flags |= MHD_USE_TLS;
  unsigned threads = cfg->threads ? cfg->threads : 2;
  if (S->tls) {
    S->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, S, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT,
                            cfg->idle_timeout_s, MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_per_address,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, S,
                            MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
                            MHD_OPTION_END);
  } else {
    S->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, S, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT,
                            cfg->idle_timeout_s, MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_per_address,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, S, MHD_OPTION_END);
  }
  freeaddrinfo(ai);
  if (!S->d) {
    snprintf(errbuf, cap, "serve: cannot listen on %s (address in use, or TLS files invalid)", l);
    rc = 1;
  } else {
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(S->d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned p = di ? di->port : 0;
    int v6 = strchr(host, ':') != NULL;
    printf("tessera: listening on %s://%s%s%s:%u\n", S->tls ? "https" : "http", v6 ? "[" : "",
           host, v6 ? "]" : "", p);
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "tessera: %s received, shutting down\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    rc = 0;
  }
  /* stop: jobs first (canceled, marked interrupted), then HTTP, then log */
  srv_jobs_stop(S);
  if (S->d) MHD_stop_daemon(S->d);
  pthread_mutex_lock(&S->log_mu);
  S->log_stop = 1;
  pthread_cond_signal(&S->log_cv);
  pthread_mutex_unlock(&S->log_mu);
  pthread_join(S->log_thread, NULL);
  free(cert);
  free(key);
out:
  srv_decisions_stop(S); /* after the HTTP threads: flushes the decisions */
  srv_views_people_clear();
  srv_findex_clear();
  for (size_t i = 0; i < S->nstores; i++) {
    tsr_web_store_cache(S->stores[i], 0);
    tsr_store_close(S->stores[i]);
  }
  free(S->stores);
  srv_cache_free(S);
  for (size_t i = 0; i < SRV_MAX_JOBS; i++) free(S->jobs[i]);
  free(S->workers);
  free(S->logq);
  free(S->logq2);
  pthread_mutex_destroy(&S->stores_mu);
  pthread_mutex_destroy(&S->log_mu);
  pthread_cond_destroy(&S->log_cv);
  pthread_mutex_destroy(&S->jobs_mu);
  pthread_cond_destroy(&S->jobs_cv);
  pthread_mutex_destroy(&S->cache_mu);
  pthread_mutex_destroy(&S->ac_mu);
  free(S);
  return rc;
}
