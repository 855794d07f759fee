/*
 * analyze_predict.c - churn risk and next-best-product in `tessera analyze`
 * on a bundle (analyze_predict.h).
 *
 * Both models read the bundle's tables and are trained on the latest
 * complete window: cutoff = the last transaction day E - W (W = 90 days),
 * labels on E-W+1 .. E, then every customer is scored with the features at
 * E. Both models borrow one ledger of the raw customer ids (not re-keyed,
 * no anomaly left out: the models' own reading, as `tessera churn` reads
 * the file): the run's own, as ingested, when the run read the bundle's
 * transaction file with the options the models read it with
 * (tsr__analyze_predict_shares: app/analyze.c keeps it aside before the
 * exclusion of anomalies and the re-keying, which build new ledgers; or
 * it is res->ledger itself when neither changed anything, read by both
 * threads, written by none); else (the fallback) the models' thread reads
 * the file again with the default ingest options. Which of the two is said
 * in the event log ("predict"). The ledger is freed as soon as both models
 * are done (lg_refs), by the thread that finishes last.
 *
 * Pipelining (issue 12): tsr__analyze_predict_start runs the models on a
 * second thread as soon as the run's ledger has its final days (app/
 * analyze.c step_ingest: before the re-keying), while the main thread
 * re-keys and computes the summary, RFM, BTYD, clusters and profiles, then
 * writes the files and store rows that do not need the models;
 * tsr__analyze_predict joins it and stores the models. The thread touches only its own ledger, the
 * run's options and the bundle's files (read-only), never res. XGBoost
 * keeps every core: its threads sleep at the barriers (OMP_WAIT_POLICY=
 * PASSIVE, tessera/gbm.h) and the main thread's work fills the gaps, and
 * the models do not wait for a core once the main thread is done. The
 * main thread, reaching the join before the models' thread has begun
 * next-best-product, runs it itself beside churn; the ledger is freed after
 * the join. TESSERA_PREDICT_THREADS=0 runs the models in the main thread at
 * the join point instead (the sequential order).
 */
#include "internal.h"
#include "analyze_predict.h"
#include "base/textbuf.h"
#include "keep_tables.h"
#include "predict/predict_internal.h"

#include <jansson.h>
#include "tessera/bundle.h"
#include "tessera/churn.h"
#include "tessera/datetime.h"
#include "tessera/predict_app.h"
#include "tessera/recommend.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* One model's outcome: ran, and its error when it could not be fitted. */
typedef struct model_out {
  int ran;
  tsr_status st;        /* TSR_OK, TSR_ENOMEM (fails the run) or another
                           error (the model is left out, said in a note) */
  tsr_error err;
} model_out;

struct tsr__predict_out {
  tsr_churn_result *churn;
  tsr_nbp_result *nbp;
  /* the run: set before the thread starts, read-only after */
  const tsr_analyze_opts *o;
  const char *tx;       /* the transaction file (the bundle's) */
  char dir[4096];       /* its folder */
  int64_t cal_end;      /* E - W */
  int products;         /* the bundle has product events: next-best-product */
  char short_note[1024]; /* the span is too short: no model (and why) */
  int pending;          /* 1: the models are still to run, in the main thread */
  /* the prediction thread */
  int in_thread;        /* the models run on th (set before it starts) */
  int threaded;         /* 1: th was started and is not joined yet */
  pthread_t th;
  int nbp_here;         /* next-best-product on the main thread, always
                           (TESSERA_PREDICT_THREADS=2, for the tests) */
  pthread_mutex_t mu;   /* guards the three flags below */
  pthread_cond_t cv;    /* ledger_done was set */
  int ledger_done;      /* lg and pd (or lg_out, pd_out) are final */
  int nbp_claimed;      /* a thread runs (or ran) next-best-product */
  int abandon;          /* the run failed: no further model */
  int lg_refs;          /* the models still to read lg; the last one frees it */
  /* the models' ledger: written before ledger_done, then read-only until
   * both models are done; then freed (lg_release) and set to NULL */
  const tsr_ledger *lg;
  tsr_ledger *lg_own;   /* lg when it is the models' own (else NULL: lg is
                           res->ledger, the run's, never freed here) */
  int shared;           /* 1: lg is the run's ingest (no second reading) */
  /* the tables the models read (lib/predict/pdata.c), read once for both
   * with lg, by the reader of lg: the same lifetime (lg_drop), read-only */
  tsr__pdata pd;
  int has_pd;           /* pd is read (and to be released) */
  char src_note[512];   /* which ledger the models read, for the event log */
  model_out lg_out, pd_out, churn_out, nbp_out;
};

/* Waits for the models' thread; abandon: the run has failed, the models
 * not yet begun are skipped. */
static void predict_join(struct tsr__predict_out *p, int abandon) {
  if (!p || !p->threaded) return;
  pthread_mutex_lock(&p->mu);
  p->abandon = abandon;
  pthread_mutex_unlock(&p->mu);
  pthread_join(p->th, NULL);
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  p->threaded = 0;
}

/* Frees the models' ledger (when theirs) and forgets it. */
static void lg_drop(struct tsr__predict_out *p) {
  if (p->has_pd) tsr__pdata_release(&p->pd); /* it borrows lg */
  p->has_pd = 0;
  tsr_ledger_free(p->lg_own);
  p->lg_own = NULL;
  p->lg = NULL;
}

/* One model reader is done with the ledger: the last one frees it (with
 * p->mu held when the models' thread runs). */
static void lg_release(struct tsr__predict_out *p) {
  if (p->lg_refs > 0 && --p->lg_refs == 0) lg_drop(p);
}

void tsr__analyze_predict_free(struct tsr__predict_out *p) {
  if (!p) return;
  predict_join(p, 1); /* a failed run: the thread reads the run's options */
  lg_drop(p);
  tsr_churn_result_free(p->churn);
  tsr_nbp_result_free(p->nbp);
  tsr__free(p);
}

static void add_note(char *note, size_t cap, const char *what, const tsr_error *e) {
  size_t k = strlen(note);
  if (k + 1 >= cap) return;
  snprintf(note + k, cap - k, "%s%s left out: %s", k ? "; " : "", what, e->msg);
}

/* 1 when the run has failed meanwhile (the thread stops before a model). */
static int abandoned(struct tsr__predict_out *p) {
  if (!p->in_thread) return 0;
  pthread_mutex_lock(&p->mu);
  int a = p->abandon;
  pthread_mutex_unlock(&p->mu);
  return a;
}

static int same_str(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

int tsr__analyze_predict_shares(const tsr_analyze_opts *o, char *why, size_t cap) {
  const char *tx = o->bundle ? tsr_bundle_path(o->bundle, TSR_BT_TRANSACTIONS) : NULL;
  /* read_ledger's options, as tsr__pdata_read's */
  tsr_ingest_opts d;
  tsr_ingest_opts_init(&d);
  if (o->bundle_opts) d.date_format = o->bundle_opts->date_format[TSR_BT_TRANSACTIONS];
  const tsr_ingest_opts *io = &o->ingest;
  size_t mf = io->csv.max_field ? io->csv.max_field : TSR_CSV_DEFAULT_MAX_FIELD;
  size_t mfs = io->csv.max_fields ? io->csv.max_fields : TSR_CSV_DEFAULT_MAX_FIELDS;
  double ma = io->max_amount > 0 ? io->max_amount : TSR_INGEST_MAX_AMOUNT;
  const char *diff = NULL;
  /* what makes a ledger differ; never: threads (the same ledger),
   * max_errors (a run whose ingest stops there fails before the models;
   * else every row was read either way), no_checksum, the callbacks, and
   * the options of the summary (--refunds, --currency, ...), which read
   * the ledger without changing it */
  if (!tx) diff = "no transaction file";
  else if (o->indb_table) diff = "the transactions were read in the database";
  else if (o->n_inputs != 1 || !o->inputs || !same_str(o->inputs[0], tx))
    diff = "the run read another transaction file";
  else if (io->csv.delim != d.csv.delim) diff = "delimiter";
  else if (mf != d.csv.max_field || mfs != d.csv.max_fields) diff = "field limits";
  else if (io->header != d.header) diff = "no header";
  else if (!same_str(io->customer_col, d.customer_col)) diff = "customer column";
  else if (!same_str(io->date_col, d.date_col)) diff = "date column";
  else if (!same_str(io->amount_col, d.amount_col)) diff = "amount column";
  else if (!same_str(io->id_col, d.id_col)) diff = "transaction id column";
  else if (!same_str(io->date_format, d.date_format)) diff = "date format";
  else if (io->dedupe != d.dedupe) diff = "dedupe";
  else if (io->decimal_comma != d.decimal_comma) diff = "decimal comma";
  else if (ma != TSR_INGEST_MAX_AMOUNT) diff = "max amount";
  if (why && cap) snprintf(why, cap, "%s", diff ? diff : "");
  return diff == NULL;
}

/* The transactions as the models read them alone (tsr__pdata_read: default
 * ingest options, the transactions' date form of the bundle options): the
 * fallback, when the run's ledger was read otherwise. */
static void read_ledger(struct tsr__predict_out *p) {
  if (p->lg) return; /* the run's (shared) */
  model_out *m = &p->lg_out;
  m->ran = 1;
  tsr_ledger *lg = NULL;
  m->st = tsr_ledger_new(&lg, &m->err);
  if (m->st != TSR_OK) return;
  tsr_ingest_opts io;
  tsr_ingest_opts_init(&io);
  if (p->o->bundle_opts) io.date_format = p->o->bundle_opts->date_format[TSR_BT_TRANSACTIONS];
  tsr_ingest_stats stats;
  m->st = tsr_ingest_file(lg, p->tx, &io, &stats, &m->err);
  if (m->st == TSR_OK) m->st = tsr_ledger_finish(lg, &m->err);
  if (m->st != TSR_OK) {
    tsr_ledger_free(lg);
    return;
  }
  tsr_ledger_seal(lg); /* the models only read it */
  p->lg = p->lg_own = lg;
}

/* The models' tables, once for both (as each of tsr_churn_run and
 * tsr_nbp_run would read them with the options of run_churn/run_nbp). */
static void read_pdata(struct tsr__predict_out *p) {
  if (!p->lg || p->has_pd) return;
  model_out *m = &p->pd_out;
  m->ran = 1;
  m->st = tsr__pdata_read_tables(p->dir, p->lg, p->o->bundle_opts, p->o->bundle, &p->pd, &m->err);
  p->has_pd = m->st == TSR_OK;
}

static void run_churn(struct tsr__predict_out *p) {
  if (!p->has_pd) return; /* said as pd_out */
  const tsr_analyze_opts *o = p->o;
  tsr_churn_opts co;
  tsr_churn_opts_init(&co);
  co.cal_end_day = p->cal_end;
  co.window_days = TSR_ANALYZE_CHURN_WINDOW;
  co.gbm.seed = o->seed ? o->seed : co.gbm.seed;
  co.ledger = p->lg;
  co.table_opts = o->bundle_opts; /* --rename, --table-date-format */
  co.tables = o->bundle; /* tables named outside the folder (--products FILE) */
  p->churn_out.ran = 1;
  p->churn_out.st = tsr__churn_run_pdata(&p->pd, &co, &p->churn, &p->churn_out.err);
}

static void run_nbp(struct tsr__predict_out *p) {
  if (!p->has_pd) return; /* said as pd_out */
  const tsr_analyze_opts *o = p->o;
  tsr_nbp_opts no;
  tsr_nbp_opts_init(&no);
  no.cal_end_day = p->cal_end;
  no.window_days = TSR_ANALYZE_CHURN_WINDOW;
  no.seed = o->seed ? o->seed : no.seed;
  no.ledger = p->lg;
  no.table_opts = o->bundle_opts;
  no.tables = o->bundle;
  p->nbp_out.ran = 1;
  p->nbp_out.st = tsr__nbp_run_pdata(p->dir, &p->pd, &no, &p->nbp, &p->nbp_out.err);
}

/* The thread: the ledger, churn, then next-best-product unless the main
 * thread has taken it (tsr__analyze_predict). */
static void *predict_thread(void *arg) {
  struct tsr__predict_out *p = arg;
  read_ledger(p);
  read_pdata(p);
  pthread_mutex_lock(&p->mu);
  p->ledger_done = 1;
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
  if (p->lg && !abandoned(p)) {
    run_churn(p);
    pthread_mutex_lock(&p->mu);
    int mine = p->products && !p->nbp_here && !p->nbp_claimed && !p->abandon;
    if (mine) p->nbp_claimed = 1;
    pthread_mutex_unlock(&p->mu);
    if (mine) run_nbp(p);
  }
  pthread_mutex_lock(&p->mu);
  lg_release(p); /* this thread's hold */
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

/* TESSERA_PREDICT_THREADS: 0 the models in the main thread, after the
 * profiles; 2 next-best-product always on the main thread (the tests);
 * else (unset) the models' thread, next-best-product on whichever thread
 * comes to it first. */
static int thread_mode(void) {
  const char *v = getenv("TESSERA_PREDICT_THREADS");
  return !v ? 1 : !strcmp(v, "0") ? 0 : !strcmp(v, "2") ? 2 : 1;
}

tsr_status tsr__analyze_predict_start(const tsr_analyze_opts *o, tsr_analyze_result *res,
                                      tsr_ledger **raw, tsr_error *err) {
  /* the run's ledger as ingested: the models' own when it is not
   * res->ledger (a new one replaced it), else borrowed */
  tsr_ledger *own = NULL;
  const tsr_ledger *lent = NULL;
  if (raw && *raw) {
    if (*raw != res->ledger) own = *raw;
    else lent = *raw;
    *raw = NULL;
  }
  const char *tx = o->bundle ? tsr_bundle_path(o->bundle, TSR_BT_TRANSACTIONS) : NULL;
  if (!tx || !res->ledger || res->predict) {
    tsr_ledger_free(own);
    return TSR_OK;
  }
  struct tsr__predict_out *p = tsr__calloc(1, sizeof *p);
  if (!p) {
    tsr_ledger_free(own);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  res->predict = p;
  p->lg_own = own;
  p->lg = own ? own : lent;
  p->shared = p->lg != NULL;
  if (p->shared) {
    snprintf(p->src_note, sizeof p->src_note,
             "the models read the run's transactions as ingested (raw customer ids%s)",
             own ? ", before the re-keying or the exclusion of anomalies" : "");
  } else {
    char why[128];
    tsr__analyze_predict_shares(o, why, sizeof why);
    snprintf(p->src_note, sizeof p->src_note,
             "the models read the transaction file again with the default options (%s)", why);
  }
  p->o = o;
  p->tx = tx;
  p->products = tsr_bundle_path(o->bundle, TSR_BT_PRODUCTS) != NULL;
  snprintf(p->dir, sizeof p->dir, "%s", tx);
  char *slash = strrchr(p->dir, '/');
  if (slash) *slash = '\0';
  else snprintf(p->dir, sizeof p->dir, ".");
  /* the last transaction day of the run's ledger */
  int64_t first = INT64_MAX, last = INT64_MIN;
  size_t n = tsr_ledger_ncustomers(res->ledger);
  for (size_t i = 0; i < n; i++) {
    int32_t f, l; /* without tsr_ledger_entries' copy of every entry */
    if (!tsr__ledger_day_span(res->ledger, i, &f, &l)) continue;
    if (f < first) first = f;
    if (l > last) last = l;
  }
  const int W = TSR_ANALYZE_CHURN_WINDOW;
  if (n == 0 || last - first < 2 * W) {
    tsr_error e;
    memset(&e, 0, sizeof e);
    tsr_error_set(&e, TSR_EINVAL, NULL, 0, 0, NULL,
                  "the transactions span less than %d days (two churn windows)", 2 * W);
    add_note(p->short_note, sizeof p->short_note, "churn and next-best-product", &e);
    lg_drop(p);
    p->src_note[0] = '\0';
    return TSR_OK; /* no model: said at the join */
  }
  p->cal_end = last - W;
  p->pending = 1; /* without a thread: the main thread runs them at the join */
  int mode = thread_mode();
  /* the thread's hold on the ledger, and the main thread's when it runs
   * next-best-product for sure (mode 2; else it takes a hold when it
   * claims the model) */
  p->lg_refs = 1 + (mode == 2 && p->products);
  if (mode == 0 || pthread_mutex_init(&p->mu, NULL) != 0) return TSR_OK;
  if (pthread_cond_init(&p->cv, NULL) != 0) {
    pthread_mutex_destroy(&p->mu);
    return TSR_OK;
  }
  p->nbp_here = mode == 2;
  p->in_thread = 1;
  if (pthread_create(&p->th, NULL, predict_thread, p) != 0) {
    p->in_thread = 0;
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    return TSR_OK;
  }
  p->pending = 0;
  p->threaded = 1;
  return TSR_OK;
}

int tsr__analyze_predict_early(void) { return thread_mode() != 0; }

void tsr__analyze_predict_adopt(tsr_analyze_result *res, tsr_ledger *raw) {
  if (!raw || raw == res->ledger) return; /* still the run's: freed with res */
  struct tsr__predict_out *p = res->predict;
  int theirs = 0;
  if (p) {
    if (p->threaded) pthread_mutex_lock(&p->mu);
    /* still read by a model: freed by the last reader (lg_release) */
    if (p->lg == raw && !p->lg_own) theirs = 1, p->lg_own = raw;
    if (p->threaded) pthread_mutex_unlock(&p->mu);
    /* as said when the ledger is handed over after a re-keying */
    if (p->shared && p->src_note[0])
      snprintf(p->src_note, sizeof p->src_note, "%s",
               "the models read the run's transactions as ingested (raw customer ids, before the "
               "re-keying or the exclusion of anomalies)");
  }
  if (!theirs) tsr_ledger_free(raw);
}

tsr_status tsr__analyze_predict(const tsr_analyze_opts *o, tsr_store *store,
                                tsr_analyze_result *res, char *note, size_t cap,
                                tsr_error *err) {
  if (cap) note[0] = '\0';
  tsr_status st = tsr__analyze_predict_start(o, res, NULL, err); /* not started yet: now */
  if (st != TSR_OK) return st;
  struct tsr__predict_out *p = res->predict;
  if (!p) return TSR_OK;
  if (p->threaded) {
    /* next-best-product on this thread meanwhile, if the models' thread
     * has its ledger and has not begun it */
    pthread_mutex_lock(&p->mu);
    while (p->nbp_here && !p->ledger_done) pthread_cond_wait(&p->cv, &p->mu);
    int take = p->products && p->ledger_done && p->lg && !p->nbp_claimed;
    if (take) {
      p->nbp_claimed = 1;
      if (!p->nbp_here) p->lg_refs++; /* mode 2: held from the start */
    }
    pthread_mutex_unlock(&p->mu);
    if (take) {
      run_nbp(p);
      pthread_mutex_lock(&p->mu);
      lg_release(p);
      pthread_mutex_unlock(&p->mu);
    }
    predict_join(p, 0);
  }
  if (p->pending) { /* the sequential order */
    p->pending = 0;
    read_ledger(p);
    read_pdata(p);
    if (p->lg) run_churn(p);
    if (p->lg && p->churn_out.st != TSR_ENOMEM && p->products) run_nbp(p);
  }
  lg_drop(p); /* both models are done (the thread may have freed it already) */
  /* out of memory fails the run; a model that cannot be fitted is said */
  const model_out *m[4] = {&p->lg_out, &p->pd_out, &p->churn_out, &p->nbp_out};
  for (int k = 0; k < 4; k++)
    if (m[k]->ran && m[k]->st == TSR_ENOMEM)
      return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  if (cap) {
    snprintf(note, cap, "%s", p->short_note);
    if (p->lg_out.ran && p->lg_out.st != TSR_OK) { /* as each model reading the file */
      add_note(note, cap, "churn", &p->lg_out.err);
      if (p->products) add_note(note, cap, "next-best-product", &p->lg_out.err);
    }
    if (p->pd_out.ran && p->pd_out.st != TSR_OK) { /* the same */
      add_note(note, cap, "churn", &p->pd_out.err);
      if (p->products) add_note(note, cap, "next-best-product", &p->pd_out.err);
    }
    if (p->churn_out.ran && p->churn_out.st != TSR_OK) add_note(note, cap, "churn", &p->churn_out.err);
    if (p->nbp_out.ran && p->nbp_out.st != TSR_OK)
      add_note(note, cap, "next-best-product", &p->nbp_out.err);
  }
  if (store) {
    tsr_model_saved sv;
    if (p->churn && (st = tsr_churn_model_store(store, p->churn, res->run_id, 0, &sv, err)) != TSR_OK)
      return st;
    if (p->nbp && (st = tsr_nbp_model_store(store, p->nbp, res->run_id, 0, &sv, err)) != TSR_OK)
      return st;
  }
  return TSR_OK;
}

const char *tsr__analyze_predict_source(const struct tsr__predict_out *p) {
  return p ? p->src_note : "";
}

/* ------------------------------------------------------------ files */

typedef struct idx {
  const char *id;
  size_t i;
} idx;

static int cmp_idx(const void *a, const void *b) {
  return strcmp(((const idx *)a)->id, ((const idx *)b)->id);
}

static idx *make_index(char **ids, size_t n) {
  idx *v = tsr__malloc((n ? n : 1) * sizeof *v);
  if (!v) return NULL;
  int sorted = 1;
  for (size_t i = 0; i < n; i++) {
    v[i] = (idx){ids[i], i};
    if (sorted && i && strcmp(ids[i - 1], ids[i]) >= 0) sorted = 0;
  }
  if (!sorted) qsort(v, n, sizeof *v, cmp_idx);
  return v;
}

/* One CSV field (the one field writer, tessera/csv.h). */
static void put_field(FILE *f, const char *s) { tsr_csv_put_field(f, s); }

static tsr_status io_error(tsr_error *err, const char *path) {
  return tsr_error_set(err, TSR_EIO, path, 0, 0, NULL, "%s", strerror(errno));
}

/* The prediction columns of profiles.csv: churn_probability,
 * churn_reason_1 (churn), next_best_product and the goals (next best
 * product), looked up by customer id (read only once made: the blocks of
 * profiles.csv are formatted on several threads). */
struct tsr__predict_cols {
  const tsr_churn_result *c;
  const tsr_nbp_result *r;
  idx *ci, *ri;
};

/* The row of id in index v (-1: none), by binary search after trying the
 * entry after the last one found (*hint; ids are unique, so either way
 * finds the same). */
static ptrdiff_t find_next(const idx *v, size_t n, const char *id, size_t *hint) {
  if (*hint + 1 < n && !strcmp(v[*hint + 1].id, id)) return (ptrdiff_t)v[++*hint].i;
  idx key = {id, 0};
  const idx *h = n ? bsearch(&key, v, n, sizeof *v, cmp_idx) : NULL;
  if (!h) return -1;
  *hint = (size_t)(h - v);
  return (ptrdiff_t)h->i;
}

tsr_status tsr__predict_cols_init(const tsr_analyze_result *res, struct tsr__predict_cols **out,
                                  tsr_error *err) {
  *out = NULL;
  const struct tsr__predict_out *p = res->predict;
  if (!p || (!p->churn && !p->nbp)) return TSR_OK;
  struct tsr__predict_cols *pc = tsr__calloc(1, sizeof *pc);
  if (!pc) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  pc->c = p->churn;
  pc->r = p->nbp;
  pc->ci = pc->c ? make_index(pc->c->customer_id, pc->c->n) : NULL;
  pc->ri = pc->r ? make_index(pc->r->customer_id, pc->r->n) : NULL;
  if ((pc->c && !pc->ci) || (pc->r && !pc->ri)) {
    tsr__predict_cols_free(pc);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  *out = pc;
  return TSR_OK;
}

void tsr__predict_cols_free(struct tsr__predict_cols *pc) {
  if (!pc) return;
  tsr__free(pc->ci);
  tsr__free(pc->ri);
  tsr__free(pc);
}

void tsr__predict_cols_head(void *ctx, FILE *out) {
  const struct tsr__predict_cols *pc = ctx;
  if (pc->c) fputs(",churn_probability,churn_reason_1", out);
  if (pc->r) fputs(",next_best_product", out);
  for (int g = 0; pc->r && g < TSR_NBP_NGOALS; g++) fprintf(out, ",goal_%s", tsr_nbp_goal_name(g));
}

/* "%.4f" of v (tsr__put_fixed's text) appended to out. */
static void tb_fixed4(tsr__tb *out, double v) {
  char t[64];
  size_t k = tsr__fmt_fixed(v, 4, t, sizeof t);
  if (k < sizeof t) {
    if (tsr__tb_reserve(out, k) == 0) {
      memcpy(out->s + out->len, t, k);
      out->len += k;
    }
  } else {
    tsr__tb_printf(out, "%.4f", v); /* huge |v|: hundreds of digits */
  }
}

/* s as one CSV field (tsr_csv_put_field's text) appended to out. */
static void tb_field(tsr__tb *out, const char *s) {
  if (s && tsr__tb_reserve(out, 2 * strlen(s) + 3) == 0) out->len += tsr_csv_quote(out->s + out->len, s, 0);
}

static void tb_lit(tsr__tb *out, const char *s) {
  size_t k = strlen(s);
  if (tsr__tb_reserve(out, k) == 0) {
    memcpy(out->s + out->len, s, k);
    out->len += k;
  }
}

/* The columns of the customer whose id is id, appended to out. */
void tsr__predict_cols_row(void *ctx, size_t i, const char *id, struct tsr__tb_s *out) {
  (void)i;
  struct tsr__predict_cursor *cur = ctx;
  const struct tsr__predict_cols *pc = cur->pc;
  const tsr_churn_result *c = pc->c;
  const tsr_nbp_result *r = pc->r;
  char buf[160];
  if (c) {
    ptrdiff_t i = find_next(pc->ci, c->n, id, &cur->hc);
    if (i >= 0) {
      tb_lit(out, ",");
      tb_fixed4(out, c->probability[i]);
      tb_lit(out, ",");
      tb_field(out, tsr_churn_reason(c, (size_t)i, 0, buf, sizeof buf));
    } else {
      tb_lit(out, ",,");
    }
  }
  if (r) {
    ptrdiff_t i = find_next(pc->ri, r->n, id, &cur->hr);
    tb_lit(out, ",");
    if (i >= 0 && r->top && r->rec[(size_t)i * r->top].product >= 0)
      tb_field(out, r->products[r->rec[(size_t)i * r->top].product]);
    /* the goal propensities: P(opening a product of the family in W days) */
    for (int g = 0; g < TSR_NBP_NGOALS; g++) {
      tb_lit(out, ",");
      if (i >= 0) tb_fixed4(out, (double)r->goal[i][g]);
    }
  }
}

static tsr_status write_one(const char *dir, const char *name, const void *obj, int kind,
                            tsr_error *err) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (!f) return io_error(err, path);
  tsr_status st = TSR_OK;
  if (kind == 0) {
    st = tsr_churn_write_csv(obj, f, err);
  } else if (kind == 1) {
    char *js = NULL;
    st = tsr_churn_eval_json(obj, &js, err);
    if (st == TSR_OK) fprintf(f, "%s\n", js);
    free(js);
  } else if (kind == 2) {
    st = tsr_nbp_write_csv(obj, f, err);
  } else {
    st = tsr_nbp_write_goals_csv(obj, f, err);
  }
  if (fclose(f) != 0 && st == TSR_OK) st = io_error(err, path);
  if (st != TSR_OK) remove(path);
  return st;
}

static tsr_status add_file(json_t *files, const char *name, tsr_error *err) {
  if (json_array_append_new(files, json_string(name)) != 0)
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  return TSR_OK;
}

/* churn.csv, churn_eval.json, nbp.csv, goals.csv (listed in files). */
static tsr_status write_models(const struct tsr__predict_out *p, const char *dir, json_t *files,
                               tsr_error *err) {
  tsr_status st;
  if (p->churn) {
    if ((st = write_one(dir, "churn.csv", p->churn, 0, err)) != TSR_OK) return st;
    if ((st = write_one(dir, "churn_eval.json", p->churn, 1, err)) != TSR_OK) return st;
    if ((st = add_file(files, "churn.csv", err)) != TSR_OK ||
        (st = add_file(files, "churn_eval.json", err)) != TSR_OK)
      return st;
  }
  if (p->nbp) {
    if ((st = write_one(dir, "nbp.csv", p->nbp, 2, err)) != TSR_OK) return st;
    if ((st = write_one(dir, "goals.csv", p->nbp, 3, err)) != TSR_OK) return st;
    if ((st = add_file(files, "nbp.csv", err)) != TSR_OK ||
        (st = add_file(files, "goals.csv", err)) != TSR_OK)
      return st;
  }
  return TSR_OK;
}

tsr_status tsr__analyze_predict_write(const tsr_analyze_result *r, const char *dir, json_t *files,
                                      tsr_error *err) {
  const struct tsr__predict_out *p = r->predict;
  if (!p || (!p->churn && !p->nbp)) return TSR_OK;
  return write_models(p, dir, files, err);
}

/* ------------------------------------------------------------ kept bundle */

/* Day number of epoch seconds t (floor). */
static int64_t day_of_t(int64_t t) { return t >= 0 ? t / 86400 : -((-t + 86399) / 86400); }

static void put_value(FILE *f, const tsr_value *v, tsr_coltype type) {
  char b[32];
  if (!v->present) return;
  if (type == TSR_COL_DATE) {
    int64_t day = day_of_t(v->t), sec = v->t - day * 86400;
    fputs(tsr_day_format(day, b), f);
    if (sec) fprintf(f, "T%02d:%02d:%02d", (int)(sec / 3600), (int)(sec / 60 % 60), (int)(sec % 60));
  } else if (type == TSR_COL_NUMBER || type == TSR_COL_FLAG) {
    fprintf(f, "%.17g", v->num);
  } else {
    put_field(f, v->s);
  }
}

/* Writes table t of the bundle to path with the columns cols (standard
 * names, ISO dates), read with the run's bundle options (renames, date
 * forms) so the copy reads back with the defaults. Rejected rows are left
 * out (the run has reported them). */
static tsr_status keep_table(const tsr_analyze_opts *o, tsr_bundle_table t, const int *cols,
                             int ncols, const char *path, tsr_error *err) {
  tsr_bundle_opts bo;
  if (o->bundle_opts) bo = *o->bundle_opts;
  else tsr_bundle_opts_init(&bo);
  bo.on_reject = NULL;
  bo.on_note = NULL;
  bo.max_errors = -1;
  tsr_bundle_reader *rd = NULL;
  tsr_status st = tsr_bundle_open_table(o->bundle, t, &bo, &rd, err);
  if (st != TSR_OK) return st;
  FILE *f = fopen(path, "w");
  if (!f) {
    tsr_bundle_reader_close(rd);
    return io_error(err, path);
  }
  for (int c = 0; c < ncols; c++)
    fprintf(f, "%s%s", c ? "," : "", tsr_bundle_column_name(t, (size_t)cols[c]));
  fputc('\n', f);
  tsr_bundle_row row;
  while ((st = tsr_bundle_next(rd, &row, err)) == TSR_OK) {
    for (int c = 0; c < ncols; c++) {
      if (c) fputc(',', f);
      if (t == TSR_BT_PRODUCTS && cols[c] == TSR_PE_EVENT)
        fputs(row.v[TSR_PE_EVENT].present && row.v[TSR_PE_EVENT].num < 0 ? "close" : "open", f);
      else
        put_value(f, &row.v[cols[c]], tsr_bundle_column_type(t, (size_t)cols[c]));
    }
    fputc('\n', f);
  }
  if (st == TSR_ENOTFOUND) st = TSR_OK;
  tsr_bundle_reader_close(rd);
  if (fclose(f) != 0 && st == TSR_OK) st = io_error(err, path);
  if (st != TSR_OK) remove(path);
  return st;
}

tsr_status tsr__analyze_keep_bundle(const tsr_analyze_opts *o, const char *sum, char **out,
                                    tsr_error *err) {
  static const int cu[] = {TSR_CU_CUSTOMER_ID, TSR_CU_BIRTH_DATE, TSR_CU_JOIN_DATE,
                           TSR_CU_INCOME_BAND, TSR_CU_RISK_SCORE};
  static const int pe[] = {TSR_PE_CUSTOMER_ID, TSR_PE_DATE, TSR_PE_PRODUCT, TSR_PE_EVENT};
  static const int in[] = {TSR_IN_CUSTOMER_ID, TSR_IN_TIMESTAMP, TSR_IN_CHANNEL, TSR_IN_TOPIC,
                           TSR_IN_MESSAGE};
  static const struct {
    tsr_bundle_table t;
    const int *cols;
    int n;
    const char *name;
  } tabs[] = {{TSR_BT_CUSTOMERS, cu, 5, "customers.csv"},
              {TSR_BT_PRODUCTS, pe, 4, "products_events.csv"},
              {TSR_BT_INTERACTIONS, in, 5, "interactions.csv"}};
  static const char *const files[] = {"transactions.csv", "customers.csv", "products_events.csv",
                                      "interactions.csv"};
  *out = NULL;
  /* written to a staging folder, then moved to a folder named by the
   * checksum and the tables' hash (keep_tables.h): keeping the same
   * transactions with other tables never rewrites an older dataset's copy */
  char stage[4096], dir[4096], path[4200];
  tsr_status st =
      tsr__keep_stage(o->keep_dir, sum, files, TSR__ARRAY_LEN(files), stage, sizeof stage, err);
  if (st != TSR_OK) return st;
  snprintf(path, sizeof path, "%s/transactions.csv", stage);
  st = tsr__copy_file(o->inputs[0], path, err);
  for (size_t k = 0; st == TSR_OK && k < TSR__ARRAY_LEN(tabs); k++) {
    char tp[4200];
    snprintf(tp, sizeof tp, "%s/%s", stage, tabs[k].name);
    if (tsr_bundle_path(o->bundle, tabs[k].t))
      st = keep_table(o, tabs[k].t, tabs[k].cols, tabs[k].n, tp, err);
  }
  if (st != TSR_OK) {
    tsr__keep_discard(stage, files, TSR__ARRAY_LEN(files));
    return st;
  }
  st = tsr__keep_seal(stage, o->keep_dir, sum, files, TSR__ARRAY_LEN(files), TSR__ARRAY_LEN(tabs),
                      dir, sizeof dir, err);
  snprintf(path, sizeof path, "%s/transactions.csv", dir);
  if (st == TSR_OK && !(*out = tsr__strdup(path)))
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  return st;
}
