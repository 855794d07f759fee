/*
 * hyp2f1_lanes.h - series_pos2 of hyp2f1.c (see there) for HYP_LANES values
 * of z at once, included once per lane count: HYP_NAME (the function),
 * HYP_ATTR (its target attribute, or nothing), HYP_VEC and HYP_MASK (the
 * vector types of HYP_LANES doubles and long longs), HYP_BITS(mask) (a bit
 * per lane of a mask whose lanes are all ones or zeros: movmskpd on
 * x86-64, for the tests of the lanes). Every lane takes the
 * same operations in the same order whatever the lane count, so the values
 * are bit for bit those of one z alone. Not a header of its own: only
 * hyp2f1.c includes it.
 */
typedef double HYP_VEC __attribute__((vector_size(HYP_LANES * sizeof(double))));
typedef long long HYP_MASK __attribute__((vector_size(HYP_LANES * sizeof(long long))));

HYP_ATTR static int HYP_NAME(double a, double b, double c, const double *zin, size_t nl,
                       tsr__hyp_ws *ws, double *lf, double *dl, double *h) {
  const double eps = DBL_EPSILON * 0.25;
  HYP_VEC z, t, S, Sa, Sb, Sc, Sz, Saa, Sbb, Scc, Sab, Sac, Sbc, Saz, Sbz, Scz, Szz;
  double scale[HYP_LANES];
  HYP_MASK live; /* all ones: the lane goes on */
  int nact = 0;
  for (size_t l = 0; l < HYP_LANES; l++) {
    /* an unused lane: z = 1/2, t = 0 from the start */
    z[l] = l < nl ? zin[l] : 0.5;
    t[l] = l < nl ? 1.0 : 0.0;
    live[l] = l < nl ? -1 : 0;
    nact += l < nl;
    S[l] = 1.0, scale[l] = 0;
    Sa[l] = Sb[l] = Sc[l] = Sz[l] = Saa[l] = Sbb[l] = Scc[l] = 0;
    Sab[l] = Sac[l] = Sbc[l] = Saz[l] = Sbz[l] = Scz[l] = Szz[l] = 0;
  }
  double Ha = 0, Hb = 0, Hc = 0, R, Ha2 = 0, Hb2 = 0, Hc2 = 0;
  long k;
  for (k = 0; k < TSR__HYP_MAXTERMS && nact > 0; k++) {
    const size_t ku = (size_t)k;
    double ia, ib, ic;
    if (ws && (ku < ws->n || (ku < (1u << 22) && !hyp_ws_grow(ws, a, b, c, 2 * ku + 64)))) {
      const hyp_row *row = (const hyp_row *)ws->buf + ku;
      R = row->R;
      ia = row->Ha - Ha, ib = row->Hb - Hb, ic = row->Hc - Hc;
      Ha = row->Ha, Hb = row->Hb, Hc = row->Hc;
    } else {
      const double ak = a + (double)k, bk = b + (double)k, ck = c + (double)k;
      R = ak * bk / (ck * (double)(k + 1));
      ia = 1.0 / ak, ib = 1.0 / bk, ic = 1.0 / ck;
      Ha += ia, Hb += ib, Hc += ic;
    }
    Ha2 += ia * ia, Hb2 += ib * ib, Hc2 += ic * ic;
    const double k1 = (double)(k + 1);
    const HYP_VEC rho = R * z;
    t *= rho;
    S += t;
    Sa += t * Ha;
    Sb += t * Hb;
    Sc += t * Hc;
    Sz += t * k1;
    Saa += t * (Ha * Ha - Ha2);
    Sbb += t * (Hb * Hb - Hb2);
    Scc += t * (Hc * Hc + Hc2);
    /* the second-derivative sums: one product per lane (the row's
     * factors multiplied once for all lanes) */
    Sab += t * (Ha * Hb);
    Sac += t * (Ha * Hc);
    Sbc += t * (Hb * Hc);
    Saz += t * (Ha * k1);
    Sbz += t * (Hb * k1);
    Scz += t * (Hc * k1);
    Szz += t * (k1 * (k1 - 1));
    if (HYP_BITS(S > 1e280)) { /* rare: lane by lane */
      for (size_t l = 0; l < HYP_LANES; l++) {
        if (!(S[l] > 1e280)) continue;
        const double f = 0x1p-600;
        S[l] *= f, t[l] *= f, Sa[l] *= f, Sb[l] *= f, Sc[l] *= f, Sz[l] *= f;
        Saa[l] *= f, Sbb[l] *= f, Scc[l] *= f, Sab[l] *= f, Sac[l] *= f, Sbc[l] *= f;
        Saz[l] *= f, Sbz[l] *= f, Scz[l] *= f, Szz[l] *= f;
        scale[l] += 600 * 0.69314718055994530942;
      }
    }
    /* series_pos's stopping rule: the same terms, so value and gradient
     * are bit for bit series_pos's; the second-derivative sums, whose
     * terms carry one more factor ~ H or k, are then accurate to about
     * (H + k) eps relative, far below what Newton steps and standard
     * errors need. Lane masks: all ones where true. */
    const HYP_MASK gt = rho > z;
    const HYP_VEC q = (HYP_VEC)((gt & (HYP_MASK)rho) | (~gt & (HYP_MASK)z));
    HYP_MASK stop = t == 0.0;
    if (k > 0) {
      const HYP_VEC tail = t * q * (Ha + Hb + Hc + k1 + 2);
      stop |= (q < 1.0) & (tail <= eps * (S + Sa + Sb + Sc + Sz) * (1.0 - q));
    }
    /* lanes that stop now (the test stays off the chain of t: the
     * branch is predicted) */
    stop &= live;
    if (HYP_BITS(stop)) {
      t = (HYP_VEC)(~stop & (HYP_MASK)t);
      live &= ~stop;
      nact = __builtin_popcount(HYP_BITS(live));
    }
  }
  if (nact > 0) return -1; /* TSR__HYP_MAXTERMS */
  for (size_t l = 0; l < nl; l++) {
    const double Sd[14] = {Sa[l],  Sb[l],  Sc[l],  Sz[l],  Saa[l], Sbb[l], Scc[l],
                           Sab[l], Sac[l], Sbc[l], Saz[l], Sbz[l], Scz[l], Szz[l]};
    if (pos2_finish(z[l], S[l], scale[l], Sd, &lf[l], dl + 4 * l, h + 16 * l)) return -1;
  }
  return 0;
}
