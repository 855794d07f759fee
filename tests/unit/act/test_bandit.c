/*
 * test_bandit.c - bandit policies, the offer simulator and off-policy
 * evaluation (tessera/bandit.h).
 */
#include "tsr_test.h"
#include "tessera/bandit.h"

static void test_probs_eligibility(void **state) {
  (void)state;
  for (int pol = 0; pol < TSR_BANDIT_NPOLICIES; pol++) {
    tsr_bandit_opts o;
    tsr_bandit_opts_init(&o);
    o.policy = (tsr_bandit_policy)pol;
    o.n_arms = 4;
    o.n_segments = 2;
    o.min_explore = 0.1;
    tsr_bandit *b = NULL;
    assert_int_equal(tsr_bandit_new(&o, &b, NULL), TSR_OK);
    tsr_rng g;
    tsr_rng_seed(&g, 3, 0);
    double x[TSR_BANDIT_PROFILE_DIM];
    tsr_bandit_profile_features(3, 10, 20, 50, 0.8, 200, x);
    for (int t = 0; t < 200; t++) assert_int_equal(tsr_bandit_update(b, 1, x, (size_t)(t % 4), t % 4 == 2, NULL), TSR_OK);
    unsigned char el[4] = {1, 0, 1, 1};
    double p[4];
    assert_int_equal(tsr_bandit_probs(b, 1, x, el, &g, p, NULL), TSR_OK);
    assert_near(p[0] + p[1] + p[2] + p[3], 1, 1e-12);
    assert_near(p[1], 0, 0);
    for (int k = 0; k < 4; k++)
      if (el[k]) assert_true(p[k] >= 0.1 / 3 - 1e-12); /* the exploration floor */
    if (pol != TSR_BANDIT_UNIFORM) assert_true(p[2] > 0.5); /* arm 2 always paid */
    size_t arm;
    double prop;
    for (int t = 0; t < 50; t++) {
      assert_int_equal(tsr_bandit_choose(b, 1, x, el, &g, &arm, &prop, NULL), TSR_OK);
      assert_true(arm != 1);
      assert_true(prop > 0 && prop <= 1);
    }
    unsigned char none[4] = {0, 0, 0, 0};
    tsr_error e;
    assert_int_equal(tsr_bandit_choose(b, 1, x, none, &g, &arm, &prop, &e), TSR_ENOTFOUND);
    assert_string_equal(e.msg, "no eligible offer");
    assert_int_equal(tsr_bandit_update(b, 0, x, 0, 2, &e), TSR_EINVAL);
    assert_string_equal(e.msg, "expected 0 or 1, got 2");
    assert_int_equal(tsr_bandit_update(b, 0, x, 9, 1, &e), TSR_EINVAL);
    tsr_bandit_free(b);
  }
}

/* Thompson's pi is cached per segment and eligible set: alternating sets in
 * one segment each get their own (repeated exactly, never the other set's),
 * and a reward in the segment recomputes them. */
static void test_thompson_cache(void **state) {
  (void)state;
  tsr_bandit_opts o;
  tsr_bandit_opts_init(&o);
  o.n_arms = 3;
  o.n_segments = 2;
  tsr_bandit *b = NULL;
  assert_int_equal(tsr_bandit_new(&o, &b, NULL), TSR_OK);
  tsr_rng g;
  tsr_rng_seed(&g, 5, 0);
  for (int t = 0; t < 60; t++) assert_int_equal(tsr_bandit_update(b, 0, NULL, (size_t)(t % 3), t % 3 == 1, NULL), TSR_OK);
  unsigned char e1[3] = {1, 1, 0}, e2[3] = {1, 0, 1};
  double p1[3], p2[3], q[3];
  assert_int_equal(tsr_bandit_probs(b, 0, NULL, e1, &g, p1, NULL), TSR_OK);
  assert_int_equal(tsr_bandit_probs(b, 0, NULL, e2, &g, p2, NULL), TSR_OK);
  assert_near(p1[2], 0, 0);
  assert_near(p2[1], 0, 0);
  assert_true(p1[1] > 0.9); /* arm 1 always paid */
  for (int t = 0; t < 5; t++) {
    assert_int_equal(tsr_bandit_probs(b, 0, NULL, e1, &g, q, NULL), TSR_OK);
    assert_memory_equal(q, p1, sizeof q);
    assert_int_equal(tsr_bandit_probs(b, 0, NULL, e2, &g, q, NULL), TSR_OK);
    assert_memory_equal(q, p2, sizeof q);
  }
  /* segment 1 has its own posterior (flat: arm 1 near 1/2 of e1) */
  assert_int_equal(tsr_bandit_probs(b, 1, NULL, e1, &g, q, NULL), TSR_OK);
  assert_true(q[1] < 0.8);
  /* arm 0 starts paying, arm 1 stops (100 rewards each): arm 0 is preferred */
  for (int t = 0; t < 100; t++) {
    assert_int_equal(tsr_bandit_update(b, 0, NULL, 0, 1, NULL), TSR_OK);
    assert_int_equal(tsr_bandit_update(b, 0, NULL, 1, 0, NULL), TSR_OK);
  }
  assert_int_equal(tsr_bandit_probs(b, 0, NULL, e1, &g, q, NULL), TSR_OK);
  assert_true(q[0] > 0.9);
  tsr_bandit_free(b);
}

/* A bandit grown from 2 to 5 segments keeps the state of the first two
 * (means equal to a bandit made with 5 and fed the same rewards), starts
 * the new ones at the prior (Beta(1,1): mean 1/2), learns in them, and
 * refuses to shrink or to exceed the maximum. */
static void test_grow_segments(void **state) {
  (void)state;
  tsr_bandit_opts o;
  tsr_bandit_opts_init(&o);
  o.n_arms = 3;
  o.n_segments = 2;
  tsr_bandit *b = NULL, *ref = NULL;
  assert_int_equal(tsr_bandit_new(&o, &b, NULL), TSR_OK);
  o.n_segments = 5;
  assert_int_equal(tsr_bandit_new(&o, &ref, NULL), TSR_OK);
  for (int t = 0; t < 40; t++) {
    size_t seg = (size_t)(t % 2), arm = (size_t)(t % 3);
    double r = (t % 5) < 2;
    assert_int_equal(tsr_bandit_update(b, seg, NULL, arm, r, NULL), TSR_OK);
    assert_int_equal(tsr_bandit_update(ref, seg, NULL, arm, r, NULL), TSR_OK);
  }
  assert_int_equal(tsr_bandit_update(b, 4, NULL, 0, 1, NULL), TSR_EINVAL); /* not yet */
  assert_int_equal(tsr_bandit_grow_segments(b, 1, NULL), TSR_EINVAL);
  assert_int_equal(tsr_bandit_grow_segments(b, TSR_BANDIT_MAX_SEGMENTS + 1, NULL), TSR_EINVAL);
  assert_int_equal(tsr_bandit_grow_segments(b, 5, NULL), TSR_OK);
  assert_int_equal(tsr_bandit_get_opts(b)->n_segments, 5);
  for (size_t s = 0; s < 5; s++)
    for (size_t k = 0; k < 3; k++) assert_near(tsr_bandit_mean(b, s, NULL, k), tsr_bandit_mean(ref, s, NULL, k), 0);
  assert_near(tsr_bandit_mean(b, 4, NULL, 2), 0.5, 1e-12);
  /* segment 0, arm 0: t = 0, 6, .., 36 (7 updates), rewarded at t = 0, 6, 30, 36 */
  assert_near(tsr_bandit_mean(b, 0, NULL, 0), (1.0 + 4) / (2 + 7), 1e-12);
  for (int t = 0; t < 8; t++) assert_int_equal(tsr_bandit_update(b, 4, NULL, 2, 1, NULL), TSR_OK);
  assert_near(tsr_bandit_mean(b, 4, NULL, 2), 9.0 / 10, 1e-12);
  tsr_rng g;
  tsr_rng_seed(&g, 1, 0);
  double p[3];
  assert_int_equal(tsr_bandit_probs(b, 4, NULL, NULL, &g, p, NULL), TSR_OK);
  assert_true(p[2] > 0.8);
  tsr_bandit_free(b);
  tsr_bandit_free(ref);
}

/* Sherman-Morrison updates equal the ridge solution: x = (1,1),(1,2),(1,3),
 * r = 1,2,3, lambda 1: A = [[4,6],[6,15]], b = [6,14], theta = A^-1 b =
 * (0.25, 0.8333..), prediction at (1,1) = 1.08333.. */
static void test_ridge(void **state) {
  (void)state;
  tsr_bandit_opts o;
  tsr_bandit_opts_init(&o);
  o.policy = TSR_BANDIT_LINUCB;
  o.n_arms = 1;
  o.dim = 2;
  o.reward = TSR_REWARD_AMOUNT;
  tsr_bandit *b = NULL;
  assert_int_equal(tsr_bandit_new(&o, &b, NULL), TSR_OK);
  for (int i = 1; i <= 3; i++) {
    double x[2] = {1, i};
    assert_int_equal(tsr_bandit_update(b, 0, x, 0, i, NULL), TSR_OK);
  }
  double x1[2] = {1, 1};
  assert_near(tsr_bandit_mean(b, 0, x1, 0), 0.25 + 5.0 / 6, 1e-12);
  tsr_bandit_free(b);
}

/* Thompson sampling and LinUCB have lower regret than epsilon-greedy on the
 * simulator, and every learner beats uniform. */
static void test_regret(void **state) {
  (void)state;
  tsr_offer_sim_opts so;
  tsr_offer_sim_opts_init(&so);
  tsr_offer_sim *sim = NULL;
  assert_int_equal(tsr_offer_sim_new(&so, &sim, NULL), TSR_OK);
  double regret[TSR_BANDIT_NPOLICIES];
  for (int p = 0; p < TSR_BANDIT_NPOLICIES; p++) {
    tsr_bandit_opts o;
    tsr_bandit_opts_init(&o);
    o.policy = (tsr_bandit_policy)p;
    tsr_offer_sim_result r;
    assert_int_equal(tsr_offer_sim_run(sim, &o, 30000, 11, 0, NULL, NULL, NULL, &r, NULL), TSR_OK);
    assert_int_equal(r.steps, 30000);
    assert_true(r.regret >= 0);
    regret[p] = r.regret;
  }
  print_message("regret: uniform %.1f egreedy %.1f thompson %.1f linucb %.1f lints %.1f\n",
                regret[0], regret[1], regret[2], regret[3], regret[4]);
  assert_true(regret[TSR_BANDIT_THOMPSON] < regret[TSR_BANDIT_EGREEDY]);
  assert_true(regret[TSR_BANDIT_LINUCB] < 0.5 * regret[TSR_BANDIT_EGREEDY]);
  assert_true(regret[TSR_BANDIT_LINTS] < 0.5 * regret[TSR_BANDIT_EGREEDY]);
  assert_true(regret[TSR_BANDIT_EGREEDY] < 0.7 * regret[TSR_BANDIT_UNIFORM]);
  tsr_offer_sim_free(sim);
}

/* Off-policy evaluation: arm 1 pays 0.8, the others 0.2, uniform logging
 * (propensity 1/3). A greedy target (epsilon 0, no floor) is worth 0.8; the
 * uniform target is worth the logged mean exactly (weights 1). */
static void test_replay(void **state) {
  (void)state;
  enum { N = 6000 };
  size_t *seg = calloc(N, sizeof *seg), *arm = calloc(N, sizeof *arm);
  double *prop = calloc(N, sizeof *prop), *rew = calloc(N, sizeof *rew);
  tsr_rng g;
  tsr_rng_seed(&g, 5, 0);
  for (int i = 0; i < N; i++) {
    arm[i] = tsr_rng_bounded(&g, 3);
    prop[i] = 1.0 / 3;
    rew[i] = tsr_rng_uniform(&g) < (arm[i] == 1 ? 0.8 : 0.2);
  }
  tsr_bandit_opts o;
  tsr_bandit_opts_init(&o);
  o.n_arms = 3;
  o.policy = TSR_BANDIT_EGREEDY;
  o.epsilon = 0;
  o.min_explore = 0;
  tsr_ope_result r;
  assert_int_equal(tsr_bandit_replay(&o, N, seg, NULL, arm, prop, rew, 1, 0.05, &r, NULL), TSR_OK);
  assert_near(r.ips, 0.8, 0.04);
  assert_near(r.dr, 0.8, 0.03);
  assert_true(r.ips_lo < 0.8 && 0.8 < r.ips_hi);
  assert_true(r.dr_hi - r.dr_lo < r.ips_hi - r.ips_lo); /* DR has less variance */
  assert_near(r.ess, N / 3.0, N * 0.02);
  o.policy = TSR_BANDIT_UNIFORM;
  assert_int_equal(tsr_bandit_replay(&o, N, seg, NULL, arm, prop, rew, 1, 0.05, &r, NULL), TSR_OK);
  assert_near(r.ips, r.logged, 1e-12);
  prop[7] = 0;
  tsr_error e;
  assert_int_equal(tsr_bandit_replay(&o, N, seg, NULL, arm, prop, rew, 1, 0.05, &r, &e), TSR_EINVAL);
  assert_string_equal(e.msg, "expected a value in (0, 1], got 0");
  free(seg), free(arm), free(prop), free(rew);
}

/* Eligibility rules with the bundle's syntax (offers.csv of simulate --bundle). */
static int rule_ok(const char *text, const tsr_offer_profile *p) {
  tsr_offer_rule *r = NULL;
  assert_int_equal(tsr_offer_rule_parse(text, &r, NULL), TSR_OK);
  int v = tsr_offer_rule_eval(r, p);
  tsr_offer_rule_free(r);
  return v;
}

static void test_rules(void **state) {
  (void)state;
  tsr_offer_profile p, u;
  tsr_offer_profile_init(&p);
  tsr_offer_profile_init(&u); /* everything unknown */
  p.age = 30;
  p.risk_score = 40;
  p.digital_share = 0.2;
  p.income_band = "middle";
  p.life_stage = "family";
  p.products = "current_account;credit_card";
  assert_int_equal(rule_ok("age >= 18 and not holds credit_card", &p), 0);
  assert_int_equal(rule_ok("not holds savings_account", &p), 1);
  assert_int_equal(rule_ok("holds current_account", &p), 1);
  assert_int_equal(rule_ok("age <= 25", &p), 0);
  assert_int_equal(rule_ok("age >= 21 and risk_score <= 60", &p), 1);
  assert_int_equal(rule_ok("age >= 25 and age <= 60 and income_band in (middle, upper_middle, high)", &p), 1);
  assert_int_equal(rule_ok("income_band in (upper_middle,high)", &p), 0);
  assert_int_equal(rule_ok("life_stage = family", &p), 1);
  assert_int_equal(rule_ok("digital_share < 0.3", &p), 1);
  assert_int_equal(rule_ok("age <= 25 or digital_share < 0.1 or life_stage != student", &p), 1);
  /* unknown fields: the comparison and its not are false */
  assert_int_equal(rule_ok("age <= 25", &u), 0);
  assert_int_equal(rule_ok("not holds insurance", &u), 0);
  assert_int_equal(rule_ok("income_band in (middle, high)", &u), 0);
  assert_int_equal(rule_ok("", &u), 1);
  static const struct {
    const char *text, *msg;
    int64_t column;
  } bad[] = {{"shoe_size > 3", "unknown field 'shoe_size'", 1},
             {"income_band in (middle, high", "expected ',' or ')' in the list of income_band", 29},
             {"income_band < middle", "income_band: only =, != and in apply", 13},
             {"income_band middle", "expected an operator (= != in) after income_band", 13},
             {"age in (1, 2)", "expected an operator (< <= > >= = !=) after age", 5},
             {"not holds", "expected a product name after holds", 10},
             {"age >= 18 and not", "expected a field name, got 'end of rule'", 18}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    tsr_offer_rule *r = NULL;
    tsr_error e;
    assert_int_equal(tsr_offer_rule_parse(bad[i].text, &r, &e), TSR_EPARSE);
    assert_non_null(strstr(e.msg, bad[i].msg));
    assert_int_equal(e.column, bad[i].column);
    assert_null(r);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_probs_eligibility), cmocka_unit_test(test_thompson_cache), cmocka_unit_test(test_grow_segments),
                                     cmocka_unit_test(test_ridge),
                                     cmocka_unit_test(test_regret), cmocka_unit_test(test_replay),
                                     cmocka_unit_test(test_rules)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
