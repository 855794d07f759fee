/*
 * rule.c - eligibility rules of offers (tessera/bandit.h): a disjunction of
 * conjunctions of comparisons "FIELD OP VALUE".
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tessera/bandit.h"

/* number fields first (through F_NUM), then word fields, then holds */
enum { F_FREQ, F_REC, F_T, F_MON, F_REV, F_PALIVE, F_CLV, F_AGE, F_RISK, F_DIGITAL, F_TENURE, F_NPROD,
       F_NUM, F_SEG = F_NUM, F_INCOME, F_STAGE, F_RISKBAND, F_CHANNEL, F_HOLDS, NF };
static const char *const fields[NF] = {"frequency", "recency", "T", "monetary_value", "revenue",
                                       "p_alive", "clv", "age", "risk_score", "digital_share",
                                       "tenure_years", "product_count", "segment", "income_band",
                                       "life_stage", "risk_band", "channel_preference", "holds"};
enum { OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE, OP_IN };

#define MAX_WORDS 16

typedef struct term {
  int field, op, or_before; /* or_before: a new conjunction starts here */
  int neg;                  /* preceded by `not` */
  double num;
  int nwords;
  char word[MAX_WORDS][64];
} term;

struct tsr_offer_rule {
  size_t n;
  term t[];
};

void tsr_offer_rule_free(tsr_offer_rule *r) { tsr__free(r); }

void tsr_offer_profile_init(tsr_offer_profile *p) {
  memset(p, 0, sizeof *p);
  p->frequency = p->recency = p->T = p->monetary_value = p->revenue = p->p_alive = p->clv = NAN;
  p->age = p->risk_score = p->digital_share = p->tenure_years = p->product_count = NAN;
}

#define MAX_TERMS 32

static tsr_status perr(tsr_error *err, const char *text, const char *at, const char *fmt, const char *a) {
  tsr_status st = tsr_error_set(err, TSR_EPARSE, NULL, 0, (int64_t)(at - text) + 1, "eligible", fmt, a);
  return st;
}

static int is_word(const char *s, size_t n, const char *w) { return strlen(w) == n && !strncmp(s, w, n); }

/* One word value at *pp (letters, digits, _ - . /) into w; 0 when empty or too long. */
static const char *word_at(const char **pp, char w[64]) {
  const char *s = *pp, *p = s;
  while (*p && (isalnum((unsigned char)*p) || strchr("_-./", *p))) p++;
  if (p == s || p - s >= 64) return s;
  memcpy(w, s, (size_t)(p - s));
  w[p - s] = '\0';
  *pp = p;
  return NULL;
}

tsr_status tsr_offer_rule_parse(const char *text, tsr_offer_rule **out, tsr_error *err) {
  *out = NULL;
  term t[MAX_TERMS];
  size_t n = 0;
  const char *p = text ? text : "";
  int want_or = 0;
  for (;;) {
    while (isspace((unsigned char)*p)) p++;
    if (!*p) break;
    if (n == MAX_TERMS) return perr(err, text, p, "more than %s comparisons", "32");
    term *c = &t[n];
    memset(c, 0, sizeof *c);
    c->or_before = want_or;
    const char *s = p;
    while (isalnum((unsigned char)*p) || *p == '_') p++;
    if (is_word(s, (size_t)(p - s), "not")) {
      c->neg = 1;
      while (isspace((unsigned char)*p)) p++;
      s = p;
      while (isalnum((unsigned char)*p) || *p == '_') p++;
    }
    int f;
    for (f = 0; f < NF; f++)
      if (strlen(fields[f]) == (size_t)(p - s) && !strncmp(fields[f], s, (size_t)(p - s))) break;
    if (f == NF) {
      char w[64];
      snprintf(w, sizeof w, "%.*s", (int)(p - s > 40 ? 40 : p - s), s);
      if (!*w) return perr(err, text, s, "expected a field name, got '%s'", *s ? (char[2]){*s, 0} : "end of rule");
      return perr(err, text, s, "unknown field '%s' (expected frequency, recency, T, monetary_value, revenue, p_alive, "
                                     "clv, age, risk_score, digital_share, tenure_years, product_count, segment, "
                                     "income_band, life_stage, risk_band, channel_preference or holds)", w);
    }
    c->field = f;
    while (isspace((unsigned char)*p)) p++;
    const char *o = p;
    if (f == F_HOLDS) {
      c->op = OP_EQ;
      c->nwords = 1;
      if (word_at(&p, c->word[0])) return perr(err, text, p, "expected a product name after holds%s", "");
    } else if (f > F_NUM && o[0] == 'i' && o[1] == 'n' && (isspace((unsigned char)o[2]) || o[2] == '(')) {
      c->op = OP_IN;
      p += 2;
      while (isspace((unsigned char)*p)) p++;
      if (*p != '(') return perr(err, text, p, "expected '(' after in%s", "");
      for (p++;;) {
        while (isspace((unsigned char)*p)) p++;
        if (c->nwords == MAX_WORDS) return perr(err, text, p, "more than %s words in a list", "16");
        if (word_at(&p, c->word[c->nwords])) return perr(err, text, p, "expected a word (up to 63 bytes) in the list of %s", fields[f]);
        c->nwords++;
        while (isspace((unsigned char)*p)) p++;
        if (*p == ')') break;
        if (*p != ',') return perr(err, text, p, "expected ',' or ')' in the list of %s", fields[f]);
        p++;
      }
      p++;
    } else if (p[0] == '<' && p[1] == '=') c->op = OP_LE, p += 2;
    else if (p[0] == '>' && p[1] == '=') c->op = OP_GE, p += 2;
    else if (p[0] == '!' && p[1] == '=') c->op = OP_NE, p += 2;
    else if (p[0] == '=' && p[1] == '=') c->op = OP_EQ, p += 2;
    else if (*p == '<') c->op = OP_LT, p++;
    else if (*p == '>') c->op = OP_GT, p++;
    else if (*p == '=') c->op = OP_EQ, p++;
    else return perr(err, text, o, f >= F_NUM ? "expected an operator (= != in) after %s"
                                               : "expected an operator (< <= > >= = !=) after %s", fields[f]);
    if (c->op != OP_IN && f != F_HOLDS) { /* else the words are read */
      while (isspace((unsigned char)*p)) p++;
      const char *v = p;
      while (*p && !isspace((unsigned char)*p)) p++;
      if (p == v) return perr(err, text, v, "expected a value after the operator%s", "");
      if (f >= F_NUM) {
        if (c->op != OP_EQ && c->op != OP_NE) return perr(err, text, o, "%s: only =, != and in apply", fields[f]);
        if ((size_t)(p - v) >= sizeof c->word[0]) return perr(err, text, v, "%s value longer than 63 bytes", fields[f]);
        memcpy(c->word[0], v, (size_t)(p - v));
        c->word[0][p - v] = '\0';
        c->nwords = 1;
      } else {
        char buf[64], *end = NULL;
        snprintf(buf, sizeof buf, "%.*s", (int)(p - v > 60 ? 60 : p - v), v);
        c->num = strtod(buf, &end);
        if (end == buf || *end || !isfinite(c->num)) return perr(err, text, v, "expected a number, got '%s'", buf);
      }
    }
    n++;
    while (isspace((unsigned char)*p)) p++;
    if (!*p) break;
    const char *k = p;
    while (isalpha((unsigned char)*p)) p++;
    if ((size_t)(p - k) == 3 && !strncmp(k, "and", 3)) want_or = 0;
    else if ((size_t)(p - k) == 2 && !strncmp(k, "or", 2)) want_or = 1;
    else return perr(err, text, k, "expected 'and' or 'or'%s", "");
    while (isspace((unsigned char)*p)) p++;
    if (!*p) return perr(err, text, p, "expected a comparison after '%s'", want_or ? "or" : "and");
  }
  tsr_offer_rule *r = tsr__malloc(sizeof *r + n * sizeof(term));
  if (!r) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  r->n = n;
  memcpy(r->t, t, n * sizeof(term));
  *out = r;
  return TSR_OK;
}

/* 1 when product w is among the ';'-separated list */
static int holds(const char *list, const char *w) {
  size_t n = strlen(w);
  for (const char *p = list; *p;) {
    const char *e = strchr(p, ';');
    size_t m = e ? (size_t)(e - p) : strlen(p);
    if (m == n && !strncmp(p, w, n)) return 1;
    if (!e) break;
    p = e + 1;
  }
  return 0;
}

/* 1 true, 0 false, -1 unknown */
static int term_value(const term *c, const tsr_offer_profile *p) {
  if (c->field >= F_NUM) {
    const char *const w[] = {p->segment, p->income_band, p->life_stage, p->risk_band, p->channel_preference,
                             p->products};
    const char *x = w[c->field - F_NUM];
    if (!x) return -1;
    if (c->field == F_HOLDS) return holds(x, c->word[0]);
    int eq = 0;
    for (int i = 0; i < c->nwords && !eq; i++) eq = !strcmp(x, c->word[i]);
    return c->op == OP_NE ? !eq : eq;
  }
  const double v[] = {p->frequency, p->recency, p->T, p->monetary_value, p->revenue, p->p_alive, p->clv,
                      p->age, p->risk_score, p->digital_share, p->tenure_years, p->product_count};
  double x = v[c->field];
  if (isnan(x)) return -1;
  switch (c->op) {
    case OP_LT: return x < c->num;
    case OP_LE: return x <= c->num;
    case OP_GT: return x > c->num;
    case OP_GE: return x >= c->num;
    case OP_EQ: return x == c->num;
    case OP_NE: return x != c->num;
  }
  return -1;
}

static int term_eval(const term *c, const tsr_offer_profile *p) {
  int v = term_value(c, p);
  return v < 0 ? 0 : c->neg ? !v : v;
}

int tsr_offer_rule_eval(const tsr_offer_rule *r, const tsr_offer_profile *p) {
  if (!r || r->n == 0) return 1;
  int conj = 1;
  for (size_t i = 0; i < r->n; i++) {
    if (r->t[i].or_before) {
      if (conj) return 1;
      conj = 1;
    }
    if (conj) conj = term_eval(&r->t[i], p);
  }
  return conj;
}
