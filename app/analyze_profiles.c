/*
 * analyze_profiles.c - the profiles step of `tessera analyze` on a bundle
 * (tessera/analyze.h opts->bundle): reads the bundle's tables into a
 * profile builder (tessera/profile.h), joins the analysis values, derives
 * the segments and, with TSR_PII_ENCRYPT, seals each customer's personal
 * data. Application layer (moves to app/ with analyze.c).
 */
#include "internal.h"
#include "analyze_resolved.h"
#include "base/textbuf.h"
#include "base/textmemo.h"
#include "tessera/csv.h"
#include "tessera/analyze.h"
#include "tessera/anomaly.h"
#include "tessera/profile.h"
#include "tessera/resolve.h"
#include "tessera/sentiment.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct pii_ctx {
  tsr_analyze_result *res;
  char **plain;     /* per profile: JSON array text of its records */
  size_t *len, cap; /* capacity of the arrays */
  int failed;
} pii_ctx;

/* Appends s as a JSON string to buf. */
static void jput(char *buf, size_t cap, size_t *k, const char *s) {
  if (*k + 2 >= cap) return;
  buf[(*k)++] = '"';
  for (; *s && *k + 8 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      buf[(*k)++] = '\\';
      buf[(*k)++] = (char)c;
    } else if (c < 0x20) {
      *k += (size_t)snprintf(buf + *k, cap - *k, "\\u%04x", c);
    } else {
      buf[(*k)++] = (char)c;
    }
  }
  if (*k + 1 < cap) buf[(*k)++] = '"';
  buf[*k] = '\0';
}

/* Collects the personal data of a CRM record (plaintext in memory only
 * until sealed). */
static void on_record(void *ud, size_t profile, const tsr_bundle_row *row) {
  pii_ctx *c = ud;
  if (c->failed) return;
  if (profile >= c->cap) {
    size_t nc = c->cap ? c->cap * 2 : 1024;
    while (nc <= profile) nc *= 2;
    char **np = realloc(c->plain, nc * sizeof *np);
    if (!np) {
      c->failed = 1;
      return;
    }
    memset(np + c->cap, 0, (nc - c->cap) * sizeof *np);
    c->plain = np;
    c->cap = nc;
  }
  static const size_t cols[] = {TSR_CU_CUSTOMER_ID, TSR_CU_NAME, TSR_CU_EMAIL, TSR_CU_PHONE,
                                TSR_CU_ADDRESS, TSR_CU_BIRTH_DATE};
  static const char *const keys[] = {"customer_id", "name", "email", "phone", "address",
                                     "birth_date"};
  char buf[4096];
  size_t k = 0;
  buf[k++] = '{';
  for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
    const tsr_value *v = &row->v[cols[i]];
    if (!v->present) continue;
    if (k > 1) buf[k++] = ',';
    jput(buf, sizeof buf, &k, keys[i]);
    buf[k++] = ':';
    jput(buf, sizeof buf, &k, v->s);
  }
  if (k + 1 < sizeof buf) buf[k++] = '}';
  buf[k] = '\0';
  char *old = c->plain[profile];
  size_t ol = old ? strlen(old) : 0;
  char *nw = realloc(old, ol + k + 3);
  if (!nw) {
    c->failed = 1;
    return;
  }
  if (ol) {
    nw[ol - 1] = ','; /* "[{..}]" -> "[{..},{..}]" */
    memcpy(nw + ol, buf, k);
    nw[ol + k] = ']';
    nw[ol + k + 1] = '\0';
  } else {
    nw[0] = '[';
    memcpy(nw + 1, buf, k);
    nw[k + 1] = ']';
    nw[k + 2] = '\0';
  }
  c->plain[profile] = nw;
}

/* The lexicon scorer (tessera/sentiment.h) as the builder's sentiment hook:
 * the compound score in (-1, 1), 0 for a text without a lexicon word;
 * ud: a tsr__text_memo, each distinct message scored once (a bundle's
 * messages repeat: 250k rows, 1,490 texts in bundle300k). */
static double lexicon_sentiment(void *ud, const char *text, size_t len) {
  int found;
  tsr__text_entry *t = tsr__text_memo_get(ud, text, len, &found);
  if (found) return t->value;
  tsr_sentiment_result r;
  tsr_sentiment_score(text, len, &r);
  if (t) t->value = r.compound;
  return r.compound;
}

/* prefix + s as one CSV field. */
static void put_id(FILE *f, const char *prefix, const char *s) {
  if (!*prefix) {
    tsr_csv_put_field(f, s);
    return;
  }
  tsr__tb b = {0};
  tsr__tb_printf(&b, "%s%s", prefix, s);
  char *t = tsr__tb_take(&b);
  if (!t) fputs(prefix, f); /* out of memory: the prefix outside the quotes */
  tsr_csv_put_field(f, t ? t : s);
  tsr__free(t);
}

/* OUT/graph.csv: the relations found by entity resolution, ids only:
 * source,target,type with record -> canonical id "same_person" and
 * canonical id -> "H:" household head id "member_of" (docs/profiles.md). */
static tsr_status write_graph(const tsr__resolved *rv, const char *dir, tsr_error *err) {
  char path[4096];
  snprintf(path, sizeof path, "%s/graph.csv", dir);
  (void)mkdir(dir, 0777); /* as tsr_analyze_write_files; fopen says why not */
  FILE *f = fopen(path, "w");
  if (!f) return tsr_error_set(err, TSR_EIO, path, 0, 0, NULL, "cannot write: %s", strerror(errno));
  size_t n = rv->n;
  fputs("source,target,type\n", f);
  for (size_t i = 0; i < n; i++) {
    size_t c = rv->canon[i];
    if (c == i) continue;
    put_id(f, "", tsr__resolved_id(rv, i));
    fputc(',', f);
    put_id(f, "", tsr__resolved_id(rv, c));
    fputs(",same_person\n", f);
  }
  for (size_t i = 0; i < n; i++) {
    if (rv->canon[i] != i || rv->head[i] == SIZE_MAX) continue;
    put_id(f, "", tsr__resolved_id(rv, i));
    fputc(',', f);
    put_id(f, "H:", tsr__resolved_id(rv, rv->head[i]));
    fputs(",member_of\n", f);
  }
  if (ferror(f) | fclose(f))
    return tsr_error_set(err, TSR_EIO, path, 0, 0, NULL, "write failed: %s", strerror(errno));
  return TSR_OK;
}

/* The resolved customers (tessera/resolve.h; resolved once per run by
 * app/analyze_rekey.c, analyze_resolved.h; NULL when the customers table could not be
 * resolved: the ids stay as given and the counts -1): every record whose
 * canonical record is another one is mapped to that record's id, so its
 * products, interactions and transactions count for the resolved customer.
 * Households stay distinct persons (counted, not merged). */
static tsr_status resolve_customers(const tsr_analyze_opts *o, const tsr__resolved *rv,
                                    tsr_profiles *p, tsr_analyze_result *res, tsr_error *err) {
  if (!rv) return TSR_OK;
  tsr_status st = TSR_OK;
  size_t n = rv->n;
  int64_t merged = 0, linked = 0;
  for (size_t i = 0; i < n && st == TSR_OK; i++) {
    size_t c = rv->canon[i];
    if (c != i) {
      merged++;
      st = tsr_profiles_map_id(p, tsr__resolved_id(rv, i), tsr__resolved_id(rv, c), err);
    } else if (rv->head[i] != SIZE_MAX && rv->head[i] != i) {
      linked++;
    }
  }
  if (st == TSR_OK && o->out_dir) st = write_graph(rv, o->out_dir, err);
  res->dq_crm_records = (int64_t)n;
  res->dq_records_merged = merged;
  res->dq_households = (int64_t)rv->households;
  res->dq_household_links = linked;
  return st;
}

/* The anomaly counts per customer of the bundle's transactions, in the
 * order of each customer's first transaction: computed in the one pass
 * over transactions.csv that stages the profiles' transaction totals
 * before the other tables are read (tsr_profiles_stage_table), so that
 * the detector (every transaction) and the filled profile builder are
 * never in memory together, and applied after the tables in that order
 * (the rows the counts create come in the same order as the detector's,
 * and the counts add up as one call per transaction did). */
typedef struct anom_tally {
  char *ids;          /* the customers' ids, NUL-terminated one after the other */
  size_t used;        /* bytes of ids */
  size_t *off;        /* per customer: offset of its id */
  int64_t *n;         /* per customer: flagged transactions */
  size_t k;           /* customers */
  int64_t scored, flagged; /* -1: not computed */
} anom_tally;

static void tally_free(anom_tally *t) {
  tsr__free(t->ids);
  tsr__free(t->off);
  tsr__free(t->n);
  memset(t, 0, sizeof *t);
}

/* The scored detector d into t: the flagged transactions per customer. */
static int tally_take(anom_tally *t, const tsr_anomaly_detector *d) {
  size_t k = tsr_anomaly_ncustomers(d), n = tsr_anomaly_count(d), used = 0;
  for (size_t c = 0; c < k; c++) used += strlen(tsr_anomaly_customer_id(d, c)) + 1;
  t->ids = tsr__malloc(used ? used : 1);
  t->off = tsr__malloc((k ? k : 1) * sizeof *t->off);
  t->n = tsr__calloc(k ? k : 1, sizeof *t->n);
  if (!t->ids || !t->off || !t->n) return -1;
  for (size_t c = 0; c < k; c++) {
    const char *id = tsr_anomaly_customer_id(d, c);
    size_t len = strlen(id) + 1;
    memcpy(t->ids + t->used, id, len);
    t->off[c] = t->used;
    t->used += len;
  }
  t->k = k;
  for (size_t i = 0; i < n; i++)
    if (tsr_anomaly_flagged(d, i)) t->n[tsr_anomaly_customer_of(d, i)]++;
  t->scored = (int64_t)n;
  t->flagged = (int64_t)tsr_anomaly_nflagged(d);
  return 0;
}

/* The bundle reader's notes of the transactions table, kept to be passed
 * on in the order of the tables (after those of the interactions). */
typedef struct note_buf {
  tsr_bundle_note n[8];
  char *text[8];
  size_t k;
  void (*user)(void *ud, const tsr_bundle_note *n);
  void *user_ud;
} note_buf;

static void note_keep(void *ud, const tsr_bundle_note *n) {
  note_buf *b = ud;
  if (b->k == sizeof b->n / sizeof b->n[0]) return;
  tsr__tb tb = {0};
  size_t ls = strlen(n->source), lc = strlen(n->column);
  tsr__tb_printf(&tb, "%s%c%s%c%s", n->source, 0, n->column, 0, n->msg);
  char *t = tsr__tb_take(&tb);
  if (!t) return; /* out of memory: the note is lost, as is a message then */
  b->text[b->k] = t;
  b->n[b->k] = (tsr_bundle_note){n->table, t, t + ls + 1, t + ls + lc + 2};
  b->k++;
}

static void notes_flush(note_buf *b) {
  for (size_t i = 0; i < b->k; i++) {
    if (b->user) b->user(b->user_ud, &b->n[i]);
    tsr__free(b->text[i]);
  }
  b->k = 0;
}

/* The one pass of the transactions: records to the anomaly detector (by
 * its own rules, tessera/anomaly.h) as the bundle reader reads them. */
typedef struct tx_pass {
  tsr_anomaly_detector *d;
  const char *src;
  int nomem;
} tx_pass;

static void tx_on_csv(void *ud, const tsr_csv_record *rec) {
  tx_pass *x = ud;
  tsr_error e;
  if (!x->nomem && tsr_anomaly_csv_row(x->d, rec, x->src, &e) == TSR_ENOMEM) x->nomem = 1;
}

/* Binds the detector's columns from the header of path; 1 bound, 0 not
 * (the anomalies are not computed), or a fatal status in *st. */
static int anomaly_bind(tsr_anomaly_detector *d, const char *path, const tsr_csv_opts *csv,
                        tsr_status *st, tsr_error *err) {
  tsr_csv *c;
  tsr_error e;
  *st = tsr_csv_open(path, csv, &c, &e);
  if (*st != TSR_OK) {
    if (*st != TSR_ENOMEM && *st != TSR_EIO) *st = TSR_OK;
    else if (err) *err = e;
    return 0;
  }
  tsr_csv_record h;
  tsr_status hs = tsr_csv_next(c, &h, &e);
  int bound = 0;
  if (hs == TSR_OK) {
    hs = tsr_anomaly_csv_header(d, &h, tsr_csv_name(c), &e);
    bound = hs == TSR_OK;
  }
  if (hs == TSR_ENOMEM || hs == TSR_EIO) {
    *st = hs;
    if (err) *err = e;
  }
  tsr_csv_close(c);
  return bound;
}

/* The transactions table in one pass: the profiles' totals staged in p,
 * the anomalies (tessera/anomaly.h) into t: the number of flagged
 * transactions of each customer (resolved) becomes the profile's anomaly
 * count (anomalies_apply); every customer with a transaction gets a count
 * (0 when nothing was flagged). Flagged transactions are never dropped. A
 * file the detector cannot read leaves the column empty (counts -1). The
 * table's notes go to nb. */
/* The table's row counts (read, accepted, rejected) into c, and the reader
 * closed. */
static void reader_close_counted(tsr_bundle_reader *r, int64_t c[3]) {
  tsr_bundle_stats bs;
  tsr_bundle_reader_stats(r, &bs);
  c[0] = bs.rows_read;
  c[1] = bs.rows_accepted;
  c[2] = bs.rows_rejected;
  tsr_bundle_reader_close(r);
}

static tsr_status transactions_pass(const tsr_analyze_opts *o, tsr_bundle_opts bo, note_buf *nb,
                                    tsr_profiles *p, anom_tally *t,
                                    int64_t counts[TSR_BT_COUNT][3], tsr_error *err) {
  memset(t, 0, sizeof *t);
  t->scored = t->flagged = -1;
  const char *path = tsr_bundle_path(o->bundle, TSR_BT_TRANSACTIONS);
  if (!path) return TSR_OK;
  tsr_anomaly_detector *d;
  tsr_status st = tsr_anomaly_new(NULL, &d, err);
  if (st != TSR_OK) return st;
  tsr__anomaly_tally_only(d); /* counts per customer: no ids, no ranking */
  int bound = anomaly_bind(d, path, &bo.csv, &st, err);
  if (st != TSR_OK) {
    tsr_anomaly_free(d);
    return st;
  }
  bo.on_reject = NULL; /* reported by the ingest already */
  bo.on_note = note_keep;
  bo.ud = nb;
  tsr_bundle_reader *r;
  st = tsr_bundle_open_table(o->bundle, TSR_BT_TRANSACTIONS, &bo, &r, err);
  if (st != TSR_OK) {
    tsr_anomaly_free(d);
    return st;
  }
  tx_pass x = {d, tsr_bundle_reader_source(r), 0};
  if (bound) tsr_bundle_reader_on_csv(r, tx_on_csv, &x);
  st = tsr_profiles_stage_table(p, r, err);
  reader_close_counted(r, counts[TSR_BT_TRANSACTIONS]);
  if (st == TSR_OK && x.nomem) st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  if (st == TSR_OK && bound) {
    tsr_error aerr;
    tsr_status as = tsr_anomaly_run(d, &aerr);
    if (as == TSR_ENOMEM || as == TSR_EIO) {
      if (err) *err = aerr;
      st = as;
    } else if (as == TSR_OK && tally_take(t, d)) {
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
  }
  tsr_anomaly_free(d);
  if (st != TSR_OK) tally_free(t);
  return st;
}

/* The counts of t into the profiles (nothing when t was not computed). */
static tsr_status anomalies_apply(const anom_tally *t, tsr_profiles *p, tsr_analyze_result *res,
                                  tsr_error *err) {
  if (t->scored < 0) return TSR_OK;
  tsr_status st = TSR_OK;
  for (size_t c = 0; c < t->k && st == TSR_OK; c++)
    st = tsr_profiles_add_anomalies(p, t->ids + t->off[c], t->n[c], err);
  res->dq_transactions_scored = t->scored;
  res->dq_anomalies = t->flagged;
  return st;
}

/* Counts n rejected rows of table under their reason; the value quoted in
 * "…, got '…'" is left out (it may be personal data). */
void tsr__dq_tally(tsr_analyze_result *res, const char *table, const char *field,
                   const char *reason, int64_t n);
void tsr__dq_tally(tsr_analyze_result *res, const char *table, const char *field,
                   const char *reason, int64_t n) {
  char key[sizeof res->dq_reasons[0].key];
  const char *got = strstr(reason, ", got ");
  int len = got ? (int)(got - reason) : (int)strlen(reason);
  snprintf(key, sizeof key, "%s: %s%s%.*s", table, field, *field ? ": " : "", len, reason);
  for (size_t i = 0; i < res->dq_nreasons; i++)
    if (!strcmp(res->dq_reasons[i].key, key)) {
      res->dq_reasons[i].n += n;
      return;
    }
  if (res->dq_nreasons == sizeof res->dq_reasons / sizeof res->dq_reasons[0]) return;
  memcpy(res->dq_reasons[res->dq_nreasons].key, key, sizeof key);
  res->dq_reasons[res->dq_nreasons++].n = n;
}

/* The bundle reader's callbacks: rejects are tallied by reason, then
 * passed on to the caller's. */
typedef struct dq_ctx {
  tsr_analyze_result *res;
  const tsr_bundle_opts *user;
  const char *table;
} dq_ctx;
static void dq_on_reject(void *ud, const tsr_reject *r) {
  dq_ctx *c = ud;
  tsr__dq_tally(c->res, c->table, r->field ? r->field : "", r->reason ? r->reason : "", 1);
  if (c->user && c->user->on_reject) c->user->on_reject(c->user->ud, r);
}
static void dq_on_note(void *ud, const tsr_bundle_note *n) {
  dq_ctx *c = ud;
  if (c->user && c->user->on_note) c->user->on_note(c->user->ud, n);
}

tsr_status tsr__analyze_profiles(const tsr_analyze_opts *o, tsr__resolved **rv,
                                 tsr_analyze_result *res, int64_t counts[TSR_BT_COUNT][3],
                                 tsr_error *err);

/* Runs the profile step on the run's resolved customers *rv (NULL: none;
 * freed here once the ids are mapped, *rv = NULL: the resolution's ids
 * are not kept beside the tables and the anomaly detector); counts[t] =
 * rows read, accepted, rejected. */
tsr_status tsr__analyze_profiles(const tsr_analyze_opts *o, tsr__resolved **rv,
                                 tsr_analyze_result *res, int64_t counts[TSR_BT_COUNT][3],
                                 tsr_error *err) {
  tsr_profiles *p;
  tsr_profile_opts po;
  if (o->profile_opts) po = *o->profile_opts;
  else tsr_profile_opts_init(&po);
  tsr__text_memo memo; /* lexicon_sentiment's, until the tables are read */
  memset(&memo, 0, sizeof memo);
  if (!po.sentiment) { /* the sentiment module */
    tsr__text_memo_init(&memo);
    po.sentiment = lexicon_sentiment;
    po.sentiment_ud = &memo;
  }
  res->dq_crm_records = res->dq_records_merged = res->dq_households = res->dq_household_links = -1;
  res->dq_transactions_scored = res->dq_anomalies = -1;
  tsr_status st = tsr_profiles_new(&po, &p, err);
  if (st != TSR_OK) {
    tsr__resolved_free(*rv);
    *rv = NULL;
    tsr__text_memo_release(&memo);
    return st;
  }
  res->profiles = p;
  pii_ctx pc = {res, NULL, NULL, 0, 0};
  if (o->pii_mode == TSR_PII_ENCRYPT && o->pii_key) tsr_profiles_on_record(p, on_record, &pc);
  tsr_bundle_opts bo;
  if (o->bundle_opts) bo = *o->bundle_opts;
  else tsr_bundle_opts_init(&bo);
  bo.csv.no_checksum = 1; /* the tables' checksums are the ingest's (datasets) */
  dq_ctx dq = {res, o->bundle_opts, ""};
  bo.ud = &dq;
  bo.on_note = dq_on_note;
  /* resolved ids first: every table below is keyed by them */
  st = resolve_customers(o, *rv, p, res, err);
  tsr__resolved_free(*rv); /* its last use */
  *rv = NULL;
  if (st != TSR_OK) {
    tsr__text_memo_release(&memo);
    return st;
  }
  /* the transactions before the tables: staged totals, anomaly counts */
  anom_tally at;
  note_buf nb = {.user = dq_on_note, .user_ud = &dq};
  if ((st = transactions_pass(o, bo, &nb, p, &at, counts, err)) != TSR_OK) {
    notes_flush(&nb);
    tsr__text_memo_release(&memo);
    return st;
  }
  static const tsr_bundle_table order[] = {TSR_BT_CUSTOMERS, TSR_BT_PRODUCTS, TSR_BT_INTERACTIONS,
                                           TSR_BT_TRANSACTIONS, TSR_BT_CAMPAIGN, TSR_BT_OFFERS};
  for (size_t i = 0; i < sizeof order / sizeof order[0] && st == TSR_OK; i++) {
    tsr_bundle_table t = order[i];
    if (!tsr_bundle_path(o->bundle, t)) continue;
    dq.table = tsr_bundle_table_name(t);
    if (t == TSR_BT_TRANSACTIONS) { /* read by transactions_pass */
      notes_flush(&nb);
      st = tsr_profiles_add_staged(p, err);
      continue;
    }
    bo.on_reject = dq_on_reject;
    tsr_bundle_reader *r;
    st = tsr_bundle_open_table(o->bundle, t, &bo, &r, err);
    if (st != TSR_OK) break;
    st = tsr_profiles_add_table(p, r, err);
    reader_close_counted(r, counts[t]);
  }
  tsr__text_memo_release(&memo); /* every message read */
  if (st != TSR_OK) goto out;
  if ((st = anomalies_apply(&at, p, res, err)) != TSR_OK) goto out;
  tally_free(&at);
  /* the analysis values */
  const tsr_summary *s = res->summary;
  for (size_t i = 0; s && i < s->n && st == TSR_OK; i++) {
    const tsr_summary_row *row = &s->rows[i];
    tsr_profile_value v = {row->frequency, row->recency, row->T, row->monetary_value,
                           res->p_alive ? res->p_alive[i] : NAN,
                           res->expected ? res->expected[i] : NAN,
                           res->clv ? res->clv[i] : NAN,
                           res->segment ? res->segment[i] : NULL};
    st = tsr_profiles_set_value(p, row->customer_id, &v, err);
  }
  if (st != TSR_OK) goto out;
  if ((st = tsr_profiles_finish(p, err)) != TSR_OK) goto out;
  if ((st = tsr_profiles_segment(p, o->segment_opts, err)) != TSR_OK) goto out;
  if (pc.failed) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto out;
  }
  if (pc.plain) {
    size_t n = tsr_profiles_count(p);
    res->pii = calloc(n ? n : 1, sizeof *res->pii);
    if (!res->pii) {
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      goto out;
    }
    for (size_t i = 0; i < n && i < pc.cap && st == TSR_OK; i++) {
      if (!pc.plain[i]) continue;
      st = tsr_pii_seal(o->pii_key, pc.plain[i], strlen(pc.plain[i]), &res->pii[i], err);
    }
  }
out:
  notes_flush(&nb);
  tally_free(&at);
  for (size_t i = 0; i < pc.cap; i++) {
    if (pc.plain[i]) {
      memset(pc.plain[i], 0, strlen(pc.plain[i]));
      free(pc.plain[i]);
    }
  }
  free(pc.plain);
  return st;
}

/* tsr__profile_json with snprintf and its truncation rules (a profile
 * near or above cap bytes; also the reference of the test). */
size_t tsr__profile_json_slow(const tsr_profiles *p, const tsr_profile *r, const char *pii,
                              char *buf, size_t cap);
size_t tsr__profile_json_slow(const tsr_profiles *p, const tsr_profile *r, const char *pii,
                              char *buf, size_t cap) {
  size_t k = 0;
#define NUM(key, v, prec)                                                               \
  do {                                                                                  \
    double nv_ = (v);                                                                   \
    if (!isnan(nv_) && k < cap) k += (size_t)snprintf(buf + k, cap - k, ",\"" key "\":%.*f", prec, nv_); \
  } while (0)
#define STR(key, v)                                                                     \
  do {                                                                                  \
    const char *sv_ = (v);                                                              \
    if (sv_ && *sv_ && k + 8 < cap) {                                                   \
      k += (size_t)snprintf(buf + k, cap - k, ",\"" key "\":");                         \
      if (k < cap) jput(buf, cap, &k, sv_);                                             \
    }                                                                                   \
  } while (0)
  k += (size_t)snprintf(buf, cap, "{\"profile\":1");
  NUM("age", r->age, 2);
  STR("gender", r->gender);
  STR("income_band", r->income_band);
  STR("city", r->city);
  NUM("tenure_years", r->tenure_years, 2);
  STR("life_stage", tsr_life_stage_name(r->life_stage));
  if (k + 16 < cap) {
    k += (size_t)snprintf(buf + k, cap - k, ",\"products\":[");
    int first = 1;
    for (size_t j = 0; j < tsr_profiles_nproducts(p); j++) {
      if (!(r->products >> j & 1) || k + 8 >= cap) continue;
      if (!first) buf[k++] = ',';
      jput(buf, cap, &k, tsr_profiles_product(p, j));
      first = 0;
    }
    if (k + 2 < cap) buf[k++] = ']';
  }
  if (k < cap)
    k += (size_t)snprintf(buf + k, cap - k, ",\"records\":%u,\"product_count\":%u,\"recent_openings\":%u,"
                          "\"transactions\":%lld,\"revenue\":%.2f,\"service_contacts\":%u",
                          r->n_records, r->product_count, r->recent_openings, (long long)r->tx_count,
                          r->tx_amount, r->service_contacts);
  NUM("risk_score", r->risk_score, 1);
  STR("risk_band", r->risk_band);
  STR("channel_preference", r->channel_preference);
  NUM("digital_share", r->digital_share, 4);
  NUM("sentiment_mean", r->sentiment_mean, 4);
  NUM("sentiment_last", r->sentiment_last, 4);
  if (r->anomalies >= 0 && k < cap) k += (size_t)snprintf(buf + k, cap - k, ",\"anomalies\":%lld", (long long)r->anomalies);
  STR("behaviour_segment", tsr_profiles_behaviour_name(p, r->behaviour));
  STR("value_tier", r->value_tier >= 0 ? tsr_value_tier_name(r->value_tier) : "");
  STR("product_affinity", tsr_profiles_affinity_name(p, r->affinity));
  STR("micro_segment", r->micro);
  STR("pii", pii);
#undef NUM
#undef STR
  if (k + 2 >= cap) return 0;
  buf[k++] = '}';
  buf[k] = '\0';
  return k;
}

/* ------------------------------------------------------------ profile JSON */

/* The writer of tsr__profile_json: appends while the text stays PJ_SLACK
 * bytes short of cap, else marks it over (the slow writer then decides:
 * with that slack none of its truncation rules can have applied). */
#define PJ_SLACK 24
typedef struct pjw {
  char *b;
  size_t k, cap;
  int over;
} pjw;

static int pj_room(pjw *w, size_t n) {
  if (w->over || w->k + n + PJ_SLACK >= w->cap) w->over = 1;
  return !w->over;
}

static void pj_raw(pjw *w, const char *s, size_t n) {
  if (!pj_room(w, n)) return;
  memcpy(w->b + w->k, s, n);
  w->k += n;
}
#define PJ_LIT(w, lit) pj_raw(w, lit, sizeof lit - 1)

/* s as a JSON string, escaped as jput does. */
static void pj_str(pjw *w, const char *s) {
  size_t n = strlen(s);
  if (!pj_room(w, 6 * n + 2)) return;
  char *o = w->b + w->k;
  *o++ = '"';
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      *o++ = '\\';
      *o++ = (char)c;
    } else if (c < 0x20) {
      static const char hx[] = "0123456789abcdef";
      memcpy(o, "\\u00", 4);
      o[4] = hx[c >> 4];
      o[5] = hx[c & 15];
      o += 6;
    } else {
      *o++ = (char)c;
    }
  }
  *o++ = '"';
  w->k = (size_t)(o - w->b);
}

static void pj_u64(pjw *w, unsigned long long u, int neg) {
  char tmp[24];
  size_t n = (size_t)(tsr__put_u64(tmp, u) - tmp);
  if (!pj_room(w, n + 1)) return;
  if (neg) w->b[w->k++] = '-';
  memcpy(w->b + w->k, tmp, n);
  w->k += n;
}

static void pj_i64(pjw *w, long long v) {
  pj_u64(w, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v, v < 0);
}

static void pj_fixed(pjw *w, double v, int prec) {
  char nb[400];
  size_t n = tsr__fmt_fixed(v, prec, nb, sizeof nb);
  if (n >= sizeof nb) w->over = 1;
  else pj_raw(w, nb, n);
}

/* One profile as a JSON object (the store's customers.extra); buf >= 2 KiB.
 * Returns the length or 0 when it does not fit. The text of
 * tsr__profile_json_slow, written without printf. */
size_t tsr__profile_json(const tsr_profiles *p, const tsr_profile *r, const char *pii, char *buf,
                         size_t cap);
size_t tsr__profile_json(const tsr_profiles *p, const tsr_profile *r, const char *pii, char *buf,
                         size_t cap) {
  pjw w = {buf, 0, cap, 0};
#define NUM(key, v, prec)                                                                          \
  do {                                                                                             \
    double nv_ = (v);                                                                              \
    if (!isnan(nv_)) {                                                                             \
      PJ_LIT(&w, ",\"" key "\":");                                                                 \
      pj_fixed(&w, nv_, prec);                                                                     \
    }                                                                                              \
  } while (0)
#define STR(key, v)                                                                                \
  do {                                                                                             \
    const char *sv_ = (v);                                                                         \
    if (sv_ && *sv_) {                                                                             \
      PJ_LIT(&w, ",\"" key "\":");                                                                 \
      pj_str(&w, sv_);                                                                             \
    }                                                                                              \
  } while (0)
  PJ_LIT(&w, "{\"profile\":1");
  NUM("age", r->age, 2);
  STR("gender", r->gender);
  STR("income_band", r->income_band);
  STR("city", r->city);
  NUM("tenure_years", r->tenure_years, 2);
  STR("life_stage", tsr_life_stage_name(r->life_stage));
  PJ_LIT(&w, ",\"products\":[");
  int first = 1;
  for (size_t j = 0; j < tsr_profiles_nproducts(p); j++) {
    if (!(r->products >> j & 1)) continue;
    if (!first) PJ_LIT(&w, ",");
    pj_str(&w, tsr_profiles_product(p, j));
    first = 0;
  }
  PJ_LIT(&w, "],\"records\":");
  pj_u64(&w, r->n_records, 0);
  PJ_LIT(&w, ",\"product_count\":");
  pj_u64(&w, r->product_count, 0);
  PJ_LIT(&w, ",\"recent_openings\":");
  pj_u64(&w, r->recent_openings, 0);
  PJ_LIT(&w, ",\"transactions\":");
  pj_i64(&w, (long long)r->tx_count);
  PJ_LIT(&w, ",\"revenue\":");
  pj_fixed(&w, r->tx_amount, 2);
  PJ_LIT(&w, ",\"service_contacts\":");
  pj_u64(&w, r->service_contacts, 0);
  NUM("risk_score", r->risk_score, 1);
  STR("risk_band", r->risk_band);
  STR("channel_preference", r->channel_preference);
  NUM("digital_share", r->digital_share, 4);
  NUM("sentiment_mean", r->sentiment_mean, 4);
  NUM("sentiment_last", r->sentiment_last, 4);
  if (r->anomalies >= 0) {
    PJ_LIT(&w, ",\"anomalies\":");
    pj_i64(&w, (long long)r->anomalies);
  }
  STR("behaviour_segment", tsr_profiles_behaviour_name(p, r->behaviour));
  STR("value_tier", r->value_tier >= 0 ? tsr_value_tier_name(r->value_tier) : "");
  STR("product_affinity", tsr_profiles_affinity_name(p, r->affinity));
  STR("micro_segment", r->micro);
  STR("pii", pii);
#undef NUM
#undef STR
  PJ_LIT(&w, "}");
  if (w.over) return tsr__profile_json_slow(p, r, pii, buf, cap);
  buf[w.k] = '\0';
  return w.k;
}
