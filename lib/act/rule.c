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

enum { F_FREQ, F_REC, F_T, F_MON, F_REV, F_PALIVE, F_CLV, F_SEG, NF };
static const char *const fields[NF] = {"frequency", "recency", "T", "monetary_value", "revenue",
                                       "p_alive", "clv", "segment"};
enum { OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE };

typedef struct term {
  int field, op, or_before; /* or_before: a new conjunction starts here */
  double num;
  char word[64];
} term;

struct tsr_offer_rule {
  size_t n;
  term t[];
};

void tsr_offer_rule_free(tsr_offer_rule *r) { tsr__free(r); }

#define MAX_TERMS 32

static tsr_status perr(tsr_error *err, const char *text, const char *at, const char *fmt, const char *a) {
  tsr_status st = tsr_error_set(err, TSR_EPARSE, NULL, 0, (int64_t)(at - text) + 1, "eligible", fmt, a);
  return st;
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
    int f;
    for (f = 0; f < NF; f++)
      if (strlen(fields[f]) == (size_t)(p - s) && !strncmp(fields[f], s, (size_t)(p - s))) break;
    if (f == NF) {
      char w[64];
      snprintf(w, sizeof w, "%.*s", (int)(p - s > 40 ? 40 : p - s), s);
      if (!*w) return perr(err, text, s, "expected a field name, got '%s'", *s ? (char[2]){*s, 0} : "end of rule");
      return perr(err, text, s, "unknown field '%s' (expected frequency, recency, T, monetary_value, revenue, p_alive, clv or segment)", w);
    }
    c->field = f;
    while (isspace((unsigned char)*p)) p++;
    const char *o = p;
    if (p[0] == '<' && p[1] == '=') c->op = OP_LE, p += 2;
    else if (p[0] == '>' && p[1] == '=') c->op = OP_GE, p += 2;
    else if (p[0] == '!' && p[1] == '=') c->op = OP_NE, p += 2;
    else if (p[0] == '=' && p[1] == '=') c->op = OP_EQ, p += 2;
    else if (*p == '<') c->op = OP_LT, p++;
    else if (*p == '>') c->op = OP_GT, p++;
    else if (*p == '=') c->op = OP_EQ, p++;
    else return perr(err, text, o, "expected an operator (< <= > >= = !=) after %s", fields[f]);
    while (isspace((unsigned char)*p)) p++;
    const char *v = p;
    while (*p && !isspace((unsigned char)*p)) p++;
    if (p == v) return perr(err, text, v, "expected a value after the operator%s", "");
    if (f == F_SEG) {
      if (c->op != OP_EQ && c->op != OP_NE) return perr(err, text, o, "segment: only = and != apply%s", "");
      if ((size_t)(p - v) >= sizeof c->word) return perr(err, text, v, "segment name longer than %s bytes", "63");
      memcpy(c->word, v, (size_t)(p - v));
      c->word[p - v] = '\0';
    } else {
      char buf[64], *end = NULL;
      snprintf(buf, sizeof buf, "%.*s", (int)(p - v > 60 ? 60 : p - v), v);
      c->num = strtod(buf, &end);
      if (end == buf || *end || !isfinite(c->num)) return perr(err, text, v, "expected a number, got '%s'", buf);
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

static int term_eval(const term *c, const tsr_offer_profile *p) {
  if (c->field == F_SEG) {
    if (!p->segment) return 0;
    int eq = !strcmp(p->segment, c->word);
    return c->op == OP_EQ ? eq : !eq;
  }
  const double v[] = {p->frequency, p->recency, p->T, p->monetary_value, p->revenue, p->p_alive, p->clv};
  double x = v[c->field];
  if (isnan(x)) return 0;
  switch (c->op) {
    case OP_LT: return x < c->num;
    case OP_LE: return x <= c->num;
    case OP_GT: return x > c->num;
    case OP_GE: return x >= c->num;
    case OP_EQ: return x == c->num;
    case OP_NE: return x != c->num;
  }
  return 0;
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
