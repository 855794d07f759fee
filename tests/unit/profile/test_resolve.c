/*
 * test_resolve.c - entity resolution (tessera/resolve.h): normalisation,
 * string similarity, and a small population with duplicates, a household
 * and namesakes whose right answer is known.
 */
#include "tsr_test.h"
#include "tessera/resolve.h"
#include "profile/profile_internal.h"
#include "tessera/datetime.h"

static void test_fold(void **state) {
  (void)state;
  char b[64];
  assert_int_equal(tsr_resolve_fold("  Jürgen   MÜLLER-Lüdenscheidt ", b, sizeof b), 29);
  assert_string_equal(b, "juergen mueller luedenscheidt");
  tsr_resolve_fold("Zoë Łukasiewicz O'Brien Straße", b, sizeof b);
  assert_string_equal(b, "zoe lukasiewicz obrien strasse");
  tsr_resolve_fold("José García", b, sizeof b);
  assert_string_equal(b, "jose garcia");
  assert_int_equal(tsr_resolve_fold("", b, sizeof b), 0);
  /* truncation keeps a NUL */
  assert_int_equal(tsr_resolve_fold("abcdefgh", b, 4), 3);
  assert_string_equal(b, "abc");
}

static void test_phone(void **state) {
  (void)state;
  char b[24];
  assert_int_equal(tsr_resolve_phone("07700 900123", "44", b, sizeof b), 1);
  assert_string_equal(b, "+447700900123");
  tsr_resolve_phone("+44 (0)7700-900123", "44", b, sizeof b);
  assert_string_equal(b, "+447700900123"); /* the bracketed trunk 0 is dropped */
  tsr_resolve_phone("0041 79 123 45 67", "44", b, sizeof b);
  assert_string_equal(b, "+41791234567");
  tsr_resolve_phone("+41791234567", "44", b, sizeof b);
  assert_string_equal(b, "+41791234567");
  assert_int_equal(tsr_resolve_phone("12 34", "44", b, sizeof b), 0);
  assert_string_equal(b, "");
  assert_int_equal(tsr_resolve_phone("call me", "44", b, sizeof b), 0);
}

static void test_similarity(void **state) {
  (void)state;
  char s[5];
  assert_string_equal(tsr_resolve_soundex("robert", s), "R163");
  assert_string_equal(tsr_resolve_soundex("rupert", s), "R163");
  assert_string_equal(tsr_resolve_soundex("ashcraft", s), "A261");
  assert_string_equal(tsr_resolve_soundex("tymczak", s), "T522");
  /* published Jaro-Winkler values (Winkler 1990): MARTHA/MARHTA 0.961,
   * DWAYNE/DUANE 0.84, DIXON/DICKSONX 0.813 */
  assert_near(tsr_resolve_jaro_winkler("martha", 6, "marhta", 6), 0.9611, 1e-4);
  assert_near(tsr_resolve_jaro_winkler("dwayne", 6, "duane", 5), 0.84, 1e-4);
  assert_near(tsr_resolve_jaro_winkler("dixon", 5, "dicksonx", 8), 0.8133, 1e-4);
  assert_near(tsr_resolve_jaro_winkler("abc", 3, "xyz", 3), 0, 1e-12);
  assert_int_equal(tsr_resolve_levenshtein("kitten", 6, "sitting", 7), 3);
  assert_int_equal(tsr_resolve_levenshtein("", 0, "abc", 3), 3);
}

/* The comparison functions as they were before the bit-parallel versions
 * (session 16), kept verbatim as the reference: the resolver's results
 * depend on every value. */
static double old_jaro_winkler(const char *a, size_t na, const char *b, size_t nb) {
  if (na > 255) na = 255;
  if (nb > 255) nb = 255;
  if (!na && !nb) return 1;
  if (!na || !nb) return 0;
  if (na == nb && !memcmp(a, b, na)) return 1;
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

static size_t old_lev_bounded(const char *a, size_t na, const char *b, size_t nb, size_t k) {
  if (na > 255) na = 255;
  if (nb > 255) nb = 255;
  if ((na > nb ? na - nb : nb - na) > k) return k + 1;
  size_t row[257];
  const size_t big = k + 1;
  for (size_t j = 0; j <= nb; j++) row[j] = j <= k ? j : big;
  for (size_t i = 1; i <= na; i++) {
    size_t lo_j = i > k ? i - k : 1, hi_j = i + k < nb ? i + k : nb;
    size_t diag = row[lo_j - 1];
    size_t left = lo_j == 1 ? (i <= k ? i : big) : big;
    if (lo_j == 1) row[0] = left;
    size_t lo = left;
    for (size_t j = lo_j; j <= hi_j; j++) {
      size_t up = j <= nb && j < i + k ? row[j] : big;
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

static uint64_t rnd_state = 0x243f6a8885a308d3ull;
static uint32_t rnd(uint32_t n) {
  rnd_state ^= rnd_state << 13, rnd_state ^= rnd_state >> 7, rnd_state ^= rnd_state << 17;
  return (uint32_t)((rnd_state >> 11) % n);
}

/* A random string: a few letters (so that bytes repeat and match), UTF-8
 * pairs, spaces, digits, high bytes; length 0..max. */
static size_t rnd_string(char *s, size_t max) {
  static const char *const alpha[] = {"ab", "abc", "aeiou", "abcdefghijklmnopqrstuvwxyz 0123456789",
                                      "\xc3\xa4\xc3\xb6u", "\x80\xff\x01a"};
  const char *al = alpha[rnd(6)];
  size_t na = strlen(al), n = rnd((uint32_t)max + 1);
  for (size_t i = 0; i < n; i++) s[i] = al[rnd((uint32_t)na)];
  s[n] = '\0';
  return n;
}

/* b: a copy of a with up to 4 random edits (or a fresh string). */
static size_t rnd_variant(const char *a, size_t na, char *b, size_t max) {
  if (rnd(5) == 0) return rnd_string(b, max);
  memcpy(b, a, na);
  size_t nb = na;
  for (uint32_t e = rnd(5); e > 0; e--) {
    uint32_t op = rnd(4);
    char c = (char)("abcxyz\xc3\xa4 1"[rnd(10)]);
    if (op == 0 && nb) b[rnd((uint32_t)nb)] = c; /* substitution */
    else if (op == 1 && nb + 1 <= max) { /* insertion */
      size_t at = rnd((uint32_t)nb + 1);
      memmove(b + at + 1, b + at, nb - at);
      b[at] = c, nb++;
    } else if (op == 2 && nb) { /* deletion */
      size_t at = rnd((uint32_t)nb);
      memmove(b + at, b + at + 1, nb - at - 1);
      nb--;
    } else if (op == 3 && nb >= 2) { /* transposition */
      size_t at = rnd((uint32_t)nb - 1);
      char t = b[at];
      b[at] = b[at + 1], b[at + 1] = t;
    }
  }
  b[nb] = '\0';
  return nb;
}

/* The bit-parallel Jaro-Winkler and edit distances equal the reference
 * formulas exactly on random, edited, empty, UTF-8, 64/65-byte and
 * over-255-byte strings. */
static void test_similarity_reference(void **state) {
  (void)state;
  static char a[400], b[400];
  static const size_t maxes[] = {3, 8, 16, 40, 64, 66, 130, 300};
  for (int it = 0; it < 300000; it++) {
    size_t max = maxes[rnd(8)];
    size_t na = rnd_string(a, max), nb = rnd_variant(a, na, b, max);
    if (rnd(2)) {
      size_t t = na;
      char tmp[400];
      memcpy(tmp, a, na + 1), memcpy(a, b, nb + 1), memcpy(b, tmp, t + 1);
      na = nb, nb = t;
    }
    double jn = tsr_resolve_jaro_winkler(a, na, b, nb), jo = old_jaro_winkler(a, na, b, nb);
    if (memcmp(&jn, &jo, sizeof jn))
      fail_msg("jaro-winkler %.17g != %.17g (lengths %zu %zu, it %d)", jn, jo, na, nb, it);
    size_t k = rnd(8);
    if (rnd(4) == 0) k = (size_t)(0.3 * (double)(na > nb ? na : nb));
    size_t dn = tsr__resolve_lev_bounded(a, na, b, nb, k), dold = old_lev_bounded(a, na, b, nb, k);
    if (dn != dold) fail_msg("lev_bounded %zu != %zu (k %zu, lengths %zu %zu, it %d)", dn, dold, k, na, nb, it);
    int le_n = tsr__resolve_lev_le1(a, na, b, nb), le_o = old_lev_bounded(a, na, b, nb, 1) <= 1;
    if (le_n != le_o) fail_msg("lev_le1 %d != %d (lengths %zu %zu, it %d)", le_n, le_o, na, nb, it);
    /* the reference itself is the exact distance capped at k + 1 */
    if (na <= 255 && nb <= 255 && it % 16 == 0) {
      size_t full = tsr_resolve_levenshtein(a, na, b, nb);
      assert_int_equal(dold, full <= k ? full : k + 1);
    }
  }
  /* edges: empty, one byte, exactly 64 and 65 bytes, a full 64-bit window */
  memset(a, 'a', 70), memset(b, 'a', 70);
  for (size_t na = 0; na <= 70; na++)
    for (size_t nb = 0; nb <= 70; nb += 1) {
      b[nb ? nb - 1 : 0] = nb % 3 ? 'a' : 'b';
      double jn = tsr_resolve_jaro_winkler(a, na, b, nb), jo = old_jaro_winkler(a, na, b, nb);
      assert_true(!memcmp(&jn, &jo, sizeof jn));
      for (size_t k = 0; k < 5; k++)
        assert_int_equal(tsr__resolve_lev_bounded(a, na, b, nb, k), old_lev_bounded(a, na, b, nb, k));
      assert_int_equal(tsr__resolve_lev_le1(a, na, b, nb), old_lev_bounded(a, na, b, nb, 1) <= 1);
      b[nb ? nb - 1 : 0] = 'a';
    }
}

/* The birth-date comparison before the digits were packed (verbatim). */
static uint32_t old_civil_ymd(int32_t day) {
  if (day == INT32_MIN) return 0;
  int64_t y;
  unsigned m, d;
  tsr_civil_from_days(day, &y, &m, &d);
  return y >= 0 && y <= 9999 ? (uint32_t)y * 10000u + m * 100u + d : 0;
}

static int old_cmp_dob(int32_t a, int32_t b, uint32_t ya, uint32_t yb) {
  if (a == INT32_MIN || b == INT32_MIN) return 0;
  if (a == b) return 3;
  unsigned da = ya % 100, db = yb % 100, ma = ya / 100 % 100, mb = yb / 100 % 100;
  int same_year = ya / 10000 == yb / 10000;
  if (same_year && ma == mb && (da > db ? da - db : db - da) <= 3) return 2;
  if (same_year && ma == db && da == mb) return 2;
  size_t diff = 0, k1 = 0, k2 = 0;
  unsigned ca[8], cb[8];
  for (size_t k = 0; k < 8; k++, ya /= 10, yb /= 10) {
    ca[k] = ya % 10;
    cb[k] = yb % 10;
    if (ca[k] != cb[k]) diff++, k2 = k1, k1 = k;
  }
  if (diff == 1) return 2;
  if (diff == 2 && k1 == k2 + 1 && ca[k1] == cb[k2] && ca[k2] == cb[k1]) return 2;
  return 1;
}

/* The packed-digit birth-date level equals the old digit loop on random
 * days, days one digit, two swapped digits or a swapped day and month away,
 * missing days and days outside years 0..9999. */
static void test_dob_reference(void **state) {
  (void)state;
  int counts[4] = {0};
  for (int it = 0; it < 200000; it++) {
    int32_t a = (int32_t)rnd(200000) - 100000, b;
    int64_t y;
    unsigned m, d;
    tsr_civil_from_days(a, &y, &m, &d);
    unsigned dig[8];
    uint32_t v = (uint32_t)y * 10000u + m * 100u + d;
    for (int k = 0; k < 8; k++, v /= 10) dig[k] = v % 10;
    switch (rnd(6)) {
      case 0: b = (int32_t)rnd(200000) - 100000; break;
      case 1: dig[rnd(8)] = rnd(10); goto build; /* one digit */
      case 2: { /* neighbouring digits swapped */
        unsigned k = rnd(7), t = dig[k];
        dig[k] = dig[k + 1], dig[k + 1] = t;
        goto build;
      }
      case 3: b = a + (int32_t)rnd(9) - 4; break;
      case 4: b = rnd(3) ? (int32_t)tsr_days_from_civil(y, d <= 12 ? d : m, d <= 12 ? m : d) : INT32_MIN; break;
      default: b = (int32_t)tsr_days_from_civil(rnd(3) ? y : 10000 + (int64_t)rnd(3), m, d); break;
      build: {
        uint32_t w = 0;
        for (int k = 7; k >= 0; k--) w = w * 10 + dig[k];
        unsigned mm = w / 100 % 100, dd = w % 100;
        if (mm < 1 || mm > 12 || dd < 1 || dd > 28) mm = m, dd = d;
        b = (int32_t)tsr_days_from_civil(w / 10000, mm, dd);
      }
    }
    if (rnd(50) == 0) a = INT32_MIN;
    int lo = old_cmp_dob(a, b, old_civil_ymd(a), old_civil_ymd(b)), ln = tsr__resolve_dob_level(a, b);
    if (lo != ln) fail_msg("dob level %d != %d (days %d %d)", ln, lo, (int)a, (int)b);
    counts[lo]++;
  }
  for (int l = 0; l < 4; l++) assert_true(counts[l] > 1000); /* every level was tried */
}

typedef struct person {
  const char *id, *name, *email, *phone, *dob, *address, *postcode, *join;
} person;

/* Adds p, with distinct filler persons so that EM has unrelated pairs. */
static void add(tsr_resolver *r, const person *p) {
  tsr_person_record rec;
  memset(&rec, 0, sizeof rec);
  rec.customer_id = p->id;
  rec.name = p->name;
  rec.email = p->email;
  rec.phone = p->phone;
  rec.birth_date = p->dob;
  rec.address = p->address;
  rec.postcode = p->postcode;
  rec.join_date = p->join;
  tsr_error err;
  assert_int_equal(tsr_resolver_add(r, &rec, &err), TSR_OK);
}

static size_t find(const tsr_resolver *r, const char *id) {
  for (size_t i = 0; i < tsr_resolver_count(r); i++)
    if (!strcmp(tsr_resolver_id(r, i), id)) return i;
  fail_msg("id %s not found", id);
  return 0;
}

static void test_population(void **state) {
  (void)state;
  static const char *const first[] = {"Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hugo",
                                      "Ida", "Jonas", "Kira", "Lars", "Mila", "Nils", "Olga", "Paul"};
  static const char *const last[] = {"Keller", "Brunner", "Frei", "Huber", "Meier", "Suter", "Vogel",
                                     "Wyss", "Zbinden", "Amstutz", "Baumann", "Christen", "Egli",
                                     "Fuchs", "Gerber", "Hess", "Imhof", "Jost", "Kunz", "Lehmann"};
  tsr_resolver *r = NULL;
  tsr_error err;
  assert_int_equal(tsr_resolver_new(NULL, &r, &err), TSR_OK);
  char id[16], name[64], email[64], phone[32], dob[16], addr[64], pc[16];
  /* 320 distinct persons */
  for (int i = 0; i < 320; i++) {
    snprintf(id, sizeof id, "F%03d", i);
    snprintf(name, sizeof name, "%s %s", first[i % 16], last[(i / 16) % 20]);
    snprintf(email, sizeof email, "p%d@example.org", i);
    snprintf(phone, sizeof phone, "07700 9%05d", i);
    snprintf(dob, sizeof dob, "19%02d-%02d-%02d", 40 + i % 60, 1 + i % 12, 1 + i % 28);
    snprintf(addr, sizeof addr, "%d Station Road", i + 1);
    snprintf(pc, sizeof pc, "AB%d %dCD", i % 30, i % 10);
    person p = {id, name, email, phone, dob, addr, pc, "2015-01-01"};
    add(r, &p);
  }
  /* A: three records of one person (a move + new e-mail, an umlaut typo) */
  person a1 = {"A1", "Jürgen Müller", "jm@mail.ch", "079 123 45 67", "1970-05-04", "Bahnhofstrasse 12", "8001", "2010-03-01"};
  person a2 = {"A2", "JUERGEN MUELLER", "juergen.mueller@web.de", "+41 79 123 45 67", "1970-05-04", "Seeweg 3", "3000", "2016-07-01"};
  person a3 = {"A3", "Jurgen Muller", "jm@mail.ch", "", "1970-05-04", "Bahnhofstr. 12", "8001", "2012-01-01"};
  /* B: a household member of A (same surname and address, another person) */
  person b1 = {"B1", "Maria Müller", "maria@mail.ch", "079 765 43 21", "1972-11-30", "Bahnhofstrasse 12", "8001", "2011-01-01"};
  /* C: a namesake of A elsewhere with another birth date */
  person c1 = {"C1", "Jürgen Müller", "jmueller@gmx.de", "078 111 22 33", "1985-02-17", "Dorfweg 8", "6000", "2009-01-01"};
  /* D: one person, birth date typo (digits swapped) but same e-mail */
  person d1 = {"D1", "Sophie Rochat", "sophie.rochat@bluewin.ch", "", "1991-03-12", "Rue du Lac 4", "1200", "2018-01-01"};
  person d2 = {"D2", "Sophie Rochat", "sophie.rochat@bluewin.ch", "", "1991-03-21", "Rue du Lac 4", "1200", "2020-01-01"};
  add(r, &a1);
  add(r, &a2);
  add(r, &a3);
  add(r, &b1);
  add(r, &c1);
  add(r, &d1);
  add(r, &d2);
  assert_int_equal(tsr_resolver_run(r, &err), TSR_OK);
  size_t ia1 = find(r, "A1"), ia2 = find(r, "A2"), ia3 = find(r, "A3"), ib1 = find(r, "B1"),
         ic1 = find(r, "C1"), id1 = find(r, "D1"), id2 = find(r, "D2");
  /* canonical = earliest join date: A1 (2010) */
  assert_int_equal(tsr_resolver_canonical(r, ia1), ia1);
  assert_int_equal(tsr_resolver_canonical(r, ia2), ia1);
  assert_int_equal(tsr_resolver_canonical(r, ia3), ia1);
  assert_true(tsr_resolver_score(r, ia2) >= 0.5);
  assert_int_equal(tsr_resolver_canonical(r, ib1), ib1);
  assert_int_equal(tsr_resolver_canonical(r, ic1), ic1);
  assert_int_equal(tsr_resolver_canonical(r, id2), id1);
  /* A and B form a household; C is not in it */
  assert_true(tsr_resolver_household(r, ia1) >= 0);
  assert_int_equal(tsr_resolver_household(r, ib1), tsr_resolver_household(r, ia1));
  assert_int_equal(tsr_resolver_household(r, ia2), tsr_resolver_household(r, ia1));
  assert_true(tsr_resolver_household(r, ic1) < 0 ||
              tsr_resolver_household(r, ic1) != tsr_resolver_household(r, ia1));
  /* the fillers stay apart */
  tsr_resolve_stats st;
  tsr_resolver_stats(r, &st);
  assert_int_equal(st.records, 327);
  assert_int_equal(st.merged_records, 3);
  assert_int_equal(st.persons, 324);
  char buf[512];
  tsr_resolver_reasons(r, ia3, buf, sizeof buf);
  assert_non_null(strstr(buf, "merged into the earliest record"));
  assert_null(strstr(buf, "Müller")); /* no personal data */
  assert_null(strstr(buf, "1970"));
  tsr_resolver_free(r);
}

/* A word of letters from n (Soundex keys need letters). */
static void word(char *buf, const char *head, unsigned n) {
  size_t k = strlen(head);
  n = n * 2654435761u >> 7; /* scrambled: neighbours differ in every letter */
  memcpy(buf, head, k);
  for (int i = 0; i < 4; i++, n /= 26) buf[k++] = (char)('a' + n % 26);
  buf[k] = '\0';
}

/* The namesake test weighs how common the full name is (docs/resolve.md
 * "Namesakes"): the same name and birth date with every contact changed is
 * one person under a rare name (even one carried by 5 records, which the
 * former fixed rule of 4 records split) and two namesakes under a name that
 * 300 records carry. */
static void test_name_frequency(void **state) {
  (void)state;
  tsr_resolver *r = NULL;
  tsr_error err;
  assert_int_equal(tsr_resolver_new(NULL, &r, &err), TSR_OK);
  char w[16], id[16], f[16], l[16], name[64], email[64], phone[32], dob[16], addr[64], pc[16];
  /* 2000 persons of rare names, 300 of them with a second record after a
   * move, a new e-mail or a new phone (the evidence of the anchored m) */
  for (unsigned i = 0; i < 2000; i++) {
    word(f, "a", i * 7919u + 3);
    word(l, "k", i * 104729u + 11);
    snprintf(name, sizeof name, "%s %s", f, l);
    word(w, "p", i * 7u + 1), snprintf(email, sizeof email, "%s@example.org", w);
    snprintf(phone, sizeof phone, "07700 9%05u", (i * 7919u + 17) % 100000);
    snprintf(dob, sizeof dob, "19%02u-%02u-%02u", 30 + i % 60, 1 + i / 60 % 12, 1 + i / 720 * 9 + i % 9);
    word(w, "s", i * 31u + 5), snprintf(addr, sizeof addr, "%u %s Road", i % 9 + 1, w);
    snprintf(pc, sizeof pc, "AB%u %uCD", i % 97, i % 10);
    snprintf(id, sizeof id, "F%04u", i);
    person p = {id, name, email, phone, dob, addr, pc, "2015-01-01"};
    add(r, &p);
    if (i % 20 >= 3) continue;
    char e2[64], ph2[32], a2[64], pc2[16], id2[16];
    snprintf(id2, sizeof id2, "G%04u", i);
    snprintf(e2, sizeof e2, "%s", email);
    snprintf(ph2, sizeof ph2, "%s", phone);
    snprintf(a2, sizeof a2, "%s", addr);
    snprintf(pc2, sizeof pc2, "%s", pc);
    if (i % 20 == 0) snprintf(a2, sizeof a2, "%u Mill Lane", i % 9 + 1), snprintf(pc2, sizeof pc2, "ZZ%u 1XY", i);
    if (i % 20 == 1) snprintf(e2, sizeof e2, "new%u@example.net", i);
    if (i % 20 == 2) snprintf(ph2, sizeof ph2, "07801 5%05u", i);
    person q = {id2, name, e2, ph2, dob, a2, pc2, "2019-01-01"};
    add(r, &q);
  }
  /* a common name: 300 persons, distinct birth dates, two of them born on
   * the same day */
  for (unsigned i = 0; i < 300; i++) {
    snprintf(id, sizeof id, "S%03u", i);
    word(w, "j", i * 13u + 2), snprintf(email, sizeof email, "%s@example.com", w);
    snprintf(phone, sizeof phone, "07600 8%05u", (i * 7919u + 29) % 100000);
    unsigned d = i == 1 ? 0 : i;
    snprintf(dob, sizeof dob, "19%02u-%02u-%02u", 30 + d % 60, 1 + d / 60 % 12, 3 + d / 60);
    word(w, "c", i * 37u + 9), snprintf(addr, sizeof addr, "%u %s Street", i % 9 + 1, w);
    snprintf(pc, sizeof pc, "CD%u %uEF", i % 89, i % 10);
    person p = {id, "John Smith", email, phone, dob, addr, pc, "2014-01-01"};
    add(r, &p);
  }
  /* a name of 5 records: 4 persons, one of them twice with every contact
   * changed */
  for (unsigned i = 0; i < 5; i++) {
    snprintf(id, sizeof id, "M%u", i);
    word(w, "m", i * 41u + 3), snprintf(email, sizeof email, "%s@example.com", w);
    snprintf(phone, sizeof phone, "07500 7%05u", (i * 7919u + 31) % 100000);
    snprintf(dob, sizeof dob, "19%02u-04-1%u", 50 + (i == 4 ? 0 : i), i == 4 ? 0 : i);
    word(w, "h", i * 43u + 7), snprintf(addr, sizeof addr, "%u %s View", i + 1, w);
    if (i == 4) snprintf(addr, sizeof addr, "Flat 9 Quayside Towers");
    snprintf(pc, sizeof pc, "GH%u 2JK", i);
    person p = {id, "Mary Jones", email, phone, dob, addr, pc, i == 4 ? "2020-01-01" : "2012-01-01"};
    add(r, &p);
  }
  assert_int_equal(tsr_resolver_run(r, &err), TSR_OK);
  /* the anchored duplicates are found */
  assert_int_equal(tsr_resolver_canonical(r, find(r, "G0000")), find(r, "F0000"));
  assert_int_equal(tsr_resolver_canonical(r, find(r, "G0001")), find(r, "F0001"));
  assert_int_equal(tsr_resolver_canonical(r, find(r, "G0002")), find(r, "F0002"));
  /* common name, same birth day, every contact different: namesakes */
  size_t s0 = find(r, "S000"), s1 = find(r, "S001");
  assert_int_equal(tsr_resolver_canonical(r, s0), s0);
  assert_int_equal(tsr_resolver_canonical(r, s1), s1);
  /* rarer name (5 records), the same evidence: one person */
  assert_int_equal(tsr_resolver_canonical(r, find(r, "M4")), find(r, "M0"));
  tsr_resolve_stats st;
  tsr_resolver_stats(r, &st);
  assert_int_equal(st.merged_records, 301);
  tsr_resolver_free(r);
}

/* One surname and one postcode for 3,000 persons (a coarse postcode): the
 * surname-code + postcode block is far over --max-block; it is no longer
 * skipped but paired within a window of similar addresses, so the pairs
 * stay linear (all pairs would be 4.5 M) and the household of two persons
 * at one address inside it is still found (the former skip lost it). */
static void test_big_block(void **state) {
  (void)state;
  tsr_resolver *r = NULL;
  tsr_error err;
  assert_int_equal(tsr_resolver_new(NULL, &r, &err), TSR_OK);
  enum { N = 3000 };
  char id[16], name[64], first[16], street[16], email[64], phone[32], dob[16], addr[64];
  for (unsigned i = 0; i <= N; i++) {
    unsigned k = i == N ? 0 : i; /* the last person lives with the first */
    snprintf(id, sizeof id, "S%04u", i);
    word(first, "", i);
    word(street, "", 7777 + k / 60);
    snprintf(name, sizeof name, "%s Smith", first);
    snprintf(email, sizeof email, "s%u@example.org", i);
    snprintf(phone, sizeof phone, "07700 9%05u", i);
    snprintf(dob, sizeof dob, "19%02u-%02u-%02u", 30 + i % 60, 1 + i / 60 % 12, 1 + i / 720 % 28);
    snprintf(addr, sizeof addr, "%u %s Street", k % 60 + 1, street);
    person p = {id, name, email, phone, dob, addr, "8001", "2015-01-01"};
    add(r, &p);
  }
  assert_int_equal(tsr_resolver_run(r, &err), TSR_OK);
  tsr_resolve_stats st;
  tsr_resolver_stats(r, &st);
  assert_true(st.candidate_pairs > 0 && st.candidate_pairs < 10 * (size_t)N);
  assert_int_equal(st.merged_records, 0);
  assert_true(tsr_resolver_household(r, 0) >= 0);
  assert_int_equal(tsr_resolver_household(r, N), tsr_resolver_household(r, 0));
  tsr_resolver_free(r);
}

/* A street of 50 persons of one surname and postcode at "1 Main Street",
 * "3 Main Street" ... (similar addresses, other house numbers) is 50
 * persons, not one household; a 51st person at the first one's address
 * is that person's household, and 16 persons at one address stop at the
 * cap of 12. The former rule (union of every pair with a similar address)
 * chained the street into one household of 51. */
static void test_street(void **state) {
  (void)state;
  tsr_resolver *r = NULL;
  tsr_error err;
  assert_int_equal(tsr_resolver_new(NULL, &r, &err), TSR_OK);
  char id[16], name[64], first[16], sur[16], email[64], phone[32], dob[16], addr[64];
  for (unsigned i = 0; i < 400; i++) { /* unrelated persons for EM */
    word(first, "", i);
    word(sur, "Q", 5000 + i);
    snprintf(id, sizeof id, "U%03u", i);
    snprintf(name, sizeof name, "%s %s", first, sur);
    snprintf(email, sizeof email, "u%u@example.org", i);
    snprintf(phone, sizeof phone, "07700 8%05u", i);
    snprintf(dob, sizeof dob, "19%02u-%02u-%02u", 30 + i % 60, 1 + i % 12, 1 + i % 28);
    snprintf(addr, sizeof addr, "%u %s Road", i % 90 + 1, sur);
    person p = {id, name, email, phone, dob, addr, "9000", "2015-01-01"};
    add(r, &p);
  }
  for (unsigned i = 0; i <= 50 + 16; i++) {
    word(first, "", 100 + i);
    snprintf(id, sizeof id, "K%03u", i);
    snprintf(name, sizeof name, "%s Keller", first);
    snprintf(email, sizeof email, "k%u@example.org", i);
    snprintf(phone, sizeof phone, "07700 9%05u", i);
    snprintf(dob, sizeof dob, "19%02u-%02u-%02u", 30 + i % 60, 1 + i / 60 % 12, 1 + i % 28);
    /* K000..K049 along the street, K050 with K000, K051..K066 at No. 200 */
    snprintf(addr, sizeof addr, "%u Main Street", i < 50 ? 2 * i + 1 : i == 50 ? 1 : 200);
    person p = {id, name, email, phone, dob, addr, "8001", "2015-01-01"};
    add(r, &p);
  }
  assert_int_equal(tsr_resolver_run(r, &err), TSR_OK);
  tsr_resolve_stats st;
  tsr_resolver_stats(r, &st);
  assert_int_equal(st.merged_records, 0);
  size_t k0 = find(r, "K000");
  ptrdiff_t h0 = tsr_resolver_household(r, k0);
  assert_true(h0 >= 0);
  assert_int_equal(tsr_resolver_household(r, find(r, "K050")), h0);
  for (unsigned i = 1; i < 50; i++) {
    snprintf(id, sizeof id, "K%03u", i);
    assert_true(tsr_resolver_household(r, find(r, id)) < 0);
  }
  /* No. 200: 16 persons, one household of 12 (the cap), 4 refused */
  ptrdiff_t h200 = tsr_resolver_household(r, find(r, "K051"));
  assert_true(h200 >= 0 && h200 != h0);
  unsigned in200 = 0;
  for (unsigned i = 51; i <= 66; i++) {
    snprintf(id, sizeof id, "K%03u", i);
    in200 += tsr_resolver_household(r, find(r, id)) == h200;
  }
  assert_int_equal(in200, 12);
  assert_true(st.household_refused > 0);
  tsr_resolver_free(r);
}

static void test_errors(void **state) {
  (void)state;
  tsr_resolve_params p;
  tsr_resolve_params_init(&p);
  p.threshold = 1.5;
  tsr_resolver *r = NULL;
  tsr_error err;
  assert_int_equal(tsr_resolver_new(&p, &r, &err), TSR_EINVAL);
  assert_string_equal(err.field, "threshold");
  assert_null(r);
  assert_int_equal(tsr_resolver_new(NULL, &r, &err), TSR_OK);
  tsr_person_record rec;
  memset(&rec, 0, sizeof rec);
  rec.customer_id = "X";
  rec.birth_date = "1970-13-45";
  assert_int_equal(tsr_resolver_add(r, &rec, &err), TSR_EPARSE);
  assert_string_equal(err.field, "birth_date");
  assert_null(strstr(err.msg, "1970")); /* the value is personal data */
  rec.birth_date = NULL;
  rec.customer_id = "  ";
  assert_int_equal(tsr_resolver_add(r, &rec, &err), TSR_EPARSE);
  assert_int_equal(tsr_resolver_run(r, &err), TSR_OK); /* empty: fine */
  assert_int_equal(tsr_resolver_count(r), 0);
  tsr_resolver_free(r);
  tsr_resolver_free(NULL);
}

/* GOLDEN-BEGIN: a noisy population resolved end to end; the digest of every
 * result was computed with the resolver before the session-16 speed-ups
 * (blocking keys, bit-parallel comparisons, prefetching, reasons) */
static uint64_t gold_s = 0x9e3779b97f4a7c15ull;
static uint32_t gold_rnd(uint32_t n) {
  gold_s ^= gold_s << 13, gold_s ^= gold_s >> 7, gold_s ^= gold_s << 17;
  return (uint32_t)((gold_s >> 11) % n);
}

static uint64_t gold_mix(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}

/* one byte of s changed, or two neighbours swapped (a typo) */
static void gold_typo(char *s) {
  size_t n = strlen(s);
  if (n < 3) return;
  size_t k = 1 + gold_rnd((uint32_t)n - 2);
  if (gold_rnd(2)) {
    char t = s[k];
    s[k] = s[k + 1], s[k + 1] = t;
  } else {
    s[k] = (char)('a' + gold_rnd(26));
  }
}

/* Adds the population to r; returns the records added. */
static size_t gold_population(tsr_resolver *r) {
  static const char *const first[] = {"Anna", "Ben", "Clara", "David", "Eva", "Felix", "Zoë", "Jürgen",
                                      "Łukasz", "Sophie", "Hugo", "Mila", "José", "Ida", "Jean-Luc", ""};
  static const char *const last[] = {"Müller", "Meier", "Mayer", "Keller", "Kellner", "Schmid",
                                     "Schmidt", "O'Brien", "García", "Rochat", "Favre", "Wagner",
                                     "Maximilian-Alexander-Konstantin von Hohenzollern-Sigmaringen-Habsburg"};
  static const char *const street[] = {"Bahnhofstrasse", "Station Road", "Rue du Lac", "Lindenweg",
                                       "Birkenweg", "High Street", "Chemin des Vignes"};
  static const char *const pcs[] = {"8001", "3000", "SW1A 1AA", "SW1A 2BB", "1200", "", "8001"};
  static const char *const dom[] = {"mail.ch", "gmx.de", "example.org"};
  tsr_error err;
  size_t added = 0;
  char id[24], name[160], email[96], phone[40], dob[48], addr[96], join[48];
  for (int p = 0; p < 3000; p++) {
    int fi = (int)gold_rnd(16), la = (int)gold_rnd(13), st = (int)gold_rnd(7), pc = (int)gold_rnd(7);
    int y = 1890 + (int)gold_rnd(116), mo = 1 + (int)gold_rnd(12), d = 1 + (int)gold_rnd(28);
    int house = 1 + (int)gold_rnd(40);
    unsigned ph = gold_rnd(1000000);
    int copies = gold_rnd(4) == 0 ? 2 + (int)gold_rnd(2) : 1;
    for (int c = 0; c < copies; c++) {
      snprintf(id, sizeof id, "P%05d-%d", p, c);
      snprintf(name, sizeof name, "%s%s %s", gold_rnd(9) == 0 ? "Dr " : "", first[fi], last[la]);
      if (c && gold_rnd(3) == 0) gold_typo(name);
      if (gold_rnd(40) == 0) name[0] = '\0';
      snprintf(email, sizeof email, "%c.%s%d@%s", "abcdefghijklmnop"[fi], last[la][0] ? "x" : "y", p % 500,
               dom[(p + (c && gold_rnd(3) == 0)) % 3]);
      if (c && gold_rnd(4) == 0) gold_typo(email);
      if (gold_rnd(15) == 0) email[0] = '\0';
      if (gold_rnd(6) == 0) phone[0] = '\0';
      else if (gold_rnd(2)) snprintf(phone, sizeof phone, "079 %03u %02u %02u", ph / 10000, ph / 100 % 100, ph % 100);
      else snprintf(phone, sizeof phone, "+41 (0)79 %03u %04u", ph / 10000, ph % 10000);
      if (c && gold_rnd(5) == 0) phone[5] = phone[5] == '9' ? '8' : '9';
      int yy = y, mm = mo, dd = d;
      if (c && gold_rnd(5) == 0) dd = dd <= 12 && mm != dd ? mm : dd % 28 + 1, mm = c ? mo : mm;
      if (c && gold_rnd(6) == 0) yy += 1;
      if (gold_rnd(20) == 0) dob[0] = '\0';
      else if (gold_rnd(2)) snprintf(dob, sizeof dob, "%04d-%02d-%02d", yy, mm, dd);
      else snprintf(dob, sizeof dob, "%02d.%02d.%04d", dd, mm, yy);
      int moved = c && gold_rnd(4) == 0;
      snprintf(addr, sizeof addr, "%s %d", street[(st + moved) % 7], house + (moved ? 3 : 0));
      if (c && gold_rnd(4) == 0) gold_typo(addr);
      snprintf(join, sizeof join, "20%02d-%02d-01", (int)gold_rnd(24), 1 + (int)gold_rnd(12));
      tsr_person_record rec = {.customer_id = id, .name = name, .email = email, .phone = phone,
                               .birth_date = dob, .gender = gold_rnd(2) ? "F" : "m", .address = addr,
                               .postcode = pcs[(pc + moved) % 7], .join_date = join};
      if (tsr_resolver_add(r, &rec, &err) == TSR_OK) added++;
    }
    /* a household member now and then: same surname and address */
    if (gold_rnd(5) == 0) {
      snprintf(id, sizeof id, "H%05d", p);
      snprintf(name, sizeof name, "%s %s", first[(fi + 3) % 16], last[la]);
      snprintf(addr, sizeof addr, "%s %d", street[st], house);
      snprintf(dob, sizeof dob, "%04d-%02d-%02d", y + 2, mo, d);
      tsr_person_record rec = {.customer_id = id, .name = name, .phone = phone, .birth_date = dob,
                               .address = addr, .postcode = pcs[pc], .join_date = "2001-01-01"};
      if (tsr_resolver_add(r, &rec, &err) == TSR_OK) added++;
    }
  }
  return added;
}

/* Digest of every result of a resolver that ran. */
static uint64_t gold_digest(const tsr_resolver *r) {
  uint64_t h = 0xcbf29ce484222325ull;
  char buf[512];
  for (size_t i = 0; i < tsr_resolver_count(r); i++) {
    uint64_t c = tsr_resolver_canonical(r, i);
    int64_t hh = tsr_resolver_household(r, i);
    double s = tsr_resolver_score(r, i);
    h = gold_mix(h, &c, sizeof c);
    h = gold_mix(h, &hh, sizeof hh);
    h = gold_mix(h, &s, sizeof s);
    tsr_resolver_reasons(r, i, buf, sizeof buf);
    h = gold_mix(h, buf, strlen(buf) + 1);
  }
  tsr_resolve_stats st;
  tsr_resolver_stats(r, &st);
  uint64_t v[] = {st.records, st.candidate_pairs, st.blocks_skipped, st.matched_pairs, st.household_pairs,
                  st.merged_records, st.persons, st.households, st.household_refused,
                  (uint64_t)st.em_iterations};
  h = gold_mix(h, v, sizeof v);
  for (size_t f = 0; f < tsr_resolver_nfields(); f++)
    for (int l = 1; l <= 3; l++) {
      double m, hp, u;
      tsr_resolver_field_probs(r, f, l, &m, &hp, &u);
      h = gold_mix(h, &m, sizeof m), h = gold_mix(h, &hp, sizeof hp), h = gold_mix(h, &u, sizeof u);
    }
  return h;
}
/* GOLDEN-END */

static void test_golden(void **state) {
  (void)state;
  /* digests of the resolver of main c6e95ed (before the session-16 changes) */
  static const struct {
    size_t max_block, pairs, skipped;
    uint64_t digest;
  } want[] = {{200, 21191, 0, 0x19bb330a19e7c730ull}, {4, 21140, 7, 0x938c921dd116f547ull}};
  for (size_t t = 0; t < 2; t++) {
    tsr_resolve_params p;
    tsr_resolve_params_init(&p);
    p.max_block = want[t].max_block;
    tsr_resolver *r = NULL;
    tsr_error err;
    gold_s = 0x9e3779b97f4a7c15ull;
    assert_int_equal(tsr_resolver_new(&p, &r, &err), TSR_OK);
    assert_int_equal(gold_population(r), 4768);
    assert_int_equal(tsr_resolver_run(r, &err), TSR_OK);
    tsr_resolve_stats st;
    tsr_resolver_stats(r, &st);
    assert_int_equal(st.candidate_pairs, want[t].pairs);
    assert_int_equal(st.blocks_skipped, want[t].skipped);
    uint64_t d = gold_digest(r);
    if (d != want[t].digest) fail_msg("digest 0x%016llx, expected 0x%016llx", (unsigned long long)d, (unsigned long long)want[t].digest);
    /* reasons cut to any buffer size are a prefix of the whole, NUL-terminated */
    char full[512], cut[512];
    for (size_t i = 0; i < tsr_resolver_count(r); i += 97) {
      size_t n = strlen(tsr_resolver_reasons(r, i, full, sizeof full));
      for (size_t cap = 1; cap <= n + 2; cap++) {
        memset(cut, 'Z', sizeof cut);
        tsr_resolver_reasons(r, i, cut, cap);
        size_t m = n < cap - 1 ? n : cap - 1;
        assert_int_equal(strlen(cut), m);
        assert_memory_equal(cut, full, m);
      }
    }
    tsr_resolver_free(r);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_fold), cmocka_unit_test(test_phone),
                                     cmocka_unit_test(test_similarity),
                                     cmocka_unit_test(test_similarity_reference), cmocka_unit_test(test_dob_reference),
                                     cmocka_unit_test(test_population), cmocka_unit_test(test_name_frequency),
                                     cmocka_unit_test(test_big_block), cmocka_unit_test(test_street),
                                     cmocka_unit_test(test_errors), cmocka_unit_test(test_golden)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
