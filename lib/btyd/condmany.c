/*
 * condmany.c - tsr__bgnbd_cond_alive (lib/btyd/bgnbd.c) at several horizons
 * t[0..m) of one (a, B, k, A): the CLV's discounted sum asks for
 * ceil(horizon / step) of them per pattern and parameter set. The series of
 * 2F1(k, B; a+B-1; t/(A+t)) of all horizons run side by side and share each
 * term's ratio (k+j)(B+j)/((c+j)(j+1)) (its division); every horizon keeps
 * the operations, order and stopping rule of hyp2f1.c's all-positive series
 * (series_pos without derivatives), so the values are tsr__bgnbd_cond_alive's
 * bit for bit. A horizon tsr__hyp2f1 would not sum this way (a long series:
 * its transforms) and every fallback go through tsr__bgnbd_cond_alive.
 *
 * The horizons go in SIMD groups (GCC/Clang vector types: 4 lanes where the
 * CPU has AVX2, without FMA, else the 2 of SSE2; cm_series_lanes): each
 * lane takes the same operations in the same order as one horizon alone,
 * a lane that has stopped keeps its sums (blended, never updated), so the
 * values do not depend on the lanes (issue 18: this series was most of the
 * CLV's per-pattern cost).
 */
#include "btyd_internal.h"

#include <float.h>
#include <math.h>

/* hyp2f1.c's limits: the most terms of a series, and the rough length past
 * which tsr__hyp2f1 considers a transform (terms_needed there). */
#define CM_MAXTERMS 10000000L
#define CM_TRANSFORM 1e5
/* Horizons per batch. */
#define CM_LANES 64

static double cm_terms_needed(double a, double b, double z) {
  double peak = fmax(0.0, (fabs(a) + fabs(b)) * z / (1 - z));
  return peak + 40.0 / (1 - z);
}

/* One batch of at most CM_LANES horizons, all t > 0 with their series to
 * sum (lane l: z[l]); log 2F1 into lf[l] or fail[l] = 1. */
static void cm_series(double a, double b, double c, const double *z, size_t nl, double *lf,
                      int *fail) {
  const double eps = DBL_EPSILON * 0.25;
  double t[CM_LANES], S[CM_LANES], scale[CM_LANES];
  int live[CM_LANES];
  size_t act = nl;
  for (size_t l = 0; l < nl; l++) t[l] = 1.0, S[l] = 1.0, scale[l] = 0, live[l] = 1;
  long k;
  for (k = 0; k < CM_MAXTERMS && act > 0; k++) {
    const double ak = a + (double)k, bk = b + (double)k, ck = c + (double)k;
    const double R = ak * bk / (ck * (double)(k + 1));
    for (size_t l = 0; l < nl; l++) {
      if (!live[l]) continue;
      const double rho = R * z[l];
      t[l] *= rho;
      S[l] += t[l];
      if (S[l] > 1e280) {
        const double f = 0x1p-600;
        S[l] *= f, t[l] *= f;
        scale[l] += 600 * 0.69314718055994530942;
      }
      const double q = rho > z[l] ? rho : z[l];
      int stop = 0;
      if (q < 1.0 && k > 0) {
        double tail = t[l] * q;
        if (tail <= eps * S[l] * (1.0 - q)) stop = 1;
      }
      if (stop || t[l] == 0) {
        live[l] = 0;
        act--;
      }
    }
  }
  for (size_t l = 0; l < nl; l++) {
    fail[l] = live[l] || !(S[l] > 0) || !isfinite(S[l]);
    if (!fail[l]) {
      lf[l] = log(S[l]) + scale[l];
      fail[l] = !isfinite(lf[l]);
    }
  }
}

/* cm_series in vectors of 2 (SSE2, the x86-64 baseline) and 4 lanes
 * (AVX2, no FMA: the same roundings) */
#define CM_W 2
#define CM_NAME cm_series2
#define CM_ATTR
#define CM_VEC cm_vec2
#define CM_MASK cm_mask2
#if defined(__x86_64__) && defined(__GNUC__)
#define CM_BITS(m) ((unsigned)__builtin_ia32_movmskpd((CM_VEC)(m)))
#else
#define CM_BITS(m) ((unsigned)(((m)[0] != 0) | ((m)[1] != 0) << 1))
#endif
#include "condmany_lanes.h"
#undef CM_W
#undef CM_NAME
#undef CM_ATTR
#undef CM_VEC
#undef CM_MASK
#undef CM_BITS
#if defined(__x86_64__) && defined(__GNUC__)
#define CM_HAVE4 1
#define CM_W 4
#define CM_NAME cm_series4
#define CM_ATTR __attribute__((target("avx2")))
#define CM_VEC cm_vec4
#define CM_MASK cm_mask4
#define CM_BITS(m) ((unsigned)__builtin_ia32_movmskpd256((CM_VEC)(m)))
#include "condmany_lanes.h"
#undef CM_W
#undef CM_NAME
#undef CM_ATTR
#undef CM_VEC
#undef CM_MASK
#undef CM_BITS
#endif

/* cm_series in lanes of 1 (cm_series itself), 2 or 4 (AVX2 when the CPU
 * has it, else 2): the same values. */
static void cm_series_lanes(size_t lanes, double a, double b, double c, const double *z, size_t nl,
                            double *lf, int *fail) {
#ifdef CM_HAVE4
  if (lanes >= 4 && __builtin_cpu_supports("avx2")) {
    cm_series4(a, b, c, z, nl, lf, fail);
    return;
  }
#endif
  if (lanes >= 2)
    cm_series2(a, b, c, z, nl, lf, fail);
  else
    cm_series(a, b, c, z, nl, lf, fail);
}

int tsr__bgnbd_cond_alive_many(double a, double B, double k, double A, const double *t, size_t m,
                               double *out) {
  return tsr__bgnbd_cond_alive_many_lanes(4, a, B, k, A, t, m, out);
}

int tsr__bgnbd_cond_alive_many_lanes(size_t lanes, double a, double B, double k, double A,
                                     const double *t, size_t m, double *out) {
  double c = a + B - 1;
  int series =
      fabs(a - 1) > 1e-4 && c > 0 && k > 0 && B > 0 && isfinite(k) && isfinite(B) && isfinite(c);
  for (size_t i0 = 0; i0 < m; i0 += CM_LANES) {
    size_t i1 = m - i0 < CM_LANES ? m : i0 + CM_LANES, nl = 0;
    size_t lane[CM_LANES];
    double z[CM_LANES], lf[CM_LANES];
    int fail[CM_LANES];
    for (size_t i = i0; i < i1; i++) {
      if (t[i] == 0) {
        out[i] = 0;
        continue;
      }
      double zi = series ? t[i] / (A + t[i]) : 0;
      if (series && isfinite(zi) && zi > 0 && zi < 1 && cm_terms_needed(k, B, zi) <= CM_TRANSFORM) {
        lane[nl] = i;
        z[nl++] = zi;
      } else if (tsr__bgnbd_cond_alive(a, B, k, A, t[i], &out[i])) {
        return -1;
      }
    }
    if (nl == 0) continue;
    cm_series_lanes(lanes, k, B, c, z, nl, lf, fail);
    const double logA = log(A); /* the same for every lane */
    for (size_t l = 0; l < nl; l++) {
      size_t i = lane[l];
      if (!fail[l]) {
        double ll = lf[l] + k * (logA - log(A + t[i]));
        double v = c / (a - 1) * -expm1(ll);
        if (isfinite(v) && v >= 0 && fabs(ll) > 1e-6) {
          out[i] = v;
          continue;
        }
      }
      if (tsr__beta_expect_purch(a, B, A, k, t[i], &out[i])) return -1;
    }
  }
  return 0;
}
