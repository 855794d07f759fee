/* test_profile.c - profiles and segments against the bundle simulator's
 * latent truth (life stage, age, products, digital share), the segment
 * rules, and the sealing of personal data. */
#include "tsr_test.h"
#include "tessera/profile.h"
#include "internal.h"
#include "base/textbuf.h"

#include <math.h>
#include <stddef.h>
#include <sys/stat.h>

static char dir[64], lat[80];
static tsr_profiles *P;

/* Reads a latent CSV into rows of fields (at most 32 columns). */
typedef struct {
  char id[32], stage[32], dup[32], products[256];
  double age, digital;
} truth_row;

static truth_row *truth;
static size_t ntruth;

static void load_truth(void) {
  char path[128];
  snprintf(path, sizeof path, "%s/persons.csv", lat);
  tsr_csv *c;
  tsr_error e;
  assert_int_equal(tsr_csv_open(path, NULL, &c, &e), TSR_OK);
  tsr_csv_record r;
  size_t cap = 0;
  int hdr = 1;
  while (tsr_csv_next(c, &r, &e) == TSR_OK) {
    if (hdr) {
      hdr = 0;
      continue;
    }
    if (ntruth == cap) {
      cap = cap ? cap * 2 : 1024;
      truth = realloc(truth, cap * sizeof *truth);
    }
    truth_row *t = &truth[ntruth++];
    /* person_id,primary_customer_id,duplicate_customer_id,duplicate_kind,
     * household_id,age,birth_date,gender,life_stage,family,income_band,city,
     * digital_share,... products_held (19) */
    snprintf(t->id, sizeof t->id, "%s", r.fields[1].ptr);
    snprintf(t->dup, sizeof t->dup, "%s", r.fields[2].ptr);
    t->age = atof(r.fields[5].ptr);
    snprintf(t->stage, sizeof t->stage, "%s", r.fields[8].ptr);
    t->digital = atof(r.fields[12].ptr);
    snprintf(t->products, sizeof t->products, "%s", r.fields[19].ptr);
  }
  tsr_csv_close(c);
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/tsr_prof_XXXXXX");
  if (!mkdtemp(dir)) return -1;
  snprintf(lat, sizeof lat, "%s/latent", dir);
  tsr_bundle_sim_opts so;
  tsr_bundle_sim_opts_init(&so);
  so.customers = 6000;
  so.seed = 11;
  so.tx_per_customer = 30;
  tsr_error e;
  if (tsr_bundle_simulate(&so, dir, lat, NULL, &e) != TSR_OK) return -1;
  tsr_bundle *b;
  if (tsr_bundle_open_dir(dir, &b, &e) != TSR_OK) return -1;
  if (tsr_profiles_new(NULL, &P, &e) != TSR_OK) return -1;
  for (int t = 0; t < TSR_BT_COUNT; t++) {
    tsr_bundle_reader *r;
    if (tsr_bundle_open_table(b, (tsr_bundle_table)t, NULL, &r, &e) != TSR_OK) return -1;
    if (tsr_profiles_add_table(P, r, &e) != TSR_OK) return -1;
    tsr_bundle_reader_close(r);
  }
  tsr_bundle_free(b);
  if (tsr_profiles_finish(P, &e) != TSR_OK) return -1;
  load_truth();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tsr_profiles_free(P);
  free(truth);
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void test_life_stage_rule(void **state) {
  (void)state;
  assert_int_equal(tsr_life_stage_rule(NAN, 1, 1), TSR_LS_UNKNOWN);
  assert_int_equal(tsr_life_stage_rule(21, 1, 0), TSR_LS_STUDENT);
  assert_int_equal(tsr_life_stage_rule(21, 0, 0), TSR_LS_YOUNG_ADULT);
  assert_int_equal(tsr_life_stage_rule(30, 1, 0), TSR_LS_YOUNG_ADULT);
  assert_int_equal(tsr_life_stage_rule(30, 0, 1), TSR_LS_FAMILY);
  assert_int_equal(tsr_life_stage_rule(40, 0, 0), TSR_LS_ESTABLISHED);
  assert_int_equal(tsr_life_stage_rule(54.9, 0, 1), TSR_LS_FAMILY);
  assert_int_equal(tsr_life_stage_rule(55, 0, 1), TSR_LS_PRE_RETIREMENT);
  assert_int_equal(tsr_life_stage_rule(65, 0, 0), TSR_LS_RETIRED);
  assert_string_equal(tsr_life_stage_name(TSR_LS_PRE_RETIREMENT), "pre_retirement");
}

static void test_truth_recovery(void **state) {
  (void)state;
  /* one profile per CRM record (no resolution module), plus none extra */
  assert_true(tsr_profiles_count(P) >= ntruth);
  size_t n = 0, ok = 0, age_ok = 0, prod_n = 0, prod_ok = 0, dig_n = 0;
  double dig_err = 0;
  for (size_t i = 0; i < ntruth; i++) {
    const truth_row *t = &truth[i];
    ptrdiff_t j = tsr_profiles_find(P, t->id);
    assert_true(j >= 0);
    const tsr_profile *r = tsr_profiles_get(P, (size_t)j);
    if (isnan(r->age)) continue; /* 1 % of birth dates missing */
    n++;
    ok += !strcmp(tsr_life_stage_name(r->life_stage), t->stage);
    age_ok += fabs(r->age - t->age) < 1.0;
    if (!*t->dup) {
      /* products held: the events replayed equal the latent holdings */
      prod_n++;
      char got[256] = "";
      size_t o = 0;
      for (size_t k = 0; k < tsr_profiles_nproducts(P); k++)
        if (r->products >> k & 1)
          o += (size_t)snprintf(got + o, sizeof got - o, "%s%s", o ? ";" : "", tsr_profiles_product(P, k));
      /* same set: compare counts and membership */
      unsigned cnt = 1;
      for (const char *c = t->products; *c; c++) cnt += *c == ';';
      int same = cnt == r->product_count;
      for (const char *s = t->products; same && *s;) {
        const char *e = strchr(s, ';');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        char one[64];
        snprintf(one, sizeof one, "%.*s", (int)l, s);
        same = strstr(got, one) != NULL;
        s = e ? e + 1 : s + l;
      }
      prod_ok += same;
    }
    if (r->tx_count >= 40) {
      dig_n++;
      dig_err += fabs(r->digital_share - t->digital);
    }
  }
  double acc = (double)ok / (double)n;
  print_message("life stage accuracy %.4f over %zu customers; products %zu/%zu; "
                "digital share MAE %.4f over %zu\n", acc, n, prod_ok, prod_n,
                dig_err / (double)dig_n, dig_n);
  assert_true(n > 5500);
  assert_true(acc >= 0.90);
  assert_int_equal(age_ok, n);
  assert_true((double)prod_ok / (double)prod_n >= 0.995);
  assert_true(dig_n > 500);
  assert_true(dig_err / (double)dig_n < 0.07);
}


/* Columns appended to each row by rows_text_same: the row and its id. */
static void row_cols(void *ctx, size_t i, const char *id, struct tsr__tb_s *out) {
  ++*(size_t *)ctx;
  tsr__tb_printf(out, ",%zu:%s", i, id);
}

/* profiles.csv in parts (tsr__profiles_write_head, tsr__profiles_rows_text
 * in blocks of any size, as analyze writes it with the prediction columns)
 * is tsr_profiles_write_csv's text, each row's added columns before its
 * line end. */
static void rows_text_same(const tsr_profiles *p) {
  tsr_error e;
  char *whole = NULL, *head = NULL;
  size_t nw = 0, nh = 0, n = tsr_profiles_count(p);
  assert_true(n > 10);
  FILE *f = open_memstream(&whole, &nw);
  assert_int_equal(tsr_profiles_write_csv(p, f, &e), TSR_OK);
  fclose(f);
  f = open_memstream(&head, &nh);
  tsr__profiles_write_head(f);
  fclose(f);
  assert_memory_equal(whole, head, nh);
  assert_int_equal(whole[nh], '\n');
  const size_t sizes[] = {1, 7, n - 1, n, n + 5};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    tsr__tb b = {NULL, 0, 0, 0};
    size_t calls = 0;
    for (size_t lo = 0; lo < n; lo += sizes[k])
      assert_int_equal(tsr__profiles_rows_text(p, lo, lo + sizes[k], row_cols, &calls, &b), 0);
    assert_int_equal(calls, n);
    /* without the added columns: the rows of tsr_profiles_write_csv */
    const char *w = whole + nh + 1, *r = b.s;
    for (size_t i = 0; i < n; i++) {
      const char *we = strchr(w, '\n'), *re = strchr(r, '\n');
      assert_non_null(we);
      assert_non_null(re);
      char tail[300];
      snprintf(tail, sizeof tail, ",%zu:%s", i, tsr_profiles_get(p, i)->id);
      size_t lw = (size_t)(we - w), lt = strlen(tail);
      assert_int_equal((size_t)(re - r), lw + lt);
      assert_memory_equal(r, w, lw);
      assert_memory_equal(r + lw, tail, lt);
      w = we + 1;
      r = re + 1;
    }
    assert_int_equal(*w, '\0');
    assert_int_equal((size_t)(r - b.s), b.len);
    tsr__tb_free(&b);
  }
  free(whole);
  free(head);
}

/* Every fixed-decimal column of the profiles.csv at path is exactly what
 * printf "%.Nf" prints of the profile's value (empty for NaN). */
static void check_fixed_columns(const char *path) {
  static const struct {
    int col, prec;
    size_t off;
  } num[] = {{2, 2, offsetof(tsr_profile, age)},          {6, 2, offsetof(tsr_profile, tenure_years)},
             {11, 1, offsetof(tsr_profile, risk_score)},  {15, 2, offsetof(tsr_profile, tx_amount)},
             {16, 4, offsetof(tsr_profile, digital_share)}, {18, 4, offsetof(tsr_profile, sentiment_mean)},
             {19, 4, offsetof(tsr_profile, sentiment_last)}, {21, 0, offsetof(tsr_profile, frequency)},
             {22, 4, offsetof(tsr_profile, recency)},     {23, 4, offsetof(tsr_profile, T)},
             {24, 2, offsetof(tsr_profile, monetary)},    {25, 4, offsetof(tsr_profile, p_alive)},
             {26, 4, offsetof(tsr_profile, expected)},    {27, 2, offsetof(tsr_profile, clv)}};
  tsr_csv *c;
  tsr_error e;
  assert_int_equal(tsr_csv_open(path, NULL, &c, &e), TSR_OK);
  tsr_csv_record r;
  size_t row = 0, checked = 0;
  char want[400];
  assert_int_equal(tsr_csv_next(c, &r, &e), TSR_OK); /* header */
  assert_string_equal(r.fields[15].ptr, "revenue");
  assert_string_equal(r.fields[27].ptr, "clv");
  while (tsr_csv_next(c, &r, &e) == TSR_OK) {
    const tsr_profile *p = tsr_profiles_get(P, row++);
    assert_string_equal(r.fields[0].ptr, p->id);
    for (size_t k = 0; k < sizeof num / sizeof num[0]; k++) {
      double v = *(const double *)((const char *)p + num[k].off);
      if (isnan(v)) want[0] = '\0';
      else snprintf(want, sizeof want, "%.*f", num[k].prec, v);
      if (strcmp(r.fields[num[k].col].ptr, want) != 0)
        fail_msg("row %zu column %d: '%s', printf gives '%s'", row, num[k].col, r.fields[num[k].col].ptr, want);
      checked += want[0] != 0;
    }
  }
  tsr_csv_close(c);
  assert_int_equal(row, tsr_profiles_count(P));
  assert_true(checked > row * 4); /* no BTYD fits here: age, tenure, risk, revenue, shares */
}

static void test_segments(void **state) {
  (void)state;
  tsr_segment_opts so;
  tsr_segment_opts_init(&so);
  so.min_cell = 40;
  tsr_error e;
  assert_int_equal(tsr_profiles_segment(P, &so, &e), TSR_OK);
  size_t n = tsr_profiles_count(P), tiers[4] = {0}, other = 0, micro_total = 0;
  for (size_t i = 0; i < n; i++) {
    const tsr_profile *r = tsr_profiles_get(P, i);
    assert_true(r->behaviour >= 0 && r->behaviour < 5);
    assert_true(r->affinity >= 0 && r->affinity < 5);
    assert_true(r->value_tier >= 0 && r->value_tier < 4);
    tiers[r->value_tier]++;
    assert_true(*r->micro);
    other += !strcmp(r->micro, "other");
  }
  /* value tiers by revenue (no CLV here): 10 / 20 / 30 / 40 % */
  assert_near((double)tiers[0] / (double)n, 0.10, 0.01);
  assert_near((double)tiers[1] / (double)n, 0.20, 0.01);
  assert_near((double)tiers[2] / (double)n, 0.30, 0.01);
  for (size_t i = 0; i < tsr_profiles_nsegments(P); i++) {
    const tsr_segment_summary *s = tsr_profiles_segment_get(P, i);
    if (strcmp(s->kind, "micro")) continue;
    micro_total += s->size;
    if (strcmp(s->name, "other")) assert_true(s->size >= so.min_cell);
  }
  assert_int_equal(micro_total, n);
  assert_true(other < n / 20);
  /* the family segment holds child savings more than anyone */
  for (size_t i = 0; i < tsr_profiles_nsegments(P); i++) {
    const tsr_segment_summary *s = tsr_profiles_segment_get(P, i);
    if (!strcmp(s->kind, "life_stage") && !strcmp(s->name, "family"))
      assert_non_null(strstr(s->top_products, "child_savings"));
    if (!strcmp(s->kind, "life_stage") && !strcmp(s->name, "retired"))
      assert_true(s->age_mean >= 65 && s->age_mean < 91);
  }
  char path[128];
  snprintf(path, sizeof path, "%s/profiles_out.csv", dir);
  FILE *f = fopen(path, "w");
  assert_int_equal(tsr_profiles_write_csv(P, f, &e), TSR_OK);
  fclose(f);
  check_fixed_columns(path);
  f = fopen(path, "w");
  assert_int_equal(tsr_profiles_write_segments_csv(P, f, &e), TSR_OK);
  fclose(f);
  rows_text_same(P);
}

static void test_pii(void **state) {
  (void)state;
  unsigned char k1[TSR_PII_KEY_BYTES], k2[TSR_PII_KEY_BYTES];
  for (int i = 0; i < TSR_PII_KEY_BYTES; i++) {
    k1[i] = (unsigned char)i;
    k2[i] = (unsigned char)(255 - i);
  }
  const char *plain = "[{\"name\":\"Anna M\\u00fcller\",\"email\":\"anna@example.org\"}]";
  char *s1, *s2, *back;
  size_t len;
  tsr_error e;
  assert_int_equal(tsr_pii_seal(k1, plain, strlen(plain), &s1, &e), TSR_OK);
  assert_int_equal(tsr_pii_seal(k1, plain, strlen(plain), &s2, &e), TSR_OK);
  assert_string_not_equal(s1, s2); /* random nonces */
  assert_null(strstr(s1, "anna"));
  assert_int_equal(strncmp(s1, "v1:", 3), 0);
  assert_int_equal(tsr_pii_open(k1, s1, &back, &len, &e), TSR_OK);
  assert_string_equal(back, plain);
  assert_int_equal(len, strlen(plain));
  free(back);
  assert_int_equal(tsr_pii_open(k2, s1, &back, &len, &e), TSR_EAUTH);
  s1[strlen(s1) - 3] = s1[strlen(s1) - 3] == 'A' ? 'B' : 'A'; /* tamper */
  assert_int_equal(tsr_pii_open(k1, s1, &back, &len, &e), TSR_EAUTH);
  free(s1);
  free(s2);
  /* key loading: env var, hex file, raw file, malformed */
  setenv("TSR_PII_KEY", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 1);
  unsigned char k[TSR_PII_KEY_BYTES];
  assert_int_equal(tsr_pii_key_load(NULL, k, &e), TSR_OK);
  assert_memory_equal(k, k1, sizeof k);
  setenv("TSR_PII_KEY", "xyz", 1);
  assert_int_equal(tsr_pii_key_load(NULL, k, &e), TSR_EINVAL);
  assert_null(strstr(e.msg, "xyz"));
  unsetenv("TSR_PII_KEY");
  unsetenv("TSR_PII_KEY_FILE");
  assert_int_equal(tsr_pii_key_load(NULL, k, &e), TSR_ENOTFOUND);
  char path[128];
  snprintf(path, sizeof path, "%s/key", dir);
  FILE *f = fopen(path, "wb");
  fwrite(k2, 1, sizeof k2, f);
  fclose(f);
  assert_int_equal(tsr_pii_key_load(path, k, &e), TSR_OK);
  assert_memory_equal(k, k2, sizeof k);
  char id1[9], id2[9];
  tsr_pii_key_id(k1, id1);
  tsr_pii_key_id(k2, id2);
  assert_string_not_equal(id1, id2);
}

/* Entity resolution hook (the wiring of analyze): a merged record's
 * transactions, interactions and anomalies land on the canonical id. */
static double fixed_sentiment(void *ud, const char *text, size_t len) {
  (void)ud;
  return len && text[0] == 'g' ? 0.5 : -0.5;
}
static void add_mem(tsr_profiles *p, tsr_bundle_table t, const char *csv) {
  tsr_bundle_reader *r;
  tsr_error e;
  assert_int_equal(tsr_bundle_reader_open_mem(t, csv, strlen(csv), "mem.csv", NULL, &r, &e), TSR_OK);
  assert_int_equal(tsr_profiles_add_table(p, r, &e), TSR_OK);
  tsr_bundle_reader_close(r);
}
/* profiles.csv rows as the writer builds them in memory: quoted fields
 * (commas, quotes), numbers of the printf fallback (2e16), negatives, the
 * empty cells of values not known. */
static void test_write_csv_fields(void **state) {
  (void)state;
  tsr_profiles *p;
  tsr_error e;
  assert_int_equal(tsr_profiles_new(NULL, &p, &e), TSR_OK);
  add_mem(p, TSR_BT_CUSTOMERS,
          "customer_id,gender,city,income_band,join_date\n"
          "\"C,1\",F,\"Biel, \"\"Bienne\"\"\",a\"b,2020-01-01\n"
          "C2,,Bern,,\n");
  add_mem(p, TSR_BT_TRANSACTIONS,
          "customer_id,timestamp,amount\n\"C,1\",2024-01-01,20000000000000000\n"
          "C2,2024-01-02,-3.5\n");
  assert_int_equal(tsr_profiles_finish(p, &e), TSR_OK);
  char *buf = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&buf, &n);
  assert_int_equal(tsr_profiles_write_csv(p, f, &e), TSR_OK);
  fclose(f);
  const char *l1 = strchr(buf, '\n') + 1;
  static const char want[] =
      "\"C,1\",1,,F,\"a\"\"b\",\"Biel, \"\"Bienne\"\"\",4.01,unknown,,0,0,,,,1,20000000000000000.00,,,,,,,,,,,,,,,,"
      "unknown,,\n"
      "C2,1,,,,Bern,0.00,unknown,,0,0,,,,1,-3.50,,,,,,,,,,,,,,,,unknown,,\n";
  assert_string_equal(l1, want);
  free(buf);
  tsr_profiles_free(p);
}

static void test_map_id(void **state) {
  (void)state;
  tsr_profile_opts o;
  tsr_profile_opts_init(&o);
  o.sentiment = fixed_sentiment;
  tsr_profiles *p;
  tsr_error e;
  assert_int_equal(tsr_profiles_new(&o, &p, &e), TSR_OK);
  assert_int_equal(tsr_profiles_map_id(p, "C2", "C1", &e), TSR_OK);
  add_mem(p, TSR_BT_CUSTOMERS, "customer_id,join_date\nC1,2020-01-01\nC2,2022-01-01\nC3,2021-01-01\n");
  add_mem(p, TSR_BT_TRANSACTIONS,
          "customer_id,timestamp,amount\nC1,2024-01-01,10\nC2,2024-01-02,20\nC2,2024-01-03,30\n"
          "C3,2024-01-04,5\n");
  add_mem(p, TSR_BT_INTERACTIONS,
          "customer_id,timestamp,message\nC2,2024-01-05,good\nC1,2024-01-06,bad\n");
  assert_int_equal(tsr_profiles_add_anomalies(p, "C2", 2, &e), TSR_OK);
  assert_int_equal(tsr_profiles_finish(p, &e), TSR_OK);
  assert_int_equal(tsr_profiles_count(p), 2);
  assert_true(tsr_profiles_find(p, "C2") < 0);
  assert_string_equal(tsr_profiles_resolve(p, "C2"), "C1");
  ptrdiff_t i = tsr_profiles_find(p, "C1");
  assert_true(i >= 0);
  const tsr_profile *r = tsr_profiles_get(p, (size_t)i);
  assert_int_equal(r->n_records, 2);
  assert_int_equal(r->tx_count, 3);
  assert_true(fabs(r->tx_amount - 60) < 1e-9);
  assert_int_equal(r->service_contacts, 2);
  assert_true(fabs(r->sentiment_mean) < 1e-9);
  assert_true(fabs(r->sentiment_last + 0.5) < 1e-9);
  assert_int_equal(r->anomalies, 2);
  const tsr_profile *r3 = tsr_profiles_get(p, (size_t)tsr_profiles_find(p, "C3"));
  assert_int_equal(r3->tx_count, 1);
  tsr_profiles_free(p);
}

/* The transactions staged ahead of the tables (tsr_profiles_stage_table,
 * tsr_profiles_add_staged) give the profiles of tsr_profiles_add_table in
 * the table order: same rows in the same order, same totals to the bit;
 * with ids mapped, one of them (C7) a record id and a resolved id at once
 * (mapped once, not twice); the reader's on_csv hook sees every record. */
static void on_rec(void *ud, const tsr_csv_record *rec) {
  (void)rec;
  (*(int64_t *)ud)++;
}

static tsr_profiles *build(int staged, int64_t *seen) {
  tsr_profile_opts o;
  tsr_profile_opts_init(&o);
  o.sentiment = fixed_sentiment;
  tsr_profiles *p;
  tsr_error e;
  assert_int_equal(tsr_profiles_new(&o, &p, &e), TSR_OK);
  for (size_t i = 0; i < ntruth; i++)
    if (truth[i].dup[0]) assert_int_equal(tsr_profiles_map_id(p, truth[i].dup, truth[i].id, &e), TSR_OK);
  assert_int_equal(tsr_profiles_map_id(p, truth[3].id, truth[7].id, &e), TSR_OK);
  assert_int_equal(tsr_profiles_map_id(p, truth[7].id, truth[9].id, &e), TSR_OK);
  tsr_bundle *b;
  assert_int_equal(tsr_bundle_open_dir(dir, &b, &e), TSR_OK);
  if (staged) {
    tsr_bundle_reader *r;
    assert_int_equal(tsr_bundle_open_table(b, TSR_BT_CUSTOMERS, NULL, &r, &e), TSR_OK);
    assert_int_equal(tsr_profiles_stage_table(p, r, &e), TSR_EINVAL);
    tsr_bundle_reader_close(r);
    assert_int_equal(tsr_bundle_open_table(b, TSR_BT_TRANSACTIONS, NULL, &r, &e), TSR_OK);
    tsr_bundle_reader_on_csv(r, on_rec, seen);
    assert_int_equal(tsr_profiles_stage_table(p, r, &e), TSR_OK);
    tsr_bundle_stats bs;
    tsr_bundle_reader_stats(r, &bs);
    assert_int_equal(*seen, bs.rows_read);
    assert_true(*seen > 1000);
    tsr_bundle_reader_close(r);
    assert_int_equal(tsr_profiles_count(p), 0); /* nothing created yet */
  }
  for (int t = 0; t < TSR_BT_COUNT; t++) {
    if (staged && t == TSR_BT_TRANSACTIONS) {
      assert_int_equal(tsr_profiles_add_staged(p, &e), TSR_OK);
      continue;
    }
    tsr_bundle_reader *r;
    assert_int_equal(tsr_bundle_open_table(b, (tsr_bundle_table)t, NULL, &r, &e), TSR_OK);
    assert_int_equal(tsr_profiles_add_table(p, r, &e), TSR_OK);
    tsr_bundle_reader_close(r);
  }
  tsr_bundle_free(b);
  assert_int_equal(tsr_profiles_finish(p, &e), TSR_OK);
  return p;
}

static void test_staged(void **state) {
  (void)state;
  int64_t seen = 0;
  tsr_profiles *a = build(0, &seen), *s = build(1, &seen);
  assert_int_equal(tsr_profiles_count(a), tsr_profiles_count(s));
  /* truth[3] counts for truth[7] (mapped once), truth[7]'s own records for truth[9] */
  assert_true(tsr_profiles_find(a, truth[7].id) >= 0);
  size_t with_tx = 0;
  for (size_t i = 0; i < tsr_profiles_count(a); i++) {
    const tsr_profile *x = tsr_profiles_get(a, i), *y = tsr_profiles_get(s, i);
    assert_string_equal(x->id, y->id);
    assert_int_equal(x->tx_count, y->tx_count);
    assert_memory_equal(&x->tx_amount, &y->tx_amount, sizeof x->tx_amount);
    assert_int_equal(x->last_tx_time, y->last_tx_time);
    assert_int_equal(x->first_day, y->first_day);
    assert_int_equal(x->n_chan, y->n_chan);
    assert_int_equal(x->n_dig, y->n_dig);
    assert_memory_equal(&x->tenure_years, &y->tenure_years, sizeof x->tenure_years);
    with_tx += x->tx_count > 0 && x->n_dig > 0;
  }
  assert_true(with_tx > 1000);
  assert_int_equal(tsr_profiles_today(a), tsr_profiles_today(s));
  tsr_profiles_free(a);
  tsr_profiles_free(s);
}

/* The one-row cache of consecutive rows: ids that share a prefix stay
 * apart; an id mapped after its rows goes to its new profile. */
static void test_row_cache(void **state) {
  (void)state;
  tsr_profile_opts o;
  tsr_profile_opts_init(&o);
  o.sentiment = fixed_sentiment;
  tsr_profiles *p;
  tsr_error e;
  assert_int_equal(tsr_profiles_new(&o, &p, &e), TSR_OK);
  add_mem(p, TSR_BT_TRANSACTIONS,
          "customer_id,timestamp,amount\nC5,2024-01-01,1\nC5,2024-01-02,2\nC51,2024-01-02,4\n"
          "C,2024-01-03,16\nC5,2024-01-03,8\n");
  assert_int_equal(tsr_profiles_map_id(p, "C5", "C1", &e), TSR_OK);
  add_mem(p, TSR_BT_INTERACTIONS, "customer_id,timestamp,message\nC5,2024-01-05,good\n");
  assert_int_equal(tsr_profiles_finish(p, &e), TSR_OK);
  const tsr_profile *c5 = tsr_profiles_get(p, (size_t)tsr_profiles_find(p, "C5"));
  const tsr_profile *c51 = tsr_profiles_get(p, (size_t)tsr_profiles_find(p, "C51"));
  const tsr_profile *c = tsr_profiles_get(p, (size_t)tsr_profiles_find(p, "C"));
  assert_true(tsr_profiles_find(p, "C1") >= 0);
  const tsr_profile *c1 = tsr_profiles_get(p, (size_t)tsr_profiles_find(p, "C1"));
  assert_int_equal(c5->tx_count, 3);
  assert_true(c5->tx_amount == 11);
  assert_true(c51->tx_amount == 4);
  assert_true(c->tx_amount == 16);
  assert_int_equal(c5->service_contacts, 0);
  assert_int_equal(c1->service_contacts, 1);
  tsr_profiles_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_life_stage_rule), cmocka_unit_test(test_truth_recovery),
      cmocka_unit_test(test_segments),        cmocka_unit_test(test_pii),
      cmocka_unit_test(test_map_id),
      cmocka_unit_test(test_write_csv_fields),          cmocka_unit_test(test_staged),
      cmocka_unit_test(test_row_cache),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
