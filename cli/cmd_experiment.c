/*
 * cmd_experiment.c - `tessera experiment`: A/B test analysis of a campaign
 * file (tessera/experiment.h). Help text: docs/cli/experiment.md.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "act_io.h"
#include "cli.h"
#include "tessera/experiment.h"

#define CMD "experiment"

/* Distinct texts of one column, in order of first appearance. */
typedef struct names {
  const char **v;
  size_t n, cap;
} names;

static ptrdiff_t names_find(const names *s, const char *x) {
  for (size_t i = 0; i < s->n; i++)
    if (!strcmp(s->v[i], x)) return (ptrdiff_t)i;
  return -1;
}
static ptrdiff_t names_add(names *s, const char *x) {
  ptrdiff_t i = names_find(s, x);
  if (i >= 0) return i;
  if (s->n == s->cap) {
    size_t c = s->cap ? 2 * s->cap : 8;
    const char **v = realloc(s->v, c * sizeof *v);
    if (!v) return -1;
    s->v = v;
    s->cap = c;
  }
  s->v[s->n] = x;
  return (ptrdiff_t)s->n++;
}

static json_t *jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *test_json(const tsr_exp_test *t) {
  return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "difference", jnum(t->diff),
                   "difference_ci", json_pack("[o,o]", jnum(t->diff_lo), jnum(t->diff_hi)),
                   "lift", jnum(t->lift), "lift_ci", json_pack("[o,o]", jnum(t->lift_lo), jnum(t->lift_hi)),
                   "statistic", jnum(t->stat), "df", jnum(t->df), "p_value", jnum(t->p_value),
                   "se", jnum(t->se), "significant", json_boolean(0));
}

static void pct(char *b, size_t cap, double v) {
  if (isfinite(v)) snprintf(b, cap, "%+.1f%%", 100 * v);
  else snprintf(b, cap, "n/a");
}

static void print_text(const char *cid, const tsr_exp_opts *o, const names *groups,
                       const names *segs, const tsr_exp_result *r, const char *xsrc) {
  int prop = o->metric == TSR_EXP_RESPONDED;
  double conf = 100 * (1 - o->alpha);
  printf("campaign %s: %s\n", cid,
         prop ? "metric responded (response rate = share of customers with responded = 1)"
              : "metric revenue (mean revenue per customer, in the amount's currency)");
  if (prop) printf("%-16s %10s %11s %12s\n", "group", "customers", "responders", "rate");
  else printf("%-16s %10s %11s %12s %14s\n", "group", "customers", "responders", "mean", "sd");
  for (size_t g = 0; g < r->n_groups; g++) {
    const tsr_exp_group *G = &r->groups[g];
    if (prop)
      printf("%-16s %10lld %11lld %12.4f\n", groups->v[g], (long long)G->n, (long long)G->responders, G->mean);
    else
      printf("%-16s %10lld %11lld %12.4f %14.4f\n", groups->v[g], (long long)G->n,
             (long long)G->responders, G->mean, sqrt(G->var));
  }
  for (size_t k = 0; k + 1 < r->n_groups; k++) {
    const tsr_exp_cmp *C = &r->cmps[k];
    const tsr_exp_test *t = &C->test;
    printf("%s vs %s: ", groups->v[C->group], groups->v[o->control]);
    if (!C->ok) {
      printf("no test: %s\n", C->note);
      continue;
    }
    char l[32], lo[32], hi[32];
    pct(l, sizeof l, t->lift);
    pct(lo, sizeof lo, t->lift_lo);
    pct(hi, sizeof hi, t->lift_hi);
    printf("difference %+.4f (%g%% CI %+.4f .. %+.4f), lift %s (%s .. %s), %s = %.3f, p = %.4g\n",
           t->diff, conf, t->diff_lo, t->diff_hi, l, lo, hi, prop ? "z" : "t", t->stat, t->p_value);
    if (!prop) printf("  Welch df %.1f\n", t->df);
    printf("  power to detect a %g%% lift at these sizes: %.3f; customers per group needed for "
           "%g%% power: %.0f\n",
           100 * o->mde, C->power, 100 * o->power, C->n_needed);
    if (r->has_x && isfinite(C->cuped.p_value))
      printf("  CUPED (%s, theta %.4g, correlation %.3f): difference %+.4f (%g%% CI %+.4f .. "
             "%+.4f), p = %.4g\n",
             xsrc, r->cuped_theta, r->cuped_rho, C->cuped.diff, conf, C->cuped.diff_lo,
             C->cuped.diff_hi, C->cuped.p_value);
  }
  printf("sample ratio: chi-square %.3f (%zu df), p = %.4g%s\n", r->srm_chi2, r->n_groups - 1,
         r->srm_p, r->srm_p < 0.001 ? " - MISMATCH: the groups are not the expected shares" : " (ok)");
  if (r->n_seg_cmps) {
    printf("segments (p adjusted by %s):\n",
           o->correction == TSR_EXP_HOLM ? "Holm (family-wise error)"
           : o->correction == TSR_EXP_BH ? "Benjamini-Hochberg (false discovery rate)"
                                         : "none");
    printf("%-16s %-12s %8s %8s %10s %10s %10s %10s %10s\n", "segment", "group", "n_treat", "n_ctrl",
           prop ? "rate_t" : "mean_t", prop ? "rate_c" : "mean_c", "diff", "p", "p_adj");
    for (size_t k = 0; k < r->n_seg_cmps; k++) {
      const tsr_exp_segment_cmp *S = &r->seg[k];
      printf("%-16s %-12s %8lld %8lld %10.4f %10.4f ", segs->v[S->segment], groups->v[S->group],
             (long long)S->n_t, (long long)S->n_c, S->mean_t, S->mean_c);
      if (S->ok) printf("%+10.4f %10.4g %10.4g\n", S->test.diff, S->test.p_value, S->p_adj);
      else printf("%10s %10s %10s\n", "-", "-", "-");
    }
  }
}

static json_t *result_json(const char *cid, const tsr_exp_opts *o, const names *groups,
                           const names *segs, const tsr_exp_result *r) {
  json_t *g = json_array(), *c = json_array(), *s = json_array();
  for (size_t i = 0; i < r->n_groups; i++) {
    const tsr_exp_group *G = &r->groups[i];
    json_array_append_new(g, json_pack("{s:s,s:I,s:I,s:o,s:o,s:o}", "group", groups->v[i], "customers",
                                       (json_int_t)G->n, "responders", (json_int_t)G->responders,
                                       "mean", jnum(G->mean), "sd", jnum(sqrt(G->var)),
                                       "mean_cuped", jnum(G->mean_adj)));
  }
  for (size_t k = 0; k + 1 < r->n_groups; k++) {
    const tsr_exp_cmp *C = &r->cmps[k];
    json_t *t = C->ok ? test_json(&C->test) : json_null();
    if (C->ok) json_object_set_new(t, "significant", json_boolean(C->test.p_value < o->alpha));
    json_t *e = json_pack("{s:s,s:s,s:o,s:o,s:o}", "treatment", groups->v[C->group], "control",
                          groups->v[o->control], "test", t, "power", jnum(C->power),
                          "customers_per_group_needed", jnum(C->n_needed));
    if (!C->ok) json_object_set_new(e, "error", json_string(C->note));
    if (r->has_x && C->ok) json_object_set_new(e, "cuped", test_json(&C->cuped));
    json_array_append_new(c, e);
  }
  for (size_t k = 0; k < r->n_seg_cmps; k++) {
    const tsr_exp_segment_cmp *S = &r->seg[k];
    json_array_append_new(
        s, json_pack("{s:s,s:s,s:I,s:I,s:o,s:o,s:o,s:o,s:o}", "segment", segs->v[S->segment],
                     "treatment", groups->v[S->group], "n_treatment", (json_int_t)S->n_t,
                     "n_control", (json_int_t)S->n_c, "mean_treatment", jnum(S->mean_t),
                     "mean_control", jnum(S->mean_c), "difference", jnum(S->ok ? S->test.diff : NAN),
                     "p_value", jnum(S->ok ? S->test.p_value : NAN), "p_adjusted", jnum(S->p_adj)));
  }
  return json_pack("{s:s,s:s,s:f,s:o,s:o,s:{s:f,s:I,s:f},s:o,s:s,s:o}", "campaign", cid, "metric",
                   o->metric == TSR_EXP_RESPONDED ? "responded" : "revenue", "alpha", o->alpha,
                   "groups", g, "comparisons", c, "sample_ratio", "chi2", r->srm_chi2, "df",
                   (json_int_t)(r->n_groups - 1), "p_value", r->srm_p, "cuped",
                   r->has_x ? json_pack("{s:f,s:f}", "theta", r->cuped_theta, "correlation", r->cuped_rho)
                            : json_null(),
                   "correction",
                   o->correction == TSR_EXP_HOLM ? "holm" : o->correction == TSR_EXP_BH ? "bh" : "none",
                   "segments", s);
}

int tsr_cmd_experiment(int argc, char **argv) {
  static const struct option lopts[] = {{"metric", required_argument, NULL, 'm'},
                                        {"campaign", required_argument, NULL, 'c'},
                                        {"control", required_argument, NULL, 'C'},
                                        {"alpha", required_argument, NULL, 'a'},
                                        {"power", required_argument, NULL, 'p'},
                                        {"mde", required_argument, NULL, 'e'},
                                        {"alloc", required_argument, NULL, 'A'},
                                        {"transactions", required_argument, NULL, 't'},
                                        {"pre-days", required_argument, NULL, 'P'},
                                        {"window-days", required_argument, NULL, 'W'},
                                        {"segments", required_argument, NULL, 's'},
                                        {"correction", required_argument, NULL, 'k'},
                                        {"json", no_argument, NULL, 'j'},
                                        {NULL, 0, NULL, 0}};
  tsr_exp_opts o;
  tsr_exp_opts_init(&o);
  const char *campaign = NULL, *control = "control", *tx = NULL, *segfile = NULL, *alloc_s = NULL;
  long pre_days = 90, window_days = 30;
  int json = 0, c;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":m:", lopts, NULL)) != -1) {
    switch (c) {
      case 'm':
        if (!strcmp(optarg, "responded")) o.metric = TSR_EXP_RESPONDED;
        else if (!strcmp(optarg, "revenue")) o.metric = TSR_EXP_REVENUE;
        else return cli_usage(CMD, "--metric: expected responded or revenue, got '%s'", optarg);
        break;
      case 'c': campaign = optarg; break;
      case 'C': control = optarg; break;
      case 'a':
        if (cli_parse_double(CMD, "--alpha", optarg, 1e-6, 0.5, &o.alpha)) return TSR_EXIT_USAGE;
        break;
      case 'p':
        if (cli_parse_double(CMD, "--power", optarg, 0.51, 0.9999, &o.power)) return TSR_EXIT_USAGE;
        break;
      case 'e':
        if (cli_parse_double(CMD, "--mde", optarg, 1e-6, 100, &o.mde)) return TSR_EXIT_USAGE;
        break;
      case 'A': alloc_s = optarg; break;
      case 't': tx = optarg; break;
      case 'P':
        if (cli_parse_long(CMD, "--pre-days", optarg, 1, 3650, &pre_days)) return TSR_EXIT_USAGE;
        break;
      case 'W':
        if (cli_parse_long(CMD, "--window-days", optarg, 1, 3650, &window_days)) return TSR_EXIT_USAGE;
        break;
      case 's': segfile = optarg; break;
      case 'k':
        if (!strcmp(optarg, "holm")) o.correction = TSR_EXP_HOLM;
        else if (!strcmp(optarg, "bh")) o.correction = TSR_EXP_BH;
        else if (!strcmp(optarg, "none")) o.correction = TSR_EXP_NONE;
        else return cli_usage(CMD, "--correction: expected holm, bh or none, got '%s'", optarg);
        break;
      case 'j': json = 1; break;
      case ':': return cli_usage(CMD, "%s: missing value", argv[optind - 1]);
      default: return cli_usage(CMD, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc - 1)
    return cli_usage(CMD, optind >= argc ? "missing CAMPAIGN.csv" : "expected one CAMPAIGN.csv");
  const char *path = argv[optind];
  tsr_error err;
  tsr_error_clear(&err);
  tsr_table *t = NULL, *st = NULL;
  tsr_status s = tsr_table_read(path, NULL, &t, &err);
  if (s) return cli_fail(s, &err);
  int rc = TSR_EXIT_INPUT;
  names groups = {0}, segs = {0}, camps = {0};
  double *y = NULL, *x = NULL, *pre = NULL, *post = NULL;
  int *grp = NULL, *seg = NULL;
  int64_t *ref = NULL;
  act_index ix = {0}, six = {0};
  json_t *jall = NULL;
  size_t n = tsr_table_nrows(t);
  static const char *const c_id[] = {"customer_id", NULL}, *const c_camp[] = {"campaign_id", NULL},
                           *const c_grp[] = {"group", NULL}, *const c_resp[] = {"responded", NULL},
                           *const c_rev[] = {"revenue", NULL}, *const c_pre[] = {"pre_spend", NULL},
                           *const c_seg[] = {"segment", NULL}, *const c_date[] = {"contact_date", NULL};
  ptrdiff_t ci = act_col_req(t, c_id), cc = act_col_req(t, c_camp), cg = act_col_req(t, c_grp);
  if (ci < 0 || cc < 0 || cg < 0) goto out;
  if (n == 0) {
    cli_msg("%s: error: no rows: the file has only a header", path);
    goto out;
  }
  ptrdiff_t cr = act_col(t, c_resp), crev = act_col(t, c_rev), cpre = act_col(t, c_pre),
            cs = act_col(t, c_seg), cd = act_col(t, c_date);
  if (o.metric == TSR_EXP_RESPONDED && cr < 0) {
    cli_msg("%s:1: error: missing column responded (needed by --metric responded)", path);
    goto out;
  }
  if (o.metric == TSR_EXP_REVENUE && crev < 0 && !tx) {
    cli_msg("%s:1: error: --metric revenue needs a revenue column or --transactions (spend in the "
            "--window-days after contact_date)",
            path);
    goto out;
  }
  rc = TSR_EXIT_FAIL;
  y = calloc(n, sizeof *y);
  grp = calloc(n, sizeof *grp);
  ref = calloc(n, sizeof *ref);
  if (!y || !grp || !ref) goto oom;
  /* the metric */
  if (o.metric == TSR_EXP_RESPONDED || crev >= 0) {
    double *v = NULL;
    if ((s = tsr_table_column_double(t, (size_t)(o.metric == TSR_EXP_RESPONDED ? cr : crev), &v, &err))) {
      rc = cli_fail(s, &err);
      goto out;
    }
    memcpy(y, v, n * sizeof *y);
    free(v);
    if (o.metric == TSR_EXP_RESPONDED)
      for (size_t i = 0; i < n; i++)
        if (y[i] != 0 && y[i] != 1) {
          cli_msg("%s:%lld: error: responded: expected 0 or 1, got '%s'", path,
                  (long long)tsr_table_row_line(t, i), tsr_table_cell(t, i, (size_t)cr));
          rc = TSR_EXIT_INPUT;
          goto out;
        }
  }
  /* pre-period covariate and revenue from the transactions */
  if (cpre >= 0) {
    if ((s = tsr_table_column_double(t, (size_t)cpre, &x, &err))) {
      rc = cli_fail(s, &err);
      goto out;
    }
  }
  if (tx) {
    if (cd < 0) {
      cli_msg("%s:1: error: --transactions needs a contact_date column (the windows are counted from it)", path);
      rc = TSR_EXIT_INPUT;
      goto out;
    }
    const char **ids = malloc(n * sizeof *ids);
    if (!ids) goto oom;
    for (size_t i = 0; i < n; i++) {
      ids[i] = tsr_table_cell(t, i, (size_t)ci);
      ref[i] = act_parse_day(tsr_table_cell(t, i, (size_t)cd));
      if (ref[i] < 0) {
        cli_msg("%s:%lld: error: contact_date: expected a date YYYY-MM-DD, got '%s'", path,
                (long long)tsr_table_row_line(t, i), tsr_table_cell(t, i, (size_t)cd));
        free(ids);
        rc = TSR_EXIT_INPUT;
        goto out;
      }
    }
    int bi = act_index_build(&ix, ids, n);
    free(ids);
    if (bi) goto oom;
    pre = cpre < 0 ? calloc(n, sizeof *pre) : NULL;
    post = o.metric == TSR_EXP_REVENUE && crev < 0 ? calloc(n, sizeof *post) : NULL;
    if ((cpre < 0 && !pre) || (o.metric == TSR_EXP_REVENUE && crev < 0 && !post)) goto oom;
    /* note: a customer in several rows gets the windows of one of them */
    if ((rc = act_tx_windows(tx, &ix, ref, (int)pre_days, (int)window_days, pre, post))) goto out;
    rc = TSR_EXIT_FAIL;
    if (pre) {
      x = pre;
      pre = NULL;
    }
    if (post) memcpy(y, post, n * sizeof *y);
  }
  /* segments */
  if (segfile) {
    if ((s = tsr_table_read(segfile, NULL, &st, &err))) {
      rc = cli_fail(s, &err);
      goto out;
    }
    ptrdiff_t si = act_col_req(st, c_id), ss = act_col_req(st, c_seg);
    if (si < 0 || ss < 0) {
      rc = TSR_EXIT_INPUT;
      goto out;
    }
    size_t m = tsr_table_nrows(st);
    const char **ids = malloc((m ? m : 1) * sizeof *ids);
    if (!ids) goto oom;
    for (size_t i = 0; i < m; i++) ids[i] = tsr_table_cell(st, i, (size_t)si);
    int bi = act_index_build(&six, ids, m);
    free(ids);
    if (bi) goto oom;
  }
  if (cs >= 0 || segfile) {
    seg = calloc(n, sizeof *seg);
    if (!seg) goto oom;
  }
  for (size_t i = 0; i < n; i++) {
    if (names_add(&camps, tsr_table_cell(t, i, (size_t)cc)) < 0) goto oom;
    if (seg) {
      const char *sv = "(none)";
      if (segfile) {
        const char *id = tsr_table_cell(t, i, (size_t)ci);
        ptrdiff_t p = act_index_find(&six, id, strlen(id));
        if (p >= 0) sv = tsr_table_cell(st, (size_t)p, (size_t)act_col(st, c_seg));
      } else {
        sv = tsr_table_cell(t, i, (size_t)cs);
        if (!*sv) sv = "(none)";
      }
      ptrdiff_t k = names_add(&segs, sv);
      if (k < 0) goto oom;
      seg[i] = (int)k;
    }
  }
  if (campaign && names_find(&camps, campaign) < 0) {
    cli_msg("%s: error: campaign '%s': not found (the file has %zu campaign%s, first '%s')", path,
            campaign, camps.n, camps.n == 1 ? "" : "s", camps.v[0]);
    rc = TSR_EXIT_INPUT;
    goto out;
  }
  if (json) jall = json_array();
  rc = TSR_EXIT_OK;
  for (size_t k = 0; k < camps.n && rc == TSR_EXIT_OK; k++) {
    if (campaign && strcmp(campaign, camps.v[k])) continue;
    /* rows of this campaign, compacted */
    free(groups.v);
    memset(&groups, 0, sizeof groups);
    if (names_add(&groups, control) < 0) goto oom;
    size_t m = 0;
    double *yy = malloc(n * sizeof *yy), *xx = x ? malloc(n * sizeof *xx) : NULL;
    int *gg = malloc(n * sizeof *gg), *ss = seg ? malloc(n * sizeof *ss) : NULL;
    if (!yy || !gg || (x && !xx) || (seg && !ss)) {
      free(yy), free(xx), free(gg), free(ss);
      goto oom;
    }
    for (size_t i = 0; i < n; i++) {
      if (strcmp(tsr_table_cell(t, i, (size_t)cc), camps.v[k])) continue;
      ptrdiff_t g = names_add(&groups, tsr_table_cell(t, i, (size_t)cg));
      if (g < 0) {
        free(yy), free(xx), free(gg), free(ss);
        goto oom;
      }
      yy[m] = y[i];
      gg[m] = (int)g;
      if (xx) xx[m] = x[i];
      if (ss) ss[m] = seg[i];
      m++;
    }
    tsr_exp_result *res = NULL;
    tsr_error_clear(&err);
    int64_t ctl_n = 0;
    for (size_t i = 0; i < m; i++) ctl_n += gg[i] == 0;
    if (ctl_n == 0) {
      cli_msg("%s: error: campaign %s: group '%s': no customers (groups: %s%s; name the control "
              "group with --control)",
              path, camps.v[k], control, groups.n > 1 ? groups.v[1] : "none",
              groups.n > 2 ? ", ..." : "");
      rc = TSR_EXIT_INPUT;
    } else if (groups.n < 2) {
      cli_msg("%s: error: campaign %s: only the control group '%s': nothing to compare", path,
              camps.v[k], control);
      rc = TSR_EXIT_INPUT;
    } else if (alloc_s) {
      double a[64];
      size_t na = 0;
      const char *p = alloc_s;
      while (*p && na < 64) {
        char *end = NULL;
        a[na] = strtod(p, &end);
        if (end == p || !(a[na] > 0)) break;
        na++;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') break;
      }
      if (*p || na != groups.n) {
        rc = cli_usage(CMD, "--alloc: expected %zu shares > 0 separated by commas (control first, "
                            "then the groups in order of appearance), got '%s'",
                       groups.n, alloc_s);
      } else {
        o.alloc = a;
        s = tsr_exp_analyze(gg, yy, xx, ss, m, groups.n, segs.n, &o, &res, &err);
        o.alloc = NULL;
      }
    } else {
      s = tsr_exp_analyze(gg, yy, xx, ss, m, groups.n, segs.n, &o, &res, &err);
    }
    if (rc == TSR_EXIT_OK && !res) {
      if (!err.source[0]) snprintf(err.source, sizeof err.source, "%s", path);
      cli_msg("campaign %s:", camps.v[k]);
      rc = cli_fail(s, &err);
      if (s == TSR_EINVAL) rc = TSR_EXIT_INPUT; /* the data, not the command line */
    }
    if (res) {
      if (json) json_array_append_new(jall, result_json(camps.v[k], &o, &groups, &segs, res));
      else {
        if (k) printf("\n");
        print_text(camps.v[k], &o, &groups, &segs, res,
                   cpre >= 0 ? "pre_spend column" : "pre-period spend from the transactions");
      }
      tsr_exp_result_free(res);
    }
    free(yy), free(xx), free(gg), free(ss);
  }
  if (json && rc == TSR_EXIT_OK) {
    json_t *doc = json_pack("{s:o}", "experiments", jall);
    jall = NULL;
    char *txt = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    json_decref(doc);
    if (!txt) goto oom;
    puts(txt);
    free(txt);
  }
  if (rc == TSR_EXIT_OK && fflush(stdout)) rc = TSR_EXIT_FAIL;
  goto out;
oom:
  rc = cli_fail(TSR_ENOMEM, NULL);
out:
  json_decref(jall);
  free(groups.v), free(segs.v), free(camps.v);
  free(y), free(x), free(pre), free(post), free(grp), free(seg), free(ref);
  act_index_free(&ix);
  act_index_free(&six);
  tsr_table_free(t);
  tsr_table_free(st);
  return rc;
}
