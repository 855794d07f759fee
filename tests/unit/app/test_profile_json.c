/* test_profile_json.c - the profile JSON of the store (customers.extra,
 * tsr__profile_json of app/analyze_profiles.c, written without printf) is
 * byte for byte the printf writer's (tsr__profile_json_slow): on the
 * profiles of a simulated bundle, on profiles with strings to escape,
 * signed zeros, huge, infinite and missing numbers, and at every buffer
 * size around the text's length (the slow writer's truncation rules). */
#include "tsr_test.h"

#include "tessera/bundle.h"
#include "tessera/profile.h"
#include "tessera/simulate.h"

size_t tsr__profile_json(const tsr_profiles *p, const tsr_profile *r, const char *pii, char *buf,
                         size_t cap);
size_t tsr__profile_json_slow(const tsr_profiles *p, const tsr_profile *r, const char *pii,
                              char *buf, size_t cap);

static tsr_profiles *P;
static char dir[64];

static int setup(void **state) {
  (void)state;
  char lat[128];
  snprintf(dir, sizeof dir, "/tmp/tsr_pjson_XXXXXX");
  if (!mkdtemp(dir)) return -1;
  snprintf(lat, sizeof lat, "%s/latent", dir);
  tsr_bundle_sim_opts so;
  tsr_bundle_sim_opts_init(&so);
  so.customers = 1500;
  so.seed = 5;
  so.tx_per_customer = 10;
  tsr_error e;
  if (tsr_bundle_simulate(&so, dir, lat, NULL, &e) != TSR_OK) return -1;
  tsr_bundle *b;
  if (tsr_bundle_open_dir(dir, &b, &e) != TSR_OK) return -1;
  if (tsr_profiles_new(NULL, &P, &e) != TSR_OK) return -1;
  for (int t = 0; t < TSR_BT_COUNT; t++) {
    tsr_bundle_reader *r;
    if (tsr_bundle_open_table(b, (tsr_bundle_table)t, NULL, &r, &e) != TSR_OK) return -1;
    if (tsr_profiles_add_table(P, r, &e) != TSR_OK) return -1;
    tsr_bundle_reader_close(r);
  }
  tsr_bundle_free(b);
  if (tsr_profiles_finish(P, &e) != TSR_OK) return -1;
  tsr_segment_opts sg;
  tsr_segment_opts_init(&sg);
  sg.min_cell = 20;
  if (tsr_profiles_segment(P, &sg, &e) != TSR_OK) return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tsr_profiles_free(P);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* fast == slow at cap, return value and text */
static void same_at(const tsr_profile *r, const char *pii, size_t cap) {
  static char a[8192], b[8192];
  memset(a, 1, sizeof a);
  memset(b, 1, sizeof b);
  size_t na = tsr__profile_json(P, r, pii, a, cap);
  size_t nb = tsr__profile_json_slow(P, r, pii, b, cap);
  if (na != nb) fail_msg("cap %zu: length %zu, printf writer %zu ('%s')", cap, na, nb, b);
  if (nb && memcmp(a, b, nb + 1) != 0) fail_msg("cap %zu:\n  %s\n  %s", cap, a, b);
}

/* at 4096 (the store's), and at every cap near the text's length */
static void same(const tsr_profile *r, const char *pii) {
  same_at(r, pii, 4096);
  char b[8192];
  size_t n = tsr__profile_json_slow(P, r, pii, b, sizeof b);
  if (n == 0) n = 4096;
  for (size_t cap = n > 60 ? n - 60 : 2; cap < n + 40; cap++) same_at(r, pii, cap);
}

static void test_profile_json_bundle(void **state) {
  (void)state;
  size_t n = tsr_profiles_count(P);
  assert_true(n > 1000);
  for (size_t i = 0; i < n; i++) {
    const tsr_profile *r = tsr_profiles_get(P, i);
    same_at(r, NULL, 4096);
    same_at(r, i % 3 ? NULL : "sealed:AbC+/=", 4096);
    if (i < 40) same(r, NULL);
  }
  /* the text is JSON ({"profile":1,...}) */
  char b[4096];
  assert_true(tsr__profile_json(P, tsr_profiles_get(P, 0), NULL, b, sizeof b) > 20);
  assert_memory_equal(b, "{\"profile\":1", 12);
}

static void test_profile_json_edges(void **state) {
  (void)state;
  tsr_profile r = *tsr_profiles_get(P, 7);
  char longs[3000];
  memset(longs, 'z', sizeof longs - 1);
  longs[sizeof longs - 1] = '\0';
  r.gender = "f\"q\\b\x01\x1f\x7f caf\xc3\xa9";
  r.city = "tab\there";
  r.age = -0.0001;
  r.tenure_years = 0.125;
  r.risk_score = 2.25;
  r.digital_share = 2.675;
  r.sentiment_mean = -0.0;
  r.sentiment_last = 1e20;
  r.tx_amount = -1e300;
  r.anomalies = 12;
  r.tx_count = -5;
  r.products = ~0ull;
  same(&r, "p\"ii\n");
  r.sentiment_last = INFINITY;
  r.tx_amount = NAN;
  r.age = NAN;
  r.anomalies = -1;
  r.micro = "";
  same(&r, "");
  /* too long for the buffer: 0 or a cut text, as printf's writer gives */
  r.city = longs;
  same(&r, NULL);
  r.city = longs + 1200;
  same(&r, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_profile_json_bundle),
      cmocka_unit_test(test_profile_json_edges),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
