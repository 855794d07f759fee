/*
 * simulate_bundle.c - a simulated retail-bank customer data bundle with its
 * latent truth (tessera/bundle.h tsr_bundle_simulate; the model is written
 * down in docs/simulate-bundle.md, keep both in step).
 *
 * Households are generated one after the other; each household and each
 * person owns an xoshiro256** stream seeded from (seed, index), so a
 * person's draws do not depend on the others. Every table is written as the
 * persons are generated (streaming: memory does not grow with the rows);
 * transactions come grouped by person, in time order within a person.
 */
#include "internal.h"
#include "tessera/csv.h"
#include "tessera/bundle.h"
#include "tessera/datetime.h"
#include "tessera/rng.h"
#include "tessera/simulate.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DAY_S 86400
#define STREAM_HH ((uint64_t)1 << 40)
#define STREAM_PERSON ((uint64_t)2 << 40)
#define STREAM_MISC ((uint64_t)3 << 40)

/* ------------------------------------------------------------ catalogues */

static const char *const first_f[] = {
    "Anna", "Laura", "Sarah", "Julia", "Lea", "Sophie", "Maria", "Elena", "Nina", "Sandra",
    "Claudia", "Andrea", "Monika", "Ursula", "Ruth", "Chloé", "Zoé", "Léa", "Inès", "Jana",
    "Lena", "Mia", "Emma", "Nadine", "Petra", "Brigitte", "Heidi", "Fabienne", "Céline", "Martina"};
static const char *const first_m[] = {
    "Thomas", "Daniel", "Peter", "Martin", "Andreas", "Michael", "Stefan", "Markus", "Lukas",
    "Jonas", "Luca", "Noah", "David", "Simon", "Marco", "Hans", "Walter", "René", "François",
    "José", "Jürg", "Beat", "Urs", "Reto", "Nicolas", "Julien", "Matteo", "Leon", "Fabian", "Adrian"};
static const char *const surnames[] = {
    "Müller", "Meier", "Schmid", "Keller", "Weber", "Huber", "Schneider", "Meyer", "Steiner",
    "Fischer", "Gerber", "Brunner", "Baumann", "Frei", "Zimmermann", "Moser", "Widmer", "Wyss",
    "Graf", "Roth", "Suter", "Baumgartner", "Bachmann", "Kälin", "Studer", "Hofmann", "Lüthi",
    "Rossi", "Bianchi", "Ferrari", "Favre", "Rochat", "Dubois", "Girard", "Mercier", "Bonvin",
    "Gómez", "Rodríguez", "Da Silva", "Pereira", "Nguyen", "Yilmaz", "Berisha", "Krasniqi",
    "Jovanović", "Schäfer", "Götz", "Kühn", "Böhm", "Vogel", "Koch", "Wagner", "Zürcher",
    "Marti", "Hess", "Sutter", "Egli", "Kunz", "Bühler", "Ammann", "Portmann", "Imhof",
    "Arnold", "Lehmann", "Berger", "Kaufmann", "Hartmann", "Furrer", "Schweizer", "Stucki"};
static const char *const streets[] = {
    "Bahnhofstrasse", "Hauptstrasse", "Dorfstrasse", "Seestrasse", "Kirchweg", "Schulstrasse",
    "Industriestrasse", "Rosenweg", "Birkenweg", "Gartenstrasse", "Rue du Lac", "Rue de la Gare",
    "Chemin des Vignes", "Via Cantonale", "Bergstrasse", "Lindenstrasse", "Poststrasse",
    "Sonnenbergstrasse", "Mühlegasse", "Avenue de la Gare"};
typedef struct city_t {
  const char *name;
  int postcode;  /* first postcode of the city */
  double weight;
} city_t;
static const city_t cities[] = {
    {"Zürich", 8001, 22}, {"Genève", 1201, 12}, {"Basel", 4001, 10}, {"Lausanne", 1003, 8},
    {"Bern", 3001, 8},    {"Winterthur", 8400, 6}, {"Luzern", 6003, 5}, {"St. Gallen", 9000, 5},
    {"Lugano", 6900, 4},  {"Biel", 2500, 3},    {"Thun", 3600, 3},    {"Fribourg", 1700, 3},
    {"Chur", 7000, 2},    {"Zug", 6300, 2},     {"Sion", 1950, 2},    {"Aarau", 5000, 2}};
#define NCITIES (sizeof cities / sizeof cities[0])
static const char *const mail_domains[] = {"bluewin.ch", "gmail.com", "gmx.ch", "hotmail.com",
                                           "outlook.com", "sunrise.ch", "protonmail.ch", "yahoo.com"};

/* Products (docs/simulate-bundle.md). */
enum { P_CURRENT, P_SAVINGS, P_CARD, P_STUDENT, P_LOAN, P_MORTGAGE, P_CHILD, P_INVEST, P_PENSION,
       P_INSURANCE, NPROD };
static const char *const prod_names[NPROD] = {
    "current_account", "savings_account", "credit_card", "student_account", "personal_loan",
    "mortgage", "child_savings", "investment_fund", "pension_plan", "insurance"};

/* Life stages (the same names as the profiles, tessera/profile.h). */
enum { LS_STUDENT, LS_YOUNG, LS_FAMILY, LS_ESTABLISHED, LS_PRERETIRE, LS_RETIRED, NLS };
static const char *const ls_names[NLS] = {"student", "young_adult", "family", "established",
                                          "pre_retirement", "retired"};
/* P(open product | life stage) over the customer's tenure (current account:
 * always; student account: students, see below). */
static const double open_p[NLS][NPROD] = {
    /* cur  sav   card  stud  loan  mort  child inv   pens  ins */
    {1, 0.35, 0.20, 0.92, 0.05, 0.00, 0.00, 0.03, 0.02, 0.10},  /* student */
    {1, 0.50, 0.55, 0.06, 0.22, 0.06, 0.02, 0.10, 0.12, 0.25},  /* young adult */
    {1, 0.60, 0.60, 0.00, 0.25, 0.55, 0.85, 0.15, 0.30, 0.50},  /* family */
    {1, 0.65, 0.65, 0.00, 0.15, 0.30, 0.02, 0.30, 0.35, 0.40},  /* established */
    {1, 0.70, 0.55, 0.00, 0.10, 0.20, 0.02, 0.40, 0.50, 0.45},  /* pre-retirement */
    {1, 0.75, 0.40, 0.00, 0.03, 0.08, 0.02, 0.35, 0.15, 0.40}}; /* retired */

static const char *const income_bands[5] = {"low", "lower_middle", "middle", "upper_middle", "high"};
static const double income_base[NLS] = {-1.6, -0.3, 0.4, 0.9, 0.6, -0.2};
static const double income_spend[5] = {25, 40, 60, 85, 130}; /* median amount per band */

/* Transaction channels (DATA.md) and merchant categories. */
enum { CH_BRANCH, CH_WEB, CH_MOBILE, CH_POS, CH_ATM, CH_PHONE, NCH };
static const char *const ch_names[NCH] = {"branch", "web", "mobile", "card_pos", "atm", "phone"};
enum { MC_GROCERIES, MC_DINING, MC_FUEL, MC_RETAIL, MC_TRAVEL, MC_HEALTH, MC_ENTERTAIN,
       MC_ELECTRONICS, MC_ONLINE, MC_UTILITIES, MC_SUBSCRIPTIONS, MC_TRANSFER, MC_CASH,
       MC_FEES, NMC_NORMAL, MC_GAMBLING = NMC_NORMAL, MC_CRYPTO, MC_JEWELLERY, MC_REMIT, NMC };
static const char *const mc_names[NMC] = {
    "groceries", "dining", "fuel", "retail", "travel", "health", "entertainment", "electronics",
    "online_retail", "utilities", "subscriptions", "transfer", "cash", "fees", "gambling",
    "crypto_exchange", "jewellery", "money_transfer_abroad"};
static const char *const mc_merchants[NMC][3] = {
    {"MIGROS", "COOP", "ALDI"},         {"RESTAURANT PIZZERIA", "CAFE CENTRAL", "STARBUCKS"},
    {"AVIA", "SHELL", "BP"},            {"MANOR", "H&M", "JUMBO"},
    {"SBB CFF FFS", "SWISS", "EASYJET"}, {"APOTHEKE", "DROPA", "AMAVITA"},
    {"KITAG CINEMAS", "TICKETCORNER", "HALLENSTADION"}, {"MEDIA MARKT", "INTERDISCOUNT", "FUST"},
    {"GALAXUS", "ZALANDO", "AMAZON"},   {"EWZ", "SWISSCOM", "SERAFE"},
    {"NETFLIX", "SPOTIFY", "APPLE.COM"}, {"TRANSFER", "STANDING ORDER", "TWINT"},
    {"ATM", "ATM", "ATM"},              {"ACCOUNT FEE", "CARD FEE", "FEE"},
    {"CASINO", "BETTING ONLINE", "LOTTO"}, {"CRYPTO EXCHANGE", "COINBASE", "BINANCE"},
    {"BUCHERER", "JEWELLER", "GOLDSMITH"}, {"WESTERN UNION", "MONEYGRAM", "REMIT"}};
/* Category weights of card payments and of web/mobile payments. */
static const double pos_mc[NMC_NORMAL] = {35, 14, 8, 14, 4, 5, 5, 3, 0, 0, 0, 0, 0, 0};
static const double web_mc[NMC_NORMAL] = {4, 2, 0, 0, 6, 0, 3, 3, 22, 18, 12, 30, 0, 0};
static const double mc_scale[NMC] = {1, 1, 1.3, 1.5, 4, 1, 1, 4, 1.5, 2.5, 0.4, 3, 2, 0.2,
                                     3, 8, 10, 6};

/* Anomaly kinds. */
enum { AN_NONE, AN_HOUR, AN_SPIKE, AN_BURST, AN_CATEGORY };
static const char *const an_names[] = {"none", "odd_hour", "amount_spike", "burst",
                                       "new_category"};

/* Interactions. */
static const char *const in_channels[4] = {"call", "chat", "email", "branch"};
static const char *const topics[] = {"card", "loan", "mortgage", "fees", "app", "fraud",
                                     "account", "savings", "transfer", "address change"};
#define NTOPICS (sizeof topics / sizeof topics[0])

/* ------------------------------------------------------------ writer */

typedef struct wbuf {
  FILE *f;
  char *path;
  char *buf;
  size_t n, cap;
  int failed;
} wbuf;

#define WBUF_CAP ((size_t)1 << 20)

static void w_flush(wbuf *w) {
  if (w->n && !w->failed && fwrite(w->buf, 1, w->n, w->f) != w->n) w->failed = 1;
  w->n = 0;
}
static inline void w_need(wbuf *w, size_t k) {
  if (w->n + k > w->cap) w_flush(w);
}
static inline void w_mem(wbuf *w, const char *s, size_t k) {
  if (k > w->cap) {
    w_flush(w);
    if (!w->failed && fwrite(s, 1, k, w->f) != k) w->failed = 1;
    return;
  }
  w_need(w, k);
  memcpy(w->buf + w->n, s, k);
  w->n += k;
}
static inline void w_str(wbuf *w, const char *s) { w_mem(w, s, strlen(s)); }
static inline void w_ch(wbuf *w, char c) {
  w_need(w, 1);
  w->buf[w->n++] = c;
}
/* A CSV field: quoted when it holds a comma, quote or line end. */
static void w_field(wbuf *w, const char *s) {
  size_t need = 2 * strlen(s) + 3;
  if (need > w->cap) { /* longer than the buffer: straight to the file */
    w_flush(w);
    tsr_csv_put_field(w->f, s);
    return;
  }
  w_need(w, need);
  w->n += tsr_csv_quote(w->buf + w->n, s, 0);
}
static inline void w_u64(wbuf *w, uint64_t v, int width) {
  char t[24];
  int k = 0;
  do {
    t[k++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (k < width) t[k++] = '0';
  w_need(w, (size_t)k);
  while (k) w->buf[w->n++] = t[--k];
}
static inline void w_id(wbuf *w, char prefix, uint64_t v) {
  w_ch(w, prefix);
  w_u64(w, v, 7);
}
/* Cents as a decimal with two digits (negative allowed). */
static void w_cents(wbuf *w, int64_t c) {
  if (c < 0) {
    w_ch(w, '-');
    c = -c;
  }
  w_u64(w, (uint64_t)(c / 100), 1);
  w_ch(w, '.');
  w_u64(w, (uint64_t)(c % 100), 2);
}
static void w_dbl(wbuf *w, double v) {
  char t[40];
  int k = snprintf(t, sizeof t, "%.6g", v);
  w_mem(w, t, (size_t)k);
}
static void w_day(wbuf *w, int64_t day) {
  char t[16];
  tsr_day_format(day, t);
  w_mem(w, t, 10);
}
static void w_ts(wbuf *w, int64_t t) {
  int64_t day = t >= 0 ? t / DAY_S : -((-t + DAY_S - 1) / DAY_S);
  int64_t s = t - day * DAY_S;
  w_day(w, day);
  w_ch(w, 'T');
  w_u64(w, (uint64_t)(s / 3600), 2);
  w_ch(w, ':');
  w_u64(w, (uint64_t)(s / 60 % 60), 2);
  w_ch(w, ':');
  w_u64(w, (uint64_t)(s % 60), 2);
  w_ch(w, 'Z');
}

static tsr_status w_open(wbuf *w, const char *dir, const char *name, const char *header,
                         tsr_error *err) {
  memset(w, 0, sizeof *w);
  size_t n = strlen(dir) + strlen(name) + 2;
  w->path = tsr__malloc(n);
  w->buf = tsr__malloc(WBUF_CAP);
  if (!w->path || !w->buf) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  snprintf(w->path, n, "%s/%s", dir, name);
  w->cap = WBUF_CAP;
  w->f = fopen(w->path, "wb");
  if (!w->f) return tsr_error_set(err, TSR_EIO, w->path, 0, 0, NULL, "cannot create: %s", strerror(errno));
  w_str(w, header);
  w_ch(w, '\n');
  return TSR_OK;
}

static tsr_status w_close(wbuf *w, tsr_status st, tsr_error *err) {
  if (w->f) {
    w_flush(w);
    if (fclose(w->f) != 0) w->failed = 1;
    w->f = NULL;
    if (w->failed && st == TSR_OK)
      st = tsr_error_set(err, TSR_EIO, w->path, 0, 0, NULL, "write error: %s", strerror(errno));
  }
  tsr__free(w->buf);
  tsr__free(w->path);
  w->buf = NULL;
  w->path = NULL;
  return st;
}

/* ------------------------------------------------------------ options */

void tsr_bundle_sim_opts_init(tsr_bundle_sim_opts *o) {
  memset(o, 0, sizeof *o);
  o->customers = 1000;
  o->seed = 1;
  o->start_day = 19723;
  o->weeks = 104;
  o->tx_per_customer = 14;
  o->interactions_per_customer = 1;
  o->duplicate_rate = 0.03;
  o->anomaly_rate = 0.005;
  o->campaign_share = 0.2;
}

tsr_status tsr_bundle_sim_check_opts(const tsr_bundle_sim_opts *o, tsr_error *err) {
  if (o->customers < 1 || o->customers > TSR_SIMULATE_MAX_CUSTOMERS)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "customers",
                         "expected an integer in [1, %llu], got %llu",
                         (unsigned long long)TSR_SIMULATE_MAX_CUSTOMERS,
                         (unsigned long long)o->customers);
  if (o->weeks < 1 || o->weeks > 520)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "weeks", "expected an integer in [1, 520], got %d", o->weeks);
  if (o->start_day < 0 || o->start_day + 7 * (int64_t)o->weeks > 47482)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "start",
                         "expected a window inside 1970-01-01..2099-12-31");
#define CHK(f, lo, hi, openlo)                                                                  \
  if (!(o->f >= (lo) && o->f <= (hi)) || ((openlo) && o->f <= (lo)))                            \
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, #f, "expected a number in %s%g, %g], got %g", \
                         (openlo) ? "(" : "[", (double)(lo), (double)(hi), o->f);
  CHK(tx_per_customer, 0, 1000, 1)
  CHK(interactions_per_customer, 0, 100, 0)
  CHK(duplicate_rate, 0, 0.5, 0)
  CHK(anomaly_rate, 0, 0.2, 0)
  CHK(campaign_share, 0, 1, 0)
#undef CHK
  return TSR_OK;
}

/* ------------------------------------------------------------ helpers */

static inline int pick(tsr_rng *g, const double *w, int n) {
  double tot = 0;
  for (int i = 0; i < n; i++) tot += w[i];
  double u = tsr_rng_uniform(g) * tot;
  for (int i = 0; i < n; i++) {
    if (u < w[i]) return i;
    u -= w[i];
  }
  return n - 1;
}
static inline double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }
static inline double sigmoid(double x) { return 1 / (1 + exp(-x)); }

/* ASCII transliteration (for e-mail addresses): ü -> ue, é -> e ... */
static void ascii_fold(const char *s, char *out, size_t cap) {
  size_t o = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p && o + 3 < cap;) {
    if (*p < 0x80) {
      char c = (char)*p++;
      if (c == ' ' || c == '.' || c == '\'') continue;
      out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
      continue;
    }
    if (*p == 0xC3 && p[1]) {
      unsigned char c = p[1];
      const char *r = "";
      switch (c) {
      case 0xA4: case 0x84: r = "ae"; break;
      case 0xB6: case 0x96: r = "oe"; break;
      case 0xBC: case 0x9C: r = "ue"; break;
      case 0xA9: case 0xA8: case 0xAA: case 0x89: r = "e"; break;
      case 0xA0: case 0xA1: case 0xA2: r = "a"; break;
      case 0xA7: r = "c"; break;
      case 0xB1: r = "n"; break;
      case 0xB3: case 0xB4: r = "o"; break;
      case 0xAD: case 0xAF: r = "i"; break;
      default: r = ""; break;
      }
      while (*r && o + 1 < cap) out[o++] = *r++;
      p += 2;
      continue;
    }
    if (*p == 0xC4 && p[1] == 0x87) { /* ć */
      out[o++] = 'c';
      p += 2;
      continue;
    }
    p++;
    while ((*p & 0xC0) == 0x80) p++;
  }
  out[o] = '\0';
}

/* A typo in an ASCII-or-UTF-8 name: transliteration of an umlaut, or a
 * replaced, dropped or swapped letter (never the first one). */
static void make_typo(tsr_rng *g, const char *s, char *out, size_t cap) {
  const char *um = strstr(s, "\xC3\xBC");
  if (!um) um = strstr(s, "\xC3\xB6");
  if (!um) um = strstr(s, "\xC3\xA4");
  if (um && tsr_rng_uniform(g) < 0.6) {
    const char *rep = um[1] == '\xBC' ? "ue" : um[1] == '\xB6' ? "oe" : "ae";
    snprintf(out, cap, "%.*s%s%s", (int)(um - s), s, rep, um + 2);
    return;
  }
  size_t n = strlen(s);
  snprintf(out, cap, "%s", s);
  /* positions of ASCII lowercase letters after the first byte */
  size_t pos[64], np = 0;
  for (size_t i = 1; i < n && np < 64; i++)
    if (s[i] >= 'a' && s[i] <= 'z') pos[np++] = i;
  if (!np) return;
  size_t i = pos[tsr_rng_bounded(g, np)];
  int kind = (int)tsr_rng_bounded(g, 3);
  if (kind == 0) { /* replace */
    char c;
    do c = (char)('a' + tsr_rng_bounded(g, 26)); while (c == s[i]);
    out[i] = c;
  } else if (kind == 1 && n > 3) { /* drop */
    memmove(out + i, out + i + 1, n - i);
  } else if (i + 1 < n && s[i + 1] >= 'a' && s[i + 1] <= 'z' && s[i + 1] != s[i]) { /* swap */
    out[i] = s[i + 1];
    out[i + 1] = s[i];
  } else {
    out[i] = s[i] == 'e' ? 'a' : 'e';
  }
}

/* A Swiss mobile number in one of the forms found in CRM exports. */
static void fmt_phone(tsr_rng *g, uint64_t num, char *out, size_t cap) {
  /* num: 9 digits, 7XNNNNNNN (mobile) or 2XNNNNNNN (household landline) */
  unsigned a = (unsigned)(num / 10000000), b = (unsigned)(num / 10000 % 1000),
           c = (unsigned)(num / 100 % 100), d = (unsigned)(num % 100);
  switch (tsr_rng_bounded(g, 5)) {
  case 0: snprintf(out, cap, "+41 %02u %03u %02u %02u", a, b, c, d); break;
  case 1: snprintf(out, cap, "0%02u %03u %02u %02u", a, b, c, d); break;
  case 2: snprintf(out, cap, "+41%09llu", (unsigned long long)num); break;
  case 3: snprintf(out, cap, "0041 %02u %03u %02u %02u", a, b, c, d); break;
  default: snprintf(out, cap, "0%09llu", (unsigned long long)num); break;
  }
}

/* ------------------------------------------------------------ persons */

typedef struct person {
  uint64_t idx;         /* 0-based person index */
  uint64_t hh;          /* household index */
  int age;              /* at the window end */
  int female;
  int stage;
  int family;           /* has dependent children */
  int student;
  int income;           /* 0..4 */
  double digital;       /* latent digital propensity in [0,1] */
  double satisfaction;  /* N(0,1): sentiment of interactions, churn */
  double lambda;        /* transactions per week while active */
  double mu;            /* dropout rate per week */
  int64_t birth_day, join_day, end_active_day;
  int alive;
  double hour;          /* usual hour of day */
  double spend_mu;      /* log median amount */
  double mc_pref[NMC_NORMAL];
  const char *first, *sur;
  int city;
  int postcode;
  char street[64];
  uint64_t phone;       /* 9 digits; 0 = none */
  int held[NPROD];      /* held at the window end */
  int64_t opened[NPROD];/* day of (last) opening, -1 never */
  /* records */
  int ndup;
  uint64_t dup_id;      /* customer number of the duplicate record (1-based) */
  int dup_kind;         /* 1 moved, 2 new e-mail, 3 typo, 4 missing phone */
  int64_t dup_day;      /* day the duplicate record was created */
} person;

static const char *const dup_kinds[] = {"primary", "moved", "new_email", "typo", "missing_phone"};

static int age_draw(tsr_rng *g) {
  static const double w[] = {12, 18, 18, 17, 15, 12, 8};
  static const int lo[] = {18, 25, 35, 45, 55, 65, 75}, span[] = {7, 10, 10, 10, 10, 10, 16};
  int k = pick(g, w, 7);
  return lo[k] + (int)tsr_rng_bounded(g, (uint64_t)span[k]);
}

/* Latent life stage from age and the family/student flags
 * (docs/simulate-bundle.md "Life stage"). */
static int stage_of(int age, int family, int student) {
  if (age <= 25 && student) return LS_STUDENT;
  if (age >= 65) return LS_RETIRED;
  if (age >= 55) return LS_PRERETIRE;
  if (age >= 25 && family) return LS_FAMILY;
  if (age < 35) return LS_YOUNG;
  return LS_ESTABLISHED;
}

typedef struct simctx {
  const tsr_bundle_sim_opts *o;
  int64_t start_day, end_day; /* window [start, end) */
  double weeks;
  double lambda_scale;
  uint64_t next_tx, next_in, next_dup;
  wbuf tx, cu, pe, in, ca, of;
  wbuf lp, lr, la, ls, lc;
  int latent;
  tsr_bundle_sim_stats st;
} simctx;

/* Fills the person's own attributes (household ones are set by the caller). */
static void person_init(simctx *x, person *p, tsr_rng *g, int age, int family, int student) {
  const tsr_bundle_sim_opts *o = x->o;
  p->age = age;
  p->family = family;
  p->student = student;
  p->stage = stage_of(age, family, student);
  p->birth_day = x->end_day - (int64_t)age * 365 - 5 - (int64_t)tsr_rng_bounded(g, 360) - age / 4;
  double inc = income_base[p->stage] + 0.9 * tsr_rng_normal(g);
  p->income = inc < -1.2 ? 0 : inc < -0.3 ? 1 : inc < 0.6 ? 2 : inc < 1.5 ? 3 : 4;
  double dm = clampd(1.05 - 0.012 * (age - 18), 0.1, 0.95);
  p->digital = clampd(tsr_rng_beta(g, 6 * dm + 0.5, 6 * (1 - dm) + 0.5), 0.01, 0.99);
  p->satisfaction = tsr_rng_normal(g);
  /* tenure: years since joining, at most age - 16 */
  double max_ten = age - 16 < 30 ? age - 16 : 30;
  double ten_y = tsr_rng_uniform(g) * max_ten;
  if (tsr_rng_uniform(g) < 0.12) ten_y = tsr_rng_uniform(g) * x->weeks / 52.18; /* joins inside the window */
  p->join_day = x->end_day - 1 - (int64_t)(ten_y * 365.25);
  p->lambda = tsr_rng_gamma(g, 1.6, 1.6) * x->lambda_scale * (0.6 + 0.8 * p->digital);
  double mu_mean = 1.0 / 260; /* dropout: mean active life 5 years */
  p->mu = tsr_rng_gamma(g, 2, 2 / mu_mean) * exp(-0.6 * p->satisfaction);
  int64_t act0 = p->join_day > x->start_day ? p->join_day : x->start_day;
  double life_w = tsr_rng_exponential(g, p->mu);
  double endw = (double)act0 / 7 + life_w;
  p->alive = endw * 7 >= (double)x->end_day;
  p->end_active_day = p->alive ? x->end_day : (int64_t)(endw * 7);
  p->hour = clampd(13.5 + 2.5 * tsr_rng_normal(g), 8, 20);
  p->spend_mu = log(income_spend[p->income]) + 0.3 * tsr_rng_normal(g);
  for (int k = 0; k < NMC_NORMAL; k++) p->mc_pref[k] = tsr_rng_gamma(g, 2, 1);
  /* products */
  for (int k = 0; k < NPROD; k++) {
    p->held[k] = 0;
    p->opened[k] = -1;
  }
  (void)o;
}

/* Product openings and closings of a person, written to products_events.csv
 * (each event names one of the person's records). */
static void person_products(simctx *x, person *p, tsr_rng *g) {
  int64_t ten = x->end_day - p->join_day;
  for (int k = 0; k < NPROD; k++) {
    double pr = open_p[p->stage][k];
    if (k == P_STUDENT && p->stage == LS_YOUNG && p->age <= 27) pr = 0.35; /* closed later */
    if (tsr_rng_uniform(g) >= pr) continue;
    int64_t day;
    if (k == P_CURRENT) {
      day = p->join_day;
    } else if (k == P_CHILD || k == P_MORTGAGE) {
      /* life-stage driven: in the last years of the stage */
      int64_t back = (int64_t)(tsr_rng_uniform(g) * (k == P_CHILD ? 9 : 12) * 365.25);
      if (back > ten) back = (int64_t)(tsr_rng_uniform(g) * (double)ten);
      day = x->end_day - 1 - back;
    } else if (k == P_STUDENT) {
      int64_t at18 = p->birth_day + (int64_t)(18.3 * 365.25);
      day = at18 > p->join_day ? at18 : p->join_day;
      day += (int64_t)tsr_rng_bounded(g, 300);
      if (day >= x->end_day) day = x->end_day - 1;
    } else {
      day = p->join_day + (int64_t)(tsr_rng_uniform(g) * (double)ten);
    }
    if (day < p->join_day) day = p->join_day;
    p->opened[k] = day;
    p->held[k] = 1;
    int close = 0;
    int64_t cday = 0;
    if (k == P_STUDENT && p->stage != LS_STUDENT) {
      /* student accounts close when studies end (a few stay open) */
      cday = p->birth_day + (int64_t)((25.5 + tsr_rng_uniform(g) * 2) * 365.25);
      close = cday > day && cday < x->end_day && tsr_rng_uniform(g) < 0.9;
    } else if (k == P_LOAN) {
      cday = day + (int64_t)((2 + 4 * tsr_rng_uniform(g)) * 365.25);
      close = cday < x->end_day;
    }
    const uint64_t rid = p->ndup && day >= p->dup_day && tsr_rng_uniform(g) < 0.5 ? p->dup_id : p->idx + 1;
    w_id(&x->pe, 'C', rid);
    w_ch(&x->pe, ',');
    w_day(&x->pe, day);
    w_ch(&x->pe, ',');
    w_str(&x->pe, prod_names[k]);
    w_str(&x->pe, ",open\n");
    x->st.product_events++;
    if (close) {
      p->held[k] = 0;
      const uint64_t cid = p->ndup && cday >= p->dup_day && tsr_rng_uniform(g) < 0.5 ? p->dup_id : p->idx + 1;
      w_id(&x->pe, 'C', cid);
      w_ch(&x->pe, ',');
      w_day(&x->pe, cday);
      w_ch(&x->pe, ',');
      w_str(&x->pe, prod_names[k]);
      w_str(&x->pe, ",close\n");
      x->st.product_events++;
    }
  }
}

/* One CRM record. kind 0 primary; 1..4 duplicate kinds. */
static void write_record(simctx *x, const person *p, tsr_rng *g, uint64_t id, int kind) {
  wbuf *w = &x->cu;
  char name[160], first[64], sur[96], mail[256], phone[40], fa[64], sa[96];
  snprintf(first, sizeof first, "%s", p->first);
  snprintf(sur, sizeof sur, "%s", p->sur);
  if (kind == 3) {
    if (tsr_rng_uniform(g) < 0.5) make_typo(g, p->first, first, sizeof first);
    else make_typo(g, p->sur, sur, sizeof sur);
  }
  snprintf(name, sizeof name, "%s %s", first, sur);
  ascii_fold(p->first, fa, sizeof fa);
  ascii_fold(p->sur, sa, sizeof sa);
  /* e-mail: a stable pattern per person; a new one for kind 2 */
  tsr_rng ge;
  tsr_rng_seed(&ge, x->o->seed, STREAM_MISC + p->idx * 4 + (kind == 2));
  int dom = (int)tsr_rng_bounded(&ge, sizeof mail_domains / sizeof mail_domains[0]);
  int pat = (int)tsr_rng_bounded(&ge, 3);
  (void)tsr_rng_bounded(&ge, 100); /* was the number; kept so the other draws stay */
  /* a mailbox is one person's: the number makes the local part unique per
   * person and address (names repeat across a million people) */
  unsigned long long num = (unsigned long long)(p->idx * 2 + (kind == 2));
  if (pat == 0) snprintf(mail, sizeof mail, "%s.%s.%llu@%s", fa, sa, num, mail_domains[dom]);
  else if (pat == 1) snprintf(mail, sizeof mail, "%c%s%llu@%s", fa[0], sa, num, mail_domains[dom]);
  else snprintf(mail, sizeof mail, "%s%llu.%s@%s", fa, num, sa, mail_domains[dom]);
  if (tsr_rng_uniform(g) < 0.1) mail[0] = (char)(mail[0] >= 'a' && mail[0] <= 'z' ? mail[0] - 32 : mail[0]);
  phone[0] = '\0';
  if (p->phone && kind != 4 && tsr_rng_uniform(g) > 0.03) fmt_phone(g, p->phone, phone, sizeof phone);
  int city = p->city, pc = p->postcode;
  char street[64];
  snprintf(street, sizeof street, "%s", p->street);
  if (kind == 1) { /* moved */
    tsr_rng gm;
    tsr_rng_seed(&gm, x->o->seed, STREAM_MISC + p->idx * 4 + 2);
    if (tsr_rng_uniform(&gm) < 0.5) {
      double cw[NCITIES];
      for (size_t k = 0; k < NCITIES; k++) cw[k] = cities[k].weight;
      city = pick(&gm, cw, (int)NCITIES);
    }
    pc = cities[city].postcode + (int)tsr_rng_bounded(&gm, 40);
    snprintf(street, sizeof street, "%s %u", streets[tsr_rng_bounded(&gm, sizeof streets / sizeof streets[0])],
             (unsigned)(1 + tsr_rng_bounded(&gm, 120)));
  }
  /* customer_id,name,email,phone,birth_date,gender,address,postcode,city,
   * income_band,join_date,products_held,channel_preference,risk_score */
  w_id(w, 'C', id);
  w_ch(w, ',');
  w_field(w, name);
  w_ch(w, ',');
  w_field(w, mail);
  w_ch(w, ',');
  w_field(w, phone);
  w_ch(w, ',');
  if (tsr_rng_uniform(g) > 0.01) w_day(w, p->birth_day);
  w_ch(w, ',');
  if (tsr_rng_uniform(g) > 0.02) w_str(w, p->female ? "F" : "M");
  w_ch(w, ',');
  w_field(w, street);
  w_ch(w, ',');
  w_u64(w, (uint64_t)pc, 4);
  w_ch(w, ',');
  w_field(w, cities[city].name);
  w_ch(w, ',');
  w_str(w, income_bands[p->income]);
  w_ch(w, ',');
  w_day(w, kind ? p->dup_day : p->join_day);
  w_ch(w, ',');
  int first_p = 1;
  for (int k = 0; k < NPROD; k++) {
    if (!p->held[k]) continue;
    if (kind && p->opened[k] < p->dup_day && k != P_CURRENT) continue;
    if (!first_p) w_ch(w, ';');
    w_str(w, prod_names[k]);
    first_p = 0;
  }
  w_ch(w, ',');
  w_str(w, p->digital > 0.66 ? "mobile" : p->digital > 0.45 ? "web" : p->digital > 0.25 ? "branch" : "phone");
  w_ch(w, ',');
  double risk = 35 - 8 * (p->income - 2) + 12 * p->held[P_LOAN] + 6 * p->held[P_CARD] + 10 * tsr_rng_normal(g);
  w_u64(w, (uint64_t)clampd(round(risk), 0, 100), 1);
  w_ch(w, '\n');
  x->st.customer_records++;
  if (x->latent) {
    /* records.csv: customer_id,person_id,household_id,kind */
    w_id(&x->lr, 'C', id);
    w_ch(&x->lr, ',');
    w_id(&x->lr, 'P', p->idx + 1);
    w_ch(&x->lr, ',');
    w_id(&x->lr, 'H', p->hh + 1);
    w_ch(&x->lr, ',');
    w_str(&x->lr, dup_kinds[kind]);
    w_ch(&x->lr, '\n');
  }
}

/* The customer id a transaction or interaction at `day` names. */
static inline uint64_t rec_id(const person *p, tsr_rng *g, int64_t day) {
  if (p->ndup && day >= p->dup_day && tsr_rng_uniform(g) < 0.5) return p->dup_id;
  return p->idx + 1;
}

typedef struct txn {
  int64_t t;
  int64_t cents;
  int ch, mc, anomaly;
} txn;

static int txn_cmp(const void *a, const void *b) {
  const txn *x = a, *y = b;
  return (x->t > y->t) - (x->t < y->t);
}

/* One normal transaction at day `day`. */
static void txn_normal(const person *p, tsr_rng *g, int64_t day, txn *t) {
  double chw[NCH] = {0.03 * (1 - p->digital), 0.45 * p->digital * 0.4, 0.45 * p->digital * 0.6,
                     0.42, 0.08 * (1 - p->digital) + 0.02, 0.04 * (1 - p->digital)};
  chw[CH_BRANCH] += 0.45 * (1 - p->digital) * 0.6;
  chw[CH_PHONE] += 0.45 * (1 - p->digital) * 0.4;
  t->ch = pick(g, chw, NCH);
  double w[NMC_NORMAL];
  const double *base = t->ch == CH_POS ? pos_mc : web_mc;
  for (int k = 0; k < NMC_NORMAL; k++) w[k] = base[k] * p->mc_pref[k];
  if (t->ch == CH_ATM) t->mc = MC_CASH;
  else if ((t->ch == CH_BRANCH || t->ch == CH_PHONE) && tsr_rng_uniform(g) < 0.9) t->mc = MC_TRANSFER;
  else t->mc = pick(g, w, NMC_NORMAL);
  if (t->ch == CH_BRANCH && tsr_rng_uniform(g) < 0.1) t->mc = MC_FEES;
  double amt = exp(p->spend_mu + 0.7 * tsr_rng_normal(g)) * mc_scale[t->mc];
  if (t->mc == MC_CASH) amt = 20 * ceil(amt / 20);
  int64_t c = (int64_t)llround(amt * 100);
  t->cents = c < 5 ? 5 : c;
  double h = p->hour + 2.2 * tsr_rng_normal(g);
  if (t->ch == CH_BRANCH) h = clampd(h, 9, 16.9);
  h = clampd(h, 6.5, 23.9);
  t->t = day * DAY_S + (int64_t)(h * 3600);
  t->anomaly = AN_NONE;
}

static int txn_grow(txn **buf, size_t *cap, size_t need) {
  if (need <= *cap) return 0;
  size_t nc = *cap ? *cap * 2 : 256;
  while (nc < need) nc *= 2;
  txn *nb = tsr__realloc(*buf, nc * sizeof *nb);
  if (!nb) return -1;
  *buf = nb;
  *cap = nc;
  return 0;
}

/* Transactions of a person over the window, with anomalies injected. */
static tsr_status person_transactions(simctx *x, const person *p, tsr_rng *g, txn **buf,
                                      size_t *cap) {
  int64_t a = p->join_day > x->start_day ? p->join_day : x->start_day;
  int64_t b = p->end_active_day;
  size_t n = 0;
  if (b > a) {
    double span_w = (double)(b - a) / 7;
    uint64_t k = tsr_rng_poisson(g, p->lambda * span_w);
    if (a == p->join_day && k == 0) k = 1;
    if (txn_grow(buf, cap, (size_t)k + 16)) return TSR_ENOMEM;
    for (uint64_t i = 0; i < k; i++) {
      int64_t day = a + (int64_t)tsr_rng_bounded(g, (uint64_t)(b - a));
      txn_normal(p, g, day, &(*buf)[n++]);
    }
    /* anomalies: each transaction may turn into one; bursts add rows */
    size_t n0 = n;
    for (size_t i = 0; i < n0; i++) {
      if (tsr_rng_uniform(g) >= x->o->anomaly_rate) continue;
      txn *t = &(*buf)[i];
      int kind = 1 + (int)tsr_rng_bounded(g, 4);
      int64_t day = t->t / DAY_S;
      if (kind == AN_HOUR) {
        t->t = day * DAY_S + (int64_t)((1 + 3 * tsr_rng_uniform(g)) * 3600);
        if (t->ch == CH_BRANCH) t->ch = CH_WEB;
      } else if (kind == AN_SPIKE) {
        t->cents = (int64_t)((double)t->cents * (12 + 30 * tsr_rng_uniform(g)));
      } else if (kind == AN_CATEGORY) {
        t->mc = MC_GAMBLING + (int)tsr_rng_bounded(g, 4);
        t->ch = tsr_rng_uniform(g) < 0.5 ? CH_WEB : CH_POS;
        t->cents = (int64_t)((double)t->cents * (1 + 3 * tsr_rng_uniform(g)));
      } else {
        int extra = 4 + (int)tsr_rng_bounded(g, 5);
        if (txn_grow(buf, cap, n + (size_t)extra + 1)) return TSR_ENOMEM;
        t = &(*buf)[i];
        for (int e = 0; e < extra; e++) {
          txn *u = &(*buf)[n++];
          *u = *t;
          u->t = t->t + 60 + (int64_t)tsr_rng_bounded(g, 3000);
          u->ch = tsr_rng_uniform(g) < 0.5 ? CH_POS : CH_WEB;
          u->mc = tsr_rng_uniform(g) < 0.5 ? MC_ELECTRONICS : MC_ONLINE;
          u->cents = (int64_t)((double)t->cents * (0.5 + tsr_rng_uniform(g)));
          u->anomaly = AN_BURST;
        }
      }
      t->anomaly = kind;
    }
    /* refunds: 1% of card and online purchases, 1..20 days later */
    size_t n1 = n;
    for (size_t i = 0; i < n1; i++) {
      txn *t = &(*buf)[i];
      if (t->anomaly || (t->mc != MC_RETAIL && t->mc != MC_ONLINE && t->mc != MC_ELECTRONICS) ||
          tsr_rng_uniform(g) >= 0.05)
        continue;
      int64_t rt = t->t + DAY_S * (1 + (int64_t)tsr_rng_bounded(g, 20));
      if (rt >= x->end_day * DAY_S) continue;
      if (txn_grow(buf, cap, n + 1)) return TSR_ENOMEM;
      t = &(*buf)[i];
      txn *u = &(*buf)[n++];
      *u = *t;
      u->t = rt;
      u->cents = -t->cents;
    }
  }
  if (n > 1) qsort(*buf, n, sizeof **buf, txn_cmp);
  for (size_t i = 0; i < n; i++) {
    const txn *t = &(*buf)[i];
    uint64_t tid = ++x->next_tx;
    uint64_t cid = rec_id(p, g, t->t / DAY_S);
    wbuf *w = &x->tx;
    /* transaction_id,customer_id,timestamp,amount,currency,channel,
     * merchant_category,product,description */
    w_id(w, 'T', tid);
    w_ch(w, ',');
    w_id(w, 'C', cid);
    w_ch(w, ',');
    w_ts(w, t->t);
    w_ch(w, ',');
    w_cents(w, t->cents);
    w_str(w, ",CHF,");
    w_str(w, ch_names[t->ch]);
    w_ch(w, ',');
    w_str(w, mc_names[t->mc]);
    w_ch(w, ',');
    w_str(w, t->ch == CH_POS && p->held[P_CARD] && (tid & 1) ? "credit_card" : "current_account");
    w_ch(w, ',');
    w_str(w, t->cents < 0 ? "REFUND " : "");
    w_str(w, mc_merchants[t->mc][tid % 3]);
    w_ch(w, ' ');
    w_str(w, cities[p->city].name[0] == 'Z' ? "ZURICH" : "CH");
    w_ch(w, '\n');
    x->st.transactions++;
    if (t->anomaly) {
      x->st.anomalies++;
      if (x->latent) {
        /* anomalies.csv: transaction_id,customer_id,person_id,kind */
        w_id(&x->la, 'T', tid);
        w_ch(&x->la, ',');
        w_id(&x->la, 'C', cid);
        w_ch(&x->la, ',');
        w_id(&x->la, 'P', p->idx + 1);
        w_ch(&x->la, ',');
        w_str(&x->la, an_names[t->anomaly]);
        w_ch(&x->la, '\n');
      }
    }
  }
  return TSR_OK;
}

/* ------------------------------------------------------------ interactions */

static const char *const pos_open[] = {"Thanks", "Thank you", "Many thanks", "Great job"};
static const char *const pos_body[] = {
    "for the quick help with my %s, I am %s happy with the service.",
    "the %s issue was resolved in minutes, %s satisfied.",
    "for explaining the %s so clearly. Excellent and friendly support, %s pleased.",
    "- no problems anymore with my %s, everything works fine now. %s good experience."};
static const char *const neg_open[] = {"This is unacceptable.", "Very disappointed.",
                                       "I am not happy.", "Terrible service."};
static const char *const neg_body[] = {
    "My %s problem is still not resolved and I am %s frustrated.",
    "Nobody helped me with the %s, the waiting time was awful and I feel %s annoyed.",
    "The %s fees are a scandal, I am %s angry and will close my account.",
    "Third time I call about my %s, the staff was not helpful and I am %s unhappy."};
static const char *const neu_body[] = {
    "I would like to ask about my %s.", "Please send me the documents for the %s.",
    "Can you tell me the opening hours? Question about %s.", "I need to update my %s details.",
    "Request: information on the %s conditions."};
static const char *const intens[] = {"very", "really", "extremely", "quite", "so"};

static void person_interactions(simctx *x, const person *p, tsr_rng *g) {
  const tsr_bundle_sim_opts *o = x->o;
  int64_t a = p->join_day > x->start_day ? p->join_day : x->start_day;
  int64_t b = p->end_active_day + (p->alive ? 0 : 14);
  if (b > x->end_day) b = x->end_day;
  if (b <= a) return;
  double frac = (double)(b - a) / (double)(x->end_day - x->start_day);
  double mean = o->interactions_per_customer * frac * (1 + 0.6 * (p->satisfaction < -0.5));
  uint64_t k = tsr_rng_poisson(g, mean);
  for (uint64_t i = 0; i < k; i++) {
    int64_t day = a + (int64_t)tsr_rng_bounded(g, (uint64_t)(b - a));
    /* the last contacts of a leaver come just before leaving */
    if (!p->alive && i + 1 == k && tsr_rng_uniform(g) < 0.5) day = b - 1 - (int64_t)tsr_rng_bounded(g, 14);
    if (day < a) day = a;
    int64_t t = day * DAY_S + (int64_t)(clampd(p->hour + 2 * tsr_rng_normal(g), 8, 20) * 3600);
    double v = 0.8 * p->satisfaction + 0.6 * tsr_rng_normal(g);
    if (!p->alive && day >= b - 30) v -= 0.8;
    int label = v < -0.6 ? -1 : v > 0.6 ? 1 : 0;
    const char *topic = topics[tsr_rng_bounded(g, NTOPICS)];
    char msg[400], body[300];
    const char *in = intens[tsr_rng_bounded(g, 5)];
    if (label > 0) {
      int bi = (int)tsr_rng_bounded(g, 4);
      snprintf(body, sizeof body, pos_body[bi], topic, bi == 3 ? "A very" : in);
      snprintf(msg, sizeof msg, "%s %s", pos_open[tsr_rng_bounded(g, 4)], body);
    } else if (label < 0) {
      snprintf(body, sizeof body, neg_body[tsr_rng_bounded(g, 4)], topic, in);
      snprintf(msg, sizeof msg, "%s %s", neg_open[tsr_rng_bounded(g, 4)], body);
    } else {
      snprintf(msg, sizeof msg, neu_body[tsr_rng_bounded(g, 5)], topic);
    }
    double cw[4] = {1 - p->digital, p->digital, 0.5 * p->digital + 0.1, 0.4 * (1 - p->digital)};
    int ch = pick(g, cw, 4);
    uint64_t iid = ++x->next_in;
    uint64_t cid = rec_id(p, g, day);
    wbuf *w = &x->in;
    /* interaction_id,customer_id,timestamp,channel,topic,message */
    w_id(w, 'I', iid);
    w_ch(w, ',');
    w_id(w, 'C', cid);
    w_ch(w, ',');
    w_ts(w, t);
    w_ch(w, ',');
    w_str(w, in_channels[ch]);
    w_ch(w, ',');
    w_field(w, topic);
    w_ch(w, ',');
    w_field(w, msg);
    w_ch(w, '\n');
    x->st.interactions++;
    if (x->latent) {
      /* sentiment.csv: interaction_id,customer_id,person_id,label,score */
      w_id(&x->ls, 'I', iid);
      w_ch(&x->ls, ',');
      w_id(&x->ls, 'C', cid);
      w_ch(&x->ls, ',');
      w_id(&x->ls, 'P', p->idx + 1);
      w_ch(&x->ls, ',');
      w_str(&x->ls, label > 0 ? "positive" : label < 0 ? "negative" : "neutral");
      w_ch(&x->ls, ',');
      w_dbl(&x->ls, clampd(v / 2, -1, 1));
      w_ch(&x->ls, '\n');
    }
  }
}

/* ------------------------------------------------------------ campaign */

#define CAMPAIGN_ID "CMP-CARD-1"
#define CAMPAIGN_OFFER "OF-CARD-CASHBACK"

/* Treatment effect on P(respond) (docs/simulate-bundle.md "Campaign"). */
static double campaign_tau(const person *p) {
  if (!p->alive) return 0;
  double tau = p->age < 35 ? 0.08 : p->age < 55 ? 0.04 : 0.0;
  if (p->digital > 0.6) tau += 0.04;
  if (p->held[P_CARD]) tau -= 0.03;
  return tau;
}

static void person_campaign(simctx *x, const person *p, tsr_rng *g) {
  if (tsr_rng_uniform(g) >= x->o->campaign_share) return;
  int treat = tsr_rng_uniform(g) < 0.5;
  double p0 = p->alive ? sigmoid(-3.2 + 0.8 * p->digital + 0.25 * (p->income - 2)) : 0.005;
  double tau = campaign_tau(p);
  double p1 = clampd(p0 + tau, 0, 1);
  int resp = tsr_rng_uniform(g) < (treat ? p1 : p0);
  int64_t cday = x->end_day - 14 - (int64_t)tsr_rng_bounded(g, 42);
  wbuf *w = &x->ca;
  /* customer_id,campaign_id,group,contact_date,responded,offer_id */
  w_id(w, 'C', p->idx + 1);
  w_str(w, "," CAMPAIGN_ID ",");
  w_str(w, treat ? "treatment" : "control");
  w_ch(w, ',');
  w_day(w, cday);
  w_ch(w, ',');
  w_ch(w, resp ? '1' : '0');
  w_str(w, treat ? "," CAMPAIGN_OFFER "\n" : ",\n");
  x->st.campaign_rows++;
  if (x->latent) {
    /* campaign_truth.csv: customer_id,person_id,group,p_control,p_treatment,tau,responded */
    wbuf *l = &x->lc;
    w_id(l, 'C', p->idx + 1);
    w_ch(l, ',');
    w_id(l, 'P', p->idx + 1);
    w_ch(l, ',');
    w_str(l, treat ? "treatment" : "control");
    w_ch(l, ',');
    w_dbl(l, p0);
    w_ch(l, ',');
    w_dbl(l, p1);
    w_ch(l, ',');
    w_dbl(l, p1 - p0);
    w_ch(l, ',');
    w_ch(l, resp ? '1' : '0');
    w_ch(l, '\n');
  }
}

static void write_offers(simctx *x) {
  static const char *const rows[][5] = {
      {"OF-CARD-CASHBACK", "Cashback credit card", "2% cashback on card payments for one year", "credit_card", "age >= 18 and not holds credit_card"},
      {"OF-SAVE-BONUS", "Savings bonus", "0.5% bonus interest on new savings", "savings_account", "not holds savings_account"},
      {"OF-STUDENT", "Student package", "Free student account and card", "student_account", "age <= 25"},
      {"OF-LOAN-RATE", "Personal loan rate", "Personal loan at a reduced rate", "personal_loan", "age >= 21 and risk_score <= 60"},
      {"OF-MORTGAGE-FIX", "Fixed mortgage", "10-year fixed-rate mortgage", "mortgage", "age >= 25 and age <= 60 and income_band in (middle, upper_middle, high)"},
      {"OF-CHILD", "Child savings", "Savings account for your children with a starting bonus", "child_savings", "life_stage = family"},
      {"OF-FUND", "Investment fund", "Managed fund with a low entry fee", "investment_fund", "income_band in (upper_middle, high)"},
      {"OF-PENSION", "Pension plan", "Tax-advantaged pension plan (pillar 3a)", "pension_plan", "age >= 25 and age <= 64"},
      {"OF-INSURE", "Home insurance", "Household and liability insurance", "insurance", "not holds insurance"},
      {"OF-DIGITAL", "Mobile banking", "Switch to mobile banking and pay no account fee", "current_account", "digital_share < 0.3"}};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    for (int k = 0; k < 5; k++) {
      if (k) w_ch(&x->of, ',');
      w_field(&x->of, rows[i][k]);
    }
    w_ch(&x->of, '\n');
    x->st.offers++;
  }
}

/* ------------------------------------------------------------ driver */

static void latent_person(simctx *x, const person *p) {
  wbuf *w = &x->lp;
  char t[16];
  /* person_id,primary_customer_id,duplicate_customer_id,duplicate_kind,
   * household_id,age,birth_date,gender,life_stage,family,income_band,city,
   * digital_share,satisfaction,lambda,mu,join_date,alive,dropout_date,
   * products_held */
  w_id(w, 'P', p->idx + 1);
  w_ch(w, ',');
  w_id(w, 'C', p->idx + 1);
  w_ch(w, ',');
  if (p->ndup) w_id(w, 'C', p->dup_id);
  w_ch(w, ',');
  w_str(w, p->ndup ? dup_kinds[p->dup_kind] : "");
  w_ch(w, ',');
  w_id(w, 'H', p->hh + 1);
  w_ch(w, ',');
  w_u64(w, (uint64_t)p->age, 1);
  w_ch(w, ',');
  w_day(w, p->birth_day);
  w_ch(w, ',');
  w_str(w, p->female ? "F" : "M");
  w_ch(w, ',');
  w_str(w, ls_names[p->stage]);
  w_ch(w, ',');
  w_ch(w, p->family ? '1' : '0');
  w_ch(w, ',');
  w_str(w, income_bands[p->income]);
  w_ch(w, ',');
  w_field(w, cities[p->city].name);
  w_ch(w, ',');
  w_dbl(w, 0.45 * p->digital / (1.04 - 0.15 * p->digital)); /* P(web or mobile) */
  w_ch(w, ',');
  w_dbl(w, p->satisfaction);
  w_ch(w, ',');
  w_dbl(w, p->lambda);
  w_ch(w, ',');
  w_dbl(w, p->mu);
  w_ch(w, ',');
  w_day(w, p->join_day);
  w_ch(w, ',');
  w_ch(w, p->alive ? '1' : '0');
  w_ch(w, ',');
  if (!p->alive) w_str(w, tsr_day_format(p->end_active_day, t));
  w_ch(w, ',');
  int first = 1;
  for (int k = 0; k < NPROD; k++) {
    if (!p->held[k]) continue;
    if (!first) w_ch(w, ';');
    w_str(w, prod_names[k]);
    first = 0;
  }
  w_ch(w, '\n');
}

static int mkdir_p(const char *dir) {
  char buf[4096];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof buf) return -1;
  memcpy(buf, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] == '/' || buf[i] == '\0') {
      char c = buf[i];
      buf[i] = '\0';
      if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
      buf[i] = c;
    }
  }
  struct stat sb;
  return stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) ? 0 : -1;
}

/* Generates one household starting at person index *next. */
static tsr_status household(simctx *x, uint64_t hh, uint64_t *next, person *ps, txn **buf,
                            size_t *cap) {
  const tsr_bundle_sim_opts *o = x->o;
  tsr_rng g;
  tsr_rng_seed(&g, o->seed, STREAM_HH + hh);
  uint64_t left = o->customers - *next;
  /* composition: single, couple, parents + adult child, couple + 2 adult children */
  static const double cw[] = {45, 35, 12, 8};
  int kind = pick(&g, cw, 4);
  int head_age = age_draw(&g);
  int n = kind == 0 ? 1 : kind == 1 ? 2 : kind == 2 ? 3 : 4;
  if (kind >= 2) head_age = 45 + (int)tsr_rng_bounded(&g, 18);
  if ((uint64_t)n > left) n = (int)left;
  int ages[4], fam[4], stud[4], female[4];
  const char *sur = surnames[tsr_rng_bounded(&g, sizeof surnames / sizeof surnames[0])];
  int family = 0;
  if (kind == 1 && head_age >= 28 && head_age <= 49) family = tsr_rng_uniform(&g) < 0.6;
  if (kind == 0 && head_age >= 28 && head_age <= 49) family = tsr_rng_uniform(&g) < 0.15;
  for (int i = 0; i < n; i++) {
    if (i == 0) ages[i] = head_age;
    else if (i == 1) ages[i] = (int)clampd(head_age + round(3 * tsr_rng_normal(&g)), 18, 95);
    else ages[i] = 18 + (int)tsr_rng_bounded(&g, 8);
    fam[i] = i < 2 ? family : 0;
    stud[i] = ages[i] <= 25 && tsr_rng_uniform(&g) < (ages[i] <= 23 ? 0.65 : 0.4);
    female[i] = i == 1 ? !female[0] : (int)tsr_rng_bounded(&g, 2);
  }
  double cwts[NCITIES];
  for (size_t k = 0; k < NCITIES; k++) cwts[k] = cities[k].weight;
  int city = pick(&g, cwts, (int)NCITIES);
  int postcode = cities[city].postcode + (int)tsr_rng_bounded(&g, 40);
  char street[64];
  snprintf(street, sizeof street, "%s %u", streets[tsr_rng_bounded(&g, sizeof streets / sizeof streets[0])],
           (unsigned)(1 + tsr_rng_bounded(&g, 120)));
  /* a household landline: 0XX numbers (not mobiles), unique per household */
  uint64_t shared_phone = tsr_rng_uniform(&g) < 0.3 ? 700000000 + tsr_rng_bounded(&g, 99999999) : 0;
  if (shared_phone) shared_phone = 200000000 + (hh * 48271 + 777) % 100000000;
  for (int i = 0; i < n; i++) {
    person *p = &ps[i];
    memset(p, 0, sizeof *p);
    p->idx = *next + (uint64_t)i;
    p->hh = hh;
    tsr_rng pg;
    tsr_rng_seed(&pg, o->seed, STREAM_PERSON + p->idx);
    p->female = female[i];
    const char *const *fl = p->female ? first_f : first_m;
    p->first = fl[tsr_rng_bounded(&pg, 30)];
    p->sur = sur;
    p->city = city;
    p->postcode = postcode;
    snprintf(p->street, sizeof p->street, "%s", street);
    person_init(x, p, &pg, ages[i], fam[i], stud[i]);
    /* a mobile number is one person's: a bijection of the person index onto
     * 7X XXX XX XX (48271 is prime to 10^8); the draw is kept so that the
     * other draws of the stream stay as they were */
    p->phone = tsr_rng_uniform(&pg) < 0.92 ? 700000000 + tsr_rng_bounded(&pg, 99999999) : 0;
    if (p->phone) p->phone = 700000000 + (p->idx * 48271 + 12345) % 100000000;
    if (shared_phone && tsr_rng_uniform(&pg) < 0.5) p->phone = shared_phone;
    /* duplicate record */
    if (tsr_rng_uniform(&pg) < o->duplicate_rate) {
      p->ndup = 1;
      p->dup_id = o->customers + (++x->next_dup);
      p->dup_kind = 1 + (int)tsr_rng_bounded(&pg, 4);
      int64_t ten = x->end_day - p->join_day;
      p->dup_day = p->join_day + (ten > 2 ? (int64_t)tsr_rng_bounded(&pg, (uint64_t)ten) : 0);
      x->st.duplicates++;
    }
    person_products(x, p, &pg);
    write_record(x, p, &pg, p->idx + 1, 0);
    if (p->ndup) write_record(x, p, &pg, p->dup_id, p->dup_kind);
    tsr_status st = person_transactions(x, p, &pg, buf, cap);
    if (st != TSR_OK) return st;
    person_interactions(x, p, &pg);
    person_campaign(x, p, &pg);
    if (x->latent) latent_person(x, p);
  }
  *next += (uint64_t)n;
  x->st.households++;
  return TSR_OK;
}

/* E[min(T, L)] for T ~ Exp(mu), mu ~ Gamma(2, rate 2/m): the expected
 * active weeks of the window (Monte Carlo on a fixed stream). */
static double active_weeks(double L, uint64_t seed) {
  tsr_rng g;
  tsr_rng_seed(&g, seed, STREAM_MISC - 1);
  double s = 0;
  const int n = 4000;
  for (int i = 0; i < n; i++) {
    double mu = tsr_rng_gamma(&g, 2, 2 * 260.0);
    s += (1 - exp(-mu * L)) / mu;
  }
  return s / n;
}

tsr_status tsr_bundle_simulate(const tsr_bundle_sim_opts *o, const char *dir,
                               const char *latent_dir, tsr_bundle_sim_stats *stats,
                               tsr_error *err) {
  tsr_status st = tsr_bundle_sim_check_opts(o, err);
  if (st != TSR_OK) return st;
  if (!dir) return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "dir", "expected a folder, got NULL");
  if (mkdir_p(dir) != 0) return tsr_error_set(err, TSR_EIO, dir, 0, 0, NULL, "cannot create folder: %s", strerror(errno));
  if (latent_dir && mkdir_p(latent_dir) != 0)
    return tsr_error_set(err, TSR_EIO, latent_dir, 0, 0, NULL, "cannot create folder: %s", strerror(errno));
  simctx *x = tsr__calloc(1, sizeof *x);
  if (!x) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  x->o = o;
  x->start_day = o->start_day;
  x->end_day = o->start_day + 7 * (int64_t)o->weeks;
  x->weeks = o->weeks;
  x->latent = latent_dir != NULL;
  x->lambda_scale = o->tx_per_customer / x->weeks;
  (void)active_weeks;
  struct {
    wbuf *w;
    int latent;
    const char *name, *header;
  } files[] = {
      {&x->tx, 0, "transactions.csv", "transaction_id,customer_id,timestamp,amount,currency,channel,merchant_category,product,description"},
      {&x->cu, 0, "customers.csv", "customer_id,name,email,phone,birth_date,gender,address,postcode,city,income_band,join_date,products_held,channel_preference,risk_score"},
      {&x->pe, 0, "products_events.csv", "customer_id,date,product,event"},
      {&x->in, 0, "interactions.csv", "interaction_id,customer_id,timestamp,channel,topic,message"},
      {&x->ca, 0, "campaign.csv", "customer_id,campaign_id,group,contact_date,responded,offer_id"},
      {&x->of, 0, "offers.csv", "offer_id,name,description,product,eligible"},
      {&x->lp, 1, "persons.csv", "person_id,primary_customer_id,duplicate_customer_id,duplicate_kind,household_id,age,birth_date,gender,life_stage,family,income_band,city,digital_share,satisfaction,lambda,mu,join_date,alive,dropout_date,products_held"},
      {&x->lr, 1, "records.csv", "customer_id,person_id,household_id,kind"},
      {&x->la, 1, "anomalies.csv", "transaction_id,customer_id,person_id,kind"},
      {&x->ls, 1, "sentiment.csv", "interaction_id,customer_id,person_id,label,score"},
      {&x->lc, 1, "campaign_truth.csv", "customer_id,person_id,group,p_control,p_treatment,tau,responded"},
  };
  const size_t nfiles = sizeof files / sizeof files[0];
  for (size_t i = 0; i < nfiles && st == TSR_OK; i++) {
    if (files[i].latent && !latent_dir) continue;
    st = w_open(files[i].w, files[i].latent ? latent_dir : dir, files[i].name, files[i].header, err);
  }
  txn *buf = NULL;
  size_t cap = 0;
  if (st == TSR_OK) {
    write_offers(x);
    person ps[4];
    uint64_t next = 0, hh = 0;
    while (next < o->customers) {
      st = household(x, hh++, &next, ps, &buf, &cap);
      if (st != TSR_OK) {
        tsr_error_set(err, st, NULL, 0, 0, NULL, "out of memory");
        break;
      }
      if (o->on_progress && (hh & 0xFFFF) == 0) o->on_progress(o->ud, next, o->customers);
      if (x->tx.failed || x->cu.failed) {
        st = tsr_error_set(err, TSR_EIO, x->tx.failed ? x->tx.path : x->cu.path, 0, 0, NULL,
                           "write error: %s", strerror(errno));
        break;
      }
    }
    if (o->on_progress) o->on_progress(o->ud, next, o->customers);
  }
  tsr__free(buf);
  for (size_t i = 0; i < nfiles; i++) st = w_close(files[i].w, st, err);
  x->st.persons = o->customers;
  if (stats) *stats = x->st;
  tsr__free(x);
  return st;
}
