/*
 * test_realtime.c - the real-time state and scorer against the batch
 * pipeline: streaming a log event by event gives the summary, RFM scores,
 * segments, BTYD scores, CLV and clusters of tsr_analyze_run on the same
 * log (CDNOW and a simulated log, in file order and with late events).
 */
#include "tsr_test.h"
#include "tessera/realtime.h"
#include "tessera/realtime_app.h"

typedef struct raw_ev {
  char id[64];
  int64_t day;
  double amount;
} raw_ev;

/* Reads customer, date and amount columns (by header name) of a simple CSV. */
static raw_ev *read_log(const char *path, size_t *n) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char line[1024];
  assert_non_null(fgets(line, sizeof line, f));
  int ci = -1, di = -1, ai = -1, k = 0;
  for (char *t = strtok(line, ",\r\n"); t; t = strtok(NULL, ",\r\n"), k++) {
    if (!strcmp(t, "customer_id")) ci = k;
    else if (!strcmp(t, "date") || !strcmp(t, "timestamp")) di = k;
    else if (!strcmp(t, "amount")) ai = k;
  }
  assert_true(ci >= 0 && di >= 0 && ai >= 0);
  size_t cap = 1 << 16;
  raw_ev *v = malloc(cap * sizeof *v);
  *n = 0;
  while (fgets(line, sizeof line, f)) {
    if (*n == cap) v = realloc(v, (cap *= 2) * sizeof *v);
    raw_ev *e = &v[*n];
    char *save = NULL;
    k = 0;
    for (char *t = strtok_r(line, ",\r\n", &save); t; t = strtok_r(NULL, ",\r\n", &save), k++) {
      if (k == ci) snprintf(e->id, sizeof e->id, "%s", t);
      else if (k == di) {
        int64_t ts;
        assert_int_equal(tsr_datetime_parse(t, strlen(t), NULL, &ts), TSR_OK);
        e->day = ts / 86400;
      } else if (k == ai) {
        assert_int_equal(tsr_amount_parse(t, strlen(t), &e->amount), TSR_OK);
      }
    }
    (*n)++;
  }
  fclose(f);
  return v;
}

static void rel_eq(double a, double b, const char *what, const char *id) {
  if (isnan(a) && isnan(b)) return;
  if (!(fabs(a - b) <= 1e-9 * fmax(1.0, fabs(b))))
    fail_msg("customer %s: %s = %.17g, batch %.17g", id, what, a, b);
}

/* Streams ev[0..n) into a table (late events: rebuilt from the events seen
 * so far, in day then arrival order, as the store's log does) and compares
 * every customer with the analysis result. */
static void stream_and_compare(const raw_ev *ev, size_t n, const tsr_analyze_result *res,
                               const tsr_analyze_opts *o, size_t *late_out) {
  tsr_rt_scorer *sc = NULL;
  tsr_error err;
  assert_int_equal(tsr_rt_scorer_from_analysis(res, o, &sc, &err), TSR_OK);
  /* the scorer survives its JSON form */
  char *js = NULL;
  assert_int_equal(tsr_rt_scorer_to_json(sc, &js, &err), TSR_OK);
  tsr_rt_scorer *sc2 = NULL;
  if (tsr_rt_scorer_from_json(js, strlen(js), &sc2, &err) != TSR_OK) fail_msg("%s", err.msg);
  free(js);
  tsr_rt_scorer_free(sc);
  sc = sc2;
  const tsr_rt_opts *ro = tsr_rt_scorer_opts(sc);
  tsr_rt_table *t = NULL;
  assert_int_equal(tsr_rt_table_new(&t, &err), TSR_OK);
  size_t late = 0;
  /* events seen so far per customer (table order), for rebuilds */
  size_t **seen = calloc(n, sizeof *seen), *nseen = calloc(n, sizeof *nseen);
  for (size_t i = 0; i < n; i++) {
    tsr_rt_state *s = tsr_rt_table_get(t, ev[i].id, 1);
    assert_non_null(s);
    size_t ci = (size_t)(s - tsr_rt_table_state(t, 0));
    seen[ci] = realloc(seen[ci], (nseen[ci] + 1) * sizeof **seen);
    seen[ci][nseen[ci]++] = i;
    tsr_status st = tsr_rt_apply(s, ro, ev[i].day, ev[i].amount);
    if (st == TSR_ERANGE) {
      late++;
      /* rebuild: this customer's events so far, stable by day */
      size_t m = nseen[ci];
      raw_ev *c = malloc(m * sizeof *c);
      for (size_t a = 0; a < m; a++) c[a] = ev[seen[ci][a]];
      for (size_t a = 1; a < m; a++) /* insertion sort: stable */
        for (size_t b = a; b > 0 && c[b - 1].day > c[b].day; b--) {
          raw_ev x = c[b];
          c[b] = c[b - 1];
          c[b - 1] = x;
        }
      tsr_rt_state_init(s);
      for (size_t a = 0; a < m; a++) assert_int_equal(tsr_rt_apply(s, ro, c[a].day, c[a].amount), TSR_OK);
      free(c);
    } else {
      assert_int_equal(st, TSR_OK);
    }
  }
  for (size_t i = 0; i < n; i++) free(seen[i]);
  free(seen);
  free(nseen);
  if (late_out) *late_out = late;
  const tsr_summary *sm = res->summary;
  assert_int_equal(tsr_rt_table_size(t), tsr_ledger_ncustomers(res->ledger));
  size_t matched_clusters = 0;
  for (size_t i = 0; i < sm->n; i++) {
    const tsr_summary_row *b = &sm->rows[i];
    tsr_rt_state *s = tsr_rt_table_get(t, b->customer_id, 0);
    assert_non_null(s);
    tsr_rt_scores r;
    if (tsr_rt_score(sc, b->customer_id, s, sm->end_day, &r, &err) != TSR_OK) fail_msg("%s", err.msg);
    const char *id = b->customer_id;
    rel_eq(r.row.frequency, b->frequency, "frequency", id);
    rel_eq(r.row.recency, b->recency, "recency", id);
    rel_eq(r.row.T, b->T, "T", id);
    rel_eq(r.row.monetary_value, b->monetary_value, "monetary_value", id);
    rel_eq(r.row.revenue, b->revenue, "revenue", id);
    assert_int_equal(r.row.n_transactions, b->n_transactions);
    assert_int_equal(r.row.active_days, b->active_days);
    assert_int_equal(r.row.first_day, b->first_day);
    assert_int_equal(r.row.last_day, b->last_day);
    assert_int_equal(r.row.n_refunds, b->n_refunds);
    rel_eq(r.row.refund_amount, b->refund_amount, "refund_amount", id);
    if (r.r != res->r[i] || r.f != res->f[i] || r.m != res->m[i])
      fail_msg("customer %s: RFM %d%d%d, batch %d%d%d", id, r.r, r.f, r.m, res->r[i], res->f[i],
               res->m[i]);
    assert_string_equal(r.segment_name, res->segment[i]);
    rel_eq(r.expected, res->expected[i], "expected", id);
    rel_eq(r.p_alive, res->p_alive[i], "p_alive", id);
    rel_eq(r.clv, res->clv[i], "clv", id);
    if (res->clusters) {
      if (r.cluster != res->clusters->labels[i])
        fail_msg("customer %s: cluster %d, batch %d", id, r.cluster, res->clusters->labels[i]);
      matched_clusters++;
    }
  }
  if (res->clusters) assert_int_equal(matched_clusters, sm->n);
  tsr_rt_table_free(t);
  tsr_rt_scorer_free(sc);
}

static tsr_analyze_result *analyze(const char *path, tsr_analyze_opts *o) {
  static const char *inputs[1];
  inputs[0] = path;
  tsr_analyze_opts_init(o);
  o->inputs = inputs;
  o->n_inputs = 1;
  o->cluster = "kmeans";
  o->cluster_opts.k = 4;
  o->seed = 7;
  tsr_analyze_result *res = NULL;
  tsr_error err;
  if (tsr_analyze_run(o, NULL, &res, &err) != TSR_OK) fail_msg("%s", err.msg);
  assert_true(res->has_model && res->has_spend && res->clusters);
  return res;
}

static void test_cdnow(void **state) {
  (void)state;
  char path[512];
  tsr_test_data("cdnow/cdnow_master.csv", path, sizeof path);
  tsr_analyze_opts o;
  tsr_analyze_result *res = analyze(path, &o);
  size_t n = 0, late = 0;
  raw_ev *ev = read_log(path, &n);
  assert_int_equal(n, 69659);
  stream_and_compare(ev, n, res, &o, &late);
  assert_int_equal(late, 0); /* CDNOW is sorted by customer and date */
  /* the same log in reverse order: every event after a customer's first is
   * late and forces a rebuild; same results */
  for (size_t i = 0; i < n / 2; i++) {
    raw_ev x = ev[i];
    ev[i] = ev[n - 1 - i];
    ev[n - 1 - i] = x;
  }
  stream_and_compare(ev, n, res, &o, &late);
  assert_true(late > 30000);
  free(ev);
  tsr_analyze_result_free(res);
}

static void test_simulated(void **state) {
  (void)state;
  tsr_simulate_opts so;
  tsr_simulate_opts_init(&so);
  so.customers = 3000;
  so.seed = 11;
  char path[] = "/tmp/tsr_rt_sim_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  tsr_error err;
  if (tsr_simulate_write(f, &so, &err) != TSR_OK) fail_msg("%s", err.msg);
  fclose(f);
  tsr_analyze_opts o;
  tsr_analyze_result *res = analyze(path, &o);
  size_t n = 0, late = 0;
  raw_ev *ev = read_log(path, &n);
  assert_true(n > 10000);
  stream_and_compare(ev, n, res, &o, &late);
  free(ev);
  tsr_analyze_result_free(res);
  unlink(path);
}

/* Same-day events in any order, refunds, evaluation later in time. */
static void test_state_semantics(void **state) {
  (void)state;
  tsr_rt_opts o;
  tsr_rt_opts_init(&o);
  o.multiplier = 1;
  tsr_rt_state s;
  tsr_rt_state_init(&s);
  assert_int_equal(sizeof s, 120);
  tsr_summary_row r;
  assert_int_equal(tsr_rt_summary(&s, &o, 100, &r), TSR_ENOTFOUND);
  assert_int_equal(tsr_rt_apply(&s, &o, 10, -5), TSR_OK);  /* refund before any purchase */
  assert_int_equal(tsr_rt_apply(&s, &o, 10, 20), TSR_OK);
  assert_int_equal(tsr_rt_apply(&s, &o, 12, 30), TSR_OK);
  assert_int_equal(tsr_rt_apply(&s, &o, 12, 10), TSR_OK);
  assert_int_equal(tsr_rt_apply(&s, &o, 11, 10), TSR_ERANGE); /* late */
  assert_int_equal(tsr_rt_apply(&s, &o, 20, NAN), TSR_EINVAL);
  assert_int_equal(tsr_rt_summary(&s, &o, 11, &r), TSR_ERANGE);
  assert_int_equal(tsr_rt_summary(&s, &o, 15, &r), TSR_OK);
  assert_near(r.frequency, 1, 0);
  assert_near(r.recency, 2, 0);
  assert_near(r.T, 5, 0);
  assert_near(r.monetary_value, 40, 0);
  assert_near(r.revenue, 60, 0);
  assert_int_equal(r.n_transactions, 3);
  assert_int_equal(r.active_days, 2);
  assert_int_equal(r.n_refunds, 1);
  assert_near(r.refund_amount, -5, 0);
  /* T grows with `at`, recency does not */
  assert_int_equal(tsr_rt_summary(&s, &o, 40, &r), TSR_OK);
  assert_near(r.T, 30, 0);
  assert_near(r.recency, 2, 0);
  /* netted refunds: the refund day goes to the current period */
  o.refunds = TSR_REFUNDS_NET;
  tsr_rt_state_init(&s);
  assert_int_equal(tsr_rt_apply(&s, &o, 10, 20), TSR_OK);
  assert_int_equal(tsr_rt_apply(&s, &o, 11, -5), TSR_OK);
  assert_int_equal(tsr_rt_apply(&s, &o, 12, 30), TSR_OK);
  assert_int_equal(tsr_rt_summary(&s, &o, 12, &r), TSR_OK);
  assert_near(r.monetary_value, 30, 0);
  assert_near(r.revenue, 45, 0);
}

static void test_table_and_events(void **state) {
  (void)state;
  tsr_rt_table *t = NULL;
  assert_int_equal(tsr_rt_table_new(&t, NULL), TSR_OK);
  char id[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(id, sizeof id, "C%d", i);
    tsr_rt_state *s = tsr_rt_table_get(t, id, 1);
    assert_non_null(s);
    s->n_products = (uint32_t)i;
  }
  assert_int_equal(tsr_rt_table_size(t), 5000);
  assert_null(tsr_rt_table_get(t, "nope", 0));
  assert_int_equal(tsr_rt_table_get(t, "C4321", 0)->n_products, 4321);
  assert_string_equal(tsr_rt_table_id(t, 17), "C17");
  assert_true(tsr_rt_table_bytes(t) < 5000 * 256);
  tsr_rt_table_free(t);

  tsr_rt_event ev;
  tsr_error err;
  const char *ok = "{\"type\":\"transaction\",\"customer_id\":\"C1\",\"timestamp\":\"2024-03-01T10:00:00+02:00\","
                   "\"amount\":\"$1,234.50\",\"transaction_id\":\"T9\"}";
  assert_int_equal(tsr_rt_event_parse(ok, strlen(ok), 1, &ev, &err), TSR_OK);
  assert_string_equal(ev.customer_id, "C1");
  assert_string_equal(ev.key, "T9");
  assert_near(ev.amount, 1234.5, 0);
  char d[11];
  assert_string_equal(tsr_day_format(ev.day, d), "2024-03-01");
  const char *num = "{\"customer_id\":42,\"date\":\"19970101\",\"amount\":-3.5}";
  assert_int_equal(tsr_rt_event_parse(num, strlen(num), 2, &ev, &err), TSR_OK);
  assert_string_equal(ev.customer_id, "42");
  assert_near(ev.amount, -3.5, 0);
  const char *prod = "{\"type\":\"product\",\"customer_id\":\"C1\",\"date\":\"2024-03-02\",\"product_opened\":\"savings\"}";
  assert_int_equal(tsr_rt_event_parse(prod, strlen(prod), 3, &ev, &err), TSR_OK);
  assert_int_equal(ev.type, TSR_RT_PRODUCT);
  assert_string_equal(ev.detail, "savings");
  assert_near(ev.amount, 1, 0);
  /* the product set through the table's registry */
  tsr_rt_table *reg = NULL;
  assert_int_equal(tsr_rt_table_new(&reg, NULL), TSR_OK);
  tsr_rt_state ps;
  tsr_rt_state_init(&ps);
  assert_int_equal(tsr_rt_state_event(&ps, NULL, reg, &ev), TSR_OK);
  const char *prod2 = "{\"type\":\"product\",\"customer_id\":\"C1\",\"date\":\"2024-03-03\",\"product\":\"card\"}";
  assert_int_equal(tsr_rt_event_parse(prod2, strlen(prod2), 4, &ev, &err), TSR_OK);
  assert_int_equal(tsr_rt_state_event(&ps, NULL, reg, &ev), TSR_OK);
  const char *close1 = "{\"type\":\"product\",\"customer_id\":\"C1\",\"date\":\"2024-03-04\",\"product\":\"savings\",\"event\":\"close\"}";
  assert_int_equal(tsr_rt_event_parse(close1, strlen(close1), 5, &ev, &err), TSR_OK);
  assert_near(ev.amount, -1, 0);
  assert_int_equal(tsr_rt_state_event(&ps, NULL, reg, &ev), TSR_OK);
  assert_int_equal(ps.n_products, 3);
  assert_true(ps.products_held == 2u); /* card (bit 1) held, savings (bit 0) closed */
  assert_string_equal(tsr_rt_table_product_name(reg, 1), "card");
  const char *contact = "{\"type\":\"interaction\",\"customer_id\":\"C1\",\"timestamp\":\"2024-03-05T09:00:00Z\",\"channel\":\"phone\"}";
  assert_int_equal(tsr_rt_event_parse(contact, strlen(contact), 6, &ev, &err), TSR_OK);
  assert_int_equal(tsr_rt_state_event(&ps, NULL, reg, &ev), TSR_OK);
  assert_int_equal(ps.n_interactions, 1);
  assert_string_equal(tsr_day_format(ps.last_contact_day, d), "2024-03-05");
  tsr_rt_table_free(reg);
  const char *badact = "{\"type\":\"product\",\"customer_id\":\"C1\",\"date\":\"2024-03-04\",\"product\":\"x\",\"event\":\"sell\"}";
  assert_int_equal(tsr_rt_event_parse(badact, strlen(badact), 5, &ev, &err), TSR_EPARSE);
  assert_string_equal(err.field, "event");
  struct {
    const char *line, *field, *msg;
    tsr_status st;
  } bad[] = {
      {"{\"customer_id\":\"C1\",\"date\":\"2024-13-01\",\"amount\":1}", "date", "expected an ISO 8601 date or timestamp, got '2024-13-01'", TSR_EPARSE},
      {"{\"customer_id\":\"C1\",\"date\":\"1900-01-01\",\"amount\":1}", "date", "expected a date in 1970..2100, got '1900-01-01'", TSR_ERANGE},
      {"{\"customer_id\":\"C1\",\"date\":\"2024-01-01\",\"amount\":\"12,50\"}", "amount", "expected a number, got '12,50'", TSR_EPARSE},
      {"{\"customer_id\":\"\",\"date\":\"2024-01-01\",\"amount\":1}", "customer_id", "expected a non-empty id, got ''", TSR_EPARSE},
      {"{\"customer_id\":\"C1\",\"date\":\"2024-01-01\"}", "amount", "expected a number", TSR_EPARSE},
      {"{\"type\":\"refund\",\"customer_id\":\"C1\"}", "type", "expected transaction, product or interaction, got 'refund'", TSR_EPARSE},
      {"[1,2]", "", "expected a JSON object", TSR_EPARSE},
      {"{\"customer_id\":\"C1\",\"customer_id\":\"C2\",\"date\":\"2024-01-01\",\"amount\":1}", "", NULL, TSR_EPARSE},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    tsr_error_clear(&err);
    tsr_status st = tsr_rt_event_parse(bad[i].line, strlen(bad[i].line), 7, &ev, &err);
    if (st != bad[i].st) fail_msg("case %zu: status %d, expected %d (%s)", i, st, bad[i].st, err.msg);
    assert_string_equal(err.field, bad[i].field);
    if (bad[i].msg) assert_string_equal(err.msg, bad[i].msg);
    assert_int_equal(err.line, 7);
  }
  char big[400];
  memset(big, 'x', sizeof big);
  char line[600];
  snprintf(line, sizeof line, "{\"customer_id\":\"%.*s\",\"date\":\"2024-01-01\",\"amount\":1}", 300, big);
  assert_int_equal(tsr_rt_event_parse(line, strlen(line), 1, &ev, &err), TSR_ELIMIT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_state_semantics),
      cmocka_unit_test(test_table_and_events),
      cmocka_unit_test(test_cdnow),
      cmocka_unit_test(test_simulated),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
