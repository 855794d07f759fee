/*
 * test_clv.c - CLV, churn, intervals and model files of tessera/btyd.h.
 */
#include "btyd_testutil.h"

#include "btyd_internal.h"

static const double BG[4] = {0.2426, 4.4137, 0.7930, 2.4262};
static const double GG[3] = {6.25, 3.74, 15.44};

static void clv_formula(void **state) {
  (void)state;
  tsr_btyd_model m, g;
  assert_ok(tsr_btyd_model_init(&m, TSR_BTYD_BGNBD, BG, NULL));
  assert_ok(tsr_btyd_model_init(&g, TSR_BTYD_GG, GG, NULL));
  double x[3] = {26, 0, 2}, tx[3] = {30.857, 0, 30.43}, T[3] = {31, 30, 38.86},
         mx[3] = {20, 0, 35};
  tsr_btyd_data d = {3, x, tx, T, mx, NULL};
  double clv[3], e, s;
  /* d = 0: CLV = E(M) * E[X(T, T+H]] whatever the step */
  tsr_clv_opts o = {52.0, 30.4375 / 7, 0.0, 0.95};
  assert_ok(tsr_clv_compute(&m, &g, &d, &o, clv, NULL, NULL, NULL));
  for (int i = 0; i < 3; i++) {
    assert_ok(tsr_btyd_conditional(&m, x[i], tx[i], T[i], 52, &e, NULL, NULL));
    assert_ok(tsr_gg_expected_spend(&g, x[i], mx[i], &s, NULL));
    assert_close(clv[i], e * s, 1e-12);
  }
  /* x = 0 gets the population mean spend */
  assert_ok(tsr_gg_expected_spend(&g, 0, 0, &s, NULL));
  assert_close(s, 6.25 * 15.44 / 2.74, 1e-12);
  /* discounting: sum of the monthly increments by hand */
  o.discount = 0.01;
  o.horizon = 3 * 30.4375 / 7;
  assert_ok(tsr_clv_compute(&m, &g, &d, &o, clv, NULL, NULL, NULL));
  double prev = 0, want = 0;
  for (int k = 1; k <= 3; k++) {
    assert_ok(tsr_btyd_conditional(&m, 26, 30.857, 31, k * o.step, &e, NULL, NULL));
    want += (e - prev) / pow(1.01, k);
    prev = e;
  }
  assert_ok(tsr_gg_expected_spend(&g, 26, 20, &s, NULL));
  assert_close(clv[0], s * want, 1e-12);
}

static void intervals(void **state) {
  (void)state;
  tu_cdnow c;
  tu_cdnow_load(&c);
  tsr_btyd_data d = {c.n, c.x, c.tx, c.T, NULL, NULL};
  tsr_btyd_model m;
  assert_ok(tsr_btyd_fit(TSR_BTYD_BGNBD, &d, NULL, &m, NULL));
  double *E = malloc(4 * c.n * sizeof *E), *LO = E + c.n, *HI = LO + c.n, *PA = HI + c.n;
  assert_ok(tsr_btyd_predict(&m, &d, 39, 0.95, E, LO, HI, PA, NULL));
  for (size_t i = 0; i < c.n; i++) {
    assert_true(LO[i] <= E[i] && E[i] <= HI[i] && LO[i] > 0);
    assert_true(PA[i] > 0 && PA[i] <= 1);
  }
  /* customer 1 (x=2, t_x=30.43, T=38.86): E = 1.226 */
  assert_close(E[0], 1.226, 1e-3);
  /* wider at a higher level; equal without covariance */
  double lo99, hi99;
  assert_ok(tsr_btyd_predict(&m, &(tsr_btyd_data){1, c.x, c.tx, c.T, NULL, NULL}, 39,
                             0.99, NULL, &lo99, &hi99, NULL, NULL));
  assert_true(lo99 < LO[0] && hi99 > HI[0]);
  m.has_cov = 0;
  assert_ok(tsr_btyd_predict(&m, &(tsr_btyd_data){1, c.x, c.tx, c.T, NULL, NULL}, 39,
                             0.95, NULL, &lo99, &hi99, NULL, NULL));
  assert_close(lo99, E[0], 0);
  /* churn */
  m.has_cov = 1;
  double share, alive, drop;
  assert_ok(tsr_btyd_churn(&m, &d, 0.5, &share, &alive, &drop, NULL));
  double n_below = 0, sa = 0;
  for (size_t i = 0; i < c.n; i++) {
    n_below += PA[i] < 0.5;
    sa += PA[i];
  }
  assert_close(share, n_below / (double)c.n, 1e-12);
  assert_close(alive, sa, 1e-9);
  assert_true(drop > 0 && drop < alive);
  free(E);
  tu_cdnow_free(&c);
}

/* tsr__bgnbd_cond_alive_many: tsr__bgnbd_cond_alive's bits at every
 * horizon: t = 0, the closed form's series (more horizons than one batch),
 * a ~ 1 and c <= 0 (quadrature), long series (z near 1: hyp2f1's own
 * route); in SIMD groups of 4 (AVX2), 2 (SSE2) and one by one (the lanes
 * stopping at different terms, an unused lane in the last group). */
static void cond_alive_many_same_bits(void **state) {
  (void)state;
  static const double as[] = {0.793, 1.00001, 1.5, 3.2, 0.3};
  static const double Bs[] = {0.5, 2.43, 31};
  static const double ks[] = {0.243, 5.2, 200};
  static const double As[] = {4.41, 40, 400};
  double t[150], got[150], want;
  for (size_t i = 0; i < 150; i++) t[i] = i == 7 ? 0 : i == 149 ? 1e7 : (double)i * 0.87;
  size_t checked = 0;
  for (size_t ia = 0; ia < 5; ia++)
    for (size_t ib = 0; ib < 3; ib++)
      for (size_t ik = 0; ik < 3; ik++)
        for (size_t iA = 0; iA < 3; iA++) {
          if (ia == 1 && ib + ik + iA > 0) continue; /* quadrature: slow, once */
          double a = as[ia], B = Bs[ib], k = ks[ik], A = As[iA];
          /* every horizon once, else 13 and the long series */
          size_t m = ia == 2 && ib == 1 && ik == 1 && iA == 1 ? 150 : 14;
          t[13] = m == 14 ? 1e7 : 13 * 0.87;
          static const size_t lanes[4] = {0, 1, 2, 4}; /* 0: the public entry */
          for (size_t il = 0; il < 4; il++) {
            int rc = lanes[il] ? tsr__bgnbd_cond_alive_many_lanes(lanes[il], a, B, k, A, t, m, got)
                               : tsr__bgnbd_cond_alive_many(a, B, k, A, t, m, got);
            int all = 0;
            for (size_t i = 0; i < m; i++) {
              int r1 = tsr__bgnbd_cond_alive(a, B, k, A, t[i], &want);
              all |= r1;
              if (!rc && !r1 && memcmp(&want, &got[i], sizeof want))
                fail_msg("lanes %zu a %g B %g k %g A %g t %g: %.17g, want %.17g", lanes[il], a, B,
                         k, A, t[i], got[i], want);
              checked += !rc && !r1;
            }
            assert_int_equal(rc, all ? -1 : 0);
          }
        }
  assert_true(checked > 4000);
}

/* The CLV of BG/NBD and MBG/NBD (the steps' expectations at once) against
 * the discounted sum of the models' P(alive) and cond_alive computed here
 * as clv.c's generic path does: the same bits, with a few steps and with
 * more than the batched path takes (the generic one). */
static void clv_bg_steps(void **state) {
  (void)state;
  tsr_btyd_model g;
  assert_ok(tsr_btyd_model_init(&g, TSR_BTYD_GG, GG, NULL));
  double x[4] = {26, 0, 2, 2}, tx[4] = {30.857, 0, 30.43, 12}, T[4] = {31, 30, 38.86, 38.86},
         mx[4] = {20, 0, 35, 17.5};
  tsr_btyd_data d = {4, x, tx, T, mx, NULL};
  static const tsr_btyd_kind kinds[2] = {TSR_BTYD_BGNBD, TSR_BTYD_MBGNBD};
  static const double hz[2] = {52, 600 * 30.4375 / 7};
  for (int q = 0; q < 2; q++)
    for (int h = 0; h < 2; h++) {
      tsr_btyd_model m;
      assert_ok(tsr_btyd_model_init(&m, kinds[q], BG, NULL));
      const tsr__btyd_spec *s = tsr__btyd_get_spec(kinds[q]);
      tsr_clv_opts o = {hz[h], 30.4375 / 7, 0.01, 0.95};
      double clv[4];
      assert_ok(tsr_clv_compute(&m, &g, &d, &o, clv, NULL, NULL, NULL));
      for (int i = 0; i < 4; i++) {
        double pa, prev = 0, sum = 0, e, sp;
        assert_int_equal(s->p_alive(BG, x[i], tx[i], T[i], &pa), 0);
        double K = ceil(o.horizon / o.step - 1e-9);
        for (double k = 1; k <= K; k++) {
          double tk = fmin(k * o.step, o.horizon);
          assert_int_equal(s->cond_alive(BG, x[i], T[i], tk, &e), 0);
          sum += (e - prev) * pow(1 + o.discount, -tk / o.step);
          prev = e;
        }
        assert_ok(tsr_gg_expected_spend(&g, x[i], mx[i], &sp, NULL));
        double want = sp * (pa * sum);
        if (memcmp(&want, &clv[i], sizeof want))
          fail_msg("kind %d K %g row %d: %.17g, want %.17g", q, K, i, clv[i], want);
      }
    }
}

static void model_files(void **state) {
  (void)state;
  tu_cdnow c;
  tu_cdnow_load(&c);
  tsr_btyd_data d = {c.n, c.x, c.tx, c.T, NULL, NULL};
  for (int k = 0; k < 3; k++) {
    tsr_btyd_kind kind = k == 0 ? TSR_BTYD_BGNBD : k == 1 ? TSR_BTYD_PNBD : TSR_BTYD_MBGNBD;
    tsr_btyd_model m, r;
    tsr_btyd_fit_opts o;
    tsr_btyd_fit_opts_init(&o);
    o.period_days = 1.0 / 3.0; /* not representable: must round-trip */
    assert_ok(tsr_btyd_fit(kind, &d, &o, &m, NULL));
    char *js;
    assert_ok(tsr_btyd_model_to_json(&m, &js, NULL));
    assert_ok(tsr_btyd_model_from_json(js, strlen(js), "m.json", &r, NULL));
    assert_int_equal(r.kind, m.kind);
    for (size_t i = 0; i < m.np; i++) {
      assert_true(r.params[i] == m.params[i]);
      assert_true(r.se[i] == m.se[i]);
      for (size_t j = 0; j < m.np; j++) assert_true(r.cov[i][j] == m.cov[i][j]);
    }
    assert_true(r.loglik == m.loglik && r.period_days == m.period_days);
    assert_true(r.n_customers == m.n_customers && r.converged == m.converged);
    assert_int_equal(r.iterations, m.iterations);
    free(js);
  }
  /* errors name the problem */
  tsr_btyd_model r;
  tsr_error err;
  const char *bad1 = "{\"format\":\"tessera-model\",\"version\":1,\"model\":\"bgnbd\","
                     "\"params\":{\"r\":1,\"alpha\":-2,\"a\":1,\"b\":1}}";
  assert_int_equal(tsr_btyd_model_from_json(bad1, strlen(bad1), "x.json", &r, &err), TSR_ERANGE);
  assert_string_equal(err.field, "alpha");
  const char *bad2 = "{\"format\":\"tessera-model\",\"version\":1,\"model\":\"pnbd\","
                     "\"params\":{\"r\":1,\"alpha\":2,\"a\":1,\"b\":1}}";
  assert_int_equal(tsr_btyd_model_from_json(bad2, strlen(bad2), "x.json", &r, &err), TSR_EPARSE);
  assert_string_equal(err.msg, "missing parameter 's'");
  assert_int_equal(tsr_btyd_model_from_json("{", 1, "x.json", &r, &err), TSR_EPARSE);
  tu_cdnow_free(&c);
}

/* A fit that cannot converge says why: max_iter = 1. */
static void no_convergence(void **state) {
  (void)state;
  tu_cdnow c;
  tu_cdnow_load(&c);
  tsr_btyd_data d = {c.n, c.x, c.tx, c.T, NULL, NULL};
  tsr_btyd_fit_opts o;
  tsr_btyd_fit_opts_init(&o);
  o.max_iter = 1;
  o.n_starts = 1;
  double x[3] = {1, 3, 0}, tx[3] = {4, 9, 0}, T[3] = {10, 20, 30};
  tsr_btyd_data d3 = {3, x, tx, T, NULL, NULL};
  tsr_btyd_model m;
  tsr_error err;
  assert_int_equal(tsr_btyd_fit(TSR_BTYD_PNBD, &d3, &o, &m, &err), TSR_ECONVERGE);
  assert_non_null(strstr(err.msg, "did not converge"));
  assert_non_null(strstr(err.msg, "try"));
  assert_false(m.converged);
  /* no repeat purchases at all: the likelihood has no interior maximum;
   * the fit says so instead of returning boundary values */
  double z[3] = {0, 0, 0};
  tsr_btyd_data dz = {3, z, z, T, NULL, NULL};
  assert_int_equal(tsr_btyd_fit(TSR_BTYD_BGNBD, &dz, NULL, &m, &err), TSR_ECONVERGE);
  assert_true(strstr(err.msg, "boundary") || strstr(err.msg, "not positive definite"));
  (void)d;
  tu_cdnow_free(&c);
}

/* Allocation failures are reported, never crash. */
static void alloc_failures(void **state) {
  (void)state;
  double x[3] = {1, 0, 2}, tx[3] = {5, 0, 7}, T[3] = {10, 20, 30};
  tsr_btyd_data d = {3, x, tx, T, NULL, NULL};
  for (long k = 0; k < 6; k++) {
    tsr_btyd_model m;
    tsr__alloc_fail_after(k);
    tsr_status st = tsr_btyd_fit(TSR_BTYD_BGNBD, &d, NULL, &m, NULL);
    tsr__alloc_fail_after(-1);
    assert_true(st == TSR_ENOMEM || st == TSR_OK || st == TSR_ECONVERGE);
  }
}

int main(void) {
  gsl_set_error_handler_off();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(clv_formula),    cmocka_unit_test(intervals),
      cmocka_unit_test(model_files),    cmocka_unit_test(no_convergence),
      cmocka_unit_test(alloc_failures), cmocka_unit_test(cond_alive_many_same_bits),
      cmocka_unit_test(clv_bg_steps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
