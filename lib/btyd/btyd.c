/*
 * btyd.c - the generic layer of the BTYD models (tessera/btyd.h): model
 * registry, parameter and data checks, compression to unique patterns,
 * maximum-likelihood fitting with several starts, standard errors, and
 * per-customer predictions with delta-method intervals.
 *
 * Model formulas live in one file per model (lib/btyd/bgnbd.c, lib/btyd/mbgnbd.c,
 * lib/btyd/paretonbd.c, lib/btyd/bgbb.c, lib/btyd/gammagamma.c) behind tsr__btyd_spec.
 */
#include "btyd_internal.h"
#include "base/sort.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

/* ================================================================ registry */

const tsr__btyd_spec *tsr__btyd_get_spec(tsr_btyd_kind k) {
  switch (k) {
#define TSR_MODEL(KIND, name, spec, role, title) \
  case TSR_BTYD_##KIND:                          \
    return &spec;
#include "tessera/models.def"
#undef TSR_MODEL
  }
  return NULL;
}

tsr_model_role tsr_btyd_kind_role(tsr_btyd_kind k) {
  switch (k) {
#define TSR_MODEL(KIND, name, spec, role, title) \
  case TSR_BTYD_##KIND:                          \
    return TSR_MODEL_##role;
#include "tessera/models.def"
#undef TSR_MODEL
  }
  return TSR_MODEL_PURCHASE;
}

/* Name lists for messages, generated from models.def: every model, and the
 * models of one role; each item expands to ", name", so lists start at +2. */
#define TSR__SEL_PURCHASE_PURCHASE(n) ", " n
#define TSR__SEL_PURCHASE_DISCRETE(n)
#define TSR__SEL_PURCHASE_SPEND(n)
#define TSR__SEL_DISCRETE_PURCHASE(n)
#define TSR__SEL_DISCRETE_DISCRETE(n) ", " n
#define TSR__SEL_DISCRETE_SPEND(n)
#define TSR__SEL_SPEND_PURCHASE(n)
#define TSR__SEL_SPEND_DISCRETE(n)
#define TSR__SEL_SPEND_SPEND(n) ", " n
static const char tsr__names_all[] = ""
#define TSR_MODEL(KIND, name, spec, role, title) ", " name
#include "tessera/models.def"
#undef TSR_MODEL
    ;
static const char tsr__names_purchase[] = ""
#define TSR_MODEL(KIND, name, spec, role, title) TSR__SEL_PURCHASE_##role(name)
#include "tessera/models.def"
#undef TSR_MODEL
    ;
static const char tsr__names_discrete[] = ""
#define TSR_MODEL(KIND, name, spec, role, title) TSR__SEL_DISCRETE_##role(name)
#include "tessera/models.def"
#undef TSR_MODEL
    ;
static const char tsr__names_spend[] = ""
#define TSR_MODEL(KIND, name, spec, role, title) TSR__SEL_SPEND_##role(name)
#include "tessera/models.def"
#undef TSR_MODEL
    ;

const char *tsr_btyd_role_names(tsr_model_role role) {
  switch (role) {
    case TSR_MODEL_PURCHASE: return tsr__names_purchase + 2;
    case TSR_MODEL_DISCRETE: return tsr__names_discrete + 2;
    case TSR_MODEL_SPEND: return tsr__names_spend + 2;
  }
  return "";
}

const char *tsr_btyd_all_names(void) { return tsr__names_all + 2; }

const char *tsr_btyd_kind_name(tsr_btyd_kind k) {
  const tsr__btyd_spec *s = tsr__btyd_get_spec(k);
  return s ? s->name : "unknown";
}

tsr_status tsr_btyd_kind_parse(const char *s, tsr_btyd_kind *out,
                               tsr_error *err) {
  for (int k = 0; k < TSR_BTYD_NKINDS; k++) {
    const tsr__btyd_spec *sp = tsr__btyd_get_spec((tsr_btyd_kind)k);
    if (s && !strcmp(s, sp->name)) {
      *out = (tsr_btyd_kind)k;
      return TSR_OK;
    }
  }
  return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "model", "expected one of %s, got '%s'",
                       tsr_btyd_all_names(), s ? s : "");
}

size_t tsr_btyd_nparams(tsr_btyd_kind k) {
  const tsr__btyd_spec *s = tsr__btyd_get_spec(k);
  return s ? s->np : 0;
}

const char *tsr_btyd_param_name(tsr_btyd_kind k, size_t i) {
  const tsr__btyd_spec *s = tsr__btyd_get_spec(k);
  return (s && i < s->np) ? s->pnames[i] : NULL;
}

tsr_status tsr_btyd_check_params(tsr_btyd_kind kind, const double *params,
                                 tsr_error *err) {
  const tsr__btyd_spec *s = tsr__btyd_get_spec(kind);
  if (!s)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "model",
                         "unknown model kind %d", (int)kind);
  for (size_t i = 0; i < s->np; i++)
    if (!(params[i] > 0) || !isfinite(params[i]))
      return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, s->pnames[i],
                           "expected a finite value > 0, got %.17g",
                           params[i]);
  return TSR_OK;
}

tsr_status tsr_btyd_model_init(tsr_btyd_model *m, tsr_btyd_kind kind,
                               const double *params, tsr_error *err) {
  tsr_status st = tsr_btyd_check_params(kind, params, err);
  if (st) return st;
  memset(m, 0, sizeof *m);
  m->kind = kind;
  m->np = tsr_btyd_nparams(kind);
  for (size_t i = 0; i < TSR_BTYD_MAXP; i++) m->se[i] = NAN;
  memcpy(m->params, params, m->np * sizeof *params);
  m->loglik = NAN;
  m->period_days = 7.0;
  return TSR_OK;
}

/* Checks one model against its kind. */
static tsr_status check_model(const tsr_btyd_model *m, tsr_error *err) {
  if (!m)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "model", "no model");
  return tsr_btyd_check_params(m->kind, m->params, err);
}

tsr_status tsr_btyd_check_data(tsr_btyd_kind kind, const tsr_btyd_data *d,
                               tsr_error *err) {
  if (!d || d->n == 0)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "no customers to fit");
  if (!d->x || (kind != TSR_BTYD_GG && (!d->t_x || !d->T)) ||
      (kind == TSR_BTYD_GG && !d->m_x))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL,
                         "missing data column");
  for (size_t i = 0; i < d->n; i++) {
    double x = d->x[i];
    size_t row = i + 1;
    if (d->weights && !(d->weights[i] >= 0 && isfinite(d->weights[i])))
      return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "weights",
                           "row %zu: expected a finite value >= 0, got %.17g",
                           row, d->weights[i]);
    if (!(x >= 0) || !isfinite(x))
      return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "frequency",
                           "row %zu: expected a finite value >= 0, got %.17g",
                           row, x);
    if (kind == TSR_BTYD_GG) {
      double m = d->m_x[i];
      if (!(x > 0))
        return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "frequency",
                             "row %zu: the gamma-gamma model needs repeat "
                             "customers (frequency > 0), got %.17g",
                             row, x);
      if (!(m > 0) || !isfinite(m))
        return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "monetary_value",
                             "row %zu: expected a finite value > 0, got %.17g",
                             row, m);
      continue;
    }
    double tx = d->t_x[i], T = d->T[i];
    /* T = 0 (first purchase on the end date) is valid in continuous
     * time: the customer adds exactly 0 to the log-likelihood */
    if (!(kind == TSR_BTYD_BGBB ? T > 0 : T >= 0) || !isfinite(T))
      return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "T",
                           "row %zu: expected a finite value %s, got %.17g",
                           row, kind == TSR_BTYD_BGBB ? "> 0" : ">= 0", T);
    if (!(tx >= 0) || !(tx <= T))
      return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "recency",
                           "row %zu: expected a value in [0, T = %.17g], "
                           "got %.17g",
                           row, T, tx);
    if (x == 0 && tx != 0 && kind != TSR_BTYD_BGBB)
      return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "recency",
                           "row %zu: expected 0 when frequency is 0, got "
                           "%.17g",
                           row, tx);
    if (kind == TSR_BTYD_BGBB) {
      if (x != floor(x) || tx != floor(tx) || T != floor(T) || x > tx)
        return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "frequency",
                             "row %zu: bg/bb needs integers with frequency "
                             "<= recency <= periods, got %.17g, %.17g, %.17g",
                             row, x, tx, T);
    }
  }
  return TSR_OK;
}

/* ============================================================ compression */

/* One unique row during compression. */
typedef struct {
  double x, T, tx, m, w;
} pat_row;

/* Order of the patterns: x, then T, then t_x, then m (the models cache
 * x-only and (x, T)-only terms across consecutive patterns). */
static int cmp_pat(const void *pa, const void *pb) {
  const pat_row *a = pa, *b = pb;
  if (a->x != b->x) return a->x < b->x ? -1 : 1;
  if (a->T != b->T) return a->T < b->T ? -1 : 1;
  if (a->tx != b->tx) return a->tx < b->tx ? -1 : 1;
  if (a->m != b->m) return a->m < b->m ? -1 : 1;
  return 0;
}

static inline int pat_less(const pat_row *a, const pat_row *b) {
  if (a->x != b->x) return a->x < b->x;
  if (a->T != b->T) return a->T < b->T;
  if (a->tx != b->tx) return a->tx < b->tx;
  return a->m < b->m;
}

/* Sorts distinct rows in cmp_pat's order: quicksort (median of three,
 * Hoare partition, the comparison inlined) with insertion sort below 16
 * rows and qsort past a depth of 2 log2 n. glibc's qsort called cmp_pat
 * through a pointer and moved the 40-byte rows with memmove: a quarter of
 * a BG/NBD fit on 100k customers. SORT_PATS(name, type, less, cmp) makes
 * one for rows of type (pat_row, or a pat_row tagged with its index). */
#define SORT_PATS(name, type, less, cmp)                                 \
  static void name(type *v, size_t n, int depth) {                      \
    type t;                                                             \
    while (n > 16) {                                                    \
      if (depth-- <= 0) {                                               \
        qsort(v, n, sizeof *v, cmp);                                    \
        return;                                                         \
      }                                                                 \
      size_t mid = n / 2;                                               \
      if (less(&v[mid], &v[0])) t = v[0], v[0] = v[mid], v[mid] = t;   \
      if (less(&v[n - 1], &v[mid])) {                                   \
        t = v[mid], v[mid] = v[n - 1], v[n - 1] = t;                    \
        if (less(&v[mid], &v[0])) t = v[0], v[0] = v[mid], v[mid] = t; \
      }                                                                 \
      const type piv = v[mid];                                          \
      size_t i = 0, j = n - 1;                                          \
      for (;;) {                                                        \
        while (less(&v[i], &piv)) i++;                                  \
        while (less(&piv, &v[j])) j--;                                  \
        if (i >= j) break;                                              \
        t = v[i], v[i] = v[j], v[j] = t;                                \
        i++, j--;                                                       \
      }                                                                 \
      /* v[0..j] <= piv <= v[j+1..n) */                                 \
      size_t nl = j + 1, nr = n - nl;                                   \
      if (nl < nr) {                                                    \
        name(v, nl, depth);                                             \
        v += nl, n = nr;                                                \
      } else {                                                          \
        name(v + nl, nr, depth);                                        \
        n = nl;                                                         \
      }                                                                 \
    }                                                                   \
    for (size_t i = 1; i < n; i++) {                                    \
      size_t j = i;                                                     \
      t = v[i];                                                         \
      for (; j > 0 && less(&t, &v[j - 1]); j--) v[j] = v[j - 1];        \
      v[j] = t;                                                         \
    }                                                                   \
  }

SORT_PATS(sort_pats, pat_row, pat_less, cmp_pat)

/* A unique row and where it was first seen (the map's sort). */
typedef struct {
  pat_row r;
  size_t i;
} tagged_row;

static inline int tagged_less(const tagged_row *a, const tagged_row *b) {
  return pat_less(&a->r, &b->r);
}

SORT_PATS(sort_tagged, tagged_row, tagged_less, cmp_pat) /* pat_row first */

static int sort_depth(size_t n) {
  int depth = 2;
  for (size_t k = n; k > 1; k >>= 1) depth += 2;
  return depth;
}

static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t dbits(double v) {
  uint64_t u;
  if (v == 0) v = 0; /* -0.0 and 0.0 are one key */
  memcpy(&u, &v, sizeof u);
  return u;
}

static inline pat_row pat_of(const tsr_btyd_data *d, size_t i) {
  pat_row r = {d->x[i], d->T ? d->T[i] : 0, d->t_x ? d->t_x[i] : 0,
               d->m_x ? d->m_x[i] : 0, d->weights ? d->weights[i] : 1.0};
  return r;
}

/* 1 when the rows of d are strictly increasing in cmp_pat's order: unique
 * and sorted already (compressed patterns given again); -0.0 next to 0.0,
 * or a NaN, is not strictly increasing */
static int strictly_sorted(const tsr_btyd_data *d) {
  if (d->n < 2) return 1;
  pat_row prev = pat_of(d, 0);
  for (size_t i = 1; i < d->n; i++) {
    pat_row r = pat_of(d, i);
    if (!pat_less(&prev, &r)) return 0;
    prev = r;
  }
  return 1;
}

/* pat->buf from the sorted unique rows got(k) (k < u); weight-0 patterns
 * dropped unless want_map */
#define FILL_PATS(got)                                                    \
  do {                                                                    \
    double *x_ = pat->buf, *tx_ = x_ + u, *T_ = tx_ + u, *m_ = T_ + u,    \
           *w_ = m_ + u;                                                  \
    size_t p_ = 0;                                                        \
    for (size_t k = 0; k < u; k++) {                                      \
      pat_row r_ = got(k);                                                \
      if (!want_map && !(r_.w > 0)) continue;                             \
      x_[p_] = r_.x, tx_[p_] = r_.tx, T_[p_] = r_.T, m_[p_] = r_.m;       \
      w_[p_] = r_.w;                                                      \
      p_++;                                                               \
    }                                                                     \
    pat->d.n = p_;                                                        \
    pat->d.x = x_;                                                        \
    pat->d.t_x = tx_;                                                     \
    pat->d.T = T_;                                                        \
    pat->d.m_x = d->m_x ? m_ : NULL;                                      \
    pat->d.weights = w_;                                                  \
  } while (0)

/* Ranks of one column for the radix compression: cls[i] = the class (equal
 * values, -0.0 = 0.0) of row i, numbered in first-seen order, first[c] =
 * the first row of class c; returns the number of classes, 0 when a value
 * is not finite, or (size_t)-1 when out of memory. tab: 2^k slots (u32:
 * 1 + class) grown as classes come, at most half full. */
/* Row i's value of a column whose rows are stride bytes apart. */
#define COL_AT(v, i, stride) (*(const double *)((const char *)(v) + (i) * (stride)))

static size_t column_classes(const double *v, size_t stride, size_t n, uint32_t *cls,
                             uint32_t **tab, size_t *tcap, uint64_t **keys, size_t *kcap) {
  size_t mask = 255, nc = 0;
  if (*tcap < mask + 1) {
    tsr__free(*tab);
    if (!(*tab = tsr__malloc((mask + 1) * sizeof **tab))) return (size_t)-1;
    *tcap = mask + 1;
  }
  memset(*tab, 0, (mask + 1) * sizeof **tab);
  for (size_t i = 0; i < n; i++) {
    const double vi = COL_AT(v, i, stride);
    if (!isfinite(vi)) return 0;
    const uint64_t k = dbits(vi);
    size_t h = (size_t)mix64(k) & mask;
    for (;;) {
      const uint32_t s = (*tab)[h];
      if (!s) break;
      if ((*keys)[s - 1] == k) break;
      h = (h + 1) & mask;
    }
    if ((*tab)[h]) {
      cls[i] = (*tab)[h] - 1;
      continue;
    }
    if (nc == *kcap) {
      void *q = *keys;
      if (tsr__grow(&q, kcap, nc + 1, sizeof **keys) != TSR_OK) return (size_t)-1;
      *keys = q;
    }
    (*keys)[nc] = k;
    (*tab)[h] = (uint32_t)(nc + 1);
    cls[i] = (uint32_t)nc++;
    if (2 * nc > mask) { /* double the table, re-enter the classes */
      const size_t cap = 2 * (mask + 1);
      if (*tcap < cap) {
        tsr__free(*tab);
        if (!(*tab = tsr__malloc_big(cap * sizeof **tab))) return (size_t)-1;
        *tcap = cap;
      }
      mask = cap - 1;
      memset(*tab, 0, cap * sizeof **tab);
      for (size_t c = 0; c < nc; c++) {
        size_t g = (size_t)mix64((*keys)[c]) & mask;
        while ((*tab)[g]) g = (g + 1) & mask;
        (*tab)[g] = (uint32_t)(c + 1);
      }
    }
  }
  return nc;
}

/* tsr__btyd_compress by ranks: every column's distinct values ranked
 * (x, T, t_x, m_x), one 64-bit key per row (the ranks side by side, x
 * highest), a stable radix sort of the keys, and the runs of equal keys
 * merged: the same patterns in the same order (cmp_pat's) with the same
 * values (each pattern's first row) and weights (summed in row order) as
 * the hash and quicksort below, at a fraction of its cost. Returns 0, 1
 * when it does not apply (a value not finite, or more than 64 bits of
 * ranks), -1 when out of memory. */
/* Rows from which tsr__btyd_compress ranks (fewer: the hash and sort) */
#define COMPRESS_RANKED_MIN 1

static int compress_ranked(const tsr_btyd_data *d, size_t stride, int want_map,
                           tsr__btyd_pat *pat) {
  const size_t n = d->n;
  const double *col[4] = {d->x, d->T, d->t_x, d->m_x};
  uint64_t *key = tsr__malloc_big(n * sizeof *key), *ckeys = NULL;
  uint32_t *cls = tsr__malloc_big(n * sizeof *cls), *ord = tsr__malloc_big(n * sizeof *ord);
  uint32_t *tab = NULL, *rank = NULL;
  size_t tcap = 0, kcap = 0;
  int rc = -1, bits = 0;
  if (!key || !cls || !ord) goto done;
  memset(key, 0, n * sizeof *key);
  for (int c = 0; c < 4; c++) {
    if (!col[c]) continue;
    const size_t nc = column_classes(col[c], stride, n, cls, &tab, &tcap, &ckeys, &kcap);
    if (nc == (size_t)-1) goto done;
    if (nc == 0) {
      rc = 1;
      goto done;
    }
    int b = 0;
    while (((size_t)1 << b) < nc) b++;
    if (bits + b > 64) {
      rc = 1;
      goto done;
    }
    bits += b;
    /* rank of each class: the order of the class values */
    double *cv = tsr__malloc_big(nc * sizeof *cv);
    uint32_t *co = tsr__malloc_big(nc * sizeof *co);
    tsr__free(rank);
    rank = tsr__malloc_big(nc * sizeof *rank);
    if (!cv || !co || !rank) {
      tsr__free(cv), tsr__free(co);
      goto done;
    }
    for (size_t k = 0; k < nc; k++) memcpy(&cv[k], &ckeys[k], sizeof cv[k]);
    if (tsr__order_f64(cv, nc, co)) {
      tsr__free(cv), tsr__free(co);
      goto done;
    }
    for (size_t k = 0; k < nc; k++) rank[co[k]] = (uint32_t)k;
    tsr__free(cv), tsr__free(co);
    if (b)
      for (size_t i = 0; i < n; i++) key[i] = key[i] << b | rank[cls[i]];
  }
  /* the classes' tables go before the sort and the patterns (issue 18:
   * Gamma-Gamma's 1.5M distinct spends, ~40 MB, beside analyze's
   * predictions) */
  tsr__free(tab), tsr__free(rank), tsr__free(ckeys), tsr__free(cls);
  tab = rank = cls = NULL;
  ckeys = NULL;
  for (size_t i = 0; i < n; i++) ord[i] = (uint32_t)i;
  if (tsr__radix_sort_u64(key, ord, n)) goto done;
  /* runs of equal keys: the patterns */
  size_t u = 0;
  for (size_t i = 0; i < n; i++) u += i == 0 || key[i] != key[i - 1];
  /* a column the data has not (the purchase models' m_x, Gamma-Gamma's
   * t_x and T) is zeros: from calloc, whose fresh mapped pages are zero
   * and stay unfaulted when not written (issue 18: Gamma-Gamma's 1.5M
   * patterns 23 MB, the purchase patterns 7 MB less at analyze's peak) */
  const int zeros = !d->t_x || !d->T || !d->m_x;
  const size_t bytes = 5 * u * sizeof(double);
  if (zeros) {
    pat->buf = tsr__calloc(5 * (u ? u : 1), sizeof(double));
    if (bytes >= ((size_t)8 << 20)) tsr__advise_huge(pat->buf, bytes);
  } else {
    pat->buf = bytes >= ((size_t)8 << 20) ? tsr__malloc_big(bytes) : tsr__malloc(bytes);
  }
  if (want_map) pat->map = tsr__malloc_big(n * sizeof(size_t)); /* every row written */
  if (!pat->buf || (want_map && !pat->map)) goto done;
  double *x_ = pat->buf, *tx_ = x_ + u, *T_ = tx_ + u, *m_ = T_ + u, *w_ = m_ + u;
  size_t p = 0;
  for (size_t i = 0; i < n;) {
    const size_t r0 = ord[i];
    double w = d->weights ? COL_AT(d->weights, r0, stride) : 1.0;
    size_t j = i + 1;
    for (; j < n && key[j] == key[i]; j++)
      w += d->weights ? COL_AT(d->weights, ord[j], stride) : 1.0;
    if (want_map || w > 0) {
      x_[p] = COL_AT(d->x, r0, stride), w_[p] = w;
      if (d->t_x) tx_[p] = COL_AT(d->t_x, r0, stride);
      if (d->T) T_[p] = COL_AT(d->T, r0, stride);
      if (d->m_x) m_[p] = COL_AT(d->m_x, r0, stride);
      if (want_map)
        for (size_t k = i; k < j; k++) pat->map[ord[k]] = p;
      p++;
    }
    i = j;
  }
  pat->d = (tsr_btyd_data){p, x_, tx_, T_, d->m_x ? m_ : NULL, w_};
  rc = 0;
done:
  if (rc) tsr__btyd_pat_release(pat);
  tsr__free(key), tsr__free(cls), tsr__free(ord), tsr__free(tab), tsr__free(rank);
  tsr__free(ckeys);
  return rc;
}

tsr_status tsr__btyd_compress(const tsr_btyd_data *d, int want_map,
                              tsr__btyd_pat *pat, tsr_error *err) {
  memset(pat, 0, sizeof *pat);
  size_t n = d->n, u;
  if (n > UINT32_MAX / 2)
    return tsr_error_set(err, TSR_ELIMIT, NULL, 0, 0, NULL,
                         "more than %u customers", (unsigned)(UINT32_MAX / 2));
  if (strictly_sorted(d)) {
    /* patterns already (the model step compresses its customers once and
     * gives the patterns to every fit and prediction; `tessera fit` reads
     * a summary straight into its patterns): with t_x, T and positive
     * weights, the caller's columns are the patterns as they are, borrowed
     * (pat->buf NULL: nothing to copy, fault in or free; 1.8 MB of fresh
     * huge page on 44k patterns); otherwise copied as they are */
    int borrow = n > 0 && d->t_x && d->T && d->weights;
    for (size_t i = 0; borrow && i < n; i++) borrow = d->weights[i] > 0;
    if (borrow) {
      if (want_map) {
        if (!(pat->map = tsr__malloc((n ? n : 1) * sizeof(size_t))))
          return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
        for (size_t i = 0; i < n; i++) pat->map[i] = i;
      }
      pat->d = *d;
      return TSR_OK;
    }
    u = n;
    pat->buf = tsr__malloc_big(5 * (u ? u : 1) * sizeof(double));
    if (want_map) pat->map = tsr__malloc((n ? n : 1) * sizeof(size_t));
    if (!pat->buf || (want_map && !pat->map)) {
      tsr__btyd_pat_release(pat);
      return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
    for (size_t i = 0; want_map && i < n; i++) pat->map[i] = i;
#define GOT_INPUT(k) pat_of(d, k)
    FILL_PATS(GOT_INPUT);
#undef GOT_INPUT
    return TSR_OK;
  }
  if (n >= COMPRESS_RANKED_MIN) {
    const int rc = compress_ranked(d, sizeof(double), want_map, pat);
    if (rc < 0) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    if (rc == 0) return TSR_OK;
  }
  size_t cap = 16;
  while (cap < 2 * n) cap *= 2;
  /* open addressing: slot -> 1 + index of the unique row (32 bits: half
   * the table to clear and fault in); large: on huge pages (fresh small
   * pages cost more than the hashing) */
  uint32_t *slot = tsr__malloc_big(cap * sizeof *slot);
  if (slot) memset(slot, 0, cap * sizeof *slot);
  pat_row *rows = tsr__malloc_big((n ? n : 1) * sizeof *rows);
  /* map only: rowof[i] = unique row of input row i, turned into the map */
  size_t *rowof = want_map ? tsr__malloc((n ? n : 1) * sizeof *rowof) : NULL;
  if (!slot || !rows || (want_map && !rowof)) {
    tsr__free(slot), tsr__free(rows), tsr__free(rowof);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  u = 0;
  for (size_t i = 0; i < n; i++) {
    pat_row r = pat_of(d, i);
    uint64_t h = mix64(dbits(r.x) ^ mix64(dbits(r.T) ^ mix64(dbits(r.tx) ^ mix64(dbits(r.m)))));
    size_t k = (size_t)h & (cap - 1);
    for (;;) {
      if (!slot[k]) {
        rows[u] = r;
        slot[k] = (uint32_t)++u;
        if (rowof) rowof[i] = u - 1;
        break;
      }
      pat_row *q = &rows[slot[k] - 1];
      if (q->x == r.x && q->T == r.T && q->tx == r.tx && q->m == r.m) {
        q->w += r.w;
        if (rowof) rowof[i] = slot[k] - 1;
        break;
      }
      k = (k + 1) & (cap - 1);
    }
  }
  tsr__free(slot);
  if (!want_map) {
    sort_pats(rows, u, sort_depth(u));
    if (!(pat->buf = tsr__malloc_big(5 * (u ? u : 1) * sizeof(double)))) {
      tsr__free(rows);
      return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
#define GOT_ROW(k) rows[k]
    FILL_PATS(GOT_ROW);
#undef GOT_ROW
    tsr__free(rows);
    return TSR_OK;
  }
  /* with a map: sort the unique rows tagged with their index, then
   * remember where each went */
  tagged_row *tg = tsr__malloc_big((u ? u : 1) * sizeof *tg);
  size_t *pos = tsr__malloc((u ? u : 1) * sizeof *pos);
  if (!tg || !pos) {
    tsr__free(tg), tsr__free(pos), tsr__free(rows), tsr__free(rowof);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  for (size_t k = 0; k < u; k++) tg[k].r = rows[k], tg[k].i = k;
  tsr__free(rows);
  sort_tagged(tg, u, sort_depth(u));
  for (size_t k = 0; k < u; k++) pos[tg[k].i] = k;
  for (size_t i = 0; i < n; i++) rowof[i] = pos[rowof[i]];
  tsr__free(pos);
  pat->map = rowof;
  if (!(pat->buf = tsr__malloc_big(5 * (u ? u : 1) * sizeof(double)))) {
    tsr__free(tg);
    tsr__btyd_pat_release(pat);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
#define GOT_TAGGED(k) tg[k].r
  FILL_PATS(GOT_TAGGED);
#undef GOT_TAGGED
  tsr__free(tg);
  return TSR_OK;
}
#undef FILL_PATS

tsr_status tsr__btyd_compress_rows(const tsr_btyd_data *d, size_t stride, int want_map,
                                   tsr__btyd_pat *pat, tsr_error *err) {
  memset(pat, 0, sizeof *pat);
  size_t n = d->n;
  if (n > UINT32_MAX / 2)
    return tsr_error_set(err, TSR_ELIMIT, NULL, 0, 0, NULL, "more than %u customers",
                         (unsigned)(UINT32_MAX / 2));
  if (n > 0) {
    const int rc = compress_ranked(d, stride, want_map, pat);
    if (rc < 0) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    if (rc == 0) return TSR_OK;
  }
  /* none or a value not finite: the columns copied, tsr__btyd_compress */
  double *c[5] = {NULL, NULL, NULL, NULL, NULL};
  const double *src[5] = {d->x, d->t_x, d->T, d->m_x, d->weights};
  tsr_status st = TSR_OK;
  for (int k = 0; k < 5 && st == TSR_OK; k++) {
    if (!src[k]) continue;
    if (!(c[k] = tsr__malloc((n ? n : 1) * sizeof *c[k])))
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    for (size_t i = 0; c[k] && i < n; i++) c[k][i] = COL_AT(src[k], i, stride);
  }
  if (st == TSR_OK) {
    tsr_btyd_data a = {n, c[0], c[1], c[2], c[3], c[4]};
    st = tsr__btyd_compress(&a, want_map, pat, err);
    /* the patterns are copies unless borrowed from a */
    if (st == TSR_OK && !pat->buf && n > 0) {
      tsr__btyd_pat_release(pat);
      st = tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "rows given as patterns");
    }
  }
  for (int k = 0; k < 5; k++) tsr__free(c[k]);
  return st;
}

void tsr__btyd_pat_release(tsr__btyd_pat *pat) {
  if (!pat) return;
  tsr__free(pat->buf);
  tsr__free(pat->map);
  memset(pat, 0, sizeof *pat);
}

double tsr__btyd_mean_T(const tsr_btyd_data *d) {
  double s = 0, w = 0;
  if (!d->T) return 1.0;
  for (size_t i = 0; i < d->n; i++) {
    double wi = d->weights ? d->weights[i] : 1.0;
    s += wi * d->T[i];
    w += wi;
  }
  return w > 0 && s / w > 1e-3 ? s / w : 1e-3;
}

/* ==================================================================== fit */

void tsr_btyd_fit_opts_init(tsr_btyd_fit_opts *o) {
  memset(o, 0, sizeof *o);
  o->penalizer = 0;
  o->grad_tol = 1e-9;
  o->max_iter = 1000;
  o->n_starts = 4;
  o->start = NULL;
  o->compute_se = 1;
  o->period_days = 7.0;
  o->n_threads = 1;
}

/* The objective of one data set (all patterns, or the subsample of the
 * first phase). */
typedef struct fit_ctx {
  const tsr__btyd_spec *spec;
  const tsr_btyd_data *d;     /* compressed patterns */
  const tsr__btyd_index *ix;  /* their index, or NULL: the plain loglik */
  double W;                   /* total weight */
  double pen;
  double pscale[TSR_BTYD_MAXP]; /* penalty scale of each parameter */
  int n_threads;
  /* per-block partial sums of the plain loglik (blocks of FIT_BLOCK
   * patterns) */
  size_t nblocks;
  double *bll, *bg;
  int *bbad;
  /* Gamma-Gamma: log(m_x) of every pattern, once for the fit's
   * evaluations (tsr__gg_loglik_lm), or NULL */
  double *lm;
  /* the last analytic evaluation (fit_fdh): the standard errors take the
   * Hessian at the optimum, where the last Newton step evaluated it */
  int h_valid;
  double h_theta[TSR_BTYD_MAXP], h_f, h_ll, h_g[TSR_BTYD_MAXP];
  double h_H[TSR_BTYD_MAXP * TSR_BTYD_MAXP];
} fit_ctx;

/* Patterns per block of the log-likelihood sum: partial sums are reduced
 * in block order, so the result does not depend on the thread count. */
#define FIT_BLOCK 65536

/* Patterns of the first phase's subsample (every k-th pattern). */
#define FIT_SUBSAMPLE 5000

typedef struct {
  const fit_ctx *c;
  const double *p;
  int want_g;
} blk_job;

static void fit_block(void *v, size_t b, size_t lo, size_t hi) {
  const blk_job *j = v;
  const tsr_btyd_data *d = j->c->d;
  tsr_btyd_data s = {hi - lo, d->x + lo, d->t_x + lo, d->T + lo,
                     d->m_x ? d->m_x + lo : NULL, d->weights + lo};
  double *g = j->want_g ? &j->c->bg[b * TSR_BTYD_MAXP] : NULL;
  j->c->bbad[b] = j->c->lm ? tsr__gg_loglik_lm(j->p, &s, j->c->lm + lo, &j->c->bll[b], g)
                           : j->c->spec->loglik(j->p, &s, &j->c->bll[b], g);
}

/* Scale of each parameter in the penalty (lifetimes' convention, its
 * utils._scale_time): the time-rate parameters (alpha of BG/NBD and
 * MBG/NBD, alpha and beta of Pareto/NBD) are taken in a time unit where the
 * largest T is 1, i.e. multiplied by 1 / max T (early lifetimes versions:
 * 10 / max T); the others are dimensionless (scale 1). So the penalized
 * objective is the same whatever the time unit of the data
 * (bench/lifetimes_penalty.py checks it against lifetimes' objective). */
static void penalty_scales(tsr_btyd_kind kind, const tsr_btyd_data *d,
                           double *sc) {
  double Tmax = 0;
  for (size_t i = 0; i < TSR_BTYD_MAXP; i++) sc[i] = 1.0;
  if (kind != TSR_BTYD_BGNBD && kind != TSR_BTYD_MBGNBD && kind != TSR_BTYD_PNBD)
    return;
  for (size_t i = 0; i < d->n; i++)
    if (d->T[i] > Tmax) Tmax = d->T[i];
  if (!(Tmax > 0)) return;
  sc[1] = 1.0 / Tmax;
  if (kind == TSR_BTYD_PNBD) sc[3] = 1.0 / Tmax;
}

/* f(theta) = -LL(exp(theta))/W + pen * sum (s_i exp(theta_i))^2 and its
 * gradient (s_i: penalty_scales). */
static int fit_fdf(const double *theta, void *vctx, double *f, double *g) {
  const fit_ctx *c = vctx;
  size_t np = c->spec->np;
  double p[TSR_BTYD_MAXP], gn[TSR_BTYD_MAXP] = {0, 0, 0, 0}, ll = 0;
  for (size_t i = 0; i < np; i++) {
    if (!(fabs(theta[i]) < 40)) return -1;
    p[i] = exp(theta[i]);
  }
  if (c->ix) {
    if (c->spec->loglik_ix(p, c->d, c->ix, &ll, g ? gn : NULL) || !isfinite(ll)) return -1;
  } else if (c->nblocks <= 1) {
    if ((c->lm ? tsr__gg_loglik_lm(p, c->d, c->lm, &ll, g ? gn : NULL)
               : c->spec->loglik(p, c->d, &ll, g ? gn : NULL)) ||
        !isfinite(ll))
      return -1;
  } else {
    blk_job job = {c, p, g != NULL};
    tsr__parallel_chunks(c->n_threads, c->d->n, FIT_BLOCK, fit_block, &job);
    for (size_t b = 0; b < c->nblocks; b++) {
      if (c->bbad[b]) return -1;
      ll += c->bll[b];
      if (g)
        for (size_t i = 0; i < np; i++) gn[i] += c->bg[b * TSR_BTYD_MAXP + i];
    }
    if (!isfinite(ll)) return -1;
  }
  double pen = 0;
  for (size_t i = 0; i < np; i++) pen += (c->pscale[i] * p[i]) * (c->pscale[i] * p[i]);
  *f = -ll / c->W + c->pen * pen;
  if (g)
    for (size_t i = 0; i < np; i++) {
      double q = c->pscale[i] * p[i];
      g[i] = -gn[i] * p[i] / c->W + 2 * c->pen * q * q;
      if (!isfinite(g[i])) return -1;
    }
  return 0;
}

/* fit_fdf with the Hessian in theta = log p (models with eval_ix, on the
 * index): d2f/dtheta_i dtheta_j = -(H_ij p_i p_j + [i = j] g_i p_i) / W
 * + [i = j] 4 pen (s_i p_i)^2. */
static int fit_fdh(const double *theta, void *vctx, double *f, double *g, double *Hf) {
  fit_ctx *c = vctx;
  size_t np = c->spec->np;
  if (c->h_valid && memcmp(theta, c->h_theta, np * sizeof *theta) == 0) {
    *f = c->h_f;
    memcpy(g, c->h_g, np * sizeof *g);
    memcpy(Hf, c->h_H, np * np * sizeof *Hf);
    return 0;
  }
  c->h_valid = 0;
  double p[TSR_BTYD_MAXP], gn[TSR_BTYD_MAXP], H[TSR_BTYD_MAXP * TSR_BTYD_MAXP], ll;
  for (size_t i = 0; i < np; i++) {
    if (!(fabs(theta[i]) < 40)) return -1;
    p[i] = exp(theta[i]);
  }
  if (c->spec->eval_ix(p, c->d, c->ix, &ll, gn, H) || !isfinite(ll)) return -1;
  double pen = 0;
  for (size_t i = 0; i < np; i++) pen += (c->pscale[i] * p[i]) * (c->pscale[i] * p[i]);
  *f = -ll / c->W + c->pen * pen;
  for (size_t i = 0; i < np; i++) {
    double q = c->pscale[i] * p[i];
    g[i] = -gn[i] * p[i] / c->W + 2 * c->pen * q * q;
    for (size_t j = 0; j < np; j++)
      Hf[i * np + j] = -H[i * np + j] * p[i] * p[j] / c->W;
    Hf[i * np + i] += -gn[i] * p[i] / c->W + 4 * c->pen * q * q;
    if (!isfinite(g[i])) return -1;
  }
  c->h_valid = 1;
  memcpy(c->h_theta, theta, np * sizeof *theta);
  c->h_f = *f;
  c->h_ll = ll;
  memcpy(c->h_g, g, np * sizeof *g);
  memcpy(c->h_H, Hf, np * np * sizeof *Hf);
  return 0;
}

/* One data set of a fit with its objective: the patterns (borrowed, or the
 * owned columns of a subsample), their index and the block sums. */
typedef struct fit_set {
  tsr_btyd_data d;
  double *cols; /* subsample columns (owned), or NULL */
  tsr__btyd_index ix;
  fit_ctx ctx;
  tsr__objective obj;
} fit_set;

static void fit_set_release(fit_set *fs) {
  tsr__free(fs->cols);
  tsr__btyd_index_release(&fs->ix);
  tsr__free(fs->ctx.bll);
  tsr__free(fs->ctx.bbad);
  tsr__free(fs->ctx.lm);
  memset(fs, 0, sizeof *fs);
}

/* Sets up the objective of fs->d (already set): total weight, index when
 * the model has an indexed loglik, block sums otherwise. */
static tsr_status fit_set_init(fit_set *fs, const tsr__btyd_spec *spec,
                               const tsr_btyd_fit_opts *o, const double *pscale) {
  fit_ctx *c = &fs->ctx;
  memset(c, 0, sizeof *c);
  c->spec = spec;
  c->d = &fs->d;
  c->pen = o->penalizer;
  c->n_threads = o->n_threads;
  memcpy(c->pscale, pscale, sizeof c->pscale);
  for (size_t i = 0; i < fs->d.n; i++) c->W += fs->d.weights[i];
  fs->obj = (tsr__objective){spec->np, fit_fdf, c, NULL};
  if (spec->loglik_ix && fs->d.t_x && fs->d.T) {
    if (tsr__btyd_index_build(&fs->d, &fs->ix)) return TSR_ENOMEM;
    c->ix = &fs->ix;
    if (spec->eval_ix) fs->obj.fdh = fit_fdh;
    return TSR_OK;
  }
  if (spec->kind == TSR_BTYD_GG && fs->d.m_x) {
    if (!(c->lm = tsr__malloc((fs->d.n ? fs->d.n : 1) * sizeof *c->lm))) return TSR_ENOMEM;
    for (size_t i = 0; i < fs->d.n; i++) c->lm[i] = log(fs->d.m_x[i]);
  }
  c->nblocks = (fs->d.n + FIT_BLOCK - 1) / FIT_BLOCK;
  if (c->nblocks > 1) {
    c->bll = tsr__malloc(c->nblocks * (1 + TSR_BTYD_MAXP) * sizeof(double));
    c->bbad = tsr__malloc(c->nblocks * sizeof(int));
    if (!c->bll || !c->bbad) return TSR_ENOMEM;
    c->bg = c->bll + c->nblocks;
  }
  return TSR_OK;
}

/* fs = every k-th pattern of all, k such that at most FIT_SUBSAMPLE remain
 * (all of them when there are fewer). */
static tsr_status fit_set_subsample(fit_set *fs, const tsr_btyd_data *all,
                                    const tsr__btyd_spec *spec,
                                    const tsr_btyd_fit_opts *o,
                                    const double *pscale) {
  size_t stride = (all->n + FIT_SUBSAMPLE - 1) / FIT_SUBSAMPLE;
  memset(fs, 0, sizeof *fs);
  fs->d = *all;
  if (stride > 1) {
    size_t ns = (all->n + stride - 1) / stride;
    if (!(fs->cols = tsr__malloc(5 * ns * sizeof *fs->cols))) return TSR_ENOMEM;
    double *cols[5] = {fs->cols, fs->cols + ns, fs->cols + 2 * ns, fs->cols + 3 * ns,
                       fs->cols + 4 * ns};
    const double *src[5] = {all->x, all->t_x, all->T, all->m_x, all->weights};
    for (size_t k = 0, j = 0; j < ns; k += stride, j++)
      for (int c = 0; c < 5; c++) cols[c][j] = src[c] ? src[c][k] : 0;
    fs->d = (tsr_btyd_data){ns, cols[0], cols[1], cols[2], all->m_x ? cols[3] : NULL, cols[4]};
  }
  return fit_set_init(fs, spec, o, pscale);
}

/* Checked options with defaults filled in. */
static tsr_status fit_opts(const tsr_btyd_fit_opts *opts, tsr_btyd_fit_opts *o,
                           tsr_error *err) {
  if (opts)
    *o = *opts;
  else
    tsr_btyd_fit_opts_init(o);
  if (!(o->penalizer >= 0) || !isfinite(o->penalizer))
    return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "penalizer",
                         "expected a finite value >= 0, got %.17g", o->penalizer);
  if (!(o->grad_tol > 0)) o->grad_tol = 1e-9;
  if (o->max_iter <= 0) o->max_iter = 1000;
  if (o->n_starts <= 0) o->n_starts = 4;
  if (o->n_starts > 8) o->n_starts = 8;
  if (!(o->period_days > 0) || !isfinite(o->period_days)) o->period_days = 7.0;
  if (o->n_threads < 1) o->n_threads = 1;
  if (o->n_threads > 64) o->n_threads = 64;
  return TSR_OK;
}

/* Phase 1: every start (the caller's first, then the model's) to a coarse
 * gradient tolerance with BFGS on the subsample; stops early once two
 * starts reach the same optimum. best = the lowest optimum (log
 * parameters). Returns 1 when some start reached a finite value, 0 when
 * none did, -1 when the optimiser failed (*st). */
static int fit_starts(const fit_set *sub, const tsr_btyd_data *all,
                      const tsr_btyd_fit_opts *o, double *best, int *iters,
                      const char **why, tsr_status *st) {
  const tsr__btyd_spec *spec = sub->ctx.spec;
  const size_t np = spec->np;
  const double coarse = fmax(o->grad_tol, 1e-4);
  const int nstarts = o->n_starts + (o->start ? 1 : 0);
  double fbest = INFINITY;
  int have = 0;
  for (int k = 0; k < nstarts; k++) {
    double p0[TSR_BTYD_MAXP], th[TSR_BTYD_MAXP];
    tsr__min_result r;
    if (o->start && k == 0)
      memcpy(p0, o->start, np * sizeof *p0);
    else
      spec->start(o->start ? k - 1 : k, all, p0);
    for (size_t i = 0; i < np; i++) th[i] = log(p0[i]);
    /* with an analytic Hessian Newton first (a few passes when the start
     * is in the concave region), else BFGS */
    if ((*st = tsr__minimize(&sub->obj, coarse, o->max_iter,
                             sub->obj.fdh ? TSR__MIN_NEWTON_FIRST : TSR__MIN_BFGS, th, &r)))
      return -1;
    *iters += r.iterations;
    if (!isfinite(r.f)) {
      *why = r.why;
      continue;
    }
    int agree = have && fabs(r.f - fbest) <= 1e-6 * fmax(1.0, fabs(fbest));
    if (r.f < fbest) {
      fbest = r.f;
      memcpy(best, th, np * sizeof *th);
    }
    /* spec->one_start, with an analytic Hessian: a first start that
     * converged to a point where the Hessian is positive definite (a
     * strict local maximum of the likelihood; the Hessian is the one of
     * Newton's last step, no new pass) is taken without a second start
     * to agree with it. Otherwise the starts go on as before. */
    if (!have && spec->one_start && sub->obj.fdh && r.converged) {
      double H[TSR_BTYD_MAXP * TSR_BTYD_MAXP], Hi[TSR_BTYD_MAXP * TSR_BTYD_MAXP];
      if (tsr__hessian(&sub->obj, th, NULL, H) == 0 && tsr__spd_inverse(np, H, Hi) == 0)
        return 1;
    }
    have = 1;
    if (agree) break;
  }
  return have;
}

/* The fitted model at the optimum best (log parameters): parameters,
 * log-likelihood and, when asked, the covariance from the Hessian. */
static void fit_result(const fit_set *all, const double *best,
                       const tsr_btyd_fit_opts *o, tsr_btyd_model *out) {
  const tsr__btyd_spec *spec = all->ctx.spec;
  const size_t np = spec->np;
  const double W = all->ctx.W;
  for (size_t i = 0; i < np; i++) out->params[i] = exp(best[i]);
  double ll; /* without the penalty */
  /* the last Newton step evaluated the log-likelihood at best (the same
   * sum as loglik_ix: eval_ix adds the Hessian to it, in the same order) */
  if (all->ctx.h_valid && memcmp(best, all->ctx.h_theta, np * sizeof *best) == 0)
    out->loglik = all->ctx.h_ll;
  else if (all->ctx.ix ? spec->loglik_ix(out->params, &all->d, all->ctx.ix, &ll, NULL) == 0
                  : spec->loglik(out->params, &all->d, &ll, NULL) == 0)
    out->loglik = ll;
  if (!o->compute_se) return;
  double H[TSR_BTYD_MAXP * TSR_BTYD_MAXP], Hi[TSR_BTYD_MAXP * TSR_BTYD_MAXP];
  if (tsr__hessian(&all->obj, best, NULL, H)) return;
  for (size_t i = 0; i < np * np; i++) H[i] *= W;
  if (tsr__spd_inverse(np, H, Hi)) return;
  out->has_cov = 1;
  for (size_t i = 0; i < np; i++)
    for (size_t j = 0; j < np; j++)
      out->cov[i][j] = 0.5 * (Hi[i * np + j] + Hi[j * np + i]) * out->params[i] *
                       out->params[j];
  for (size_t i = 0; i < np; i++) out->se[i] = sqrt(out->cov[i][i]);
}

/* Whether a fit that reached a vanishing gradient is a maximum the data
 * identify (issue 10): no parameter at the boundary, no nearly singular or
 * indefinite Hessian. Clears out->converged and says why otherwise. */
static tsr_status fit_identified(const tsr__btyd_spec *spec, const double *best,
                                 int compute_se, tsr_btyd_model *out,
                                 tsr_error *err) {
  const size_t np = spec->np;
  /* a vanishing gradient at the edge of the parameter space is no maximum:
   * the data do not identify the model */
  for (size_t i = 0; i < np; i++)
    if (fabs(best[i]) > TSR__BTYD_LOG_BOUND) {
      out->converged = 0;
      return tsr_error_set(
          err, TSR_ECONVERGE, NULL, 0, 0, spec->pnames[i],
          "%s fit did not converge: parameter %s ran to the boundary "
          "(%.3g), so the data do not identify the model (too few repeat "
          "purchases?); try a penalizer (e.g. 0.001) or more data",
          spec->name, spec->pnames[i], out->params[i]);
    }
  /* a positive definite but nearly singular Hessian: some direction of the
   * log-parameters is not identified (standard error of log p above 100:
   * the data say nothing about p within a factor e^100) */
  for (size_t i = 0; i < np && out->has_cov; i++)
    if (!(out->se[i] / out->params[i] <= 100)) {
      out->converged = 0;
      return tsr_error_set(
          err, TSR_ECONVERGE, NULL, 0, 0, spec->pnames[i],
          "%s fit did not converge: the optimum is degenerate (parameter "
          "%s = %.3g has a relative standard error of %.3g: the Hessian "
          "is nearly singular, so the data do not identify the model; "
          "too few repeat purchases?); try a penalizer (e.g. 0.001), "
          "another model or more data",
          spec->name, spec->pnames[i], out->params[i],
          out->se[i] / out->params[i]);
    }
  if (compute_se && !out->has_cov) {
    out->converged = 0;
    return tsr_error_set(
        err, TSR_ECONVERGE, NULL, 0, 0, NULL,
        "%s fit did not converge: the Hessian is not positive definite "
        "at the end point (flat or saddle); try a penalizer (e.g. 0.001) "
        "or another model",
        spec->name);
  }
  return TSR_OK;
}

/* Maximum likelihood: the data compressed to weighted patterns (with their
 * index of distinct values), the starts on a subsample (fit_starts), the
 * best point on all patterns to the full tolerance with Newton steps (BFGS
 * then Newton if they fail), standard errors, then the identification
 * checks. */
tsr_status tsr_btyd_fit(tsr_btyd_kind kind, const tsr_btyd_data *d,
                        const tsr_btyd_fit_opts *opts, tsr_btyd_model *out,
                        tsr_error *err) {
  const tsr__btyd_spec *spec = tsr__btyd_get_spec(kind);
  tsr_btyd_fit_opts o;
  tsr_status st;
  if (!spec)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "model",
                         "unknown model kind %d", (int)kind);
  if ((st = fit_opts(opts, &o, err))) return st;
  if ((st = tsr_btyd_check_data(kind, d, err))) return st;
  if (o.start && (st = tsr_btyd_check_params(kind, o.start, err))) return st;

  /* only Gamma-Gamma reads m_x: keep it out of the other patterns */
  tsr_btyd_data dd = *d;
  if (kind != TSR_BTYD_GG) dd.m_x = NULL;
  tsr__btyd_pat pat;
  if ((st = tsr__btyd_compress(&dd, 0, &pat, err))) return st;
  fit_set all, sub;
  memset(&all, 0, sizeof all);
  memset(&sub, 0, sizeof sub);
  double pscale[TSR_BTYD_MAXP];
  penalty_scales(kind, &pat.d, pscale);
  all.d = pat.d;
  if ((st = fit_set_init(&all, spec, &o, pscale)) ||
      (st = fit_set_subsample(&sub, &pat.d, spec, &o, pscale))) {
    fit_set_release(&all), fit_set_release(&sub);
    tsr__btyd_pat_release(&pat);
    return tsr_error_set(err, st, NULL, 0, 0, NULL, "%s", tsr_strerror(st));
  }
  const double W = all.ctx.W;
  if (!(W > 0)) {
    fit_set_release(&all), fit_set_release(&sub);
    tsr__btyd_pat_release(&pat);
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "weights",
                         "the weights sum to 0: no customers to fit");
  }

  double best[TSR_BTYD_MAXP] = {0};
  const char *why = "the log-likelihood is not finite at any starting point";
  int iters = 0;
  int have = fit_starts(&sub, &pat.d, &o, best, &iters, &why, &st);
  fit_set_release(&sub);
  if (have < 0) {
    fit_set_release(&all);
    tsr__btyd_pat_release(&pat);
    return tsr_error_set(err, st, NULL, 0, 0, NULL, "%s", tsr_strerror(st));
  }
  tsr__min_result res;
  memset(&res, 0, sizeof res);
  if (have) {
    /* Phase 2: all patterns, full tolerance; Newton is quadratic from the
     * coarse optimum */
    if ((st = tsr__minimize(&all.obj, o.grad_tol, o.max_iter, TSR__MIN_NEWTON_FIRST,
                            best, &res))) {
      fit_set_release(&all);
      tsr__btyd_pat_release(&pat);
      return tsr_error_set(err, st, NULL, 0, 0, NULL, "%s", tsr_strerror(st));
    }
    iters += res.iterations;
    if (!isfinite(res.f)) have = 0;
    if (!res.converged) why = res.why;
  }

  memset(out, 0, sizeof *out);
  out->kind = kind;
  out->np = spec->np;
  for (size_t i = 0; i < TSR_BTYD_MAXP; i++) out->se[i] = NAN;
  out->n_customers = W;
  out->penalizer = o.penalizer;
  out->period_days = o.period_days;
  out->loglik = NAN;
  if (!have) {
    fit_set_release(&all);
    tsr__btyd_pat_release(&pat);
    return tsr_error_set(err, TSR_ECONVERGE, NULL, 0, 0, NULL,
                         "%s fit failed: %s; check the data (T > 0, "
                         "recency <= T) or give a start",
                         spec->name, why);
  }
  fit_result(&all, best, &o, out);
  out->iterations = iters;
  out->converged = res.converged;
  fit_set_release(&all);
  tsr__btyd_pat_release(&pat);
  if (out->converged) return fit_identified(spec, best, o.compute_se, out, err);
  /* stopped at the edge (tsr__minimize gives up there): say which
   * parameter, as for a vanishing gradient at the edge */
  for (size_t i = 0; i < spec->np; i++)
    if (fabs(best[i]) > TSR__BTYD_LOG_BOUND) return fit_identified(spec, best, 0, out, err);
  return tsr_error_set(
      err, TSR_ECONVERGE, NULL, 0, 0, NULL,
      "%s fit did not converge: %s (gradient norm %.3g after %d "
      "iterations); try a penalizer (e.g. 0.001), more iterations, or "
      "check that the data have enough repeat customers",
      spec->name, why, res.gnorm, iters);
}

tsr_status tsr_btyd_loglik(const tsr_btyd_model *m, const tsr_btyd_data *d,
                           double *out, tsr_error *err) {
  tsr_status st;
  if ((st = check_model(m, err))) return st;
  if ((st = tsr_btyd_check_data(m->kind, d, err))) return st;
  tsr_btyd_data dd = *d;
  if (m->kind != TSR_BTYD_GG) dd.m_x = NULL;
  tsr__btyd_pat pat;
  if ((st = tsr__btyd_compress(&dd, 0, &pat, err))) return st;
  double ll;
  int bad = tsr__btyd_get_spec(m->kind)->loglik(m->params, &pat.d, &ll, NULL);
  tsr__btyd_pat_release(&pat);
  if (bad || !isfinite(ll))
    return tsr_error_set(err, TSR_ENUMERIC, NULL, 0, 0, NULL,
                         "the log-likelihood is not finite at these "
                         "parameters");
  *out = ll;
  return TSR_OK;
}

/* ============================================================ predictions */

static tsr_status not_for_gg(const tsr_btyd_model *m, tsr_error *err) {
  if (m->kind == TSR_BTYD_GG)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "model",
                         "gamma-gamma is a spend model: it predicts no "
                         "purchases");
  return TSR_OK;
}

tsr_status tsr_btyd_conditional(const tsr_btyd_model *m, double x,
                                double t_x, double T, double t,
                                double *expected, double *p_alive,
                                tsr_error *err) {
  tsr_status st;
  if ((st = check_model(m, err)) || (st = not_for_gg(m, err))) return st;
  if (!(x >= 0) || !(t_x >= 0) || !(T >= t_x) || !isfinite(T) || !(t >= 0) ||
      !isfinite(t))
    return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, NULL,
                         "expected x >= 0, 0 <= t_x <= T, t >= 0, got x = "
                         "%.17g, t_x = %.17g, T = %.17g, t = %.17g",
                         x, t_x, T, t);
  double e = NAN, pa = NAN;
  if (tsr__btyd_get_spec(m->kind)->conditional(m->params, x, t_x, T, t, &e,
                                                &pa))
    return tsr_error_set(err, TSR_ENUMERIC, NULL, 0, 0, NULL,
                         "cannot evaluate the conditional expectation at "
                         "x = %.17g, t_x = %.17g, T = %.17g, t = %.17g",
                         x, t_x, T, t);
  if (expected) *expected = e;
  if (p_alive) *p_alive = pa;
  return TSR_OK;
}

tsr_status tsr_btyd_expected_new(const tsr_btyd_model *m, double t,
                                 double *out, tsr_error *err) {
  tsr_status st;
  if ((st = check_model(m, err)) || (st = not_for_gg(m, err))) return st;
  if (!(t >= 0) || !isfinite(t))
    return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "t",
                         "expected a finite value >= 0, got %.17g", t);
  if (tsr__btyd_get_spec(m->kind)->expected_new(m->params, t, out))
    return tsr_error_set(err, TSR_ENUMERIC, NULL, 0, 0, NULL,
                         "cannot evaluate E[X(t)] at t = %.17g", t);
  return TSR_OK;
}

tsr_status tsr_btyd_pmf_new(const tsr_btyd_model *m, unsigned n, double t,
                            double *out, tsr_error *err) {
  tsr_status st;
  if ((st = check_model(m, err)) || (st = not_for_gg(m, err))) return st;
  if (!(t >= 0) || !isfinite(t))
    return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "t",
                         "expected a finite value >= 0, got %.17g", t);
  const tsr__btyd_spec *s = tsr__btyd_get_spec(m->kind);
  if (!s->pmf_new)
    return tsr_error_set(err, TSR_EUNSUPPORTED, NULL, 0, 0, NULL,
                         "P(X(t) = n) is not available for %s", s->name);
  if (s->pmf_new(m->params, n, t, out))
    return tsr_error_set(err, TSR_ENUMERIC, NULL, 0, 0, NULL,
                         "cannot evaluate P(X(%.17g) = %u)", t, n);
  return TSR_OK;
}

tsr_status tsr_btyd_pmf_conditional(const tsr_btyd_model *m, double x,
                                    double t_x, double T, unsigned n, double t,
                                    double *out, tsr_error *err) {
  tsr_status st;
  if ((st = check_model(m, err)) || (st = not_for_gg(m, err))) return st;
  if (!(x >= 0) || !(t_x >= 0) || !(T >= t_x) || !isfinite(T) || !(t >= 0) ||
      !isfinite(t))
    return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, NULL,
                         "expected x >= 0, 0 <= t_x <= T, t >= 0, got x = "
                         "%.17g, t_x = %.17g, T = %.17g, t = %.17g",
                         x, t_x, T, t);
  const tsr__btyd_spec *s = tsr__btyd_get_spec(m->kind);
  if (!s->pmf_cond)
    return tsr_error_set(err, TSR_EUNSUPPORTED, NULL, 0, 0, NULL,
                         "P(X(T, T+t] = n) is not available for %s (bgnbd, "
                         "pnbd, bgbb)",
                         s->name);
  if (s->pmf_cond(m->params, x, t_x, T, n, t, out))
    return tsr_error_set(err, TSR_ENUMERIC, NULL, 0, 0, NULL,
                         "cannot evaluate P(X = %u) at x = %.17g, t_x = "
                         "%.17g, T = %.17g",
                         n, x, t_x, T);
  return TSR_OK;
}

double tsr__btyd_zlevel(double level) {
  if (!(level > 0 && level < 1)) return 0;
  return gsl_cdf_ugaussian_Pinv(0.5 + 0.5 * level);
}

tsr_status tsr_btyd_predict(const tsr_btyd_model *m, const tsr_btyd_data *d,
                            double t, double level, double *expected,
                            double *expected_lo, double *expected_hi,
                            double *p_alive, tsr_error *err) {
  tsr_status st;
  if ((st = check_model(m, err)) || (st = not_for_gg(m, err))) return st;
  if (!(t >= 0) || !isfinite(t))
    return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "t",
                         "expected a finite value >= 0, got %.17g", t);
  if ((expected_lo || expected_hi) && !(level > 0 && level < 1))
    return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "level",
                         "expected a value in (0, 1), got %.17g", level);
  tsr_btyd_data dd = *d;
  dd.weights = NULL;
  if ((st = tsr_btyd_check_data(m->kind, &dd, err))) return st;
  tsr__btyd_pat pat;
  dd.m_x = NULL;
  if ((st = tsr__btyd_compress(&dd, 1, &pat, err))) return st;
  size_t u = pat.d.n;
  double *E = tsr__malloc(4 * (u ? u : 1) * sizeof *E);
  if (!E) {
    tsr__btyd_pat_release(&pat);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  double *PA = E + u, *LO = PA + u, *HI = LO + u;
  st = tsr__btyd_predict_pat(m, &pat.d, t, level, 1, E, expected_lo || expected_hi ? LO : NULL,
                             expected_lo || expected_hi ? HI : NULL, PA, NULL, NULL, err);
  for (size_t i = 0; st == TSR_OK && i < d->n; i++) {
    size_t k = pat.map[i];
    if (expected) expected[i] = E[k];
    if (p_alive) p_alive[i] = PA[k];
    if (expected_lo) expected_lo[i] = LO[k];
    if (expected_hi) expected_hi[i] = HI[k];
  }
  tsr__free(E);
  tsr__btyd_pat_release(&pat);
  return st;
}

tsr_status tsr_btyd_churn(const tsr_btyd_model *m, const tsr_btyd_data *d,
                          double threshold, double *share_below,
                          double *expected_alive, double *expected_dropouts,
                          tsr_error *err) {
  tsr_status st;
  if ((st = check_model(m, err)) || (st = not_for_gg(m, err))) return st;
  if ((st = tsr_btyd_check_data(m->kind, d, err))) return st;
  if (!(threshold >= 0 && threshold <= 1))
    return tsr_error_set(err, TSR_ERANGE, NULL, 0, 0, "threshold",
                         "expected a value in [0, 1], got %.17g", threshold);
  tsr__btyd_pat pat;
  tsr_btyd_data dd = *d;
  dd.m_x = NULL;
  if ((st = tsr__btyd_compress(&dd, 0, &pat, err))) return st;
  st = tsr__btyd_churn_pat(m, &pat.d, NULL, threshold, share_below, expected_alive,
                           expected_dropouts, err);
  tsr__btyd_pat_release(&pat);
  return st;
}
