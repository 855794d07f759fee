/*
 * cmd_messages.c - `tessera messages --templates FILE`: personalised
 * message texts for decisions (customer, offer) or for a segment
 * (tessera/message.h); the phrasing variant is chosen by Thompson sampling
 * (tessera/bandit.h). Help text: docs/cli/messages.md.
 */
#include <ctype.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "act_io.h"
#include "cli.h"
#include "tessera/bandit.h"
#include "tessera/message.h"

#define CMD "messages"

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 65536, n = 0;
  char *b = malloc(cap);
  while (b) {
    size_t r = fread(b + n, 1, cap - n, f);
    n += r;
    if (n < cap) break;
    if (cap >= ((size_t)1 << 24)) break;
    char *nb = realloc(b, cap * 2);
    if (!nb) {
      free(b);
      b = NULL;
      break;
    }
    b = nb;
    cap *= 2;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(b);
    return NULL;
  }
  *len = n;
  return b;
}

typedef struct lookup {
  tsr_table *t;
  act_index ix;
} lookup;

static int lookup_open(lookup *l, const char *path, int *rc) {
  tsr_error err;
  tsr_error_clear(&err);
  memset(l, 0, sizeof *l);
  if (!path) return 0;
  tsr_status st = tsr_table_read(path, NULL, &l->t, &err);
  if (st) {
    *rc = cli_fail(st, &err);
    return -1;
  }
  static const char *const k_id[] = {"customer_id", "offer_id", NULL};
  ptrdiff_t c = act_col_req(l->t, k_id);
  if (c < 0) {
    *rc = TSR_EXIT_INPUT;
    return -1;
  }
  size_t n = tsr_table_nrows(l->t);
  const char **ids = malloc((n ? n : 1) * sizeof *ids);
  if (!ids) {
    *rc = cli_fail(TSR_ENOMEM, NULL);
    return -1;
  }
  for (size_t i = 0; i < n; i++) ids[i] = tsr_table_cell(l->t, i, (size_t)c);
  int bi = act_index_build(&l->ix, ids, n);
  free(ids);
  if (bi) {
    *rc = cli_fail(TSR_ENOMEM, NULL);
    return -1;
  }
  return 0;
}

static void lookup_close(lookup *l) {
  act_index_free(&l->ix);
  tsr_table_free(l->t);
}

/* Cell of column name for key, or NULL. */
static const char *lk(const lookup *l, const char *key, const char *col) {
  if (!l->t || !key) return NULL;
  const char *names[2] = {col, NULL};
  ptrdiff_t c = act_col(l->t, names);
  if (c < 0) return NULL;
  ptrdiff_t r = act_index_find(&l->ix, key, strlen(key));
  return r < 0 ? NULL : tsr_table_cell(l->t, (size_t)r, (size_t)c);
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int tsr_cmd_messages(int argc, char **argv) {
  static const struct option lo[] = {{"templates", required_argument, NULL, 'T'},
                                     {"decisions", required_argument, NULL, 'd'},
                                     {"profiles", required_argument, NULL, 'p'},
                                     {"customers", required_argument, NULL, 'c'},
                                     {"offers", required_argument, NULL, 'f'},
                                     {"offer", required_argument, NULL, 'O'},
                                     {"segment", required_argument, NULL, 'S'},
                                     {"opt-out", required_argument, NULL, 'x'},
                                     {"channel", required_argument, NULL, 'C'},
                                     {"variant-stats", required_argument, NULL, 'v'},
                                     {"log", required_argument, NULL, 'l'},
                                     {"seed", required_argument, NULL, 's'},
                                     {"output", required_argument, NULL, 'o'},
                                     {NULL, 0, NULL, 0}};
  const char *tpl = NULL, *decf = NULL, *proff = NULL, *custf = NULL, *offf = NULL, *offer = NULL,
             *segment = NULL, *optf = NULL, *chs = NULL, *statf = NULL, *logf = NULL, *outp = NULL;
  double seed = 1;
  int c;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":o:", lo, NULL)) != -1) {
    switch (c) {
      case 'T': tpl = optarg; break;
      case 'd': decf = optarg; break;
      case 'p': proff = optarg; break;
      case 'c': custf = optarg; break;
      case 'f': offf = optarg; break;
      case 'O': offer = optarg; break;
      case 'S': segment = optarg; break;
      case 'x': optf = optarg; break;
      case 'C': chs = optarg; break;
      case 'v': statf = optarg; break;
      case 'l': logf = optarg; break;
      case 's':
        if (cli_parse_double(CMD, "--seed", optarg, 0, 9007199254740992.0, &seed)) return TSR_EXIT_USAGE;
        break;
      case 'o': outp = optarg; break;
      case ':': return cli_usage(CMD, "%s: missing value", argv[optind - 1]);
      default: return cli_usage(CMD, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc) return cli_usage(CMD, "unexpected argument '%s'", argv[optind]);
  if (!tpl) return cli_usage(CMD, "--templates FILE is required");
  if (!decf && !offer) return cli_usage(CMD, "give --decisions FILE, or --offer ID (with --profiles, optionally --segment)");
  if (!decf && !proff) return cli_usage(CMD, "--offer needs --profiles (the customers to write to)");
  tsr_channel fixed_ch = TSR_CHANNEL_EMAIL;
  tsr_error err;
  tsr_error_clear(&err);
  if (chs && tsr_channel_parse(chs, &fixed_ch, &err)) return cli_usage(CMD, "--channel: %s", err.msg);
  size_t tl = 0;
  char *tt = slurp(tpl, &tl);
  if (!tt) {
    cli_msg("%s: cannot read the templates", tpl);
    return TSR_EXIT_INPUT;
  }
  tsr_msg_templates *T = NULL;
  tsr_status st = tsr_msg_templates_parse(tt, tl, tpl, &T, &err);
  free(tt);
  if (st) {
    cli_fail(st, &err);
    return TSR_EXIT_INPUT;
  }
  int rc = TSR_EXIT_INPUT;
  lookup dec = {0}, prof = {0}, cust = {0}, offs = {0}, opt = {0};
  tsr_bandit *B = NULL;
  FILE *out = NULL, *lg = NULL;
  double *clvs = NULL;
  if (lookup_open(&dec, decf, &rc) || lookup_open(&prof, proff, &rc) || lookup_open(&cust, custf, &rc) ||
      lookup_open(&offs, offf, &rc) || lookup_open(&opt, optf, &rc))
    goto done;
  /* CLV tiers from the profiles: >= 80th percentile high, >= 50th medium */
  double q50 = NAN, q80 = NAN;
  if (prof.t) {
    static const char *const k_clv[] = {"clv", NULL};
    ptrdiff_t cc = act_col(prof.t, k_clv);
    size_t n = tsr_table_nrows(prof.t), k = 0;
    clvs = malloc((n ? n : 1) * sizeof *clvs);
    if (!clvs) goto oom;
    for (size_t i = 0; cc >= 0 && i < n; i++) {
      char *e = NULL;
      const char *s = tsr_table_cell(prof.t, i, (size_t)cc);
      double v = strtod(s, &e);
      if (e != s && !*e && isfinite(v)) clvs[k++] = v;
    }
    if (k) {
      qsort(clvs, k, sizeof *clvs, cmp_d);
      q50 = clvs[(size_t)(0.5 * (double)(k - 1))];
      q80 = clvs[(size_t)(0.8 * (double)(k - 1))];
    }
  }
  /* the variant bandit: one arm per template */
  tsr_bandit_opts bo;
  tsr_bandit_opts_init(&bo);
  bo.policy = TSR_BANDIT_THOMPSON;
  bo.n_arms = tsr_msg_templates_count(T);
  bo.min_explore = 0.05;
  if (bo.n_arms > TSR_BANDIT_MAX_ARMS) {
    cli_msg("%s: error: %zu templates, at most %d", tpl, bo.n_arms, TSR_BANDIT_MAX_ARMS);
    goto done;
  }
  if ((st = tsr_bandit_new(&bo, &B, &err))) {
    rc = cli_fail(st, &err);
    goto done;
  }
  if (statf) {
    tsr_table *s = NULL;
    if ((st = tsr_table_read(statf, NULL, &s, &err))) {
      rc = cli_fail(st, &err);
      goto done;
    }
    static const char *const k_v[] = {"variant", NULL}, *const k_s[] = {"sends", NULL}, *const k_r[] = {"responses", NULL};
    ptrdiff_t cv = act_col_req(s, k_v), cs = act_col_req(s, k_s), cr = act_col_req(s, k_r);
    for (size_t i = 0; cv >= 0 && cs >= 0 && cr >= 0 && i < tsr_table_nrows(s); i++) {
      long sends = strtol(tsr_table_cell(s, i, (size_t)cs), NULL, 10), resp = strtol(tsr_table_cell(s, i, (size_t)cr), NULL, 10);
      if (sends < 0 || resp < 0 || resp > sends || sends > 1000000) {
        cli_msg("%s:%lld: error: expected 0 <= responses <= sends <= 1000000", statf, (long long)tsr_table_row_line(s, i));
        tsr_table_free(s);
        goto done;
      }
      for (size_t a = 0; a < bo.n_arms; a++)
        if (!strcmp(tsr_msg_variant(T, a), tsr_table_cell(s, i, (size_t)cv)))
          for (long k = 0; k < sends; k++) tsr_bandit_update(B, 0, NULL, a, k < resp, NULL);
    }
    int bad = cv < 0 || cs < 0 || cr < 0;
    tsr_table_free(s);
    if (bad) goto done;
  }
  out = cli_open_out(outp);
  if (!out) {
    rc = TSR_EXIT_FAIL;
    goto done;
  }
  if (logf && !(lg = cli_open_out(logf))) {
    rc = TSR_EXIT_FAIL;
    goto done;
  }
  fputs("customer_id,channel,offer_id,text\n", out);
  if (lg) fputs("customer_id,channel,offer_id,variant,propensity\n", lg);
  tsr_rng g;
  tsr_rng_seed(&g, (uint64_t)seed, 0x3e55a9eu);
  /* the list of (customer, offer) */
  const tsr_table *src = decf ? dec.t : prof.t;
  static const char *const k_id[] = {"customer_id", NULL}, *const k_off[] = {"offer_id", NULL},
                           *const k_ch[] = {"channel", NULL};
  ptrdiff_t si = act_col_req(src, k_id), so = decf ? act_col_req(src, k_off) : -1, sc = decf ? act_col(src, k_ch) : -1;
  if (si < 0 || (decf && so < 0)) goto done;
  int64_t written = 0, optout = 0, notpl = 0, toolong = 0;
  unsigned char *el = calloc(bo.n_arms, 1);
  size_t *idx = malloc(bo.n_arms * sizeof *idx);
  if (!el || !idx) {
    free(el);
    free(idx);
    goto oom;
  }
  for (size_t r = 0; r < tsr_table_nrows(src); r++) {
    const char *id = tsr_table_cell(src, r, (size_t)si);
    const char *of = decf ? tsr_table_cell(src, r, (size_t)so) : offer;
    const char *seg = lk(&prof, id, "segment");
    if (!decf && segment && (!seg || strcmp(seg, segment))) continue;
    const char *oo = lk(&cust, id, "opt_out");
    if (lk(&opt, id, "customer_id") || (oo && (!strcmp(oo, "1") || !strcmp(oo, "true") || !strcmp(oo, "yes")))) {
      optout++;
      continue;
    }
    tsr_channel ch = fixed_ch;
    if (!chs) {
      const char *rowch = sc >= 0 ? tsr_table_cell(src, r, (size_t)sc) : NULL;
      const char *pref = lk(&cust, id, "channel_preference");
      if (rowch && *rowch && tsr_channel_parse(rowch, &ch, NULL) == TSR_OK) {
      } else if (pref && (!strcmp(pref, "mobile") || !strcmp(pref, "push"))) ch = TSR_CHANNEL_PUSH;
      else if (pref && (!strcmp(pref, "phone") || !strcmp(pref, "sms"))) ch = TSR_CHANNEL_SMS;
      else ch = TSR_CHANNEL_EMAIL;
    }
    /* fields */
    tsr_msg_fields f = {0};
    char first[128] = "", tier[16] = "";
    const char *nm = lk(&cust, id, "name");
    if (nm) {
      size_t k = 0;
      while (nm[k] && !isspace((unsigned char)nm[k]) && k + 1 < sizeof first) {
        first[k] = nm[k];
        k++;
      }
      first[k] = '\0';
      f.first_name = first;
    }
    f.product = lk(&offs, of, "product");
    f.offer_name = lk(&offs, of, "name");
    f.segment = seg;
    const char *cv = lk(&prof, id, "clv");
    if (cv && *cv && isfinite(q80)) {
      double v = strtod(cv, NULL);
      snprintf(tier, sizeof tier, "%s", v >= q80 ? "high" : v >= q50 ? "medium" : "low");
      f.clv_tier = tier;
    }
    const char *held = lk(&cust, id, "products_held");
    f.n_products = NAN;
    if (held) {
      double cnt = 0;
      for (const char *q = held; *q;) {
        const char *e = strchr(q, ';');
        size_t len = e ? (size_t)(e - q) : strlen(q);
        cnt += len > 0;
        q = e ? e + 1 : q + len;
      }
      f.n_products = cnt;
    }
    if (offs.t) { /* next best product: the first offer's product not held and not this one */
      static const char *const k_prod[] = {"product", NULL};
      ptrdiff_t cp = act_col(offs.t, k_prod);
      for (size_t k = 0; cp >= 0 && k < tsr_table_nrows(offs.t); k++) {
        const char *p = tsr_table_cell(offs.t, k, (size_t)cp);
        if (!*p || (f.product && !strcmp(p, f.product)) || (held && strstr(held, p))) continue;
        f.next_best_product = p;
        break;
      }
    }
    size_t nm2 = tsr_msg_match(T, of, seg, ch, idx, bo.n_arms);
    if (!nm2) {
      notpl++;
      continue;
    }
    memset(el, 0, bo.n_arms);
    for (size_t k = 0; k < nm2; k++) el[idx[k]] = 1;
    char text[8192];
    int done_one = 0;
    for (size_t tries = 0; tries < nm2 && !done_one; tries++) {
      size_t arm;
      double prop;
      if (tsr_bandit_choose(B, 0, NULL, el, &g, &arm, &prop, NULL)) break;
      tsr_error e2;
      if (tsr_msg_render(T, arm, ch, &f, text, sizeof text, &e2) == TSR_ELIMIT) {
        el[arm] = 0; /* too long for the channel: another variant */
        continue;
      }
      tsr_csv_put_field(out, id);
      fprintf(out, ",%s,", tsr_channel_name(ch));
      tsr_csv_put_field(out, of);
      fputc(',', out);
      tsr_csv_put_field(out, text);
      fputc('\n', out);
      if (lg) {
        tsr_csv_put_field(lg, id);
        fprintf(lg, ",%s,", tsr_channel_name(ch));
        tsr_csv_put_field(lg, of);
        fputc(',', lg);
        tsr_csv_put_field(lg, tsr_msg_variant(T, arm));
        fprintf(lg, ",%.6f\n", prop);
      }
      written++;
      done_one = 1;
    }
    if (!done_one) toolong++;
  }
  free(el);
  free(idx);
  cli_msg("messages: %lld written, %lld opted out (nothing sent), %lld without a matching template, %lld "
          "where every variant exceeds the channel limit",
          (long long)written, (long long)optout, (long long)notpl, (long long)toolong);
  rc = TSR_EXIT_OK;
  goto done;
oom:
  rc = cli_fail(TSR_ENOMEM, NULL);
done:
  if (out && cli_close_out(out, outp) && rc == TSR_EXIT_OK) rc = TSR_EXIT_FAIL;
  if (lg && cli_close_out(lg, logf) && rc == TSR_EXIT_OK) rc = TSR_EXIT_FAIL;
  free(clvs);
  tsr_bandit_free(B);
  lookup_close(&dec);
  lookup_close(&prof);
  lookup_close(&cust);
  lookup_close(&offs);
  lookup_close(&opt);
  tsr_msg_templates_free(T);
  return rc;
}
