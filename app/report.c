/*
 * report.c - the self-contained HTML report (tessera/report.h): the page
 * around the data JSON with the vendored chart library (chart.js 4 +
 * chartjs-chart-matrix), web/report.css and web/report.js inlined; and the
 * column view of a stored run read back through the store API.
 * Reference: docs/report.md.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "report_internal.h"
#include "tessera/datetime.h"
#include "tessera/tessera.h"

void tsr_report_opts_init(tsr_report_opts *o) {
  memset(o, 0, sizeof *o);
  o->churn_threshold = 0.5;
  o->top_n = 20;
  o->sample = 2000;
  o->max_rejects = 20;
}

const char *tsr_report_asset(const char *name, size_t *len) {
  size_t n = 0;
  const char *p = name ? tsr__report_asset(name, &n) : "";
  if (len) *len = n;
  return p;
}

static tsr_status check_opts(const tsr_report_opts *o, tsr_error *err) {
  if (!o) return TSR_OK;
  if (!(o->churn_threshold > 0 && o->churn_threshold < 1))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "churn_threshold",
                         "expected a value in (0, 1), got %g", o->churn_threshold);
  if (o->top_n < 1 || o->top_n > 1000)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "top_n", "expected 1..1000, got %zu", o->top_n);
  if (o->sample < 100 || o->sample > 100000)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "sample", "expected 100..100000, got %zu",
                         o->sample);
  if (o->max_rejects > 1000)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "max_rejects", "expected 0..1000, got %zu",
                         o->max_rejects);
  return TSR_OK;
}

tsr_status tsr_report_data_json(const tsr_analyze_result *r, const tsr_report_opts *opts,
                                char **json, tsr_error *err) {
  *json = NULL;
  tsr_status st = check_opts(opts, err);
  if (st != TSR_OK) return st;
  if (!r || !r->summary)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "report: no analysis result");
  tsr__report_src s;
  memset(&s, 0, sizeof s);
  st = tsr__report_src_from_result(r, &s, err);
  if (st != TSR_OK) return st;
  char *kj = NULL;
  tsr_run *run = NULL;
  /* the run's parameters, when it was stored */
  if (opts && opts->store && r->run_id > 0 && tsr_store_run_get(opts->store, r->run_id, &run, NULL) == TSR_OK)
    s.params_json = run->params;
  st = tsr_analyze_kpis_json(r, &kj, err);
  if (st == TSR_OK) {
    s.kpis_json = kj;
    st = tsr__report_json(&s, opts, json, err);
  }
  free(kj);
  tsr_store_free(run);
  tsr__report_src_release(&s);
  return st;
}

/* ------------------------------------------------------------ stored runs */

typedef struct load_ctx {
  tsr__report_src *s;
  size_t i;
  char *ids;         /* all customer ids, NUL-separated */
  size_t ids_len, ids_cap;
  size_t *id_off;
  char *segs[64];    /* distinct segment names (owned) */
  size_t nsegs;
  int oom;
  int any_model, any_spend, any_cluster;
} load_ctx;

static const char *intern_segment(load_ctx *c, const char *seg) {
  if (!seg) return NULL;
  for (size_t j = 0; j < c->nsegs; j++)
    if (!strcmp(c->segs[j], seg)) return c->segs[j];
  if (c->nsegs == TSR__ARRAY_LEN(c->segs)) return "other";
  char *d = tsr__strdup(seg);
  if (!d) {
    c->oom = 1;
    return NULL;
  }
  c->segs[c->nsegs++] = d;
  return d;
}

static int on_customer(void *ctx, const tsr_customer *row) {
  load_ctx *c = ctx;
  tsr__report_src *s = c->s;
  if (c->i >= s->n) return 1;
  /* profile-only customers of a bundle run (CRM records without a purchase)
   * are stored for the profiles but are not in the analysis (run.json's
   * KPIs count customers with a purchase): left out as analyze leaves them */
  if (row->n_transactions == 0 && row->first_purchase == 0) return 0;
  size_t i = c->i++;
  size_t l = strlen(row->customer_id) + 1;
  if (tsr__grow((void **)&c->ids, &c->ids_cap, c->ids_len + l, 1) != TSR_OK) {
    c->oom = 1;
    return 1;
  }
  memcpy(c->ids + c->ids_len, row->customer_id, l);
  c->id_off[i] = c->ids_len;
  c->ids_len += l;
  s->frequency[i] = row->frequency;
  s->recency[i] = row->recency;
  s->T[i] = row->T;
  s->monetary[i] = row->monetary_value;
  s->revenue[i] = row->revenue;
  s->n_tx[i] = (double)row->n_transactions;
  s->first_day[i] = row->first_purchase / 86400000LL;
  s->last_day[i] = row->last_purchase / 86400000LL;
  s->r[i] = row->r_score;
  s->f[i] = row->f_score;
  s->m[i] = row->m_score;
  s->segment[i] = intern_segment(c, row->segment);
  s->cluster[i] = row->cluster >= 0 && row->cluster < 1000000 ? (int)row->cluster : -1;
  if (row->cluster >= 0) c->any_cluster = 1;
  s->expected[i] = row->expected_purchases;
  s->p_alive[i] = row->p_alive;
  if (isfinite(row->p_alive)) c->any_model = 1;
  s->clv[i] = row->clv;
  s->clv_lo[i] = row->clv_lo;
  s->clv_hi[i] = row->clv_hi;
  if (isfinite(row->clv)) c->any_spend = 1;
  return c->oom;
}

typedef struct model_ctx {
  tsr__report_src *s;
  int have_btyd, have_gg;
} model_ctx;

static int on_model(void *ctx, const tsr_model *row) {
  model_ctx *c = ctx;
  tsr_btyd_kind k;
  if (!row->params || tsr_btyd_kind_parse(row->kind, &k, NULL) != TSR_OK) return 0;
  tsr_btyd_model m;
  if (tsr_btyd_model_from_json(row->params, strlen(row->params), row->kind, &m, NULL) != TSR_OK)
    return 0;
  if (k == TSR_BTYD_GG) {
    if (!c->have_gg) c->s->spend = m;
    c->have_gg = 1;
  } else {
    if (!c->have_btyd) c->s->model = m;
    c->have_btyd = 1;
  }
  return 0;
}

typedef struct seg_ctx {
  load_ctx *lc;
  const char *order[64];
  size_t n;
  char scheme[64];
} seg_ctx;

static int on_segment(void *ctx, const tsr_segment_row *row) {
  seg_ctx *c = ctx;
  if (!c->scheme[0]) snprintf(c->scheme, sizeof c->scheme, "%s", row->scheme);
  if (c->n < TSR__ARRAY_LEN(c->order)) {
    const char *nm = intern_segment(c->lc, row->segment);
    if (nm) c->order[c->n++] = nm;
  }
  return 0;
}

static double json_num(json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  return json_is_number(v) ? json_number_value(v) : NAN;
}

/* The transaction ledger of a stored run, re-read from its input files when
 * they are still there and unchanged (same checksum and accepted rows as
 * the stored dataset), for the tracking plots; NULL otherwise. Also sets
 * the summary period and the observation/calibration ends from the run's
 * parameters. */
static tsr_ledger *reload_ledger(const tsr_run *run, const tsr_dataset *ds, tsr__report_src *s) {
  json_t *p = run->params ? json_loads(run->params, 0, NULL) : NULL;
  json_t *io_js = ds->options ? json_loads(ds->options, 0, NULL) : NULL;
  tsr_ledger *lg = NULL;
  json_t *inputs = json_object_get(p, "inputs");
  if (!p || !json_is_array(inputs) || json_array_size(inputs) == 0) goto fail;
  /* the run's inputs, then the columns the ingest resolved (the dataset's) */
  tsr_params pv;
  tsr_params_init(&pv);
  tsr_params_from_json(&pv, p, TSR_PARAMS_LENIENT, NULL);
  if (io_js) tsr_params_from_json(&pv, io_js, TSR_PARAMS_LENIENT, NULL);
  tsr_analyze_opts ao;
  tsr_analyze_opts_init(&ao);
  tsr_analyze_opts_apply(&ao, &pv, 1);
  tsr_ingest_opts io;
  tsr_ingest_opts_init(&io);
  io.customer_col = ao.ingest.customer_col;
  io.date_col = ao.ingest.date_col;
  io.amount_col = ao.ingest.amount_col;
  io.id_col = ao.ingest.id_col;
  io.date_format = ao.ingest.date_format;
  io.dedupe = ao.ingest.dedupe;
  io.csv.delim = ao.ingest.csv.delim;
  if (tsr_ledger_new(&lg, NULL) != TSR_OK) goto fail;
  uint64_t combined = 0;
  int64_t accepted = 0;
  size_t i;
  json_t *in;
  json_array_foreach(inputs, i, in) {
    const char *path = json_string_value(in);
    if (!path || !strcmp(path, "-")) goto fail;
    tsr_ingest_stats st;
    if (tsr_ingest_file(lg, path, &io, &st, NULL) != TSR_OK) goto fail;
    combined = combined * 0x100000001B3ULL ^ st.checksum;
    accepted += st.rows_accepted;
  }
  char sum[32];
  snprintf(sum, sizeof sum, "%016llx", (unsigned long long)combined);
  if (!ds->checksum || strcmp(sum, ds->checksum) != 0 || accepted != ds->rows_accepted) goto fail;
  if (tsr_ledger_finish(lg, NULL) != TSR_OK) goto fail;
  s->freq = ao.summary.freq;
  s->end_day = ao.summary.end_day;
  s->cal_end_day = ao.summary.cal_end_day;
  if (s->end_day == TSR_DAY_NONE) {
    /* the last date in the data, as the summary takes it */
    int64_t mx = INT64_MIN;
    for (size_t c = 0; c < tsr_ledger_ncustomers(lg); c++) {
      int32_t f, l;
      if (tsr__ledger_day_span(lg, c, &f, &l) && l > mx) mx = l;
    }
    if (mx == INT64_MIN) goto fail;
    s->end_day = mx;
  }
  json_decref(p);
  json_decref(io_js);
  return lg;
fail:
  tsr_ledger_free(lg);
  json_decref(p);
  json_decref(io_js);
  return NULL;
}

tsr_status tsr_report_data_json_stored(tsr_store *store, int64_t run_id,
                                       const tsr_report_opts *opts, char **json,
                                       tsr_error *err) {
  *json = NULL;
  tsr_status st = check_opts(opts, err);
  if (st != TSR_OK) return st;
  tsr_report_opts o;
  if (opts) o = *opts;
  else tsr_report_opts_init(&o);
  if (!o.store) o.store = store;
  tsr_run *run = NULL;
  tsr_dataset *ds = NULL;
  st = tsr_store_run_get(store, run_id, &run, err);
  if (st != TSR_OK) return st;
  /* retrain runs (issue 7) are whole analyze runs on stored datasets */
  if ((strcmp(run->command, "analyze") != 0 && strcmp(run->command, "retrain") != 0) ||
      run->status != TSR_RUN_DONE) {
    st = tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                       "run %lld: not a finished analyze run (%s, %s)", (long long)run_id,
                       run->command, tsr_run_status_name(run->status));
    tsr_store_free(run);
    return st;
  }
  if (!o.out_dir) o.out_dir = run->output_dir; /* its files: profiles, churn */
  tsr_customer_query q;
  tsr_customer_query_init(&q, run_id);
  int64_t n = 0;
  st = tsr_store_customers_count(store, &q, &n, err);
  if (st != TSR_OK) {
    tsr_store_free(run);
    return st;
  }
  tsr__report_src s;
  memset(&s, 0, sizeof s);
  load_ctx lc;
  memset(&lc, 0, sizeof lc);
  lc.s = &s;
  seg_ctx sc;
  memset(&sc, 0, sizeof sc);
  sc.lc = &lc;
  json_t *kp = NULL;
  tsr_ledger *lg = NULL;
  tsr_ingest_stats ing;
  memset(&ing, 0, sizeof ing);
  st = tsr__report_src_alloc(&s, (size_t)n, 0, err);
  if (st != TSR_OK) goto done;
  s.cluster = tsr__malloc(((size_t)n ? (size_t)n : 1) * sizeof *s.cluster);
  lc.id_off = tsr__malloc(((size_t)n ? (size_t)n : 1) * sizeof *lc.id_off);
  if (!s.cluster || !lc.id_off) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  tsr__free(s.active_days); /* not stored: visits per segment unknown */
  s.active_days = NULL;
  st = tsr_store_customers_list(store, &q, on_customer, &lc, err);
  if (st == TSR_OK && lc.oom) st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  if (st != TSR_OK) goto done;
  s.n = lc.i;
  for (size_t i = 0; i < s.n; i++) s.id[i] = lc.ids + lc.id_off[i];
  if (!lc.any_cluster) {
    tsr__free(s.cluster);
    s.cluster = NULL;
  }
  st = tsr_store_segments_list(store, run_id, NULL, on_segment, &sc, err);
  if (st != TSR_OK) goto done;
  s.segment_order = tsr__calloc(sc.n ? sc.n : 1, sizeof *s.segment_order);
  if (!s.segment_order) {
    st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    goto done;
  }
  memcpy(s.segment_order, sc.order, sc.n * sizeof *sc.order);
  s.n_segment_order = sc.n;
  s.scheme_name = sc.scheme[0] ? sc.scheme : NULL;
  model_ctx mc = {&s, 0, 0};
  st = tsr_store_models_list(store, run_id, NULL, on_model, &mc, err);
  if (st != TSR_OK) goto done;
  s.has_model = mc.have_btyd && lc.any_model;
  s.has_spend = mc.have_gg && lc.any_spend;
  s.kpis_json = run->summary;
  s.timings_json = run->timings;
  s.params_json = run->params;
  s.run_id = run_id;
  s.dataset_id = run->dataset_id;
  s.end_day = s.cal_end_day = TSR_DAY_NONE;
  s.seconds = run->finished_at > run->started_at ? (double)(run->finished_at - run->started_at) / 1000 : NAN;
  kp = run->summary ? json_loads(run->summary, 0, NULL) : NULL;
  s.period_days = kp ? json_num(kp, "period_days") : NAN;
  s.horizon_periods = kp ? json_num(kp, "horizon_periods") : NAN;
  if (!(s.period_days > 0)) s.period_days = s.has_model ? s.model.period_days : 7;
  if (!(s.horizon_periods > 0)) s.horizon_periods = 1;
  if (run->dataset_id > 0 && tsr_store_dataset_get(store, run->dataset_id, &ds, NULL) == TSR_OK) {
    ing.rows_read = ds->rows_read;
    ing.rows_accepted = ds->rows_accepted;
    ing.rows_rejected = ds->rows_rejected;
    ing.duplicate_ids = ds->duplicates;
    ing.refunds = ds->refunds;
    ing.bytes = ds->bytes;
    s.ingest = &ing;
    if (!o.source) o.source = ds->source;
    if (s.has_model && !o.no_input) {
      lg = reload_ledger(run, ds, &s);
      s.ledger = lg;
    }
  }
  st = tsr__report_json(&s, &o, json, err);
done:
  tsr_ledger_free(lg);
  json_decref(kp);
  for (size_t j = 0; j < lc.nsegs; j++) tsr__free(lc.segs[j]);
  tsr__free(lc.ids);
  tsr__free(lc.id_off);
  tsr__report_src_release(&s);
  tsr_store_free(ds);
  tsr_store_free(run);
  return st;
}

/* ------------------------------------------------------------ HTML */

typedef struct out {
  FILE *f;
  int bad;
} out;

static void put_raw(out *o, const char *s, size_t n) {
  if (n && fwrite(s, 1, n, o->f) != n) o->bad = 1;
}
static void put_str(out *o, const char *s) { put_raw(o, s, strlen(s)); }

/* Text for HTML element content and attribute values. */
static void put_html(out *o, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '&': put_str(o, "&amp;"); break;
    case '<': put_str(o, "&lt;"); break;
    case '>': put_str(o, "&gt;"); break;
    case '"': put_str(o, "&quot;"); break;
    case '\'': put_str(o, "&#39;"); break;
    default: put_raw(o, s, 1);
    }
  }
}

/* Script text: "</script" becomes "<\\/script" and "<!--" "<\\!--" (both
 * can only occur in strings, regular expressions or comments, where the
 * escape means the same) so that nothing ends the element early. */
static void put_script(out *o, const char *s, size_t n) {
  size_t start = 0;
  for (size_t i = 0; i + 3 < n; i++) {
    if (s[i] == '<' && ((s[i + 1] == '/' && i + 7 < n && !strncasecmp(s + i + 2, "script", 6)) ||
                        !strncmp(s + i + 1, "!--", 3))) {
      put_raw(o, s + start, i + 1 - start);
      put_str(o, "\\");
      start = i + 1;
    }
  }
  put_raw(o, s + start, n - start);
}

/* JSON in a script element: '<', '>' and '&' as \u escapes (they can only
 * occur inside JSON strings, where the escape means the same). */
static void put_json(out *o, const char *s) {
  size_t start = 0, i = 0;
  for (; s[i]; i++) {
    const char *rep = s[i] == '<' ? "\\u003c" : s[i] == '>' ? "\\u003e" : s[i] == '&' ? "\\u0026" : NULL;
    if (rep) {
      put_raw(o, s + start, i - start);
      put_str(o, rep);
      start = i + 1;
    }
  }
  put_raw(o, s + start, i - start);
}

static void put_asset(out *o, const char *name) {
  size_t n = 0;
  const char *p = tsr__report_asset(name, &n);
  put_script(o, p, n);
}

tsr_status tsr_report_html_write(const char *data_json, const char *title, const char *path,
                                 tsr_error *err) {
  if (!data_json || !path)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "report: no data or no path");
  int to_stdout = !strcmp(path, "-");
  FILE *f = to_stdout ? stdout : fopen(path, "wb");
  if (!f) return tsr_error_set(err, TSR_EIO, path, 0, 0, NULL, "cannot write: %s", strerror(errno));
  out o = {f, 0};
  size_t nchart = 0, nmatrix = 0, ncss = 0;
  tsr__report_asset("chart.js", &nchart);
  tsr__report_asset("chartjs-chart-matrix.js", &nmatrix);
  const char *css = tsr__report_asset("report.css", &ncss);
  put_str(&o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
              "<meta name=\"generator\" content=\"tessera ");
  put_html(&o, tsr_version());
  put_str(&o, "\">\n<title>");
  put_html(&o, title ? title : "tessera analysis report");
  put_str(&o, "</title>\n<style>\n");
  put_script(&o, css, ncss);
  put_str(&o, "</style>\n</head>\n<body>\n<main id=\"tsr-report\" class=\"tsr-report\">"
              "<noscript><p class=\"tsr-notice\">This report draws its charts and tables with "
              "JavaScript; please enable it.</p></noscript></main>\n"
              "<script id=\"tsr-report-data\" type=\"application/json\">");
  put_json(&o, data_json);
  put_str(&o, "</script>\n");
  if (nchart && nmatrix) {
    put_str(&o, "<script>\n");
    put_asset(&o, "chart.js");
    put_str(&o, "\n</script>\n<script>\n");
    put_asset(&o, "chartjs-chart-matrix.js");
    put_str(&o, "\n</script>\n");
  }
  put_str(&o, "<script>\n");
  put_asset(&o, "report.js");
  put_str(&o, "\n</script>\n<script>\nTesseraReport.render(document.getElementById(\"tsr-report\"), "
              "JSON.parse(document.getElementById(\"tsr-report-data\").textContent));\n</script>\n"
              "</body>\n</html>\n");
  if (fflush(f) != 0) o.bad = 1;
  if (!to_stdout && fclose(f) != 0) o.bad = 1;
  if (o.bad) return tsr_error_set(err, TSR_EIO, path, 0, 0, NULL, "write failed: %s", strerror(errno));
  return TSR_OK;
}

tsr_status tsr_report_write_opts(const tsr_analyze_result *r, const tsr_report_opts *opts,
                                 const char *path, tsr_error *err) {
  char *json = NULL;
  tsr_status st = tsr_report_data_json(r, opts, &json, err);
  if (st != TSR_OK) return st;
  st = tsr_report_html_write(json, opts ? opts->title : NULL, path, err);
  free(json);
  return st;
}

tsr_status tsr_report_write(const tsr_analyze_result *r, const char *path, tsr_error *err) {
  return tsr_report_write_opts(r, NULL, path, err);
}
