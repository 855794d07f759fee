/*
 * cmd_offers.c - `tessera offers simulate|replay`: bandit policies against
 * the offer response simulator, and off-policy evaluation of a decision log
 * (tessera/bandit.h). Help text: docs/cli/offers.md.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "act_io.h"
#include "cli.h"
#include "tessera/bandit.h"

#define CMD "offers"

typedef struct simctx {
  FILE *curve, *log;
  const char *policy;
  const tsr_offer_sim *sim;
  int64_t *mix; /* TSR_OFFER_SIM_SEGMENTS x offers: decisions of the policy */
  size_t K;
  json_t *jcurve; /* --json: [[step, cumulative reward, cumulative regret], ...] */
} simctx;

static int curve_cb(void *ctx, int64_t step, double reward, double regret) {
  simctx *c = ctx;
  if (c->curve) fprintf(c->curve, "%s,%lld,%.0f,%.6f\n", c->policy, (long long)step, reward, regret);
  if (c->jcurve && json_array_append_new(c->jcurve, json_pack("[I,f,f]", (json_int_t)step, reward, regret)))
    return 1;
  return 0;
}

static int log_cb(void *ctx, uint64_t customer, size_t segment, const double *x, size_t offer,
                  double prop, double reward) {
  simctx *c = ctx;
  if (c->mix) c->mix[segment * c->K + offer]++;
  if (!c->log) return 0;
  fprintf(c->log, "C%06llu,S%zu,O%zu,%.17g,%.0f", (unsigned long long)customer + 1, segment,
          offer + 1, prop, reward);
  for (int j = 1; j < TSR_BANDIT_PROFILE_DIM; j++) fprintf(c->log, ",%.10g", x[j]);
  fputc('\n', c->log);
  return ferror(c->log) ? 1 : 0;
}

/* Policy tuning options shared by both subcommands; 0 handled, 1 not ours, -1 usage error. */
static int policy_opt(int c, tsr_bandit_opts *o) {
  switch (c) {
    case 'E': return cli_parse_double(CMD, "--epsilon", optarg, 0, 1, &o->epsilon) ? -1 : 0;
    case 'M': return cli_parse_double(CMD, "--min-explore", optarg, 0, 1, &o->min_explore) ? -1 : 0;
    case 'A': return cli_parse_double(CMD, "--alpha", optarg, 0, 1e6, &o->alpha) ? -1 : 0;
    case 'L': return cli_parse_double(CMD, "--lambda", optarg, 1e-9, 1e9, &o->lambda) ? -1 : 0;
    case 'V': return cli_parse_double(CMD, "--v", optarg, 1e-9, 1e6, &o->v) ? -1 : 0;
    default: return 1;
  }
}

#define POLICY_LONGOPTS                                                                   \
  {"epsilon", required_argument, NULL, 'E'}, {"min-explore", required_argument, NULL, 'M'}, \
      {"alpha", required_argument, NULL, 'A'}, {"lambda", required_argument, NULL, 'L'},  \
      {"v", required_argument, NULL, 'V'}

static int cmd_simulate(int argc, char **argv) {
  static const struct option lo[] = {{"policy", required_argument, NULL, 'p'},
                                     {"steps", required_argument, NULL, 'n'},
                                     {"customers", required_argument, NULL, 'c'},
                                     {"offers", required_argument, NULL, 'k'},
                                     {"seed", required_argument, NULL, 's'},
                                     {"every", required_argument, NULL, 'e'},
                                     {"curve", required_argument, NULL, 'C'},
                                     {"log", required_argument, NULL, 'l'},
                                     {"json", required_argument, NULL, 'J'},
                                     POLICY_LONGOPTS,
                                     {NULL, 0, NULL, 0}};
  tsr_bandit_opts po;
  tsr_bandit_opts_init(&po);
  const char *jpath = NULL;
  json_t *jdoc = NULL, *jpol = NULL;
  tsr_offer_sim_opts so;
  tsr_offer_sim_opts_init(&so);
  const char *policy = "thompson", *curve = NULL, *logp = NULL;
  long steps = 10000, every = 0, v;
  double sd;
  int c;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":p:n:", lo, NULL)) != -1) {
    int r = policy_opt(c, &po);
    if (r < 0) return TSR_EXIT_USAGE;
    if (r == 0) continue;
    switch (c) {
      case 'p': policy = optarg; break;
      case 'n':
        if (cli_parse_long(CMD, "--steps", optarg, 1, 100000000, &steps)) return TSR_EXIT_USAGE;
        break;
      case 'c':
        if (cli_parse_long(CMD, "--customers", optarg, 1, 10000000, &v)) return TSR_EXIT_USAGE;
        so.customers = (uint64_t)v;
        break;
      case 'k':
        if (cli_parse_long(CMD, "--offers", optarg, 2, TSR_BANDIT_MAX_ARMS, &v)) return TSR_EXIT_USAGE;
        so.offers = (size_t)v;
        break;
      case 's':
        if (cli_parse_double(CMD, "--seed", optarg, 0, 9007199254740992.0, &sd)) return TSR_EXIT_USAGE;
        so.seed = (uint64_t)sd;
        break;
      case 'e':
        if (cli_parse_long(CMD, "--every", optarg, 1, 100000000, &every)) return TSR_EXIT_USAGE;
        break;
      case 'C': curve = optarg; break;
      case 'l': logp = optarg; break;
      case 'J': jpath = optarg; break;
      case ':': return cli_usage(CMD, "%s: missing value", argv[optind - 1]);
      default: return cli_usage(CMD, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc) return cli_usage(CMD, "offers simulate takes no file (got '%s')", argv[optind]);
  tsr_bandit_policy list[TSR_BANDIT_NPOLICIES];
  size_t np = 0;
  tsr_error err;
  tsr_error_clear(&err);
  if (!strcmp(policy, "all")) {
    for (int i = 0; i < TSR_BANDIT_NPOLICIES; i++) list[np++] = (tsr_bandit_policy)i;
  } else {
    if (tsr_bandit_policy_parse(policy, &list[0], &err))
      return cli_usage(CMD, "--policy: expected uniform, egreedy, thompson, linucb, lints or all, got '%s'", policy);
    np = 1;
  }
  if (logp && np != 1) return cli_usage(CMD, "--log needs one --policy (not all)");
  tsr_offer_sim *sim = NULL;
  tsr_status st = tsr_offer_sim_new(&so, &sim, &err);
  if (st) return cli_fail(st, &err);
  simctx cx = {NULL, NULL, NULL, sim, NULL, so.offers, NULL};
  cx.mix = calloc(TSR_OFFER_SIM_SEGMENTS * so.offers, sizeof *cx.mix);
  if (!cx.mix) {
    tsr_offer_sim_free(sim);
    return cli_fail(TSR_ENOMEM, NULL);
  }
  int rc = TSR_EXIT_OK;
  if (curve && !(cx.curve = cli_open_out(curve))) {
    tsr_offer_sim_free(sim);
    return TSR_EXIT_FAIL;
  }
  if (cx.curve) fputs("policy,step,cumulative_reward,cumulative_regret\n", cx.curve);
  if (logp) {
    if (!(cx.log = cli_open_out(logp))) {
      if (cx.curve) cli_close_out(cx.curve, curve);
      tsr_offer_sim_free(sim);
      return TSR_EXIT_FAIL;
    }
    fputs("customer_id,segment,offer_id,propensity,reward,x1,x2,x3,x4,x5\n", cx.log);
  }
  if (!every) every = steps >= 100 ? steps / 100 : 1;
  if (jpath) {
    /* --json: the series per policy for the report (docs/cli/offers.md) */
    jpol = json_array();
    jdoc = json_pack("{s:s,s:i,s:I,s:I,s:I,s:I,s:I,s:o}", "format", "tessera-offers-sim", "version", 1,
                     "customers", (json_int_t)so.customers, "offers", (json_int_t)so.offers,
                     "segments", (json_int_t)TSR_OFFER_SIM_SEGMENTS, "steps", (json_int_t)steps,
                     "seed", (json_int_t)so.seed, "policies", jpol);
    if (!jdoc) rc = cli_fail(TSR_ENOMEM, NULL);
  }
  printf("offer simulator: %llu customers, %zu offers, %ld steps, seed %llu\n",
         (unsigned long long)so.customers, so.offers, steps, (unsigned long long)so.seed);
  printf("%-9s %12s %10s %12s %14s %12s\n", "policy", "responses", "rate", "best_rate", "regret",
         "regret/1000");
  for (size_t i = 0; i < np && rc == TSR_EXIT_OK; i++) {
    po.policy = list[i];
    cx.policy = tsr_bandit_policy_name(list[i]);
    tsr_offer_sim_result res;
    memset(cx.mix, 0, TSR_OFFER_SIM_SEGMENTS * so.offers * sizeof *cx.mix);
    if (jdoc) cx.jcurve = json_array();
    st = tsr_offer_sim_run(sim, &po, steps, so.seed, every, curve_cb, log_cb, &cx, &res, &err);
    if (st) {
      json_decref(cx.jcurve);
      rc = cli_fail(st, &err);
      break;
    }
    if (jdoc) {
      json_t *mix = json_array();
      for (size_t q = 0; q < TSR_OFFER_SIM_SEGMENTS && mix; q++) {
        json_t *row = json_array();
        for (size_t k = 0; k < so.offers && row; k++) json_array_append_new(row, json_integer(cx.mix[q * so.offers + k]));
        json_array_append_new(mix, row);
      }
      json_t *pj = json_pack("{s:s,s:f,s:f,s:f,s:I,s:o,s:o}", "policy", cx.policy, "reward", res.reward,
                             "best_reward", res.best_reward, "regret", res.regret, "steps",
                             (json_int_t)res.steps, "curve", cx.jcurve, "mix", mix);
      cx.jcurve = NULL;
      if (!pj || json_array_append_new(jpol, pj)) {
        rc = cli_fail(TSR_ENOMEM, NULL);
        break;
      }
    }
    printf("%-9s %12.0f %10.4f %12.4f %14.2f %12.3f\n", cx.policy, res.reward,
           res.reward / (double)res.steps, res.best_reward / (double)res.steps, res.regret,
           1000 * res.regret / (double)res.steps);
  }
  if (rc == TSR_EXIT_OK && np == 1) {
    /* offer mix per segment of the last decisions: share of each offer */
    printf("offer mix per segment (%s; share of the segment's decisions):\n%-8s", cx.policy, "segment");
    for (size_t k = 0; k < so.offers && k < 16; k++) {
      char lab[16];
      snprintf(lab, sizeof lab, "O%zu", k + 1);
      printf(" %7s", lab);
    }
    printf("\n");
    for (size_t q = 0; q < TSR_OFFER_SIM_SEGMENTS; q++) {
      int64_t tot = 0;
      for (size_t k = 0; k < so.offers; k++) tot += cx.mix[q * so.offers + k];
      printf("S%-7zu", q);
      for (size_t k = 0; k < so.offers && k < 16; k++)
        printf(" %7.3f", tot ? (double)cx.mix[q * so.offers + k] / (double)tot : 0.0);
      printf("\n");
    }
  }
  if (jdoc && rc == TSR_EXIT_OK) {
    FILE *jf = cli_open_out(jpath);
    if (!jf) rc = TSR_EXIT_FAIL;
    else {
      if (json_dumpf(jdoc, jf, JSON_COMPACT | JSON_REAL_PRECISION(12))) rc = TSR_EXIT_FAIL;
      fputc('\n', jf);
      if (cli_close_out(jf, jpath) && rc == TSR_EXIT_OK) rc = TSR_EXIT_FAIL;
    }
  }
  json_decref(jdoc);
  free(cx.mix);
  if (cx.curve && cli_close_out(cx.curve, curve) && rc == TSR_EXIT_OK) rc = TSR_EXIT_FAIL;
  if (cx.log && cli_close_out(cx.log, logp) && rc == TSR_EXIT_OK) rc = TSR_EXIT_FAIL;
  tsr_offer_sim_free(sim);
  if (rc == TSR_EXIT_OK && fflush(stdout)) rc = TSR_EXIT_FAIL;
  return rc;
}

static int cmd_replay(int argc, char **argv) {
  static const struct option lo[] = {{"policy", required_argument, NULL, 'p'},
                                     {"seed", required_argument, NULL, 's'},
                                     {"reward", required_argument, NULL, 'r'},
                                     POLICY_LONGOPTS,
                                     {NULL, 0, NULL, 0}};
  tsr_bandit_opts po;
  tsr_bandit_opts_init(&po);
  const char *policy = "thompson";
  double sd = 1;
  int c;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":p:", lo, NULL)) != -1) {
    int r = policy_opt(c, &po);
    if (r < 0) return TSR_EXIT_USAGE;
    if (r == 0) continue;
    switch (c) {
      case 'p': policy = optarg; break;
      case 's':
        if (cli_parse_double(CMD, "--seed", optarg, 0, 9007199254740992.0, &sd)) return TSR_EXIT_USAGE;
        break;
      case 'r':
        if (!strcmp(optarg, "binary")) po.reward = TSR_REWARD_BINARY;
        else if (!strcmp(optarg, "amount")) po.reward = TSR_REWARD_AMOUNT;
        else return cli_usage(CMD, "--reward: expected binary or amount, got '%s'", optarg);
        break;
      case ':': return cli_usage(CMD, "%s: missing value", argv[optind - 1]);
      default: return cli_usage(CMD, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc - 1) return cli_usage(CMD, optind >= argc ? "missing LOG.csv" : "expected one LOG.csv");
  tsr_error err;
  tsr_error_clear(&err);
  if (tsr_bandit_policy_parse(policy, &po.policy, &err))
    return cli_usage(CMD, "--policy: expected uniform, egreedy, thompson, linucb or lints, got '%s'", policy);
  const char *path = argv[optind];
  tsr_table *t = NULL;
  tsr_status st = tsr_table_read(path, NULL, &t, &err);
  if (st) return cli_fail(st, &err);
  static const char *const c_off[] = {"offer_id", NULL}, *const c_prop[] = {"propensity", NULL},
                           *const c_rew[] = {"reward", NULL}, *const c_seg[] = {"segment", NULL};
  static const char *const prof[] = {"frequency", "recency", "T", "monetary_value", "p_alive", "clv"};
  static const char *const xs[] = {"x1", "x2", "x3", "x4", "x5"};
  int rc = TSR_EXIT_INPUT;
  size_t n = tsr_table_nrows(t);
  double *prop = NULL, *rew = NULL, *x = NULL;
  size_t *arm = NULL, *seg = NULL;
  const char **offers = NULL, **segs = NULL;
  size_t K = 0, S = 0;
  ptrdiff_t co = act_col_req(t, c_off), cp = act_col_req(t, c_prop), cr = act_col_req(t, c_rew),
            cs = act_col(t, c_seg);
  if (co < 0 || cp < 0 || cr < 0) goto out;
  if (n < 2) {
    cli_msg("%s: error: expected at least 2 logged decisions, got %zu", path, n);
    goto out;
  }
  if ((st = tsr_table_column_double(t, (size_t)cp, &prop, &err)) ||
      (st = tsr_table_column_double(t, (size_t)cr, &rew, &err))) {
    rc = cli_fail(st, &err);
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    if (!(prop[i] > 0 && prop[i] <= 1)) {
      cli_msg("%s:%lld: error: propensity: expected a probability in (0, 1], got '%s'", path,
              (long long)tsr_table_row_line(t, i), tsr_table_cell(t, i, (size_t)cp));
      goto out;
    }
    if (po.reward == TSR_REWARD_BINARY && rew[i] != 0 && rew[i] != 1) {
      cli_msg("%s:%lld: error: reward: expected 0 or 1 (or use --reward amount), got '%s'", path,
              (long long)tsr_table_row_line(t, i), tsr_table_cell(t, i, (size_t)cr));
      goto out;
    }
  }
  /* context: profile columns, else x1..x5 */
  ptrdiff_t pc[6], xc[5];
  int have_prof = 1, have_x = 1;
  for (int j = 0; j < 6; j++) {
    const char *nm[2] = {prof[j], NULL};
    pc[j] = act_col(t, nm);
    have_prof &= pc[j] >= 0;
  }
  for (int j = 0; j < 5; j++) {
    const char *nm[2] = {xs[j], NULL};
    xc[j] = act_col(t, nm);
    have_x &= xc[j] >= 0;
  }
  rc = TSR_EXIT_FAIL;
  arm = calloc(n, sizeof *arm);
  seg = calloc(n, sizeof *seg);
  offers = calloc(n, sizeof *offers);
  segs = calloc(n, sizeof *segs);
  if (!arm || !seg || !offers || !segs) goto oom;
  if (have_prof || have_x) {
    x = calloc(n * TSR_BANDIT_PROFILE_DIM, sizeof *x);
    if (!x) goto oom;
    double *col[6] = {0};
    for (int j = 0; j < (have_prof ? 6 : 5); j++)
      if ((st = tsr_table_column_double(t, (size_t)(have_prof ? pc[j] : xc[j]), &col[j], &err))) {
        for (int q = 0; q < 6; q++) free(col[q]);
        rc = cli_fail(st, &err);
        goto out;
      }
    for (size_t i = 0; i < n; i++) {
      double *xi = x + i * TSR_BANDIT_PROFILE_DIM;
      if (have_prof) tsr_bandit_profile_features(col[0][i], col[1][i], col[2][i], col[3][i], col[4][i], col[5][i], xi);
      else {
        xi[0] = 1;
        for (int j = 0; j < 5; j++) xi[j + 1] = col[j][i];
      }
    }
    for (int q = 0; q < 6; q++) free(col[q]);
  }
  for (size_t i = 0; i < n; i++) {
    const char *o = tsr_table_cell(t, i, (size_t)co), *s = cs >= 0 ? tsr_table_cell(t, i, (size_t)cs) : "";
    size_t k;
    for (k = 0; k < K && strcmp(offers[k], o); k++) {}
    if (k == K) offers[K++] = o;
    arm[i] = k;
    for (k = 0; k < S && strcmp(segs[k], s); k++) {}
    if (k == S) segs[S++] = s;
    seg[i] = k;
  }
  if (K > TSR_BANDIT_MAX_ARMS || S > TSR_BANDIT_MAX_SEGMENTS) {
    cli_msg("%s: error: %zu offers and %zu segments: at most %d and %d", path, K, S, TSR_BANDIT_MAX_ARMS, TSR_BANDIT_MAX_SEGMENTS);
    rc = TSR_EXIT_INPUT;
    goto out;
  }
  po.n_arms = K;
  po.n_segments = S;
  if ((po.policy == TSR_BANDIT_LINUCB || po.policy == TSR_BANDIT_LINTS) && !x) {
    cli_msg("%s:1: error: policy %s needs context columns (frequency, recency, T, monetary_value, "
            "p_alive, clv, or x1..x5)", path, policy);
    rc = TSR_EXIT_INPUT;
    goto out;
  }
  tsr_ope_result res;
  if ((st = tsr_bandit_replay(&po, n, seg, x, arm, prop, rew, (uint64_t)sd, 0.05, &res, &err))) {
    if (!err.source[0]) snprintf(err.source, sizeof err.source, "%s", path);
    rc = cli_fail(st, &err);
    goto out;
  }
  printf("replay of %s: %lld logged decisions, %zu offers, %zu segments; target policy %s "
         "(2-fold cross-fitted)\n",
         path, (long long)res.n, K, S, policy);
  printf("logged policy value (mean reward): %.5f\n", res.logged);
  printf("IPS estimate: %.5f (95%% CI %.5f .. %.5f)\n", res.ips, res.ips_lo, res.ips_hi);
  printf("DR estimate:  %.5f (95%% CI %.5f .. %.5f)\n", res.dr, res.dr_lo, res.dr_hi);
  printf("effective sample size of the importance weights: %.1f\n", res.ess);
  rc = fflush(stdout) ? TSR_EXIT_FAIL : TSR_EXIT_OK;
  goto out;
oom:
  rc = cli_fail(TSR_ENOMEM, NULL);
out:
  free(prop), free(rew), free(x), free(arm), free(seg), free(offers), free(segs);
  tsr_table_free(t);
  return rc;
}

int tsr_cmd_offers(int argc, char **argv) {
  if (argc < 2) return cli_usage(CMD, "missing subcommand (simulate or replay)");
  if (!strcmp(argv[1], "simulate")) return cmd_simulate(argc - 1, argv + 1);
  if (!strcmp(argv[1], "replay")) return cmd_replay(argc - 1, argv + 1);
  return cli_usage(CMD, "unknown subcommand '%s' (expected simulate or replay)", argv[1]);
}
