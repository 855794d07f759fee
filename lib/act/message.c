/*
 * message.c - message templates (tessera/message.h): parse into a small
 * token list per block, render with fields, defaults, conditionals, plural
 * forms and channel rules.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "tessera/message.h"

static const char *const ch_names[3] = {"sms", "push", "email"};
static const size_t ch_limit[3] = {160, 120, 2000};

const char *tsr_channel_name(tsr_channel c) { return (unsigned)c < 3 ? ch_names[c] : "unknown"; }
size_t tsr_channel_limit(tsr_channel c) { return (unsigned)c < 3 ? ch_limit[c] : 0; }
int tsr_channel_personal(tsr_channel c) { return c != TSR_CHANNEL_PUSH; }

tsr_status tsr_channel_parse(const char *s, tsr_channel *c, tsr_error *err) {
  for (int i = 0; i < 3; i++)
    if (s && !strcmp(s, ch_names[i])) {
      *c = (tsr_channel)i;
      return TSR_OK;
    }
  return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "channel", "expected sms, push or email, got '%.40s'", s ? s : "");
}

enum { F_FIRST, F_PRODUCT, F_SEGMENT, F_TIER, F_NBP, F_OFFER, F_NPROD, NFIELDS };
static const char *const fnames[NFIELDS] = {"first_name", "product", "segment", "clv_tier",
                                            "next_best_product", "offer_name", "n_products"};
/* Documented defaults (docs/messages.md). */
static const char *const fdefault[NFIELDS] = {"there", "our offer", "valued customer", "standard",
                                              "our other products", "this offer", "0"};

enum { T_TEXT, T_FIELD, T_IF, T_ELSE, T_END, T_PLURAL };
typedef struct tok {
  int kind, field, op; /* op: 0 present, 1 =, 2 != */
  size_t a, alen;      /* T_TEXT: text; T_FIELD: default text (alen 0 = none, a = SIZE_MAX) */
  size_t b, blen;      /* T_IF: value; T_PLURAL: one (a) / other (b) */
  int has_def;
} tok;

typedef struct block {
  char offer[128], segment[128], variant[64];
  int channel;
  size_t t0, nt; /* tokens */
} block;

struct tsr_msg_templates {
  char *text; /* owned copy of the literal pieces */
  size_t ntext;
  tok *t;
  size_t nt, capt;
  block *b;
  size_t nb, capb;
};

void tsr_msg_templates_free(tsr_msg_templates *t) {
  if (!t) return;
  tsr__free(t->text);
  tsr__free(t->t);
  tsr__free(t->b);
  tsr__free(t);
}
size_t tsr_msg_templates_count(const tsr_msg_templates *t) { return t->nb; }
const char *tsr_msg_variant(const tsr_msg_templates *t, size_t i) { return i < t->nb ? t->b[i].variant : NULL; }

static tsr_status add_tok(tsr_msg_templates *T, const tok *k, tsr_error *err) {
  if (T->nt == T->capt && tsr__grow((void **)&T->t, &T->capt, T->nt + 1, sizeof *T->t))
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  T->t[T->nt++] = *k;
  return TSR_OK;
}

/* Appends s[0..n) to the literal store; returns its offset. */
static size_t put_text(tsr_msg_templates *T, const char *s, size_t n) {
  size_t at = T->ntext;
  memcpy(T->text + at, s, n);
  T->ntext += n;
  return at;
}

static int field_of(const char *s, size_t n) {
  for (int f = 0; f < NFIELDS; f++)
    if (strlen(fnames[f]) == n && !strncmp(fnames[f], s, n)) return f;
  return -1;
}

#define PERR(line, col, ...) tsr_error_set(err, TSR_EPARSE, name, (int64_t)(line), (int64_t)(col), NULL, __VA_ARGS__)

/* Parses the header "[k=v ...]" of line `line` into B. */
static tsr_status parse_header(const char *s, size_t n, int64_t line, const char *name, block *B,
                               tsr_error *err) {
  memset(B, 0, sizeof *B);
  strcpy(B->offer, "*");
  strcpy(B->segment, "*");
  strcpy(B->variant, "1");
  B->channel = -1;
  size_t i = 1;
  while (i < n && s[i] != ']') {
    while (i < n && s[i] == ' ') i++;
    size_t k0 = i;
    while (i < n && s[i] != '=' && s[i] != ' ' && s[i] != ']') i++;
    if (i >= n || s[i] != '=') return PERR(line, k0 + 1, "template header: expected KEY=VALUE");
    size_t k1 = i++, v0 = i;
    while (i < n && s[i] != ' ' && s[i] != ']') i++;
    size_t vl = i - v0;
    char v[128];
    if (vl == 0 || vl >= sizeof v) return PERR(line, v0 + 1, "template header: value of 1 to 127 bytes expected");
    memcpy(v, s + v0, vl);
    v[vl] = '\0';
    size_t kl = k1 - k0;
    if (kl == 5 && !strncmp(s + k0, "offer", 5)) strcpy(B->offer, v);
    else if (kl == 7 && !strncmp(s + k0, "segment", 7)) strcpy(B->segment, v);
    else if (kl == 7 && !strncmp(s + k0, "variant", 7)) snprintf(B->variant, sizeof B->variant, "%.63s", v);
    else if (kl == 7 && !strncmp(s + k0, "channel", 7)) {
      tsr_channel c;
      if (tsr_channel_parse(v, &c, NULL)) return PERR(line, v0 + 1, "channel: expected sms, push or email, got '%s'", v);
      B->channel = (int)c;
    } else {
      return PERR(line, k0 + 1, "template header: unknown key '%.*s' (expected offer, segment, channel, variant)", (int)kl, s + k0);
    }
  }
  if (i >= n) return PERR(line, n + 1, "template header: missing ']'");
  if (B->channel < 0) return PERR(line, 1, "template header: channel= is required");
  return TSR_OK;
}

/* Tokenises one text line (ends without the newline) into T. depth tracks
 * open {if}s. */
static tsr_status parse_text(tsr_msg_templates *T, const char *s, size_t n, int64_t line,
                             const char *name, int *depth, tsr_error *err) {
  size_t i = 0, lit = 0, lit0 = T->ntext;
  tsr_status st;
#define FLUSH()                                                      \
  do {                                                               \
    if (T->ntext > lit0) {                                           \
      tok k = {T_TEXT, 0, 0, lit0, T->ntext - lit0, 0, 0, 0};        \
      if ((st = add_tok(T, &k, err))) return st;                     \
    }                                                                \
    lit0 = T->ntext;                                                 \
  } while (0)
  (void)lit;
  while (i < n) {
    if (s[i] == '{' && i + 1 < n && s[i + 1] == '{') {
      put_text(T, "{", 1);
      i += 2;
      continue;
    }
    if (s[i] == '}' && i + 1 < n && s[i + 1] == '}') {
      put_text(T, "}", 1);
      i += 2;
      continue;
    }
    if (s[i] == '}') return PERR(line, i + 1, "unmatched '}' (write '}}' for a brace)");
    if (s[i] != '{') {
      put_text(T, s + i, 1);
      i++;
      continue;
    }
    size_t o = i, c = i + 1;
    while (c < n && s[c] != '}') c++;
    if (c >= n) return PERR(line, o + 1, "unterminated '{'");
    FLUSH();
    const char *in = s + o + 1;
    size_t il = c - o - 1;
    tok k;
    memset(&k, 0, sizeof k);
    if (il >= 3 && !strncmp(in, "if ", 3)) {
      const char *e = in + 3;
      size_t el = il - 3, fl = 0;
      while (fl < el && e[fl] != '=' && e[fl] != '!') fl++;
      k.kind = T_IF;
      k.field = field_of(e, fl);
      if (k.field < 0) return PERR(line, o + 5, "unknown field '%.*s'", (int)fl, e);
      if (fl < el) {
        size_t vs;
        if (e[fl] == '!' && fl + 1 < el && e[fl + 1] == '=') k.op = 2, vs = fl + 2;
        else if (e[fl] == '=') k.op = 1, vs = fl + 1;
        else return PERR(line, o + 5 + fl, "expected = or != in {if}");
        k.b = put_text(T, e + vs, el - vs);
        k.blen = el - vs;
        lit0 = T->ntext;
      }
      ++*depth;
    } else if (il == 4 && !strncmp(in, "else", 4)) {
      if (*depth <= 0) return PERR(line, o + 1, "{else} without {if}");
      k.kind = T_ELSE;
    } else if (il == 3 && !strncmp(in, "end", 3)) {
      if (*depth <= 0) return PERR(line, o + 1, "{end} without {if}");
      k.kind = T_END;
      --*depth;
    } else if (il >= 7 && !strncmp(in, "plural ", 7)) {
      /* {plural field one other} */
      const char *e = in + 7, *end = in + il;
      const char *w[3];
      size_t wl[3];
      int nw = 0;
      while (e < end && nw < 3) {
        while (e < end && *e == ' ') e++;
        if (e >= end) break;
        w[nw] = e;
        while (e < end && *e != ' ') e++;
        wl[nw] = (size_t)(e - w[nw]);
        nw++;
      }
      if (nw != 3) return PERR(line, o + 1, "expected {plural FIELD ONE OTHER}");
      k.kind = T_PLURAL;
      k.field = field_of(w[0], wl[0]);
      if (k.field < 0) return PERR(line, (size_t)(w[0] - s) + 1, "unknown field '%.*s'", (int)wl[0], w[0]);
      k.a = put_text(T, w[1], wl[1]);
      k.alen = wl[1];
      k.b = put_text(T, w[2], wl[2]);
      k.blen = wl[2];
      lit0 = T->ntext;
    } else {
      size_t fl = 0;
      while (fl < il && in[fl] != '|') fl++;
      k.kind = T_FIELD;
      k.field = field_of(in, fl);
      if (k.field < 0)
        return PERR(line, o + 2, "unknown field '%.*s' (expected first_name, product, segment, clv_tier, next_best_product, offer_name or n_products)", (int)fl, in);
      if (fl < il) {
        k.has_def = 1;
        k.a = put_text(T, in + fl + 1, il - fl - 1);
        k.alen = il - fl - 1;
        lit0 = T->ntext;
      }
    }
    if ((st = add_tok(T, &k, err))) return st;
    i = c + 1;
  }
  FLUSH();
#undef FLUSH
  return TSR_OK;
}

tsr_status tsr_msg_templates_parse(const char *text, size_t len, const char *name,
                                   tsr_msg_templates **out, tsr_error *err) {
  *out = NULL;
  if (len > ((size_t)1 << 24)) return tsr_error_set(err, TSR_ELIMIT, name, 0, 0, NULL, "template file larger than 16 MiB");
  tsr_msg_templates *T = tsr__calloc(1, sizeof *T);
  if (!T || !(T->text = tsr__malloc(len + 1))) {
    tsr__free(T);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  tsr_status st = TSR_OK;
  int64_t line = 0;
  int depth = 0;
  block *cur = NULL;
  int64_t cur_line = 0;
  for (size_t p = 0; p < len && st == TSR_OK;) {
    size_t e = p;
    while (e < len && text[e] != '\n') e++;
    size_t n = e - p;
    if (n && text[p + n - 1] == '\r') n--;
    line++;
    const char *s = text + p;
    p = e + 1;
    if (n && s[0] == '[') {
      if (cur && depth) {
        st = PERR(cur_line, 1, "{if} without {end} in this template");
        break;
      }
      if (cur) cur->nt = T->nt - cur->t0;
      if (T->nb == T->capb && tsr__grow((void **)&T->b, &T->capb, T->nb + 1, sizeof *T->b)) {
        st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
        break;
      }
      cur = &T->b[T->nb];
      if ((st = parse_header(s, n, line, name, cur, err))) break;
      cur->t0 = T->nt;
      cur_line = line;
      T->nb++;
      depth = 0;
      continue;
    }
    if (!cur) {
      size_t k = 0;
      while (k < n && isspace((unsigned char)s[k])) k++;
      if (k == n || s[k] == '#') continue;
      st = PERR(line, k + 1, "text before the first template header [offer=... channel=...]");
      break;
    }
    if (n && s[0] == '#' && cur->t0 == T->nt) continue; /* comment right after a header */
    if (T->nt > cur->t0) { /* newline between lines of one template */
      tok k = {T_TEXT, 0, 0, put_text(T, "\n", 1), 1, 0, 0, 0};
      if ((st = add_tok(T, &k, err))) break;
    }
    st = parse_text(T, s, n, line, name, &depth, err);
  }
  if (st == TSR_OK && cur) {
    if (depth) st = PERR(cur_line, 1, "{if} without {end} in this template");
    cur->nt = T->nt - cur->t0;
  }
  if (st == TSR_OK && T->nb == 0) st = tsr_error_set(err, TSR_EPARSE, name, 0, 0, NULL, "no templates (a template starts with [offer=ID segment=NAME channel=sms|push|email])");
  if (st) {
    tsr_msg_templates_free(T);
    return st;
  }
  *out = T;
  return TSR_OK;
}

size_t tsr_msg_match(const tsr_msg_templates *t, const char *offer, const char *segment, tsr_channel ch,
                     size_t *idx, size_t cap) {
  for (int level = 0; level < 4; level++) {
    size_t k = 0;
    for (size_t i = 0; i < t->nb; i++) {
      const block *b = &t->b[i];
      if (b->channel != (int)ch) continue;
      int eo = offer && !strcmp(b->offer, offer), ao = !strcmp(b->offer, "*");
      int es = segment && !strcmp(b->segment, segment), as = !strcmp(b->segment, "*");
      int ok = level == 0 ? eo && es : level == 1 ? eo && as : level == 2 ? ao && es : ao && as;
      if (ok && k < cap) idx[k++] = i;
    }
    if (k) return k;
  }
  return 0;
}

/* The value of field f (NULL = missing), honouring the channel's rule. */
static const char *fval(const tsr_msg_fields *f, int field, tsr_channel ch, char *num) {
  switch (field) {
    case F_FIRST: return tsr_channel_personal(ch) && f->first_name && *f->first_name ? f->first_name : NULL;
    case F_PRODUCT: return f->product && *f->product ? f->product : NULL;
    case F_SEGMENT: return f->segment && *f->segment ? f->segment : NULL;
    case F_TIER: return f->clv_tier && *f->clv_tier ? f->clv_tier : NULL;
    case F_NBP: return f->next_best_product && *f->next_best_product ? f->next_best_product : NULL;
    case F_OFFER: return f->offer_name && *f->offer_name ? f->offer_name : NULL;
    case F_NPROD:
      if (isnan(f->n_products)) return NULL;
      snprintf(num, 32, "%.0f", f->n_products);
      return num;
  }
  return NULL;
}

static size_t utf8_len(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
  return n;
}

tsr_status tsr_msg_render(const tsr_msg_templates *t, size_t i, tsr_channel ch, const tsr_msg_fields *f,
                          char *out, size_t cap, tsr_error *err) {
  if (i >= t->nb || cap == 0) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "template %zu: no such template", i);
  const block *b = &t->b[i];
  size_t o = 0;
  int skip[64] = {0}, taken[64] = {0}, d = 0, over = 0;
  char num[32];
#define PUT(p, n)                                        \
  do {                                                   \
    size_t n_ = (n);                                     \
    if (o + n_ + 1 > cap) over = 1;                      \
    else {                                               \
      memcpy(out + o, (p), n_);                          \
      o += n_;                                           \
    }                                                    \
  } while (0)
  for (size_t k = b->t0; k < b->t0 + b->nt; k++) {
    const tok *x = &t->t[k];
    int off = d > 0 && skip[d - 1];
    switch (x->kind) {
      case T_IF: {
        const char *v = fval(f, x->field, ch, num);
        int c = x->op == 0 ? v != NULL
                : x->op == 1 ? v && strlen(v) == x->blen && !strncmp(v, t->text + x->b, x->blen)
                             : !(v && strlen(v) == x->blen && !strncmp(v, t->text + x->b, x->blen));
        if (d < 64) {
          skip[d] = off || !c;
          taken[d] = off ? 1 : c;
        }
        d++;
        break;
      }
      case T_ELSE:
        if (d > 0 && d <= 64) skip[d - 1] = (d > 1 && skip[d - 2]) || taken[d - 1];
        break;
      case T_END:
        if (d > 0) d--;
        break;
      default:
        if (off) break;
        if (x->kind == T_TEXT) {
          PUT(t->text + x->a, x->alen);
        } else if (x->kind == T_FIELD) {
          const char *v = fval(f, x->field, ch, num);
          if (v) PUT(v, strlen(v));
          else if (x->has_def) PUT(t->text + x->a, x->alen);
          else PUT(fdefault[x->field], strlen(fdefault[x->field]));
        } else if (x->kind == T_PLURAL) {
          const char *v = fval(f, x->field, ch, num);
          int one = v && strcmp(v, "1") == 0;
          if (one) PUT(t->text + x->a, x->alen);
          else PUT(t->text + x->b, x->blen);
        }
    }
  }
#undef PUT
  out[o] = '\0';
  if (ch != TSR_CHANNEL_EMAIL) /* one line */
    for (size_t k = 0; k < o; k++)
      if (out[k] == '\n' || out[k] == '\r') out[k] = ' ';
  /* trim */
  while (o && isspace((unsigned char)out[o - 1])) out[--o] = '\0';
  size_t lim = tsr_channel_limit(ch), chars = utf8_len(out);
  if (over || chars > lim)
    return tsr_error_set(err, TSR_ELIMIT, NULL, 0, 0, NULL, "template %s (variant %s): %zu characters, the %s limit is %zu",
                         b->offer, b->variant, over ? cap : chars, tsr_channel_name(ch), lim);
  return TSR_OK;
}
