/*
 * resolve.c - entity resolution of customer records (tessera/resolve.h):
 * normalisation, blocking, field comparison, a three-class latent model
 * (same person / same household / unrelated) fitted by EM in the manner of
 * Fellegi and Sunter (1969) and Winkler (1988), union-find clustering.
 * See docs/resolve.md.
 */
#include "tessera/resolve.h"
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tessera/datetime.h"
#include "profile_internal.h"
#include "base/sort.h"

/* ------------------------------------------------------------ fields */

enum { F_FIRST, F_LAST, F_DOB, F_GENDER, F_EMAIL, F_PHONE, F_ADDR, F_POST, NFIELDS };
enum { L_MISSING = 0, L_DIS = 1, L_PART = 2, L_AGREE = 3 };
enum { HOUSE_MAX = 12 }; /* persons in one household at most */
enum { C_M = 0, C_H = 1, C_U = 2, NCLASS = 3 };
#define NPAT (1u << (2 * NFIELDS))
#define DAY_NONE INT32_MIN

static const char *const field_names[NFIELDS] = {"first name", "surname", "birth date", "gender",
                                                  "e-mail", "phone", "address", "postcode"};

typedef struct prec {
  uint32_t id, first, last, email, addr, post, products;
  uint16_t nfirst, nlast, nemail, naddr, npost, email_at;
  int32_t dob, join;
  uint32_t ymd;     /* birth date as YYYYMMDD */
  uint32_t ymd_bcd; /* its 8 digits, 4 bits each (compared digit by digit) */
  char phone[20];
  char sx_last[5], sx_first[5];
  uint8_t gender, nphone; /* nphone: strlen(phone) */
} prec;

/* The strongest link of a record (one cache line holds four). */
typedef struct rlink {
  double score;  /* its P(same person), 0 when vetoed */
  uint32_t best; /* the other record, UINT32_MAX none */
  uint16_t pat;  /* its comparison pattern */
} rlink;

struct tsr_resolver {
  tsr_resolve_params p;
  tsr__strpool pool;
  prec *rec;
  size_t n, cap;
  int ran;
  /* results */
  uint32_t *canon;
  rlink *lk;          /* strongest link of each record */
  int32_t *house;     /* household of the person, -1 none */
  uint32_t *heads;    /* canonical record of each household's head */
  size_t nhouse;
  double theta[NCLASS][NFIELDS][4];
  double prior[NCLASS];
  tsr_resolve_stats st;
};

void tsr_resolve_params_init(tsr_resolve_params *p) {
  memset(p, 0, sizeof *p);
  p->threshold = 0.5;
  p->household_threshold = 0.5;
  p->max_block = 200;
  p->em_max_iter = 500;
  p->em_tol = 1e-9;
  snprintf(p->phone_country, sizeof p->phone_country, "44");
}

tsr_status tsr_resolve_check_params(const tsr_resolve_params *p, tsr_error *err) {
  if (!(p->threshold > 0 && p->threshold < 1))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "threshold",
                         "expected a value in (0,1), got %g", p->threshold);
  if (!(p->household_threshold > 0 && p->household_threshold < 1))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "household_threshold",
                         "expected a value in (0,1), got %g", p->household_threshold);
  if (p->max_block < 2)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "max_block",
                         "expected a value >= 2, got %zu", p->max_block);
  if (p->em_max_iter < 1)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "em_max_iter",
                         "expected a value >= 1, got %d", p->em_max_iter);
  if (!(p->em_tol > 0))
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "em_tol", "expected a value > 0, got %g",
                         p->em_tol);
  size_t nc = strnlen(p->phone_country, sizeof p->phone_country);
  int ok = nc >= 1 && nc <= 4;
  for (size_t i = 0; ok && i < nc; i++) ok = isdigit((unsigned char)p->phone_country[i]);
  if (!ok)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "phone_country",
                         "expected a calling code of 1 to 4 digits");
  return TSR_OK;
}

tsr_status tsr_resolver_new(const tsr_resolve_params *p, tsr_resolver **out, tsr_error *err) {
  *out = NULL;
  tsr_resolve_params d;
  if (!p) {
    tsr_resolve_params_init(&d);
    p = &d;
  }
  tsr_status st = tsr_resolve_check_params(p, err);
  if (st) return st;
  tsr_resolver *r = tsr__calloc(1, sizeof *r);
  if (!r) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  r->p = *p;
  *out = r;
  return TSR_OK;
}

void tsr_resolver_free(tsr_resolver *r) {
  if (!r) return;
  tsr__strpool_release(&r->pool);
  tsr__free(r->rec);
  tsr__free(r->canon);
  tsr__free(r->lk);
  tsr__free(r->house);
  tsr__free(r->heads);
  tsr__free(r);
}

/* ------------------------------------------------------ normalisation */

/* ASCII folds of U+00C0..U+00FF ("" = drop to a space). */
static const char *const latin1[64] = {
    "a", "a", "a", "a", "ae", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    "d", "n", "o", "o", "o", "o", "oe", "", "o", "u", "u", "u", "ue", "y", "th", "ss",
    "a", "a", "a", "a", "ae", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    "d", "n", "o", "o", "o", "o", "oe", "", "o", "u", "u", "u", "ue", "y", "th", "y"};
/* Base letters of U+0100..U+017F (Latin Extended-A). */
static const char latin_ext_a[] =
    "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIiIiJjKkkLlLlLlLlLlNnNnNnnNnOoOoOoOoRrRrRr"
    "SsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzs";
_Static_assert(sizeof latin_ext_a == 129, "Latin Extended-A table has 128 letters");

size_t tsr_resolve_fold(const char *s, char *buf, size_t cap) {
  size_t o = 0;
  int space = 1; /* suppress leading and repeated spaces */
  if (!cap) return 0;
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p;) {
    const char *rep = NULL;
    char one[2] = {0, 0};
    unsigned c = *p;
    if (c < 0x80) {
      p++;
      if (isalnum(c)) {
        one[0] = (char)tolower((int)c);
        rep = one;
      } else if (c == '\'') {
        continue; /* O'Brien = OBrien */
      }
    } else if ((c & 0xE0) == 0xC0 && (p[1] & 0xC0) == 0x80) {
      unsigned cp = ((c & 0x1Fu) << 6) | (p[1] & 0x3Fu);
      p += 2;
      if (cp >= 0xC0 && cp <= 0xFF) rep = latin1[cp - 0xC0];
      else if (cp >= 0x100 && cp <= 0x17F) {
        one[0] = (char)tolower((unsigned char)latin_ext_a[cp - 0x100]);
        rep = one;
      }
      if (rep && !*rep) rep = NULL;
    } else {
      /* other code points (and invalid bytes) become a separator */
      p++;
      while ((*p & 0xC0) == 0x80) p++;
    }
    if (!rep) {
      if (!space && o + 1 < cap) buf[o++] = ' ';
      space = 1;
      continue;
    }
    for (; *rep && o + 1 < cap; rep++) buf[o++] = *rep;
    space = 0;
  }
  while (o && buf[o - 1] == ' ') o--;
  buf[o] = '\0';
  return o;
}

int tsr_resolve_phone(const char *s, const char *country, char *buf, size_t cap) {
  char d[32];
  size_t n = 0;
  int intl = 0, seen = 0;
  if (cap < 17) {
    if (cap) buf[0] = '\0';
    return 0;
  }
  buf[0] = '\0';
  for (const char *p = s ? s : ""; *p; p++) {
    if (p[0] == '(' && p[1] == '0' && p[2] == ')' && seen) {
      p += 2; /* "+44 (0)20 ...": the national trunk 0 in brackets is not dialled */
      continue;
    }
    if (*p == '+' && !seen) intl = 1;
    if (isdigit((unsigned char)*p)) {
      seen = 1;
      if (n >= sizeof d - 1) return 0;
      d[n++] = *p;
    } else if (isalpha((unsigned char)*p)) {
      if (seen && (*p == 'x' || *p == 'X')) break; /* extension */
      return 0;
    }
  }
  d[n] = '\0';
  const char *digits = d;
  char tmp[40];
  if (!intl && n > 2 && d[0] == '0' && d[1] == '0') {
    digits = d + 2;
  } else if (!intl && n > 1 && d[0] == '0') {
    snprintf(tmp, sizeof tmp, "%s%s", country ? country : "", d + 1);
    digits = tmp;
  } else if (!intl && country && strncmp(d, country, strlen(country)) != 0 && n <= 10) {
    snprintf(tmp, sizeof tmp, "%s%s", country, d);
    digits = tmp;
  }
  size_t nd = strlen(digits);
  if (nd < 7 || nd > 15) return 0;
  buf[0] = '+';
  memcpy(buf + 1, digits, nd + 1);
  return 1;
}

char *tsr_resolve_soundex(const char *w, char *buf) {
  /* letters a..z: 0 = vowel-like (separates), 7 = h/w (does not) */
  static const char code[26] = {0, 1, 2, 3, 0, 1, 2, 7, 0, 2, 2, 4, 5,
                                5, 0, 1, 2, 6, 2, 3, 0, 1, 7, 2, 0, 2};
  size_t o = 0;
  int last = -1;
  buf[0] = '\0';
  for (const char *p = w ? w : ""; *p && o < 4; p++) {
    int c = tolower((unsigned char)*p);
    if (c < 'a' || c > 'z') continue;
    int k = code[c - 'a'];
    if (o == 0) {
      buf[o++] = (char)toupper(c);
      last = k;
      continue;
    }
    if (k == 7) continue;
    if (k != 0 && k != last) buf[o++] = (char)('0' + k);
    last = k;
  }
  if (o == 0) return buf;
  while (o < 4) buf[o++] = '0';
  buf[4] = '\0';
  return buf;
}

/* Bit masks of the positions of the bytes of p (at most 64) in pm[byte].
 * Only the entries of the bytes of p and of t are written (those of t
 * cleared), and only those are read by the callers. */
static void peq_build(uint64_t *pm, const unsigned char *p, size_t np, const unsigned char *t,
                      size_t nt) {
  for (size_t i = 0; i < nt; i++) pm[t[i]] = 0;
  for (size_t i = 0; i < np; i++) pm[p[i]] = 0;
  for (size_t i = 0; i < np; i++) pm[p[i]] |= 1ull << i;
}

static unsigned ctz64(uint64_t x) { return (unsigned)__builtin_ctzll(x); }

/* The classic Jaro-Winkler loop, kept for strings over 64 bytes. */
static double jw_long(const char *a, size_t na, const char *b, size_t nb) {
  unsigned char ma[256] = {0}, mb[256] = {0};
  size_t win = (na > nb ? na : nb) / 2;
  win = win ? win - 1 : 0;
  size_t m = 0;
  for (size_t i = 0; i < na; i++) {
    size_t lo = i > win ? i - win : 0, hi = i + win + 1 < nb ? i + win + 1 : nb;
    for (size_t j = lo; j < hi; j++)
      if (!mb[j] && a[i] == b[j]) {
        ma[i] = mb[j] = 1;
        m++;
        break;
      }
  }
  if (!m) return 0;
  size_t t = 0, k = 0;
  for (size_t i = 0; i < na; i++) {
    if (!ma[i]) continue;
    while (!mb[k]) k++;
    if (a[i] != b[k]) t++;
    k++;
  }
  double md = (double)m;
  double jaro = (md / (double)na + md / (double)nb + (md - (double)t / 2) / md) / 3;
  size_t l = 0;
  while (l < 4 && l < na && l < nb && a[l] == b[l]) l++;
  return jaro + (double)l * 0.1 * (1 - jaro);
}

/* Jaro-Winkler with bit masks when both strings have at most 64 bytes: each
 * byte of a takes the first unmatched equal byte of b in its window (the
 * lowest bit of equal & unmatched & window), as in the classic loop, so the
 * matches, transpositions and the value are the same. */
double tsr_resolve_jaro_winkler(const char *a, size_t na, const char *b, size_t nb) {
  if (na > 255) na = 255;
  if (nb > 255) nb = 255;
  if (!na && !nb) return 1;
  if (!na || !nb) return 0;
  if (na == nb && !memcmp(a, b, na)) return 1;
  if (na > 64 || nb > 64) return jw_long(a, na, b, nb);
  const unsigned char *ua = (const unsigned char *)a, *ub = (const unsigned char *)b;
  uint64_t pm[256];
  peq_build(pm, ub, nb, ua, na);
  size_t win = (na > nb ? na : nb) / 2;
  win = win ? win - 1 : 0;
  uint64_t used = 0, ma = 0;
  size_t m = 0;
  for (size_t i = 0; i < na; i++) {
    size_t lo = i > win ? i - win : 0, hi = i + win + 1 < nb ? i + win + 1 : nb;
    if (lo >= hi) continue;
    uint64_t span = hi - lo == 64 ? ~0ull : (1ull << (hi - lo)) - 1;
    uint64_t c = pm[ua[i]] & ~used & (span << lo);
    if (c) {
      used |= c & (~c + 1);
      ma |= 1ull << i;
      m++;
    }
  }
  if (!m) return 0;
  size_t t = 0;
  for (uint64_t x = ma, y = used; x; x &= x - 1, y &= y - 1) t += ua[ctz64(x)] != ub[ctz64(y)];
  double md = (double)m;
  double jaro = (md / (double)na + md / (double)nb + (md - (double)t / 2) / md) / 3;
  size_t l = 0;
  while (l < 4 && l < na && l < nb && a[l] == b[l]) l++;
  return jaro + (double)l * 0.1 * (1 - jaro);
}

size_t tsr_resolve_levenshtein(const char *a, size_t na, const char *b, size_t nb) {
  if (na > 255) na = 255;
  if (nb > 255) nb = 255;
  size_t row[256];
  for (size_t j = 0; j <= nb; j++) row[j] = j;
  for (size_t i = 1; i <= na; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= nb; j++) {
      size_t up = row[j];
      size_t v = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < v) v = up + 1;
      if (row[j - 1] + 1 < v) v = row[j - 1] + 1;
      row[j] = v;
      diag = up;
    }
  }
  return row[nb];
}

/* lev_bounded for strings over 64 bytes: only the diagonal band
 * |i - j| <= k of the table is filled (a cell outside it is > k), and the
 * scan stops as soon as every cell of a row's band exceeds k. */
static size_t lev_banded(const char *a, size_t na, const char *b, size_t nb, size_t k) {
  if ((na > nb ? na - nb : nb - na) > k) return k + 1;
  size_t row[257];
  const size_t big = k + 1;
  for (size_t j = 0; j <= nb; j++) row[j] = j <= k ? j : big;
  for (size_t i = 1; i <= na; i++) {
    size_t lo_j = i > k ? i - k : 1, hi_j = i + k < nb ? i + k : nb;
    /* row[lo_j - 1] holds the previous row's cell; the new one is i (column
     * 0) or outside the band */
    size_t diag = row[lo_j - 1];
    size_t left = lo_j == 1 ? (i <= k ? i : big) : big;
    if (lo_j == 1) row[0] = left;
    size_t lo = left;
    for (size_t j = lo_j; j <= hi_j; j++) {
      size_t up = j <= nb && j < i + k ? row[j] : big; /* (i-1, j) in the band iff j <= i-1+k */
      size_t v = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < v) v = up + 1;
      if (left + 1 < v) v = left + 1;
      if (v > big) v = big;
      row[j] = v;
      diag = up;
      left = v;
      if (v < lo) lo = v;
    }
    if (hi_j < nb) row[hi_j + 1] = big;
    if (lo > k) return k + 1;
  }
  return row[nb] <= k ? row[nb] : k + 1;
}

/* Levenshtein distance of text t and pattern p (1 to 64 bytes), bit-parallel
 * (Myers 1999, with Hyyro's global-distance boundary): the vertical deltas
 * of one column of the table are kept in the bit vectors pv (+1) and mv
 * (-1); score is the last row's cell. */
static size_t lev_myers(const unsigned char *t, size_t nt, const unsigned char *p, size_t np) {
  uint64_t pm[256];
  peq_build(pm, p, np, t, nt);
  uint64_t pv = ~0ull, mv = 0, top = 1ull << (np - 1);
  size_t score = np;
  for (size_t i = 0; i < nt; i++) {
    uint64_t eq = pm[t[i]];
    uint64_t xv = eq | mv;
    uint64_t xh = (((eq & pv) + pv) ^ pv) | eq;
    uint64_t ph = mv | ~(xh | pv);
    uint64_t mh = pv & xh;
    if (ph & top) score++;
    else if (mh & top) score--;
    ph = ph << 1 | 1;
    mh <<= 1;
    pv = mh | ~(xv | ph);
    mv = ph & xv;
  }
  return score;
}

/* Levenshtein distance when it is <= k, else k + 1 (strings cut to 255
 * bytes). */
size_t tsr__resolve_lev_bounded(const char *a, size_t na, const char *b, size_t nb, size_t k) {
  if (na > 255) na = 255;
  if (nb > 255) nb = 255;
  if ((na > nb ? na - nb : nb - na) > k) return k + 1;
  size_t d;
  if (!na || !nb) d = na + nb;
  else if (nb <= 64) d = lev_myers((const unsigned char *)a, na, (const unsigned char *)b, nb);
  else if (na <= 64) d = lev_myers((const unsigned char *)b, nb, (const unsigned char *)a, na);
  else return lev_banded(a, na, b, nb, k);
  return d <= k ? d : k + 1;
}

/* 1 when the Levenshtein distance is at most 1 (strings cut to 255 bytes):
 * the same length and at most one byte different, or one byte more in the
 * longer with the rest equal. */
int tsr__resolve_lev_le1(const char *a, size_t na, const char *b, size_t nb) {
  if (na > 255) na = 255;
  if (nb > 255) nb = 255;
  if (na < nb) {
    const char *t = a;
    size_t nt = na;
    a = b, na = nb, b = t, nb = nt;
  }
  if (na - nb > 1) return 0;
  size_t i = 0;
  while (i < nb && a[i] == b[i]) i++;
  if (i == nb) return 1;
  if (na == nb) i++; /* one substitution */
  for (size_t j = i; j < nb; j++)
    if (a[j + (na - nb)] != b[j]) return 0;
  return 1;
}

static int is_title(const char *w, size_t n) {
  static const struct {
    const char *s;
    size_t n;
  } t[] = {{"mr", 2}, {"mrs", 3}, {"ms", 2}, {"miss", 4}, {"dr", 2}, {"prof", 4}, {"sir", 3}, {"herr", 4}, {"frau", 4}};
  if (n < 2 || n > 4) return 0;
  for (size_t k = 0; k < sizeof t / sizeof *t; k++)
    if (t[k].n == n && !memcmp(t[k].s, w, n)) return 1;
  return 0;
}

/* Address words to their usual abbreviation. */
static const char *addr_abbrev(const char *w, size_t n) {
  static const struct {
    const char *word, *abbrev;
    size_t n;
  } map[] = {{"street", "st", 6},      {"strasse", "str", 7},  {"road", "rd", 4},
             {"avenue", "ave", 6},     {"av", "ave", 2},       {"lane", "ln", 4},
             {"drive", "dr", 5},       {"place", "pl", 5},     {"court", "ct", 5},
             {"square", "sq", 6},      {"crescent", "cres", 8}, {"terrace", "ter", 7},
             {"close", "cl", 5},       {"gardens", "gdns", 7}, {"apartment", "apt", 9},
             {"flat", "apt", 4},       {"north", "n", 5},      {"south", "s", 5},
             {"east", "e", 4},         {"west", "w", 4},       {"boulevard", "blvd", 9},
             {"highway", "hwy", 7}};
  if (n < 2 || n > 9) return NULL; /* "av" .. "boulevard" */
  for (size_t k = 0; k < sizeof map / sizeof *map; k++)
    if (map[k].n == n && !memcmp(map[k].word, w, n)) return map[k].abbrev;
  return NULL;
}

static int pool_add(tsr_resolver *r, const char *s, size_t n, uint32_t *off, uint16_t *len) {
  if (n > 255) n = 255;
  if (len) *len = (uint16_t)n;
  return tsr__strpool_add(&r->pool, s, n, off);
}

static int blank(const char *s) {
  if (!s) return 1;
  while (*s && isspace((unsigned char)*s)) s++;
  return !*s;
}

static uint32_t civil_ymd(int32_t day);
static uint32_t bcd8(uint32_t v);

tsr_status tsr_resolver_add(tsr_resolver *r, const tsr_person_record *in, tsr_error *err) {
  if (r->ran)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "records added after the run");
  if (blank(in->customer_id))
    return tsr_error_set(err, TSR_EPARSE, NULL, 0, 0, "customer_id", "expected a customer id, got an empty field");
  prec x;
  memset(&x, 0, sizeof x);
  x.dob = x.join = DAY_NONE;
  if (!blank(in->birth_date) && tsr__parse_day(in->birth_date, strlen(in->birth_date), &x.dob))
    return tsr_error_set(err, TSR_EPARSE, NULL, 0, 0, "birth_date",
                         "expected a date (YYYY-MM-DD, YYYYMMDD or DD.MM.YYYY)");
  if (!blank(in->join_date) && tsr__parse_day(in->join_date, strlen(in->join_date), &x.join))
    return tsr_error_set(err, TSR_EPARSE, NULL, 0, 0, "join_date",
                         "expected a date (YYYY-MM-DD, YYYYMMDD or DD.MM.YYYY)");
  if (tsr__grow((void **)&r->rec, &r->cap, r->n + 1, sizeof *r->rec))
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  char buf[1024], a[512], b[512];
  size_t na = 0, nb = 0;
  /* names */
  if (!blank(in->first_name) || !blank(in->last_name)) {
    na = tsr_resolve_fold(in->first_name, a, sizeof a);
    char *sp = strchr(a, ' ');
    if (sp) na = (size_t)(sp - a), *sp = '\0';
    nb = tsr_resolve_fold(in->last_name, b, sizeof b);
  } else {
    size_t n = tsr_resolve_fold(in->name, buf, sizeof buf);
    /* tokens without titles: first one is the first name, last one the surname */
    const char *tok[64];
    size_t tl[64], nt = 0;
    for (size_t i = 0; i < n && nt < 64;) {
      size_t j = i;
      while (j < n && buf[j] != ' ') j++;
      if (!is_title(buf + i, j - i)) tok[nt] = buf + i, tl[nt++] = j - i;
      i = j + 1;
    }
    if (nt >= 2) {
      na = tl[0];
      memcpy(a, tok[0], na);
    }
    if (nt >= 1) {
      nb = tl[nt - 1];
      memcpy(b, tok[nt - 1], nb);
    }
    a[na] = b[nb] = '\0';
  }
  /* surname without spaces for the phonetic key */
  char bs[512];
  size_t nbs = 0;
  for (size_t i = 0; i < nb; i++)
    if (b[i] != ' ') bs[nbs++] = b[i];
  bs[nbs] = '\0';
  tsr_resolve_soundex(bs, x.sx_last);
  tsr_resolve_soundex(a, x.sx_first);
  int bad = pool_add(r, in->customer_id, strlen(in->customer_id), &x.id, NULL) ||
            pool_add(r, a, na, &x.first, &x.nfirst) || pool_add(r, b, nb, &x.last, &x.nlast);
  /* e-mail: trimmed, lowercase */
  size_t ne = 0;
  for (const char *p = in->email ? in->email : ""; *p && ne + 1 < sizeof buf; p++)
    if (!isspace((unsigned char)*p)) buf[ne++] = (char)tolower((unsigned char)*p);
  buf[ne] = '\0';
  char *at = strchr(buf, '@');
  if (!at || at == buf || !at[1]) ne = 0;
  bad = bad || pool_add(r, buf, ne, &x.email, &x.nemail);
  x.email_at = ne ? (uint16_t)(at - buf) : 0;
  /* address: folded, usual abbreviations */
  size_t n = tsr_resolve_fold(in->address, a, sizeof a), o = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && a[j] != ' ') j++;
    const char *ab = addr_abbrev(a + i, j - i);
    const char *w = ab ? ab : a + i;
    size_t wl = ab ? strlen(ab) : j - i;
    if (o && o + 1 < sizeof buf) buf[o++] = ' ';
    for (size_t k = 0; k < wl && o + 1 < sizeof buf; k++) buf[o++] = w[k];
    i = j + 1;
  }
  buf[o] = '\0';
  bad = bad || pool_add(r, buf, o, &x.addr, &x.naddr);
  /* postcode: uppercase letters and digits */
  o = 0;
  for (const char *p = in->postcode ? in->postcode : ""; *p && o + 1 < sizeof buf; p++)
    if (isalnum((unsigned char)*p)) buf[o++] = (char)toupper((unsigned char)*p);
  buf[o] = '\0';
  bad = bad || pool_add(r, buf, o, &x.post, &x.npost);
  const char *prod = in->products_held ? in->products_held : "";
  bad = bad || tsr__strpool_add(&r->pool, prod, strlen(prod), &x.products);
  if (bad) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  /* compared and blocked on the last 9 digits of E.164 (the national
   * number), so that a national form read with the wrong default country
   * code still matches its international form */
  char e164[24];
  if (tsr_resolve_phone(in->phone, r->p.phone_country, e164, sizeof e164)) {
    size_t ne164 = strlen(e164);
    snprintf(x.phone, sizeof x.phone, "%s", e164 + (ne164 > 10 ? ne164 - 9 : 1));
    x.nphone = (uint8_t)strlen(x.phone);
  }
  if (in->gender && *in->gender) {
    int g = tolower((unsigned char)*in->gender);
    x.gender = (uint8_t)(g == 'f' || g == 'w' ? 'f' : g == 'm' ? 'm' : 0);
  }
  x.ymd = civil_ymd(x.dob);
  x.ymd_bcd = bcd8(x.ymd);
  r->rec[r->n++] = x;
  return TSR_OK;
}

/* ---------------------------------------------------------- CSV input */

void tsr_resolve_read_opts_init(tsr_resolve_read_opts *o) {
  memset(o, 0, sizeof *o);
  tsr_csv_opts_init(&o->csv);
  o->max_errors = -1;
}

enum { K_ID, K_NAME, K_FIRST, K_LAST, K_EMAIL, K_PHONE, K_DOB, K_GENDER, K_ADDR, K_POST, K_CITY,
       K_JOIN, K_PROD, NK };

static const char *const read_names[NK][8] = {
    {"customerid", "id", "customer", "custid", "clientid", NULL},
    {"name", "fullname", "customername", NULL},
    {"firstname", "givenname", "forename", NULL},
    {"lastname", "surname", "familyname", NULL},
    {"email", "emailaddress", "mail", NULL},
    {"phone", "phonenumber", "telephone", "mobile", "tel", NULL},
    {"birthdate", "dob", "dateofbirth", NULL},
    {"gender", "sex", NULL},
    {"address", "street", "address1", "addressline1", NULL},
    {"postcode", "zip", "zipcode", "postalcode", "plz", NULL},
    {"city", "town", NULL},
    {"joindate", "customersince", "since", "opened", NULL},
    {"productsheld", "products", NULL}};
static const char *const read_fname[NK] = {"customer_id", "name", "first_name", "last_name", "email",
                                           "phone", "birth_date", "gender", "address", "postcode",
                                           "city", "join_date", "products_held"};

typedef struct resolve_cols {
  tsr_resolver *r;
  ptrdiff_t col[NK];
} resolve_cols;

static tsr_status resolve_header(void *ctx, const tsr_csv_record *rec, const char *src,
                                 tsr_error *err) {
  resolve_cols *k = ctx;
  for (int f = 0; f < NK; f++) k->col[f] = tsr__col_find(rec, read_names[f]);
  if (k->col[K_ID] < 0)
    return tsr_error_set(err, TSR_EPARSE, src, 1, 1, "customer_id",
                         "expected a customer_id column in the header");
  return TSR_OK;
}

static tsr_status resolve_row(void *ctx, const tsr_csv_record *rec, const char *src, tsr_error *e) {
  resolve_cols *k = ctx;
  const char *v[NK];
  for (int f = 0; f < NK; f++) v[f] = k->col[f] >= 0 ? rec->fields[k->col[f]].ptr : NULL;
  tsr_person_record pr = {.customer_id = v[K_ID], .name = v[K_NAME], .first_name = v[K_FIRST],
                          .last_name = v[K_LAST], .email = v[K_EMAIL], .phone = v[K_PHONE],
                          .birth_date = v[K_DOB], .gender = v[K_GENDER], .address = v[K_ADDR],
                          .postcode = v[K_POST], .city = v[K_CITY], .join_date = v[K_JOIN],
                          .products_held = v[K_PROD]};
  tsr_status st = tsr_resolver_add(k->r, &pr, e);
  if (st && st != TSR_ENOMEM) {
    /* locate the field named by the error */
    for (int f = 0; f < NK; f++)
      if (k->col[f] >= 0 && !strcmp(e->field, read_fname[f])) {
        e->line = rec->fields[k->col[f]].line;
        e->column = rec->fields[k->col[f]].column;
      }
    snprintf(e->source, sizeof e->source, "%s", src);
    if (!e->line) e->line = rec->line;
  }
  return st;
}

/* Personal data: rejected rows are reported without their raw text. */
tsr_status tsr_resolver_read_csv(tsr_resolver *r, const char *path, const tsr_resolve_read_opts *o,
                                 int64_t *rejected, tsr_error *err) {
  tsr_resolve_read_opts defo;
  if (!o) {
    tsr_resolve_read_opts_init(&defo);
    o = &defo;
  }
  resolve_cols k = {.r = r};
  tsr__csv_rows rd = {&o->csv, o->max_errors, o->on_reject, o->ud, 0,
                      resolve_header, resolve_row, &k};
  return tsr__csv_read_rows(path, &rd, rejected, err);
}

/* ----------------------------------------------------------- blocking */

static uint64_t key_hash(int type, const char *a, size_t na, const char *b, size_t nb) {
  char buf[600];
  size_t n = 0;
  buf[n++] = (char)type;
  if (na > 280) na = 280;
  if (nb > 280) nb = 280;
  memcpy(buf + n, a, na);
  n += na;
  buf[n++] = '\x1f';
  memcpy(buf + n, b, nb);
  n += nb;
  return tsr__hash_bytes(buf, n, 0x7e55e7a);
}

#define S(r, off) ((r)->pool.buf + (off))

static int cmp_dob(const prec *x, const prec *y);

/* Address level: similarity 1 - Levenshtein / longer length; agree >= 0.9,
 * partial >= 0.7. */
static int addr_level(const tsr_resolver *r, const prec *x, const prec *y) {
  if (!x->naddr || !y->naddr) return L_MISSING;
  if (x->naddr == y->naddr && !memcmp(S(r, x->addr), S(r, y->addr), x->naddr)) return L_AGREE;
  size_t mx = x->naddr > y->naddr ? x->naddr : y->naddr;
  size_t d = tsr__resolve_lev_bounded(S(r, x->addr), x->naddr, S(r, y->addr), y->naddr, (size_t)(0.3 * (double)mx));
  double sim = 1 - (double)d / (double)mx;
  return sim >= 0.9 ? L_AGREE : sim >= 0.7 ? L_PART : L_DIS;
}

/* The surname-code + postcode key (households: same surname and address)
 * is coarse where postcodes are: its blocks of more than SN_FULL records
 * are sorted by address and each record is paired with those of the
 * SN_WINDOW - 1 records after it whose address is similar (the partial
 * level of the comparison or better; sorted neighbourhood, Hernandez and
 * Stolfo 1995), at any block size; the other keys pair all records of a
 * block up to max_block. In a block of the name-code + birth-year key over
 * SN_FULL records, only pairs whose birth dates agree at least partially
 * are formed (the key is there for a wrong digit or a swapped day and
 * month). The key type is kept in the top 3 bits of the block key. */
enum { K_SUR_POST = 5, K_NAME_YEAR = 6, SN_FULL = 24, SN_WINDOW = 10 };
#define KEY_TYPE(k) ((int)((k) >> 61))

typedef struct sn_item {
  const char *addr;
  uint32_t naddr, idx;
} sn_item;

static int sn_cmp(const void *pa, const void *pb) {
  const sn_item *a = pa, *b = pb;
  size_t n = a->naddr < b->naddr ? a->naddr : b->naddr;
  int c = memcmp(a->addr, b->addr, n);
  if (c) return c;
  if (a->naddr != b->naddr) return a->naddr < b->naddr ? -1 : 1;
  return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static uint64_t pair_key(uint32_t i, uint32_t j) {
  return i < j ? (uint64_t)i << 32 | j : (uint64_t)j << 32 | i;
}

/* v in decimal as "%lld" writes it, into buf (at least 21 bytes, not
 * NUL-terminated); returns the length. */
static size_t fmt_i64(int64_t v, char *buf) {
  char t[24];
  size_t n = 0, o = 0;
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do t[n++] = (char)('0' + u % 10), u /= 10;
  while (u);
  if (v < 0) buf[o++] = '-';
  while (n) buf[o++] = t[--n];
  return o;
}

/* Appends the pairs of one block (records idx[0..s)) to *pairs. */
static int block_pairs(const tsr_resolver *r, int type, const uint32_t *idx, size_t s, sn_item **sn,
                       size_t *sncap, uint64_t **pairs, size_t *np, size_t *pcap) {
  if (type == K_SUR_POST && s > SN_FULL) {
    if (tsr__grow((void **)sn, sncap, s, sizeof **sn)) return -1;
    sn_item *v = *sn;
    for (size_t u = 0; u < s; u++) {
      const prec *x = &r->rec[idx[u]];
      v[u] = (sn_item){S(r, x->addr), x->naddr, idx[u]};
    }
    qsort(v, s, sizeof *v, sn_cmp);
    if (tsr__grow((void **)pairs, pcap, *np + s * (SN_WINDOW - 1), sizeof **pairs)) return -1;
    for (size_t u = 0; u < s; u++)
      for (size_t w = u + 1; w < s && w < u + SN_WINDOW; w++)
        if (v[u].idx != v[w].idx &&
            addr_level(r, &r->rec[v[u].idx], &r->rec[v[w].idx]) >= L_PART)
          (*pairs)[(*np)++] = pair_key(v[u].idx, v[w].idx);
    return 0;
  }
  int dob_only = type == K_NAME_YEAR && s > SN_FULL;
  if (tsr__grow((void **)pairs, pcap, *np + s * (s - 1) / 2, sizeof **pairs)) return -1;
  for (size_t u = 0; u < s; u++)
    for (size_t w = u + 1; w < s; w++) {
      if (idx[u] == idx[w]) continue;
      const prec *x = &r->rec[idx[u]], *y = &r->rec[idx[w]];
      if (dob_only && cmp_dob(x, y) < L_PART) continue;
      (*pairs)[(*np)++] = pair_key(idx[u], idx[w]);
    }
  return 0;
}

/* Candidate pairs (i << 32 | j, i < j), sorted and unique. */
static tsr_status make_pairs(tsr_resolver *r, uint64_t **pairs_out, size_t *np_out) {
  size_t n = r->n, cap = n * 7 + 1, m = 0;
  uint64_t *key = tsr__malloc(cap * sizeof *key);
  uint32_t *idx = tsr__malloc(cap * sizeof *idx);
  uint64_t *pairs = NULL;
  sn_item *sn = NULL;
  size_t np = 0, pcap = 0, sncap = 0;
  tsr_status st = TSR_ENOMEM;
  if (!key || !idx) goto fail;
#define ADD_KEY(t, a, na, b, nb) \
  (key[m] = key_hash(t, a, na, b, nb) >> 3 | (uint64_t)(t) << 61, idx[m++] = (uint32_t)i)
  for (size_t i = 0; i < n; i++) {
    const prec *x = &r->rec[i];
    char dob[24];
    size_t nd = fmt_i64(x->dob, dob);
    int hd = x->dob != DAY_NONE;
    if (x->sx_last[0] && hd) ADD_KEY(1, x->sx_last, 4, dob, nd);
    if (x->sx_first[0] && hd) ADD_KEY(2, x->sx_first, 4, dob, nd);
    if (x->nemail) ADD_KEY(3, S(r, x->email), x->nemail, "", 0);
    if (x->phone[0]) ADD_KEY(4, x->phone, x->nphone, "", 0);
    if (x->sx_last[0] && x->npost) ADD_KEY(K_SUR_POST, x->sx_last, 4, S(r, x->post), x->npost);
    if (x->sx_last[0] && x->sx_first[0] && hd) {
      int64_t y;
      unsigned mo, d;
      char ln[10], ymd[24];
      if (x->ymd) {
        y = x->ymd / 10000, mo = x->ymd / 100 % 100, d = x->ymd % 100;
      } else {
        tsr_civil_from_days(x->dob, &y, &mo, &d);
      }
      memcpy(ln, x->sx_first, 4);
      memcpy(ln + 4, x->sx_last, 4);
      ADD_KEY(K_NAME_YEAR, ln, 8, ymd, fmt_i64(y, ymd));
      /* month and day, two digits each ("%02u%02u") */
      ymd[0] = (char)('0' + mo / 10), ymd[1] = (char)('0' + mo % 10);
      ymd[2] = (char)('0' + d / 10), ymd[3] = (char)('0' + d % 10);
      ADD_KEY(7, ln, 8, ymd, 4);
    }
  }
#undef ADD_KEY
  if (tsr__radix_sort_u64(key, idx, m)) goto fail;
  for (size_t a = 0; a < m;) {
    size_t b = a + 1;
    while (b < m && key[b] == key[a]) b++;
    size_t s = b - a;
    int type = KEY_TYPE(key[a]);
    if (s > r->p.max_block && type != K_SUR_POST) {
      r->st.blocks_skipped++;
    } else if (s > 1) {
      if (block_pairs(r, type, idx + a, s, &sn, &sncap, &pairs, &np, &pcap)) goto fail;
    }
    a = b;
  }
  tsr__free(key);
  tsr__free(idx);
  tsr__free(sn);
  key = NULL;
  idx = NULL;
  sn = NULL;
  if (tsr__radix_sort_u64(pairs, NULL, np)) goto fail;
  size_t u = 0;
  for (size_t i = 0; i < np; i++)
    if (!u || pairs[i] != pairs[u - 1]) pairs[u++] = pairs[i];
  *pairs_out = pairs;
  *np_out = u;
  return TSR_OK;
fail:
  tsr__free(key);
  tsr__free(idx);
  tsr__free(sn);
  tsr__free(pairs);
  return st;
}

/* --------------------------------------------------------- comparison */

static int cmp_name(const char *a, size_t na, const char *b, size_t nb) {
  if (!na || !nb) return L_MISSING;
  if (na == nb && !memcmp(a, b, na)) return L_AGREE;
  double jw = tsr_resolve_jaro_winkler(a, na, b, nb);
  if (jw >= 0.94) return L_AGREE;
  if (jw >= 0.85 || ((na == 1 || nb == 1) && a[0] == b[0])) return L_PART;
  if (na >= 3 && nb >= 3 && tsr__resolve_lev_le1(a, na, b, nb)) return L_PART;
  return L_DIS;
}

/* Birth dates of x and y: days, civil forms (YYYYMMDD) and their 8 digits
 * one per 4 bits (the last digit lowest). */
static int cmp_dob(const prec *x, const prec *y) {
  int32_t a = x->dob, b = y->dob;
  uint32_t ya = x->ymd, yb = y->ymd;
  if (a == DAY_NONE || b == DAY_NONE) return L_MISSING;
  if (a == b) return L_AGREE;
  unsigned da = ya % 100, db = yb % 100, ma = ya / 100 % 100, mb = yb / 100 % 100;
  int same_year = ya / 10000 == yb / 10000;
  if (same_year && ma == mb && (da > db ? da - db : db - da) <= 3) return L_PART;
  if (same_year && ma == db && da == mb) return L_PART; /* day and month swapped */
  /* the digits that differ: one bit per digit (bit 4k for digit k) */
  uint32_t dx = x->ymd_bcd ^ y->ymd_bcd;
  uint32_t nz = (dx | dx >> 1 | dx >> 2 | dx >> 3) & 0x11111111u;
  int diff = __builtin_popcount(nz);
  if (diff == 1) return L_PART; /* one wrong digit */
  if (diff == 2) { /* two neighbouring digits swapped */
    unsigned k2 = (unsigned)__builtin_ctz(nz), k1 = 31u - (unsigned)__builtin_clz(nz);
    uint32_t ca1 = x->ymd_bcd >> k1 & 15, ca2 = x->ymd_bcd >> k2 & 15;
    uint32_t cb1 = y->ymd_bcd >> k1 & 15, cb2 = y->ymd_bcd >> k2 & 15;
    if (k1 == k2 + 4 && ca1 == cb2 && ca2 == cb1) return L_PART;
  }
  return L_DIS;
}

/* The 8 decimal digits of v (< 10^8) one per 4 bits. */
static uint32_t bcd8(uint32_t v) {
  uint32_t b = 0;
  for (unsigned k = 0; k < 8; k++, v /= 10) b |= (v % 10) << (4 * k);
  return b;
}

int tsr__resolve_dob_level(int32_t a, int32_t b) {
  prec x, y;
  memset(&x, 0, sizeof x), memset(&y, 0, sizeof y);
  x.dob = a, y.dob = b;
  x.ymd = civil_ymd(a), y.ymd = civil_ymd(b);
  x.ymd_bcd = bcd8(x.ymd), y.ymd_bcd = bcd8(y.ymd);
  return cmp_dob(&x, &y);
}

/* YYYYMMDD of a day (0 for none or a year outside 0..9999). */
static uint32_t civil_ymd(int32_t day) {
  if (day == DAY_NONE) return 0;
  int64_t y;
  unsigned m, d;
  tsr_civil_from_days(day, &y, &m, &d);
  return y >= 0 && y <= 9999 ? (uint32_t)y * 10000u + m * 100u + d : 0;
}

static unsigned compare(const tsr_resolver *r, uint32_t i, uint32_t j) {
  const prec *x = &r->rec[i], *y = &r->rec[j];
  int l[NFIELDS];
  l[F_FIRST] = cmp_name(S(r, x->first), x->nfirst, S(r, y->first), y->nfirst);
  l[F_LAST] = cmp_name(S(r, x->last), x->nlast, S(r, y->last), y->nlast);
  l[F_DOB] = cmp_dob(x, y);
  l[F_GENDER] = !x->gender || !y->gender ? L_MISSING : x->gender == y->gender ? L_AGREE : L_DIS;
  if (!x->nemail || !y->nemail) l[F_EMAIL] = L_MISSING;
  else if (x->nemail == y->nemail && !memcmp(S(r, x->email), S(r, y->email), x->nemail))
    l[F_EMAIL] = L_AGREE;
  else if (tsr__resolve_lev_le1(S(r, x->email), x->nemail, S(r, y->email), y->nemail))
    l[F_EMAIL] = L_PART; /* a typo (the same local part elsewhere is often a namesake) */
  else
    l[F_EMAIL] = L_DIS;
  if (!x->phone[0] || !y->phone[0]) l[F_PHONE] = L_MISSING;
  else if (x->nphone == y->nphone && !memcmp(x->phone, y->phone, x->nphone)) l[F_PHONE] = L_AGREE;
  else
    l[F_PHONE] = tsr__resolve_lev_le1(x->phone, x->nphone, y->phone, y->nphone)
                     ? L_PART : L_DIS;
  l[F_ADDR] = addr_level(r, x, y);
  if (!x->npost || !y->npost) l[F_POST] = L_MISSING;
  else if (x->npost == y->npost && !memcmp(S(r, x->post), S(r, y->post), x->npost)) l[F_POST] = L_AGREE;
  else if (x->npost >= 6 && x->npost == y->npost && !memcmp(S(r, x->post), S(r, y->post), x->npost - 3u))
    l[F_POST] = L_PART; /* same outward code of a UK-style postcode */
  else
    l[F_POST] = L_DIS;
  unsigned pat = 0;
  for (int f = 0; f < NFIELDS; f++) pat |= (unsigned)l[f] << (2 * f);
  return pat;
}

/* Prefetch distances (pairs ahead) of a record and of its strings. */
enum { PF_REC = 32, PF_STR = 16 };
enum { PF_NAMES = 1, PF_ADDR = 2 }; /* what a pattern's later tests read */

static void prefetch_rec(const tsr_resolver *r, uint32_t j) {
  const char *p = (const char *)&r->rec[j];
  __builtin_prefetch(p);
  __builtin_prefetch(p + sizeof(prec) - 1);
}

/* The compared strings of a record (first name to postcode, added one
 * after the other to the pool). */
static void prefetch_strings(const tsr_resolver *r, uint32_t j) {
  const prec *y = &r->rec[j];
  __builtin_prefetch(S(r, y->first));
  __builtin_prefetch(S(r, y->post));
}

static int level(unsigned pat, int f) { return (int)((pat >> (2 * f)) & 3u); }

/* ----------------------------------------------------------------- EM */

/* Starting values: same person agrees on identity fields, one household
 * agrees on surname and address but not on first name or birth date,
 * unrelated pairs mostly disagree. theta[c][f][level 1..3]. */
static void em_init(tsr_resolver *r) {
  static const double init[NCLASS][NFIELDS][3] = {
      /* disagree, partial, agree */
      {{.03, .07, .90}, {.05, .10, .85}, {.03, .07, .90}, {.05, .01, .94},
       {.40, .10, .50}, {.30, .05, .65}, {.40, .10, .50}, {.40, .10, .50}},
      {{.85, .10, .05}, {.05, .10, .85}, {.90, .08, .02}, {.50, .01, .49},
       {.80, .10, .10}, {.30, .05, .65}, {.10, .10, .80}, {.10, .10, .80}},
      {{.80, .10, .10}, {.60, .20, .20}, {.70, .10, .20}, {.50, .01, .49},
       {.95, .03, .02}, {.95, .03, .02}, {.95, .03, .02}, {.80, .10, .10}}};
  for (int c = 0; c < NCLASS; c++)
    for (int f = 0; f < NFIELDS; f++) {
      r->theta[c][f][0] = 1;
      for (int l = 1; l <= 3; l++) r->theta[c][f][l] = init[c][f][l - 1];
    }
  r->prior[C_M] = 0.1;
  r->prior[C_H] = 0.2;
  r->prior[C_U] = 0.7;
}

static int identity_veto(unsigned pat);
static int household_like(unsigned pat);

/* pi_c * P(pattern | c). Structural zeros: a vetoed pattern (see
 * identity_veto) is never the same person, and a pattern without the same
 * surname and address (or postcode and phone) never the same household, so
 * that those classes are learned from plausible pairs only. */
static void class_lik(const tsr_resolver *r, unsigned pat, double *w) {
  for (int c = 0; c < NCLASS; c++) {
    double p = r->prior[c];
    for (int f = 0; f < NFIELDS; f++) p *= r->theta[c][f][level(pat, f)];
    w[c] = p;
  }
  if (identity_veto(pat)) w[C_M] = 0;
  if (!household_like(pat)) w[C_H] = 0;
}

/* u-probabilities from random record pairs (almost all of them are pairs
 * of unrelated persons): the share of each level among the pairs where the
 * field is present, with add-one smoothing. Deterministic (fixed seed). */
/* The next record of a random pair (xorshift64). */
static uint32_t u_draw(uint64_t *s, size_t n) {
  *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
  return (uint32_t)((*s >> 11) % n);
}

static void estimate_u(tsr_resolver *r) {
  double c[NFIELDS][4];
  memset(c, 0, sizeof c);
  size_t n = r->n, draws = n < 2 ? 0 : n * 4 < 400000 ? n * 4 : 400000;
  uint64_t s = 0x9e3779b97f4a7c15ull;
  /* the draws are made PF_REC ahead of their comparison (kept in a ring)
   * so that both records and their strings are prefetched */
  uint32_t ri[PF_REC], rj[PF_REC];
  for (size_t k = 0; k < draws && k < PF_REC; k++) {
    ri[k] = u_draw(&s, n), rj[k] = u_draw(&s, n);
    prefetch_rec(r, ri[k]), prefetch_rec(r, rj[k]);
  }
  for (size_t k = 0; k < draws; k++) {
    uint32_t i = ri[k % PF_REC], j = rj[k % PF_REC];
    if (k + PF_REC < draws) {
      size_t q = k % PF_REC;
      ri[q] = u_draw(&s, n), rj[q] = u_draw(&s, n);
      prefetch_rec(r, ri[q]), prefetch_rec(r, rj[q]);
    }
    if (k + PF_STR < draws) {
      size_t q = (k + PF_STR) % PF_REC;
      prefetch_strings(r, ri[q]), prefetch_strings(r, rj[q]);
    }
    if (i == j) continue;
    unsigned pat = compare(r, i, j);
    for (int f = 0; f < NFIELDS; f++) c[f][level(pat, f)] += 1;
  }
  for (int f = 0; f < NFIELDS; f++) {
    double t = c[f][1] + c[f][2] + c[f][3] + 3;
    for (int l = 1; l <= 3; l++) r->theta[C_U][f][l] = (c[f][l] + 1) / t;
  }
}

static tsr_status em_fit(tsr_resolver *r, const uint32_t *pats, const double *cnt, size_t npat) {
  double prev = -INFINITY;
  em_init(r);
  estimate_u(r);
  for (int it = 1; it <= r->p.em_max_iter; it++) {
    double acc[NCLASS][NFIELDS][4], tot[NCLASS] = {0}, ll = 0;
    memset(acc, 0, sizeof acc);
    for (size_t k = 0; k < npat; k++) {
      double w[NCLASS], s = 0;
      class_lik(r, pats[k], w);
      for (int c = 0; c < NCLASS; c++) s += w[c];
      if (!(s > 0)) continue;
      ll += cnt[k] * log(s);
      for (int c = 0; c < NCLASS; c++) {
        double q = cnt[k] * w[c] / s;
        tot[c] += q;
        for (int f = 0; f < NFIELDS; f++) acc[c][f][level(pats[k], f)] += q;
      }
    }
    double all = tot[0] + tot[1] + tot[2];
    for (int c = 0; c < NCLASS; c++) {
      r->prior[c] = all > 0 ? fmax(tot[c] / all, 1e-9) : 1.0 / NCLASS;
      if (c == C_U) continue; /* u stays at its random-pair estimate */
      for (int f = 0; f < NFIELDS; f++) {
        double s = 0;
        for (int l = 1; l <= 3; l++) s += acc[c][f][l] + 1e-3; /* small Dirichlet prior */
        for (int l = 1; l <= 3; l++) r->theta[c][f][l] = (acc[c][f][l] + 1e-3) / s;
      }
    }
    r->st.em_iterations = it;
    if (fabs(ll - prev) <= r->p.em_tol * fabs(ll)) {
      r->st.em_converged = 1;
      break;
    }
    prev = ll;
  }
  r->st.prior_match = r->prior[C_M];
  r->st.prior_household = r->prior[C_H];
  return TSR_OK;
}

/* Identity veto: a different first name or birth date is another person,
 * and so is a different surname unless the e-mail or the phone is the same
 * (a change of name); a near first name, surname or birth date (a typo)
 * with no contact field (e-mail, phone, address, postcode) same or similar
 * is a namesake. */
static int identity_veto(unsigned pat) {
  if (level(pat, F_FIRST) == L_DIS || level(pat, F_DOB) == L_DIS) return 1;
  /* a near (not equal) name or birth date needs support from a contact field */
  int near = level(pat, F_DOB) == L_PART || level(pat, F_FIRST) == L_PART || level(pat, F_LAST) == L_PART;
  if (near && level(pat, F_EMAIL) < L_PART && level(pat, F_PHONE) < L_PART &&
      level(pat, F_ADDR) < L_PART && level(pat, F_POST) < L_PART)
    return 1;
  return level(pat, F_LAST) == L_DIS && level(pat, F_EMAIL) != L_AGREE &&
         level(pat, F_PHONE) != L_AGREE;
}

/* The namesake test: a frequency-adjusted Fellegi-Sunter weight for names
 * (Winkler's value-specific u-probabilities; docs/resolve.md "Namesakes").
 *
 * A pair whose e-mail or phone differ, with neither the same or similar
 * (a "conflict"), is where the latent class model is least reliable: a
 * small pool of common names makes namesakes born on the same day a large
 * share of the candidate pairs, EM absorbs them into the same-person class,
 * and weights that are independent given the class no longer tell them
 * apart (on a 100,000-person simulated bundle precision was 0.91). Such a
 * pair is decided by the odds of the classic model over all record pairs:
 *
 *   log odds = log(delta / N) + sum_f log(m_f / u_f)
 *
 * - u_f: the random-pair estimates of each field's level (as in EM);
 * - m_f: anchored estimates, free of namesakes: the share of each level
 *   among the pairs EM matches that share an e-mail or a phone (for the
 *   e-mail, among those sharing the phone; for the phone, among those
 *   sharing the e-mail);
 * - delta = 2 D / N, the same-person partners per record, D the pairs
 *   matched outside conflicts;
 * - same full names: the two name terms become log(m_first m_last / (n_v /
 *   N)), the agreement's u being the share n_v / N of the records that
 *   carry that name: agreement on a rare name is strong evidence, on a
 *   common one weak.
 * Below the match threshold the pair is two namesakes. */
typedef struct namesake_w {
  double lw[NFIELDS][4]; /* log(m / u) by field and level; 0 for missing */
  double log_m_name;     /* log(m_first m_last) of agreeing names */
  double log_delta;      /* log of the same-person partners per record */
  double log_n;          /* log of the records */
  double log_odds_min;   /* log(threshold / (1 - threshold)) */
} namesake_w;

static int is_conflict(unsigned pat) {
  return (level(pat, F_EMAIL) == L_DIS || level(pat, F_PHONE) == L_DIS) &&
         level(pat, F_EMAIL) < L_PART && level(pat, F_PHONE) < L_PART;
}

/* The weights above from the candidate pairs (pattern ppat[k] of pair k,
 * P(same person | pattern) pm). */
static void namesake_init(const tsr_resolver *r, const uint16_t *ppat, size_t np, const double *pm,
                          namesake_w *w) {
  double c[NFIELDS][4], matched = 0;
  memset(c, 0, sizeof c);
  for (size_t k = 0; k < np; k++) {
    unsigned pat = ppat[k];
    if (pm[pat] < r->p.threshold || identity_veto(pat) || is_conflict(pat)) continue;
    matched += 1;
    int e = level(pat, F_EMAIL) == L_AGREE, ph = level(pat, F_PHONE) == L_AGREE;
    if (!e && !ph) continue;
    for (int f = 0; f < NFIELDS; f++) {
      if (f == F_EMAIL && !ph) continue;
      if (f == F_PHONE && !e) continue;
      c[f][level(pat, f)] += 1;
    }
  }
  for (int f = 0; f < NFIELDS; f++) {
    double t = c[f][1] + c[f][2] + c[f][3] + 1.5;
    w->lw[f][L_MISSING] = 0;
    for (int l = 1; l <= 3; l++) w->lw[f][l] = log((c[f][l] + 0.5) / t / r->theta[C_U][f][l]);
  }
  w->log_m_name = w->lw[F_FIRST][L_AGREE] + log(r->theta[C_U][F_FIRST][L_AGREE]) +
                  w->lw[F_LAST][L_AGREE] + log(r->theta[C_U][F_LAST][L_AGREE]);
  double n = r->n > 1 ? (double)r->n : 2;
  w->log_n = log(n);
  w->log_delta = log(fmax(2 * matched / n, 1e-9));
  w->log_odds_min = log(r->p.threshold / (1 - r->p.threshold));
}

/* Same normalised full name (first name and surname). */
static int same_full_name(const tsr_resolver *r, uint32_t i, uint32_t j) {
  const prec *x = &r->rec[i], *y = &r->rec[j];
  return x->nfirst == y->nfirst && x->nlast == y->nlast && x->nlast &&
         !memcmp(S(r, x->first), S(r, y->first), x->nfirst) &&
         !memcmp(S(r, x->last), S(r, y->last), x->nlast);
}

/* 1 when i and j are namesakes by the test above; name_count[i]: the
 * records carrying i's full name. */
static int namesake(const tsr_resolver *r, const namesake_w *w, unsigned pat, uint32_t i, uint32_t j,
                    const uint32_t *name_count) {
  if (!is_conflict(pat)) return 0;
  double lo = w->log_delta - w->log_n;
  int f0 = 0;
  if (same_full_name(r, i, j)) {
    lo += w->log_m_name - (log((double)name_count[i]) - w->log_n);
    f0 = F_LAST + 1;
  }
  for (int f = f0; f < NFIELDS; f++) lo += w->lw[f][level(pat, f)];
  return lo < w->log_odds_min;
}

/* Per record, how many records carry its full name (first name and
 * surname as normalised); NULL on allocation failure. */
static uint32_t *name_counts(const tsr_resolver *r) {
  size_t n = r->n;
  uint64_t *k = tsr__malloc((n ? n : 1) * sizeof *k);
  uint32_t *v = tsr__malloc((n ? n : 1) * sizeof *v), *cnt = tsr__malloc((n ? n : 1) * sizeof *cnt);
  if (!k || !v || !cnt) goto fail;
  for (size_t i = 0; i < n; i++) {
    const prec *x = &r->rec[i];
    k[i] = key_hash(8, S(r, x->first), x->nfirst, S(r, x->last), x->nlast);
    v[i] = (uint32_t)i;
  }
  if (tsr__radix_sort_u64(k, v, n)) goto fail;
  for (size_t a = 0, b; a < n; a = b) {
    for (b = a + 1; b < n && k[b] == k[a]; b++) {
    }
    for (size_t c = a; c < b; c++) cnt[v[c]] = (uint32_t)(b - a);
  }
  tsr__free(k);
  tsr__free(v);
  return cnt;
fail:
  tsr__free(k);
  tsr__free(v);
  tsr__free(cnt);
  return NULL;
}

/* Same surname (or similar) and same address (or similar, or the same
 * postcode and phone): a pair that can be one household. */
static int household_like(unsigned pat) {
  if (level(pat, F_LAST) < L_PART) return 0;
  return level(pat, F_ADDR) >= L_PART ||
         (level(pat, F_POST) == L_AGREE && level(pat, F_PHONE) == L_AGREE);
}

/* The digit runs of two normalised addresses, in order, are the same
 * (house number, flat; "rue du lac 16" and "rue du lac 18" are neighbours,
 * not one address, however similar the strings). */
static int same_numbers(const char *a, size_t na, const char *b, size_t nb) {
  size_t i = 0, j = 0;
  for (;;) {
    while (i < na && !isdigit((unsigned char)a[i])) i++;
    while (j < nb && !isdigit((unsigned char)b[j])) j++;
    if (i == na || j == nb) return i == na && j == nb;
    size_t ei = i, ej = j;
    while (ei < na && isdigit((unsigned char)a[ei])) ei++;
    while (ej < nb && isdigit((unsigned char)b[ej])) ej++;
    if (ei - i != ej - j || memcmp(a + i, b + j, ei - i)) return 0;
    i = ei;
    j = ej;
  }
}

/* A household-like pair whose link names one dwelling: the address
 * similar with the same numbers and the postcodes not different, or the
 * postcode and phone the same. A link on similar addresses alone chains a
 * street into one household. */
static int household_link(const tsr_resolver *r, unsigned pat, uint32_t i, uint32_t j) {
  if (!household_like(pat)) return 0;
  if (level(pat, F_POST) == L_AGREE && level(pat, F_PHONE) == L_AGREE) return 1;
  const prec *x = &r->rec[i], *y = &r->rec[j];
  return level(pat, F_ADDR) >= L_PART && level(pat, F_POST) != L_DIS &&
         same_numbers(S(r, x->addr), x->naddr, S(r, y->addr), y->naddr);
}

/* ---------------------------------------------------------- clustering */

static uint32_t uf_find(uint32_t *par, uint32_t i) {
  while (par[i] != i) {
    par[i] = par[par[i]];
    i = par[i];
  }
  return i;
}

/* Earlier record: join date, then input order. */
static int earlier(const tsr_resolver *r, uint32_t a, uint32_t b) {
  int64_t ja = r->rec[a].join == DAY_NONE ? INT64_MAX : r->rec[a].join;
  int64_t jb = r->rec[b].join == DAY_NONE ? INT64_MAX : r->rec[b].join;
  return ja < jb || (ja == jb && a < b);
}

static void uf_union(const tsr_resolver *r, uint32_t *par, uint32_t a, uint32_t b) {
  a = uf_find(par, a);
  b = uf_find(par, b);
  if (a == b) return;
  if (earlier(r, a, b)) par[b] = a; /* the root is the earliest record */
  else par[a] = b;
}

tsr_status tsr_resolver_run(tsr_resolver *r, tsr_error *err) {
  if (r->ran) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "the resolver already ran");
  r->ran = 1;
  size_t n = r->n;
  memset(&r->st, 0, sizeof r->st);
  r->st.records = n;
  uint64_t *pairs = NULL;
  uint16_t *ppat = NULL;
  uint32_t *par = NULL, *hpar = NULL, *pats = NULL, *names = NULL;
  double *cnt = NULL, *pm = NULL, *ph = NULL;
  uint8_t *pf = NULL;
  size_t np = 0;
  tsr_status st = TSR_ENOMEM;
  double t0 = tsr__now();
  r->canon = tsr__malloc((n ? n : 1) * sizeof *r->canon);
  r->lk = tsr__calloc(n ? n : 1, sizeof *r->lk);
  r->house = tsr__malloc((n ? n : 1) * sizeof *r->house);
  par = tsr__malloc((n ? n : 1) * sizeof *par);
  hpar = tsr__malloc((n ? n : 1) * sizeof *hpar);
  cnt = tsr__calloc(NPAT, sizeof *cnt);
  pats = tsr__malloc(NPAT * sizeof *pats);
  pm = tsr__malloc(NPAT * sizeof *pm);
  ph = tsr__malloc(NPAT * sizeof *ph);
  pf = tsr__malloc(NPAT * sizeof *pf);
  if (!r->canon || !r->lk || !r->house || !par || !hpar || !cnt ||
      !pats || !pm || !ph || !pf)
    goto fail;
  if ((st = make_pairs(r, &pairs, &np))) goto fail;
  st = TSR_ENOMEM;
  if (!(names = name_counts(r))) goto fail;
  r->st.candidate_pairs = np;
  double t1 = tsr__now();
  r->st.seconds_block = t1 - t0;
  ppat = tsr__malloc((np ? np : 1) * sizeof *ppat);
  if (!ppat) goto fail;
  for (size_t k = 0; k < np; k++) {
    /* the second records of the pairs are in random order: their record
     * and then their strings are fetched ahead (comparing waited on memory) */
    if (k + PF_REC < np) prefetch_rec(r, (uint32_t)pairs[k + PF_REC]);
    if (k + PF_STR < np) prefetch_strings(r, (uint32_t)pairs[k + PF_STR]);
    unsigned pat = compare(r, (uint32_t)(pairs[k] >> 32), (uint32_t)pairs[k]);
    ppat[k] = (uint16_t)pat;
    cnt[pat] += 1;
  }
  double t2 = tsr__now();
  r->st.seconds_compare = t2 - t1;
  size_t npat = 0;
  for (uint32_t p = 0; p < NPAT; p++)
    if (cnt[p] > 0) {
      pats[npat] = p;
      cnt[npat++] = cnt[p];
    }
  em_fit(r, pats, cnt, npat);
  for (uint32_t p = 0; p < NPAT; p++) {
    double w[NCLASS];
    class_lik(r, p, w);
    double s = w[0] + w[1] + w[2];
    pm[p] = s > 0 ? w[C_M] / s : 0;
    ph[p] = s > 0 ? w[C_H] / s : 0;
  }
  namesake_w nw;
  namesake_init(r, ppat, np, pm, &nw);
  double t3 = tsr__now();
  r->st.seconds_em = t3 - t2;
  /* links */
  for (size_t i = 0; i < n; i++) par[i] = hpar[i] = (uint32_t)i, r->lk[i].best = UINT32_MAX;
  /* per pattern: may reach the namesake test (reads both records' names)
   * or household_link (their addresses); for prefetching */
  for (uint32_t p = 0; p < NPAT; p++)
    pf[p] = (uint8_t)((pm[p] > 0 && !identity_veto(p) && is_conflict(p) ? PF_NAMES : 0) |
                      (household_like(p) ? PF_ADDR : 0));
  for (size_t k = 0; k < np; k++) {
    if (k + PF_REC < np) {
      uint32_t q = (uint32_t)pairs[k + PF_REC];
      __builtin_prefetch(&r->lk[q]);
      if (pf[ppat[k + PF_REC]] & PF_NAMES) prefetch_rec(r, q);
    }
    if (k + PF_STR < np && (pf[ppat[k + PF_STR]] & PF_NAMES))
      prefetch_strings(r, (uint32_t)pairs[k + PF_STR]);
    uint32_t i = (uint32_t)(pairs[k] >> 32), j = (uint32_t)pairs[k];
    unsigned pat = ppat[k];
    double s = pm[pat];
    int veto = identity_veto(pat) || (s > 0 && namesake(r, &nw, pat, i, j, names));
    if (veto) s = fmin(s, 0.0);
    rlink *li = &r->lk[i], *lj = &r->lk[j];
    if (li->best == UINT32_MAX || s > li->score) li->score = s, li->best = j, li->pat = (uint16_t)pat;
    if (lj->best == UINT32_MAX || s > lj->score) lj->score = s, lj->best = i, lj->pat = (uint16_t)pat;
    if (s >= r->p.threshold) {
      r->st.matched_pairs++;
      uf_union(r, par, i, j);
    }
  }
  for (size_t i = 0; i < n; i++) r->canon[i] = uf_find(par, (uint32_t)i);
  /* households between distinct persons, in pair order (record indices);
   * a link that would make a household of more than HOUSE_MAX persons is
   * refused */
  size_t *members = tsr__calloc(n ? n : 1, sizeof *members);
  if (!members) goto fail;
  for (size_t i = 0; i < n; i++) members[i] = 1;
  for (size_t k = 0; k < np; k++) {
    if (k + PF_REC < np) {
      uint32_t q = (uint32_t)pairs[k + PF_REC];
      __builtin_prefetch(&r->canon[q]);
      if (pf[ppat[k + PF_REC]] & PF_ADDR) prefetch_rec(r, q);
    }
    if (k + PF_STR < np && (pf[ppat[k + PF_STR]] & PF_ADDR))
      prefetch_strings(r, (uint32_t)pairs[k + PF_STR]);
    uint32_t i = (uint32_t)(pairs[k] >> 32), j = (uint32_t)pairs[k];
    unsigned pat = ppat[k];
    if (r->canon[i] == r->canon[j]) continue;
    if (!household_link(r, pat, i, j)) continue;
    if (ph[pat] < r->p.household_threshold &&
        (pm[pat] < r->p.threshold || namesake(r, &nw, pat, i, j, names)))
      continue;
    r->st.household_pairs++;
    uint32_t a = uf_find(hpar, r->canon[i]), b = uf_find(hpar, r->canon[j]);
    if (a == b) continue;
    if (members[a] + members[b] > HOUSE_MAX) {
      r->st.household_refused++;
      continue;
    }
    uf_union(r, hpar, a, b);
    members[uf_find(hpar, a)] = members[a] + members[b];
  }
  /* number households (>= 2 persons) in order of their head's index */
  memset(members, 0, (n ? n : 1) * sizeof *members);
  for (size_t i = 0; i < n; i++)
    if (r->canon[i] == i) members[uf_find(hpar, (uint32_t)i)]++;
  int32_t *hid = (int32_t *)par; /* reuse: root -> household number */
  size_t nh = 0;
  for (size_t i = 0; i < n; i++) hid[i] = -1;
  for (size_t i = 0; i < n; i++)
    if (members[i] >= 2) nh++;
  r->heads = tsr__malloc((nh ? nh : 1) * sizeof *r->heads);
  if (!r->heads) {
    tsr__free(members);
    goto fail;
  }
  nh = 0;
  for (size_t i = 0; i < n; i++)
    if (members[i] >= 2) {
      hid[i] = (int32_t)nh;
      r->heads[nh++] = (uint32_t)i; /* the root is the earliest person */
    }
  for (size_t i = 0; i < n; i++) r->house[i] = hid[uf_find(hpar, r->canon[i])];
  r->nhouse = nh;
  tsr__free(members);
  size_t persons = 0;
  for (size_t i = 0; i < n; i++) persons += r->canon[i] == i;
  r->st.persons = persons;
  r->st.merged_records = n - persons;
  r->st.households = nh;
  r->st.seconds_cluster = tsr__now() - t3;
  st = TSR_OK;
fail:
  tsr__free(pairs);
  tsr__free(ppat);
  tsr__free(names);
  tsr__free(par);
  tsr__free(hpar);
  tsr__free(cnt);
  tsr__free(pats);
  tsr__free(pm);
  tsr__free(ph);
  tsr__free(pf);
  if (st) return tsr_error_set(err, st, NULL, 0, 0, NULL, "%s", tsr_strerror(st));
  return TSR_OK;
}

/* ------------------------------------------------------------ results */

void tsr_resolver_stats(const tsr_resolver *r, tsr_resolve_stats *s) {
  *s = r->st;
  s->records = r->n;
}
size_t tsr_resolver_count(const tsr_resolver *r) { return r->n; }
const char *tsr_resolver_id(const tsr_resolver *r, size_t i) { return S(r, r->rec[i].id); }
size_t tsr_resolver_canonical(const tsr_resolver *r, size_t i) { return r->ran ? r->canon[i] : i; }
double tsr_resolver_score(const tsr_resolver *r, size_t i) { return r->ran ? r->lk[i].score : 0; }
ptrdiff_t tsr_resolver_household(const tsr_resolver *r, size_t i) { return r->ran ? r->house[i] : -1; }
size_t tsr_resolver_household_head(const tsr_resolver *r, size_t h) { return r->heads[h]; }
const char *tsr_resolver_products(const tsr_resolver *r, size_t i) { return S(r, r->rec[i].products); }
size_t tsr_resolver_nfields(void) { return NFIELDS; }
const char *tsr_resolver_field_name(size_t f) { return f < NFIELDS ? field_names[f] : ""; }

void tsr_resolver_field_probs(const tsr_resolver *r, size_t f, int lv, double *m, double *h, double *u) {
  int ok = f < NFIELDS && lv >= 1 && lv <= 3;
  if (m) *m = ok ? r->theta[C_M][f][lv] : 0;
  if (h) *h = ok ? r->theta[C_H][f][lv] : 0;
  if (u) *u = ok ? r->theta[C_U][f][lv] : 0;
}

/* Appends s to buf[0..cap) at *o as snprintf(buf + *o, cap - *o, "%s", s)
 * and the PUT below would (truncated, NUL-terminated, *o at most cap - 1). */
static void put_str(char *buf, size_t cap, size_t *o, const char *s) {
  size_t n = strlen(s), room = cap - 1 - *o;
  if (n > room) n = room;
  memcpy(buf + *o, s, n);
  *o += n;
  buf[*o] = '\0';
}

char *tsr_resolver_reasons(const tsr_resolver *r, size_t i, char *buf, size_t cap) {
  static const char *const word[4] = {"missing", "different", "similar", "same"};
  size_t o = 0;
  if (!cap) return buf;
  buf[0] = '\0';
  if (!r->ran || i >= r->n) return buf;
#define PUT(...)                                                    \
  do {                                                              \
    int w_ = snprintf(buf + o, cap - o, __VA_ARGS__);               \
    o = w_ < 0 ? o : (size_t)w_ >= cap - o ? cap - 1 : o + (size_t)w_; \
  } while (0)
  if (r->lk[i].best == UINT32_MAX) {
    put_str(buf, cap, &o, "distinct: no candidate record");
    return buf;
  }
  size_t c = r->canon[i];
  if (c != i) put_str(buf, cap, &o, "merged into the earliest record");
  else if (r->canon[r->lk[i].best] == i) put_str(buf, cap, &o, "canonical: earliest record of its person");
  else put_str(buf, cap, &o, "distinct");
  double sc = r->lk[i].score;
  if (sc == 0 && !signbit(sc)) put_str(buf, cap, &o, " (strongest link P=0.000:");
  else PUT(" (strongest link P=%.3f:", sc);
  for (int f = 0; f < NFIELDS; f++) {
    if (f) put_str(buf, cap, &o, ";");
    put_str(buf, cap, &o, " ");
    put_str(buf, cap, &o, word[level(r->lk[i].pat, f)]);
    put_str(buf, cap, &o, " ");
    put_str(buf, cap, &o, field_names[f]);
  }
  put_str(buf, cap, &o, ")");
  if (r->house[i] >= 0) put_str(buf, cap, &o, "; household member");
#undef PUT
  return buf;
}
