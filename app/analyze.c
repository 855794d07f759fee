/*
 * analyze.c - the analysis pipeline (see tessera/analyze.h): ingest ->
 * summary -> RFM -> BTYD + Gamma-Gamma -> clusters -> store and files.
 * Formulas and KPI definitions: docs/analyze.md.
 */
#include "internal.h"
#include "base/sort.h"
#include "base/textbuf.h"
#include "btyd/btyd_internal.h"
#include "tessera/analyze.h"
#include "analyze_predict.h"
#include "analyze_history.h"
#include "analyze_rows.h"
#include "analyze_lane.h"
#include "cluster/cluster_internal.h"
#include "analyze_resolved.h"
#include "tessera/datetime.h"
#include "tessera/params.h"
#include "tessera/resolve.h"

#include <jansson.h>

#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_STORED_REJECTS 1000

double tsr_unit_days(tsr_horizon_unit u, double period_days) {
  switch (u) {
    case TSR_UNIT_DAYS: return 1;
    case TSR_UNIT_WEEKS: return 7;
    case TSR_UNIT_MONTHS: return 30.4375;
    case TSR_UNIT_YEARS: return 365.25;
    case TSR_UNIT_PERIODS: return period_days;
  }
  return period_days;
}

tsr_status tsr_unit_parse(const char *s, tsr_horizon_unit *out) {
  static const struct { const char *a, *b; tsr_horizon_unit u; } t[] = {
      {"days", "day", TSR_UNIT_DAYS},       {"weeks", "week", TSR_UNIT_WEEKS},
      {"months", "month", TSR_UNIT_MONTHS}, {"years", "year", TSR_UNIT_YEARS},
      {"periods", "period", TSR_UNIT_PERIODS}};
  for (size_t i = 0; i < TSR__ARRAY_LEN(t); i++)
    if (!strcmp(s, t[i].a) || !strcmp(s, t[i].b)) {
      *out = t[i].u;
      return TSR_OK;
    }
  return TSR_EINVAL;
}

void tsr_analyze_opts_init(tsr_analyze_opts *o) {
  memset(o, 0, sizeof *o);
  tsr_ingest_opts_init(&o->ingest);
  tsr_summary_opts_init(&o->summary);
  o->summary.multiplier = 7;
  o->scheme = "rf10";
  o->model = "auto";
  o->spend = 1;
  o->horizon = 12;
  o->unit = TSR_UNIT_MONTHS;
  o->discount = 0.01;
  o->level = 0.95;
  o->churn_threshold = 0.5;
  o->cluster = "kmeans";
  tsr_cluster_opts_init(&o->cluster_opts);
  o->cluster_opts.k = 0;
  o->cluster_opts.k_min = 2;
  o->cluster_opts.k_max = 8;
  o->cluster_opts.n_init = 3; /* per k of the automatic choice; tessera cluster uses 10 */
  o->cluster_opts.sample_size = 4000; /* silhouette sample per k */
}

void tsr_analyze_result_free(tsr_analyze_result *r) {
  if (!r) return;
  if (r->pii) {
    for (size_t i = 0; r->profiles && i < tsr_profiles_count(r->profiles); i++) free(r->pii[i]);
    free(r->pii);
  }
  tsr_profiles_free(r->profiles);
  tsr__analyze_predict_free(r->predict);
  tsr_ledger_free(r->ledger);
  tsr_summary_free(r->summary);
  tsr__free(r->ids);
  if (r->arows) tsr__arows_release(r->arows);
  tsr__free(r->arows);
  tsr__free(r->r);
  tsr__free(r->f);
  tsr__free(r->m);
  tsr__free(r->segment);
  tsr_rfm_scheme_free(r->scheme);
  tsr__free(r->segments);
  tsr__free(r->expected);
  tsr__free(r->expected_lo);
  tsr__free(r->expected_hi);
  tsr__free(r->p_alive);
  tsr__free(r->clv);
  tsr__free(r->clv_lo);
  tsr__free(r->clv_hi);
  tsr_cluster_result_free(r->clusters);
  tsr__free(r);
}

/* ------------------------------------------------------------ context */

typedef struct stored_reject {
  int64_t line, column;
  char *field, *reason, *raw;
} stored_reject;

typedef struct actx {
  const tsr_analyze_opts *o;
  tsr_store *store;
  tsr_analyze_result *res;
  double t0, step_t0;
  size_t tlen;
  stored_reject *rejects;
  size_t nrejects;
  void (*user_reject)(void *, const tsr_reject *);
  void *user_ud;
  int64_t n_rej_total;
  double ingest_ms;
  /* reasons of rejected rows, for the message when every row is rejected */
  struct { char key[160], source[256]; int64_t n, line; } reasons[16];
  size_t nreasons;
  char *indb_sql;       /* the in-database query (--in-db), owned */
  int64_t rekeyed;      /* bundle: ledger customers re-keyed to a resolved id */
  tsr__resolved *resolver; /* bundle: the resolved customers (rekey -> profiles), owned */
  struct tsr__resolve_job *rjob; /* bundle: the resolution running beside the
                                    ingest until the re-keying, owned */
  tsr_ledger *raw;      /* bundle: the ledger as ingested, before the exclusion
                           of anomalies and the re-keying, for the models
                           (app/analyze_predict.c) when the run read the file
                           as they would; owned unless it is res->ledger,
                           handed to the models at their start */
  int64_t events_lost; /* events the store did not take */
  char event_err[256];
  /* Events of the run's thread while the store's rows are added on their
   * own thread (rows_job), which has the store's connection meanwhile:
   * kept with their times and written where the sequential order writes
   * them, before the store's rows (held_write). */
  int hold; /* the rows' thread has the store: keep events */
  struct held_event *held;
  size_t nheld, held_cap;
  int held_state;             /* 0 not written, 1 in the store's open transaction, 2 committed */
  tsr_ingest_stats *in_stats; /* each input's ingest (its currency column), owned */
  tsr__hist_pack hist; /* a store's purchase histories when the summary drains
                          the ledger (drains), owned */
} actx;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Events of a step run on the side thread (app/analyze_lane.h), emitted
 * by the run's thread where the sequential order emits them (evq_flush). */
#define EVQ_CAP 4
typedef struct evq {
  struct {
    int level;
    const char *step; /* a literal */
    int64_t rows_in, rows_out;
    double ms;
    char msg[1024];
  } v[EVQ_CAP];
  size_t n;
} evq;

static void event_msg(actx *x, int level, const char *step, int64_t rows_in, int64_t rows_out,
                      double ms, const char *msg);

static void qevent(actx *x, evq *q, int level, const char *step, int64_t rows_in,
                   int64_t rows_out, double ms, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

/* An event now (q NULL) or kept in q for evq_flush. */
static void qevent(actx *x, evq *q, int level, const char *step, int64_t rows_in,
                   int64_t rows_out, double ms, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (!q) {
    event_msg(x, level, step, rows_in, rows_out, ms, msg);
    return;
  }
  if (q->n == EVQ_CAP) return; /* a step has fewer */
  q->v[q->n].level = level;
  q->v[q->n].step = step;
  q->v[q->n].rows_in = rows_in;
  q->v[q->n].rows_out = rows_out;
  q->v[q->n].ms = ms;
  memcpy(q->v[q->n].msg, msg, sizeof msg);
  q->n++;
}

static void evq_flush(actx *x, evq *q) {
  for (size_t i = 0; i < q->n; i++)
    event_msg(x, q->v[i].level, q->v[i].step, q->v[i].rows_in, q->v[i].rows_out, q->v[i].ms,
              q->v[i].msg);
  q->n = 0;
}

static void event(actx *x, int level, const char *step, int64_t rows_in, int64_t rows_out,
                  double ms, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void event(actx *x, int level, const char *step, int64_t rows_in, int64_t rows_out,
                  double ms, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  event_msg(x, level, step, rows_in, rows_out, ms, msg);
}

typedef struct held_event {
  int level;
  const char *step; /* a literal */
  int64_t rows_in, rows_out, ts;
  double ms;
  char *msg; /* owned */
} held_event;

static void event_store(actx *x, int level, const char *step, int64_t rows_in, int64_t rows_out,
                        double ms, int64_t ts, const char *msg) {
  tsr_event e = {0, x->res->run_id, ts, (tsr_log_level)level, step, msg, rows_in, rows_out, ms};
  tsr_error eerr;
  /* logging never fails a run, but a lost event is counted and reported */
  if (tsr_store_event_add(x->store, &e, NULL, &eerr) != TSR_OK && x->events_lost++ == 0)
    tsr_error_format(&eerr, x->event_err, sizeof x->event_err);
}

static void event_msg(actx *x, int level, const char *step, int64_t rows_in, int64_t rows_out,
                      double ms, const char *msg) {
  if (x->o->on_event) x->o->on_event(x->o->ud, level, step, msg);
  if (!x->store || x->res->run_id <= 0) return;
  if (!x->hold) {
    event_store(x, level, step, rows_in, rows_out, ms, 0, msg);
    return;
  }
  if (x->nheld == x->held_cap) {
    size_t cap = x->held_cap ? 2 * x->held_cap : 8;
    held_event *h = tsr__realloc(x->held, cap * sizeof *h);
    if (!h) {
      if (x->events_lost++ == 0) snprintf(x->event_err, sizeof x->event_err, "out of memory");
      return;
    }
    x->held = h;
    x->held_cap = cap;
  }
  char *copy = tsr__strdup(msg);
  if (!copy) {
    if (x->events_lost++ == 0) snprintf(x->event_err, sizeof x->event_err, "out of memory");
    return;
  }
  x->held[x->nheld++] = (held_event){level, step, rows_in, rows_out, tsr_store_now_ms(), ms, copy};
}

/* Writes the held events (their times kept) and keeps them: in the
 * store's open transaction (in_tx: written again should it roll back), or
 * outside it. */
static void held_write(actx *x, int in_tx) {
  for (size_t i = 0; i < x->nheld; i++) {
    const held_event *h = &x->held[i];
    event_store(x, h->level, h->step, h->rows_in, h->rows_out, h->ms, h->ts, h->msg);
  }
  x->held_state = in_tx ? 1 : 2;
}

static void held_free(actx *x) {
  for (size_t i = 0; i < x->nheld; i++) tsr__free(x->held[i].msg);
  tsr__free(x->held);
  x->held = NULL;
  x->nheld = x->held_cap = 0;
  x->held_state = 0;
}

static void progress(actx *x, const char *step, double frac) {
  if (x->o->on_progress) x->o->on_progress(x->o->ud, step, frac);
}

/* Records the elapsed time of a step in res->timings and returns it (ms). */
static double step_done(actx *x, const char *step) {
  double t = now_s();
  double ms = (t - x->step_t0) * 1000.0;
  x->step_t0 = t;
  size_t cap = sizeof x->res->timings;
  if (x->tlen == 0) x->tlen = (size_t)snprintf(x->res->timings, cap, "{");
  if (x->tlen < cap)
    x->tlen += (size_t)snprintf(x->res->timings + x->tlen, cap - x->tlen, "%s\"%s\":%.1f",
                                x->tlen > 1 ? "," : "", step, ms);
  return ms;
}

/* Adds a step of ms milliseconds measured by the caller (a step that ran
 * beside another); the next step is timed from now. */
static void step_put(actx *x, const char *step, double ms) {
  x->step_t0 = now_s();
  size_t cap = sizeof x->res->timings;
  if (x->tlen == 0) x->tlen = (size_t)snprintf(x->res->timings, cap, "{");
  if (x->tlen < cap)
    x->tlen += (size_t)snprintf(x->res->timings + x->tlen, cap - x->tlen, "%s\"%s\":%.1f",
                                x->tlen > 1 ? "," : "", step, ms);
}

static int canceled(const actx *x) { return x->o->cancel && *x->o->cancel; }

/* Counts the reason of a rejected row; the value in "…, got '…'" is left
 * out so that rows with one problem share a key. */
static void tally_reason(actx *x, const tsr_reject *r) {
  char key[160];
  const char *got = strstr(r->reason, ", got ");
  int len = got ? (int)(got - r->reason) : (int)strlen(r->reason);
  snprintf(key, sizeof key, "%s%s%.*s", r->field, *r->field ? ": " : "", len, r->reason);
  for (size_t i = 0; i < x->nreasons; i++)
    if (!strcmp(x->reasons[i].key, key)) {
      x->reasons[i].n++;
      return;
    }
  if (x->nreasons == TSR__ARRAY_LEN(x->reasons)) return;
  snprintf(x->reasons[x->nreasons].key, sizeof x->reasons[0].key, "%s", key);
  snprintf(x->reasons[x->nreasons].source, sizeof x->reasons[0].source, "%s",
           r->source ? r->source : "");
  x->reasons[x->nreasons].n = 1;
  x->reasons[x->nreasons].line = r->line;
  x->nreasons++;
}

static void on_reject(void *ud, const tsr_reject *r) {
  actx *x = ud;
  x->n_rej_total++;
  tally_reason(x, r);
  if (x->nrejects < MAX_STORED_REJECTS && x->rejects) {
    stored_reject *s = &x->rejects[x->nrejects];
    s->line = r->line;
    s->column = r->column;
    s->field = tsr__strdup(r->field);
    char buf[600];
    snprintf(buf, sizeof buf, "%s%s%s", r->field, *r->field ? ": " : "", r->reason);
    s->reason = tsr__strdup(buf);
    s->raw = tsr__strndup(r->raw, r->raw_len > 4096 ? 4096 : r->raw_len);
    if (s->field && s->reason && s->raw) x->nrejects++;
    else {
      tsr__free(s->field);
      tsr__free(s->reason);
      tsr__free(s->raw);
    }
  }
  if (x->user_reject) x->user_reject(x->user_ud, r);
}

static void on_ingest_progress(void *ud, int64_t done, int64_t total, int64_t rows) {
  actx *x = ud;
  (void)rows;
  if (total > 0) progress(x, "ingest", 0.5 * (double)done / (double)total);
  if (x->o->ingest.on_progress) x->o->ingest.on_progress(x->o->ingest.ud, done, total, rows);
}

tsr_status tsr__analyze_indb_ingest(const char *url, const char *table, tsr_ledger *lg,
                                    const tsr_ingest_opts *io, tsr_ingest_stats *stats,
                                    char **sql_out, tsr_error *err);
/* app/analyze_rekey.c: the entity resolution beside the ingest, then the
 * re-keying (job NULL: the resolution runs there) */
typedef struct tsr__resolve_job tsr__resolve_job;
tsr__resolve_job *tsr__analyze_resolve_start(const tsr_analyze_opts *o);
void tsr__analyze_resolve_free(tsr__resolve_job *j);
tsr_status tsr__analyze_rekey(const tsr_analyze_opts *o, tsr_analyze_result *res,
                              const tsr_ledger *keep, tsr__resolve_job *job, tsr__resolved **rv,
                              int64_t *moved, tsr_error *err);
tsr_status tsr__analyze_exclude(const tsr_analyze_opts *o, tsr_analyze_result *res,
                                const tsr_ledger *keep, tsr_error *err);

/* ------------------------------------------------------------ steps */

static tsr_status step_ingest(actx *x, tsr_error *err) {
  tsr_analyze_result *res = x->res;
  /* never ignored silently (the API and the web form can ask for it too) */
  if (x->o->exclude_anomalies && !x->o->bundle)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "exclude_anomalies",
                         "excluding anomalies needs a data bundle (a folder holding "
                         "transactions.csv and the other tables); this run reads a single file");
  /* the entity resolution reads only the customers table: beside the
   * ingest (issue 12), unless in the sequential order */
  if (x->o->bundle && tsr__analyze_predict_early()) x->rjob = tsr__analyze_resolve_start(x->o);
  tsr_status st = tsr_ledger_new(&res->ledger, err);
  if (st != TSR_OK) return st;
  tsr_ingest_opts io = x->o->ingest;
  x->user_reject = io.on_reject;
  x->user_ud = io.ud;
  io.on_reject = on_reject;
  io.on_progress = on_ingest_progress;
  io.ud = x;
  memset(&res->ingest, 0, sizeof res->ingest);
  uint64_t combined = 0;
  if (x->o->indb_table) { /* app/analyze_indb.c */
    st = tsr__analyze_indb_ingest(x->o->indb_url, x->o->indb_table, res->ledger, &io,
                                  &res->ingest, &x->indb_sql, err);
    if (st != TSR_OK) return st;
    combined = res->ingest.checksum;
  }
  io.single_input = x->o->n_inputs == 1; /* the ledger's only input */
  /* the input's checksum names the dataset in the store and the kept
   * copies (keep_dir): without either it is not computed */
  if (!x->store && !x->o->keep_dir) io.csv.no_checksum = 1;
  if (!x->o->indb_table && !(x->in_stats = tsr__calloc(x->o->n_inputs, sizeof *x->in_stats)))
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  for (size_t i = 0; !x->o->indb_table && i < x->o->n_inputs; i++) {
    tsr_ingest_stats s;
    st = tsr_ingest_file(res->ledger, x->o->inputs[i], &io, &s, err);
    x->in_stats[i] = s; /* the currency column's values (tsr__analyze_currency) */
    tsr_ingest_stats *a = &res->ingest;
    if (i == 0) {
      *a = s;
    } else {
      a->bytes += s.bytes;
      a->rows_read += s.rows_read;
      a->rows_accepted += s.rows_accepted;
      a->rows_rejected += s.rows_rejected;
      a->duplicate_ids += s.duplicate_ids;
      a->identical_rows += s.identical_rows;
      a->identical_dropped += s.identical_dropped;
      a->refunds += s.refunds;
      a->refund_amount += s.refund_amount;
      if (s.rows_accepted && (s.min_time < a->min_time || !a->rows_accepted)) a->min_time = s.min_time;
      if (s.rows_accepted && s.max_time > a->max_time) a->max_time = s.max_time;
    }
    combined = combined * 0x100000001B3ULL ^ s.checksum;
    if (st != TSR_OK) return st;
  }
  res->ingest.checksum = combined;
  /* nothing more is ingested into it: sorted by id and packed at once
   * (the packing in a second thread) */
  st = tsr_ledger_finish_seal(res->ledger, 2, err);
  if (st != TSR_OK) return st;
  if (res->ingest.rows_accepted == 0 && res->ingest.rows_rejected > 0 && x->nreasons > 0) {
    size_t top = 0;
    for (size_t i = 1; i < x->nreasons; i++)
      if (x->reasons[i].n > x->reasons[top].n) top = i;
    return tsr_error_set(err, TSR_EPARSE, x->reasons[top].source, 0, 0, NULL,
                         "every row was rejected (%lld of %lld); most common reason (%lld rows, "
                         "first on line %lld): %s",
                         (long long)res->ingest.rows_rejected, (long long)res->ingest.rows_read,
                         (long long)x->reasons[top].n, (long long)x->reasons[top].line,
                         x->reasons[top].key);
  }
  /* a bundle: flagged transactions out of the ledger (app/analyze_exclude.c),
   * then RFM and BTYD per resolved customer (app/analyze_rekey.c); the
   * ledger as ingested stays for the models when it is the one they would
   * read alone (raw ids, every transaction), else they read the file again */
  res->dq_anomalies_excluded = -1;
  if (x->o->bundle && tsr__analyze_predict_shares(x->o, NULL, 0)) x->raw = res->ledger;
  if (x->o->bundle && x->o->exclude_anomalies &&
      (st = tsr__analyze_exclude(x->o, res, x->raw, err)) != TSR_OK)
    return st;
  /* the models' thread starts here (issue 12), beside the entity
   * resolution and the re-keying: the days of the ledger are final once
   * the anomalies are out (the re-keying moves days to another customer id,
   * never drops or shifts one: the models' cutoff, the last day, is the
   * same), and the models read only the raw ledger (or their own). It gets
   * the ingested ledger lent (raw == res->ledger; the re-keying keeps it)
   * or owned (the exclusion replaced res->ledger); lent, it is handed over
   * after the re-keying (tsr__analyze_predict_adopt). Without a thread
   * (TESSERA_PREDICT_THREADS=0) the models start after the dataset is
   * stored, as they always did: the tests compare the two orders. */
  tsr_ledger *lent = NULL;
  if (x->o->bundle && tsr__analyze_predict_early()) {
    lent = x->raw == res->ledger ? x->raw : NULL;
    if ((st = tsr__analyze_predict_start(x->o, res, &x->raw, err)) != TSR_OK) return st;
  }
  if (x->o->bundle)
    st = tsr__analyze_rekey(x->o, res, lent ? lent : x->raw, x->rjob, &x->resolver, &x->rekeyed,
                            err);
  x->rjob = NULL; /* joined and freed there */
  /* lent, and no longer res->ledger: the models' (or freed when they are
   * done with it already); on failure too */
  if (lent) tsr__analyze_predict_adopt(res, lent);
  if (st != TSR_OK) return st;
  x->ingest_ms = step_done(x, "ingest");
  return TSR_OK;
}

/* The ingest events, emitted once the run exists in the store. */
static void ingest_events(actx *x) {
  tsr_analyze_result *res = x->res;
  double ms = x->ingest_ms;
  const tsr_ingest_stats *s = &res->ingest;
  event(x, 0, "ingest", s->rows_read, s->rows_accepted, ms,
        "read %lld rows (%lld bytes), accepted %lld, rejected %lld; %zu customers",
        (long long)s->rows_read, (long long)s->bytes, (long long)s->rows_accepted,
        (long long)s->rows_rejected, tsr_ledger_ncustomers(res->ledger));
  if (x->rekeyed)
    event(x, 0, "ingest", -1, -1, -1,
          "%lld customer ids are records merged by entity resolution: their transactions count "
          "for the resolved customer", (long long)x->rekeyed);
  if (x->indb_sql)
    event(x, 0, "ingest", -1, -1, -1, "customer-day rows computed in the database: %s", x->indb_sql);
  if (s->rows_rejected)
    event(x, 1, "ingest", -1, -1, -1, "%lld rows rejected (the first %zu are stored with the dataset)",
          (long long)s->rows_rejected, x->nrejects);
  if (s->identical_rows)
    event(x, 1, "ingest", -1, -1, -1, "%lld rows identical to an earlier row (%s)",
          (long long)s->identical_rows, s->identical_dropped ? "removed" : "kept");
  if (s->duplicate_ids)
    event(x, 1, "ingest", -1, -1, -1, "%lld rows repeat a transaction id (dropped)",
          (long long)s->duplicate_ids);
  if (s->refunds)
    event(x, 1, "ingest", -1, -1, -1, "%lld refunds, total %.2f (%s)", (long long)s->refunds,
          s->refund_amount,
          x->o->summary.refunds == TSR_REFUNDS_NET ? "netted" : "kept out of spend");
}

/* The ledger is freed after the summary (release_ledger): nothing after
 * the summary reads it without a bundle; a store's purchase histories are
 * taken from it while the summary drains it (x->hist). */
static int drains(const actx *x) { return x->o->release_ledger && !x->o->bundle; }

static tsr_status step_summary(actx *x, tsr_error *err) {
  tsr_analyze_result *res = x->res;
  /* a ledger freed after the summary (release_ledger) is drained by it:
   * its entries go while the rows come (issue 18: on tx1800k 321 MB of
   * entries and 230 MB of rows were at the peak together) */
  tsr_status st;
  tsr__arows *rv = res->arows = tsr__calloc(1, sizeof *res->arows);
  if (!rv) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  /* drained: the rows made compact as they come (app/analyze_rows.h) */
  const tsr_summary_opts *sop = &x->o->summary;
  if (drains(x)) tsr__arows_begin(rv, sop->cal_end_day != TSR_DAY_NONE, !x->o->release_rows);
  if (!drains(x)) {
    st = tsr_summary_compute(res->ledger, sop, &res->summary, err);
  } else if (!x->store) {
    st = tsr__summary_drain_packed(res->ledger, sop, NULL, NULL, tsr__arows_elem(rv),
                                   tsr__arows_put, rv, &res->summary, err);
  } else {
    st = tsr__hist_pack_init(&x->hist, tsr_ledger_ncustomers(res->ledger), err);
    if (st == TSR_OK) {
      tsr__hist_pack_start(&x->hist); /* packed on the idle core */
      st = tsr__summary_drain_packed(res->ledger, sop, tsr__hist_pack_take, &x->hist,
                                     tsr__arows_elem(rv), tsr__arows_put, rv, &res->summary, err);
      tsr__hist_pack_end(&x->hist);
    }
    if (st == TSR_OK && x->hist.oom)
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  if (st == TSR_OK && drains(x))
    st = tsr__arows_adopt(rv, res->summary, err);
  else if (st == TSR_OK)
    tsr__arows_full(rv, res->summary);
  if (st != TSR_OK) return st;
  const tsr_summary_opts *so = &x->o->summary;
  res->period_days = so->multiplier * (so->freq == TSR_FREQ_D ? 1 : so->freq == TSR_FREQ_W ? 7 : 30.4375);
  res->has_holdout = res->summary->has_holdout;
  double ms = step_done(x, "summary");
  char a[11], b[11];
  event(x, 0, "summary", (int64_t)tsr_ledger_ncustomers(res->ledger), (int64_t)res->summary->n, ms,
        "%zu customers; period %g days; observation end %s%s%s", res->summary->n,
        res->period_days, tsr_day_format(res->summary->end_day, a),
        res->has_holdout ? ", calibration end " : "",
        res->has_holdout ? tsr_day_format(res->summary->cal_end_day, b) : "");
  return TSR_OK;
}

/* Frees the ledger (opts->release_ledger) once the summary is computed:
 * the summary's customer ids, borrowed from it, are copied to res->ids
 * first. Nothing after the summary reads the ledger without a store or a
 * bundle (the store's purchase histories and the profiles do). */
static tsr_status release_ledger(tsr_analyze_result *res, tsr_error *err) {
  tsr__arows *a = res->arows;
  size_t len = 0;
  for (size_t i = 0; i < a->n; i++) len += strlen(tsr__ar_id(a, i)) + 1;
  if (!(res->ids = tsr__malloc(len ? len : 1)))
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  char *o = res->ids;
  for (size_t i = 0; i < a->n; i++) {
    const char *id = tsr__ar_id(a, i);
    size_t k = strlen(id) + 1;
    memcpy(o, id, k);
    tsr__ar_set_id(a, i, o);
    o += k;
  }
  tsr_ledger_free(res->ledger);
  res->ledger = NULL;
  return TSR_OK;
}

/* ------------------------------------------------------------ plan */

/* The steps between the summary and the files (issue 18): RFM, the
 * purchase model's preparation and fits, the spend model, the clustering's
 * fit and the KPIs' revenue ranking depend only on the summary (and the
 * fits on the preparation), so a side thread (app/analyze_lane.h) runs them
 * while the run's thread prepares and fits the first model; the run's thread
 * then takes each result where the sequential order computes it and emits
 * its events and timing there, so the events, the files and the store are
 * those of the sequential order. A step that fails on the side thread fails
 * the run only where the sequential order would have run it (its error and
 * events kept until then); a clustering that cannot start early (features
 * beyond the summary's, too few customers, an error) runs in its place as
 * before. TESSERA_PREDICT_THREADS=0 (tsr__analyze_predict_early() == 0), and
 * a bundle's run (the models' thread runs beside it): no side thread, every
 * step in the sequential order, the clustering in one piece (the tests
 * compare the two orders). With the side thread, the store's rows begin on
 * their own thread once the clustering's early labels are known (rows_job,
 * beside the clusters' profiles, the KPIs and the files). */
/* The side thread takes its tasks in this order: the clustering's fit
 * (the longest, ~1 CPU s on 1.8M customers) first, so the run's thread, which
 * runs RFM, the fits, the predictions and the spend model itself when the
 * side thread has not taken them, does not wait for it at the end. */
/* The spend model next (issue 18): its patterns and fit (~60 MB at their
 * peak on tx1800k) beside the run's thread's RFM and fits, not beside the
 * predictions (~120 MB), as when it came after the second fit. */
enum { T_CLUSTER, T_GG, T_RFM, T_PREP, T_FIT0, T_FIT1, T_KPI, T_COUNT };

typedef struct plan plan;

typedef struct fit_job {
  plan *p;
  int c;              /* candidate: 0 (the model given, or auto's pnbd), 1 (auto's mbgnbd) */
  tsr_btyd_model m;
  tsr_status st;      /* the fit's */
  tsr_error ferr;
  int ok;             /* auto: fitted (and scored) */
  double score;       /* auto: holdout MAE, or -loglik */
  char why[TSR_ERROR_MSG_MAX];
  tsr_status hst;     /* auto: TSR_ENOMEM when the holdout scoring could not allocate */
  evq q;
} fit_job;

struct plan {
  actx *x;
  int side;           /* a side thread was asked for */
  tsr__lane lane;
  /* RFM */
  tsr_status rfm_st;
  tsr_error rfm_err;
  double rfm_ms;
  /* the purchase model: preparation (T_PREP) */
  int models;         /* the model is not none */
  tsr_status prep_st;
  tsr_error prep_err;
  int is_auto;
  tsr_btyd_kind kind;
  double *ho;         /* holdout: each row's duration and the model's prediction */
  tsr__btyd_pat pat;
  tsr_btyd_fit_opts fo;
  fit_job fit[2];
  /* the spend model (T_GG) */
  size_t gg_nr;
  int gg_oom;         /* no room for its data */
  tsr_status gg_st;
  tsr_error gg_ferr;
  tsr_btyd_model gg;
  double gg_corr, gg_ms;
  /* the clustering's fit (T_CLUSTER, side thread only) */
  tsr_cluster_result *cl;
  tsr_status cl_st;
  double cl_ms;
  /* the KPIs' revenue share of the top 20 % (T_KPI, side thread only) */
  int top_ok;
  double top_sum;
};

static double *alloc_nan(size_t n) {
  double *p = tsr__malloc((n ? n : 1) * sizeof *p);
  if (p)
    for (size_t i = 0; i < n; i++) p[i] = NAN;
  return p;
}

/* ------------------------------------------------------------ RFM */

static tsr_status rfm_compute(actx *x, tsr_error *err) {
  tsr_analyze_result *res = x->res;
  size_t n = res->summary->n;
  const char *sch = x->o->scheme ? x->o->scheme : "rf10";
  tsr_status st;
  if (!strcmp(sch, "rf10") || !strcmp(sch, "rfm11"))
    st = tsr_rfm_scheme_builtin(sch, &res->scheme, err);
  else
    st = tsr_rfm_scheme_read(sch, &res->scheme, err);
  if (st != TSR_OK) return st;
  /* one column at a time in one buffer (the values of tsr_rfm_score, which
   * scores the three columns one after the other): 43 MB less on tx1800k
   * beside the fits (issue 18) */
  /* on 2 MiB pages (tsr__malloc_big): 36 MB of fresh 4 KiB pages were 10 %
   * of analyze's page faults on tx1800k */
  double *col = tsr__malloc_big((n ? n : 1) * sizeof *col);
  const tsr__arows *rows = res->arows;
  res->r = tsr__malloc_big(n * sizeof *res->r);
  res->f = tsr__malloc_big(n * sizeof *res->f);
  res->m = tsr__malloc_big(n * sizeof *res->m);
  res->segment = tsr__malloc_big(n * sizeof *res->segment);
  res->n_segments = tsr_rfm_scheme_nsegments(res->scheme);
  res->segments = tsr__calloc(res->n_segments, sizeof *res->segments);
  if (!col || !res->r || !res->f || !res->m || !res->segment || !res->segments) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < n; i++) col[i] = tsr__ar(rows, TSR__AR_T, i) - tsr__ar(rows, TSR__AR_R, i);
  if ((st = tsr_rfm_quintiles(col, n, 1, res->r, err)) != TSR_OK) {
    if (err) snprintf(err->field, sizeof err->field, "recency_gap");
    goto out;
  }
  for (size_t i = 0; i < n; i++) col[i] = tsr__ar(rows, TSR__AR_F, i);
  if ((st = tsr_rfm_quintiles(col, n, 0, res->f, err)) != TSR_OK) {
    if (err) snprintf(err->field, sizeof err->field, "frequency");
    goto out;
  }
  /* with a holdout, segments are those at the calibration end: M is
   * scored on calibration spend only (no holdout leak); the segments'
   * revenue column stays the revenue of the whole window, as the report's
   * segment table shows it */
  for (size_t i = 0; i < n; i++)
    col[i] = tsr__ar(rows, res->has_holdout ? TSR__AR_REVCAL : TSR__AR_REV, i);
  if ((st = tsr_rfm_quintiles(col, n, 0, res->m, err)) != TSR_OK) {
    if (err) snprintf(err->field, sizeof err->field, "monetary");
    goto out;
  }
  for (size_t i = 0; i < n; i++)
    res->segment[i] = tsr_rfm_segment(res->scheme, res->r[i], res->f[i], res->m[i]);
  for (size_t i = 0; i < n; i++) col[i] = tsr__ar(rows, TSR__AR_REV, i);
  st = tsr_rfm_segment_summary(res->scheme, res->r, res->f, res->m, col, n, res->segments, err);
out:
  tsr__free(col);
  return st;
}

static void rfm_task(void *arg) {
  plan *p = arg;
  double t = now_s();
  tsr_error_clear(&p->rfm_err);
  p->rfm_st = rfm_compute(p->x, &p->rfm_err);
  p->rfm_ms = (now_s() - t) * 1000.0;
}

/* The RFM step where the sequential order has it. */
static tsr_status step_rfm(plan *p, tsr_error *err) {
  actx *x = p->x;
  tsr__lane_run(&p->lane, T_RFM);
  if (p->rfm_st != TSR_OK) {
    if (err) *err = p->rfm_err;
    return p->rfm_st;
  }
  double ms = p->side ? p->rfm_ms : step_done(x, "rfm");
  if (p->side) step_put(x, "rfm", ms);
  size_t n = x->res->summary->n;
  event(x, 0, "rfm", (int64_t)n, (int64_t)n, ms, "RFM scores and %zu segments (scheme %s)",
        x->res->n_segments, tsr_rfm_scheme_name(x->res->scheme));
  return TSR_OK;
}

/* ------------------------------------------------------------ models */

/* Penalizer of the fallback fit (lifetimes' usual small value). */
#define FALLBACK_PENALIZER 0.001

/* Fits kind; when the unpenalized fit does not converge (too little data
 * for the model), fits again with the documented fallback penalizer and
 * says so in a warning event (into q). The error of the last attempt in
 * *ferr. */
static tsr_status fit_with_fallback(actx *x, evq *q, tsr_btyd_kind kind, const tsr_btyd_data *d,
                                    const tsr_btyd_fit_opts *fo, tsr_btyd_model *m,
                                    tsr_error *ferr) {
  tsr_error_clear(ferr);
  tsr_status st = tsr_btyd_fit(kind, d, fo, m, ferr);
  if (st != TSR_ECONVERGE || fo->penalizer >= FALLBACK_PENALIZER) return st;
  char first[TSR_ERROR_MSG_MAX];
  snprintf(first, sizeof first, "%s", ferr->msg);
  tsr_btyd_fit_opts o2 = *fo;
  o2.penalizer = FALLBACK_PENALIZER;
  tsr_error_clear(ferr);
  st = tsr_btyd_fit(kind, d, &o2, m, ferr);
  if (st == TSR_OK)
    qevent(x, q, 1, "model", (int64_t)d->n, (int64_t)d->n, -1,
           "%s: the unpenalized fit did not converge (%s); fitted with penalizer %g instead",
           tsr_btyd_kind_name(kind), first, FALLBACK_PENALIZER);
  return st;
}

/* Column c of the rows as the doubles a strided reader takes (the rows'
 * stride; c one of the row's own columns, never a shared 0). */
static const double *ar_dbl(const tsr__arows *a, int c) {
  return (const double *)(const void *)a->cb[c];
}

/* Each customer's holdout duration, with room for as many predictions
 * (NULL: out of memory). */
static double *holdout_durations(const tsr__arows *sm) {
  double *t = tsr__malloc(2 * (sm->n ? sm->n : 1) * sizeof *t);
  for (size_t i = 0; t && i < sm->n; i++) t[i] = tsr__ar(sm, TSR__AR_DH, i);
  return t;
}

/* T_PREP: the prediction columns (NaN), the model's name, the customers'
 * patterns. */
static void prep_task(void *arg) {
  plan *p = arg;
  actx *x = p->x;
  tsr_analyze_result *res = x->res;
  tsr_error *err = &p->prep_err;
  size_t n = res->summary->n;
  tsr_error_clear(err);
  p->prep_st = TSR_OK;
  res->gg_correlation = NAN;
  /* the prediction columns come with the predictions (pred_columns), the
   * CLV columns with the CLV (clv_columns): 101 MB less on tx1800k while
   * the fits and the clustering's fit run (issue 18) */
  if (!p->models) return;
  const char *mname = x->o->model ? x->o->model : "auto";
  p->is_auto = !strcmp(mname, "auto");
  p->kind = TSR_BTYD_PNBD;
  if (!p->is_auto) {
    if ((p->prep_st = tsr_btyd_kind_parse(mname, &p->kind, err)) != TSR_OK) return;
    if (tsr_btyd_kind_role(p->kind) != TSR_MODEL_PURCHASE) {
      p->prep_st = tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "model",
                                 "expected auto, %s or none, got '%s'",
                                 tsr_btyd_role_names(TSR_MODEL_PURCHASE), mname);
      return;
    }
  }
  if (res->has_holdout && !(p->ho = holdout_durations(res->arows))) {
    p->prep_st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    return;
  }
  /* the customers' patterns (x, t_x, T) with their counts, once: the fits,
   * the predictions and the churn read them (each compressed the 1.8M
   * rows again); pat.map takes the predictions back to the customers. Read
   * in place from the summary's rows (issue 18: 41 MB of columns less
   * beside the clustering's fit on tx1800k); T = 0 (a first purchase on
   * the last day) is valid for the models. The patterns are copies (no
   * weights: never borrowed); the CLV reads x and m_x from the rows. */
  const tsr__arows *rw = res->arows;
  tsr_btyd_data dn = {
      n, ar_dbl(rw, TSR__AR_F), ar_dbl(rw, TSR__AR_R), ar_dbl(rw, TSR__AR_T), NULL, NULL};
  p->prep_st = tsr__btyd_compress_rows(&dn, rw->stride, 1, &p->pat, err);
}

/* The prediction columns (NaN) unless made already: TSR_OK or TSR_ENOMEM. */
static tsr_status pred_columns(tsr_analyze_result *res, tsr_error *err) {
  if (res->expected) return TSR_OK;
  size_t n = res->summary->n;
  res->expected = alloc_nan(n);
  res->expected_lo = alloc_nan(n);
  res->expected_hi = alloc_nan(n);
  res->p_alive = alloc_nan(n);
  if (!res->expected || !res->expected_lo || !res->expected_hi || !res->p_alive)
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  return TSR_OK;
}


/* The CLV columns (NaN) unless made already: TSR_OK or TSR_ENOMEM. */
static tsr_status clv_columns(tsr_analyze_result *res, tsr_error *err) {
  if (res->clv) return TSR_OK;
  size_t n = res->summary->n;
  res->clv = alloc_nan(n);
  res->clv_lo = alloc_nan(n);
  res->clv_hi = alloc_nan(n);
  if (!res->clv || !res->clv_lo || !res->clv_hi)
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  return TSR_OK;
}

/* A column of the customers from its patterns' values (dst[i] =
 * src[map[i]]), in blocks of the threads: each value copied, so the
 * threads change no bit. */
typedef struct gather_job {
  const double *src;
  const size_t *map;
  double *dst;
} gather_job;

static void gather_block(void *v, size_t b, size_t lo, size_t hi) {
  const gather_job *g = v;
  (void)b;
  for (size_t i = lo; i < hi; i++) g->dst[i] = g->src[g->map[i]];
}

/* Customers per block of the gathers. */
#define GATHER_CHUNK 65536

/* T_FIT0, T_FIT1: one candidate's fit (auto: and its score). */
static void fit_task(void *arg) {
  fit_job *j = arg;
  plan *p = j->p;
  actx *x = p->x;
  tsr_analyze_result *res = x->res;
  static const tsr_btyd_kind cand[2] = {TSR_BTYD_PNBD, TSR_BTYD_MBGNBD};
  j->ok = 0;
  j->score = INFINITY;
  j->why[0] = '\0';
  j->hst = TSR_OK;
  j->q.n = 0;
  if (p->prep_st != TSR_OK) return;
  const tsr_btyd_data *pd = &p->pat.d;
  if (!p->is_auto) {
    j->st = fit_with_fallback(x, &j->q, p->kind, pd, &p->fo, &j->m, &j->ferr);
    return;
  }
  size_t n = res->summary->n;
  if ((j->st = fit_with_fallback(x, &j->q, cand[j->c], pd, &p->fo, &j->m, &j->ferr)) != TSR_OK) {
    snprintf(j->why, sizeof j->why, "%s", j->ferr.msg);
    qevent(x, &j->q, 1, "model", (int64_t)n, 0, -1, "auto: %s skipped: %s",
           tsr_btyd_kind_name(cand[j->c]), j->ferr.msg);
    return;
  }
  j->ok = 1;
  if (!res->has_holdout) {
    j->score = -j->m.loglik;
    return;
  }
  /* the predictions once per pattern (tsr_btyd_conditional's values), in
   * a buffer of this candidate's (the holdout check's is p->ho + n) */
  double *pred = tsr__malloc((n ? n : 1) * sizeof *pred);
  if (!pred) {
    j->hst = TSR_ENOMEM;
    return;
  }
  double mae = 0;
  tsr_error herr;
  if (tsr__btyd_conditional_rows(&j->m, &p->pat, NULL, n, p->ho, 2, pred, &herr) != TSR_OK)
    j->ok = 0;
  for (size_t i = 0; i < n && j->ok; i++) mae += fabs(pred[i] - tsr__ar(res->arows, TSR__AR_FH, i));
  j->score = mae / (double)n;
  tsr__free(pred);
}

/* T_GG: the Gamma-Gamma spend model on the repeat customers with positive
 * spend (gg_nr < 10: none). */
static void gg_task(void *arg) {
  plan *p = arg;
  const tsr__arows *sm = p->x->res->arows;
  double t = now_s();
  size_t n = sm->n, nr = 0;
  p->gg_st = TSR_OK;
  p->gg_oom = 0;
  /* the repeat customers taken in one pass over the 1.8M rows (the pages
   * of the room for all that stay unused are never touched) */
  double *gx = tsr__malloc_big((n ? n : 1) * sizeof *gx),
         *gm = tsr__malloc_big((n ? n : 1) * sizeof *gm);
  for (size_t i = 0; i < n; i++) {
    double f = tsr__ar(sm, TSR__AR_F, i), mv = tsr__ar(sm, TSR__AR_MV, i);
    if (f > 0 && mv > 0) {
      if (gx && gm) gx[nr] = f, gm[nr] = mv;
      nr++;
    }
  }
  p->gg_nr = nr;
  if (nr < 10 || !gx || !gm) {
    tsr__free(gx);
    tsr__free(gm);
    p->gg_oom = nr >= 10;
    return;
  }
  tsr_btyd_data gd = {nr, gx, NULL, NULL, gm, NULL};
  tsr_gg_correlation(&gd, &p->gg_corr, NULL);
  tsr_error_clear(&p->gg_ferr);
  /* the customers' (x, m_x) patterns made here and the customers' columns
   * freed before the fit, which takes the patterns as they are (the fit of
   * the same patterns: issue 18, 24 MB less beside the predictions on
   * tx1800k); the fit's own data check first, as tsr_btyd_fit has it */
  tsr__btyd_pat gp;
  memset(&gp, 0, sizeof gp);
  p->gg_st = tsr_btyd_check_data(TSR_BTYD_GG, &gd, &p->gg_ferr);
  if (p->gg_st == TSR_OK) p->gg_st = tsr__btyd_compress(&gd, 0, &gp, &p->gg_ferr);
  tsr__free(gx);
  tsr__free(gm);
  if (p->gg_st == TSR_OK) p->gg_st = tsr_btyd_fit(TSR_BTYD_GG, &gp.d, &p->fo, &p->gg, &p->gg_ferr);
  tsr__btyd_pat_release(&gp);
  p->gg_ms = (now_s() - t) * 1000.0;
}

/* The purchase model's columns of the plan, freed once the CLV is done. */
static void models_release(plan *p) {
  tsr__btyd_pat_release(&p->pat);
  tsr__free(p->ho);
  p->ho = NULL;
}

/* The model, predict, spend and CLV steps where the sequential order has
 * them. */
static tsr_status step_models(plan *p, tsr_error *err) {
  actx *x = p->x;
  tsr_analyze_result *res = x->res;
  size_t n = res->summary->n;
  tsr__lane_run(&p->lane, T_PREP);
  if (p->prep_st != TSR_OK) {
    if (err) *err = p->prep_err;
    return p->prep_st;
  }
  if (!p->models) return pred_columns(res, err);
  tsr_btyd_kind kind = p->kind;
  const char *mname = x->o->model ? x->o->model : "auto";
  tsr_status st = TSR_OK;
  tsr__btyd_pa pas = {0, 0, NULL}; /* P(alive) of the patterns for the CLV */
  tsr__clv_dm dm;                  /* the CLV's part of the patterns */
  tsr__btyd_xt xt;                 /* its part per (x, T), shared with the predictions */
  int dm_made = 0;
  memset(&dm, 0, sizeof dm);
  memset(&xt, 0, sizeof xt);
  tsr_clv_opts co;
  double *pv[4] = {NULL, NULL, NULL, NULL}; /* the predictions of the patterns */
  double *pe = NULL;                         /* their P(alive) (pv[3]) */
  double *ho = p->ho;
  tsr__btyd_pat *pat = &p->pat;
  const tsr_btyd_data *pd = &pat->d;
  progress(x, "model", 0.6);
  tsr_error ferr;
  double ms;
  if (!p->is_auto) {
    fit_job *j = &p->fit[0];
    tsr__lane_run(&p->lane, T_FIT0);
    evq_flush(x, &j->q);
    ms = step_done(x, "model");
    if (j->st != TSR_OK) {
      /* the run promised predictions: it fails, saying what to try */
      event(x, 2, "model", (int64_t)n, 0, ms, "%s fit failed: %s", mname, j->ferr.msg);
      st = tsr_error_set(err, j->st == TSR_ECONVERGE ? TSR_ECONVERGE : j->st, NULL, 0, 0, "model",
                         "%s fit failed: %s; or choose another model (auto, pnbd, "
                         "mbgnbd, bgnbd) or none for no predictions",
                         mname, j->ferr.msg);
      goto out;
    }
    res->model = j->m;
  } else {
    /* auto: the models in which one-time buyers can churn (Pareto/NBD,
     * MBG/NBD); the better on the holdout (mean absolute error of the
     * holdout purchases per customer) when there is one, else the larger
     * log-likelihood (both have 4 parameters). A model that fails is
     * skipped with a warning; the run fails only when both do. */
    static const tsr_btyd_kind cand[2] = {TSR_BTYD_PNBD, TSR_BTYD_MBGNBD};
    for (int c = 0; c < 2; c++) {
      tsr__lane_run(&p->lane, c ? T_FIT1 : T_FIT0);
      evq_flush(x, &p->fit[c].q);
      if (p->fit[c].hst != TSR_OK) {
        st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
        goto out;
      }
    }
    const fit_job *f = p->fit;
    ms = step_done(x, "model");
    if (!f[0].ok && !f[1].ok) {
      event(x, 2, "model", (int64_t)n, 0, ms, "auto: no model could be fitted");
      st = tsr_error_set(err, TSR_ECONVERGE, NULL, 0, 0, "model",
                         "no model could be fitted; the data may have too few repeat "
                         "purchases: choose the model none for segments without "
                         "predictions (pnbd: %s; mbgnbd: %s)",
                         f[0].why, f[1].why);
      goto out;
    }
    int c = !f[0].ok ? 1 : !f[1].ok ? 0 : (f[1].score < f[0].score ? 1 : 0);
    kind = cand[c];
    res->model = f[c].m;
    mname = tsr_btyd_kind_name(kind);
    if (f[0].ok && f[1].ok)
      event(x, 0, "model", (int64_t)n, (int64_t)n, -1,
            "auto: %s chosen (%s: pnbd %.6g, mbgnbd %.6g)", mname,
            res->has_holdout ? "holdout MAE per customer" : "negative log-likelihood",
            f[0].score, f[1].score);
    else
      event(x, 1, "model", (int64_t)n, (int64_t)n, -1, "auto: %s chosen (the other failed)",
            mname);
  }
  res->has_model = 1;
  {
    tsr__tb ps = {0};
    for (size_t j = 0; j < res->model.np; j++)
      tsr__tb_printf(&ps, "%s%s=%.4g", j ? ", " : "", tsr_btyd_param_name(kind, j),
                     res->model.params[j]);
    char *pstr = tsr__tb_take(&ps);
    event(x, 0, "model", (int64_t)n, (int64_t)n, ms, "%s fitted: %s; log-likelihood %.2f, %d iterations",
          mname, pstr ? pstr : "", res->model.loglik, res->model.iterations);
    tsr__free(pstr);
  }
  res->horizon_periods = x->o->horizon * tsr_unit_days(x->o->unit, res->period_days) / res->period_days;
  /* the spend model done before the predictions (here when the side
   * thread has not taken it): its patterns and fit (~60 MB on tx1800k) are
   * not beside the predictions' columns and P(alive) sets (issue 18); its
   * events and timing stay where the sequential order has them */
  if (p->side && x->o->spend) tsr__lane_run(&p->lane, T_GG);
  {
    size_t u = pd->n;
    for (int c = 0; c < 4; c++)
      if (!(pv[c] = tsr__malloc_big((u ? u : 1) * sizeof *pv[c]))) {
        st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
        goto out;
      }
    /* on the patterns in 2 threads, the P(alive) of the intervals' parameter
     * sets kept for the churn, the holdout and the CLV (the values of
     * tsr_btyd_predict, tsr_btyd_churn, tsr_btyd_conditional) */
    tsr_btyd_data pdn = *pd;
    pdn.weights = NULL;
    if ((st = tsr_btyd_check_data(res->model.kind, &pdn, err)) != TSR_OK) goto out;
    co.horizon = res->horizon_periods;
    co.step = 30.4375 / res->period_days;
    co.discount = x->o->discount;
    co.level = x->o->level;
    /* the CLV's part per (x, T) first: its last step is the predictions'
     * horizon, whose expectation the predictions take from it (issue 18;
     * not made: each computes its own, the same values) */
    if (x->o->spend)
      tsr__btyd_xt_make(&res->model, pd, &co, res->horizon_periods, 1, 2, &xt);
    st = tsr__btyd_predict_pat(&res->model, pd, res->horizon_periods, x->o->level, 2, pv[0],
                               pv[1], pv[2], pv[3], &pas, &xt, err);
    if (st != TSR_OK) goto out;
    /* the CLV's part of the patterns now, from the P(alive) sets, which go
     * (and the patterns' columns after the holdout check): issue 18, 65 MB
     * less at the CLV and 36 MB at the columns' gathering on tx1800k; its
     * error, if any, where the CLV has it */
    if (x->o->spend && (dm_made = tsr__clv_dm_make(&res->model, pat, &co, &pas, &xt, 1, 2, &dm)))
      tsr__btyd_pa_release(&pas);
    tsr__btyd_xt_release(&xt);
    /* each customer's column from its patterns' values, which go as it is
     * made (issue 18: 23 MB less at this step's peak on tx1800k); the
     * patterns' P(alive) stays for the churn and the holdout check */
    double **col[4] = {&res->expected, &res->expected_lo, &res->expected_hi, &res->p_alive};
    for (int c = 0; c < 4; c++) {
      double *v = tsr__malloc_big((n ? n : 1) * sizeof *v);
      if (!v) {
        st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
        goto out;
      }
      /* in 2 threads: the random reads of the patterns' values and the
       * fresh pages of the column shared (issue 18) */
      gather_job g = {pv[c], pat->map, v};
      tsr__parallel_chunks(2, n, GATHER_CHUNK, gather_block, &g);
      *col[c] = v;
      if (c < 3) {
        tsr__free(pv[c]);
        pv[c] = NULL;
      }
    }
    pe = pv[3];
  }
  if ((st = tsr_btyd_check_data(res->model.kind, pd, err)) != TSR_OK) goto out;
  st = tsr__btyd_churn_pat(&res->model, pd, pe, x->o->churn_threshold,
                           &res->kpis.churn_rate, &res->kpis.expected_alive,
                           &res->kpis.expected_dropouts, err);
  if (st != TSR_OK) goto out;
  /* holdout check */
  if (res->has_holdout) {
    memset(res->holdout, 0, sizeof res->holdout);
    st = tsr__btyd_conditional_rows(&res->model, pat, pe, n, ho, 2, ho + n, err);
    if (st != TSR_OK) goto out;
    double mae = 0, at = 0, pt = 0;
    for (size_t i = 0; i < n; i++) {
      double f = tsr__ar(res->arows, TSR__AR_F, i), fh = tsr__ar(res->arows, TSR__AR_FH, i);
      double pred = ho[n + i];
      int b = f >= TSR_HOLDOUT_BUCKETS - 1 ? TSR_HOLDOUT_BUCKETS - 1 : (int)f;
      res->holdout[b].customers++;
      res->holdout[b].actual += fh;
      res->holdout[b].predicted += pred;
      mae += fabs(pred - fh);
      at += fh;
      pt += pred;
    }
    for (int b = 0; b < TSR_HOLDOUT_BUCKETS; b++) {
      res->holdout[b].frequency = b;
      if (res->holdout[b].customers) {
        res->holdout[b].actual /= (double)res->holdout[b].customers;
        res->holdout[b].predicted /= (double)res->holdout[b].customers;
      }
    }
    res->holdout_mae = mae / (double)n;
    res->holdout_actual_total = at;
    res->holdout_predicted_total = pt;
    event(x, 0, "holdout", (int64_t)n, (int64_t)n, -1,
          "holdout purchases: actual %.0f, predicted %.1f; MAE per customer %.4f", at, pt,
          res->holdout_mae);
  }
  for (int c = 0; c < 4; c++) {
    tsr__free(pv[c]);
    pv[c] = NULL;
  }
  pe = NULL;
  if (dm_made && pat->buf) { /* the CLV reads the map only */
    tsr__free(pat->buf);
    pat->buf = NULL;
    pat->d = (tsr_btyd_data){pat->d.n, NULL, NULL, NULL, NULL, NULL};
  }
  step_done(x, "predict");
  if (x->o->spend) {
    progress(x, "spend", 0.7);
    tsr__lane_run(&p->lane, T_GG);
    size_t nr = p->gg_nr;
    if (nr < 10) {
      event(x, 2, "spend", (int64_t)n, 0, -1,
            "only %zu repeat customers with positive spend: no Gamma-Gamma model, no CLV", nr);
      st = tsr_error_set(err, TSR_ECONVERGE, NULL, 0, 0, "spend",
                         "only %zu repeat customers with positive spend: the spend model "
                         "(CLV) needs at least 10; run without the spend model", nr);
      goto out;
    }
    if (p->gg_oom) {
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      goto out;
    }
    res->gg_correlation = p->gg_corr;
    res->spend = p->gg;
    st = p->gg_st;
    ferr = p->gg_ferr;
    ms = p->side ? p->gg_ms : step_done(x, "spend");
    if (p->side) step_put(x, "spend", ms);
    if (st != TSR_OK || !(res->spend.params[1] > 1)) {
      const char *why = st != TSR_OK ? ferr.msg : "q <= 1 (mean spend undefined)";
      event(x, 2, "spend", (int64_t)nr, 0, ms, "Gamma-Gamma fit failed: %s (no CLV)", why);
      st = tsr_error_set(err, TSR_ECONVERGE, NULL, 0, 0, "spend",
                         "the Gamma-Gamma spend model (CLV) failed: %s; run without the "
                         "spend model", why);
      goto out;
    }
    res->has_spend = 1;
    event(x, 0, "spend", (int64_t)nr, (int64_t)nr, ms,
          "Gamma-Gamma fitted on %zu repeat customers: p=%.4g, q=%.4g, gamma=%.4g; "
          "corr(frequency, spend) = %.3f%s",
          nr, res->spend.params[0], res->spend.params[1], res->spend.params[2],
          res->gg_correlation,
          fabs(res->gg_correlation) > 0.3 ? " (the model assumes independence: check)" : "");
    /* the CLV writes every row of its columns: no NaN first (one pass
     * over 43 MB less on tx1800k, the fresh pages taken by the CLV's
     * threads); NaN where it fails, as clv_columns makes them */
    if (!res->clv) {
      res->clv = tsr__malloc_big((n ? n : 1) * sizeof *res->clv);
      res->clv_lo = tsr__malloc_big((n ? n : 1) * sizeof *res->clv_lo);
      res->clv_hi = tsr__malloc_big((n ? n : 1) * sizeof *res->clv_hi);
      if (!res->clv || !res->clv_lo || !res->clv_hi) {
        tsr__free(res->clv), tsr__free(res->clv_lo), tsr__free(res->clv_hi);
        res->clv = res->clv_lo = res->clv_hi = NULL;
        st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
        goto out;
      }
    }
    /* x and m_x read in place from the summary's rows (issue 18: 29 MB
     * less at the CLV on tx1800k) */
    const tsr__arows *rw = res->arows;
    const double *fx = ar_dbl(rw, TSR__AR_F), *mx = ar_dbl(rw, TSR__AR_MV);
    st = dm_made ? tsr__clv_compute_dm(&res->model, &res->spend, pat, n, fx, mx, rw->stride, &co,
                                       &dm, 2, res->clv, res->clv_lo, res->clv_hi, err)
                 : tsr__clv_compute_pat(&res->model, &res->spend, pat, n, fx, mx, rw->stride, &co,
                                        &pas, 2, res->clv, res->clv_lo, res->clv_hi, err);
    if (st != TSR_OK) {
      for (size_t i = 0; i < n; i++) res->clv[i] = res->clv_lo[i] = res->clv_hi[i] = NAN;
      goto out;
    }
    step_done(x, "clv");
  }
out:
  for (int c = 0; c < 4; c++) tsr__free(pv[c]); /* pe is pv[3] */
  tsr__btyd_pa_release(&pas);
  tsr__btyd_xt_release(&xt);
  tsr__clv_dm_release(&dm);
  models_release(p);
  return st;
}

/* Warns about segments whose churn contradicts their recency: a segment
 * of customers who last bought long ago (mean R score <= 2 of 5) with a
 * churn rate below the base's, or of recent customers (mean R >= 4) with a
 * churn rate above it. Usually the model cannot let one-time buyers churn
 * (BG/NBD) or fits the data badly. */
static void churn_recency_check(actx *x) {
  tsr_analyze_result *res = x->res;
  size_t n = res->summary->n;
  double thr = x->o->churn_threshold, all = 0;
  if (!res->has_model || n == 0) return;
  for (size_t i = 0; i < n; i++) all += res->p_alive[i] < thr;
  all /= (double)n;
  /* the churned customers of each segment in one pass: a customer's
   * segment is one of a few names (the scheme's), matched once each */
  size_t ns = res->n_segments, *cnt = ns <= 64 ? tsr__calloc(ns ? ns : 1, sizeof *cnt) : NULL;
  const char *seen[64];
  uint64_t match[64];
  size_t nseen = 0, last = 0;
  int one_pass = cnt != NULL;
  for (size_t i = 0; i < n && one_pass; i++) {
    if (!(res->p_alive[i] < thr)) continue;
    const char *sg = res->segment[i];
    size_t q = last;
    if (q >= nseen || seen[q] != sg) {
      for (q = 0; q < nseen && seen[q] != sg; q++) {}
      if (q == nseen) {
        if (nseen == 64) {
          one_pass = 0; /* more names than a scheme has: as before */
          break;
        }
        uint64_t m = 0;
        for (size_t j = 0; j < ns; j++)
          if (sg == res->segments[j].segment || (sg && !strcmp(sg, res->segments[j].segment)))
            m |= 1ULL << j;
        seen[nseen] = sg;
        match[nseen++] = m;
      }
      last = q;
    }
    for (uint64_t m = match[q]; m; m &= m - 1) cnt[__builtin_ctzll(m)]++;
  }
  for (size_t j = 0; j < ns; j++) {
    const tsr_rfm_segment_stats *g = &res->segments[j];
    if (g->customers < 10) continue;
    double ch = 0;
    if (one_pass)
      ch = (double)cnt[j];
    else
      for (size_t i = 0; i < n; i++)
        if (res->segment[i] == g->segment || (res->segment[i] && !strcmp(res->segment[i], g->segment)))
          ch += res->p_alive[i] < thr;
    ch /= (double)g->customers;
    if (g->mean_r <= 2 && ch < all)
      event(x, 1, "churn", (int64_t)g->customers, (int64_t)g->customers, -1,
            "segment %s: customers who last bought long ago (mean R score %.1f of 5) but a churn "
            "rate of %.1f %%, below the base's %.1f %%: the %s model may not fit these customers",
            g->segment, g->mean_r, 100 * ch, 100 * all, tsr_btyd_kind_name(res->model.kind));
    else if (g->mean_r >= 4 && ch > all)
      event(x, 1, "churn", (int64_t)g->customers, (int64_t)g->customers, -1,
            "segment %s: recent customers (mean R score %.1f of 5) but a churn rate of %.1f %%, "
            "above the base's %.1f %%: the %s model may not fit these customers",
            g->segment, g->mean_r, 100 * ch, 100 * all, tsr_btyd_kind_name(res->model.kind));
  }
  tsr__free(cnt);
}

/* ------------------------------------------------------------ clusters */

static void cluster_progress(void *ud, const char *stage, double frac) {
  actx *x = ud;
  (void)stage;
  progress(x, "cluster", 0.75 + 0.15 * frac);
}

/* The summary's columns the clustering reads, in this order; the CLV and
 * P(alive) follow them when the run has them. */
static const char *const cluster_names[5] = {"frequency", "recency", "monetary_value", "T",
                                             "revenue"};

/* The clustering reads the summary's columns in place from its rows, no
 * copies (issue 18: 72 MB less on tx1800k beside the fits, as much again
 * at the profiles). */
static void cluster_cols(const tsr__arows *sm, tsr__col cols[5]) {
  static const int col[5] = {TSR__AR_F, TSR__AR_R, TSR__AR_MV, TSR__AR_T, TSR__AR_REV};
  for (size_t c = 0; c < 5; c++) cols[c] = tsr__ar_col(sm, col[c]);
}

/* The clustering's options of the run: TSR_OK, or its error. */
static tsr_status cluster_opts_of(actx *x, tsr_cluster_opts *co, tsr_error *err) {
  const char *meth = x->o->cluster ? x->o->cluster : "kmeans";
  *co = x->o->cluster_opts;
  co->seed = x->o->seed;
  co->progress = NULL;
  co->progress_ud = NULL;
  return tsr_cluster_method_parse(meth, &co->method, err);
}

/* The clustering can be fitted before the models: on, enough customers,
 * only the summary's columns as features. */
static int cluster_early(actx *x) {
  const char *meth = x->o->cluster ? x->o->cluster : "kmeans";
  const tsr_cluster_opts *co = &x->o->cluster_opts;
  size_t n = x->res->summary->n;
  if (!strcmp(meth, "none") || (co->k == 0 && n < 2 * co->k_max + 2)) return 0;
  for (size_t j = 0; co->features && j < co->nfeatures; j++) {
    size_t c = 0;
    while (c < 5 && (!co->features[j] || strcmp(co->features[j], cluster_names[c]))) c++;
    if (c == 5) return 0;
  }
  return 1;
}

/* T_CLUSTER (side thread): the clustering of the summary's columns; its
 * profiles are made again with the models' columns and the segments
 * (step_cluster). Any failure: the step runs whole in its place. */
static void cluster_task(void *arg) {
  plan *p = arg;
  actx *x = p->x;
  const tsr_summary *sm = x->res->summary;
  size_t n = sm->n;
  double t = now_s();
  tsr_cluster_opts co;
  p->cl_st = cluster_opts_of(x, &co, NULL);
  if (p->cl_st != TSR_OK) return;
  /* one thread: the run's thread fits the purchase models on two beside
   * it, and the k table's many short restarts (a barrier each iteration)
   * slowed down three-fold on an oversubscribed machine; the results do not
   * depend on the thread count (docs/cli/cluster.md) */
  co.n_threads = 1;
  tsr__col cols[5];
  cluster_cols(x->res->arows, cols);
  /* no profiles: step_cluster makes them with the models' columns */
  p->cl_st = tsr__cluster_fit_cols(&co, cols, cluster_names, n, 5, &p->cl, NULL);
  p->cl_ms = (now_s() - t) * 1000.0;
}

/* The profiles of r made again from the run's columns and segments (as
 * tsr_cluster_run makes them). */
static tsr_status cluster_reprofile(tsr_cluster_result *r, const tsr__col *cols,
                                    const char *const *names, size_t nc,
                                    const char *const *segments, tsr_error *err) {
  if (r->profiles)
    for (size_t c = 0; c < r->k; c++) {
      tsr_cluster_profile *q = &r->profiles[c];
      tsr__free(q->centroid);
      for (size_t s = 0; s < q->n_segments; s++) tsr__free(q->segments[s]);
      tsr__free(q->label);
    }
  tsr__free(r->profiles);
  r->profiles = NULL;
  tsr__col fcols[64];
  for (size_t j = 0; j < r->nfeatures && j < 64; j++) {
    size_t c = 0;
    while (c < nc && strcmp(names[c], r->features[j])) c++;
    if (c == nc) /* not one of the summary's: never (cluster_early) */
      return tsr_error_set(err, TSR_ENOTFOUND, NULL, 0, 0, r->features[j], "no column named '%s'",
                           r->features[j]);
    fcols[j] = cols[c];
  }
  return tsr__cluster_profiles(r, fcols, cols, names, nc, segments, err);
}

static tsr_status step_cluster(plan *p, tsr_error *err) {
  actx *x = p->x;
  tsr_analyze_result *res = x->res;
  const char *meth = x->o->cluster ? x->o->cluster : "kmeans";
  if (!strcmp(meth, "none")) return TSR_OK;
  size_t n = res->summary->n;
  tsr_cluster_opts co = x->o->cluster_opts;
  tsr_status st = tsr_cluster_method_parse(meth, &co.method, err);
  if (st != TSR_OK) return st;
  if (co.k == 0 && n < 2 * co.k_max + 2) {
    event(x, 1, "cluster", (int64_t)n, 0, -1, "too few customers (%zu) for clustering", n);
    return TSR_OK;
  }
  co.seed = x->o->seed;
  co.progress = cluster_progress;
  co.progress_ud = x;
  double t = now_s();
  tsr__lane_run(&p->lane, T_CLUSTER);
  int early = p->cl && p->cl_st == TSR_OK;
  tsr__col cols[7];
  const char *names[7] = {"frequency", "recency", "monetary_value", "T", "revenue", "clv", "p_alive"};
  size_t nc = res->has_spend ? 7 : res->has_model ? 5 : 5;
  cluster_cols(res->arows, cols);
  if (res->has_spend) {
    cols[5] = tsr__col_of(res->clv);
    cols[6] = tsr__col_of(res->p_alive);
  } else if (res->has_model) {
    names[5] = "p_alive";
    cols[5] = tsr__col_of(res->p_alive);
    nc = 6;
  }
  if (early) {
    progress(x, "cluster", 0.9);
    st = cluster_reprofile(p->cl, cols, names, nc, res->segment, err);
    if (st != TSR_OK) return st;
    res->clusters = p->cl;
    p->cl = NULL;
  } else {
    st = tsr__cluster_run_cols(&co, cols, names, n, nc, res->segment, &res->clusters, err);
    if (st != TSR_OK) return st;
  }
  double ms = early ? p->cl_ms + (now_s() - t) * 1000.0 : step_done(x, "cluster");
  if (early) step_put(x, "cluster", ms);
  event(x, 0, "cluster", (int64_t)n, (int64_t)n, ms, "%s: %zu clusters%s; silhouette %.3f",
        meth, res->clusters->k, co.k == 0 ? " (chosen automatically)" : "",
        res->clusters->silhouette);
  return TSR_OK;
}

/* ------------------------------------------------------------ KPIs */

/* The revenue of the top 20 % customers (ceil), added from the largest
 * down: *ok 0 when out of memory. The revenues (finite: the summary
 * checks) are ranked by their order-preserving keys: a histogram of the
 * keys' top 16 bits finds the bucket of the top-th largest, and only the
 * keys from that bucket up (about 20 % of them) are radix sorted (issue
 * 18: 26 MB less than sorting them all, on the side thread beside the
 * predictions). The sum is that of any sort in descending order (equal
 * values are the same addend; -0.0 and 0.0 add alike), a qsort's before. */
static uint64_t revenue_key(const tsr__arows *a, size_t i) {
  uint64_t b;
  double v = tsr__ar(a, TSR__AR_REV, i);
  memcpy(&b, &v, sizeof b);
  return b >> 63 ? ~b : b | (1ULL << 63);
}

static double top20_revenue(const tsr__arows *sm, int *ok) {
  size_t n = sm->n, top = (n + 4) / 5;
  *ok = 1;
  if (top == 0) return 0;
  size_t *hist = tsr__calloc((size_t)1 << 16, sizeof *hist);
  if (!hist) {
    *ok = 0;
    return 0;
  }
  for (size_t i = 0; i < n; i++) hist[revenue_key(sm, i) >> 48]++;
  size_t above = 0, cut = ((size_t)1 << 16) - 1; /* keys in buckets above cut */
  while (above + hist[cut] < top) above += hist[cut--]; /* top <= n: ends */
  size_t m = above + hist[cut];
  tsr__free(hist);
  uint64_t *key = tsr__malloc(m * sizeof *key);
  if (!key) {
    *ok = 0;
    return 0;
  }
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t k = revenue_key(sm, i);
    if (k >> 48 >= cut) key[j++] = k;
  }
  double s = 0;
  if (tsr__radix_sort_u64(key, NULL, m) != 0) {
    *ok = 0;
  } else {
    for (size_t i = 0; i < top; i++) {
      uint64_t k = key[m - 1 - i], b = k >> 63 ? k & ~(1ULL << 63) : ~k;
      double v;
      memcpy(&v, &b, sizeof v);
      s += v;
    }
  }
  tsr__free(key);
  return s;
}

/* T_KPI (side thread) */
static void kpi_task(void *arg) {
  plan *p = arg;
  p->top_sum = top20_revenue(p->x->res->arows, &p->top_ok);
}

static tsr_status compute_kpis(plan *p, tsr_error *err) {
  tsr_analyze_result *res = p->x->res;
  tsr_kpis *k = &res->kpis;
  size_t n = res->summary->n;
  double churn = k->churn_rate, alive = k->expected_alive, drop = k->expected_dropouts;
  memset(k, 0, sizeof *k);
  k->customers = n;
  k->churn_rate = res->has_model ? churn : NAN;
  k->expected_alive = res->has_model ? alive : NAN;
  k->expected_dropouts = res->has_model ? drop : NAN;
  k->first_day = INT64_MAX;
  k->last_day = INT64_MIN;
  size_t repeat = 0;
  double pa = 0, clv = 0;
  for (size_t i = 0; i < n; i++) {
    const tsr__arows *a = res->arows;
    k->transactions += tsr__ar_ntx(a, i);
    k->visits += tsr__ar_active(a, i);
    k->revenue += tsr__ar(a, TSR__AR_REV, i);
    repeat += tsr__ar(a, TSR__AR_F, i) > 0;
    int64_t d0 = tsr__ar_first(a, i), d1 = tsr__ar_last(a, i);
    if (d0 < k->first_day) k->first_day = d0;
    if (d1 > k->last_day) k->last_day = d1;
    if (res->has_model) pa += res->p_alive[i];
    if (res->has_spend) clv += res->clv[i];
  }
  k->repeat_share = n ? (double)repeat / (double)n : 0;
  k->mean_p_alive = res->has_model && n ? pa / (double)n : NAN;
  k->clv_total = res->has_spend ? clv : NAN;
  k->clv_mean = res->has_spend && n ? clv / (double)n : NAN;
  k->top20_revenue_share = NAN;
  tsr__lane_run(&p->lane, T_KPI);
  int ok = p->top_ok;
  double s = ok ? p->top_sum : top20_revenue(res->arows, &ok);
  if (ok && n) k->top20_revenue_share = k->revenue > 0 ? s / k->revenue : 0;
  /* every customer's revenue is finite (the summary checks), their total
   * may still overflow */
  if (!isfinite(k->revenue) || (res->has_spend && !isfinite(k->clv_total)))
    return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "amount",
                         "the total %s of all customers overflows (is beyond the largest "
                         "number, %.2g)",
                         isfinite(k->revenue) ? "CLV" : "revenue", DBL_MAX);
  return TSR_OK;
}

/* ------------------------------------------------------------ plan */

/* Sets up the plan once the summary is done and starts its side thread
 * (unless in the sequential order). */
static void plan_start(plan *p, actx *x) {
  memset(p, 0, sizeof *p);
  p->x = x;
  /* a bundle's run has the models' thread beside it (app/analyze_predict.c) */
  p->side = tsr__analyze_predict_early() && !x->o->bundle;
  p->models = strcmp(x->o->model ? x->o->model : "auto", "none") != 0;
  tsr_btyd_fit_opts_init(&p->fo);
  p->fo.period_days = x->res->period_days;
  p->fo.n_threads = 2;
  p->gg_st = TSR_OK;
  p->cl_st = TSR_EINVAL; /* not fitted early */
  for (int c = 0; c < 2; c++) {
    p->fit[c].p = p;
    p->fit[c].c = c;
  }
  tsr__lane *l = &p->lane;
  l->n = T_COUNT;
  const char *mname = x->o->model ? x->o->model : "auto";
  l->t[T_RFM] = (tsr__lane_task){rfm_task, p, -1, 1, 0};
  l->t[T_PREP] = (tsr__lane_task){prep_task, p, -1, 0, 0};
  if (p->models) {
    l->t[T_FIT0] = (tsr__lane_task){fit_task, &p->fit[0], T_PREP, 0, 0};
    if (!strcmp(mname, "auto")) l->t[T_FIT1] = (tsr__lane_task){fit_task, &p->fit[1], T_PREP, 1, 0};
    if (x->o->spend) l->t[T_GG] = (tsr__lane_task){gg_task, p, -1, 1, 0};
  }
  if (p->side && cluster_early(x)) l->t[T_CLUSTER] = (tsr__lane_task){cluster_task, p, -1, 1, 0};
  if (p->side) l->t[T_KPI] = (tsr__lane_task){kpi_task, p, -1, 1, 0};
  tsr__lane_start(l, p->side);
  if (!l->threaded) p->side = 0; /* every step in its place, timed there */
}

/* Stops the side thread and frees what the steps left. */
static void plan_release(plan *p) {
  if (!p->x) return;
  tsr__lane_stop(&p->lane);
  models_release(p);
  tsr_cluster_result_free(p->cl);
  p->x = NULL;
}


/* ------------------------------------------------------------ store */

/* app/analyze_currency.c */
tsr_status tsr__analyze_currency(const tsr_analyze_opts *o, const tsr_ingest_stats *in_stats,
                                 tsr_analyze_result *r, char *warn, size_t cap, tsr_error *err);
/* lib/analyze_profiles.c */
tsr_status tsr__analyze_profiles(const tsr_analyze_opts *o, tsr__resolved **rv,
                                 tsr_analyze_result *res, int64_t counts[TSR_BT_COUNT][3],
                                 tsr_error *err);
size_t tsr__profile_json(const tsr_profiles *p, const tsr_profile *r, const char *pii, char *buf,
                         size_t cap);
void tsr__dq_tally(tsr_analyze_result *res, const char *table, const char *field,
                   const char *reason, int64_t n);

/* The profile step (bundle inputs): profiles, segments, data-quality events. */
static tsr_status step_profiles(actx *x, tsr_error *err) {
  int64_t counts[TSR_BT_COUNT][3];
  memset(counts, 0, sizeof counts);
  /* frees the resolution after its last use (x->resolver = NULL) */
  tsr_status st = tsr__analyze_profiles(x->o, &x->resolver, x->res, counts, err);
  if (st != TSR_OK) return st;
  for (int t = 0; t < TSR_BT_COUNT; t++)
    x->res->dq_rejected[t] = t == TSR_BT_TRANSACTIONS ? 0 : counts[t][2];
  for (size_t i = 0; i < x->nreasons; i++) /* the ingest's, keyed like the tables' */
    tsr__dq_tally(x->res, "transactions", "", x->reasons[i].key, x->reasons[i].n);
  for (size_t i = 0; i < x->res->dq_nreasons; i++)
    event(x, 1, "rejects", -1, x->res->dq_reasons[i].n, -1, "%lld rows rejected: %s",
          (long long)x->res->dq_reasons[i].n, x->res->dq_reasons[i].key);
  for (int t = 0; t < TSR_BT_COUNT; t++) {
    if (t == TSR_BT_TRANSACTIONS || !tsr_bundle_path(x->o->bundle, (tsr_bundle_table)t)) continue;
    event(x, counts[t][2] ? 1 : 0, "profiles", counts[t][0], counts[t][1], -1,
          "%s: %lld rows read, %lld accepted, %lld rejected", tsr_bundle_table_name((tsr_bundle_table)t),
          (long long)counts[t][0], (long long)counts[t][1], (long long)counts[t][2]);
  }
  const tsr_profiles *p = x->res->profiles;
  size_t merged = 0;
  for (size_t i = 0; i < tsr_profiles_count(p); i++) {
    const tsr_profile *r = tsr_profiles_get(p, i);
    if (r->n_records > 1) merged += r->n_records - 1;
  }
  double ms = step_done(x, "profiles");
  const tsr_analyze_result *r = x->res;
  /* data quality (ids and counts only, never personal data) */
  if (r->dq_records_merged >= 0)
    event(x, 0, "resolve", r->dq_crm_records, r->dq_crm_records - r->dq_records_merged, -1,
          "entity resolution: %lld CRM records, %lld records merged into another record's id, "
          "%lld households (%lld persons linked, not merged)",
          (long long)r->dq_crm_records, (long long)r->dq_records_merged, (long long)r->dq_households,
          (long long)r->dq_household_links);
  else if (tsr_bundle_path(x->o->bundle, TSR_BT_CUSTOMERS))
    event(x, 1, "resolve", -1, -1, -1,
          "entity resolution skipped: the customers table could not be resolved; ids kept as given");
  if (r->dq_anomalies >= 0)
    event(x, 0, "anomalies", r->dq_transactions_scored, r->dq_anomalies, -1,
          "anomalies: %lld of %lld transactions flagged (%s)", (long long)r->dq_anomalies,
          (long long)r->dq_transactions_scored,
          r->dq_anomalies_excluded >= 0 ? "kept out of RFM, BTYD and CLV" : "kept in every value");
  else
    event(x, 1, "anomalies", -1, -1, -1,
          "anomalies not computed: the transactions table could not be scored");
  event(x, 0, "profiles", -1, (int64_t)tsr_profiles_count(p), ms,
        "%zu customer profiles, %zu records merged, %zu segment values",
        tsr_profiles_count(p), merged, tsr_profiles_nsegments(p));
  return TSR_OK;
}

/* The result files written on a thread while the store step runs (they
 * read the same finished results and nothing else; results identical).
 * The store's transaction commits only once the files are written: a run
 * whose files fail stores nothing, as when the files came first. split: a
 * bundle run starts them before its models are done (issue 12): the files
 * that do not depend on the models first (tsr__analyze_write_begin), the
 * rest once files_go says the models are done (tsr__analyze_write_end). */
typedef struct files_job {
  const tsr_analyze_result *res;
  const tsr_analyze_opts *o;
  pthread_t th;
  int running;    /* th is to be joined */
  int in_thread;  /* files_main runs on th (set before it starts) */
  int split;
  pthread_mutex_t mu; /* split and in_thread: guards go */
  pthread_cond_t cv;
  int go;         /* split: 0 wait, 1 write the rest, -1 stop (the run failed) */
  int go_given;   /* files_go was called (main thread only) */
  struct json_t *files; /* split: the files written so far */
  tsr_status st;
  tsr_error err;
  double ms;      /* the file step's wall time */
  double wait_ms; /* the store step's wait for it */
} files_job;

/* split: the files that depend on the models, and run.json. */
static void files_rest(files_job *j) {
  double t = now_s();
  if (j->st == TSR_OK && j->go > 0) j->st = tsr__analyze_write_end(j->res, j->o->out_dir, j->files, &j->err);
  else json_decref(j->files);
  j->files = NULL;
  j->ms += (now_s() - t) * 1000.0;
}

static void *files_main(void *arg) {
  files_job *j = arg;
  double t = now_s();
  if (!j->split) {
    j->st = tsr_analyze_write_files(j->res, j->o, j->o->out_dir, &j->err);
    j->ms = (now_s() - t) * 1000.0;
    return NULL;
  }
  j->st = tsr__analyze_write_begin(j->res, j->o, j->o->out_dir, &j->files, &j->err);
  j->ms = (now_s() - t) * 1000.0;
  if (!j->in_thread) return NULL; /* the rest at files_go */
  pthread_mutex_lock(&j->mu);
  while (!j->go) pthread_cond_wait(&j->cv, &j->mu);
  pthread_mutex_unlock(&j->mu);
  files_rest(j);
  return NULL;
}

/* Starts the files of res (on the calling thread when no thread starts);
 * split: the rest waits for files_go. */
static void files_start(files_job *j, const tsr_analyze_result *res, const tsr_analyze_opts *o,
                        int split) {
  memset(j, 0, sizeof *j);
  j->res = res;
  j->o = o;
  j->split = split;
  j->go_given = !split;
  j->in_thread = 1;
  if (split && pthread_mutex_init(&j->mu, NULL) != 0) {
    j->in_thread = 0;
  } else if (split && pthread_cond_init(&j->cv, NULL) != 0) {
    pthread_mutex_destroy(&j->mu);
    j->in_thread = 0;
  }
  if (j->in_thread) j->running = pthread_create(&j->th, NULL, files_main, j) == 0;
  if (!j->running) {
    if (j->in_thread && split) {
      pthread_cond_destroy(&j->cv);
      pthread_mutex_destroy(&j->mu);
    }
    j->in_thread = 0;
    files_main(j);
  }
}

/* split: the models are done (go 1: the rest of the files is written) or
 * the run has failed (go -1: no more files). */
static void files_go(files_job *j, int go) {
  if (j->go_given) return;
  j->go_given = 1;
  if (!j->in_thread) {
    j->go = go;
    files_rest(j);
    return;
  }
  pthread_mutex_lock(&j->mu);
  j->go = go;
  pthread_cond_signal(&j->cv);
  pthread_mutex_unlock(&j->mu);
}

/* Waits for the files: TSR_OK or their error (into err). Split and not
 * told to go on: they stop (a failed run). */
static tsr_status files_wait(files_job *j, tsr_error *err) {
  files_go(j, -1);
  if (j->running) {
    double t = now_s();
    pthread_join(j->th, NULL);
    j->running = 0;
    j->wait_ms += (now_s() - t) * 1000.0;
    if (j->split) {
      pthread_cond_destroy(&j->cv);
      pthread_mutex_destroy(&j->mu);
    }
  }
  if (j->st != TSR_OK && err) *err = j->err;
  return j->st;
}

/* Customers are stored in batches of this many rows (their JSON profiles
 * and history texts of one batch only in memory). */
#define STORE_BATCH 8192
#define STORE_XCAP 4096 /* bytes of a customer's JSON profile */

/* One batch of customer rows and the texts they point into. */
typedef struct row_batch {
  tsr_customer *rows;
  tsr__customer_lens *lens; /* of the rows' texts (the store measures none) */
  char (*cells)[4];
  size_t *hoff;
  size_t *idoff; /* the rows' ids, copied into ht.buf */
  char *extra; /* STORE_XCAP bytes a row (bundle runs) */
  tsr__hist_text ht;
  tsr__cust_ready rd; /* the rows made ready for the store (their values) */
  size_t nb; /* rows filled */
  tsr_status st;
  tsr_error err;
} row_batch;

/* Where the rows of a run come from: the n summary customers (their
 * ledger index found by walking the ledger, whose order the summary
 * keeps), then (bundle runs) the profiles of customers only in the CRM or
 * other tables, as JSON in extra. */
typedef struct row_feed {
  const tsr_analyze_result *res;
  const tsr_ledger *lg;
  const tsr__hist_pack *hp; /* the histories when the ledger is gone (lg NULL) */
  size_t n, nl, np;
  const tsr_profiles *pf;
  size_t next, pj, lj;
  int walk;
  unsigned char *in_row; /* ledger customers whose history goes with their row */
  row_batch *b;          /* the batch fill_batch fills */
  const int *labels;     /* the customers' clusters, or NULL (none) */
} row_feed;

static tsr_status batch_init(row_batch *b, int with_extra, tsr_error *err) {
  memset(b, 0, sizeof *b);
  b->rows = tsr__malloc(STORE_BATCH * sizeof *b->rows);
  b->lens = tsr__malloc(STORE_BATCH * sizeof *b->lens);
  b->cells = tsr__malloc(STORE_BATCH * sizeof *b->cells);
  b->hoff = tsr__malloc(STORE_BATCH * sizeof *b->hoff);
  b->idoff = tsr__malloc(STORE_BATCH * sizeof *b->idoff);
  b->extra = with_extra ? tsr__malloc(STORE_BATCH * STORE_XCAP) : NULL;
  if (!b->rows || !b->lens || !b->cells || !b->hoff || !b->idoff || (with_extra && !b->extra))
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  return TSR_OK;
}

static void batch_release(row_batch *b) {
  tsr__free(b->rows);
  tsr__free(b->lens);
  tsr__free(b->cells);
  tsr__free(b->hoff);
  tsr__free(b->idoff);
  tsr__free(b->extra);
  tsr__hist_text_free(&b->ht);
  tsr__cust_ready_free(&b->rd);
}

/* Fills f->b with the next rows (nb = 0: none left); b->st says how. */
static void fill_batch(row_feed *f) {
  row_batch *b = f->b;
  const tsr_analyze_result *res = f->res;
  const tsr_ledger *lg = f->lg;
  const tsr_profiles *pf = f->pf;
  size_t nb = 0;
  b->ht.len = 0;
  b->st = TSR_OK;
  for (; nb < STORE_BATCH && f->next < f->n; nb++, f->next++) {
    size_t i = f->next;
    const tsr__arows *a = res->arows;
    const char *id = tsr__ar_id(a, i);
    tsr_customer *c = &b->rows[nb];
    tsr_customer_init(c);
    /* the id beside its history in ht.buf: the store thread reads the
     * batch's texts in order, not the ledger's ids in key order (cache
     * misses, issue 18) */
    size_t idl = strlen(id);
    if ((b->st = tsr__hist_text_put(&b->ht, id, idl, &b->idoff[nb], &b->err)) != TSR_OK) return;
    b->lens[nb] = (tsr__customer_lens){(uint32_t)idl, 0, 0};
    c->frequency = tsr__ar(a, TSR__AR_F, i);
    c->recency = tsr__ar(a, TSR__AR_R, i);
    c->T = tsr__ar(a, TSR__AR_T, i);
    c->monetary_value = tsr__ar(a, TSR__AR_MV, i);
    c->revenue = tsr__ar(a, TSR__AR_REV, i);
    c->n_transactions = tsr__ar_ntx(a, i);
    c->first_purchase = tsr__ar_first(a, i) * 86400000LL;
    c->last_purchase = tsr__ar_last(a, i) * 86400000LL;
    c->r_score = res->r[i];
    c->f_score = res->f[i];
    c->m_score = res->m[i];
    c->rfm_cell = tsr_rfm_cell(res->r[i], res->f[i], res->m[i], b->cells[nb]);
    c->segment = res->segment[i];
    c->cluster = f->labels ? f->labels[i] : -1;
    c->expected_purchases = res->expected[i];
    c->p_alive = res->p_alive[i];
    c->clv = res->clv[i];
    c->clv_lo = res->clv_lo[i];
    c->clv_hi = res->clv_hi[i];
    ptrdiff_t li = -1;
    if (f->hp) { /* the pack's customers with a row, in the rows' order */
      while (f->lj < f->nl && !f->hp->row[f->lj]) f->lj++;
      if (f->lj < f->nl) li = (ptrdiff_t)f->lj++;
      /* the pack is in the drain's order: each record a cache miss, so
       * the next ones are fetched meanwhile (issue 18) */
      tsr__hist_pack_prefetch(f->hp, f->lj + 12);
    } else if (f->walk) {
      while (f->lj < f->nl && tsr_ledger_customer(lg, f->lj) != id) f->lj++;
      if (f->lj < f->nl) {
        li = (ptrdiff_t)f->lj++;
        tsr__ledger_prefetch(lg, f->lj + 16, 0);
        tsr__ledger_prefetch(lg, f->lj + 8, 1);
      } else {
        f->walk = 0; /* not the summary's ledger order: look ids up */
      }
    }
    if (!f->walk && lg) li = tsr_ledger_find(lg, id);
    b->hoff[nb] = SIZE_MAX; /* NULL: not in the ledger */
    if (li >= 0) {
      if ((b->st = f->hp ? tsr__hist_text_add_pack(&b->ht, f->hp, (size_t)li, &b->hoff[nb], &b->err)
                         : tsr__hist_text_add(&b->ht, lg, (size_t)li, &b->hoff[nb], &b->err)) != TSR_OK)
        return;
      b->lens[nb].history = (uint32_t)(b->ht.len - b->hoff[nb] - 1); /* the text, its NUL */
      f->in_row[li] = 1;
    }
  }
  for (; nb < STORE_BATCH && f->pj < f->np; f->pj++) {
    const tsr_profile *r = tsr_profiles_get(pf, f->pj);
    if (tsr_ledger_find(lg, r->id) >= 0) continue;
    tsr_customer *c = &b->rows[nb];
    tsr_customer_init(c);
    size_t idl = strlen(r->id);
    if ((b->st = tsr__hist_text_put(&b->ht, r->id, idl, &b->idoff[nb], &b->err)) != TSR_OK) return;
    b->lens[nb] = (tsr__customer_lens){(uint32_t)idl, 0, 0};
    c->revenue = r->tx_amount;
    b->hoff[nb++] = SIZE_MAX - 1; /* no purchases: "" */
  }
  for (size_t k = 0; k < nb; k++) {
    tsr_customer *c = &b->rows[k];
    c->customer_id = b->ht.buf + b->idoff[k];
    if (b->hoff[k] == SIZE_MAX - 1) c->history = "";
    else if (b->hoff[k] != SIZE_MAX) c->history = b->ht.buf + b->hoff[k];
    if (!pf) continue;
    ptrdiff_t j = tsr_profiles_find(pf, tsr_profiles_resolve(pf, c->customer_id));
    size_t xl = j >= 0 ? tsr__profile_json(pf, tsr_profiles_get(pf, (size_t)j),
                                           res->pii ? res->pii[j] : NULL,
                                           b->extra + k * STORE_XCAP, STORE_XCAP)
                       : 0;
    if (xl) {
      c->extra = b->extra + k * STORE_XCAP;
      b->lens[k].extra = (uint32_t)xl;
    }
  }
  /* checked and their values made here, not on the store's thread */
  b->st = tsr__store_customers_prep(&b->rd, res->run_id, b->rows, b->lens, nb, &b->err);
  b->nb = nb;
}

static void *fill_main(void *arg) {
  fill_batch(arg);
  return NULL;
}

/* The store step, first part: opens the run's store transaction and adds
 * the customers, the purchase histories and the segments (none depends on
 * churn or next-best-product: a bundle run stores them while its models
 * end, app/analyze_predict.c); the transaction stays open for
 * store_models. files (may be NULL): the file step running beside it; on
 * failure (the transaction rolled back) its error comes first, as if it
 * had run first. The rows of the next batch are made on a thread while
 * the store inserts a batch (the same rows in the same order as one by
 * one: issue 18), checked, ordered and their values made there too
 * (tsr__store_customers_prep: the store's thread, the run's last, only
 * inserts). labels: the customers' clusters (NULL: none), final
 * before res->clusters is set when the rows start early (rows_start). */
static tsr_status store_rows(actx *x, const int *labels, files_job *files, tsr_error *err) {
  tsr_analyze_result *res = x->res;
  tsr_store *s = x->store;
  const tsr_ledger *lg = res->ledger;
  const tsr__hist_pack *hp = lg || !x->hist.off ? NULL : &x->hist; /* the ledger drained */
  const size_t nl = lg ? tsr_ledger_ncustomers(lg) : hp ? hp->n : 0;
  const tsr_profiles *pf = res->profiles;
  tsr_status st = tsr__store_begin_bulk(s, err);
  if (st != TSR_OK) {
    if (files && files_wait(files, NULL) != TSR_OK) { /* the files' error first */
      st = files->st;
      if (err) *err = files->err;
    }
    return st;
  }
  row_batch bt[2];
  row_feed f = {res, lg, hp, res->summary->n, nl, pf ? tsr_profiles_count(pf) : 0, pf, 0, 0, 0, 1,
                NULL, &bt[0], labels};
  tsr_status st0 = batch_init(&bt[0], pf != NULL, err);
  tsr_status st1 = batch_init(&bt[1], pf != NULL, st0 == TSR_OK ? err : NULL);
  f.in_row = tsr__calloc(nl ? nl : 1, 1);
  pthread_t th;
  int th_on = 0; /* fill_main is filling f.b */
  if (st0 != TSR_OK || st1 != TSR_OK || !f.in_row) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto fail;
  }
  fill_batch(&f);
  for (size_t k = 0, stored = 0;; k++) {
    row_batch *b = &bt[k & 1];
    if (b->st != TSR_OK) {
      st = b->st;
      if (err) *err = b->err;
      goto fail;
    }
    size_t nb = b->nb;
    if (nb == 0 && stored > 0) break;
    if (nb > 0) { /* the next batch meanwhile (inline when no thread) */
      f.b = &bt[(k + 1) & 1];
      th_on = pthread_create(&th, NULL, fill_main, &f) == 0;
      if (!th_on) fill_batch(&f);
    }
    st = tsr__store_customers_add_ready(s, &b->rd, err);
    if (th_on) {
      pthread_join(th, NULL);
      th_on = 0;
    }
    if (st != TSR_OK) goto fail;
    stored += nb;
    if (nb == 0) break;
  }
  /* purchase histories of ledger customers without a row */
  st = tsr__analyze_store_history(s, res->run_id, lg, hp, f.in_row, err);
  if (st != TSR_OK) goto fail;
  tsr_segment_row *segs = tsr__malloc((res->n_segments ? res->n_segments : 1) * sizeof *segs);
  if (!segs) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto fail;
  }
  for (size_t j = 0; j < res->n_segments; j++) {
    const tsr_rfm_segment_stats *g = &res->segments[j];
    tsr_segment_row sr = {tsr_rfm_scheme_name(res->scheme), g->segment, (int64_t)g->customers,
                          g->share, g->mean_r, g->mean_f, g->mean_m, g->revenue, g->revenue_share};
    segs[j] = sr;
  }
  st = tsr_store_segments_add(s, res->run_id, segs, res->n_segments, err);
  tsr__free(segs);
  if (st != TSR_OK) goto fail;
  if (res->profiles) {
    /* segment profiles: scheme "profile_<kind>"; mean_r = mean CLV, mean_f
     * = mean age, mean_m = mean digital share (docs/profiles.md) */
    const tsr_profiles *pf = res->profiles;
    size_t ns = tsr_profiles_nsegments(pf), np = tsr_profiles_count(pf);
    double rev = 0;
    for (size_t i = 0; i < ns; i++) {
      const tsr_segment_summary *g = tsr_profiles_segment_get(pf, i);
      if (!strcmp(g->kind, "life_stage")) rev += g->revenue;
    }
    char (*scheme)[40] = tsr__malloc((ns ? ns : 1) * sizeof *scheme);
    tsr_segment_row *ps = tsr__malloc((ns ? ns : 1) * sizeof *ps);
    if (!scheme || !ps) {
      tsr__free(scheme);
      tsr__free(ps);
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      goto fail;
    }
    for (size_t i = 0; i < ns; i++) {
      const tsr_segment_summary *g = tsr_profiles_segment_get(pf, i);
      snprintf(scheme[i], sizeof scheme[i], "profile_%s", g->kind);
      tsr_segment_row sr = {scheme[i], g->name, (int64_t)g->size,
                            np ? (double)g->size / (double)np : 0, g->clv_mean, g->age_mean,
                            g->digital_share, g->revenue, rev != 0 ? g->revenue / rev : 0};
      ps[i] = sr;
    }
    st = tsr_store_segments_add(s, res->run_id, ps, ns, err);
    tsr__free(scheme);
    tsr__free(ps);
    if (st != TSR_OK) goto fail;
  }
  st = TSR_OK;
  goto done;
fail:
  if (th_on) pthread_join(th, NULL);
  tsr_store_rollback(s, NULL);
  if (files && files_wait(files, NULL) != TSR_OK) { /* the files' error first */
    st = files->st;
    if (err) *err = files->err;
  }
done:
  batch_release(&bt[0]);
  batch_release(&bt[1]);
  tsr__free(f.in_row);
  return st;
}

/* The store step, second part (after store_rows, and after churn and
 * next-best-product are stored in the same transaction): the purchase,
 * spend and cluster models; waits for the files (their error first),
 * then commits. */
static tsr_status store_models(actx *x, files_job *files, tsr_error *err) {
  tsr_analyze_result *res = x->res;
  tsr_store *s = x->store;
  tsr_status st = TSR_OK;
  /* models */
  const tsr_btyd_model *ms[2] = {res->has_model ? &res->model : NULL,
                                 res->has_spend ? &res->spend : NULL};
  for (int j = 0; j < 2; j++) {
    if (!ms[j]) continue;
    char *js = NULL;
    st = tsr_btyd_model_to_json(ms[j], &js, err);
    if (st != TSR_OK) goto fail;
    tsr__tb sb = {0};
    tsr__tb_printf(&sb, "{\"loglik\":");
    tsr__tb_jnum(&sb, ms[j]->loglik);
    tsr__tb_printf(&sb, ",\"iterations\":%d,\"converged\":%s", ms[j]->iterations,
                   ms[j]->converged ? "true" : "false");
    if (j == 0 && res->has_holdout) {
      tsr__tb_printf(&sb, ",\"holdout_mae\":");
      tsr__tb_jnum(&sb, res->holdout_mae);
    }
    if (x->o->model_stats && *x->o->model_stats) tsr__tb_printf(&sb, ",%s", x->o->model_stats);
    tsr__tb_printf(&sb, "}");
    char *stats = tsr__tb_take(&sb);
    if (!stats) {
      free(js);
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      goto fail;
    }
    tsr_model mo = {0, res->run_id, tsr_btyd_kind_name(ms[j]->kind), 0, js, stats, 0, 0};
    st = tsr_store_model_add(s, &mo, NULL, NULL, err);
    free(js);
    tsr__free(stats);
    if (st != TSR_OK) goto fail;
  }
  if (res->clusters && res->clusters->model) {
    char *js = NULL;
    st = tsr_cluster_model_to_json(res->clusters->model, &js, err);
    if (st != TSR_OK) goto fail;
    tsr__tb sb = {0};
    tsr__tb_printf(&sb, "{\"k\":%zu,\"inertia\":", res->clusters->k);
    tsr__tb_jnum(&sb, res->clusters->inertia);
    tsr__tb_printf(&sb, ",\"silhouette\":");
    tsr__tb_jnum(&sb, res->clusters->silhouette);
    if (x->o->model_stats && *x->o->model_stats) tsr__tb_printf(&sb, ",%s", x->o->model_stats);
    tsr__tb_printf(&sb, "}");
    char *stats = tsr__tb_take(&sb);
    if (!stats) {
      free(js);
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      goto fail;
    }
    tsr_model mo = {0, res->run_id, tsr_cluster_method_name(res->clusters->method), 0, js, stats, 0, 0};
    st = tsr_store_model_add(s, &mo, NULL, NULL, err);
    free(js);
    tsr__free(stats);
    if (st != TSR_OK) goto fail;
  }
  if (files && (st = files_wait(files, err)) != TSR_OK) goto fail;
  st = tsr_store_commit(s, err);
  if (st != TSR_OK) goto fail;
  return TSR_OK;
fail:
  tsr_store_rollback(s, NULL);
  if (files && files_wait(files, NULL) != TSR_OK) { /* the files' error first */
    st = files->st;
    if (err) *err = files->err;
  }
  return st;
}

static const int *run_labels(const tsr_analyze_result *res) {
  return res->clusters ? res->clusters->labels : NULL;
}

/* The store step: store_rows, then store_models. */
static tsr_status store_results(actx *x, files_job *files, tsr_error *err) {
  tsr_status st = store_rows(x, run_labels(x->res), files, err);
  return st == TSR_OK ? store_models(x, files, err) : st;
}

/* The store's rows begun on a thread as soon as every column of them is
 * final (issue 18): after the predictions and the CLV, once the
 * clustering's labels are (fitted early on the side thread, or no
 * clustering), while the run's thread makes the clusters' profiles and the
 * KPIs, then the files beside it. The thread has the store's connection
 * until rows_join; the run's events meanwhile are held (actx.hold) and
 * written before the store's rows, in its transaction, as the sequential
 * order writes them before it (again after a rollback). The rows, their
 * order and the transaction are store_rows' as at the end of the run. */
typedef struct rows_job {
  actx *x;
  const int *labels;
  pthread_t th;
  int running; /* th is to be joined */
  tsr_status st;
  tsr_error err;
  double t0, t1; /* its start and end (now_s) */
} rows_job;

static void *rows_main(void *arg) {
  rows_job *j = arg;
  j->st = store_rows(j->x, j->labels, NULL, &j->err);
  j->t1 = now_s();
  return NULL;
}

/* Starts the rows when they can start early (labels known): 1 if running. */
static int rows_start(rows_job *j, plan *p) {
  actx *x = p->x;
  memset(j, 0, sizeof *j);
  if (!x->store || x->o->bundle || !p->side) return 0;
  const char *meth = x->o->cluster ? x->o->cluster : "kmeans";
  tsr__lane_run(&p->lane, T_CLUSTER); /* where step_cluster asks for it */
  if (p->cl && p->cl_st == TSR_OK)
    j->labels = p->cl->labels; /* step_cluster's (early) */
  else if (strcmp(meth, "none") != 0)
    return 0; /* fitted in step_cluster */
  j->x = x;
  j->t0 = now_s();
  x->hold = 1;
  j->running = pthread_create(&j->th, NULL, rows_main, j) == 0;
  if (!j->running) x->hold = 0;
  return j->running;
}

/* customers.csv of a run without a store begun on a thread as soon as
 * its columns are final (issue 18), as the store's rows are (rows_job):
 * after the predictions and the CLV, once the clustering's labels are
 * known, beside the clusters' profiles and the KPIs, which it does not
 * read. It formats the file into its temporary name
 * (tsr__analyze_customers_early); the files step puts it in place in its
 * turn (tsr__analyze_write_files_with), so the folder and the events are
 * those of the sequential order, a failed run included. The thread reads a
 * copy of the result whose clusters are the early fit's (step_cluster
 * hands that same fit to the result, changing only its profiles). */
typedef struct cust_job {
  tsr_analyze_result view; /* the result's columns; clusters: the early fit */
  const char *dir;
  pthread_t th;
  int running; /* th is to be joined */
  tsr_status st;
  tsr_error err;
  char tmp[4096]; /* the file's temporary path ("" none) */
  int made_dir;   /* it created the folder */
  double ms;
} cust_job;

static void *cust_main(void *arg) {
  cust_job *j = arg;
  double t = now_s();
  j->st =
      tsr__analyze_customers_early(&j->view, j->dir, j->tmp, sizeof j->tmp, &j->made_dir, &j->err);
  j->ms = (now_s() - t) * 1000.0;
  return NULL;
}

/* Starts customers.csv when it can start early (a run without a store,
 * with a side thread, labels known): 1 if running. */
static int cust_start(cust_job *j, plan *p) {
  actx *x = p->x;
  memset(j, 0, sizeof *j);
  if (x->store || !x->o->out_dir || x->o->bundle || !p->side) return 0;
  const char *meth = x->o->cluster ? x->o->cluster : "kmeans";
  tsr__lane_run(&p->lane, T_CLUSTER); /* where step_cluster asks for it */
  const tsr_cluster_result *cl = NULL;
  if (p->cl && p->cl_st == TSR_OK)
    cl = p->cl; /* step_cluster's (early) */
  else if (strcmp(meth, "none") != 0)
    return 0; /* fitted in step_cluster */
  j->view = *x->res;
  j->view.clusters = (tsr_cluster_result *)cl;
  j->dir = x->o->out_dir;
  j->running = pthread_create(&j->th, NULL, cust_main, j) == 0;
  return j->running;
}

/* Waits for customers.csv: TSR_OK (its temporary file complete) or its
 * error. */
static tsr_status cust_join(cust_job *j, tsr_error *err) {
  if (!j->running) return TSR_OK;
  pthread_join(j->th, NULL);
  j->running = 0;
  if (j->st != TSR_OK && err) *err = j->err;
  return j->st;
}

/* Waits for the rows: TSR_OK (the store's transaction open) or their
 * error (rolled back). The held events are written either way. */
static tsr_status rows_join(rows_job *j, tsr_error *err) {
  if (!j->running) return TSR_OK;
  pthread_join(j->th, NULL);
  j->running = 0;
  j->x->hold = 0;
  held_write(j->x, j->st == TSR_OK);
  if (j->st != TSR_OK && err) *err = j->err;
  return j->st;
}

/* Parameters of the run as JSON (stored with it): the inputs and every
 * input of tessera/params.def; NULL when out of memory (caller frees with
 * tsr__free). */
static char *params_json(const tsr_analyze_opts *o) {
  tsr_params p;
  tsr_analyze_opts_params(o, &p);
  json_t *j = json_object(), *in = json_array(), *v = tsr_params_to_json(&p, 0);
  int bad = !j || !in || !v || json_object_set(j, "inputs", in) != 0;
  for (size_t i = 0; !bad && i < o->n_inputs; i++)
    bad = json_array_append_new(in, json_string(o->inputs[i])) != 0;
  if (!bad) bad = json_object_update(j, v) != 0;
  char *text = NULL;
  if (!bad) {
    tsr__tb b = {0};
    tsr__tb_json(&b, j);
    text = tsr__tb_take(&b);
  }
  json_decref(j);
  json_decref(in);
  json_decref(v);
  return text;
}

/* The columns the ingest resolved, as JSON (the dataset's options, read
 * back by tsr_params_from_json); NULL when out of memory. */
static char *columns_json(const tsr_analyze_opts *o, const tsr_ingest_stats *st) {
  tsr_params p;
  tsr_params_init(&p);
  const char *cols[] = {st->customer_col, st->date_col, st->amount_col, st->id_col,
                        o->ingest.date_format};
  const char *names[] = {"customer_col", "date_col", "amount_col", "id_col", "date_format"};
  for (size_t i = 0; i < TSR__ARRAY_LEN(names); i++)
    tsr_params_set_raw(&p, (size_t)(tsr_param_find(names[i]) - tsr_param_at(0)), cols[i] ? cols[i] : "");
  json_t *v = tsr_params_to_json(&p, 1);
  if (!v) return NULL;
  tsr__tb b = {0};
  tsr__tb_json(&b, v);
  json_decref(v);
  return tsr__tb_take(&b);
}

/* ------------------------------------------------------------ run */

static tsr_status check_opts(const tsr_analyze_opts *o, tsr_error *err) {
  if (!o->inputs || o->n_inputs == 0)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "inputs", "expected at least one transaction file");
  if (!(o->horizon > 0 && o->horizon <= 1000))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "horizon", "expected a value in (0, 1000], got %g", o->horizon);
  if (!(o->discount >= 0 && o->discount < 1))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "discount", "expected a rate in [0, 1), got %g", o->discount);
  if (!(o->level > 0 && o->level < 1))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "level", "expected a value in (0, 1), got %g", o->level);
  if (!(o->churn_threshold > 0 && o->churn_threshold < 1))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "churn_threshold", "expected a value in (0, 1), got %g", o->churn_threshold);
  return TSR_OK;
}

/* Copies file src to dst (created or truncated). */
tsr_status tsr__copy_file(const char *src, const char *dst, tsr_error *err) {
  FILE *in = fopen(src, "rb");
  if (!in) return tsr_error_set(err, TSR_EIO, src, 0, 0, NULL, "cannot open: %s", strerror(errno));
  FILE *out = fopen(dst, "wb");
  if (!out) {
    fclose(in);
    return tsr_error_set(err, TSR_EIO, dst, 0, 0, NULL, "cannot open for writing: %s", strerror(errno));
  }
  char buf[1 << 16];
  size_t n;
  int bad = 0;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, n, out) != n) bad = 1;
  if (ferror(in)) bad = 1;
  fclose(in);
  if (fclose(out) != 0) bad = 1;
  if (bad) return tsr_error_set(err, TSR_EIO, dst, 0, 0, NULL, "copy from %s failed", src);
  return TSR_OK;
}

/* Copies every input into opts->keep_dir as <sum>.csv (one input) or
 * <sum>-<i>.csv, writing the ';'-separated paths into out. Standard input
 * cannot be kept (TSR_EINVAL). */
static tsr_status keep_inputs(const tsr_analyze_opts *opts, const char *sum, char **out,
                              tsr_error *err) {
  *out = NULL;
  if (mkdir(opts->keep_dir, 0777) != 0 && errno != EEXIST)
    return tsr_error_set(err, TSR_EIO, opts->keep_dir, 0, 0, NULL,
                         "cannot create directory: %s", strerror(errno));
  if (opts->bundle) return tsr__analyze_keep_bundle(opts, sum, out, err); /* with its tables */
  tsr__tb all = {0};
  for (size_t i = 0; i < opts->n_inputs; i++) {
    if (!strcmp(opts->inputs[i], "-")) {
      tsr__tb_free(&all);
      return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "keep_input",
                           "standard input cannot be kept; give a file");
    }
    tsr__tb pb = {0};
    if (opts->n_inputs == 1)
      tsr__tb_printf(&pb, "%s/%s.csv", opts->keep_dir, sum);
    else
      tsr__tb_printf(&pb, "%s/%s-%zu.csv", opts->keep_dir, sum, i + 1);
    char *path = tsr__tb_take(&pb);
    if (!path) {
      tsr__tb_free(&all);
      return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
    tsr_status st = tsr__copy_file(opts->inputs[i], path, err);
    if (st == TSR_OK) tsr__tb_printf(&all, "%s%s", i ? ";" : "", path);
    tsr__free(path);
    if (st != TSR_OK) {
      tsr__tb_free(&all);
      return st;
    }
  }
  if (!(*out = tsr__tb_take(&all)))
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  return TSR_OK;
}

tsr_status tsr_analyze_run(const tsr_analyze_opts *opts, tsr_store *store,
                           tsr_analyze_result **out, tsr_error *err) {
  *out = NULL;
  tsr_status st = check_opts(opts, err);
  if (st != TSR_OK) return st;
  tsr_analyze_result *res = tsr__calloc(1, sizeof *res);
  if (!res) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  actx x;
  memset(&x, 0, sizeof x);
  x.o = opts;
  x.store = store;
  x.res = res;
  x.t0 = x.step_t0 = now_s();
  x.rejects = tsr__calloc(MAX_STORED_REJECTS, sizeof *x.rejects);
  char *params = params_json(opts);
  char *src = NULL, *io = NULL, *kept = NULL;
  files_job fj;      /* the files, when begun beside the models */
  int fj_on = 0;     /* fj is running (or to be waited for) */
  int rows_open = 0; /* store_rows has run: its transaction is open */
  rows_job rj;       /* the store's rows begun before the clusters' profiles */
  memset(&rj, 0, sizeof rj);
  cust_job *cj = tsr__calloc(1, sizeof *cj); /* customers.csv begun there (no store) */
  int cj_on = 0; /* cj is running, or its temporary file is to be put in place */
  double store_ms = 0;
  plan pl;           /* the steps after the summary */
  memset(&pl, 0, sizeof pl);
  progress(&x, "ingest", 0);
  st = step_ingest(&x, err);
  tsr_status ist = st;
  if (store && opts->dataset_id > 0) {
    res->dataset_id = opts->dataset_id;
  } else if (store && (ist == TSR_OK || ist == TSR_EMAXERR)) {
    tsr__tb sb = {0};
    for (size_t i = 0; i < opts->n_inputs; i++)
      tsr__tb_printf(&sb, "%s%s", i ? ";" : "", opts->inputs[i]);
    src = tsr__tb_take(&sb);
    char sum[32];
    snprintf(sum, sizeof sum, "%016llx", (unsigned long long)res->ingest.checksum);
    io = columns_json(opts, &res->ingest);
    if (!params || !src || !io) {
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      goto fail;
    }
    tsr_dataset ds = {0, 0, src, sum, res->ingest.bytes, res->ingest.rows_read,
                      res->ingest.rows_accepted, res->ingest.rows_rejected,
                      res->ingest.duplicate_ids + res->ingest.identical_rows,
                      res->ingest.refunds, io, NULL};
    tsr_error derr;
    if (opts->keep_dir && ist == TSR_OK) {
      tsr_status ks = keep_inputs(opts, sum, &kept, err);
      if (ks != TSR_OK) {
        st = ks;
        goto fail;
      }
      ds.stored_path = kept;
    }
    /* the dataset and its rejects are stored together or not at all; a
     * failure (a lock held past the busy timeout, a full disk) fails the
     * run: retrain would otherwise miss the data without a word */
    tsr_status ds_st = tsr_store_begin(store, &derr);
    if (ds_st == TSR_OK) ds_st = tsr_store_dataset_add(store, &ds, &res->dataset_id, &derr);
    if (ds_st == TSR_OK && x.nrejects) {
      tsr_reject_row *rj = tsr__malloc(x.nrejects * sizeof *rj);
      if (!rj) {
        ds_st = tsr_error_set(&derr, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      } else {
        for (size_t i = 0; i < x.nrejects; i++) {
          tsr_reject_row one = {res->dataset_id, x.rejects[i].line, x.rejects[i].column,
                                x.rejects[i].field, x.rejects[i].reason, x.rejects[i].raw};
          rj[i] = one;
        }
        ds_st = tsr_store_rejects_add(store, res->dataset_id, rj, x.nrejects, &derr);
        tsr__free(rj);
      }
    }
    if (ds_st == TSR_OK) ds_st = tsr_store_commit(store, &derr);
    if (ds_st != TSR_OK) {
      tsr_store_rollback(store, NULL);
      res->dataset_id = 0; /* a kept copy stays: it may be another dataset's too */
      if (err) *err = derr;
      st = ds_st;
      goto fail;
    }
  }
  if (store) {
    tsr_run run;
    memset(&run, 0, sizeof run);
    run.command = opts->command ? opts->command : "analyze";
    run.dataset_id = res->dataset_id;
    run.params = params;
    run.output_dir = opts->out_dir;
    tsr_error rerr;
    tsr_status rs = tsr_store_run_begin(store, &run, &res->run_id, &rerr);
    if (rs != TSR_OK) {
      if (err) *err = rerr;
      st = rs;
      goto fail;
    }
    if (opts->on_run) opts->on_run(opts->ud, res->run_id);
  }
  event(&x, 0, "start", -1, -1, -1, "analyze %s%s", opts->inputs[0], opts->n_inputs > 1 ? " (and more)" : "");
  if (ist == TSR_OK) ingest_events(&x);
  if (st != TSR_OK) goto fail;
  /* a bundle's churn and next-best-product, on a thread meanwhile (app/analyze_predict.c) */
  if (opts->bundle && (st = tsr__analyze_predict_start(opts, res, &x.raw, err)) != TSR_OK) goto fail;
  char cwarn[512];
  if ((st = tsr__analyze_currency(opts, x.in_stats, res, cwarn, sizeof cwarn, err)) != TSR_OK)
    goto fail;
  if (cwarn[0]) event(&x, 1, "currency", -1, -1, -1, "%s", cwarn);
  if (canceled(&x)) goto cancel;
  progress(&x, "summary", 0.5);
  if ((st = step_summary(&x, err)) != TSR_OK) goto fail;
  if (drains(&x) && (st = release_ledger(res, err)) != TSR_OK)
    goto fail;
  plan_start(&pl, &x);
  if (pl.side) { /* the first model while the side thread starts with RFM */
    tsr__lane_run(&pl.lane, T_PREP);
    tsr__lane_run(&pl.lane, T_FIT0);
  }
  progress(&x, "rfm", 0.55);
  if ((st = step_rfm(&pl, err)) != TSR_OK) goto fail;
  if (canceled(&x)) goto cancel;
  if ((st = step_models(&pl, err)) != TSR_OK) goto fail;
  /* NaN without the model or the CLV */
  if ((st = pred_columns(res, err)) != TSR_OK || (st = clv_columns(res, err)) != TSR_OK) goto fail;
  churn_recency_check(&x);
  if (canceled(&x)) goto cancel;
  rows_start(&rj, &pl);
  if (cj) cj_on = cust_start(cj, &pl);
  progress(&x, "cluster", 0.75);
  if ((st = step_cluster(&pl, err)) != TSR_OK) goto fail;
  if (canceled(&x)) goto cancel;
  if (opts->bundle) {
    progress(&x, "profiles", 0.8);
    if ((st = step_profiles(&x, err)) != TSR_OK) goto fail;
    if (canceled(&x)) goto cancel;
    progress(&x, "predict", 0.85);
    if (tsr__analyze_predict_early() && (opts->out_dir || store)) {
      /* while the models end (issue 12): the files and the store rows that
       * do not depend on them; the rest once the models are done (the
       * files' and the store's contents and order as in the sequential
       * order, TESSERA_PREDICT_THREADS=0) */
      double t = now_s();
      if (opts->out_dir) {
        files_start(&fj, res, opts, 1);
        fj_on = 1;
      }
      if (store) {
        rows_open = 1;
        if ((st = store_rows(&x, run_labels(res), fj_on ? &fj : NULL, err)) != TSR_OK) goto fail;
      }
      store_ms = (now_s() - t) * 1000.0;
      x.step_t0 = now_s();
    }
    char pnote[1024];
    if ((st = tsr__analyze_predict(opts, store, res, pnote, sizeof pnote, err)) != TSR_OK) goto fail;
    const char *psrc = tsr__analyze_predict_source(res->predict);
    if (psrc[0]) event(&x, 0, "predict", -1, -1, -1, "%s", psrc);
    event(&x, pnote[0] ? 1 : 0, "predict", -1, -1, step_done(&x, "predict"), "%s",
          pnote[0] ? pnote : "churn risk and next best products scored");
  }
  if ((st = compute_kpis(&pl, err)) != TSR_OK) goto fail;
  plan_release(&pl);
  progress(&x, "store", 0.9);
  if (opts->out_dir && !store) {
    double ms;
    if (fj_on) { /* begun beside the models */
      files_go(&fj, 1);
      st = files_wait(&fj, err);
      fj_on = 0;
      if (st != TSR_OK) goto fail;
      ms = fj.ms;
      step_put(&x, "files", ms);
    } else if (cj_on) { /* customers.csv begun beside the clusters' profiles */
      double t = now_s();
      st = cust_join(cj, err);
      if (st == TSR_OK) st = tsr__analyze_write_files_with(res, opts, opts->out_dir, cj->tmp, err);
      cj_on = 0; /* put in place, or removed */
      if (st != TSR_OK) goto fail;
      ms = cj->ms + (now_s() - t) * 1000.0;
      step_put(&x, "files", ms);
    } else {
      st = tsr_analyze_write_files(res, opts, opts->out_dir, err);
      if (st != TSR_OK) goto fail;
      ms = step_done(&x, "files");
    }
    event(&x, 0, "files", (int64_t)res->summary->n, (int64_t)res->summary->n, ms,
          "results written to %s", opts->out_dir);
  }
  res->seconds = now_s() - x.t0;
  if (store) {
    double t = now_s(), ms;
    if (opts->out_dir) {
      /* the files beside the store step (store_results waits for them
       * before its commit); logged first, as when they came first */
      if (fj_on) files_go(&fj, 1);
      else files_start(&fj, res, opts, 0);
      fj_on = 1;
      if (rj.running) {
        if ((st = rows_join(&rj, err)) != TSR_OK) { /* rolled back; the files' error first */
          fj_on = 0;
          if (files_wait(&fj, NULL) != TSR_OK) {
            st = fj.st;
            if (err) *err = fj.err;
          }
          goto fail;
        }
        rows_open = 1;
        store_ms = (rj.t1 - rj.t0) * 1000.0;
        t = rj.t1 > t ? rj.t1 : t;
      }
      st = rows_open ? store_models(&x, &fj, err) : store_results(&x, &fj, err);
      fj_on = 0; /* waited for */
      if (st != TSR_OK) goto fail;
      ms = store_ms + (now_s() - t) * 1000.0 - fj.wait_ms;
      step_put(&x, "files", fj.ms);
      event(&x, 0, "files", (int64_t)res->summary->n, (int64_t)res->summary->n, fj.ms,
            "results written to %s", opts->out_dir);
      step_put(&x, "store", ms);
    } else {
      if (rj.running) {
        if ((st = rows_join(&rj, err)) != TSR_OK) goto fail;
        rows_open = 1;
        store_ms = (rj.t1 - rj.t0) * 1000.0;
        t = rj.t1 > t ? rj.t1 : t;
      }
      st = rows_open ? store_models(&x, NULL, err) : store_results(&x, NULL, err);
      if (st != TSR_OK) goto fail;
      ms = store_ms + (now_s() - t) * 1000.0;
      step_put(&x, "store", ms);
    }
    if (x.held_state == 1) x.held_state = 2; /* committed with the rows */
    event(&x, 0, "store", (int64_t)res->summary->n, (int64_t)res->summary->n, ms,
          "stored %zu customers, %zu segments and the models (run %lld)", res->summary->n,
          res->n_segments, (long long)res->run_id);
    char *kj = NULL;
    if (x.tlen + 2 < sizeof res->timings) {
      res->timings[x.tlen] = '}';
      res->timings[x.tlen + 1] = '\0';
    }
    tsr_analyze_kpis_json(res, &kj, NULL);
    res->seconds = now_s() - x.t0;
    if (x.events_lost) {
      /* say so in the log (if it takes this one) and to the caller */
      int64_t lost = x.events_lost;
      event(&x, 1, "store", -1, -1, -1, "%lld event(s) of this run could not be logged: %s",
            (long long)lost, x.event_err);
    }
    event(&x, 0, "end", -1, -1, res->seconds * 1000, "done in %.2f s", res->seconds);
    st = tsr_store_run_finish(store, res->run_id, TSR_RUN_DONE, res->timings, kj, NULL, err);
    free(kj);
    if (st != TSR_OK) goto fail;
  } else if (x.tlen + 2 < sizeof res->timings) {
    res->timings[x.tlen] = '}';
    res->timings[x.tlen + 1] = '\0';
  }
  /* the rows made whole for the caller, unless nothing reads them
   * (release_rows; app/analyze_rows.h), the histories gone first */
  tsr__hist_pack_free(&x.hist);
  if (!opts->release_rows && (st = tsr__arows_expand(res->arows, res->summary, err)) != TSR_OK)
    goto fail;
  progress(&x, "done", 1.0);
  tsr__free(cj);
  held_free(&x);
  for (size_t i = 0; i < x.nrejects; i++) {
    tsr__free(x.rejects[i].field);
    tsr__free(x.rejects[i].reason);
    tsr__free(x.rejects[i].raw);
  }
  tsr__free(x.rejects);
  tsr__free(x.indb_sql);
  tsr__free(x.in_stats);
  tsr__resolved_free(x.resolver);
  tsr__hist_pack_free(&x.hist);
  tsr__free(params), tsr__free(src), tsr__free(io), tsr__free(kept);
  *out = res;
  return TSR_OK;
cancel:
  st = tsr_error_set(err, TSR_ECANCELED, NULL, 0, 0, NULL, "run canceled");
fail:
  if (cj) { /* customers.csv stops with the run, not put in place */
    if (cj_on) cust_join(cj, NULL);
    if (cj_on && cj->tmp[0]) remove(cj->tmp);
    if (cj_on && cj->made_dir) rmdir(opts->out_dir); /* as it was (when still empty) */
    tsr__free(cj);
  }
  if (rj.running) { /* the rows stop with the run (before the plan: they read its labels) */
    pthread_join(rj.th, NULL);
    rj.running = 0;
    x.hold = 0;
    if (rj.st == TSR_OK) tsr_store_rollback(store, NULL);
  }
  plan_release(&pl); /* the side thread stopped first */
  /* begun beside the models: the files stop, the rows are rolled back */
  if (fj_on) files_wait(&fj, NULL);
  if (rows_open) tsr_store_rollback(store, NULL);
  if (x.held_state != 2) held_write(&x, 0); /* rolled back with the rows, or never written */
  held_free(&x);
  if (store && res->run_id > 0) {
    char msg[TSR_ERROR_MSG_MAX + 600] = "";
    if (err) tsr_error_format(err, msg, sizeof msg);
    event(&x, 2, "end", -1, -1, -1, "%s", msg[0] ? msg : tsr_strerror(st));
    tsr_store_run_finish(store, res->run_id, st == TSR_ECANCELED ? TSR_RUN_CANCELED : TSR_RUN_FAILED,
                         NULL, NULL, msg[0] ? msg : tsr_strerror(st), NULL);
  }
  for (size_t i = 0; i < x.nrejects; i++) {
    tsr__free(x.rejects[i].field);
    tsr__free(x.rejects[i].reason);
    tsr__free(x.rejects[i].raw);
  }
  tsr__free(x.rejects);
  tsr__free(x.indb_sql);
  tsr__free(x.in_stats);
  tsr__resolved_free(x.resolver);
  tsr__hist_pack_free(&x.hist);
  if (x.raw != res->ledger) tsr_ledger_free(x.raw); /* not handed to the models */
  tsr__analyze_resolve_free(x.rjob); /* the ingest failed: not re-keyed */
  tsr__free(params), tsr__free(src), tsr__free(io), tsr__free(kept);
  tsr_analyze_result_free(res);
  return st;
}
