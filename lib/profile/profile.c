/*
 * profile.c - multi-source customer profiles (tessera/profile.h): one row
 * per resolved customer from the bundle's tables; life stage, tenure,
 * products, risk band, channel mix, service contacts and sentiment.
 * The rules are written down in docs/profiles.md.
 */
#include "internal.h"
#include "base/textbuf.h"
#include "tessera/csv.h"
#include "profile_internal.h"
#include "tessera/datetime.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_S 86400

/* ------------------------------------------------------------ string map */

static uint64_t str_hash(const char *s, size_t n) { return tsr__hash_bytes(s, n, 0x9E3779B97F4A7C15ULL) | 1; }

void tsr__smap_release(tsr__smap *m) {
  tsr__free(m->slot);
  tsr__free(m->hash);
  memset(m, 0, sizeof *m);
}

static tsr_status smap_grow(tsr__smap *m) {
  size_t ncap = m->cap ? m->cap * 2 : 1024;
  uint32_t *ns = tsr__malloc(ncap * sizeof *ns);
  uint64_t *nh = tsr__malloc(ncap * sizeof *nh);
  if (!ns || !nh) {
    tsr__free(ns);
    tsr__free(nh);
    return TSR_ENOMEM;
  }
  for (size_t i = 0; i < ncap; i++) ns[i] = UINT32_MAX;
  for (size_t i = 0; i < m->cap; i++) {
    if (m->slot[i] == UINT32_MAX) continue;
    size_t j = (size_t)m->hash[i] & (ncap - 1);
    while (ns[j] != UINT32_MAX) j = (j + 1) & (ncap - 1);
    ns[j] = m->slot[i];
    nh[j] = m->hash[i];
  }
  tsr__free(m->slot);
  tsr__free(m->hash);
  m->slot = ns;
  m->hash = nh;
  m->cap = ncap;
  return TSR_OK;
}

/* Finds key (of length n); keyof(ud, v) gives the key of stored value v.
 * Returns the value or UINT32_MAX; *pos receives the insert slot. */
static uint32_t smap_find(const tsr__smap *m, const char *key, size_t n, uint64_t h,
                          const char *(*keyof)(const void *, uint32_t), const void *ud,
                          size_t *pos) {
  if (!m->cap) {
    *pos = 0;
    return UINT32_MAX;
  }
  size_t j = (size_t)h & (m->cap - 1);
  while (m->slot[j] != UINT32_MAX) {
    if (m->hash[j] == h) {
      const char *k = keyof(ud, m->slot[j]);
      if (strlen(k) == n && memcmp(k, key, n) == 0) return m->slot[j];
    }
    j = (j + 1) & (m->cap - 1);
  }
  *pos = j;
  return UINT32_MAX;
}

static tsr_status smap_insert(tsr__smap *m, uint64_t h, uint32_t v) {
  if ((m->n + 1) * 2 > m->cap) {
    tsr_status st = smap_grow(m);
    if (st) return st;
  }
  size_t j = (size_t)h & (m->cap - 1);
  while (m->slot[j] != UINT32_MAX) j = (j + 1) & (m->cap - 1);
  m->slot[j] = v;
  m->hash[j] = h;
  m->n++;
  return TSR_OK;
}

/* ------------------------------------------------------------ arena */

/* Copies s[0..n) into the builder's string arena (stable pointers). */
static const char *arena_put(tsr_profiles *p, const char *s, size_t n) {
  if (!p->arena || p->arena_used + n + 1 > p->arena_cap) {
    size_t cap = n + 1 > ((size_t)1 << 20) ? n + 1 : ((size_t)1 << 20);
    tsr__arena_blk *b = tsr__malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->next = p->arena;
    p->arena = b;
    p->arena_used = 0;
    p->arena_cap = cap;
  }
  char *d = p->arena->data + p->arena_used;
  memcpy(d, s, n);
  d[n] = '\0';
  p->arena_used += n + 1;
  return d;
}

/* ------------------------------------------------------------ interning */

static const char *pool_key(const void *ud, uint32_t v) {
  return ((const tsr_profiles *)ud)->pool[v];
}

/* Interned copy of a small string (gender, city ...). */
static const char *intern(tsr_profiles *p, const char *s, size_t n) {
  if (!n) return "";
  uint64_t h = str_hash(s, n);
  size_t pos;
  uint32_t v = smap_find(&p->pool_map, s, n, h, pool_key, p, &pos);
  if (v != UINT32_MAX) return p->pool[v];
  if (tsr__grow((void **)&p->pool, &p->pool_cap, p->pool_n + 1, sizeof *p->pool)) return NULL;
  const char *c = arena_put(p, s, n);
  if (!c) return NULL;
  p->pool[p->pool_n] = c;
  if (smap_insert(&p->pool_map, h, (uint32_t)p->pool_n)) return NULL;
  p->pool_n++;
  return c;
}

/* Index of a product name (interned, at most TSR_PROFILE_MAX_PRODUCTS; -1
 * when the catalogue is full). */
static int product_index(tsr_profiles *p, const char *s, size_t n) {
  const char *c = intern(p, s, n);
  if (!c) return -2;
  for (size_t i = 0; i < p->nprod; i++)
    if (p->prod[i] == c) return (int)i;
  if (p->nprod >= TSR_PROFILE_MAX_PRODUCTS) {
    p->products_dropped++;
    return -1;
  }
  p->prod[p->nprod] = c;
  return (int)p->nprod++;
}

/* ------------------------------------------------------------ life cycle */

void tsr_profile_opts_init(tsr_profile_opts *o) {
  memset(o, 0, sizeof *o);
  o->today = -1;
  o->recent_days = 90;
}

const char *tsr_life_stage_name(tsr_life_stage s) {
  switch (s) {
  case TSR_LS_UNKNOWN: return "unknown";
  case TSR_LS_STUDENT: return "student";
  case TSR_LS_YOUNG_ADULT: return "young_adult";
  case TSR_LS_FAMILY: return "family";
  case TSR_LS_ESTABLISHED: return "established";
  case TSR_LS_PRE_RETIREMENT: return "pre_retirement";
  case TSR_LS_RETIRED: return "retired";
  }
  return "unknown";
}

tsr_life_stage tsr_life_stage_rule(double age, int holds_student, int holds_child) {
  if (isnan(age)) return TSR_LS_UNKNOWN;
  if (age < 26 && holds_student) return TSR_LS_STUDENT;
  if (age >= 65) return TSR_LS_RETIRED;
  if (age >= 55) return TSR_LS_PRE_RETIREMENT;
  if (age >= 25 && holds_child) return TSR_LS_FAMILY;
  if (age < 35) return TSR_LS_YOUNG_ADULT;
  return TSR_LS_ESTABLISHED;
}

tsr_status tsr_profiles_new(const tsr_profile_opts *o, tsr_profiles **out, tsr_error *err) {
  *out = NULL;
  tsr_profile_opts d;
  if (!o) {
    tsr_profile_opts_init(&d);
    o = &d;
  }
  if (o->recent_days < 1)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, "recent_days",
                         "expected an integer >= 1, got %d", o->recent_days);
  tsr_profiles *p = tsr__calloc(1, sizeof *p);
  if (!p) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  p->o = *o;
  p->max_day = INT64_MIN;
  *out = p;
  return TSR_OK;
}

void tsr_profiles_free(tsr_profiles *p) {
  if (!p) return;
  tsr__free(p->rows);
  tsr__free(p->pool);
  tsr__free(p->map_from);
  tsr__free(p->map_to);
  tsr__smap_release(&p->ids);
  tsr__smap_release(&p->pool_map);
  tsr__smap_release(&p->map);
  while (p->arena) {
    tsr__arena_blk *n = p->arena->next;
    tsr__free(p->arena);
    p->arena = n;
  }
  tsr__free(p->seg);
  tsr__free(p->seg_names);
  tsr__free(p->ev);
  tsr__intern_release(&p->st_raw);
  tsr__intern_release(&p->st_res);
  tsr__free(p->st_of_raw);
  tsr__free(p->st);
  tsr__free(p);
}

size_t tsr_profiles_count(const tsr_profiles *p) { return p->n; }
const tsr_profile *tsr_profiles_get(const tsr_profiles *p, size_t i) {
  return i < p->n ? &p->rows[i] : NULL;
}
size_t tsr_profiles_nproducts(const tsr_profiles *p) { return p->nprod; }
const char *tsr_profiles_product(const tsr_profiles *p, size_t i) {
  return i < p->nprod ? p->prod[i] : NULL;
}
int64_t tsr_profiles_today(const tsr_profiles *p) { return p->today; }

void tsr_profiles_on_record(tsr_profiles *p,
                            void (*fn)(void *ud, size_t profile, const tsr_bundle_row *row),
                            void *ud) {
  p->on_record = fn;
  p->on_record_ud = ud;
}

/* ------------------------------------------------------------ ids */

static const char *map_key(const void *ud, uint32_t v) {
  return ((const tsr_profiles *)ud)->map_from[v];
}
static const char *row_key(const void *ud, uint32_t v) {
  return ((const tsr_profiles *)ud)->rows[v].id;
}

tsr_status tsr_profiles_map_id(tsr_profiles *p, const char *rec, const char *res, tsr_error *err) {
  p->last_ok = 0; /* tsr__profiles_row's last record may map otherwise now */
  size_t n = strlen(rec);
  uint64_t h = str_hash(rec, n);
  size_t pos;
  uint32_t v = smap_find(&p->map, rec, n, h, map_key, p, &pos);
  const char *to = arena_put(p, res, strlen(res));
  if (!to) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  if (v != UINT32_MAX) {
    p->map_to[v] = to;
    return TSR_OK;
  }
  size_t cap = p->map_cap;
  if (tsr__grow((void **)&p->map_from, &cap, p->map_n + 1, sizeof *p->map_from) ||
      tsr__grow((void **)&p->map_to, &p->map_cap, p->map_n + 1, sizeof *p->map_to))
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  const char *from = arena_put(p, rec, n);
  if (!from) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  p->map_from[p->map_n] = from;
  p->map_to[p->map_n] = to;
  if (smap_insert(&p->map, h, (uint32_t)p->map_n))
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  p->map_n++;
  return TSR_OK;
}

const char *tsr_profiles_resolve(const tsr_profiles *p, const char *rec) {
  size_t n = strlen(rec), pos;
  uint32_t v = smap_find(&p->map, rec, n, str_hash(rec, n), map_key, p, &pos);
  return v == UINT32_MAX ? rec : p->map_to[v];
}

ptrdiff_t tsr_profiles_find(const tsr_profiles *p, const char *id) {
  size_t n = strlen(id), pos;
  uint32_t v = smap_find(&p->ids, id, n, str_hash(id, n), row_key, p, &pos);
  return v == UINT32_MAX ? -1 : (ptrdiff_t)v;
}

static void row_init(tsr_profile *r) {
  memset(r, 0, sizeof *r);
  r->age = NAN;
  r->gender = r->income_band = r->city = r->channel_preference = r->risk_band = "";
  r->rfm_segment = r->micro = "";
  r->tenure_years = NAN;
  r->risk_score = NAN;
  r->digital_share = NAN;
  r->last_tx_time = INT64_MIN;
  r->sentiment_mean = r->sentiment_last = NAN;
  r->anomalies = -1;
  r->frequency = r->recency = r->T = r->monetary = r->p_alive = r->expected = r->clv = NAN;
  r->behaviour = r->value_tier = r->affinity = -1;
  r->first_day = r->join_day = INT64_MAX;
  r->last_ev_day = INT64_MIN;
  r->last_in_time = INT64_MIN;
  r->birth_day = INT64_MIN;
}

/* The resolved id of record id rec[0..n): *id and *n. */
static void resolve_n(const tsr_profiles *p, const char *rec, size_t n, const char **id, size_t *idn) {
  *id = rec;
  *idn = n;
  if (p->map_n) {
    size_t pos;
    uint32_t v = smap_find(&p->map, rec, n, str_hash(rec, n), map_key, p, &pos);
    if (v != UINT32_MAX) {
      *id = p->map_to[v];
      *idn = strlen(*id);
    }
  }
}

static tsr_profile *row_of_id(tsr_profiles *p, const char *id, size_t n);

/* The profile of a record id (resolved), created when new; NULL on OOM. */
tsr_profile *tsr__profiles_row(tsr_profiles *p, const char *rec, size_t n) {
  /* consecutive rows of one customer (product events) */
  if (p->last_ok && n == p->last_n && !memcmp(p->last_rec, rec, n)) return &p->rows[p->last_row];
  const char *id;
  size_t idn;
  resolve_n(p, rec, n, &id, &idn);
  tsr_profile *r = row_of_id(p, id, idn);
  p->last_ok = 0;
  if (r && n < sizeof p->last_rec) {
    memcpy(p->last_rec, rec, n);
    p->last_n = n;
    p->last_row = (uint32_t)(r - p->rows);
    p->last_ok = 1;
  }
  return r;
}

/* The profile of resolved id id[0..n), created when new; NULL on OOM. */
static tsr_profile *row_of_id(tsr_profiles *p, const char *id, size_t n) {
  uint64_t h = str_hash(id, n);
  size_t pos;
  uint32_t v = smap_find(&p->ids, id, n, h, row_key, p, &pos);
  if (v != UINT32_MAX) return &p->rows[v];
  if (p->n >= UINT32_MAX - 1) return NULL;
  if (tsr__grow((void **)&p->rows, &p->cap, p->n + 1, sizeof *p->rows)) return NULL;
  tsr_profile *r = &p->rows[p->n];
  row_init(r);
  r->id = arena_put(p, id, n);
  if (!r->id) return NULL;
  if (smap_insert(&p->ids, h, (uint32_t)p->n)) return NULL;
  p->n++;
  return r;
}

/* ------------------------------------------------------------ tables */

static inline int64_t day_of(int64_t t) { return t >= 0 ? t / DAY_S : -((-t + DAY_S - 1) / DAY_S); }

static void see_day(tsr_profiles *p, int64_t day) {
  if (day > p->max_day) p->max_day = day;
}

static int lower_has(const char *s, const char *needle) {
  char b[128];
  size_t n = strlen(s);
  if (n >= sizeof b) n = sizeof b - 1;
  for (size_t i = 0; i < n; i++) b[i] = (char)tolower((unsigned char)s[i]);
  b[n] = '\0';
  return strstr(b, needle) != NULL;
}

/* 1 when channel c names a digital channel (web, mobile, online, app in
 * any case, within its first 127 bytes as lower_has reads it). */
static int digital_channel(const char *c) {
  char b[128];
  size_t n = strlen(c);
  if (n >= sizeof b) n = sizeof b - 1;
  for (size_t i = 0; i < n; i++) b[i] = (char)tolower((unsigned char)c[i]);
  b[n] = '\0';
  return strstr(b, "web") || strstr(b, "mobile") || strstr(b, "online") || strstr(b, "app");
}

static tsr_status add_customer(tsr_profiles *p, const tsr_bundle_row *row) {
  const tsr_value *v = row->v;
  tsr_profile *r = tsr__profiles_row(p, v[TSR_CU_CUSTOMER_ID].s, v[TSR_CU_CUSTOMER_ID].len);
  if (!r) return TSR_ENOMEM;
  r->n_records++;
  r->in_crm = 1;
  if (p->on_record) p->on_record(p->on_record_ud, (size_t)(r - p->rows), row);
  /* the first record with a value wins for demographics */
#define TAKE(field, col)                                                        \
  if (!*r->field && v[col].present) {                                           \
    r->field = intern(p, v[col].s, v[col].len);                                 \
    if (!r->field) return TSR_ENOMEM;                                           \
  }
  TAKE(gender, TSR_CU_GENDER)
  TAKE(income_band, TSR_CU_INCOME_BAND)
  TAKE(city, TSR_CU_CITY)
  TAKE(channel_preference, TSR_CU_CHANNEL_PREFERENCE)
#undef TAKE
  if (v[TSR_CU_BIRTH_DATE].present && r->birth_day == INT64_MIN)
    r->birth_day = day_of(v[TSR_CU_BIRTH_DATE].t); /* age at finish */
  if (v[TSR_CU_JOIN_DATE].present) {
    int64_t d = day_of(v[TSR_CU_JOIN_DATE].t);
    if (d < r->join_day) r->join_day = d;
    see_day(p, d);
  }
  if (v[TSR_CU_RISK_SCORE].present) {
    r->risk_score = (r->n_risk ? r->risk_score * r->n_risk : 0) + v[TSR_CU_RISK_SCORE].num;
    r->n_risk++;
    r->risk_score /= r->n_risk;
  }
  if (v[TSR_CU_PRODUCTS_HELD].present) {
    const char *s = v[TSR_CU_PRODUCTS_HELD].s, *e = s + v[TSR_CU_PRODUCTS_HELD].len;
    while (s < e) {
      const char *q = memchr(s, ';', (size_t)(e - s));
      if (!q) q = e;
      const char *a = s, *b = q;
      while (a < b && isspace((unsigned char)*a)) a++;
      while (b > a && isspace((unsigned char)b[-1])) b--;
      if (b > a) {
        int k = product_index(p, a, (size_t)(b - a));
        if (k == -2) return TSR_ENOMEM;
        if (k >= 0) r->products |= (uint64_t)1 << k;
      }
      s = q + 1;
    }
  }
  return TSR_OK;
}

static tsr_status add_product(tsr_profiles *p, const tsr_bundle_row *row) {
  const tsr_value *v = row->v;
  tsr_profile *r = tsr__profiles_row(p, v[TSR_PE_CUSTOMER_ID].s, v[TSR_PE_CUSTOMER_ID].len);
  if (!r) return TSR_ENOMEM;
  int k = product_index(p, v[TSR_PE_PRODUCT].s, v[TSR_PE_PRODUCT].len);
  if (k == -2) return TSR_ENOMEM;
  int64_t d = day_of(v[TSR_PE_DATE].t);
  see_day(p, d);
  if (d < r->first_day) r->first_day = d;
  if (k < 0) return TSR_OK;
  /* events may come in any order: keep, per product, the latest event; the
   * recent-opening count is settled at finish from the kept days */
  tsr__pevent *e = NULL;
  if (tsr__grow((void **)&p->ev, &p->ev_cap, p->ev_n + 1, sizeof *p->ev)) return TSR_ENOMEM;
  e = &p->ev[p->ev_n++];
  e->row = (uint32_t)(r - p->rows);
  e->prod = (uint8_t)k;
  e->open = v[TSR_PE_EVENT].num > 0;
  e->day = (int32_t)d;
  return TSR_OK;
}

static tsr_status add_interaction(tsr_profiles *p, const tsr_bundle_row *row) {
  const tsr_value *v = row->v;
  tsr_profile *r = tsr__profiles_row(p, v[TSR_IN_CUSTOMER_ID].s, v[TSR_IN_CUSTOMER_ID].len);
  if (!r) return TSR_ENOMEM;
  r->service_contacts++;
  int64_t t = v[TSR_IN_TIMESTAMP].t;
  see_day(p, day_of(t));
  if (p->o.sentiment && v[TSR_IN_MESSAGE].present) {
    double s = p->o.sentiment(p->o.sentiment_ud, v[TSR_IN_MESSAGE].s, v[TSR_IN_MESSAGE].len);
    if (!isnan(s)) {
      r->sent_sum += s;
      r->n_sent++;
      if (t >= r->last_in_time) {
        r->last_in_time = t;
        r->sentiment_last = s;
      }
    }
  }
  return TSR_OK;
}

static tsr_status add_transaction(tsr_profiles *p, const tsr_bundle_row *row) {
  const tsr_value *v = row->v;
  tsr_profile *r = tsr__profiles_row(p, v[TSR_TX_CUSTOMER_ID].s, v[TSR_TX_CUSTOMER_ID].len);
  if (!r) return TSR_ENOMEM;
  r->tx_count++;
  r->tx_amount += v[TSR_TX_AMOUNT].num;
  int64_t t = v[TSR_TX_TIMESTAMP].t;
  if (t > r->last_tx_time) r->last_tx_time = t;
  int64_t d = day_of(t);
  if (d < r->first_day) r->first_day = d;
  see_day(p, d);
  if (v[TSR_TX_CHANNEL].present) {
    r->n_chan++;
    if (digital_channel(v[TSR_TX_CHANNEL].s)) r->n_dig++;
  }
  return TSR_OK;
}

/* add_transaction into the staged totals of the row's resolved customer. */
static tsr_status stage_transaction(tsr_profiles *p, const tsr_bundle_row *row) {
  const tsr_value *v = row->v;
  const char *rec = v[TSR_TX_CUSTOMER_ID].s;
  size_t n = v[TSR_TX_CUSTOMER_ID].len;
  uint32_t raw, res;
  size_t had = p->st_raw.n;
  if (tsr__intern_get_last(&p->st_raw, rec, n, &p->st_last, &raw)) return TSR_ENOMEM;
  if (p->st_raw.n > had) { /* a new record id: its resolved customer */
    if (tsr__grow((void **)&p->st_of_raw, &p->st_of_raw_cap, p->st_raw.n, sizeof *p->st_of_raw))
      return TSR_ENOMEM;
    const char *id;
    size_t idn;
    resolve_n(p, rec, n, &id, &idn);
    had = p->st_res.n;
    if (tsr__intern_get(&p->st_res, id, idn, &res)) return TSR_ENOMEM;
    if (p->st_res.n > had) {
      if (tsr__grow((void **)&p->st, &p->st_cap, p->st_res.n, sizeof *p->st)) return TSR_ENOMEM;
      tsr__txstage *s = &p->st[res];
      memset(s, 0, sizeof *s);
      s->last_time = INT64_MIN;
      s->first_day = INT64_MAX;
    }
    p->st_of_raw[raw] = res;
  }
  tsr__txstage *s = &p->st[p->st_of_raw[raw]];
  s->count++;
  s->amount += v[TSR_TX_AMOUNT].num;
  int64_t t = v[TSR_TX_TIMESTAMP].t;
  if (t > s->last_time) s->last_time = t;
  int64_t d = day_of(t);
  if (d < s->first_day) s->first_day = d;
  see_day(p, d);
  if (v[TSR_TX_CHANNEL].present) {
    s->n_chan++;
    if (digital_channel(v[TSR_TX_CHANNEL].s)) s->n_dig++;
  }
  return TSR_OK;
}

tsr_status tsr_profiles_stage_table(tsr_profiles *p, tsr_bundle_reader *rd, tsr_error *err) {
  if (tsr_bundle_reader_table(rd) != TSR_BT_TRANSACTIONS)
    return tsr_error_set(err, TSR_EINVAL, NULL, 0, 0, NULL, "only a transactions table is staged");
  tsr_bundle_row row;
  tsr_status st;
  while ((st = tsr_bundle_next(rd, &row, err)) == TSR_OK)
    if (stage_transaction(p, &row) != TSR_OK)
      return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  return st == TSR_ENOTFOUND ? TSR_OK : st;
}

tsr_status tsr_profiles_add_staged(tsr_profiles *p, tsr_error *err) {
  tsr_status st = TSR_OK;
  for (uint32_t i = 0; i < p->st_res.n; i++) {
    const char *id = tsr__intern_str(&p->st_res, i);
    tsr_profile *r = row_of_id(p, id, strlen(id));
    if (!r) {
      st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
      break;
    }
    const tsr__txstage *s = &p->st[i];
    r->tx_count += s->count;
    r->tx_amount += s->amount;
    if (s->last_time > r->last_tx_time) r->last_tx_time = s->last_time;
    if (s->first_day < r->first_day) r->first_day = s->first_day;
    r->n_chan += s->n_chan;
    r->n_dig += s->n_dig;
  }
  tsr__intern_release(&p->st_raw);
  tsr__intern_release(&p->st_res);
  tsr__free(p->st_of_raw);
  tsr__free(p->st);
  p->st_of_raw = NULL;
  p->st = NULL;
  p->st_of_raw_cap = p->st_cap = 0;
  p->st_last = 0;
  return st;
}

tsr_status tsr_profiles_add_table(tsr_profiles *p, tsr_bundle_reader *rd, tsr_error *err) {
  tsr_bundle_table t = tsr_bundle_reader_table(rd);
  if (t == TSR_BT_CAMPAIGN || t == TSR_BT_OFFERS) {
    /* not part of the profile: read through for counts and rejects */
    tsr_bundle_row row;
    tsr_status st;
    while ((st = tsr_bundle_next(rd, &row, err)) == TSR_OK) {
    }
    return st == TSR_ENOTFOUND ? TSR_OK : st;
  }
  tsr_bundle_row row;
  tsr_status st;
  while ((st = tsr_bundle_next(rd, &row, err)) == TSR_OK) {
    tsr_status s2 = TSR_OK;
    switch (t) {
    case TSR_BT_CUSTOMERS: s2 = add_customer(p, &row); break;
    case TSR_BT_PRODUCTS: s2 = add_product(p, &row); break;
    case TSR_BT_INTERACTIONS: s2 = add_interaction(p, &row); break;
    case TSR_BT_TRANSACTIONS: s2 = add_transaction(p, &row); break;
    default: break;
    }
    if (s2 != TSR_OK) return tsr_error_set(err, s2, NULL, 0, 0, NULL, "out of memory");
  }
  if (st == TSR_ENOTFOUND) {
    if (t == TSR_BT_INTERACTIONS) p->has_interactions = 1;
    if (t == TSR_BT_PRODUCTS) p->has_events = 1;
    return TSR_OK;
  }
  return st;
}

tsr_status tsr_profiles_add_anomalies(tsr_profiles *p, const char *id, int64_t n, tsr_error *err) {
  tsr_profile *r = tsr__profiles_row(p, id, strlen(id));
  if (!r) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  r->anomalies = (r->anomalies < 0 ? 0 : r->anomalies) + n;
  p->has_anomalies = 1;
  return TSR_OK;
}

tsr_status tsr_profiles_set_value(tsr_profiles *p, const char *id, const tsr_profile_value *v,
                                  tsr_error *err) {
  tsr_profile *r = tsr__profiles_row(p, id, strlen(id));
  if (!r) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  /* several records of one customer: counts add up, the rest is the
   * most recent record's (largest frequency wins ties) */
  if (!isnan(r->frequency) && !isnan(v->frequency)) {
    r->frequency += v->frequency + 1; /* the other record's first purchase repeats */
    if (!isnan(v->clv)) r->clv = (isnan(r->clv) ? 0 : r->clv) + v->clv;
    if (!isnan(v->expected)) r->expected = (isnan(r->expected) ? 0 : r->expected) + v->expected;
    if (!isnan(v->p_alive) && (isnan(r->p_alive) || v->p_alive > r->p_alive)) r->p_alive = v->p_alive;
    if (!isnan(v->T) && (isnan(r->T) || v->T > r->T)) r->T = v->T;
    if (!isnan(v->recency) && (isnan(r->recency) || v->recency > r->recency)) r->recency = v->recency;
    return TSR_OK;
  }
  r->frequency = v->frequency;
  r->recency = v->recency;
  r->T = v->T;
  r->monetary = v->monetary;
  r->p_alive = v->p_alive;
  r->expected = v->expected;
  r->clv = v->clv;
  if (v->rfm_segment) {
    r->rfm_segment = intern(p, v->rfm_segment, strlen(v->rfm_segment));
    if (!r->rfm_segment) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  return TSR_OK;
}

/* ------------------------------------------------------------ finish */

static int ev_cmp(const void *a, const void *b) {
  const tsr__pevent *x = a, *y = b;
  if (x->row != y->row) return x->row < y->row ? -1 : 1;
  if (x->prod != y->prod) return x->prod < y->prod ? -1 : 1;
  if (x->day != y->day) return x->day < y->day ? -1 : 1;
  return x->open - y->open; /* close before open on one day */
}

tsr_status tsr_profiles_finish(tsr_profiles *p, tsr_error *err) {
  (void)err;
  p->today = p->o.today >= 0 ? p->o.today : (p->max_day == INT64_MIN ? 0 : p->max_day + 1);
  int64_t recent_from = p->today - p->o.recent_days;
  /* product events: the state after the last event of each product; with
   * events, they override products_held of the CRM for that product */
  if (p->ev_n > 1) qsort(p->ev, p->ev_n, sizeof *p->ev, ev_cmp);
  for (size_t i = 0; i < p->ev_n; i++) {
    const tsr__pevent *e = &p->ev[i];
    if (e->day >= p->today) continue; /* after the reference day */
    tsr_profile *r = &p->rows[e->row];
    uint64_t bit = (uint64_t)1 << e->prod;
    if (e->open) {
      r->products |= bit;
      if (e->day >= recent_from) r->recent_openings++;
    } else if (i + 1 == p->ev_n || p->ev[i + 1].row != e->row || p->ev[i + 1].prod != e->prod) {
      r->products &= ~bit; /* closed and not reopened */
    }
    if (e->day > r->last_ev_day) r->last_ev_day = e->day;
  }
  tsr__free(p->ev);
  p->ev = NULL;
  p->ev_n = p->ev_cap = 0;
  /* products matched by name for the life-stage rule */
  uint64_t student_mask = 0, child_mask = 0;
  for (size_t k = 0; k < p->nprod; k++) {
    if (lower_has(p->prod[k], "student")) student_mask |= (uint64_t)1 << k;
    if (lower_has(p->prod[k], "child") || lower_has(p->prod[k], "junior") ||
        lower_has(p->prod[k], "kid"))
      child_mask |= (uint64_t)1 << k;
  }
  for (size_t i = 0; i < p->n; i++) {
    tsr_profile *r = &p->rows[i];
    if (r->birth_day != INT64_MIN)
      r->age = floor((double)(p->today - r->birth_day) / 365.2425 * 100) / 100;
    int64_t since = r->join_day != INT64_MAX ? r->join_day : r->first_day;
    r->tenure_years = since != INT64_MAX ? (double)(p->today - since) / 365.2425 : NAN;
    r->product_count = (uint32_t)__builtin_popcountll(r->products);
    r->life_stage = tsr_life_stage_rule(r->age, (r->products & student_mask) != 0,
                                        (r->products & child_mask) != 0);
    r->risk_band = isnan(r->risk_score) ? "" : r->risk_score < 34 ? "low" : r->risk_score < 67 ? "medium" : "high";
    r->digital_share = r->n_chan ? (double)r->n_dig / (double)r->n_chan : NAN;
    r->sentiment_mean = r->n_sent ? r->sent_sum / r->n_sent : NAN;
  }
  p->finished = 1;
  return TSR_OK;
}

/* ------------------------------------------------------------ CSV */


/* Lines of profiles.csv built in memory (a block of rows at a time, not
 * forty stdio calls a row); oom when it could not grow. */
typedef tsr__tb lbuf;

static int lb_room(lbuf *b, size_t k) { return tsr__tb_reserve(b, k) == 0; }

static void lb_raw(lbuf *b, const char *s, size_t k) {
  if (!lb_room(b, k)) return;
  memcpy(b->s + b->len, s, k);
  b->len += k;
}

#define LB_LIT(b, lit) lb_raw(b, lit, sizeof lit - 1)

/* s as is ("%s": NULL as glibc prints it) */
static void lb_str(lbuf *b, const char *s) {
  if (!s) s = "(null)";
  lb_raw(b, s, strlen(s));
}

/* s as one CSV field (tsr_csv_put_field's rule); NULL = empty */
static void lb_field(lbuf *b, const char *s) {
  if (!s || !lb_room(b, 2 * strlen(s) + 2)) return;
  b->len += tsr_csv_quote(b->s + b->len, s, 0);
}

static void lb_u64(lbuf *b, uint64_t u) {
  if (!lb_room(b, 24)) return;
  b->len = (size_t)(tsr__put_u64(b->s + b->len, u) - b->s);
}

static void lb_i64(lbuf *b, long long v) {
  if (v < 0) LB_LIT(b, "-");
  lb_u64(b, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v);
}

/* "%.*f" (tsr__fmt_fixed; printf for what does not fit its buffer) */
static void lb_fixed(lbuf *b, double v, int prec) {
  char t[64];
  size_t k = tsr__fmt_fixed(v, prec, t, sizeof t);
  if (k < sizeof t) {
    lb_raw(b, t, k);
  } else if (lb_room(b, k + 1)) {
    snprintf(b->s + b->len, k + 1, "%.*f", prec, v);
    b->len += k;
  }
}

static void lb_num(lbuf *b, double v, int prec) {
  if (!isnan(v)) lb_fixed(b, v, prec);
}

void tsr__profiles_write_head(FILE *f) {
  fputs("customer_id,records,age,gender,income_band,city,tenure_years,life_stage,products,"
        "product_count,recent_openings,risk_score,risk_band,channel_preference,transactions,"
        "revenue,digital_share,service_contacts,sentiment_mean,sentiment_last,anomalies,"
        "frequency,recency,T,monetary_value,p_alive,expected_purchases,clv,rfm_segment,"
        "behaviour_segment,value_tier,life_stage_segment,product_affinity,micro_segment", f);
}

/* The columns of row i of profiles.csv, appended to b (no line end). */
static void profile_line(const tsr_profiles *p, size_t i, lbuf *b) {
  const tsr_profile *r = &p->rows[i];
  lb_field(b, r->id);
  LB_LIT(b, ",");
  lb_u64(b, r->n_records);
  LB_LIT(b, ",");
  lb_num(b, r->age, 2);
  LB_LIT(b, ",");
  lb_field(b, r->gender);
  LB_LIT(b, ",");
  lb_field(b, r->income_band);
  LB_LIT(b, ",");
  lb_field(b, r->city);
  LB_LIT(b, ",");
  lb_num(b, r->tenure_years, 2);
  LB_LIT(b, ",");
  lb_str(b, tsr_life_stage_name(r->life_stage));
  LB_LIT(b, ",");
  int first = 1;
  for (size_t k = 0; k < p->nprod; k++) {
    if (!(r->products >> k & 1)) continue;
    if (!first) LB_LIT(b, ";");
    lb_field(b, p->prod[k]);
    first = 0;
  }
  LB_LIT(b, ",");
  lb_u64(b, r->product_count);
  LB_LIT(b, ",");
  lb_u64(b, r->recent_openings);
  LB_LIT(b, ",");
  lb_num(b, r->risk_score, 1);
  LB_LIT(b, ",");
  lb_str(b, r->risk_band);
  LB_LIT(b, ",");
  lb_field(b, r->channel_preference);
  LB_LIT(b, ",");
  lb_i64(b, (long long)r->tx_count);
  LB_LIT(b, ",");
  lb_fixed(b, r->tx_amount, 2);
  LB_LIT(b, ",");
  lb_num(b, r->digital_share, 4);
  LB_LIT(b, ",");
  if (p->has_interactions || r->service_contacts) lb_u64(b, r->service_contacts);
  LB_LIT(b, ",");
  lb_num(b, r->sentiment_mean, 4);
  LB_LIT(b, ",");
  lb_num(b, r->sentiment_last, 4);
  LB_LIT(b, ",");
  if (p->has_anomalies) lb_i64(b, (long long)(r->anomalies < 0 ? 0 : r->anomalies));
  LB_LIT(b, ",");
  lb_num(b, r->frequency, 0);
  LB_LIT(b, ",");
  lb_num(b, r->recency, 4);
  LB_LIT(b, ",");
  lb_num(b, r->T, 4);
  LB_LIT(b, ",");
  lb_num(b, r->monetary, 2);
  LB_LIT(b, ",");
  lb_num(b, r->p_alive, 4);
  LB_LIT(b, ",");
  lb_num(b, r->expected, 4);
  LB_LIT(b, ",");
  lb_num(b, r->clv, 2);
  LB_LIT(b, ",");
  lb_field(b, r->rfm_segment);
  LB_LIT(b, ",");
  if (r->behaviour >= 0) lb_field(b, tsr_profiles_behaviour_name(p, r->behaviour));
  LB_LIT(b, ",");
  if (r->value_tier >= 0) lb_str(b, tsr_value_tier_name(r->value_tier));
  LB_LIT(b, ",");
  lb_str(b, tsr_life_stage_name(r->life_stage));
  LB_LIT(b, ",");
  if (r->affinity >= 0) lb_field(b, tsr_profiles_affinity_name(p, r->affinity));
  LB_LIT(b, ",");
  lb_field(b, r->micro);
}

int tsr__profiles_rows_text(const tsr_profiles *p, size_t lo, size_t hi,
                            void (*row)(void *ctx, size_t i, const char *id, struct tsr__tb_s *out),
                            void *ctx, tsr__tb *out) {
  for (size_t i = lo; i < hi && i < p->n && !out->oom; i++) {
    profile_line(p, i, out);
    if (row) row(ctx, i, p->rows[i].id, out);
    LB_LIT(out, "\n");
  }
  return out->oom ? -1 : 0;
}

/* Rows a block of tsr_profiles_write_csv formats before its fwrite. */
#define ROWS_BLOCK 1024

tsr_status tsr_profiles_write_csv(const tsr_profiles *p, FILE *f, tsr_error *err) {
  tsr__profiles_write_head(f);
  fputc('\n', f);
  lbuf b = {NULL, 0, 0, 0};
  for (size_t lo = 0; lo < p->n && !b.oom; lo += ROWS_BLOCK) {
    b.len = 0;
    if (tsr__profiles_rows_text(p, lo, lo + ROWS_BLOCK, NULL, NULL, &b) == 0) fwrite(b.s, 1, b.len, f);
  }
  tsr__free(b.s);
  if (b.oom) return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  if (ferror(f)) return tsr_error_set(err, TSR_EIO, NULL, 0, 0, NULL, "write error");
  return TSR_OK;
}
