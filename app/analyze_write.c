/*
 * analyze_write.c - the result files of an analysis (tessera/analyze.h):
 * customers.csv, segments.csv, clusters.csv, holdout.csv, the model JSON
 * files, profiles.csv / segment_profiles.csv and run.json, and the KPIs as
 * JSON. CSV fields go through the one field writer (tsr_csv_quote /
 * tsr_csv_put_field), numbers through the one shortest-double form, and
 * JSON is built as jansson values (written by tsr__tb_json). File formats:
 * docs/analyze.md.
 */
#include "internal.h"
#include "base/fmtmemo.h"
#include "base/textbuf.h"
#include "tessera/analyze.h"
#include "tessera/csv.h"
#include "tessera/datetime.h"

#include <errno.h>
#include <jansson.h>

#include "analyze_predict.h"
#include "analyze_rows.h"
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ JSON */

/* Sets o[k] = v (v consumed); *bad = 1 when v or the member could not be
 * allocated. */
static void put(int *bad, json_t *o, const char *k, json_t *v) {
  if (!v || json_object_set_new(o, k, v) != 0) *bad = 1;
}

static json_t *jint(int64_t v) { return json_integer((json_int_t)v); }

/* The KPIs of r as a JSON object (docs/analyze.md); NULL when out of memory. */
static json_t *kpis_value(const tsr_analyze_result *r) {
  const tsr_kpis *p = &r->kpis;
  char d1[11], d2[11];
  int bad = 0;
  json_t *o = json_object();
  if (!o) return NULL;
  put(&bad, o, "customers", jint((int64_t)p->customers));
  put(&bad, o, "transactions", jint(p->transactions));
  put(&bad, o, "visits", jint(p->visits));
  put(&bad, o, "revenue", tsr__json_num(p->revenue));
  put(&bad, o, "repeat_share", tsr__json_num(p->repeat_share));
  put(&bad, o, "top20_revenue_share", tsr__json_num(p->top20_revenue_share));
  put(&bad, o, "first_purchase", json_string(tsr_day_format(p->first_day, d1)));
  put(&bad, o, "last_purchase", json_string(tsr_day_format(p->last_day, d2)));
  put(&bad, o, "churn_rate", tsr__json_num(p->churn_rate));
  put(&bad, o, "expected_alive", tsr__json_num(p->expected_alive));
  put(&bad, o, "expected_dropouts_next_period", tsr__json_num(p->expected_dropouts));
  put(&bad, o, "mean_p_alive", tsr__json_num(p->mean_p_alive));
  put(&bad, o, "clv_total", tsr__json_num(p->clv_total));
  put(&bad, o, "clv_mean", tsr__json_num(p->clv_mean));
  put(&bad, o, "currency", r->currency[0] ? json_string(r->currency) : json_null());
  put(&bad, o, "currency_source",
      r->currency_source ? json_string(r->currency_source) : json_null());
  put(&bad, o, "period_days", tsr__json_num(r->period_days));
  put(&bad, o, "horizon_periods", tsr__json_num(r->horizon_periods));
  put(&bad, o, "rows_read", jint(r->ingest.rows_read));
  put(&bad, o, "rows_rejected", jint(r->ingest.rows_rejected));
  put(&bad, o, "identical_rows", jint(r->ingest.identical_rows));
  put(&bad, o, "duplicate_ids", jint(r->ingest.duplicate_ids));
  put(&bad, o, "refunds", jint(r->ingest.refunds));
  if (r->has_holdout && r->has_model) {
    put(&bad, o, "holdout_mae", tsr__json_num(r->holdout_mae));
    put(&bad, o, "holdout_actual", tsr__json_num(r->holdout_actual_total));
    put(&bad, o, "holdout_predicted", tsr__json_num(r->holdout_predicted_total));
  }
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* Data quality of a bundle run: counts only (docs/profiles.md), with the
 * rejects by reason {"TABLE: FIELD: reason": n, ...}; NULL when out of
 * memory. */
static json_t *data_quality_value(const tsr_analyze_result *r) {
  int64_t rej = 0;
  for (int t = 0; t < TSR_BT_COUNT; t++) rej += r->dq_rejected[t];
  int bad = 0;
  json_t *o = json_object(), *by = json_object();
  if (!o || !by) {
    json_decref(o);
    json_decref(by);
    return NULL;
  }
  put(&bad, o, "crm_records", jint(r->dq_crm_records));
  put(&bad, o, "records_merged", jint(r->dq_records_merged));
  put(&bad, o, "households", jint(r->dq_households));
  put(&bad, o, "household_links", jint(r->dq_household_links));
  put(&bad, o, "transactions_scored", jint(r->dq_transactions_scored));
  put(&bad, o, "anomalies_flagged", jint(r->dq_anomalies));
  if (r->dq_anomalies_excluded >= 0)
    put(&bad, o, "anomalies_excluded", jint(r->dq_anomalies_excluded));
  put(&bad, o, "rows_rejected", jint(rej + r->ingest.rows_rejected));
  put(&bad, o, "transactions_rejected", jint(r->ingest.rows_rejected));
  for (size_t i = 0; i < r->dq_nreasons; i++)
    put(&bad, by, r->dq_reasons[i].key, jint(r->dq_reasons[i].n));
  put(&bad, o, "rejects_by_reason", by);
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* v written as compact JSON (plus suffix) into a new string (tsr__free);
 * v is released. NULL when out of memory. */
static char *json_text(json_t *v, const char *suffix) {
  if (!v) return NULL;
  tsr__tb b = {0};
  tsr__tb_json(&b, v);
  tsr__tb_printf(&b, "%s", suffix);
  json_decref(v);
  return tsr__tb_take(&b);
}

tsr_status tsr_analyze_kpis_json(const tsr_analyze_result *r, char **out, tsr_error *err) {
  if (!(*out = json_text(kpis_value(r), "")))
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  return TSR_OK;
}

/* ------------------------------------------------------------ file output */

/* Output files are written as DIR/.NAME.tmp-PID and renamed into place
 * once complete (rename is atomic within a folder): a reader never sees a
 * file cut short. run.json is removed first and written last, so a folder
 * with a run.json holds the complete results of that run (docs/analyze.md). */
static void tmp_name(const char *dir, const char *name, char *tmp, size_t cap) {
  snprintf(tmp, cap, "%s/.%s.tmp-%ld", dir, name, (long)getpid());
}

static FILE *open_in(const char *dir, const char *name, char *path, size_t cap, tsr_error *err) {
  tmp_name(dir, name, path, cap);
  FILE *f = fopen(path, "w");
  if (!f)
    tsr_error_set(err, TSR_EIO, path, 0, 0, NULL, "cannot open for writing: %s", strerror(errno));
  else
    setvbuf(f, NULL, _IOFBF, (size_t)1 << 20);
  return f;
}

/* Renames the finished temporary file tmp (named by tmp_name) to DIR/NAME. */
static tsr_status put_in_place(const char *dir, const char *name, const char *tmp, tsr_error *err) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (rename(tmp, path) != 0) {
    tsr_status st =
        tsr_error_set(err, TSR_EIO, path, 0, 0, NULL, "cannot write: %s", strerror(errno));
    remove(tmp);
    return st;
  }
  return TSR_OK;
}

static tsr_status close_out(FILE *f, const char *dir, const char *name, const char *tmp,
                            tsr_error *err) {
  int bad = ferror(f);
  if (fflush(f) != 0 || fsync(fileno(f)) != 0) bad = 1;
  if (fclose(f) != 0) bad = 1;
  if (bad) {
    remove(tmp);
    return tsr_error_set(err, TSR_EIO, tmp, 0, 0, NULL, "write error");
  }
  return put_in_place(dir, name, tmp, err);
}

/* Adds name to the list of files of run.json. */
static tsr_status add_file(json_t *files, const char *name, tsr_error *err) {
  if (json_array_append_new(files, json_string(name)) != 0)
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  return TSR_OK;
}

/* Writes DIR/NAME with fn (through a temporary file) and lists it. */
typedef tsr_status (*csv_fn)(FILE *f, const tsr_analyze_result *r, tsr_error *err);

static tsr_status write_csv(const char *dir, const char *name, csv_fn fn,
                            const tsr_analyze_result *r, json_t *files, tsr_error *err) {
  char path[4096];
  FILE *f = open_in(dir, name, path, sizeof path, err);
  if (!f) return TSR_EIO;
  tsr_status st = fn(f, r, err);
  if (st != TSR_OK) {
    fclose(f);
    remove(path);
    return st;
  }
  if ((st = close_out(f, dir, name, path, err)) != TSR_OK) return st;
  return files ? add_file(files, name, err) : TSR_OK;
}

/* Saves a purchase / spend model (m) or the cluster model (cm) as DIR/NAME
 * and lists it. */
static tsr_status write_model(const char *dir, const char *name, const tsr_btyd_model *m,
                              const tsr_cluster_model *cm, json_t *files, tsr_error *err) {
  char path[4096];
  tmp_name(dir, name, path, sizeof path);
  tsr_status st = m ? tsr_btyd_model_save(m, path, err) : tsr_cluster_model_save(cm, path, err);
  if (st == TSR_OK) st = put_in_place(dir, name, path, err);
  if (st != TSR_OK) {
    remove(path);
    return st;
  }
  return add_file(files, name, err);
}

/* ------------------------------------------------------------ CSV files */

/* An empty cell for a value not computed (NAN), else the shortest form. */
static void csv_num(FILE *f, double v) {
  if (!isfinite(v)) return;
  char b[TSR_DOUBLE_BUF];
  fputs(tsr_format_double(v, b), f);
}

/* Line builders of customers.csv: each writes at o and returns the end. */

/* The number columns of customers.csv and the memo of their texts (NULL:
 * none); one per block (blocks are formatted on several threads). The
 * texts of the first and last purchase days and of the segments (a few
 * hundred days and a dozen names over millions of rows) are kept too:
 * days by their number, segments by their address (the scheme's names),
 * each slot holding the text its key makes, so a found text is the one
 * made on the spot (tsr_day_format, tsr_csv_quote). */
enum { CUST_NUM_COLS = 16, CUST_DAY_BITS = 10, CUST_SEG_SLOTS = 32, CUST_SEG_TEXT = 48 };
typedef struct cust_texts {
  tsr__num_memo num;
  int64_t day[1u << CUST_DAY_BITS]; /* INT64_MIN: empty */
  char day_text[1u << CUST_DAY_BITS][10];
  const char *seg[CUST_SEG_SLOTS]; /* NULL: empty */
  uint8_t seg_len[CUST_SEG_SLOTS];
  char seg_text[CUST_SEG_SLOTS][CUST_SEG_TEXT];
  tsr__num_col col[CUST_NUM_COLS]; /* the columns' use of num, between blocks */
} cust_texts;

typedef struct cust_memo {
  tsr__num_memo *m;
  cust_texts *t; /* NULL: days and segments made on the spot */
  tsr__num_col col[CUST_NUM_COLS];
} cust_memo;

/* v in column c: an empty cell for a value not computed (NAN), else the
 * shortest form (tsr__fmt_double_end's bytes, through the memo unless the
 * column has turned it off; it writes a NUL after the digits: room is
 * left). */
static char *put_num(char *o, double v, cust_memo *cm, int c) {
  if (!isfinite(v)) return o;
  if (cm->col[c].off) return tsr__fmt_double_end(v, o);
  return tsr__fmt_double_memo(cm->m, &cm->col[c], v, o);
}

/* The YYYY-MM-DD of day at o (10 bytes). */
static char *put_day(char *o, int64_t day, cust_memo *cm) {
  if (!cm->t) {
    char d[11];
    memcpy(o, tsr_day_format(day, d), 10);
    return o + 10;
  }
  size_t h = (size_t)day & ((1u << CUST_DAY_BITS) - 1);
  if (cm->t->day[h] != day) {
    char d[11];
    memcpy(cm->t->day_text[h], tsr_day_format(day, d), 10);
    cm->t->day[h] = day;
  }
  memcpy(o, cm->t->day_text[h], 10);
  return o + 10;
}

/* The slot of segment name g in cust_texts (< CUST_SEG_SLOTS). */
static size_t seg_slot(const char *g) {
  return (size_t)(((uint64_t)(uintptr_t)g * 0x9E3779B97F4A7C15ull) >> 59);
}

/* The CSV field of segment name g at o (room for twice its length + 2). */
static char *put_segment(char *o, const char *g, cust_memo *cm) {
  if (!cm->t || !g) return o + tsr_csv_quote(o, g, 0);
  size_t h = seg_slot(g);
  cust_texts *t = cm->t;
  if (t->seg[h] != g) {
    size_t n = tsr_csv_quote(o, g, 0);
    if (n < CUST_SEG_TEXT) {
      memcpy(t->seg_text[h], o, n);
      t->seg_len[h] = (uint8_t)n;
      t->seg[h] = g;
    }
    return o + n;
  }
  memcpy(o, t->seg_text[h], t->seg_len[h]);
  return o + t->seg_len[h];
}

static char *put_int(char *o, long long v) {
  if (v < 0) *o++ = '-';
  return tsr__put_u64(o, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v);
}

/* The CSV field of id s (of n bytes up to its first comma, quote, CR, LF
 * or end; s[n] = 0 for a plain id) at o, as tsr_csv_quote writes it. */
static char *put_id(char *o, const char *s, size_t n) {
  if (!s[n]) {
    memcpy(o, s, n);
    return o + n;
  }
  return o + tsr_csv_quote(o, s, 0);
}


/* One line of customers.csv for customer i, whose id is id (tsr__csv_plain_span
 * idn), at line (room for 2 * the id and segment lengths + 1024 bytes);
 * returns its end. */
static char *customer_line(char *line, const tsr_analyze_result *r, const tsr__arows *w, size_t i,
                           const char *id, size_t idn, cust_memo *cm) {
  const tsr_summary *s = r->summary;
  char *o = put_id(line, id, idn);
  static const int vc[7] = {TSR__AR_F,  TSR__AR_R,   TSR__AR_T, TSR__AR_MV,
                            TSR__AR_FH, TSR__AR_MVH, TSR__AR_DH};
  for (int k = 0; k < (s->has_holdout ? 7 : 4); k++) {
    *o++ = ',';
    o = put_num(o, tsr__ar(w, vc[k], i), cm, k);
  }
  char cell[4];
  *o++ = ',';
  o = put_num(o, tsr__ar(w, TSR__AR_REV, i), cm, 7);
  *o++ = ',';
  o = put_int(o, (long long)tsr__ar_ntx(w, i));
  *o++ = ',';
  o = put_int(o, (long long)tsr__ar_active(w, i));
  *o++ = ',';
  o = put_day(o, tsr__ar_first(w, i), cm);
  *o++ = ',';
  o = put_day(o, tsr__ar_last(w, i), cm);
  *o++ = ',';
  o = put_int(o, (long long)tsr__ar_nref(w, i));
  *o++ = ',';
  o = put_int(o, r->r[i]);
  *o++ = ',';
  o = put_int(o, r->f[i]);
  *o++ = ',';
  o = put_int(o, r->m[i]);
  *o++ = ',';
  memcpy(o, tsr_rfm_cell(r->r[i], r->f[i], r->m[i], cell), 3); /* three digits */
  o += 3;
  *o++ = ',';
  o = put_segment(o, r->segment[i], cm);
  double p[7] = {r->expected[i], r->expected_lo[i], r->expected_hi[i], r->p_alive[i],
                 r->clv[i],      r->clv_lo[i],      r->clv_hi[i]};
  for (int k = 0; k < 7; k++) {
    *o++ = ',';
    o = put_num(o, p[k], cm, 8 + k);
  }
  *o++ = ',';
  if (r->clusters) o = put_int(o, r->clusters->labels[i]);
  if (r->clusters && r->clusters->probability) {
    *o++ = ',';
    o = put_num(o, r->clusters->probability[i], cm, 15);
  }
  *o++ = '\n';
  return o;
}

/* customers.csv is formatted in blocks of CUST_BLOCK lines by two threads
 * while the calling thread writes the finished blocks in order (write(2) of
 * whole blocks; tsr__blocks_write): the numbers' text and the copy into the
 * file overlap, and the file is the one a single thread would write. The
 * blocks are small (about 0.5 MB of text; the ring of tsr__blocks_write
 * then stays in cache: with 2 MB blocks a formatter's stores missed it)
 * and the memos (cust_texts) outlive them: a block takes one from a few
 * spares and gives it back, so the memo keeps its texts and a column its
 * verdict (a found text is the one made on the spot: the bytes do not
 * depend on which memo a block had). */
#define CUST_BLOCK 2048
#define CUST_AHEAD 8  /* rows whose id is prefetched ahead */
#define CUST_SPARES 4 /* memos kept between blocks (one a formatter) */

typedef struct cust_out {
  const tsr_analyze_result *r;
  const tsr__arows *w; /* r's rows: the run's view (r->arows), or of r->summary's */
  tsr__fd_sink k;      /* the file, written past the page cache (tsr__fd_sink) */
  pthread_mutex_t mu;  /* guards spare (customers.csv only) */
  cust_texts *spare[CUST_SPARES];
  int nspare;
} cust_out;

/* A memo for a block: a spare one, else a new one (NULL when out of
 * memory). */
static cust_texts *texts_take(cust_out *c) {
  cust_texts *t = NULL;
  pthread_mutex_lock(&c->mu);
  if (c->nspare) t = c->spare[--c->nspare];
  pthread_mutex_unlock(&c->mu);
  if (t || !(t = tsr__malloc(sizeof *t))) return t;
  tsr__num_memo_reset(&t->num);
  for (size_t h = 0; h < (1u << CUST_DAY_BITS); h++) t->day[h] = INT64_MIN;
  memset(t->seg, 0, sizeof t->seg);
  memset(t->col, 0, sizeof t->col);
  return t;
}

static void texts_give(cust_out *c, cust_texts *t) {
  pthread_mutex_lock(&c->mu);
  if (c->nspare < CUST_SPARES) c->spare[c->nspare++] = t, t = NULL;
  pthread_mutex_unlock(&c->mu);
  tsr__free(t);
}

/* Lines of block blk into buf; 0, or -1 when out of memory. */
static int cust_block(void *ctx, size_t blk, tsr__tb *buf) {
  const tsr_analyze_result *r = ((cust_out *)ctx)->r;
  const tsr__arows *w = ((cust_out *)ctx)->w;
  const tsr_summary *s = r->summary;
  size_t lo = blk * CUST_BLOCK, hi = lo + CUST_BLOCK < s->n ? lo + CUST_BLOCK : s->n;
  /* repeated values' texts looked up (out of memory: each formatted) */
  cust_memo cm;
  memset(&cm, 0, sizeof cm);
  if ((cm.t = texts_take((cust_out *)ctx))) {
    cm.m = &cm.t->num;
    memcpy(cm.col, cm.t->col, sizeof cm.col);
  }
  int st = 0;
  for (size_t i = lo; i < hi; i++) {
    /* the ids live in the ledger's customers, in insertion order: read at
     * random in the rows' order, so fetched a few rows ahead (as the
     * summary's lines do) */
    if (i + CUST_AHEAD < hi) __builtin_prefetch(tsr__ar_id(w, i + CUST_AHEAD));
    const char *id = tsr__ar_id(w, i), *g = r->segment[i];
    size_t idn = tsr__csv_plain_span(id);
    /* the segment's room: its kept text's length, else twice its length
     * (the quotes within the 1024) */
    size_t gn = !g                                    ? 0
                : cm.t && cm.t->seg[seg_slot(g)] == g ? cm.t->seg_len[seg_slot(g)]
                                                      : 2 * strlen(g);
    size_t need = 2 * (id[idn] ? strlen(id) : idn) + gn + 1024;
    if (buf->len + need + 1 > buf->cap && tsr__tb_reserve(buf, need)) {
      st = -1;
      break;
    }
    char *end = customer_line(buf->s + buf->len, r, w, i, id, idn, &cm);
    buf->len = (size_t)(end - buf->s);
  }
  if (cm.t) {
    memcpy(cm.t->col, cm.col, sizeof cm.col);
    texts_give((cust_out *)ctx, cm.t);
  }
  return st;
}

/* Writes the n bytes at s; 0, or -1 (k.werr set) on a write error. */
static int cust_write(void *ctx, const char *s, size_t n) {
  return tsr__fd_sink_put(&((cust_out *)ctx)->k, s, n);
}

/* The blocks of a file through its descriptor f (after its header):
 * tsr__blocks_write into a tsr__fd_sink; 0, -1 (out of memory) or -2 (a
 * write error: c->k.werr). */
static int blocks_to(FILE *f, size_t nblocks, tsr__block_fmt fmt, tsr__block_sink sink, void *ctx,
                     cust_out *c) {
  if (tsr__fd_sink_init(&c->k, fileno(f), 0, 1)) return -1;
  int st = tsr__blocks_write(nblocks, 2, fmt, sink, ctx);
  if (tsr__fd_sink_finish(&c->k) && st == 0) st = -2;
  return st;
}

/* customers.csv: one row per customer, every computed column. */
static tsr_status write_customers(FILE *f, const tsr_analyze_result *r, tsr_error *err) {
  const tsr_summary *s = r->summary;
  fputs(s->has_holdout ? "customer_id,frequency_cal,recency_cal,T_cal,monetary_value_cal,"
                         "frequency_holdout,monetary_value_holdout,duration_holdout"
                       : "customer_id,frequency,recency,T,monetary_value",
        f);
  fputs(",revenue,n_transactions,active_days,first_purchase,last_purchase,refunds,"
        "r_score,f_score,m_score,rfm_cell,segment,expected_purchases,expected_purchases_lo,"
        "expected_purchases_hi,p_alive,clv,clv_lo,clv_hi,cluster",
        f);
  if (r->clusters && r->clusters->probability) fputs(",cluster_probability", f);
  fputc('\n', f);
  /* the blocks go to the descriptor, after the header */
  if (fflush(f) != 0)
    return tsr_error_set(err, TSR_EIO, NULL, 0, 0, NULL, "write error: %s", strerror(errno));
  tsr__arows full;
  if (!r->arows) tsr__arows_full(&full, s); /* a result the run did not make */
  cust_out c;
  memset(&c, 0, sizeof c);
  c.r = r;
  c.w = r->arows ? r->arows : &full;
  if (pthread_mutex_init(&c.mu, NULL) != 0)
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  int st = blocks_to(f, (s->n + CUST_BLOCK - 1) / CUST_BLOCK, cust_block, cust_write, &c, &c);
  for (int i = 0; i < c.nspare; i++) tsr__free(c.spare[i]);
  pthread_mutex_destroy(&c.mu);
  if (st == -1) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  if (st != 0)
    return tsr_error_set(err, TSR_EIO, NULL, 0, 0, NULL, "write error: %s", strerror(c.k.werr));
  return TSR_OK;
}

/* segments.csv: the RFM segments of the scheme. */
static tsr_status write_segments(FILE *f, const tsr_analyze_result *r, tsr_error *err) {
  (void)err;
  fputs("segment,customers,share,mean_r,mean_f,mean_m,revenue,revenue_share\n", f);
  for (size_t j = 0; j < r->n_segments; j++) {
    const tsr_rfm_segment_stats *g = &r->segments[j];
    tsr_csv_put_field(f, g->segment);
    fprintf(f, ",%zu,", g->customers);
    double v[6] = {g->share, g->mean_r, g->mean_f, g->mean_m, g->revenue, g->revenue_share};
    for (int k = 0; k < 6; k++) {
      if (k) fputc(',', f);
      csv_num(f, v[k]);
    }
    fputc('\n', f);
  }
  return TSR_OK;
}

/* clusters.csv: one row per cluster with its profile. */
static tsr_status write_clusters(FILE *f, const tsr_analyze_result *r, tsr_error *err) {
  (void)err;
  const tsr_cluster_result *c = r->clusters;
  fputs("cluster,size,share", f);
  for (size_t j = 0; j < c->nfeatures; j++) {
    fputc(',', f);
    tsr_csv_put_field(f, c->features[j]);
  }
  fputs(",mean_clv,mean_p_alive,revenue_share,top_segment,label\n", f);
  for (size_t k = 0; k < c->k; k++) {
    const tsr_cluster_profile *p = &c->profiles[k];
    fprintf(f, "%zu,%zu,", k, p->size);
    csv_num(f, p->share);
    for (size_t j = 0; j < c->nfeatures; j++) {
      fputc(',', f);
      csv_num(f, p->centroid[j]);
    }
    double v[3] = {p->mean_clv, p->mean_p_alive, p->revenue_share};
    for (int j = 0; j < 3; j++) {
      fputc(',', f);
      csv_num(f, v[j]);
    }
    fputc(',', f);
    tsr_csv_put_field(f, p->n_segments ? p->segments[0] : "");
    fputc(',', f);
    tsr_csv_put_field(f, p->label);
    fputc('\n', f);
  }
  return TSR_OK;
}

/* holdout.csv: actual vs predicted holdout purchases by calibration
 * frequency. */
static tsr_status write_holdout(FILE *f, const tsr_analyze_result *r, tsr_error *err) {
  (void)err;
  fputs("frequency_cal,customers,actual_holdout,predicted_holdout\n", f);
  for (int b = 0; b < TSR_HOLDOUT_BUCKETS; b++) {
    fprintf(f, "%d%s,%zu,", b, b == TSR_HOLDOUT_BUCKETS - 1 ? "+" : "", r->holdout[b].customers);
    csv_num(f, r->holdout[b].actual);
    fputc(',', f);
    csv_num(f, r->holdout[b].predicted);
    fputc('\n', f);
  }
  return TSR_OK;
}

/* profiles.csv is formatted in blocks of PROF_BLOCK rows by two threads
 * while the calling thread writes the finished blocks in order, as
 * customers.csv (tsr__blocks_write). */
#define PROF_BLOCK 1024

typedef struct prof_out {
  cust_out o; /* the descriptor (o.r unused) */
  const tsr_profiles *p;
  const struct tsr__predict_cols *pc; /* NULL: no prediction columns */
} prof_out;

/* Rows of block blk into buf, each with its prediction columns (a cursor
 * of its own: blocks are formatted on several threads); 0, or -1. */
static int prof_block(void *ctx, size_t blk, tsr__tb *buf) {
  const prof_out *c = ctx;
  struct tsr__predict_cursor cur = {c->pc, 0, 0};
  return tsr__profiles_rows_text(c->p, blk * PROF_BLOCK, (blk + 1) * PROF_BLOCK,
                                 c->pc ? tsr__predict_cols_row : NULL, &cur, buf);
}

static int prof_write(void *ctx, const char *s, size_t n) {
  return cust_write(&((prof_out *)ctx)->o, s, n);
}

/* profiles.csv, with the prediction columns of a run that has them
 * (written once: no second pass over the file). */
static tsr_status write_profiles(FILE *f, const tsr_analyze_result *r, tsr_error *err) {
  struct tsr__predict_cols *pc = NULL;
  tsr_status st = tsr__predict_cols_init(r, &pc, err);
  if (st != TSR_OK) return st;
  tsr__profiles_write_head(f);
  if (pc) tsr__predict_cols_head(pc, f);
  fputc('\n', f);
  /* the blocks go to the descriptor, after the header */
  if (fflush(f) != 0) {
    tsr__predict_cols_free(pc);
    return tsr_error_set(err, TSR_EIO, NULL, 0, 0, NULL, "write error: %s", strerror(errno));
  }
  prof_out c = {{.r = r}, r->profiles, pc};
  size_t n = tsr_profiles_count(r->profiles);
  int bs = blocks_to(f, (n + PROF_BLOCK - 1) / PROF_BLOCK, prof_block, prof_write, &c, &c.o);
  tsr__predict_cols_free(pc);
  if (bs == -1) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  if (bs != 0)
    return tsr_error_set(err, TSR_EIO, NULL, 0, 0, NULL, "write error: %s", strerror(c.o.k.werr));
  return TSR_OK;
}

static tsr_status write_segment_profiles(FILE *f, const tsr_analyze_result *r, tsr_error *err) {
  return tsr_profiles_write_segments_csv(r->profiles, f, err);
}

tsr_status tsr__analyze_customers_early(const tsr_analyze_result *r, const char *dir, char *tmp,
                                        size_t cap, int *made_dir, tsr_error *err) {
  tmp[0] = '\0';
  *made_dir = mkdir(dir, 0777) == 0;
  if (!*made_dir && errno != EEXIST)
    return tsr_error_set(err, TSR_EIO, dir, 0, 0, NULL, "cannot create directory: %s",
                         strerror(errno));
  FILE *f = open_in(dir, "customers.csv", tmp, cap, err);
  if (!f) {
    tmp[0] = '\0';
    return TSR_EIO;
  }
  tsr_status st = write_customers(f, r, err);
  int bad = st != TSR_OK || ferror(f);
  if (!bad && (fflush(f) != 0 || fsync(fileno(f)) != 0)) bad = 1;
  if (fclose(f) != 0) bad = 1;
  if (bad) {
    remove(tmp);
    tmp[0] = '\0';
    return st != TSR_OK ? st : tsr_error_set(err, TSR_EIO, NULL, 0, 0, NULL, "write error");
  }
  return TSR_OK;
}

/* Every result file of r except run.json, each listed in files;
 * customers.csv from cust_tmp (tsr__analyze_customers_early) when not
 * NULL. */
static tsr_status write_results(const tsr_analyze_result *r, const tsr_analyze_opts *o,
                                const char *dir, const char *cust_tmp, json_t *files,
                                tsr_error *err) {
  tsr_status st;
  if (cust_tmp) {
    if ((st = put_in_place(dir, "customers.csv", cust_tmp, err)) != TSR_OK ||
        (st = add_file(files, "customers.csv", err)) != TSR_OK)
      return st;
  } else if ((st = write_csv(dir, "customers.csv", write_customers, r, files, err)) != TSR_OK) {
    return st;
  }
  if ((st = write_csv(dir, "segments.csv", write_segments, r, files, err)) != TSR_OK) return st;
  if (r->clusters &&
      ((st = write_csv(dir, "clusters.csv", write_clusters, r, files, err)) != TSR_OK ||
       (st = write_model(dir, "cluster_model.json", NULL, r->clusters->model, files, err)) !=
           TSR_OK))
    return st;
  if (r->has_model) {
    char name[64];
    snprintf(name, sizeof name, "%s.json", tsr_btyd_kind_name(r->model.kind));
    if ((st = write_model(dir, name, &r->model, NULL, files, err)) != TSR_OK) return st;
  }
  if (r->has_spend && (st = write_model(dir, "gg.json", &r->spend, NULL, files, err)) != TSR_OK)
    return st;
  if (r->has_holdout && r->has_model &&
      (st = write_csv(dir, "holdout.csv", write_holdout, r, files, err)) != TSR_OK)
    return st;
  if (r->profiles) {
    /* profiles.csv (with the models' columns) is written by
     * tsr__analyze_write_end, once the models are done; listed here, in its
     * place among the files */
    if ((st = add_file(files, "profiles.csv", err)) != TSR_OK ||
        (st = write_csv(dir, "segment_profiles.csv", write_segment_profiles, r, files, err)) !=
            TSR_OK)
      return st;
    /* written by the profile step (entity resolution) into opts->out_dir */
    if (r->dq_records_merged >= 0 && o && o->out_dir && !strcmp(o->out_dir, dir) &&
        (st = add_file(files, "graph.csv", err)) != TSR_OK)
      return st;
  }
  return TSR_OK;
}

/* run.json: the run id, the files of the run, the KPIs and (bundle runs)
 * the data quality; NULL when out of memory. */
static char *run_json_text(const tsr_analyze_result *r, json_t *files) {
  int bad = 0;
  json_t *o = json_object();
  if (!o) return NULL;
  put(&bad, o, "run_id", jint(r->run_id));
  put(&bad, o, "complete", json_true());
  put(&bad, o, "files", json_incref(files));
  put(&bad, o, "kpis", kpis_value(r));
  if (r->profiles) put(&bad, o, "data_quality", data_quality_value(r));
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return json_text(o, "\n");
}

static tsr_status write_begin(const tsr_analyze_result *r, const tsr_analyze_opts *o,
                              const char *dir, const char *cust_tmp, json_t **files,
                              tsr_error *err) {
  *files = NULL;
  if (mkdir(dir, 0777) != 0 && errno != EEXIST)
    return tsr_error_set(err, TSR_EIO, dir, 0, 0, NULL, "cannot create directory: %s",
                         strerror(errno));
  char path[4096];
  /* no run.json until every file of this run is in place */
  snprintf(path, sizeof path, "%s/run.json", dir);
  if (remove(path) != 0 && errno != ENOENT)
    return tsr_error_set(err, TSR_EIO, path, 0, 0, NULL, "cannot remove: %s", strerror(errno));
  json_t *fl = json_array();
  if (!fl) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  tsr_status st = write_results(r, o, dir, cust_tmp, fl, err);
  if (st != TSR_OK) {
    json_decref(fl);
    return st;
  }
  *files = fl;
  return TSR_OK;
}

tsr_status tsr__analyze_write_begin(const tsr_analyze_result *r, const tsr_analyze_opts *o,
                                    const char *dir, json_t **files, tsr_error *err) {
  return write_begin(r, o, dir, NULL, files, err);
}

/* profiles.csv on a thread of its own beside the models' files. */
typedef struct profiles_job {
  const tsr_analyze_result *r;
  const char *dir;
  tsr_status st;
  tsr_error err;
} profiles_job;

static void *profiles_main(void *arg) {
  profiles_job *j = arg;
  j->st = write_csv(j->dir, "profiles.csv", write_profiles, j->r, NULL, &j->err);
  return NULL;
}

tsr_status tsr__analyze_write_end(const tsr_analyze_result *r, const char *dir, json_t *files,
                                  tsr_error *err) {
  /* profiles.csv (listed by write_results) with the prediction columns,
   * and churn and next-best-product of a bundle run (app/analyze_predict.c)
   * at once when the run has models (issue 12: the end of a bundle run); the
   * first error in the order of the files: profiles.csv's, then the
   * models' */
  profiles_job pj;
  memset(&pj, 0, sizeof pj);
  pj.r = r;
  pj.dir = dir;
  pthread_t th;
  int threaded = 0;
  if (r->profiles) {
    threaded = r->predict && pthread_create(&th, NULL, profiles_main, &pj) == 0;
    if (!threaded) profiles_main(&pj);
  }
  tsr_status st = pj.st == TSR_OK ? tsr__analyze_predict_write(r, dir, files, err) : TSR_OK;
  if (threaded) pthread_join(th, NULL);
  if (pj.st != TSR_OK) {
    if (err) *err = pj.err;
    st = pj.st;
  }
  char *text = st == TSR_OK ? run_json_text(r, files) : NULL;
  json_decref(files);
  if (st != TSR_OK) return st;
  if (!text) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  char path[4096];
  FILE *f = open_in(dir, "run.json", path, sizeof path, err);
  if (!f) {
    tsr__free(text);
    return TSR_EIO;
  }
  fputs(text, f);
  tsr__free(text);
  return close_out(f, dir, "run.json", path, err);
}

tsr_status tsr__analyze_write_files_with(const tsr_analyze_result *r, const tsr_analyze_opts *o,
                                         const char *dir, const char *cust_tmp, tsr_error *err) {
  json_t *files = NULL;
  tsr_status st = write_begin(r, o, dir, cust_tmp, &files, err);
  if (st != TSR_OK) {
    if (cust_tmp) remove(cust_tmp); /* not put in place: the run fails */
    return st;
  }
  return tsr__analyze_write_end(r, dir, files, err);
}

tsr_status tsr_analyze_write_files(const tsr_analyze_result *r, const tsr_analyze_opts *o,
                                   const char *dir, tsr_error *err) {
  return tsr__analyze_write_files_with(r, o, dir, NULL, err);
}
