/*
 * cmd_uplift.c - `tessera uplift DIR`: T- and X-learner uplift models of a
 * campaign of a data bundle on profile features, cross-fitted; Qini, AUUC,
 * deciles, targeting for a budget; evaluation against the simulator's true
 * effect with --truth (tessera/uplift.h). Help text: docs/cli/uplift.md.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "act_io.h"
#include "cli.h"
#include "tessera/uplift.h"

#define CMD "uplift"
#define NF 10
static const char *const feat_names[NF] = {"age_years", "income_band", "products_held", "holds_credit_card",
                                           "risk_score", "tenure_years", "tx_count_365d", "spend_365d",
                                           "digital_share", "days_since_last_tx"};

typedef struct unit {
  const char *id;
  int64_t ref;  /* reference day (contact date) */
  double x[NF];
  int64_t ntx, ndig, last;
  double spend;
} unit;

static double income_ord(const char *s) {
  static const char *const b[] = {"low", "lower_middle", "middle", "upper_middle", "high"};
  for (int i = 0; i < 5; i++)
    if (!strcmp(s, b[i])) return i;
  return NAN;
}

/* Transactions of the year before each unit's reference day. */
static int tx_features(const char *path, const act_index *ix, unit *u) {
  tsr_csv *c = NULL;
  tsr_error err;
  tsr_error_clear(&err);
  tsr_status st = tsr_csv_open(path, NULL, &c, &err);
  if (st) return cli_fail(st, &err);
  tsr_csv_record rec;
  if ((st = tsr_csv_next(c, &rec, &err))) {
    tsr_csv_close(c);
    return st == TSR_ENOTFOUND ? 0 : cli_fail(st, &err);
  }
  int ci = -1, ti = -1, ai = -1, hi = -1;
  for (size_t k = 0; k < rec.nfields; k++) {
    const char *f = rec.fields[k].ptr;
    if (!strcmp(f, "customer_id")) ci = (int)k;
    else if ((!strcmp(f, "timestamp") || !strcmp(f, "date")) && ti < 0) ti = (int)k;
    else if (!strcmp(f, "amount")) ai = (int)k;
    else if (!strcmp(f, "channel")) hi = (int)k;
  }
  if (ci < 0 || ti < 0 || ai < 0) {
    cli_msg("%s:1: error: missing column (expected customer_id, timestamp, amount)", path);
    tsr_csv_close(c);
    return TSR_EXIT_INPUT;
  }
  for (;;) {
    st = tsr_csv_next(c, &rec, &err);
    if (st == TSR_ENOTFOUND) break;
    if (st == TSR_EIO) {
      tsr_csv_close(c);
      return cli_fail(st, &err);
    }
    if (st || rec.nfields <= (size_t)ci || rec.nfields <= (size_t)ti || rec.nfields <= (size_t)ai) continue;
    ptrdiff_t p = act_index_find(ix, rec.fields[ci].ptr, rec.fields[ci].len);
    if (p < 0) continue;
    int64_t e;
    if (tsr_datetime_parse(rec.fields[ti].ptr, rec.fields[ti].len, NULL, &e) != TSR_OK) continue;
    int64_t day = e >= 0 ? e / 86400 : -((-e + 86399) / 86400);
    unit *w = &u[p];
    if (day >= w->ref || day < w->ref - 365) continue;
    char *end = NULL;
    double a = strtod(rec.fields[ai].ptr, &end);
    if (end == rec.fields[ai].ptr) continue;
    w->ntx++;
    w->spend += a;
    if (day > w->last) w->last = day;
    if (hi >= 0 && (size_t)hi < rec.nfields &&
        (!strcmp(rec.fields[hi].ptr, "web") || !strcmp(rec.fields[hi].ptr, "mobile")))
      w->ndig++;
  }
  tsr_csv_close(c);
  return 0;
}

static void print_eval(const char *name, const tsr_uplift_eval *e, int truth) {
  printf("%s-learner: Qini coefficient %.3f (mean incremental responses above random targeting over "
         "all cut-offs; normalised %.3f, 0 = random), AUUC %.3f, total observed uplift %.1f responses\n",
         name, e->qini, e->qini_norm, e->auuc, e->total_uplift);
  if (truth)
    printf("  against the true effect: Spearman rank correlation %.3f, true gain over random %.3f "
           "(> 0 beats random targeting)\n",
           e->spearman, e->true_gain);
  printf("  %-6s %8s %8s %8s %12s %12s%s\n", "decile", "n", "treated", "control", "pred_uplift", "obs_uplift",
         truth ? "    true_uplift" : "");
  for (int d = 0; d < 10; d++) {
    printf("  %-6d %8lld %8lld %8lld %12.4f %12.4f", d + 1, (long long)e->dec_n[d], (long long)e->dec_nt[d],
           (long long)e->dec_nc[d], e->dec_score[d], e->dec_obs[d]);
    if (truth) printf(" %14.4f", e->dec_true[d]);
    printf("\n");
  }
}

typedef struct sc {
  double v;
  size_t i;
} sc;
static int sc_desc(const void *a, const void *b) {
  const sc *x = a, *y = b;
  return x->v > y->v ? -1 : x->v < y->v ? 1 : (x->i > y->i) - (x->i < y->i);
}

int tsr_cmd_uplift(int argc, char **argv) {
  static const struct option lo[] = {{"campaign", required_argument, NULL, 'c'},
                                     {"campaign-id", required_argument, NULL, 'C'},
                                     {"output", required_argument, NULL, 'o'},
                                     {"learner", required_argument, NULL, 'l'},
                                     {"truth", required_argument, NULL, 't'},
                                     {"budget", required_argument, NULL, 'b'},
                                     {"folds", required_argument, NULL, 'f'},
                                     {"rounds", required_argument, NULL, 'r'},
                                     {"depth", required_argument, NULL, 'd'},
                                     {"threads", required_argument, NULL, 'T'},
                                     {"seed", required_argument, NULL, 's'},
                                     {"qini", required_argument, NULL, 'q'},
                                     {NULL, 0, NULL, 0}};
  tsr_uplift_opts uo;
  tsr_uplift_opts_init(&uo);
  const char *campf = NULL, *cid = NULL, *outp = NULL, *truthf = NULL, *qinif = NULL, *learner = "x";
  double budget = 0.1, sd;
  long v;
  int c;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":o:", lo, NULL)) != -1) {
    switch (c) {
      case 'c': campf = optarg; break;
      case 'C': cid = optarg; break;
      case 'o': outp = optarg; break;
      case 'l':
        if (strcmp(optarg, "t") && strcmp(optarg, "x") && strcmp(optarg, "both"))
          return cli_usage(CMD, "--learner: expected t, x or both, got '%s'", optarg);
        learner = optarg;
        break;
      case 't': truthf = optarg; break;
      case 'b':
        if (cli_parse_double(CMD, "--budget", optarg, 1e-9, 1e9, &budget)) return TSR_EXIT_USAGE;
        break;
      case 'f':
        if (cli_parse_long(CMD, "--folds", optarg, 2, 20, &v)) return TSR_EXIT_USAGE;
        uo.folds = (int)v;
        break;
      case 'r':
        if (cli_parse_long(CMD, "--rounds", optarg, 1, 10000, &v)) return TSR_EXIT_USAGE;
        uo.rounds = (int)v;
        break;
      case 'd':
        if (cli_parse_long(CMD, "--depth", optarg, 1, 16, &v)) return TSR_EXIT_USAGE;
        uo.depth = (int)v;
        break;
      case 'T':
        if (cli_parse_long(CMD, "--threads", optarg, 1, 64, &v)) return TSR_EXIT_USAGE;
        uo.threads = (int)v;
        break;
      case 's':
        if (cli_parse_double(CMD, "--seed", optarg, 0, 9007199254740992.0, &sd)) return TSR_EXIT_USAGE;
        uo.seed = (uint64_t)sd;
        break;
      case 'q': qinif = optarg; break;
      case ':': return cli_usage(CMD, "%s: missing value", argv[optind - 1]);
      default: return cli_usage(CMD, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc - 1) return cli_usage(CMD, optind >= argc ? "missing DIR (a data bundle)" : "expected one DIR");
  const char *dir = argv[optind];
  char path[4096], cpath[4096];
  if (!campf) {
    snprintf(cpath, sizeof cpath, "%s/campaign.csv", dir);
    campf = cpath;
  }
  tsr_error err;
  tsr_error_clear(&err);
  tsr_table *ct = NULL, *cu = NULL, *tt = NULL;
  unit *u = NULL;
  double *X = NULL, *y = NULL, *tau[2] = {0}, *p1[2] = {0}, *p0[2] = {0}, *truth = NULL, *curve = NULL;
  int *tr = NULL;
  size_t *camp = NULL;
  act_index ix = {0};
  int rc = TSR_EXIT_INPUT;
  tsr_status st = tsr_table_read(campf, NULL, &ct, &err);
  if (st) return cli_fail(st, &err);
  static const char *const k_id[] = {"customer_id", NULL}, *const k_grp[] = {"group", NULL},
                           *const k_resp[] = {"responded", NULL}, *const k_date[] = {"contact_date", NULL},
                           *const k_cid[] = {"campaign_id", NULL}, *const k_tau[] = {"tau", NULL};
  ptrdiff_t ci = act_col_req(ct, k_id), cg = act_col_req(ct, k_grp), cr = act_col_req(ct, k_resp),
            cd = act_col(ct, k_date), cc = act_col(ct, k_cid);
  if (ci < 0 || cg < 0 || cr < 0) goto out;
  size_t nrow = tsr_table_nrows(ct);
  /* the campaign: --campaign-id, else the only one */
  if (!cid && cc >= 0 && nrow) {
    cid = tsr_table_cell(ct, 0, (size_t)cc);
    for (size_t i = 1; i < nrow; i++)
      if (strcmp(cid, tsr_table_cell(ct, i, (size_t)cc))) {
        cli_msg("%s: error: several campaigns ('%s', '%s', ...): choose one with --campaign-id", campf, cid,
                tsr_table_cell(ct, i, (size_t)cc));
        goto out;
      }
  }
  /* units: campaign rows, then customers.csv records not in the campaign */
  snprintf(path, sizeof path, "%s/customers.csv", dir);
  FILE *probe = fopen(path, "r");
  if (probe) {
    fclose(probe);
    if ((st = tsr_table_read(path, NULL, &cu, &err))) {
      rc = cli_fail(st, &err);
      goto out;
    }
  }
  size_t ncu = cu ? tsr_table_nrows(cu) : 0;
  rc = TSR_EXIT_FAIL;
  u = calloc(nrow + ncu + 1, sizeof *u);
  camp = calloc(nrow + 1, sizeof *camp);
  if (!u || !camp) goto oom;
  size_t n = 0, N = 0;
  int64_t maxref = -1;
  tr = calloc(nrow + 1, sizeof *tr);
  y = calloc(nrow + 1, sizeof *y);
  if (!tr || !y) goto oom;
  for (size_t i = 0; i < nrow; i++) {
    if (cid && cc >= 0 && strcmp(cid, tsr_table_cell(ct, i, (size_t)cc))) continue;
    const char *r = tsr_table_cell(ct, i, (size_t)cr);
    if (strcmp(r, "0") && strcmp(r, "1")) {
      cli_msg("%s:%lld: error: responded: expected 0 or 1, got '%s'", campf, (long long)tsr_table_row_line(ct, i), r);
      rc = TSR_EXIT_INPUT;
      goto out;
    }
    unit *w = &u[N];
    w->id = tsr_table_cell(ct, i, (size_t)ci);
    w->ref = cd >= 0 ? act_parse_day(tsr_table_cell(ct, i, (size_t)cd)) : -1;
    if (w->ref > maxref) maxref = w->ref;
    tr[n] = strcmp(tsr_table_cell(ct, i, (size_t)cg), "control") != 0;
    y[n] = r[0] == '1';
    camp[n++] = N++;
  }
  if (n == 0) {
    cli_msg("%s: error: no campaign rows%s%s", campf, cid ? " for campaign " : "", cid ? cid : "");
    rc = TSR_EXIT_INPUT;
    goto out;
  }
  /* index of the campaign units so far, to skip them among the customers */
  {
    const char **ids = malloc(N * sizeof *ids);
    if (!ids) goto oom;
    for (size_t i = 0; i < N; i++) ids[i] = u[i].id;
    int bi = act_index_build(&ix, ids, N);
    free(ids);
    if (bi) goto oom;
  }
  ptrdiff_t k_cu = cu ? act_col(cu, k_id) : -1;
  size_t Ncamp = N;
  for (size_t i = 0; k_cu >= 0 && i < ncu; i++) {
    const char *id = tsr_table_cell(cu, i, (size_t)k_cu);
    if (act_index_find(&ix, id, strlen(id)) >= 0) continue;
    u[N].id = id;
    u[N].ref = -1;
    N++;
  }
  if (maxref < 0) maxref = (int64_t)(time(NULL) / 86400);
  for (size_t i = 0; i < N; i++)
    if (u[i].ref < 0) u[i].ref = maxref;
  act_index_free(&ix);
  {
    const char **ids = malloc(N * sizeof *ids);
    if (!ids) goto oom;
    for (size_t i = 0; i < N; i++) ids[i] = u[i].id;
    int bi = act_index_build(&ix, ids, N);
    free(ids);
    if (bi) goto oom;
  }
  /* features */
  for (size_t i = 0; i < N; i++)
    for (int j = 0; j < NF; j++) u[i].x[j] = NAN;
  if (cu) {
    static const char *const k_b[] = {"birth_date", NULL}, *const k_inc[] = {"income_band", NULL},
                             *const k_ph[] = {"products_held", NULL}, *const k_risk[] = {"risk_score", NULL},
                             *const k_join[] = {"join_date", NULL};
    ptrdiff_t cb = act_col(cu, k_b), cin = act_col(cu, k_inc), cph = act_col(cu, k_ph),
              crk = act_col(cu, k_risk), cj = act_col(cu, k_join);
    for (size_t r = 0; k_cu >= 0 && r < ncu; r++) {
      const char *id = tsr_table_cell(cu, r, (size_t)k_cu);
      ptrdiff_t p = act_index_find(&ix, id, strlen(id));
      if (p < 0) continue;
      unit *w = &u[p];
      if (cb >= 0) {
        int64_t bd = act_parse_day(tsr_table_cell(cu, r, (size_t)cb));
        if (bd >= 0 || tsr_table_cell(cu, r, (size_t)cb)[0]) w->x[0] = bd != -1 ? (double)(w->ref - bd) / 365.25 : NAN;
      }
      if (cin >= 0) w->x[1] = income_ord(tsr_table_cell(cu, r, (size_t)cin));
      if (cph >= 0) {
        const char *ph = tsr_table_cell(cu, r, (size_t)cph);
        double cnt = 0;
        for (const char *q = ph; *q;) {
          const char *e = strchr(q, ';');
          size_t len = e ? (size_t)(e - q) : strlen(q);
          if (len) cnt++;
          q = e ? e + 1 : q + len;
        }
        w->x[2] = cnt;
        w->x[3] = strstr(ph, "credit_card") != NULL;
      }
      if (crk >= 0) {
        char *end = NULL;
        const char *s = tsr_table_cell(cu, r, (size_t)crk);
        double v2 = strtod(s, &end);
        if (end != s && !*end) w->x[4] = v2;
      }
      if (cj >= 0) {
        int64_t jd = act_parse_day(tsr_table_cell(cu, r, (size_t)cj));
        if (jd >= 0) w->x[5] = (double)(w->ref - jd) / 365.25;
      }
    }
  }
  snprintf(path, sizeof path, "%s/transactions.csv", dir);
  probe = fopen(path, "r");
  if (probe) {
    fclose(probe);
    if ((rc = tx_features(path, &ix, u))) goto out;
    rc = TSR_EXIT_FAIL;
    for (size_t i = 0; i < N; i++) {
      u[i].x[6] = (double)u[i].ntx;
      u[i].x[7] = u[i].spend;
      u[i].x[8] = u[i].ntx ? (double)u[i].ndig / (double)u[i].ntx : NAN;
      u[i].x[9] = u[i].ntx ? (double)(u[i].ref - u[i].last) : NAN;
    }
  }
  /* truth */
  if (truthf) {
    if ((st = tsr_table_read(truthf, NULL, &tt, &err))) {
      rc = cli_fail(st, &err);
      goto out;
    }
    ptrdiff_t ti = act_col_req(tt, k_id), tv = act_col_req(tt, k_tau);
    if (ti < 0 || tv < 0) {
      rc = TSR_EXIT_INPUT;
      goto out;
    }
    truth = malloc(n * sizeof *truth);
    if (!truth) goto oom;
    for (size_t i = 0; i < n; i++) truth[i] = NAN;
    for (size_t r = 0; r < tsr_table_nrows(tt); r++) {
      const char *id = tsr_table_cell(tt, r, (size_t)ti);
      ptrdiff_t p = act_index_find(&ix, id, strlen(id));
      if (p >= 0 && (size_t)p < Ncamp) truth[p] = strtod(tsr_table_cell(tt, r, (size_t)tv), NULL);
    }
    for (size_t i = 0; i < n; i++)
      if (isnan(truth[i])) {
        cli_msg("%s: error: customer '%s' of the campaign has no true effect", truthf, u[i].id);
        rc = TSR_EXIT_INPUT;
        goto out;
      }
  }
  X = malloc(N * NF * sizeof *X);
  if (!X) goto oom;
  for (size_t i = 0; i < N; i++) memcpy(X + i * NF, u[i].x, sizeof u[i].x);
  size_t m = N - Ncamp;
  int both = !strcmp(learner, "both");
  int first = both ? 0 : !strcmp(learner, "x");
  int last = both ? 1 : first;
  size_t ntr = 0;
  for (size_t i = 0; i < n; i++) ntr += (size_t)tr[i];
  printf("uplift: campaign %s, %zu customers (%zu treated, %zu control), %zu further customers scored; "
         "%d folds, %d rounds; features:",
         cid ? cid : "(one)", n, ntr, n - ntr, m, uo.folds, uo.rounds);
  for (int j = 0; j < NF; j++) printf(" %s", feat_names[j]);
  printf("\n");
  for (int L = first; L <= last; L++) {
    tau[L] = malloc((N + 1) * sizeof *tau[L]);
    p1[L] = malloc((N + 1) * sizeof *p1[L]);
    p0[L] = malloc((N + 1) * sizeof *p0[L]);
    if (!tau[L] || !p1[L] || !p0[L]) goto oom;
    uo.learner = L ? TSR_UPLIFT_X : TSR_UPLIFT_T;
    clock_t t0 = clock();
    if ((st = tsr_uplift_fit_predict(X, n, NF, tr, y, X + n * NF, m, &uo, tau[L], p1[L], p0[L], tau[L] + n,
                                     p1[L] + n, p0[L] + n, &err))) {
      if (!err.source[0]) snprintf(err.source, sizeof err.source, "%.255s", campf);
      rc = cli_fail(st, &err);
      if (st == TSR_EINVAL) rc = TSR_EXIT_INPUT; /* the data, not the command line */
      goto out;
    }
    tsr_uplift_eval ev;
    curve = realloc(curve, (n + 1) * sizeof *curve);
    if (!curve || (st = tsr_uplift_evaluate(tau[L], tr, y, truth, n, &ev, curve, &err))) {
      rc = curve ? cli_fail(st, &err) : cli_fail(TSR_ENOMEM, NULL);
      goto out;
    }
    print_eval(L ? "X" : "T", &ev, truth != NULL);
    printf("  training and cross-fitted prediction: %.2f s CPU\n", (double)(clock() - t0) / CLOCKS_PER_SEC);
    if (qinif) {
      FILE *q = fopen(qinif, L == first ? "w" : "a");
      if (!q) {
        cli_msg("%s: cannot write", qinif);
        goto out;
      }
      if (L == first) fputs("learner,customers,fraction,qini\n", q);
      size_t step = n >= 200 ? n / 100 : 1;
      for (size_t k = 0; k <= n; k += step) fprintf(q, "%s,%zu,%.4f,%.4f\n", L ? "x" : "t", k, (double)k / (double)n, curve[k]);
      if (fclose(q)) {
        cli_msg("%s: write error", qinif);
        goto out;
      }
    }
  }
  {
    /* targeting for the budget: top customers by predicted uplift among all scored */
    int L = last;
    size_t B = budget < 1 ? (size_t)ceil(budget * (double)N) : (size_t)budget;
    if (B > N) B = N;
    sc *s = malloc(N * sizeof *s);
    if (!s) goto oom;
    for (size_t i = 0; i < N; i++) s[i] = (sc){tau[L][i], i};
    qsort(s, N, sizeof *s, sc_desc);
    double inc = 0, pos = 0, all = 0;
    for (size_t k = 0; k < B; k++) inc += s[k].v;
    for (size_t k = 0; k < N; k++) {
      pos += s[k].v > 0;
      all += s[k].v;
    }
    printf("targeting (%s-learner): treat the %zu customers with the highest predicted uplift (budget %s%g%s): "
           "expected %.1f incremental responses (%.4f per contact; treating all %zu: %.1f); %.0f customers have "
           "a positive predicted uplift\n",
           L ? "X" : "T", B, "", budget < 1 ? 100 * budget : budget, budget < 1 ? "% of the customers" : " contacts",
           inc, B ? inc / (double)B : 0, N, all, pos);
    free(s);
  }
  if (outp) {
    FILE *f = cli_open_out(outp);
    if (!f) goto out;
    int L = last;
    fputs("customer_id,uplift,p_treatment,p_control\n", f);
    for (size_t i = 0; i < N; i++) {
      tsr_csv_put_field(f, u[i].id);
      fprintf(f, ",%.6f,%.6f,%.6f\n", tau[L][i], p1[L][i], p0[L][i]);
    }
    if (cli_close_out(f, outp)) goto out;
  }
  rc = fflush(stdout) ? TSR_EXIT_FAIL : TSR_EXIT_OK;
  goto out;
oom:
  rc = cli_fail(TSR_ENOMEM, NULL);
out:
  act_index_free(&ix);
  free(u), free(camp), free(tr), free(y), free(X), free(truth), free(curve);
  for (int L = 0; L < 2; L++) free(tau[L]), free(p1[L]), free(p0[L]);
  tsr_table_free(ct);
  tsr_table_free(cu);
  tsr_table_free(tt);
  return rc;
}
