/*
 * optim.c - unconstrained minimisation for the model fits: GSL's BFGS2
 * (gsl_multimin_fdfminimizer_vector_bfgs2) with analytic gradients, then a
 * few Newton steps on the Hessian obtained by central differences of the
 * analytic gradient (which also gives the standard errors).
 *
 * BFGS gives up once its iterates have stayed beyond TSR__BTYD_LOG_BOUND
 * for TSR__MIN_EDGE_ITERS iterations (a fit running to the edge of the
 * parameter space, which fails the identification check anyway).
 *
 * Role: the objective -> optimiser seam of lib/btyd/btyd.c (cjlin1/liblinear
 * newton.h habit). Parameters are unconstrained (log of the model's
 * positive parameters).
 */
#include "btyd_internal.h"

#include <math.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_vector.h>

/* Adapters from the tsr__objective to GSL's function triple. A failed
 * evaluation returns a huge value so that the line search backs off. */
static double gsl_f(const gsl_vector *v, void *params) {
  const tsr__objective *o = params;
  double f;
  if (o->fdf(v->data, o->ctx, &f, NULL) || !isfinite(f)) return 1e300;
  return f;
}

static void gsl_df(const gsl_vector *v, void *params, gsl_vector *g) {
  const tsr__objective *o = params;
  double f;
  if (o->fdf(v->data, o->ctx, &f, g->data) || !isfinite(f)) {
    for (size_t i = 0; i < o->n; i++) gsl_vector_set(g, i, 0.0);
  }
}

static void gsl_fdf(const gsl_vector *v, void *params, double *f,
                    gsl_vector *g) {
  const tsr__objective *o = params;
  if (o->fdf(v->data, o->ctx, f, g->data) || !isfinite(*f)) {
    *f = 1e300;
    for (size_t i = 0; i < o->n; i++) gsl_vector_set(g, i, 0.0);
  }
}

/* Consecutive BFGS iterations with a parameter beyond the bound after
 * which tsr__minimize gives up. */
#define TSR__MIN_EDGE_ITERS 10

static int beyond_bound(const double *theta, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (fabs(theta[i]) > TSR__BTYD_LOG_BOUND) return 1;
  return 0;
}

static double norm2(const double *g, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += g[i] * g[i];
  return sqrt(s);
}

int tsr__spd_inverse(size_t n, const double *A, double *Ainv) {
  double L[TSR_BTYD_MAXP * TSR_BTYD_MAXP * 4];
  if (n > 2 * TSR_BTYD_MAXP) return -1;
  memset(L, 0, sizeof L);
  /* Cholesky A = L L^T */
  for (size_t j = 0; j < n; j++) {
    double s = A[j * n + j];
    for (size_t k = 0; k < j; k++) s -= L[j * n + k] * L[j * n + k];
    if (!(s > 0) || !isfinite(s)) return -1;
    L[j * n + j] = sqrt(s);
    for (size_t i = j + 1; i < n; i++) {
      double t = A[i * n + j];
      for (size_t k = 0; k < j; k++) t -= L[i * n + k] * L[j * n + k];
      L[i * n + j] = t / L[j * n + j];
    }
  }
  /* columns of A^{-1}: solve L y = e_c, L^T x = y */
  for (size_t c = 0; c < n; c++) {
    double y[2 * TSR_BTYD_MAXP], x[2 * TSR_BTYD_MAXP];
    for (size_t i = 0; i < n; i++) {
      double t = (i == c) ? 1.0 : 0.0;
      for (size_t k = 0; k < i; k++) t -= L[i * n + k] * y[k];
      y[i] = t / L[i * n + i];
    }
    for (size_t ii = n; ii-- > 0;) {
      double t = y[ii];
      for (size_t k = ii + 1; k < n; k++) t -= L[k * n + ii] * x[k];
      x[ii] = t / L[ii * n + ii];
    }
    for (size_t i = 0; i < n; i++) Ainv[i * n + c] = x[i];
  }
  for (size_t i = 0; i < n * n; i++)
    if (!isfinite(Ainv[i])) return -1;
  return 0;
}

int tsr__hessian(const tsr__objective *o, const double *theta,
                 const double *g0, double *H) {
  size_t n = o->n;
  double tp[2 * TSR_BTYD_MAXP], gp[2 * TSR_BTYD_MAXP], gb[2 * TSR_BTYD_MAXP];
  double f;
  if (n > 2 * TSR_BTYD_MAXP) return -1;
  if (o->fdh && o->fdh(theta, o->ctx, &f, gb, H) == 0 && isfinite(f)) {
    int ok = 1;
    for (size_t i = 0; i < n * n; i++) ok &= isfinite(H[i]) != 0;
    if (ok) return 0;
  }
  /* no analytic Hessian, or none here (Pareto/NBD's integral path) */
  if (!g0) {
    if (o->fdf(theta, o->ctx, &f, gb) || !isfinite(f)) return -1;
    g0 = gb;
  }
  /* forward differences of the analytic gradient: n evaluations; the
   * truncation error (~h) and rounding (~1e-15/h) stay near 1e-6 */
  for (size_t j = 0; j < n; j++) {
    double h = 1e-6 * fmax(1.0, fabs(theta[j]));
    memcpy(tp, theta, n * sizeof *tp);
    tp[j] = theta[j] + h;
    h = tp[j] - theta[j]; /* the step actually taken */
    if (o->fdf(tp, o->ctx, &f, gp) || !isfinite(f)) return -1;
    for (size_t i = 0; i < n; i++) H[i * n + j] = (gp[i] - g0[i]) / h;
  }
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++) {
      double m = 0.5 * (H[i * n + j] + H[j * n + i]);
      H[i * n + j] = H[j * n + i] = m;
    }
  for (size_t i = 0; i < n * n; i++)
    if (!isfinite(H[i])) return -1;
  return 0;
}

/* Newton steps with backtracking from theta; keeps a step only when it
 * lowers the gradient norm without raising f (beyond rounding). With an
 * analytic Hessian (o->fdh) every trial point is evaluated with its
 * Hessian, so a step costs one pass over the data. Without one, the
 * Hessian from differences of the gradient (n passes) is carried to the
 * next point by the BFGS secant update (the exact Hessian plus the
 * curvature seen along the step: superlinear from a near start, one pass a
 * step); it is recomputed when an updated one fails a step. Returns the
 * number of steps taken. */
static int newton_polish(const tsr__objective *o, double *theta, double *f,
                         double *g, int steps, double grad_tol) {
  size_t n = o->n;
  double H[4 * TSR_BTYD_MAXP * TSR_BTYD_MAXP], Hi[4 * TSR_BTYD_MAXP * TSR_BTYD_MAXP];
  double Hn[4 * TSR_BTYD_MAXP * TSR_BTYD_MAXP];
  double tn[2 * TSR_BTYD_MAXP], gn[2 * TSR_BTYD_MAXP], fn;
  int s, haveH = 0, updated = 0;
  for (s = 0; s < steps && norm2(g, n) > grad_tol; s++) {
    if (!haveH) {
      if (tsr__hessian(o, theta, g, H)) return s;
      updated = 0;
    }
    haveH = 0;
    if (tsr__spd_inverse(n, H, Hi)) {
      if (!updated) return s;
      s--; /* retry with the exact Hessian */
      continue;
    }
    double gn0 = norm2(g, n);
    int ok = 0;
    for (double lam = 1.0; lam > 1e-3; lam *= 0.5) {
      for (size_t i = 0; i < n; i++) {
        double d = 0;
        for (size_t j = 0; j < n; j++) d -= Hi[i * n + j] * g[j];
        tn[i] = theta[i] + lam * d;
      }
      if ((o->fdh ? o->fdh(tn, o->ctx, &fn, gn, Hn) : o->fdf(tn, o->ctx, &fn, gn)) ||
          !isfinite(fn))
        continue;
      if (fn <= *f + 1e-13 * fabs(*f) && norm2(gn, n) < gn0) {
        ok = 1;
        break;
      }
    }
    if (!ok) {
      if (!updated) return s;
      s--; /* retry with the exact Hessian */
      continue;
    }
    if (o->fdh) {
      haveH = 1;
      for (size_t i = 0; i < n * n; i++) haveH &= isfinite(Hn[i]) != 0;
      memcpy(H, Hn, n * n * sizeof *H);
    } else {
      /* BFGS: H += y y'/(y's) - (H d)(H d)'/(d'H d), d = step, y = change of g */
      double d[2 * TSR_BTYD_MAXP], y[2 * TSR_BTYD_MAXP], Hd[2 * TSR_BTYD_MAXP];
      double ys = 0, dHd = 0;
      for (size_t i = 0; i < n; i++) d[i] = tn[i] - theta[i], y[i] = gn[i] - g[i];
      for (size_t i = 0; i < n; i++) {
        Hd[i] = 0;
        for (size_t j = 0; j < n; j++) Hd[i] += H[i * n + j] * d[j];
        ys += y[i] * d[i];
        dHd += d[i] * Hd[i];
      }
      if (ys > 0 && dHd > 0) {
        for (size_t i = 0; i < n; i++)
          for (size_t j = 0; j < n; j++) H[i * n + j] += y[i] * y[j] / ys - Hd[i] * Hd[j] / dHd;
        haveH = updated = 1;
      }
    }
    memcpy(theta, tn, n * sizeof *theta);
    memcpy(g, gn, n * sizeof *g);
    *f = fn;
  }
  return s;
}

/* Damped Newton on an analytic Hessian (o->fdh) from any start: the step
 * solves (H + mu I) d = -g, mu = 0 where H is positive definite, else
 * raised until the Cholesky succeeds (a step between Newton's and steepest
 * descent); steps longer than 3 log units are shortened; Armijo
 * backtracking on f. One pass over the data per trial point. Returns 1
 * when the gradient norm reached grad_tol, 0 otherwise (theta, f, g: the
 * best point reached). Starts from f, g and H0 at theta. */
static int newton_damped(const tsr__objective *o, double *theta, double *f,
                         double *g, const double *H0, int max_steps, double grad_tol,
                         int *steps) {
  size_t n = o->n;
  double H[4 * TSR_BTYD_MAXP * TSR_BTYD_MAXP], A[4 * TSR_BTYD_MAXP * TSR_BTYD_MAXP],
      Ai[4 * TSR_BTYD_MAXP * TSR_BTYD_MAXP], Hn[4 * TSR_BTYD_MAXP * TSR_BTYD_MAXP];
  double tn[2 * TSR_BTYD_MAXP], gn[2 * TSR_BTYD_MAXP], d[2 * TSR_BTYD_MAXP], fn;
  memcpy(H, H0, n * n * sizeof *H);
  for (*steps = 0; *steps < max_steps; ++*steps) {
    if (norm2(g, n) <= grad_tol) return 1;
    double dmax = 0, mu = 0;
    for (size_t i = 0; i < n; i++) dmax = fmax(dmax, fabs(H[i * n + i]));
    if (!(dmax > 0) || !isfinite(dmax)) dmax = 1;
    for (int tries = 0;; tries++) {
      memcpy(A, H, n * n * sizeof *A);
      for (size_t i = 0; i < n; i++) A[i * n + i] += mu;
      if (tsr__spd_inverse(n, A, Ai) == 0) break;
      if (tries > 40) return 0;
      mu = mu > 0 ? 4 * mu : 1e-6 * dmax;
    }
    double len = 0, slope = 0;
    for (size_t i = 0; i < n; i++) {
      d[i] = 0;
      for (size_t j = 0; j < n; j++) d[i] -= Ai[i * n + j] * g[j];
      len = fmax(len, fabs(d[i]));
      slope += d[i] * g[i];
    }
    if (!(slope < 0)) return 0;
    double lam = len > 3 ? 3 / len : 1.0;
    /* The Newton decrement -slope is the decrease left to gain. Once it is
     * at the rounding level of f, the gradient cannot shrink further (on
     * hundreds of thousands of patterns its floor is about 1e-7, above
     * grad_tol): the point is the optimum, and backtracking is cut short.
     * A step must lower f strictly (f + 1e-4 lam slope rounds to f for
     * tiny lam, which accepted zero-length steps until max_steps). */
    const int at_floor = -slope <= 1e-12 * fmax(1, fabs(*f));
    int ok = 0;
    for (; lam > (at_floor ? 1e-3 : 1e-10); lam *= 0.5) {
      for (size_t i = 0; i < n; i++) tn[i] = theta[i] + lam * d[i];
      if (o->fdh(tn, o->ctx, &fn, gn, Hn) || !isfinite(fn)) continue;
      if (fn <= *f + 1e-4 * lam * slope && fn < *f) {
        ok = 1;
        break;
      }
    }
    if (!ok) return at_floor;
    memcpy(theta, tn, n * sizeof *theta);
    memcpy(g, gn, n * sizeof *g);
    memcpy(H, Hn, n * n * sizeof *H);
    *f = fn;
  }
  return norm2(g, n) <= grad_tol;
}

tsr_status tsr__minimize(const tsr__objective *o, double grad_tol,
                         int max_iter, int mode, double *theta,
                         tsr__min_result *res) {
  size_t n = o->n;
  gsl_multimin_function_fdf fn;
  double f, g[2 * TSR_BTYD_MAXP];
  int polish = mode != TSR__MIN_BFGS;
  memset(res, 0, sizeof *res);
  res->why = "";
  if (n == 0 || n > 2 * TSR_BTYD_MAXP) return TSR_EINVAL;
  /* damped Newton starts from the Hessian at theta: one pass gives f and g
   * as well (the gradient-only pass is for the other modes, or when the
   * Hessian is not finite there) */
  double H0[4 * TSR_BTYD_MAXP * TSR_BTYD_MAXP];
  const int have_h0 = mode == TSR__MIN_NEWTON_FIRST && o->fdh &&
                      o->fdh(theta, o->ctx, &f, g, H0) == 0 && isfinite(f);
  if (!have_h0 && (o->fdf(theta, o->ctx, &f, g) || !isfinite(f))) {
    res->f = INFINITY;
    res->why = "the log-likelihood is not finite at the starting point";
    return TSR_OK;
  }
  if (have_h0) {
    double th0[2 * TSR_BTYD_MAXP], f0 = f, g0[2 * TSR_BTYD_MAXP];
    int k = 0;
    memcpy(th0, theta, n * sizeof *th0);
    memcpy(g0, g, n * sizeof *g0);
    if (newton_damped(o, theta, &f, g, H0, 100, grad_tol, &k)) {
      res->f = f;
      res->gnorm = norm2(g, n);
      res->iterations = k;
      res->converged = 1;
      return TSR_OK;
    }
    /* BFGS from the start, as without a Hessian: where damped Newton
     * failed it may have ended in a region where the objective is costly
     * (Pareto/NBD's integral path: 13x slower on customers who never
     * repeat) */
    memcpy(theta, th0, n * sizeof *th0);
    memcpy(g, g0, n * sizeof *g0);
    f = f0;
  } else if (mode == TSR__MIN_NEWTON_FIRST && !o->fdh) {
    /* near the optimum Newton converges in a few steps */
    double th0[2 * TSR_BTYD_MAXP], f0 = f, g0[2 * TSR_BTYD_MAXP];
    memcpy(th0, theta, n * sizeof *th0);
    memcpy(g0, g, n * sizeof *g0);
    int k = newton_polish(o, theta, &f, g, 10, grad_tol);
    if (norm2(g, n) <= grad_tol) {
      res->f = f;
      res->gnorm = norm2(g, n);
      res->iterations = k;
      res->converged = 1;
      return TSR_OK;
    }
    if (!(f <= f0)) {
      memcpy(theta, th0, n * sizeof *th0);
      memcpy(g, g0, n * sizeof *g0);
      f = f0;
    }
  }
  fn.n = n;
  fn.f = gsl_f;
  fn.df = gsl_df;
  fn.fdf = gsl_fdf;
  fn.params = (void *)o;
  gsl_vector *x = gsl_vector_alloc(n);
  gsl_multimin_fdfminimizer *s =
      gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2, n);
  if (!x || !s) {
    if (x) gsl_vector_free(x);
    if (s) gsl_multimin_fdfminimizer_free(s);
    return TSR_ENOMEM;
  }
  memcpy(x->data, theta, n * sizeof *theta);
  /* first step 0.1 in log-parameter units; line search tolerance 0.1 */
  if (gsl_multimin_fdfminimizer_set(s, &fn, x, 0.1, 0.1) != GSL_SUCCESS) {
    gsl_vector_free(x);
    gsl_multimin_fdfminimizer_free(s);
    res->f = INFINITY;
    res->why = "the optimiser could not start";
    return TSR_OK;
  }
  int iter = 0, status = GSL_CONTINUE, out = 0, edge = 0;
  while (iter < max_iter) {
    iter++;
    status = gsl_multimin_fdfminimizer_iterate(s);
    if (status != GSL_SUCCESS) break; /* GSL_ENOPROG: no further progress */
    status = gsl_multimin_test_gradient(s->gradient, grad_tol);
    if (status == GSL_SUCCESS) break;
    /* a fit whose iterates stay beyond TSR__BTYD_LOG_BOUND is running to
     * the edge of the parameter space (no maximum there: the fit fails
     * the identification check anyway): stop instead of pressing on
     * against the objective's wall at |theta| = 40 */
    out = beyond_bound(s->x->data, n) ? out + 1 : 0;
    if (out >= TSR__MIN_EDGE_ITERS) {
      edge = 1;
      break;
    }
  }
  memcpy(theta, s->x->data, n * sizeof *theta);
  gsl_vector_free(x);
  gsl_multimin_fdfminimizer_free(s);
  if (o->fdf(theta, o->ctx, &f, g) || !isfinite(f)) {
    res->f = INFINITY;
    res->why = "the log-likelihood became non-finite during the search";
    res->iterations = iter;
    return TSR_OK;
  }
  /* Newton polish: BFGS often stops (GSL_ENOPROG) at a gradient limited by
   * the line search; Newton on the numerical Hessian finishes the job. */
  if (polish && !edge) newton_polish(o, theta, &f, g, 8, grad_tol);
  res->f = f;
  res->gnorm = norm2(g, n);
  res->iterations = iter;
  /* converged: gradient small (GSL_ENOPROG at a tiny gradient counts) */
  res->converged = res->gnorm <= grad_tol;
  if (!res->converged) {
    if (edge)
      res->why = "a parameter ran to the boundary";
    else if (iter >= max_iter)
      res->why = "the iteration limit was reached";
    else if (status == GSL_ENOPROG)
      res->why = "the line search made no progress";
    else
      res->why = "the gradient did not vanish";
  }
  return TSR_OK;
}
