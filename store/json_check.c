/*
 * json_check.c - a quick yes for JSON text that jansson accepts.
 *
 * The store checks every JSON column (customers.extra: one profile per
 * customer) with json_loads(JSON_DECODE_ANY | JSON_ALLOW_NUL), which builds
 * and frees a tree of values: most of the CPU of storing a bundle run.
 * tsr__json_surely_valid() reads the text once without allocating and
 * says 1 only for text jansson is certain to accept: RFC 8259 JSON with
 * strict UTF-8, integers of at most 18 digits, reals far from overflow,
 * \u escapes other than \u0000 and surrogates, nesting up to 64 deep.
 * Anything else (every invalid text among it) gets 0, and the caller asks
 * jansson, whose verdict and message then stand.
 */
#include "store_int.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct jc {
  const unsigned char *p;
  const unsigned char *end; /* the terminating NUL */
} jc;

#define ONES 0x0101010101010101ull
#define HIGH 0x8080808080808080ull

/* The bytes of the 8 at w (in memory order: w loaded little-endian) that
 * the string scanner must look at one by one: control characters (< 0x20),
 * '"', '\\' and non-ASCII; 0 when none. (x - ONES) & ~x & HIGH is nonzero
 * iff a byte of x is zero (with n ONES: below n, n <= 0x80), and its lowest
 * set bit is exactly the first such byte (a borrow only marks later ones). */
static inline uint64_t special8(uint64_t w) {
  uint64_t q = w ^ (0x22 * ONES), b = w ^ (0x5c * ONES);
  return (((w - 0x20 * ONES) & ~w) | ((q - ONES) & ~q) | ((b - ONES) & ~b) | w) & HIGH;
}

static void skip_ws(jc *c) {
  while (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r') c->p++;
}

static int hexval(unsigned char h) {
  if (h >= '0' && h <= '9') return h - '0';
  if (h >= 'a' && h <= 'f') return h - 'a' + 10;
  if (h >= 'A' && h <= 'F') return h - 'A' + 10;
  return -1;
}

/* A string at c->p (on its '"'); 1 when surely valid. */
static int string(jc *c) {
  const unsigned char *p = c->p + 1;
  for (;;) {
    /* plain ASCII 8 bytes at a time (within the text: end is its NUL) */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (c->end - p >= 8) {
      uint64_t w;
      memcpy(&w, p, sizeof w);
      uint64_t sp = special8(w);
      if (sp) {
        p += __builtin_ctzll(sp) >> 3; /* to the first byte to look at */
        break;
      }
      p += 8;
    }
#endif
    unsigned char u = *p;
    if (u == '"') break;
    if (u < 0x20) return 0; /* a control character, or the end */
    if (u == '\\') {
      unsigned char e = p[1];
      if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
          e == 't') {
        p += 2;
        continue;
      }
      if (e != 'u') return 0;
      int v = 0;
      for (int i = 2; i < 6; i++) {
        int h = hexval(p[i]);
        if (h < 0) return 0;
        v = v * 16 + h;
      }
      if (v == 0 || (v >= 0xD800 && v <= 0xDFFF)) return 0; /* NUL, surrogates: ask jansson */
      p += 6;
      continue;
    }
    if (u < 0x80) {
      p++;
      continue;
    }
    /* strict UTF-8: no overlong forms, surrogates or values above U+10FFFF */
    unsigned v;
    int n;
    if (u >= 0xC2 && u <= 0xDF) {
      n = 2;
      v = u & 0x1F;
    } else if (u >= 0xE0 && u <= 0xEF) {
      n = 3;
      v = u & 0x0F;
    } else if (u >= 0xF0 && u <= 0xF4) {
      n = 4;
      v = u & 0x07;
    } else {
      return 0;
    }
    for (int i = 1; i < n; i++) {
      if (p[i] < 0x80 || p[i] > 0xBF) return 0;
      v = (v << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10FFFF ||
        (v >= 0xD800 && v <= 0xDFFF))
      return 0;
    p += n;
  }
  c->p = p + 1;
  return 1;
}

/* A number at c->p; 1 when surely valid (and in jansson's range). */
static int number(jc *c) {
  const unsigned char *p = c->p;
  if (*p == '-') p++;
  int idigits = 0;
  if (*p == '0') {
    p++;
    idigits = 1;
    if (*p >= '0' && *p <= '9') return 0;
  } else if (*p >= '1' && *p <= '9') {
    while (*p >= '0' && *p <= '9') p++, idigits++;
  } else {
    return 0;
  }
  int real = 0;
  if (*p == '.') {
    real = 1;
    p++;
    if (!(*p >= '0' && *p <= '9')) return 0;
    while (*p >= '0' && *p <= '9') p++;
  }
  long ex = 0;
  if (*p == 'e' || *p == 'E') {
    real = 1;
    p++;
    int eneg = 0;
    if (*p == '+' || *p == '-') eneg = *p++ == '-';
    if (!(*p >= '0' && *p <= '9')) return 0;
    int ed = 0;
    while (*p >= '0' && *p <= '9') {
      if (++ed > 4) return 0; /* a long exponent: ask jansson */
      ex = ex * 10 + (*p++ - '0');
    }
    if (eneg) ex = -ex;
  }
  /* integers: long long (jansson's json_int_t) holds 18 digits; reals:
   * below 10^300, far from strtod's overflow */
  if (!real ? idigits > 18 : idigits + ex > 300) return 0;
  c->p = p;
  return 1;
}

/* A literal word; 1 when it is w. */
static int word(jc *c, const char *w, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (c->p[i] != (unsigned char)w[i]) return 0;
  c->p += n;
  return 1;
}

#define MAX_DEPTH 64

int tsr__json_surely_valid(const char *text) {
  if (!text) return 0;
  jc c = {(const unsigned char *)text, (const unsigned char *)text + strlen(text)};
  char stack[MAX_DEPTH]; /* '{' or '[' of each open container */
  int depth = 0;
  skip_ws(&c);
  for (;;) {
    /* a value */
    unsigned char u = *c.p;
    if (u == '{' || u == '[') {
      if (depth == MAX_DEPTH) return 0;
      stack[depth++] = (char)u;
      c.p++;
      skip_ws(&c);
      if (*c.p == (u == '{' ? '}' : ']')) {
        c.p++;
        depth--;
        goto after_value;
      }
      if (u == '{') goto member;
      continue;
    } else if (u == '"') {
      if (!string(&c)) return 0;
    } else if (u == '-' || (u >= '0' && u <= '9')) {
      if (!number(&c)) return 0;
    } else if (u == 't') {
      if (!word(&c, "true", 4)) return 0;
    } else if (u == 'f') {
      if (!word(&c, "false", 5)) return 0;
    } else if (u == 'n') {
      if (!word(&c, "null", 4)) return 0;
    } else {
      return 0;
    }
  after_value:
    skip_ws(&c);
    if (depth == 0) return *c.p == '\0';
    if (*c.p == ',') {
      c.p++;
      skip_ws(&c);
      if (stack[depth - 1] == '[') continue;
      goto member;
    }
    if (*c.p != (stack[depth - 1] == '{' ? '}' : ']')) return 0;
    c.p++;
    depth--;
    goto after_value;
  member:
    /* an object member: "key" : value */
    if (*c.p != '"' || !string(&c)) return 0;
    skip_ws(&c);
    if (*c.p != ':') return 0;
    c.p++;
    skip_ws(&c);
  }
}
