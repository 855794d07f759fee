/*
 * hyp2f1.c - log of the Gauss hypergeometric function 2F1(a,b;c;z) for real
 * parameters and z < 1, with partial derivatives of the log in a, b, c, z.
 *
 * Role: Pareto/NBD likelihood and P(alive) (z = |alpha-beta|/(max+t)), and
 * the BG/NBD / MBG/NBD conditional expectations (z = t/(alpha+T+t)).
 * GSL's gsl_sf_hyperg_2F1_e fails for z < -1, is silently wrong near z = 1
 * when c-a-b is an integer and overflows to +inf (../shared STACK.md), so we
 * evaluate ourselves:
 *   - 0 <= z < 1: the defining series (Abramowitz & Stegun 15.1.1) summed in
 *     long double with power-of-two rescaling, i.e. in log space, with the
 *     derivative sums carried along (d t_k/da = t_k sum_{j<k} 1/(a+j), ...);
 *   - z < 0: Pfaff's transformation (A&S 15.3.4/15.3.5)
 *       2F1(a,b;c;z) = (1-z)^{-a} 2F1(a, c-b; c; z/(z-1))
 *                    = (1-z)^{-b} 2F1(c-a, b; c; z/(z-1)),
 *     which maps z < 0 into 0 <= w < 1, choosing the form with positive
 *     series parameters;
 *   - z close to 1, where the series needs ~ 40/(1-z) terms: Euler's
 *     transformation (A&S 15.3.3) 2F1(a,b;c;z) = (1-z)^{c-a-b}
 *     2F1(c-a,c-b;c;z) when it shortens the series (c-a or c-b a
 *     non-positive integer terminates it), else the series itself up to
 *     TSR__HYP_MAXTERMS terms (z >= 1 - 4e-6 is refused).
 * Accuracy (tests/unit/test_hyp2f1.c against mpmath at 40 digits), for
 * a, b, c > 0 (the models' range): |error of log 2F1| <= 1e-13 max(1, |log
 * 2F1|) for 0 <= z <= 0.999 (a, b up to 300, c up to 800); about 1e-10 at
 * z = 0.99999 (rounding over ~40/(1-z) terms); for z < 0 (Pfaff) ~1e-12
 * absolute, limited by the rounding of w = z/(z-1). Negative parameters
 * are evaluated (terminating or alternating series) without an accuracy
 * guarantee: the alternating series can cancel.
 */
#include "btyd_internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "tessera/btyd.h"

#define TSR__HYP_MAXTERMS 10000000L

/* Sums the series of 2F1(a,b;c;z) for 0 <= z < 1 (or any z with a
 * terminating series) in long double with rescaling. Fills log|F|, sign and
 * optionally d log|F| / d(a,b,c,z). Returns 0 or -1. */
static int hyp_series(double a, double b, double c, double z, double *lf,
                      int *sign, double *dlog) {
  long double t = 1.0L, S = 1.0L;     /* current term, sum (scaled) */
  long double Ha = 0, Hb = 0, Hc = 0; /* sum_{j<k} 1/(a+j) etc. */
  long double Sa = 0, Sb = 0, Sc = 0, Sz = 0;
  long double scale = 0;              /* log of the rescaling factor */
  const long double eps = LDBL_EPSILON * 0.5L;
  const long double zl = z;
  long k;
  if (c <= 0 && c == floor(c)) return -1;
  for (k = 0; k < TSR__HYP_MAXTERMS; k++) {
    long double ak = (long double)a + k, bk = (long double)b + k,
                ck = (long double)c + k;
    if (ak == 0 || bk == 0) break; /* terminating series */
    long double rho = ak * bk / (ck * (long double)(k + 1)) * zl;
    if (dlog) {
      Ha += 1.0L / ak;
      Hb += 1.0L / bk;
      Hc += 1.0L / ck;
    }
    t *= rho;
    S += t;
    if (dlog) {
      Sa += t * Ha;
      Sb += t * Hb;
      Sc += t * Hc;
      Sz += t * (long double)(k + 1);
    }
    /* Rescale to stay far inside the long double range. */
    if (fabsl(S) > 1e4000L || fabsl(t) > 1e4000L) {
      S *= 1e-4000L;
      t *= 1e-4000L;
      Sa *= 1e-4000L;
      Sb *= 1e-4000L;
      Sc *= 1e-4000L;
      Sz *= 1e-4000L;
      scale += 4000.0L * 2.302585092994045684017991454684364208L;
    }
    /* Tail bound: terms shrink at least by max(|rho_next|, |z|) < 1. */
    long double rn = fabsl(((long double)a + k + 1) * ((long double)b + k + 1) /
                           (((long double)c + k + 1) * (long double)(k + 2)) *
                           zl);
    long double q = rn > fabsl(zl) ? rn : fabsl(zl);
    if (q < 1.0L && k > 2) {
      long double tail = fabsl(t) * q / (1.0L - q);
      long double tol = eps * fabsl(S);
      if (dlog) {
        /* derivative sums converge a little slower (extra factors H, k) */
        long double h = fabsl(Ha) + fabsl(Hb) + fabsl(Hc) + (long double)k + 2;
        tail *= h;
        long double m = fabsl(Sa) + fabsl(Sb) + fabsl(Sc) + fabsl(Sz);
        tol = eps * (fabsl(S) + m);
      }
      if (tail <= tol) break;
    }
    if (t == 0) break;
  }
  if (k >= TSR__HYP_MAXTERMS) return -1;
  if (S == 0 || !isfinite((double)(S * 0))) return -1;
  *sign = S < 0 ? -1 : 1;
  *lf = (double)(logl(fabsl(S)) + scale);
  if (dlog) {
    dlog[0] = (double)(Sa / S);
    dlog[1] = (double)(Sb / S);
    dlog[2] = (double)(-Sc / S);
    dlog[3] = z != 0 ? (double)(Sz / S / zl) : a * b / c;
  }
  return isfinite(*lf) ? 0 : -1;
}

/* Rows of the all-positive series: the term ratio without z,
 * R_k = (a+k)(b+k)/((c+k)(k+1)), and the harmonic sums of the derivatives
 * (H_a = sum_{j<=k} 1/(a+j), ...). Pareto/NBD tabulates them once for every
 * (x, t_x) and (x, T) pair of one x (tsr__hyp2f1_many: a term then costs
 * multiply-adds and no division). */
typedef struct {
  double R, Ha, Hb, Hc;
} hyp_row;

static int hyp_ws_grow(tsr__hyp_ws *ws, double a, double b, double c, size_t need) {
  if (need <= ws->n) return 0;
  if (need > ws->cap) {
    size_t cap = ws->cap ? ws->cap : 256;
    while (cap < need) cap *= 2;
    void *nb = tsr__realloc(ws->buf, cap * sizeof(hyp_row));
    if (!nb) return -1;
    ws->buf = nb;
    ws->cap = cap;
  }
  hyp_row *t = ws->buf;
  for (size_t k = ws->n; k < need; k++) {
    const double ak = a + (double)k, bk = b + (double)k, ck = c + (double)k,
                 k1 = (double)(k + 1);
    t[k].R = ak * bk / (ck * k1);
    t[k].Ha = (k ? t[k - 1].Ha : 0) + 1.0 / ak;
    t[k].Hb = (k ? t[k - 1].Hb : 0) + 1.0 / bk;
    t[k].Hc = (k ? t[k - 1].Hc : 0) + 1.0 / ck;
  }
  ws->n = need;
  return 0;
}

/* The series in double precision when every term is positive (a, b, c > 0
 * and 0 < z < 1): no cancellation, relative error ~ k eps for k terms,
 * about 5x faster than long double. Rescales by 2^-600. The rows come from
 * ws's table when ws is given (grown up to 2^22 rows), else (and past the
 * table) are computed term by term with the same arithmetic. Fills log F
 * and optionally d log F / d(a,b,c,z). Returns 0 or -1. */
static int series_pos(double a, double b, double c, double z, tsr__hyp_ws *ws,
                      double *lf, double *dl) {
  const double eps = DBL_EPSILON * 0.25;
  double t = 1.0, S = 1.0, Sa = 0, Sb = 0, Sc = 0, Sz = 0, scale = 0, Ha = 0, Hb = 0,
         Hc = 0, R;
  long k;
  for (k = 0; k < TSR__HYP_MAXTERMS; k++) {
    const size_t ku = (size_t)k;
    if (ws && (ku < ws->n || (ku < (1u << 22) && !hyp_ws_grow(ws, a, b, c, 2 * ku + 64)))) {
      const hyp_row *row = (const hyp_row *)ws->buf + ku;
      R = row->R, Ha = row->Ha, Hb = row->Hb, Hc = row->Hc;
    } else {
      const double ak = a + (double)k, bk = b + (double)k, ck = c + (double)k;
      R = ak * bk / (ck * (double)(k + 1));
      if (dl) Ha += 1.0 / ak, Hb += 1.0 / bk, Hc += 1.0 / ck;
    }
    const double rho = R * z, k1 = (double)(k + 1);
    t *= rho;
    S += t;
    if (dl) {
      Sa += t * Ha;
      Sb += t * Hb;
      Sc += t * Hc;
      Sz += t * k1;
    }
    if (S > 1e280) {
      const double f = 0x1p-600;
      S *= f, t *= f, Sa *= f, Sb *= f, Sc *= f, Sz *= f;
      scale += 600 * 0.69314718055994530942;
    }
    /* tail bound: the terms shrink at least by q < 1 */
    const double q = rho > z ? rho : z;
    if (q < 1.0 && k > 0) {
      double tail = t * q;
      if (dl) tail *= Ha + Hb + Hc + k1 + 2;
      if (tail <= eps * (dl ? S + Sa + Sb + Sc + Sz : S) * (1.0 - q)) break;
    }
    if (t == 0) break;
  }
  if (k >= TSR__HYP_MAXTERMS || !(S > 0) || !isfinite(S)) return -1;
  *lf = log(S) + scale;
  if (dl) {
    dl[0] = Sa / S;
    dl[1] = Sb / S;
    dl[2] = -Sc / S;
    dl[3] = Sz / S / z;
  }
  return isfinite(*lf) ? 0 : -1;
}

/* series_pos with the second derivatives of log F in (a, b, c, z) as well
 * (h: 4 x 4, row-major, symmetric). The derivatives of a term t_k in the
 * parameters are t_k times products of the harmonic sums: d2 t/da2 =
 * t (H_a^2 - H2_a), H2_a = sum_{j<=k} 1/(a+j)^2, d2 t/da db = t H_a H_b,
 * d2 t/dc2 = t (H_c^2 + H2_c), d t/dc = -t H_c, d2 t/dz2 = t k (k+1)/z^2;
 * then d2 log F = S_ij / S - (S_i / S)(S_j / S). Rows from ws's table as in
 * series_pos (1/(a+k) = H_a(k) - H_a(k-1)), else term by term.
 *
 * HYP_LANES values of z at once (GCC/Clang vector types: one SIMD
 * operation per sum for all lanes): the rows (R, the harmonic sums) are
 * shared, every lane has its terms and sums, in the same operations and
 * order as one z alone; a lane that meets its stopping rule gets t = 0, so
 * its sums stay as they were (x + 0 = x) while the others go on. nl <= HYP_LANES
 * lanes are used. */

/* log F, its gradient and Hessian from the sums of one lane. */
static int pos2_finish(double z, double S, double scale, const double *Sd, double *lf,
                       double *dl, double *h) {
  const double Sa = Sd[0], Sb = Sd[1], Sc = Sd[2], Sz = Sd[3], Saa = Sd[4], Sbb = Sd[5],
               Scc = Sd[6], Sab = Sd[7], Sac = Sd[8], Sbc = Sd[9], Saz = Sd[10],
               Sbz = Sd[11], Scz = Sd[12], Szz = Sd[13];
  if (!(S > 0) || !isfinite(S)) return -1;
  *lf = log(S) + scale;
  const double Fa = Sa / S, Fb = Sb / S, Fc = -Sc / S, Fz = Sz / S / z;
  dl[0] = Fa, dl[1] = Fb, dl[2] = Fc, dl[3] = Fz;
  /* the second derivatives with reciprocals (two divisions, not fourteen:
   * they were most of the cost of a short series; a rounding more) */
  const double iS = 1 / S, izS = iS / z;
  h[0] = Saa * iS - Fa * Fa;
  h[1] = h[4] = Sab * iS - Fa * Fb;
  h[2] = h[8] = -Sac * iS - Fa * Fc;
  h[3] = h[12] = Saz * izS - Fa * Fz;
  h[5] = Sbb * iS - Fb * Fb;
  h[6] = h[9] = -Sbc * iS - Fb * Fc;
  h[7] = h[13] = Sbz * izS - Fb * Fz;
  h[10] = Scc * iS - Fc * Fc;
  h[11] = h[14] = -Scz * izS - Fc * Fz;
  h[15] = Szz * izS / z - Fz * Fz;
  for (int i = 0; i < 16; i++)
    if (!isfinite(h[i])) return -1;
  return isfinite(*lf) ? 0 : -1;
}

/* two lanes (SSE2, the x86-64 baseline), and four where the CPU has AVX2
 * (no FMA: the same roundings as two lanes) */
#define HYP_LANES 2
#define HYP_NAME series_pos2
#define HYP_ATTR
#define HYP_VEC hyp_vec
#define HYP_MASK hyp_mask
#if defined(__x86_64__) && defined(__GNUC__)
#define HYP_BITS(m) ((unsigned)__builtin_ia32_movmskpd((HYP_VEC)(m)))
#else
#define HYP_BITS(m) ((unsigned)(((m)[0] != 0) | ((m)[1] != 0) << 1))
#endif
#include "hyp2f1_lanes.h"
#undef HYP_LANES
#undef HYP_NAME
#undef HYP_ATTR
#undef HYP_VEC
#undef HYP_MASK
#undef HYP_BITS
#if defined(__x86_64__) && defined(__GNUC__)
#define HYP_LANES4 1
#define HYP_LANES 4
#define HYP_NAME series_pos2_avx2
#define HYP_ATTR __attribute__((target("avx2")))
#define HYP_VEC hyp_vec4
#define HYP_MASK hyp_mask4
#define HYP_BITS(m) ((unsigned)__builtin_ia32_movmskpd256((HYP_VEC)(m)))
#include "hyp2f1_lanes.h"
#undef HYP_LANES
#undef HYP_NAME
#undef HYP_ATTR
#undef HYP_VEC
#undef HYP_MASK
#undef HYP_BITS
#endif

int tsr__hyp2f1_many2(double a, double b, double c, const double *z, size_t m,
                      double *lf, double *dlog, double *d2log, tsr__hyp_ws *ws) {
  return tsr__hyp2f1_many2_lanes(4, a, b, c, z, m, lf, dlog, d2log, ws);
}

int tsr__hyp2f1_many2_lanes(size_t lanes, double a, double b, double c, const double *z,
                            size_t m, double *lf, double *dlog, double *d2log,
                            tsr__hyp_ws *ws) {
  if (!(a > 0 && b > 0 && c > 0)) return -1;
  if (ws->a != a || ws->b != b || ws->c != c) ws->n = 0, ws->a = a, ws->b = b, ws->c = c;
#ifdef HYP_LANES4
  lanes = lanes >= 4 && __builtin_cpu_supports("avx2") ? 4 : 2;
#else
  lanes = 2;
#endif
  for (size_t i = 0; i < m;) {
    /* a run of up to lanes values in (0, 1): one vector series */
    size_t nl = 0;
    while (nl < lanes && i + nl < m && z[i + nl] > 0 && z[i + nl] < 1) nl++;
    if (nl > 0) {
#ifdef HYP_LANES4
      if (lanes == 4 ? series_pos2_avx2(a, b, c, z + i, nl, ws, lf + i, dlog + 4 * i, d2log + 16 * i)
                     : series_pos2(a, b, c, z + i, nl, ws, lf + i, dlog + 4 * i, d2log + 16 * i))
        return -1;
#else
      if (series_pos2(a, b, c, z + i, nl, ws, lf + i, dlog + 4 * i, d2log + 16 * i)) return -1;
#endif
      i += nl;
      continue;
    }
    double *dl = dlog + 4 * i, *h = d2log + 16 * i;
    if (z[i] == 0) {
      /* log F = (ab/c) z + (a(a+1)b(b+1)/(2c(c+1)) - (ab/c)^2/2) z^2 + ... */
      const double q = a * b / c;
      lf[i] = 0;
      dl[0] = dl[1] = dl[2] = 0;
      dl[3] = q;
      memset(h, 0, 16 * sizeof *h);
      h[3] = h[12] = b / c;
      h[7] = h[13] = a / c;
      h[11] = h[14] = -q / c;
      h[15] = a * (a + 1) * b * (b + 1) / (c * (c + 1)) - q * q;
    } else {
      return -1;
    }
    i++;
  }
  return 0;
}

int tsr__hyp2f1_many(double a, double b, double c, const double *z, size_t m,
                     double *lf, double *dlog, tsr__hyp_ws *ws) {
  if (!(a > 0 && b > 0 && c > 0)) return -1;
  if (ws->a != a || ws->b != b || ws->c != c) ws->n = 0, ws->a = a, ws->b = b, ws->c = c;
  for (size_t i = 0; i < m; i++) {
    double *dl = dlog ? dlog + 4 * i : NULL;
    int sg;
    if (z[i] > 0 && z[i] < 1) {
      if (series_pos(a, b, c, z[i], ws, &lf[i], dl)) return -1;
    } else if (tsr__hyp2f1(a, b, c, z[i], &lf[i], &sg, dl) || sg < 0) {
      return -1;
    }
  }
  return 0;
}

void tsr__hyp_ws_free(tsr__hyp_ws *ws) {
  tsr__free(ws->buf);
  memset(ws, 0, sizeof *ws);
}

/* 1 when the series of 2F1(a,b;c;.) terminates (a or b a non-positive
 * integer). */
static int terminates(double a, double b) {
  return (a <= 0 && a == floor(a)) || (b <= 0 && b == floor(b));
}

/* Length of a terminating series (the non-positive integer parameter). */
static double term_len(double a, double b) {
  double la = (a <= 0 && a == floor(a)) ? -a : INFINITY;
  double lb = (b <= 0 && b == floor(b)) ? -b : INFINITY;
  return fmin(la, lb);
}

/* Number of series terms needed at z (rough), for choosing a transform. */
static double terms_needed(double a, double b, double z) {
  if (terminates(a, b)) return term_len(a, b);
  if (z <= 0) return 0;
  /* terms grow while (a+k)(b+k) z > (c+k)(k+1), then decay like z^k */
  double peak = fmax(0.0, (fabs(a) + fabs(b)) * z / (1 - z));
  return peak + 40.0 / (1 - z);
}

int tsr__hyp2f1(double a, double b, double c, double z, double *log_abs,
                int *sign, double *dlog) {
  if (!isfinite(a) || !isfinite(b) || !isfinite(c) || !isfinite(z) ||
      z >= 1.0)
    return -1;
  if (c <= 0 && c == floor(c)) return -1;
  if (z == 0 || terminates(a, b)) {
    if (z == 0) {
      *log_abs = 0;
      *sign = 1;
      if (dlog) {
        dlog[0] = dlog[1] = dlog[2] = 0;
        dlog[3] = a * b / c;
      }
      return 0;
    }
  }
  if (z < 0) {
    /* Pfaff: F = (1-z)^{-a} G(a, c-b; c; w) or (1-z)^{-b} G(c-a, b; c; w) */
    double w = z / (z - 1); /* in (0, 1) */
    double l1z = log1p(-z);
    double dw = -1.0 / ((z - 1) * (z - 1));
    double g[4];
    int sg;
    double lg;
    /* prefer the form whose series has positive terms */
    int use_a = (c - b > 0 && a > 0) || !(c - a > 0 && b > 0);
    if (use_a) {
      if (hyp_series(a, c - b, c, w, &lg, &sg, dlog ? g : NULL)) return -1;
      *log_abs = -a * l1z + lg;
      *sign = sg;
      if (dlog) {
        dlog[0] = -l1z + g[0];
        dlog[1] = -g[1];
        dlog[2] = g[1] + g[2];
        dlog[3] = a / (1 - z) + g[3] * dw;
      }
    } else {
      if (hyp_series(c - a, b, c, w, &lg, &sg, dlog ? g : NULL)) return -1;
      *log_abs = -b * l1z + lg;
      *sign = sg;
      if (dlog) {
        dlog[0] = -g[0];
        dlog[1] = -l1z + g[1];
        dlog[2] = g[0] + g[2];
        dlog[3] = b / (1 - z) + g[3] * dw;
      }
    }
    return isfinite(*log_abs) ? 0 : -1;
  }
  /* 0 < z < 1 */
  if (terms_needed(a, b, z) > 1e5 && !terminates(a, b) &&
      terminates(c - a, c - b) && term_len(c - a, c - b) <= 30) {
    /* Euler: F = (1-z)^{c-a-b} G(c-a, c-b; c; z), a finite sum */
    double g[4], lg;
    int sg;
    double l1z = log1p(-z);
    if (hyp_series(c - a, c - b, c, z, &lg, &sg, dlog ? g : NULL)) return -1;
    *log_abs = (c - a - b) * l1z + lg;
    *sign = sg;
    if (dlog) {
      dlog[0] = -l1z - g[0];
      dlog[1] = -l1z - g[1];
      dlog[2] = l1z + g[0] + g[1] + g[2];
      dlog[3] = -(c - a - b) / (1 - z) + g[3];
    }
    return isfinite(*log_abs) ? 0 : -1;
  }
  if (terms_needed(a, b, z) > (double)TSR__HYP_MAXTERMS) return -1;
  if (a > 0 && b > 0 && c > 0) {
    *sign = 1;
    return series_pos(a, b, c, z, NULL, log_abs, dlog);
  }
  return hyp_series(a, b, c, z, log_abs, sign, dlog);
}

tsr_status tsr_hyp2f1_log(double a, double b, double c, double z,
                          double *log_abs, int *sign, tsr_error *err) {
  double lf = NAN;
  int sg = 0;
  if (tsr__hyp2f1(a, b, c, z, &lf, &sg, NULL))
    return tsr_error_set(err, TSR_ENUMERIC, NULL, 0, 0, "2F1",
                         "cannot evaluate 2F1(%.17g, %.17g; %.17g; %.17g): "
                         "outside the supported range (z < 1, c not a "
                         "non-positive integer)",
                         a, b, c, z);
  if (log_abs) *log_abs = lf;
  if (sign) *sign = sg;
  return TSR_OK;
}
