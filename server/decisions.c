/*
 * decisions.c - offer decisions of `tessera serve` (docs/api.md,
 * "Decisions"): POST /api/v1/decisions chooses an offer for a customer with
 * the configured bandit policy (tessera/bandit.h) among the offers of
 * --offers whose eligibility rule the customer's profile meets, and records
 * the decision with its propensity; POST /api/v1/decisions/{id}/reward feeds
 * the outcome back (once: a second reward is refused, never counted).
 *
 * State: one bandit behind a mutex. Profiles come from the newest finished
 * run in the store (loaded at the first request); a watcher thread looks for
 * a newer run every second and swaps its profiles in without a restart
 * (requests hold a reference on the set they use). Decisions and rewards are
 * written by a writer thread in group commits every 20 ms (and at shutdown)
 * into act_decisions (tessera/store_act.h), never under the bandit lock; at
 * the first request after a start the policy state is rebuilt by replaying
 * the stored rewards, so it survives restarts.
 *
 * Memory is bounded: the last --decision-window decisions of this process
 * (default 65,536, about 200 bytes each) are kept in a ring indexed by the
 * counter in their id; a reward or GET for any other decision (older, or
 * made before a restart) looks it up in the store. The writer's queues hold
 * at most a quarter of the window (a request waits for room), so a decision
 * leaving the ring is always stored. A reward counts once: in the ring it
 * is marked under the bandit lock; from the store it is applied with
 * "UPDATE ... WHERE reward IS NULL" while the writer is paused and after
 * the queued rewards were searched.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "srv.h"
#include "tessera/bandit.h"
#include "tessera/csv.h"
#include "tessera/store_act.h"
#include "tessera/table.h"

#define DEC_FLUSH_MS 20
#define DEC_RUN_CHECK_MS 1000
#define DEC_ID_MAX 40
#define DEC_WINDOW_DEFAULT 65536
#define DEC_QUEUE_MAX 4096 /* items of one writer queue (and at most window / 4) */

typedef struct cust {
  char *id;
  uint32_t seg;
  double x[TSR_BANDIT_PROFILE_DIM];
  tsr_offer_profile p;
  char *products; /* owned: p.products */
} cust;

typedef struct rec {
  char id[DEC_ID_MAX];
  uint32_t seg;
  uint32_t arm;     /* UINT32_MAX: offer no longer configured */
  uint8_t rewarded;
  double reward;
  double propensity;
  int64_t ts;
  double x[TSR_BANDIT_PROFILE_DIM];
  char customer_id[64]; /* first 63 bytes, for GET */
} rec;

typedef struct pend_dec {
  char id[DEC_ID_MAX];
  char customer_id[257];
  double x[TSR_BANDIT_PROFILE_DIM]; /* stored as text "x0;x1;..." */
  const char *offer_id, *segment;
  double propensity;
  int64_t ts;
} pend_dec;

typedef struct pend_rew {
  char id[DEC_ID_MAX];
  double reward;
  int64_t ts;
} pend_rew;

/* The customers of one run (immutable once published; freed by the last
 * reference). */
typedef struct profset {
  atomic_int refs;
  int64_t run_id;
  cust *cu; /* sorted by id */
  size_t ncu, capcu;
  char **words; /* interned word fields of profiles.csv (income_band ...) */
  size_t nwords, capwords;
  size_t nprof; /* customers with a profiles.csv row */
} profset;

typedef struct decisions {
  srv *S;
  pthread_mutex_t mu;
  int loaded;           /* profiles loaded, bandit built, state replayed */
  char load_err[300];
  /* offers */
  size_t K;
  char **offer_id, **offer_name;
  tsr_offer_rule **rule;
  tsr_bandit_opts bo;
  tsr_bandit *b;
  tsr_rng g;
  /* profiles: the current set (under mu) and the segment names, an array of
   * TSR_BANDIT_MAX_SEGMENTS never moved (appended by the one loader at a
   * time: the first request, then the watcher) */
  profset *ps;
  char **segs;
  size_t nsegs;
  int64_t failed_run; /* a newer run whose profiles could not be loaded */
  /* decisions of this process: decision no (the counter in its id) is in
   * ring[no % W] while counter - no < W */
  rec *ring;
  size_t W;
  uint64_t prefix, counter;
  int64_t total; /* decisions replayed at the start + made since */
  /* writer: queues of at most qmax items each (qd, qr) and the writer's
   * batch buffers (bd, br, swapped with them); wmu is held by the writer
   * from taking a batch to its commit */
  pthread_mutex_t qmu, wmu;
  pthread_cond_t qcv, qroom;
  size_t qmax;
  pend_dec *qd, *bd;
  size_t nqd;
  pend_rew *qr, *br;
  size_t nqr;
  int stop;
  pthread_t writer, watcher;
  int writer_on, watcher_on;
  pthread_cond_t wcv; /* the watcher's sleep (with qmu) */
  atomic_llong written, write_errors;
} decisions;

/* ---------------------------------------------------------------- ring */

/* The value of n hex digits at p, or -1 when one is not a hex digit. */
static int64_t hexval(const char *p, int n, uint64_t *out) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) {
    char c = p[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return -1;
    v = v << 4 | (uint64_t)d;
  }
  *out = v;
  return 0;
}

/* The record of decision id when it is one of the last W of this process
 * ("d<16 hex prefix>-<10 hex counter>"), else NULL (under mu). */
static rec *ring_find(decisions *D, const char *id) {
  uint64_t pre, no;
  if (id[0] != 'd' || strlen(id) != 28 || id[17] != '-' || hexval(id + 1, 16, &pre) ||
      hexval(id + 18, 10, &no) || pre != D->prefix || no == 0 || no > D->counter || D->counter - no >= D->W)
    return NULL;
  rec *R = &D->ring[no % D->W];
  return strcmp(R->id, id) ? NULL : R;
}

/* ---------------------------------------------------------------- writer */

static void *writer_main(void *arg) {
  decisions *D = arg;
  tsr_store *st = NULL;
  size_t Q = D->qmax;
  tsr_act_decision *rows = calloc(Q, sizeof *rows);
  char(*feat)[24 * TSR_BANDIT_PROFILE_DIM] = malloc(Q * sizeof *feat);
  const char **ids = calloc(Q, sizeof *ids);
  double *rw = calloc(Q, sizeof *rw);
  int64_t *rts = calloc(Q, sizeof *rts);
  for (;;) {
    pthread_mutex_lock(&D->qmu);
    if (!D->stop && !D->nqd && !D->nqr) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += DEC_FLUSH_MS * 1000000L;
      if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&D->qcv, &D->qmu, &ts);
    }
    pthread_mutex_unlock(&D->qmu);
    /* take the queues (swap with the empty batch buffers), then write them
     * with wmu held (lock order: wmu, then qmu) */
    pthread_mutex_lock(&D->wmu);
    pthread_mutex_lock(&D->qmu);
    pend_dec *bd = D->qd;
    pend_rew *br = D->qr;
    size_t nqd = D->nqd, nqr = D->nqr;
    D->qd = D->bd;
    D->bd = bd;
    D->qr = D->br;
    D->br = br;
    D->nqd = D->nqr = 0;
    int stop = D->stop;
    pthread_cond_broadcast(&D->qroom);
    pthread_mutex_unlock(&D->qmu);
    if (nqd || nqr) {
      tsr_error err;
      tsr_error_clear(&err);
      if (!st && tsr_store_open(D->S->db, TSR_STORE_CREATE, &st, &err) != TSR_OK) st = NULL;
      tsr_status s = TSR_ENOMEM;
      if (st && rows && feat && ids && rw && rts) {
        for (size_t i = 0; i < nqd; i++) {
          size_t o = 0;
          for (int j = 0; j < TSR_BANDIT_PROFILE_DIM; j++)
            o += (size_t)snprintf(feat[i] + o, sizeof feat[i] - o, "%s%.9g", j ? ";" : "", bd[i].x[j]);
          rows[i] = (tsr_act_decision){bd[i].id, bd[i].ts, bd[i].customer_id, bd[i].offer_id,
                                       tsr_bandit_policy_name(D->bo.policy), bd[i].segment,
                                       bd[i].propensity, feat[i], NAN, 0};
        }
        for (size_t i = 0; i < nqr; i++) {
          ids[i] = br[i].id;
          rw[i] = br[i].reward;
          rts[i] = br[i].ts;
        }
        s = tsr_act_write(st, rows, nqd, ids, rw, rts, nqr, NULL, &err);
      }
      if (s == TSR_OK) {
        atomic_fetch_add(&D->written, (long long)(nqd + nqr));
      } else {
        atomic_fetch_add(&D->write_errors, 1);
        fprintf(stderr, "tessera: decisions: %zu decisions and %zu rewards not stored: %s\n", nqd,
                nqr, err.msg[0] ? err.msg : tsr_strerror(s));
      }
    }
    pthread_mutex_unlock(&D->wmu);
    if (stop) {
      pthread_mutex_lock(&D->qmu);
      int more = D->nqd || D->nqr;
      pthread_mutex_unlock(&D->qmu);
      if (!more) break;
    }
  }
  free(rows);
  free(feat);
  free(ids);
  free(rw);
  free(rts);
  tsr_store_close(st);
  return NULL;
}

/* Locks mu and then qmu with room for one more item in the decisions
 * queue (rewards: 0) or the rewards queue (1), waiting for the writer when
 * it is full: 0; -1 (nothing locked) when the server stops meanwhile. */
static int lock_room(decisions *D, int rewards) {
  for (;;) {
    pthread_mutex_lock(&D->mu);
    pthread_mutex_lock(&D->qmu);
    if ((rewards ? D->nqr : D->nqd) < D->qmax) return 0;
    pthread_mutex_unlock(&D->mu);
    while ((rewards ? D->nqr : D->nqd) >= D->qmax && !D->stop) pthread_cond_wait(&D->qroom, &D->qmu);
    int stop = D->stop;
    pthread_mutex_unlock(&D->qmu);
    if (stop) return -1;
  }
}

static void unlock_room(decisions *D) {
  pthread_mutex_unlock(&D->qmu);
  pthread_mutex_unlock(&D->mu);
}

/* ---------------------------------------------------------------- loading */

/* The index of segment name (0: none); add: append a new name (the loader
 * only). */
static uint32_t seg_index(decisions *D, const char *name, int add) {
  if (!name || !*name) return 0;
  for (size_t i = 1; i < D->nsegs; i++)
    if (!strcmp(D->segs[i], name)) return (uint32_t)i;
  if (!add || D->nsegs >= TSR_BANDIT_MAX_SEGMENTS) return 0;
  char *s = strdup(name);
  if (!s) return 0;
  D->segs[D->nsegs] = s;
  return (uint32_t)D->nsegs++;
}

typedef struct run_pick {
  int64_t id;
  char dir[4096]; /* the run's output_dir, "" when none */
} run_pick;

static int pick_run(void *ctx, const tsr_run *r) {
  run_pick *p = ctx;
  if (r->status == TSR_RUN_DONE && r->n_customers > 0 && !p->id) {
    p->id = r->id;
    snprintf(p->dir, sizeof p->dir, "%s", r->output_dir ? r->output_dir : "");
  }
  return 0;
}

static void profset_free(profset *P) {
  if (!P) return;
  for (size_t i = 0; i < P->ncu; i++) free(P->cu[i].id), free(P->cu[i].products);
  free(P->cu);
  for (size_t i = 0; i < P->nwords; i++) free(P->words[i]);
  free(P->words);
  free(P);
}

/* Drops a reference; the last one frees the set. */
static void profset_put(profset *P) {
  if (P && atomic_fetch_sub(&P->refs, 1) == 1) profset_free(P);
}

typedef struct load_ctx {
  decisions *D;
  profset *P;
} load_ctx;

static int load_cust(void *ctx, const tsr_customer *c) {
  load_ctx *L = ctx;
  profset *P = L->P;
  if (P->ncu == P->capcu) {
    size_t cap = P->capcu ? 2 * P->capcu : 4096;
    cust *p = realloc(P->cu, cap * sizeof *p);
    if (!p) return 1;
    P->cu = p;
    P->capcu = cap;
  }
  cust *u = &P->cu[P->ncu];
  u->id = strdup(c->customer_id);
  if (!u->id) return 1;
  u->seg = seg_index(L->D, c->segment, 1);
  tsr_bandit_profile_features(c->frequency, c->recency, c->T, c->monetary_value, c->p_alive, c->clv, u->x);
  tsr_offer_profile_init(&u->p);
  u->p.frequency = c->frequency;
  u->p.recency = c->recency;
  u->p.T = c->T;
  u->p.monetary_value = c->monetary_value;
  u->p.revenue = c->revenue;
  u->p.p_alive = c->p_alive;
  u->p.clv = c->clv;
  u->products = NULL;
  P->ncu++;
  return 0;
}

static int cmp_cust(const void *a, const void *b) {
  return strcmp(((const cust *)a)->id, ((const cust *)b)->id);
}

static const cust *cust_find(const profset *P, const char *id) {
  cust key = {0};
  key.id = (char *)id;
  return bsearch(&key, P->cu, P->ncu, sizeof *P->cu, cmp_cust);
}

static ptrdiff_t offer_index(const decisions *D, const char *id) {
  for (size_t k = 0; k < D->K; k++)
    if (!strcmp(D->offer_id[k], id)) return (ptrdiff_t)k;
  return -1;
}

/* Feeds a reward into the bandit (binary rewards as 0/1). */
static void learn(decisions *D, const rec *r) {
  if (!r->rewarded || r->arm == UINT32_MAX) return;
  double rw = r->reward;
  if (D->bo.reward == TSR_REWARD_BINARY) rw = rw > 0 ? 1 : 0;
  tsr_bandit_update(D->b, r->seg < D->bo.n_segments ? r->seg : 0, r->x, r->arm, rw, NULL);
}

/* A stored decision as a record (offer and segment as indexes; the
 * segment may be beyond the bandit's until it grows: learn maps it to 0). */
static void rec_from_row(decisions *D, const tsr_act_decision *d, rec *out) {
  rec r;
  memset(&r, 0, sizeof r);
  snprintf(r.id, sizeof r.id, "%.39s", d->id);
  snprintf(r.customer_id, sizeof r.customer_id, "%.63s", d->customer_id);
  ptrdiff_t k = offer_index(D, d->offer_id);
  r.arm = k < 0 ? UINT32_MAX : (uint32_t)k;
  r.seg = seg_index(D, d->segment, 0);
  r.propensity = d->propensity;
  r.ts = d->ts;
  const char *p = d->features ? d->features : "";
  for (int j = 0; j < TSR_BANDIT_PROFILE_DIM; j++) {
    char *end = NULL;
    r.x[j] = strtod(p, &end);
    p = end && *end == ';' ? end + 1 : (end ? end : p);
  }
  r.rewarded = (uint8_t)!isnan(d->reward); /* 0 or 1 */
  r.reward = d->reward;
  *out = r;
}

static int replay_cb(void *ctx, const tsr_act_decision *d) {
  decisions *D = ctx;
  rec r;
  rec_from_row(D, d, &r);
  learn(D, &r);
  D->total++;
  return 0;
}

/* The first stored decision of tsr_act_decision_get (found: 1). */
typedef struct got_rec {
  decisions *D;
  rec r;
  int found;
} got_rec;

static int got_cb(void *ctx, const tsr_act_decision *d) {
  got_rec *g = ctx;
  if (!g->found) rec_from_row(g->D, d, &g->r);
  g->found = 1;
  return 0;
}

/* Decision id from the store into g (g->found 0: none); -1 with the error
 * sent as *ret. The caller holds wmu (not mu: no store access under the
 * bandit lock). */
static int stored_get(srv_req *r, decisions *D, tsr_store *st, const char *id, got_rec *g, enum MHD_Result *ret) {
  tsr_error err;
  tsr_error_clear(&err);
  memset(g, 0, sizeof *g);
  g->D = D;
  tsr_status s = tsr_act_decision_get(st, id, got_cb, g, &err);
  if (s == TSR_OK || s == TSR_ENOTFOUND) return 0;
  *ret = srv_send_error(r, 503, "ESTORE", "decision '%.60s': %s", id, err.msg[0] ? err.msg : tsr_strerror(s));
  return -1;
}

/* Interned copy of a word field ("" and "unknown" = NULL); *oom on failure. */
static const char *word_intern(profset *P, const char *w, int *oom) {
  if (!*w || !strcmp(w, "unknown")) return NULL;
  for (size_t i = 0; i < P->nwords; i++)
    if (!strcmp(P->words[i], w)) return P->words[i];
  if (P->nwords == P->capwords) {
    size_t c = P->capwords ? 2 * P->capwords : 32;
    char **p = realloc(P->words, c * sizeof *p);
    if (!p) return (*oom = 1), NULL;
    P->words = p;
    P->capwords = c;
  }
  char *x = strdup(w);
  if (!x) return (*oom = 1), NULL;
  return P->words[P->nwords++] = x;
}

/* The bundle profile fields of the eligibility rules (docs/act.md) from
 * dir/profiles.csv of the decisions' run, joined on customer_id; a run
 * without that file (transactions only) leaves them unknown. -1 out of memory. */
static int load_profiles(profset *P, const char *dir) {
  enum { P_ID, P_AGE, P_RISK, P_DIGITAL, P_TENURE, P_NPROD, P_INCOME, P_STAGE, P_RISKBAND, P_CHANNEL, P_PRODUCTS, NP };
  static const char *const want[NP] = {"customer_id", "age", "risk_score", "digital_share", "tenure_years",
                                       "product_count", "income_band", "life_stage", "risk_band",
                                       "channel_preference", "products"};
  char path[4200];
  P->nprof = 0;
  int n = snprintf(path, sizeof path, "%s/profiles.csv", dir);
  if (!dir[0] || n < 0 || (size_t)n >= sizeof path) return 0;
  tsr_csv_opts o;
  tsr_csv_opts_init(&o);
  tsr_csv *c = NULL;
  tsr_csv_record rec;
  if (tsr_csv_open(path, &o, &c, NULL) != TSR_OK) return 0;
  int idx[NP], oom = 0;
  for (int i = 0; i < NP; i++) idx[i] = -1;
  if (tsr_csv_next(c, &rec, NULL) == TSR_OK)
    for (size_t f = 0; f < rec.nfields; f++)
      for (int i = 0; i < NP; i++)
        if (idx[i] < 0 && !strcmp(rec.fields[f].ptr, want[i])) idx[i] = (int)f;
  tsr_status s;
  while (idx[P_ID] >= 0 && !oom && (s = tsr_csv_next(c, &rec, NULL)) != TSR_ENOTFOUND && s != TSR_EIO) {
    if (s != TSR_OK) continue;
    const char *v[NP];
    for (int i = 0; i < NP; i++) v[i] = idx[i] >= 0 && (size_t)idx[i] < rec.nfields ? rec.fields[idx[i]].ptr : "";
    cust *u = (cust *)cust_find(P, v[P_ID]);
    if (!u) continue;
    double *num[] = {&u->p.age, &u->p.risk_score, &u->p.digital_share, &u->p.tenure_years, &u->p.product_count};
    for (int i = P_AGE; i <= P_NPROD; i++) {
      char *end = NULL;
      double x = strtod(v[i], &end);
      *num[i - P_AGE] = *v[i] && end && !*end && isfinite(x) ? x : NAN;
    }
    const char **w[] = {&u->p.income_band, &u->p.life_stage, &u->p.risk_band, &u->p.channel_preference};
    for (int i = P_INCOME; i <= P_CHANNEL; i++) *w[i - P_INCOME] = word_intern(P, v[i], &oom);
    free(u->products);
    u->products = idx[P_PRODUCTS] >= 0 ? strdup(v[P_PRODUCTS]) : NULL;
    if (idx[P_PRODUCTS] >= 0 && !u->products) oom = 1;
    u->p.products = u->products;
    P->nprof++;
  }
  tsr_csv_close(c);
  return oom ? -1 : 0;
}

/* The profiles of run rp (its customers in the store and its profiles.csv):
 * *out with one reference, or -1 with msg. New segment names are added to
 * D->segs (the caller is the one loader). */
static int profset_load(decisions *D, tsr_store *st, const run_pick *rp, profset **out, char *msg, size_t cap) {
  tsr_error err;
  tsr_error_clear(&err);
  *out = NULL;
  profset *P = calloc(1, sizeof *P);
  if (!P) return snprintf(msg, cap, "out of memory"), -1;
  atomic_init(&P->refs, 1);
  P->run_id = rp->id;
  tsr_customer_query q;
  tsr_customer_query_init(&q, rp->id);
  load_ctx L = {D, P};
  if (tsr_store_customers_list(st, &q, load_cust, &L, &err) != TSR_OK) {
    snprintf(msg, cap, "cannot read the customers of run %lld: %.200s", (long long)rp->id,
             err.msg[0] ? err.msg : "out of memory");
    profset_free(P);
    return -1;
  }
  qsort(P->cu, P->ncu, sizeof *P->cu, cmp_cust);
  for (size_t i = 0; i < P->ncu; i++) P->cu[i].p.segment = P->cu[i].seg ? D->segs[P->cu[i].seg] : NULL;
  if (load_profiles(P, rp->dir) < 0) {
    snprintf(msg, cap, "cannot read the profiles of run %lld: out of memory", (long long)rp->id);
    profset_free(P);
    return -1;
  }
  *out = P;
  return 0;
}

/* Loads profiles, builds the bandit and replays the stored rewards (under
 * D->mu). 0, or -1 with D->load_err (and *http the status to send). */
static int ensure_loaded(decisions *D, tsr_store *st, int *http) {
  if (D->loaded) return 0;
  tsr_error err;
  tsr_error_clear(&err);
  run_pick rp = {0};
  *http = 503;
  if (tsr_store_runs_list(st, 1000, 0, pick_run, &rp, &err) != TSR_OK) {
    snprintf(D->load_err, sizeof D->load_err, "cannot list runs: %.200s", err.msg);
    return -1;
  }
  if (!rp.id) {
    *http = 409;
    snprintf(D->load_err, sizeof D->load_err,
             "no finished analysis with customers in the store: decisions need customer profiles "
             "(run an analysis first)");
    return -1;
  }
  profset *P = NULL;
  if (profset_load(D, st, &rp, &P, D->load_err, sizeof D->load_err)) return -1;
  D->bo.n_segments = D->nsegs;
  if (tsr_bandit_new(&D->bo, &D->b, &err) != TSR_OK) {
    snprintf(D->load_err, sizeof D->load_err, "policy: %.200s", err.msg);
    profset_put(P);
    return -1;
  }
  D->total = 0;
  if (tsr_act_decisions_list(st, replay_cb, D, &err) != TSR_OK) {
    snprintf(D->load_err, sizeof D->load_err, "cannot replay the stored decisions: %.200s", err.msg);
    tsr_bandit_free(D->b);
    D->b = NULL;
    profset_put(P);
    return -1;
  }
  fprintf(stderr, "tessera: decisions: %zu offers, policy %s, %zu profiles of run %lld (%zu with "
                  "the bundle fields of profiles.csv), %zu stored decisions replayed (%lld rewards)\n",
          D->K, tsr_bandit_policy_name(D->bo.policy), P->ncu, (long long)rp.id, P->nprof, (size_t)D->total,
          (long long)tsr_bandit_updates(D->b));
  D->ps = P;
  D->loaded = 1;
  return 0;
}

/* A newer run than the loaded one: its profiles replace the current set.
 * New segments grow the bandit (starting at the prior).
 * Runs in the watcher, which is the only loader once D->loaded. */
static void reload_if_newer(decisions *D, tsr_store *st) {
  run_pick rp = {0};
  if (tsr_store_runs_list(st, 1000, 0, pick_run, &rp, NULL) != TSR_OK || !rp.id) return;
  pthread_mutex_lock(&D->mu);
  int64_t cur = D->ps ? D->ps->run_id : 0;
  pthread_mutex_unlock(&D->mu);
  if (rp.id == cur || rp.id == D->failed_run) return;
  profset *P = NULL;
  char msg[300];
  if (profset_load(D, st, &rp, &P, msg, sizeof msg)) {
    D->failed_run = rp.id;
    fprintf(stderr, "tessera: decisions: the profiles of run %lld are not used: %s\n", (long long)rp.id, msg);
    return;
  }
  pthread_mutex_lock(&D->mu);
  if (D->nsegs > D->bo.n_segments && tsr_bandit_grow_segments(D->b, D->nsegs, NULL) == TSR_OK)
    D->bo.n_segments = D->nsegs; /* else: the new segments' customers share segment 0's posterior */
  for (size_t i = 0; i < P->ncu; i++)
    if (P->cu[i].seg >= D->bo.n_segments) P->cu[i].seg = 0;
  profset *old = D->ps;
  D->ps = P;
  pthread_mutex_unlock(&D->mu);
  fprintf(stderr, "tessera: decisions: now on run %lld: %zu profiles (%zu with the bundle fields of profiles.csv)\n",
          (long long)rp.id, P->ncu, P->nprof);
  profset_put(old);
}

/* Every DEC_RUN_CHECK_MS: a newer run? (once the first request loaded one) */
static void *watcher_main(void *arg) {
  decisions *D = arg;
  tsr_store *st = NULL;
  pthread_mutex_lock(&D->qmu);
  while (!D->stop) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += DEC_RUN_CHECK_MS / 1000;
    ts.tv_nsec += (DEC_RUN_CHECK_MS % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&D->wcv, &D->qmu, &ts);
    if (D->stop) break;
    pthread_mutex_unlock(&D->qmu);
    pthread_mutex_lock(&D->mu);
    int loaded = D->loaded;
    pthread_mutex_unlock(&D->mu);
    if (loaded && !st && tsr_store_open(D->S->db, TSR_STORE_CREATE, &st, NULL) != TSR_OK) st = NULL;
    if (loaded && st) reload_if_newer(D, st);
    pthread_mutex_lock(&D->qmu);
  }
  pthread_mutex_unlock(&D->qmu);
  tsr_store_close(st);
  return NULL;
}

/* ---------------------------------------------------------------- start / stop */

static void dec_free(decisions *D) {
  if (!D) return;
  for (size_t k = 0; k < D->K; k++) {
    free(D->offer_id[k]);
    free(D->offer_name[k]);
    tsr_offer_rule_free(D->rule[k]);
  }
  free(D->offer_id);
  free(D->offer_name);
  free(D->rule);
  profset_put(D->ps);
  for (size_t i = 1; i < D->nsegs; i++) free(D->segs[i]);
  free(D->segs);
  free(D->ring);
  free(D->qd);
  free(D->bd);
  free(D->qr);
  free(D->br);
  tsr_bandit_free(D->b);
  pthread_mutex_destroy(&D->mu);
  pthread_mutex_destroy(&D->qmu);
  pthread_mutex_destroy(&D->wmu);
  pthread_cond_destroy(&D->qcv);
  pthread_cond_destroy(&D->qroom);
  pthread_cond_destroy(&D->wcv);
  free(D);
}

/* Stops the threads (the writer flushes its queues) and frees D. */
static void dec_stop(decisions *D) {
  if (!D) return;
  pthread_mutex_lock(&D->qmu);
  D->stop = 1;
  pthread_cond_signal(&D->qcv);
  pthread_cond_signal(&D->wcv);
  pthread_cond_broadcast(&D->qroom);
  pthread_mutex_unlock(&D->qmu);
  if (D->watcher_on) pthread_join(D->watcher, NULL);
  if (D->writer_on) pthread_join(D->writer, NULL);
  if (D->segs) D->segs[0] = NULL; /* static "(none)" */
  dec_free(D);
}

static ptrdiff_t col(const tsr_table *t, const char *name) { return tsr_table_find(t, name); }

/* 1-based byte column in the file at path of character rc (1-based) of
 * field f of the record starting on line; rc when the record is not found. */
static int64_t file_column(const char *path, int64_t line, size_t f, int64_t rc) {
  tsr_csv_opts o;
  tsr_csv_opts_init(&o);
  tsr_csv *c = NULL;
  tsr_csv_record rec;
  int64_t col = rc;
  tsr_status s;
  if (tsr_csv_open(path, &o, &c, NULL) != TSR_OK) return rc;
  while ((s = tsr_csv_next(c, &rec, NULL)) != TSR_ENOTFOUND && s != TSR_EIO) {
    if (s != TSR_OK || rec.line < line) continue;
    if (rec.line == line && f < rec.nfields) col = rec.fields[f].column + rec.fields[f].quoted + rc - 1;
    break;
  }
  tsr_csv_close(c);
  return col;
}

int srv_decisions_start(srv *S, char *errbuf, size_t cap) {
  S->dec = NULL;
  if (!S->cfg.offers) return 0;
  decisions *D = calloc(1, sizeof *D);
  if (!D) {
    snprintf(errbuf, cap, "serve: out of memory");
    return 1;
  }
  D->S = S;
  pthread_mutex_init(&D->mu, NULL);
  pthread_mutex_init(&D->qmu, NULL);
  pthread_mutex_init(&D->wmu, NULL);
  pthread_cond_init(&D->qcv, NULL);
  pthread_cond_init(&D->qroom, NULL);
  pthread_cond_init(&D->wcv, NULL);
  tsr_bandit_opts_init(&D->bo);
  tsr_error err;
  tsr_error_clear(&err);
  if (S->cfg.policy && tsr_bandit_policy_parse(S->cfg.policy, &D->bo.policy, &err)) {
    snprintf(errbuf, cap, "serve: --policy: %s", err.msg);
    dec_free(D);
    return 2;
  }
  D->bo.reward = S->cfg.reward_amount ? TSR_REWARD_AMOUNT : TSR_REWARD_BINARY;
  D->bo.mc_draws = 128;
  tsr_table *t = NULL;
  if (tsr_table_read(S->cfg.offers, NULL, &t, &err) != TSR_OK) {
    tsr_error_format(&err, errbuf, cap);
    dec_free(D);
    return 3;
  }
  ptrdiff_t ci = col(t, "offer_id"), cn = col(t, "name"), ce = col(t, "eligible");
  size_t n = tsr_table_nrows(t);
  if (ci < 0 || n == 0 || n > TSR_BANDIT_MAX_ARMS) {
    snprintf(errbuf, cap, "%s:1: error: %s", S->cfg.offers,
             ci < 0 ? "missing column offer_id" : n == 0 ? "no offers: the file has only a header"
                                                        : "more than 256 offers");
    tsr_table_free(t);
    dec_free(D);
    return 3;
  }
  D->offer_id = calloc(n, sizeof *D->offer_id);
  D->offer_name = calloc(n, sizeof *D->offer_name);
  D->rule = calloc(n, sizeof *D->rule);
  int rc = 0;
  if (!D->offer_id || !D->offer_name || !D->rule) rc = 1;
  for (size_t i = 0; i < n && !rc; i++, D->K++) {
    const char *id = tsr_table_cell(t, i, (size_t)ci);
    int dup = offer_index(D, id) >= 0; /* among the first i */
    D->offer_id[i] = strdup(id);
    D->offer_name[i] = strdup(cn >= 0 ? tsr_table_cell(t, i, (size_t)cn) : id);
    if (!D->offer_id[i] || !D->offer_name[i]) {
      rc = 1;
    } else if (!*id || dup) {
      snprintf(errbuf, cap, "%s:%lld: error: offer_id: %s '%s'", S->cfg.offers,
               (long long)tsr_table_row_line(t, i), *id ? "repeated" : "empty", id);
      rc = 3;
    } else if (ce >= 0 && tsr_offer_rule_parse(tsr_table_cell(t, i, (size_t)ce), &D->rule[i], &err)) {
      int64_t line = tsr_table_row_line(t, i);
      snprintf(errbuf, cap, "%s:%lld:%lld: error: eligible: %s (at character %lld of the rule)",
               S->cfg.offers, (long long)line,
               (long long)file_column(S->cfg.offers, line, (size_t)ce, err.column), err.msg,
               (long long)err.column);
      rc = 3;
    }
  }
  tsr_table_free(t);
  D->bo.n_arms = D->K;
  if (!rc) {
    D->W = S->cfg.decision_window ? S->cfg.decision_window : DEC_WINDOW_DEFAULT;
    D->qmax = D->W / 4 < DEC_QUEUE_MAX ? D->W / 4 : DEC_QUEUE_MAX;
    D->ring = calloc(D->W, sizeof *D->ring);
    D->qd = calloc(D->qmax, sizeof *D->qd);
    D->bd = calloc(D->qmax, sizeof *D->bd);
    D->qr = calloc(D->qmax, sizeof *D->qr);
    D->br = calloc(D->qmax, sizeof *D->br);
    if (!D->ring || !D->qd || !D->bd || !D->qr || !D->br) rc = 1;
  }
  if (!rc) {
    /* segment 0: customers without a segment */
    D->segs = calloc(TSR_BANDIT_MAX_SEGMENTS, sizeof *D->segs);
    if (!D->segs) rc = 1;
    else D->segs[D->nsegs++] = "(none)";
  }
  tsr_store *st = NULL;
  if (!rc && (tsr_store_open(S->db, TSR_STORE_CREATE, &st, &err) || tsr_act_store_init(st, &err))) {
    tsr_error_format(&err, errbuf, cap);
    rc = 6;
  }
  tsr_store_close(st);
  if (!rc) {
    unsigned char rb[8];
    randombytes_buf(rb, sizeof rb);
    memcpy(&D->prefix, rb, sizeof rb);
    tsr_rng_seed(&D->g, D->prefix, 0);
    if (pthread_create(&D->writer, NULL, writer_main, D) != 0) rc = 1;
    else D->writer_on = 1;
    if (!rc && pthread_create(&D->watcher, NULL, watcher_main, D) != 0) rc = 1;
    else if (!rc) D->watcher_on = 1;
  }
  if (rc) {
    if (rc == 1) snprintf(errbuf, cap, "serve: out of memory");
    dec_stop(D);
    return rc;
  }
  S->dec = D;
  return 0;
}

void srv_decisions_stop(srv *S) {
  dec_stop(S->dec);
  S->dec = NULL;
}

/* ---------------------------------------------------------------- API */

static json_t *parse_body(srv_req *r, enum MHD_Result *ret) {
  if (r->kind == SRV_BODY_FORM) { /* a form post: fields as JSON texts / numbers */
    json_t *o = json_object();
    for (size_t i = 0; i < r->nfields; i++) {
      const char *v = r->fields[i].value ? r->fields[i].value : "";
      char *end = NULL;
      double d = strtod(v, &end);
      json_object_set_new(o, r->fields[i].name,
                          !strcmp(r->fields[i].name, "reward") && *v && end && !*end ? json_real(d) : json_string(v));
    }
    return o;
  }
  if (!r->body_len) {
    *ret = srv_send_error(r, 400, "EPARSE", "request body: expected a JSON object");
    return NULL;
  }
  json_error_t je;
  json_t *j = json_loadb(r->body, r->body_len, 0, &je);
  if (!j || !json_is_object(j)) {
    if (j) json_decref(j);
    *ret = j ? srv_send_error(r, 400, "EPARSE", "request body: expected a JSON object")
             : srv_send_error(r, 400, "EPARSE", "request body: line %d, column %d: %s", je.line, je.column, je.text);
    return NULL;
  }
  return j;
}

/* The answer to a decision, written directly (no JSON tree). */
static enum MHD_Result decision_json(srv_req *r, decisions *D, const char *id, const char *cid, size_t arm,
                                     double propensity, const char *segment, int64_t run_id) {
  srv_buf b = {0};
  srv_buf_puts(&b, "{\"decision_id\":");
  srv_buf_json_str(&b, id);
  srv_buf_puts(&b, ",\"customer_id\":");
  srv_buf_json_str(&b, cid);
  srv_buf_puts(&b, ",\"offer_id\":");
  srv_buf_json_str(&b, D->offer_id[arm]);
  srv_buf_puts(&b, ",\"offer_name\":");
  srv_buf_json_str(&b, D->offer_name[arm]);
  srv_buf_puts(&b, ",\"propensity\":");
  srv_buf_json_num(&b, propensity);
  srv_buf_printf(&b, ",\"policy\":\"%s\",\"segment\":", tsr_bandit_policy_name(D->bo.policy));
  srv_buf_json_str(&b, segment); /* null without one */
  srv_buf_printf(&b, ",\"run_id\":%lld}", (long long)run_id);
  return srv_send_buf(r, 200, "application/json", &b);
}

static enum MHD_Result decide_in(srv_req *r, decisions *D, const profset *P, const char *cid) {
  const cust *c = cust_find(P, cid);
  if (!c)
    return srv_send_error(r, 404, "ENOTFOUND", "customer '%.80s': not found in run %lld", cid, (long long)P->run_id);
  unsigned char el[TSR_BANDIT_MAX_ARMS];
  size_t m = 0;
  for (size_t k = 0; k < D->K; k++) m += el[k] = (unsigned char)tsr_offer_rule_eval(D->rule[k], &c->p);
  if (!m) return srv_send_error(r, 409, "ENOTFOUND", "customer '%.80s': no eligible offer", cid);
  size_t arm = 0;
  double prop = 0;
  tsr_error err;
  tsr_error_clear(&err);
  int64_t ts = tsr_store_now_ms();
  if (lock_room(D, 0)) return srv_send_error(r, 503, "EUNAVAILABLE", "the server is stopping");
  tsr_status s = tsr_bandit_choose(D->b, c->seg, c->x, el, &D->g, &arm, &prop, &err);
  if (s != TSR_OK) {
    unlock_room(D);
    return srv_send_error(r, 500, tsr_status_name(s), "policy: %s", err.msg);
  }
  /* the record in the ring (replacing the decision W before) and the
   * queued row for the writer */
  uint64_t no = ++D->counter;
  D->total++;
  rec *R = &D->ring[no % D->W];
  memset(R, 0, sizeof *R);
  snprintf(R->id, sizeof R->id, "d%016" PRIx64 "-%010" PRIx64, D->prefix, no);
  R->seg = c->seg;
  R->arm = (uint32_t)arm;
  R->propensity = prop;
  R->ts = ts;
  memcpy(R->x, c->x, sizeof R->x);
  snprintf(R->customer_id, sizeof R->customer_id, "%.63s", cid);
  const char *segment = c->seg ? D->segs[c->seg] : NULL;
  pend_dec *p = &D->qd[D->nqd++];
  memcpy(p->id, R->id, sizeof p->id);
  snprintf(p->customer_id, sizeof p->customer_id, "%s", cid);
  memcpy(p->x, c->x, sizeof p->x);
  p->offer_id = D->offer_id[arm];
  p->segment = segment;
  p->propensity = prop;
  p->ts = ts;
  char id[DEC_ID_MAX];
  memcpy(id, R->id, sizeof id);
  unlock_room(D);
  return decision_json(r, D, id, cid, arm, prop, segment, P->run_id);
}

/* Locks D with its profiles loaded (0); else unlocks, sends the error and
 * returns -1 with *ret the answer. */
static int lock_loaded(srv_req *r, decisions *D, tsr_store *st, enum MHD_Result *ret) {
  int http = 503;
  pthread_mutex_lock(&D->mu);
  if (!ensure_loaded(D, st, &http)) return 0;
  char msg[300];
  snprintf(msg, sizeof msg, "%s", D->load_err);
  pthread_mutex_unlock(&D->mu);
  *ret = srv_send_error(r, http, http == 409 ? "ENOTFOUND" : "ESTORE", "%s", msg);
  return -1;
}

static enum MHD_Result decide(srv_req *r, decisions *D, tsr_store *st) {
  enum MHD_Result ret;
  json_t *b = parse_body(r, &ret);
  if (!b) return ret;
  json_t *jc = json_object_get(b, "customer_id");
  if (!json_is_string(jc) || !json_string_length(jc) || json_string_length(jc) > 256) {
    json_decref(b);
    return srv_send_error(r, 400, "EINVAL", "customer_id: expected a text of 1 to 256 bytes");
  }
  char cid[257];
  snprintf(cid, sizeof cid, "%s", json_string_value(jc));
  json_decref(b);
  if (lock_loaded(r, D, st, &ret)) return ret;
  /* the profiles of the current run, kept while in use (a newer run may
   * replace them meanwhile) */
  profset *P = D->ps;
  atomic_fetch_add(&P->refs, 1);
  pthread_mutex_unlock(&D->mu);
  ret = decide_in(r, D, P, cid);
  profset_put(P);
  return ret;
}

static enum MHD_Result reward_twice(srv_req *r, const char *id, double old) {
  return srv_send_error(r, 409, "EEXIST", "decision '%.60s': a reward (%g) is already recorded; rewards count once",
                        id, old);
}

static enum MHD_Result reward_ok(srv_req *r, const char *id, double v) {
  return srv_send_json(r, 200, json_pack("{s:s,s:f,s:b}", "decision_id", id, "reward", v, "recorded", 1));
}

static enum MHD_Result rec_json(srv_req *r, decisions *D, const rec *R) {
  return srv_send_json(r, 200, json_pack("{s:s,s:s,s:s,s:f,s:o,s:I}", "decision_id", R->id, "customer_id",
                                         R->customer_id, "offer_id", R->arm == UINT32_MAX ? "" : D->offer_id[R->arm],
                                         "propensity", R->propensity, "reward",
                                         R->rewarded ? json_real(R->reward) : json_null(), "ts", (json_int_t)R->ts));
}

/* The reward of decision id queued for the writer, else NULL (the caller
 * holds wmu and qmu: no other reward is on its way to the store). */
static const pend_rew *queued_reward(const decisions *D, const char *id) {
  for (size_t i = 0; i < D->nqr; i++)
    if (!strcmp(D->qr[i].id, id)) return &D->qr[i];
  return NULL;
}

/* A reward for a decision outside the ring (older, or of an earlier
 * process): looked up and recorded in the store with the writer paused
 * (wmu: no batch in flight), after the queued rewards were searched, so a
 * reward counts once. */
static enum MHD_Result reward_stored(srv_req *r, decisions *D, tsr_store *st, const char *id, double v) {
  enum MHD_Result ret;
  pthread_mutex_lock(&D->wmu);
  pthread_mutex_lock(&D->qmu);
  const pend_rew *q = queued_reward(D, id);
  double old = q ? q->reward : 0;
  pthread_mutex_unlock(&D->qmu);
  if (q) {
    pthread_mutex_unlock(&D->wmu);
    return reward_twice(r, id, old);
  }
  got_rec g;
  if (stored_get(r, D, st, id, &g, &ret)) {
    pthread_mutex_unlock(&D->wmu);
    return ret;
  }
  if (!g.found || g.r.rewarded) {
    pthread_mutex_unlock(&D->wmu);
    return g.found ? reward_twice(r, id, g.r.reward)
                   : srv_send_error(r, 404, "ENOTFOUND", "decision '%.60s': not found", id);
  }
  tsr_error err;
  tsr_error_clear(&err);
  int64_t now = tsr_store_now_ms(), applied = 0;
  tsr_status s = tsr_act_write(st, NULL, 0, &id, &v, &now, 1, &applied, &err);
  if (s == TSR_OK && applied == 1) {
    g.r.rewarded = 1;
    g.r.reward = v;
    pthread_mutex_lock(&D->mu);
    learn(D, &g.r);
    pthread_mutex_unlock(&D->mu);
  }
  pthread_mutex_unlock(&D->wmu);
  if (s != TSR_OK)
    return srv_send_error(r, 503, "ESTORE", "decision '%.60s': reward not stored: %s", id,
                          err.msg[0] ? err.msg : tsr_strerror(s));
  if (applied != 1) return reward_twice(r, id, v); /* recorded meanwhile by another process */
  atomic_fetch_add(&D->written, 1);
  return reward_ok(r, id, v);
}

static enum MHD_Result reward(srv_req *r, decisions *D, tsr_store *st, const char *id) {
  enum MHD_Result ret;
  json_t *b = parse_body(r, &ret);
  if (!b) return ret;
  json_t *jr = json_object_get(b, "reward");
  if (!json_is_number(jr) || !isfinite(json_number_value(jr))) {
    json_decref(b);
    return srv_send_error(r, 400, "EINVAL", "reward: expected a number (0 or 1, or an amount)");
  }
  double v = json_number_value(jr);
  json_decref(b);
  if (D->bo.reward == TSR_REWARD_BINARY && v != 0 && v != 1)
    return srv_send_error(r, 400, "EINVAL", "reward: expected 0 or 1 (the server learns from responses; "
                                        "start it with --reward amount for amounts), got %g", v);
  if (lock_loaded(r, D, st, &ret)) return ret;
  pthread_mutex_unlock(&D->mu);
  if (lock_room(D, 1)) return srv_send_error(r, 503, "EUNAVAILABLE", "the server is stopping");
  rec *R = ring_find(D, id);
  if (!R) {
    unlock_room(D);
    return reward_stored(r, D, st, id, v);
  }
  if (R->rewarded) {
    double old = R->reward;
    unlock_room(D);
    return reward_twice(r, id, old);
  }
  tsr_error err;
  tsr_error_clear(&err);
  tsr_status s = tsr_bandit_update(D->b, R->seg, R->x, R->arm, v, &err);
  if (s == TSR_OK) {
    R->rewarded = 1;
    R->reward = v;
    pend_rew *p = &D->qr[D->nqr++];
    snprintf(p->id, sizeof p->id, "%.39s", id);
    p->reward = v;
    p->ts = tsr_store_now_ms();
  }
  unlock_room(D);
  if (s != TSR_OK) return srv_send_error(r, 400, "EINVAL", "reward: %s", err.msg);
  return reward_ok(r, id, v);
}

/* GET /api/v1/decisions/{id}: the ring, else the store. */
static enum MHD_Result get_one(srv_req *r, decisions *D, tsr_store *st, const char *id) {
  enum MHD_Result ret;
  if (lock_loaded(r, D, st, &ret)) return ret;
  rec *R = ring_find(D, id);
  if (R) {
    rec c = *R;
    pthread_mutex_unlock(&D->mu);
    return rec_json(r, D, &c);
  }
  pthread_mutex_unlock(&D->mu);
  got_rec g;
  pthread_mutex_lock(&D->wmu); /* no batch in flight */
  if (stored_get(r, D, st, id, &g, &ret)) {
    pthread_mutex_unlock(&D->wmu);
    return ret;
  }
  /* a reward still queued for the writer is recorded already */
  pthread_mutex_lock(&D->qmu);
  const pend_rew *q = queued_reward(D, id);
  if (q && g.found && !g.r.rewarded) g.r.rewarded = 1, g.r.reward = q->reward;
  pthread_mutex_unlock(&D->qmu);
  pthread_mutex_unlock(&D->wmu);
  if (!g.found) return srv_send_error(r, 404, "ENOTFOUND", "decision '%.60s': not found", id);
  return rec_json(r, D, &g.r);
}

enum MHD_Result srv_decisions_api(srv_req *r, tsr_store *st, int n, char **seg) {
  decisions *D = r->S->dec;
  int post = !strcmp(r->method, "POST"), get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
  if (!D)
    return srv_send_error(r, 503, "EUNSUPPORTED", "decisions are off: start tessera serve with --offers offers.csv");
  if (n == 1 && post) return decide(r, D, st);
  if (n == 2 && get) return get_one(r, D, st, seg[1]);
  if (n == 3 && post && !strcmp(seg[2], "reward")) return reward(r, D, st, seg[1]);
  if (n == 1 && get) {
    pthread_mutex_lock(&D->mu);
    json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:b,s:I,s:I,s:I}", "policy", tsr_bandit_policy_name(D->bo.policy),
                          "offers", (json_int_t)D->K, "decisions", (json_int_t)D->total, "rewards",
                          (json_int_t)(D->b ? tsr_bandit_updates(D->b) : 0), "loaded", D->loaded,
                          "run_id", (json_int_t)(D->ps ? D->ps->run_id : 0),
                          "stored", (json_int_t)atomic_load(&D->written), "store_errors",
                          (json_int_t)atomic_load(&D->write_errors));
    pthread_mutex_unlock(&D->mu);
    return srv_send_json(r, 200, o);
  }
  return srv_send_error(r, 405, "EINVAL", "%s %s is not an endpoint (POST /api/v1/decisions, POST "
                                      "/api/v1/decisions/{id}/reward, GET /api/v1/decisions/{id})",
                    r->method, r->path);
}
