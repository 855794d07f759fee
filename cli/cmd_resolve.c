/*
 * cmd_resolve.c - `tessera resolve`: entity resolution of customer records
 * (see docs/cli/resolve.md and docs/resolve.md).
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tessera/resolve.h"

#define CMD "resolve"

typedef struct rej_ctx {
  long shown;
} rej_ctx;

/* Rejected rows: the first 10 on stderr (ids and positions only). */
static void on_reject(void *ud, const tsr_reject *r) {
  rej_ctx *c = ud;
  if (c->shown++ >= 10) return;
  fprintf(stderr, "tessera: %s:%lld:%lld: error: %s%s%s\n", r->source, (long long)r->line,
          (long long)r->column, r->field && *r->field ? r->field : "",
          r->field && *r->field ? ": " : "", r->reason);
}

typedef struct prod_edge {
  size_t person;
  const char *p;
  size_t n;
} prod_edge;

static int cmp_edge(const void *a, const void *b) {
  const prod_edge *x = a, *y = b;
  if (x->person != y->person) return x->person < y->person ? -1 : 1;
  size_t n = x->n < y->n ? x->n : y->n;
  int c = memcmp(x->p, y->p, n);
  if (c) return c;
  return x->n < y->n ? -1 : x->n > y->n;
}

static void put_csvn(FILE *f, const char *prefix, const char *s, size_t n) {
  char buf[600];
  int w = snprintf(buf, sizeof buf, "%s%.*s", prefix, (int)(n > 512 ? 512 : n), s);
  (void)w;
  tsr_csv_put_field(f, buf);
}

/* customer-household-product edges: source,target,type. */
static int write_graph(const tsr_resolver *r, const char *path) {
  FILE *f = cli_open_out(path);
  if (!f) return TSR_EXIT_FAIL;
  size_t n = tsr_resolver_count(r);
  fputs("source,target,type\n", f);
  for (size_t i = 0; i < n; i++) {
    size_t c = tsr_resolver_canonical(r, i);
    if (c != i) {
      tsr_csv_put_field(f, tsr_resolver_id(r, i));
      fputc(',', f);
      tsr_csv_put_field(f, tsr_resolver_id(r, c));
      fputs(",same_person\n", f);
    }
  }
  for (size_t i = 0; i < n; i++) {
    ptrdiff_t h = tsr_resolver_household(r, i);
    if (tsr_resolver_canonical(r, i) != i || h < 0) continue;
    tsr_csv_put_field(f, tsr_resolver_id(r, i));
    fputc(',', f);
    const char *hid = tsr_resolver_id(r, tsr_resolver_household_head(r, (size_t)h));
    put_csvn(f, "H:", hid, strlen(hid));
    fputs(",member_of\n", f);
  }
  prod_edge *e = NULL;
  size_t ne = 0, cap = 0;
  for (size_t i = 0; i < n; i++) {
    const char *p = tsr_resolver_products(r, i);
    while (*p) {
      const char *q = strchr(p, ';');
      size_t len = q ? (size_t)(q - p) : strlen(p);
      const char *s = p;
      size_t sl = len;
      while (sl && (*s == ' ')) s++, sl--;
      while (sl && s[sl - 1] == ' ') sl--;
      if (sl) {
        if (ne == cap) {
          cap = cap ? cap * 2 : 1024;
          prod_edge *t = realloc(e, cap * sizeof *e);
          if (!t) {
            free(e);
            cli_close_out(f, path);
            return cli_fail(TSR_ENOMEM, NULL);
          }
          e = t;
        }
        e[ne].person = tsr_resolver_canonical(r, i);
        e[ne].p = s;
        e[ne++].n = sl;
      }
      p += len + (q != NULL);
    }
  }
  if (ne) qsort(e, ne, sizeof *e, cmp_edge);
  for (size_t k = 0; k < ne; k++) {
    if (k && !cmp_edge(&e[k], &e[k - 1])) continue;
    tsr_csv_put_field(f, tsr_resolver_id(r, e[k].person));
    fputc(',', f);
    put_csvn(f, "P:", e[k].p, e[k].n);
    fputs(",holds\n", f);
  }
  free(e);
  return cli_close_out(f, path) ? TSR_EXIT_FAIL : TSR_EXIT_OK;
}

/* The EM estimates: field,level,m,h,u,weight (log2 m/u). */
static int write_weights(const tsr_resolver *r, const char *path) {
  static const char *const lv[4] = {"missing", "different", "similar", "same"};
  FILE *f = cli_open_out(path);
  if (!f) return TSR_EXIT_FAIL;
  fputs("field,level,m,h,u,weight\n", f);
  for (size_t k = 0; k < tsr_resolver_nfields(); k++)
    for (int l = 3; l >= 1; l--) {
      double m, h, u;
      tsr_resolver_field_probs(r, k, l, &m, &h, &u);
      fprintf(f, "%s,%s,%.6g,%.6g,%.6g,%.3f\n", tsr_resolver_field_name(k), lv[l], m, h, u,
              log2(m / u));
    }
  return cli_close_out(f, path) ? TSR_EXIT_FAIL : TSR_EXIT_OK;
}

int tsr_cmd_resolve(int argc, char **argv) {
  enum { OPT_GRAPH = 256, OPT_THR, OPT_HTHR, OPT_BLOCK, OPT_CC, OPT_MAXERR, OPT_QUIET, OPT_WEIGHTS };
  static const struct option longopts[] = {{"output", required_argument, NULL, 'o'},
                                           {"graph", required_argument, NULL, OPT_GRAPH},
                                           {"threshold", required_argument, NULL, OPT_THR},
                                           {"household-threshold", required_argument, NULL, OPT_HTHR},
                                           {"max-block", required_argument, NULL, OPT_BLOCK},
                                           {"phone-country", required_argument, NULL, OPT_CC},
                                           {"max-errors", required_argument, NULL, OPT_MAXERR},
                                           {"quiet", no_argument, NULL, OPT_QUIET},
                                           {"weights", required_argument, NULL, OPT_WEIGHTS},
                                           {NULL, 0, NULL, 0}};
  const char *out_path = NULL, *graph_path = NULL, *weights_path = NULL;
  tsr_resolve_params p;
  tsr_resolve_params_init(&p);
  tsr_resolve_read_opts ro;
  tsr_resolve_read_opts_init(&ro);
  int quiet = 0;
  double v;
  long l;
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":o:", longopts, NULL)) != -1) {
    switch (c) {
      case 'o': out_path = optarg; break;
      case OPT_GRAPH: graph_path = optarg; break;
      case OPT_THR:
        if (cli_parse_double(CMD, "--threshold", optarg, 1e-6, 1 - 1e-6, &v)) return TSR_EXIT_USAGE;
        p.threshold = v;
        break;
      case OPT_HTHR:
        if (cli_parse_double(CMD, "--household-threshold", optarg, 1e-6, 1 - 1e-6, &v))
          return TSR_EXIT_USAGE;
        p.household_threshold = v;
        break;
      case OPT_BLOCK:
        if (cli_parse_long(CMD, "--max-block", optarg, 2, 100000, &l)) return TSR_EXIT_USAGE;
        p.max_block = (size_t)l;
        break;
      case OPT_CC: {
        size_t n = strlen(optarg);
        int ok = n >= 1 && n <= 4;
        for (size_t k = 0; ok && k < n; k++) ok = optarg[k] >= '0' && optarg[k] <= '9';
        if (!ok) return cli_usage(CMD, "--phone-country: expected a calling code of 1 to 4 digits, got '%s'", optarg);
        snprintf(p.phone_country, sizeof p.phone_country, "%s", optarg);
        break;
      }
      case OPT_MAXERR:
        if (cli_parse_long(CMD, "--max-errors", optarg, 0, 1000000000L, &l)) return TSR_EXIT_USAGE;
        ro.max_errors = l;
        break;
      case OPT_QUIET: quiet = 1; break;
      case OPT_WEIGHTS: weights_path = optarg; break;
      case ':': return cli_usage(CMD, "%s: missing value", argv[optind - 1]);
      default: return cli_usage(CMD, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind >= argc) return cli_usage(CMD, "expected a customers file (customers.csv)");
  if (optind + 1 < argc) return cli_usage(CMD, "unexpected argument '%s'", argv[optind + 1]);
  const char *in_path = argv[optind];
  if (out_path && graph_path && !strcmp(out_path, graph_path) && strcmp(out_path, "-"))
    return cli_usage(CMD, "-o and --graph name the same file '%s'", out_path);

  tsr_error err;
  tsr_error_clear(&err);
  tsr_resolver *r = NULL;
  tsr_status st = tsr_resolver_new(&p, &r, &err);
  if (st) return cli_fail(st, &err);
  rej_ctx rc = {0};
  ro.on_reject = on_reject;
  ro.ud = &rc;
  int64_t nrej = 0;
  int rcode = TSR_EXIT_OK;
  st = tsr_resolver_read_csv(r, in_path, &ro, &nrej, &err);
  if (!st) st = tsr_resolver_run(r, &err);
  if (st) {
    rcode = cli_fail(st, &err);
    goto done;
  }
  if (nrej > 10) cli_msg("%s: %lld rows rejected (10 shown)", in_path, (long long)nrej);
  else if (nrej) cli_msg("%s: %lld rows rejected", in_path, (long long)nrej);

  FILE *f = cli_open_out(out_path);
  if (!f) {
    rcode = TSR_EXIT_FAIL;
    goto done;
  }
  size_t n = tsr_resolver_count(r);
  fputs("customer_id,resolved_id,score,reasons\n", f);
  char reasons[512];
  for (size_t i = 0; i < n; i++) {
    tsr_csv_put_field(f, tsr_resolver_id(r, i));
    fputc(',', f);
    tsr_csv_put_field(f, tsr_resolver_id(r, tsr_resolver_canonical(r, i)));
    double sc = tsr_resolver_score(r, i);
    if (sc == 0 && !signbit(sc)) fputs(",0.0000,", f); /* most records: no printf */
    else fprintf(f, ",%.4f,", sc);
    tsr_csv_put_field(f, tsr_resolver_reasons(r, i, reasons, sizeof reasons));
    fputc('\n', f);
  }
  if (cli_close_out(f, out_path)) {
    rcode = TSR_EXIT_FAIL;
    goto done;
  }
  if (graph_path && (rcode = write_graph(r, graph_path))) goto done;
  if (weights_path && (rcode = write_weights(r, weights_path))) goto done;
  if (!quiet) {
    tsr_resolve_stats s;
    tsr_resolver_stats(r, &s);
    cli_msg("resolve: %zu records, %zu persons (%zu records merged), %zu households; %zu "
            "candidate pairs, %zu blocks over --max-block; EM %d iterations%s; %.2f s (blocking %.2f, "
            "comparing %.2f, EM %.2f, clustering %.2f)",
            s.records, s.persons, s.merged_records, s.households, s.candidate_pairs,
            s.blocks_skipped, s.em_iterations, s.em_converged ? "" : " (not converged)",
            s.seconds_block + s.seconds_compare + s.seconds_em + s.seconds_cluster, s.seconds_block,
            s.seconds_compare, s.seconds_em, s.seconds_cluster);
  }
done:
  tsr_resolver_free(r);
  return rcode;
}
