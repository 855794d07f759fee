/*
 * condmany_lanes.h - cm_series of condmany.c (see there) for CM_W horizons
 * a vector, included once per lane count: CM_NAME (the function), CM_ATTR
 * (its target attribute, or nothing), CM_VEC and CM_MASK (the vector types
 * of CM_W doubles and long longs), CM_BITS (see below). The groups of CM_W horizons go side by
 * side, each term's ratio R computed once for all as in cm_series; every
 * lane takes cm_series' operations in its order, a lane that has stopped
 * keeps its sums (blended, never updated), so the values are bit for bit
 * those of one horizon alone. CM_BITS(mask): a bit per lane of a mask
 * whose lanes are all ones or zeros (the sign bits: movmskpd on x86-64),
 * for the tests of the live, rescaled and stopping lanes (an OR over the
 * lanes' extracted words was a third of the loop's instructions). Not a header of its own: only condmany.c
 * includes it.
 */
typedef double CM_VEC __attribute__((vector_size(CM_W * sizeof(double))));
typedef long long CM_MASK __attribute__((vector_size(CM_W * sizeof(long long))));
CM_ATTR static void CM_NAME(double a, double b, double c, const double *zin, size_t nl, double *lf,
                            int *fail) {
  const double eps = DBL_EPSILON * 0.25;
  enum { NG = CM_LANES / CM_W };
  CM_VEC z[NG], t[NG], S[NG];
  CM_MASK live[NG];
  double scale[CM_LANES];
  size_t ng = (nl + CM_W - 1) / CM_W, act = nl;
  for (size_t g = 0; g < ng; g++)
    for (size_t l = 0; l < CM_W; l++) {
      const size_t i = g * CM_W + l;
      /* an unused lane: z = 1/2, never live */
      z[g][l] = i < nl ? zin[i] : 0.5;
      t[g][l] = 1.0, S[g][l] = 1.0, live[g][l] = i < nl ? -1 : 0;
      scale[i] = 0;
    }
  long k;
  for (k = 0; k < CM_MAXTERMS && act > 0; k++) {
    const double ak = a + (double)k, bk = b + (double)k, ck = c + (double)k;
    const double R = ak * bk / (ck * (double)(k + 1));
    for (size_t g = 0; g < ng; g++) {
      const CM_MASK L = live[g];
      if (!CM_BITS(L)) continue;
      const CM_VEC rho = R * z[g];
      const CM_VEC tn = t[g] * rho, Sn = S[g] + tn;
      CM_VEC tt = (CM_VEC)((L & (CM_MASK)tn) | (~L & (CM_MASK)t[g]));
      CM_VEC SS = (CM_VEC)((L & (CM_MASK)Sn) | (~L & (CM_MASK)S[g]));
      const CM_MASK big = L & (SS > 1e280);
      if (CM_BITS(big)) /* rare: lane by lane */
        for (size_t l = 0; l < CM_W; l++) {
          if (!big[l]) continue;
          const double f = 0x1p-600;
          SS[l] *= f, tt[l] *= f;
          scale[g * CM_W + l] += 600 * 0.69314718055994530942;
        }
      const CM_MASK gt = rho > z[g];
      const CM_VEC q = (CM_VEC)((gt & (CM_MASK)rho) | (~gt & (CM_MASK)z[g]));
      CM_MASK stop = tt == 0.0;
      if (k > 0) stop |= (q < 1.0) & (tt * q <= eps * SS * (1.0 - q));
      stop &= L;
      t[g] = tt, S[g] = SS;
      const unsigned sb = CM_BITS(stop);
      if (sb) {
        live[g] = L & ~stop;
        act -= (size_t)__builtin_popcount(sb);
      }
    }
  }
  for (size_t l = 0; l < nl; l++) {
    const double Sl = S[l / CM_W][l % CM_W];
    fail[l] = live[l / CM_W][l % CM_W] != 0 || !(Sl > 0) || !isfinite(Sl);
    if (!fail[l]) {
      lf[l] = log(Sl) + scale[l];
      fail[l] = !isfinite(lf[l]);
    }
  }
}
