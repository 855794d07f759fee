/*
 * experiment.c - A/B test statistics (tessera/experiment.h): z and Welch
 * tests with intervals for the difference and the relative lift, the
 * sample-ratio mismatch check, power and sample size, CUPED and the
 * Holm / Benjamini-Hochberg corrections, and the whole-experiment driver.
 * Distributions: GSL (gsl_cdf_*), error handler off (the callers' main).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "internal.h"
#include "tessera/experiment.h"

void tsr_exp_opts_init(tsr_exp_opts *o) {
  memset(o, 0, sizeof *o);
  o->metric = TSR_EXP_RESPONDED;
  o->alpha = 0.05;
  o->power = 0.8;
  o->mde = 0.1;
  o->correction = TSR_EXP_HOLM;
  o->alloc = NULL;
  o->control = 0;
}

static int alpha_ok(double a) { return a > 0 && a < 1 && isfinite(a); }

/* Relative lift m_t/m_c - 1 with a delta-method interval: Var(m_t/m_c) ~
 * se_t^2/m_c^2 + m_t^2 se_c^2/m_c^4; q is the two-sided critical value. */
static void lift_ci(double m_t, double se_t, double m_c, double se_c, double q,
                    tsr_exp_test *o) {
  if (m_c == 0) {
    o->lift = o->lift_lo = o->lift_hi = NAN;
    return;
  }
  double r = m_t / m_c;
  double v = se_t * se_t / (m_c * m_c) + m_t * m_t * se_c * se_c / (m_c * m_c * m_c * m_c);
  o->lift = r - 1;
  o->lift_lo = r - 1 - q * sqrt(v);
  o->lift_hi = r - 1 + q * sqrt(v);
}

tsr_status tsr_exp_ztest(int64_t x_t, int64_t n_t, int64_t x_c, int64_t n_c, double alpha,
                         tsr_exp_test *out, tsr_error *err) {
  if (n_t <= 0 || n_c <= 0)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "%s group: no customers",
                         n_t <= 0 ? "treatment" : "control");
  if (x_t < 0 || x_t > n_t || x_c < 0 || x_c > n_c)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "responders: expected 0..n in each group, got %lld of %lld and %lld of %lld",
                         (long long)x_t, (long long)n_t, (long long)x_c, (long long)n_c);
  if (!alpha_ok(alpha))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "alpha", "expected a value in (0, 1), got %g", alpha);
  double pt = (double)x_t / (double)n_t, pc = (double)x_c / (double)n_c;
  double pp = (double)(x_t + x_c) / (double)(n_t + n_c);
  if (pp <= 0 || pp >= 1)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         pp <= 0 ? "no responses in either group: the test is undefined"
                                 : "every customer responded in both groups: the test is undefined");
  double q = gsl_cdf_ugaussian_Qinv(alpha / 2);
  double se0 = sqrt(pp * (1 - pp) * (1.0 / (double)n_t + 1.0 / (double)n_c));
  double se_t = sqrt(pt * (1 - pt) / (double)n_t), se_c = sqrt(pc * (1 - pc) / (double)n_c);
  memset(out, 0, sizeof *out);
  out->diff = pt - pc;
  out->se = sqrt(se_t * se_t + se_c * se_c);
  out->diff_lo = out->diff - q * out->se;
  out->diff_hi = out->diff + q * out->se;
  out->stat = out->diff / se0;
  out->df = INFINITY;
  out->p_value = 2 * gsl_cdf_ugaussian_Q(fabs(out->stat));
  lift_ci(pt, se_t, pc, se_c, q, out);
  return TSR_OK;
}

tsr_status tsr_exp_welch(double mean_t, double var_t, int64_t n_t, double mean_c, double var_c,
                         int64_t n_c, double alpha, tsr_exp_test *out, tsr_error *err) {
  if (n_t < 2 || n_c < 2)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "%s group: expected at least 2 customers for a t-test, got %lld",
                         n_t < 2 ? "treatment" : "control", (long long)(n_t < 2 ? n_t : n_c));
  if (!alpha_ok(alpha))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "alpha", "expected a value in (0, 1), got %g", alpha);
  if (!(var_t >= 0) || !(var_c >= 0) || !isfinite(mean_t) || !isfinite(mean_c))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "means and variances must be finite, variances >= 0");
  double a = var_t / (double)n_t, b = var_c / (double)n_c;
  if (a + b <= 0)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "no variation in either group: the t-test is undefined");
  memset(out, 0, sizeof *out);
  out->se = sqrt(a + b);
  out->df = (a + b) * (a + b) / (a * a / (double)(n_t - 1) + b * b / (double)(n_c - 1));
  out->diff = mean_t - mean_c;
  out->stat = out->diff / out->se;
  out->p_value = 2 * gsl_cdf_tdist_Q(fabs(out->stat), out->df);
  double q = gsl_cdf_tdist_Qinv(alpha / 2, out->df);
  out->diff_lo = out->diff - q * out->se;
  out->diff_hi = out->diff + q * out->se;
  lift_ci(mean_t, sqrt(a), mean_c, sqrt(b), q, out);
  return TSR_OK;
}

tsr_status tsr_exp_srm(const int64_t *counts, const double *frac, size_t k, double *chi2,
                       double *p, tsr_error *err) {
  if (k < 2) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "sample ratio: expected at least 2 groups, got %zu", k);
  double total = 0, fs = 0;
  for (size_t i = 0; i < k; i++) {
    if (counts[i] < 0) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "sample ratio: negative count");
    total += (double)counts[i];
    if (frac) {
      if (!(frac[i] > 0)) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "alloc", "expected shares > 0, got %g", frac[i]);
      fs += frac[i];
    }
  }
  if (frac && fabs(fs - 1) > 1e-6)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "alloc", "expected shares summing to 1, got %g", fs);
  if (total <= 0) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "sample ratio: no customers");
  double c = 0;
  for (size_t i = 0; i < k; i++) {
    double e = total * (frac ? frac[i] : 1.0 / (double)k);
    double d = (double)counts[i] - e;
    c += d * d / e;
  }
  *chi2 = c;
  *p = gsl_cdf_chisq_Q(c, (double)(k - 1));
  return TSR_OK;
}

double tsr_exp_power_prop(double p_c, double p_t, double n_t, double n_c, double alpha) {
  if (!(p_c >= 0 && p_c <= 1 && p_t >= 0 && p_t <= 1 && n_t > 0 && n_c > 0) || !alpha_ok(alpha))
    return NAN;
  double se = sqrt(p_c * (1 - p_c) / n_c + p_t * (1 - p_t) / n_t);
  if (se <= 0) return NAN;
  double za = gsl_cdf_ugaussian_Qinv(alpha / 2), d = fabs(p_t - p_c) / se;
  return gsl_cdf_ugaussian_P(d - za) + gsl_cdf_ugaussian_P(-d - za);
}

double tsr_exp_sample_size_prop(double p_c, double p_t, double alpha, double power) {
  if (!(p_c > 0 && p_c < 1 && p_t > 0 && p_t < 1) || p_c == p_t || !alpha_ok(alpha) ||
      !(power > 0 && power < 1))
    return 0;
  double z = gsl_cdf_ugaussian_Qinv(alpha / 2) + gsl_cdf_ugaussian_Pinv(power);
  double d = p_t - p_c;
  return ceil(z * z * (p_c * (1 - p_c) + p_t * (1 - p_t)) / (d * d));
}

double tsr_exp_sample_size_mean(double sd, double delta, double alpha, double power) {
  if (!(sd > 0) || delta == 0 || !isfinite(delta) || !alpha_ok(alpha) || !(power > 0 && power < 1))
    return 0;
  double z = gsl_cdf_ugaussian_Qinv(alpha / 2) + gsl_cdf_ugaussian_Pinv(power);
  return ceil(2 * z * z * sd * sd / (delta * delta));
}

typedef struct pidx {
  double p;
  size_t i;
} pidx;

static int cmp_pidx(const void *a, const void *b) {
  const pidx *x = a, *y = b;
  if (x->p < y->p) return -1;
  if (x->p > y->p) return 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

tsr_status tsr_exp_adjust(const double *p, size_t k, tsr_exp_correction how, double *adj,
                          tsr_error *err) {
  if (k == 0) return TSR_OK;
  pidx *s = tsr__malloc(k * sizeof *s);
  if (!s) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  for (size_t i = 0; i < k; i++) {
    if (!(p[i] >= 0 && p[i] <= 1)) {
      tsr__free(s);
      return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "p-value %zu: expected a value in [0, 1], got %g", i + 1, p[i]);
    }
    s[i].p = p[i];
    s[i].i = i;
  }
  qsort(s, k, sizeof *s, cmp_pidx);
  if (how == TSR_EXP_HOLM) {
    double run = 0; /* step-down: running maximum of (k - j) p_(j) */
    for (size_t j = 0; j < k; j++) {
      double v = fmin(1.0, (double)(k - j) * s[j].p);
      if (v > run) run = v;
      adj[s[j].i] = run;
    }
  } else if (how == TSR_EXP_BH) {
    double run = 1; /* step-up: running minimum of k/j p_(j) from the top */
    for (size_t j = k; j-- > 0;) {
      double v = fmin(1.0, (double)k / (double)(j + 1) * s[j].p);
      if (v < run) run = v;
      adj[s[j].i] = run;
    }
  } else {
    for (size_t j = 0; j < k; j++) adj[s[j].i] = s[j].p;
  }
  tsr__free(s);
  return TSR_OK;
}

tsr_status tsr_exp_cuped(const double *y, const double *x, size_t n, double *y_adj,
                         double *theta, double *rho, tsr_error *err) {
  if (n < 2) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "cuped: expected at least 2 customers, got %zu", n);
  double mx = 0, my = 0;
  for (size_t i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= (double)n;
  my /= (double)n;
  double sxx = 0, sxy = 0, syy = 0;
  for (size_t i = 0; i < n; i++) {
    double dx = x[i] - mx, dy = y[i] - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (!isfinite(sxx) || !isfinite(sxy))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "cuped: non-finite covariate");
  double th = sxx > 0 ? sxy / sxx : 0;
  *theta = th;
  *rho = sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : 0;
  for (size_t i = 0; i < n; i++) y_adj[i] = y[i] - th * (x[i] - mx);
  return TSR_OK;
}

/* ------------------------------------------------------------ driver */

void tsr_exp_result_free(tsr_exp_result *r) {
  if (!r) return;
  tsr__free(r->groups);
  tsr__free(r->cmps);
  tsr__free(r->seg);
  tsr__free(r);
}

/* Welford accumulation of one group. */
typedef struct acc {
  int64_t n, pos;
  double mean, m2, mean_adj;
} acc;

static void acc_add(acc *a, double y) {
  a->n++;
  if (y > 0) a->pos++;
  double d = y - a->mean;
  a->mean += d / (double)a->n;
  a->m2 += d * (y - a->mean);
}
static double acc_var(const acc *a) { return a->n > 1 ? a->m2 / (double)(a->n - 1) : 0; }

/* The test of metric between accumulators t and c. */
static tsr_status test_pair(const tsr_exp_opts *o, const acc *t, const acc *c, int force_welch,
                            tsr_exp_test *out, tsr_error *err) {
  if (o->metric == TSR_EXP_RESPONDED && !force_welch)
    return tsr_exp_ztest(t->pos, t->n, c->pos, c->n, o->alpha, out, err);
  return tsr_exp_welch(t->mean, acc_var(t), t->n, c->mean, acc_var(c), c->n, o->alpha, out, err);
}

tsr_status tsr_exp_analyze(const int *group, const double *y, const double *x,
                           const int *segment, size_t n, size_t n_groups, size_t n_segments,
                           const tsr_exp_opts *opts, tsr_exp_result **out, tsr_error *err) {
  tsr_exp_opts o;
  if (opts) o = *opts;
  else tsr_exp_opts_init(&o);
  *out = NULL;
  if (n_groups < 2)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "group",
                         "expected at least 2 groups (a control and a treatment), got %zu", n_groups);
  if (o.control < 0 || (size_t)o.control >= n_groups)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "control", "expected a group index in [0, %zu), got %d", n_groups, o.control);
  if (!alpha_ok(o.alpha) || o.alpha > 0.5)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "alpha", "expected a value in (0, 0.5], got %g", o.alpha);
  if (!(o.power > 0.5 && o.power < 1))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "power", "expected a value in (0.5, 1), got %g", o.power);
  if (!(o.mde > 0 && isfinite(o.mde)))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "mde", "expected a relative effect > 0, got %g", o.mde);
  if (!segment) n_segments = 0;
  tsr_status st = TSR_ENOMEM;
  tsr_exp_result *r = tsr__calloc(1, sizeof *r);
  acc *ga = tsr__calloc(n_groups * (1 + n_segments), sizeof *ga);
  acc *gadj = tsr__calloc(n_groups, sizeof *gadj);
  double *yadj = x ? tsr__malloc((n ? n : 1) * sizeof *yadj) : NULL;
  if (!r || !ga || !gadj || (x && !yadj)) goto fail;
  r->n_groups = n_groups;
  r->n_segments = n_segments;
  r->has_x = x != NULL;
  for (size_t i = 0; i < n; i++) {
    if (group[i] < 0 || (size_t)group[i] >= n_groups || !isfinite(y[i]) ||
        (segment && (segment[i] < 0 || (size_t)segment[i] >= n_segments)) ||
        (x && !isfinite(x[i]))) {
      st = tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "unit %zu: group, value or segment out of range", i + 1);
      goto fail;
    }
    if (o.metric == TSR_EXP_RESPONDED && y[i] != 0 && y[i] != 1) {
      st = tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "responded", "expected 0 or 1, got %g", y[i]);
      goto fail;
    }
    acc_add(&ga[group[i]], y[i]);
    if (segment) acc_add(&ga[n_groups * (1 + (size_t)segment[i]) + (size_t)group[i]], y[i]);
  }
  for (size_t g = 0; g < n_groups; g++)
    if (ga[g].n == 0) {
      st = tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "group", "group %zu: no customers", g);
      goto fail;
    }
  if (x) {
    if ((st = tsr_exp_cuped(y, x, n, yadj, &r->cuped_theta, &r->cuped_rho, err))) goto fail;
    for (size_t i = 0; i < n; i++) acc_add(&gadj[group[i]], yadj[i]);
  }
  st = TSR_ENOMEM;
  r->groups = tsr__calloc(n_groups, sizeof *r->groups);
  r->cmps = tsr__calloc(n_groups - 1, sizeof *r->cmps);
  if (!r->groups || !r->cmps) goto fail;
  int64_t *cnt = tsr__malloc(n_groups * sizeof *cnt);
  if (!cnt) goto fail;
  for (size_t g = 0; g < n_groups; g++) {
    tsr_exp_group *G = &r->groups[g];
    G->n = ga[g].n;
    G->responders = ga[g].pos;
    G->mean = ga[g].mean;
    G->var = acc_var(&ga[g]);
    G->mean_adj = x ? gadj[g].mean : G->mean;
    cnt[g] = G->n;
  }
  st = tsr_exp_srm(cnt, o.alloc, n_groups, &r->srm_chi2, &r->srm_p, err);
  tsr__free(cnt);
  if (st) goto fail;
  const acc *c = &ga[o.control];
  double za = gsl_cdf_ugaussian_Qinv(o.alpha / 2);
  size_t k = 0;
  for (size_t g = 0; g < n_groups; g++) {
    if ((int)g == o.control) continue;
    tsr_exp_cmp *C = &r->cmps[k++];
    C->group = (int)g;
    tsr_error e;
    tsr_error_clear(&e);
    C->ok = test_pair(&o, &ga[g], c, 0, &C->test, &e) == TSR_OK;
    if (!C->ok) snprintf(C->note, sizeof C->note, "%.150s", e.msg);
    if (x && C->ok) {
      acc ct = gadj[g], cc = gadj[o.control];
      if (tsr_exp_welch(ct.mean, acc_var(&ct), ct.n, cc.mean, acc_var(&cc), cc.n, o.alpha, &C->cuped, NULL))
        C->cuped.p_value = NAN;
    }
    if (o.metric == TSR_EXP_RESPONDED) {
      double pc = c->n ? (double)c->pos / (double)c->n : 0, pt = pc * (1 + o.mde);
      C->power = pt < 1 ? tsr_exp_power_prop(pc, pt, (double)ga[g].n, (double)c->n, o.alpha) : NAN;
      C->n_needed = pt < 1 ? tsr_exp_sample_size_prop(pc, pt, o.alpha, o.power) : 0;
    } else {
      double sd = sqrt(acc_var(c)), delta = o.mde * c->mean;
      double se = sqrt(acc_var(c) / (double)c->n + acc_var(&ga[g]) / (double)ga[g].n);
      C->power = se > 0 && delta != 0
                     ? gsl_cdf_ugaussian_P(fabs(delta) / se - za) + gsl_cdf_ugaussian_P(-fabs(delta) / se - za)
                     : NAN;
      C->n_needed = tsr_exp_sample_size_mean(sd, delta, o.alpha, o.power);
    }
  }
  if (n_segments) {
    st = TSR_ENOMEM;
    r->seg = tsr__calloc(n_segments * (n_groups - 1), sizeof *r->seg);
    double *pv = tsr__malloc(n_segments * n_groups * sizeof *pv);
    size_t *pi = tsr__malloc(n_segments * n_groups * sizeof *pi);
    if (!r->seg || !pv || !pi) {
      tsr__free(pv);
      tsr__free(pi);
      goto fail;
    }
    size_t m = 0, np = 0;
    for (size_t s = 0; s < n_segments; s++) {
      const acc *sc = &ga[n_groups * (1 + s) + (size_t)o.control];
      for (size_t g = 0; g < n_groups; g++) {
        if ((int)g == o.control) continue;
        const acc *stt = &ga[n_groups * (1 + s) + g];
        tsr_exp_segment_cmp *S = &r->seg[m++];
        S->segment = (int)s;
        S->group = (int)g;
        S->n_t = stt->n;
        S->n_c = sc->n;
        S->mean_t = stt->mean;
        S->mean_c = sc->mean;
        S->p_adj = NAN;
        S->ok = stt->n > 0 && sc->n > 0 && test_pair(&o, stt, sc, 0, &S->test, NULL) == TSR_OK;
        if (!S->ok) S->test.p_value = NAN;
        else {
          pv[np] = S->test.p_value;
          pi[np++] = m - 1;
        }
      }
    }
    r->n_seg_cmps = m;
    st = tsr_exp_adjust(pv, np, o.correction, pv, err);
    for (size_t j = 0; st == TSR_OK && j < np; j++) r->seg[pi[j]].p_adj = pv[j];
    tsr__free(pv);
    tsr__free(pi);
    if (st) goto fail;
  }
  tsr__free(ga);
  tsr__free(gadj);
  tsr__free(yadj);
  *out = r;
  return TSR_OK;
fail:
  if (st == TSR_ENOMEM && err && err->code != TSR_ENOMEM) tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  tsr__free(ga);
  tsr__free(gadj);
  tsr__free(yadj);
  tsr_exp_result_free(r);
  return st;
}
