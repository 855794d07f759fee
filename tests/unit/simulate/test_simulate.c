/* test_simulate.c - the transaction simulator: option checks, determinism,
 * sorted streaming output, BG/NBD and Gamma-Gamma moments against theory,
 * the documented mess, allocation failures. */
#include "tsr_test.h"
#include "internal.h"
#include "tessera/rng.h"
#include "tessera/simulate.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

/* Writes the log of o into a malloc'ed string (*len bytes). */
static char *write_mem(const tsr_simulate_opts *o, size_t *len) {
  char *buf = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&buf, &n);
  assert_non_null(f);
  tsr_error e;
  tsr_status st = tsr_simulate_write(f, o, &e);
  if (st) fail_msg("tsr_simulate_write: %s", e.msg);
  fclose(f);
  *len = n;
  return buf;
}

/* Occurrences of sub in s (a plain loop: sanitizer interceptors make
 * repeated strstr/strtok calls quadratic). */
static long count_substr(const char *s, const char *sub) {
  long n = 0;
  size_t m = strlen(sub);
  for (const char *p = s; *p; p++) {
    size_t k = 0;
    while (k < m && p[k] == sub[k]) k++;
    n += k == m;
  }
  return n;
}

/* Splits the next line off *cur in place (like strtok_r on "\n"). */
static char *next_line(char **cur) {
  char *p = *cur, *q = p;
  if (!*p) return NULL;
  while (*q && *q != '\n') q++;
  if (*q) *q++ = '\0';
  *cur = q;
  return p;
}

static void test_check_opts(void **state) {
  (void)state;
  tsr_simulate_opts o;
  tsr_error e;
  char buf[512];
  tsr_simulate_opts_init(&o);
  assert_int_equal(tsr_simulate_check_opts(&o, &e), TSR_OK);
  o.weeks = 0;
  assert_int_equal(tsr_simulate_check_opts(&o, &e), TSR_EINVAL);
  assert_string_equal(tsr_error_format(&e, buf, sizeof buf),
                      "error: weeks: expected an integer in [1, 5200], got 0");
  tsr_simulate_opts_init(&o);
  o.customers = 0;
  assert_int_equal(tsr_simulate_check_opts(&o, &e), TSR_EINVAL);
  assert_string_equal(e.field, "customers");
  tsr_simulate_opts_init(&o);
  o.alpha = -1;
  assert_int_equal(tsr_simulate_check_opts(&o, &e), TSR_EINVAL);
  assert_string_equal(e.msg, "expected a number in (0, 1e6], got -1");
  assert_string_equal(e.field, "alpha");
  tsr_simulate_opts_init(&o);
  o.join_span = 1.5;
  assert_int_equal(tsr_simulate_check_opts(&o, &e), TSR_EINVAL);
  tsr_simulate_opts_init(&o);
  o.start_day = 47000;
  o.weeks = 100; /* ends after 2100-01-01 */
  assert_int_equal(tsr_simulate_check_opts(&o, &e), TSR_EINVAL);
  assert_int_equal(tsr_simulate_check_opts(NULL, NULL), TSR_EINVAL);
  tsr_simulate_customer c;
  tsr_simulate_opts_init(&o);
  assert_int_equal(tsr_simulate_latent(&o, o.customers, &c, &e), TSR_EINVAL);
  assert_string_equal(e.field, "index");
}

static void test_deterministic(void **state) {
  (void)state;
  tsr_simulate_opts o;
  tsr_simulate_opts_init(&o);
  o.customers = 2000;
  o.seed = 99;
  size_t n1, n2, n3;
  char *a = write_mem(&o, &n1);
  char *b = write_mem(&o, &n2);
  assert_int_equal(n1, n2);
  assert_memory_equal(a, b, n1);
  o.seed = 100;
  char *c = write_mem(&o, &n3);
  assert_true(n3 != n1 || memcmp(a, c, n1) != 0);
  free(a);
  free(b);
  free(c);
}

/* Header, unique increasing ids, sorted timestamps, field shapes. */
static void test_format_sorted(void **state) {
  (void)state;
  tsr_simulate_opts o;
  tsr_simulate_opts_init(&o);
  o.customers = 500;
  o.seed = 5;
  o.weeks = 30;
  o.start_day = 19000; /* 2022-01-08 */
  size_t n;
  char *s = write_mem(&o, &n);
  char *cur = s;
  char *line = next_line(&cur);
  assert_string_equal(line, "transaction_id,customer_id,timestamp,amount,channel,category");
  char prev_ts[32] = "";
  long rows = 0;
  while ((line = next_line(&cur))) {
    rows++;
    char id[16], cust[16], ts[32], amt[32], ch[16], cat[32];
    assert_int_equal(sscanf(line, "%15[^,],%15[^,],%31[^,],%31[^,],%15[^,],%31s", id, cust,
                            ts, amt, ch, cat),
                     6);
    char want[32];
    snprintf(want, sizeof want, "T%07ld", rows);
    assert_string_equal(id, want);
    assert_int_equal(strlen(cust), 7);
    assert_int_equal(strlen(ts), 20);
    assert_true(ts[10] == 'T' && ts[19] == 'Z');
    assert_true(strcmp(prev_ts, ts) <= 0);
    assert_true(strcmp(ts, "2022-01-08") >= 0 && strcmp(ts, "2022-08-06") < 0);
    strcpy(prev_ts, ts);
    char *dot = strchr(amt, '.');
    assert_non_null(dot);
    assert_int_equal(strlen(dot), 3);
    if (!strcmp(ch, "branch")) {
      int hour = atoi(ts + 11);
      assert_true(hour >= 9 && hour <= 16);
    }
    if (!strcmp(ch, "atm")) assert_string_equal(cat, "cash");
  }
  assert_true(rows > 500);
  free(s);
}

typedef struct stats {
  uint64_t ncust;
  long *count;
  double *first_amount;
  int64_t *first_time;
  double sum_amount;
  long rows;
  int64_t last_time;
  int stop_after;
} stats;

static int collect(void *ud, const tsr_simulate_row *r) {
  stats *s = ud;
  assert_true(r->customer < s->ncust);
  assert_true(r->time >= s->last_time);
  assert_true(r->amount_cents >= 1);
  s->last_time = r->time;
  if (s->count[r->customer]++ == 0) {
    s->first_amount[r->customer] = (double)r->amount_cents / 100;
    s->first_time[r->customer] = r->time;
  }
  s->sum_amount += (double)r->amount_cents / 100;
  s->rows++;
  return s->stop_after && s->rows >= s->stop_after;
}

/* Expected repeat purchases of the default model by Monte Carlo with GSL's
 * generator (independent of tsr_rng): E[(1 - exp(-lambda p t)) / p]. */
static void mc_expected_repeats(const tsr_simulate_opts *o, long n, double *mean, double *se) {
  gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(g, 12345);
  double s = 0, ss = 0;
  for (long i = 0; i < n; i++) {
    double lambda = gsl_ran_gamma(g, o->r, 1.0 / o->alpha);
    double p = gsl_ran_beta(g, o->a, o->b);
    double t = o->weeks * (1.0 - o->join_span * gsl_rng_uniform(g));
    double x = -expm1(-lambda * p * t) / p;
    s += x;
    ss += x * x;
  }
  gsl_rng_free(g);
  *mean = s / n;
  *se = sqrt((ss / n - *mean * *mean) / n);
}

static void test_theory(void **state) {
  (void)state;
  tsr_simulate_opts o;
  tsr_simulate_opts_init(&o);
  o.customers = 100000;
  o.seed = 2024;
  stats s;
  memset(&s, 0, sizeof s);
  s.ncust = o.customers;
  s.count = calloc(o.customers, sizeof *s.count);
  s.first_amount = calloc(o.customers, sizeof *s.first_amount);
  s.first_time = calloc(o.customers, sizeof *s.first_time);
  tsr_error e;
  assert_int_equal(tsr_simulate_run(&o, collect, &s, &e), TSR_OK);

  double n = (double)o.customers;
  double sl = 0, sp = 0, snu = 0, sx = 0, sex = 0, sd2 = 0, sa = 0, sa2 = 0, sr = 0, sr2 = 0;
  for (uint64_t i = 0; i < o.customers; i++) {
    tsr_simulate_customer c;
    assert_int_equal(tsr_simulate_latent(&o, i, &c, &e), TSR_OK);
    assert_true(s.count[i] >= 1); /* everyone buys at joining */
    /* first purchase on the join day */
    assert_int_equal(s.first_time[i] / 86400 - o.start_day, (int64_t)floor(c.join * 7));
    sl += c.lambda;
    sp += c.p;
    snu += c.nu;
    double t = o.weeks - c.join;
    double ex = -expm1(-c.lambda * c.p * t) / c.p; /* BG/NBD E[X(t) | lambda, p] */
    double x = (double)(s.count[i] - 1);
    sx += x;
    sex += ex;
    sd2 += (x - ex) * (x - ex);
    sr += x;
    sr2 += x * x;
    sa += s.first_amount[i];
    sa2 += s.first_amount[i] * s.first_amount[i];
  }
  /* Latent moments: Gamma(r, alpha), Beta(a, b), Gamma(q, gamma). */
  assert_near(sl / n, o.r / o.alpha, 5 * sqrt(o.r) / o.alpha / sqrt(n));
  double ab = o.a + o.b;
  assert_near(sp / n, o.a / ab, 5 * sqrt(o.a * o.b / (ab * ab * (ab + 1)) / n));
  assert_near(snu / n, o.q / o.gamma, 5 * sqrt(o.q) / o.gamma / sqrt(n));
  /* Repeats given the latent values. */
  assert_near(sx / n, sex / n, 5 * sqrt(sd2 / n / n));
  /* Repeats against the unconditional expectation. */
  double mc, mc_se;
  mc_expected_repeats(&o, 400000, &mc, &mc_se);
  double se = sqrt((sr2 / n - (sr / n) * (sr / n)) / n);
  print_message("repeats per customer %.4f, theory %.4f (se %.4f)\n", sr / n, mc, se);
  assert_near(sr / n, mc, 5 * sqrt(se * se + mc_se * mc_se));
  /* Spend: E[amount] = p gamma / (q - 1); Var = p(p+1) gamma^2 / ((q-1)(q-2)) - E^2. */
  double ea = o.p * o.gamma / (o.q - 1);
  double va = o.p * (o.p + 1) * o.gamma * o.gamma / ((o.q - 1) * (o.q - 2)) - ea * ea;
  assert_near(sa / n, ea, 5 * sqrt(va / n));
  assert_near(sa2 / n - (sa / n) * (sa / n), va, 0.15 * va);
  assert_near(s.sum_amount / (double)s.rows, ea, 1.0);
  free(s.count);
  free(s.first_amount);
  free(s.first_time);
}

static void test_stop_callback(void **state) {
  (void)state;
  tsr_simulate_opts o;
  tsr_simulate_opts_init(&o);
  o.customers = 100;
  stats s;
  memset(&s, 0, sizeof s);
  s.ncust = o.customers;
  s.count = calloc(o.customers, sizeof *s.count);
  s.first_amount = calloc(o.customers, sizeof *s.first_amount);
  s.first_time = calloc(o.customers, sizeof *s.first_time);
  s.stop_after = 10;
  tsr_error e;
  assert_int_equal(tsr_simulate_run(&o, collect, &s, &e), TSR_ECANCELED);
  assert_int_equal(s.rows, 10);
  free(s.count);
  free(s.first_amount);
  free(s.first_time);
}

static void test_messy(void **state) {
  (void)state;
  tsr_simulate_opts o;
  tsr_simulate_opts_init(&o);
  o.customers = 20000;
  o.seed = 8;
  size_t nc, nm;
  char *clean = write_mem(&o, &nc);
  o.messy = 1;
  char *messy = write_mem(&o, &nm);
  long rows = count_substr(clean, "\n") - 1;
  long mrows = count_substr(messy, "\n") - 1;
  assert_true(mrows > rows);
  /* ~0.5% duplicates + ~0.5% refunds */
  assert_near((double)(mrows - rows) / rows, 0.01, 0.003);
  long refunds = count_substr(messy, ",-");
  assert_near((double)refunds / rows, 0.005, 0.002);
  long ncur = count_substr(messy, ",\"$") + count_substr(messy, ",\"\xC2\xA3") +
             count_substr(messy, ",\"\xE2\x82\xAC");
  assert_near((double)ncur / rows, 0.02, 0.004);
  long na = count_substr(messy, ",N/A,");
  long empty = count_substr(messy, ",,");
  assert_true(na > 0 && empty > 0);
  assert_near((double)(na + empty) / rows, 0.001 * 2.0 / 3, 0.0006);
  long off = count_substr(messy, "+01:00,");
  assert_near((double)off / rows, 0.006, 0.002);
  assert_true(count_substr(messy, "-32T") > 0);
  /* duplicates are adjacent identical lines */
  long dups = 0;
  char *cur = messy, *prev = NULL;
  for (char *l = next_line(&cur); l; l = next_line(&cur)) {
    if (prev && !strcmp(prev, l)) dups++;
    prev = l;
  }
  assert_near((double)dups / rows, 0.005, 0.002);
  free(clean);
  free(messy);
}

static int count_rows(void *ud, const tsr_simulate_row *r) {
  (void)r;
  (*(long *)ud)++;
  return 0;
}

static void test_alloc_failures(void **state) {
  (void)state;
  tsr_simulate_opts o;
  tsr_simulate_opts_init(&o);
  o.customers = 30;
  o.weeks = 8;
  o.messy = 1;
  int ok = 0;
  for (long k = 0; k < 2000 && !ok; k++) {
    tsr_error e;
    long rows = 0;
    tsr__alloc_fail_after(k);
    tsr_status st = tsr_simulate_run(&o, count_rows, &rows, &e);
    tsr__alloc_fail_after(-1);
    assert_true(st == TSR_OK || st == TSR_ENOMEM);
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    tsr__alloc_fail_after(k);
    tsr_status st2 = tsr_simulate_write(f, &o, &e);
    tsr__alloc_fail_after(-1);
    fclose(f);
    free(buf);
    assert_true(st2 == TSR_OK || st2 == TSR_ENOMEM);
    ok = st == TSR_OK && st2 == TSR_OK;
  }
  assert_true(ok);
}

static void test_write_error(void **state) {
  (void)state;
  FILE *f = fopen("/dev/full", "w");
  if (!f) skip();
  tsr_simulate_opts o;
  tsr_simulate_opts_init(&o);
  o.customers = 5000;
  tsr_error e;
  assert_int_equal(tsr_simulate_write(f, &o, &e), TSR_EIO);
  assert_string_equal(e.msg, "write error");
  fclose(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_check_opts),   cmocka_unit_test(test_deterministic),
      cmocka_unit_test(test_format_sorted), cmocka_unit_test(test_theory),
      cmocka_unit_test(test_stop_callback), cmocka_unit_test(test_messy),
      cmocka_unit_test(test_alloc_failures), cmocka_unit_test(test_write_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
