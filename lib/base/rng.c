/*
 * rng.c - xoshiro256** and the random draws of tessera/rng.h.
 *
 * References: D. Blackman, S. Vigna, "Scrambled linear pseudorandom number
 * generators" (2021), reference code xoshiro256starstar.c and splitmix64.c;
 * G. Marsaglia, W. W. Tsang, "A simple method for generating gamma
 * variables", ACM TOMS 26(3), 2000; W. Hörmann, "The transformed rejection
 * method for generating Poisson random variables", Insurance: Mathematics
 * and Economics 12, 1993 (PTRS, as in numpy's random_poisson_ptrs).
 */
#include "internal.h"
#include "tessera/rng.h"

#include <math.h>

void tsr_rng_seed(tsr_rng *g, uint64_t seed, uint64_t stream) {
  uint64_t x = seed;
  uint64_t h = tsr__splitmix64(&x);
  /* Mix the stream number into a second splitmix sequence. */
  uint64_t y = h ^ (stream * 0xD1B54A32D192ED03ULL + 0x8CB92BA72F3D8DD7ULL);
  (void)tsr__splitmix64(&y);
  for (int i = 0; i < 4; i++) g->s[i] = tsr__splitmix64(&y);
  if (!(g->s[0] | g->s[1] | g->s[2] | g->s[3])) g->s[0] = 1;
}

uint64_t tsr_rng_next(tsr_rng *g) { return tsr__xoshiro_next(g->s); }

double tsr_rng_uniform(tsr_rng *g) {
  return (double)(tsr_rng_next(g) >> 11) * 0x1.0p-53;
}

double tsr_rng_uniform_pos(tsr_rng *g) {
  /* (k + 0.5) / 2^53: strictly inside (0, 1). */
  return ((double)(tsr_rng_next(g) >> 11) + 0.5) * 0x1.0p-53;
}

uint64_t tsr_rng_bounded(tsr_rng *g, uint64_t n) {
  if (n == 0) return 0;
  unsigned __int128 m = (unsigned __int128)tsr_rng_next(g) * n;
  uint64_t l = (uint64_t)m;
  if (l < n) {
    uint64_t t = (0 - n) % n;
    while (l < t) {
      m = (unsigned __int128)tsr_rng_next(g) * n;
      l = (uint64_t)m;
    }
  }
  return (uint64_t)(m >> 64);
}

double tsr_rng_normal(tsr_rng *g) {
  /* Marsaglia polar method; the second variate is discarded so that the
   * state stays a plain 32-byte struct. */
  for (;;) {
    double u = 2.0 * tsr_rng_uniform(g) - 1.0;
    double v = 2.0 * tsr_rng_uniform(g) - 1.0;
    double s = u * u + v * v;
    if (s > 0.0 && s < 1.0) return u * sqrt(-2.0 * log(s) / s);
  }
}

double tsr_rng_exponential(tsr_rng *g, double rate) {
  if (!(rate > 0.0) || !isfinite(rate)) return NAN;
  return -log(tsr_rng_uniform_pos(g)) / rate;
}

/* Gamma(shape, 1) for shape >= 1 (Marsaglia & Tsang 2000, section 6). */
static double gamma_mt(tsr_rng *g, double shape) {
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / sqrt(9.0 * d);
  for (;;) {
    double x, v;
    do {
      x = tsr_rng_normal(g);
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    double u = tsr_rng_uniform_pos(g);
    double x2 = x * x;
    if (u < 1.0 - 0.0331 * x2 * x2) return d * v;
    if (log(u) < 0.5 * x2 + d * (1.0 - v + log(v))) return d * v;
  }
}

double tsr_rng_gamma(tsr_rng *g, double shape, double rate) {
  if (!(shape > 0.0) || !(rate > 0.0) || !isfinite(shape) || !isfinite(rate))
    return NAN;
  if (shape >= 1.0) return gamma_mt(g, shape) / rate;
  /* Boost: Gamma(a) = Gamma(a+1) * U^(1/a) (Marsaglia & Tsang, note 8). */
  double x = gamma_mt(g, shape + 1.0);
  double u = tsr_rng_uniform_pos(g);
  return x * exp(log(u) / shape) / rate;
}

double tsr_rng_beta(tsr_rng *g, double a, double b) {
  if (!(a > 0.0) || !(b > 0.0) || !isfinite(a) || !isfinite(b)) return NAN;
  double x = tsr_rng_gamma(g, a, 1.0);
  double y = tsr_rng_gamma(g, b, 1.0);
  double s = x + y;
  if (s > 0.0) return x / s;
  /* Both underflowed (tiny shapes): the limit is a Bernoulli(a/(a+b)). */
  return tsr_rng_uniform(g) < a / (a + b) ? 1.0 : 0.0;
}

uint64_t tsr_rng_poisson(tsr_rng *g, double mean) {
  if (!(mean > 0.0) || !isfinite(mean)) return 0;
  if (mean < 10.0) {
    /* Multiplication method (Knuth). */
    double l = exp(-mean), p = 1.0;
    uint64_t k = 0;
    for (;;) {
      p *= tsr_rng_uniform(g);
      if (p <= l) return k;
      k++;
    }
  }
  /* PTRS (Hörmann 1993). */
  const double slam = sqrt(mean), loglam = log(mean);
  const double b = 0.931 + 2.53 * slam;
  const double a = -0.059 + 0.02483 * b;
  const double invalpha = 1.1239 + 1.1328 / (b - 3.4);
  const double vr = 0.9277 - 3.6224 / (b - 2.0);
  for (;;) {
    double u = tsr_rng_uniform(g) - 0.5;
    double v = tsr_rng_uniform(g);
    double us = 0.5 - fabs(u);
    double k = floor((2.0 * a / us + b) * u + mean + 0.43);
    if (us >= 0.07 && v <= vr) return (uint64_t)k;
    if (k < 0.0 || (us < 0.013 && v > us)) continue;
    if (log(v) + log(invalpha) - log(a / (us * us) + b) <=
        -mean + k * loglam - lgamma(k + 1.0))
      return (uint64_t)k;
  }
}
