/*
 * analyze_bundle.c - bundle inputs of `tessera analyze` (analyze_bundle.h,
 * docs/cli/analyze.md "Bundles").
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analyze_bundle.h"
#include "ingest_opts.h"

void cli_bundle_init(cli_bundle *b, const char *cmd) {
  memset(b, 0, sizeof *b);
  b->cmd = cmd;
  tsr_bundle_opts_init(&b->bo);
  tsr_segment_opts_init(&b->so);
  tsr_profile_opts_init(&b->po);
}

void cli_bundle_release(cli_bundle *b) {
  tsr_bundle_free(b->bundle);
  b->bundle = NULL;
  memset(b->key, 0, sizeof b->key);
}

int cli_bundle_option(cli_bundle *b, int opt, const char *arg) {
  long v;
  switch (opt) {
  case OPT_B_CUSTOMERS: b->files[TSR_BT_CUSTOMERS] = arg; return 1;
  case OPT_B_PRODUCTS: b->files[TSR_BT_PRODUCTS] = arg; return 1;
  case OPT_B_INTERACTIONS: b->files[TSR_BT_INTERACTIONS] = arg; return 1;
  case OPT_B_CAMPAIGN: b->files[TSR_BT_CAMPAIGN] = arg; return 1;
  case OPT_B_OFFERS: b->files[TSR_BT_OFFERS] = arg; return 1;
  case OPT_B_TABLE_DATE: {
    const char *eq = strchr(arg, '=');
    char t[32];
    tsr_bundle_table tb;
    if (!eq || (size_t)(eq - arg) >= sizeof t) {
      cli_usage(b->cmd, "--table-date-format: expected TABLE=FORMAT, got '%s'", arg);
      return -1;
    }
    memcpy(t, arg, (size_t)(eq - arg));
    t[eq - arg] = '\0';
    if (tsr_bundle_table_parse(t, &tb) != TSR_OK) {
      cli_usage(b->cmd,
                "--table-date-format: unknown table '%s' (expected transactions, customers, "
                "products, interactions, campaign or offers)",
                t);
      return -1;
    }
    b->bo.date_format[tb] = eq + 1;
    return 1;
  }
  case OPT_B_RENAME:
    if (!strchr(arg, '=') || b->nrename >= 64) {
      cli_usage(b->cmd, "--rename: expected [TABLE.]COLUMN=HEADER, got '%s'", arg);
      return -1;
    }
    b->rename[b->nrename++] = arg;
    b->rename[b->nrename] = NULL;
    b->bo.rename = b->rename;
    return 1;
  case OPT_B_PII:
    if (strcmp(arg, "drop") && strcmp(arg, "encrypt")) {
      cli_usage(b->cmd, "--pii: expected drop or encrypt, got '%s'", arg);
      return -1;
    }
    b->pii = arg;
    return 1;
  case OPT_B_PII_KEY: b->key_file = arg; return 1;
  case OPT_B_SHOW_PII: b->bo.show_pii = 1; return 1;
  case OPT_B_BEHAVIOUR_K:
    if (cli_parse_long(b->cmd, "--behaviour-k", arg, 2, 20, &v)) return -1;
    b->so.behaviour_k = (size_t)v;
    return 1;
  case OPT_B_AFFINITY_K:
    if (cli_parse_long(b->cmd, "--affinity-k", arg, 2, 20, &v)) return -1;
    b->so.affinity_k = (size_t)v;
    return 1;
  case OPT_B_MIN_CELL:
    if (cli_parse_long(b->cmd, "--min-cell", arg, 1, 1000000000L, &v)) return -1;
    b->so.min_cell = (size_t)v;
    return 1;
  case OPT_B_TODAY: {
    int64_t t;
    if (strlen(arg) != 10 || tsr_datetime_parse(arg, 10, NULL, &t) != TSR_OK) {
      cli_usage(b->cmd, "--today: expected a date YYYY-MM-DD, got '%s'", arg);
      return -1;
    }
    b->po.today = t / 86400;
    return 1;
  }
  default: return 0;
  }
}

static void on_note(void *ud, const tsr_bundle_note *n) {
  cli_bundle *b = ud;
  if (!b->quiet) fprintf(stderr, "tessera: %s: %s\n", n->source, n->msg);
}

static void on_reject(void *ud, const tsr_reject *r) {
  cli_bundle *b = ud;
  if (b->ci->io.on_reject) b->ci->io.on_reject(b->ci->io.ud, r);
}

static int is_dir(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int cli_bundle_open(cli_bundle *b, const char *input) {
  tsr_error err;
  tsr_status st;
  if (is_dir(input)) {
    st = tsr_bundle_open_dir(input, &b->bundle, &err);
  } else {
    st = tsr_bundle_new(&b->bundle, &err);
    if (st == TSR_OK) st = tsr_bundle_set(b->bundle, TSR_BT_TRANSACTIONS, input, &err);
  }
  if (st != TSR_OK) return cli_fail(st, &err);
  for (int t = 0; t < TSR_BT_COUNT; t++) {
    if (!b->files[t]) continue;
    if (!is_dir(b->files[t])) {
      FILE *f = fopen(b->files[t], "rb");
      if (!f) {
        cli_msg("%s: cannot read: %s", b->files[t], strerror(errno));
        return TSR_EXIT_INPUT;
      }
      fclose(f);
    }
    if (tsr_bundle_set(b->bundle, (tsr_bundle_table)t, b->files[t], &err) != TSR_OK)
      return cli_fail(err.code, &err);
  }
  return 0;
}

int cli_bundle_setup(cli_bundle *b, cli_ingest *ci, tsr_analyze_opts *o, int quiet) {
  b->quiet = quiet;
  int any_file = 0;
  for (int t = 0; t < TSR_BT_COUNT; t++) any_file |= b->files[t] != NULL;
  int dir = o->n_inputs == 1 && is_dir(o->inputs[0]);
  if (!dir && !any_file) return 0;
  if (!dir && o->n_inputs != 1) {
    cli_usage(b->cmd, "a bundle takes one transaction file (got %zu)", o->n_inputs);
    return -TSR_EXIT_USAGE;
  }
  int rc = cli_bundle_open(b, o->inputs[0]);
  if (rc) return -rc;
  tsr_error err;
  tsr_status st;
  /* the transactions go through the analysis' own reader */
  static const char *tx[1];
  tx[0] = tsr_bundle_path(b->bundle, TSR_BT_TRANSACTIONS);
  o->inputs = tx;
  o->n_inputs = 1;
  b->bo.csv = ci->io.csv;
  b->bo.max_errors = ci->io.max_errors;
  b->bo.decimal_comma = ci->io.decimal_comma;
  /* rejects of the bundle tables go to the same writer as the ingest's */
  b->ci = ci;
  b->bo.on_reject = on_reject;
  b->bo.on_note = on_note;
  b->bo.ud = b;
  o->bundle = b->bundle;
  o->bundle_opts = &b->bo;
  o->segment_opts = &b->so;
  o->profile_opts = &b->po;
  /* personal data: encrypted with a key, else dropped */
  int want_encrypt = b->pii && !strcmp(b->pii, "encrypt");
  o->pii_mode = TSR_PII_DROP;
  if (!b->pii || want_encrypt) {
    st = tsr_pii_key_load(b->key_file, b->key, &err);
    if (st == TSR_OK) {
      o->pii_mode = TSR_PII_ENCRYPT;
      o->pii_key = b->key;
    } else if (want_encrypt || st != TSR_ENOTFOUND) {
      return -cli_fail(st, &err);
    }
  }
  return 1;
}

void cli_bundle_print(const tsr_analyze_result *r, const char *out_dir) {
  const tsr_profiles *p = r->profiles;
  if (!p) return;
  size_t merged = 0, n = tsr_profiles_count(p);
  for (size_t i = 0; i < n; i++) {
    const tsr_profile *pr = tsr_profiles_get(p, i);
    if (pr->n_records > 1) merged += pr->n_records - 1;
  }
  printf("\n  profiles: %zu customers (%zu CRM records merged)\n", n, merged);
  if (r->dq_records_merged >= 0)
    printf("  entity resolution: %lld records merged, %lld households\n",
           (long long)r->dq_records_merged, (long long)r->dq_households);
  if (r->dq_anomalies >= 0)
    printf("  anomalies: %lld of %lld transactions flagged\n", (long long)r->dq_anomalies,
           (long long)r->dq_transactions_scored);
  if (r->dq_anomalies_excluded >= 0)
    printf("  anomalies excluded from RFM, BTYD and CLV: %lld transactions\n",
           (long long)r->dq_anomalies_excluded);
  printf("  %-28s %9s %7s %10s %6s   (revenue in %s; mean age in years)\n", "life stage / value tier",
         "customers", "share", "revenue", "age", r->currency[0] ? r->currency : "amount units");
  for (size_t i = 0; i < tsr_profiles_nsegments(p); i++) {
    const tsr_segment_summary *s = tsr_profiles_segment_get(p, i);
    if (strcmp(s->kind, "life_stage") && strncmp(s->kind, "value_tier", 10)) continue;
    char age[16]; /* no known age: n/a, not 0 */
    if (isnan(s->age_mean)) snprintf(age, sizeof age, "n/a");
    else snprintf(age, sizeof age, "%.1f", s->age_mean);
    printf("  %-28s %9zu %6.1f%% %10.0f %6s\n", s->name, s->size,
           n ? 100.0 * (double)s->size / (double)n : 0, s->revenue, age);
  }
  printf("  profiles: %s/profiles.csv, %s/segment_profiles.csv\n", out_dir, out_dir);
}
