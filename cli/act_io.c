/*
 * act_io.c - input helpers of the act-and-measure commands (act_io.h).
 */
#include "act_io.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void norm(const char *s, char *out, size_t cap) {
  size_t k = 0;
  for (; *s && k + 1 < cap; s++)
    if (isalnum((unsigned char)*s)) out[k++] = (char)tolower((unsigned char)*s);
  out[k] = '\0';
}

ptrdiff_t act_col(const tsr_table *t, const char *const *names) {
  char a[128], b[128];
  for (const char *const *n = names; *n; n++) {
    norm(*n, a, sizeof a);
    for (size_t c = 0; c < tsr_table_ncols(t); c++) {
      norm(tsr_table_colname(t, c), b, sizeof b);
      if (!strcmp(a, b)) return (ptrdiff_t)c;
    }
  }
  return -1;
}

ptrdiff_t act_col_req(const tsr_table *t, const char *const *names) {
  ptrdiff_t c = act_col(t, names);
  if (c < 0) cli_msg("%s:1: error: missing column %s", tsr_table_name(t), names[0]);
  return c;
}

static const char **sort_ids;
static int cmp_pos(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  int c = strcmp(sort_ids[x], sort_ids[y]);
  return c ? c : (x < y ? -1 : x > y);
}

int act_index_build(act_index *ix, const char *const *ids, size_t n) {
  memset(ix, 0, sizeof *ix);
  ix->ids = malloc((n ? n : 1) * sizeof *ix->ids);
  ix->pos = malloc((n ? n : 1) * sizeof *ix->pos);
  if (!ix->ids || !ix->pos) {
    act_index_free(ix);
    return -1;
  }
  for (size_t i = 0; i < n; i++) ix->pos[i] = i;
  sort_ids = (const char **)ids;
  qsort(ix->pos, n, sizeof *ix->pos, cmp_pos);
  sort_ids = NULL;
  for (size_t i = 0; i < n; i++) ix->ids[i] = ids[ix->pos[i]];
  ix->n = n;
  return 0;
}

ptrdiff_t act_index_find(const act_index *ix, const char *id, size_t len) {
  size_t lo = 0, hi = ix->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strncmp(ix->ids[mid], id, len);
    if (c == 0 && ix->ids[mid][len] != '\0') c = 1;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  if (lo < ix->n && strlen(ix->ids[lo]) == len && !strncmp(ix->ids[lo], id, len))
    return (ptrdiff_t)ix->pos[lo];
  return -1;
}

void act_index_free(act_index *ix) {
  free(ix->ids);
  free(ix->pos);
  memset(ix, 0, sizeof *ix);
}

int64_t act_parse_day(const char *s) {
  int64_t e;
  if (!s || !*s || tsr_datetime_parse(s, strlen(s), NULL, &e) != TSR_OK) return -1;
  return e >= 0 ? e / 86400 : -((-e + 86399) / 86400);
}

int act_tx_windows(const char *path, const act_index *ix, const int64_t *ref_day,
                   int pre_days, int post_days, double *pre, double *post) {
  tsr_csv *c = NULL;
  tsr_error err;
  tsr_error_clear(&err);
  tsr_status st = tsr_csv_open(path, NULL, &c, &err);
  if (st) return cli_fail(st, &err);
  tsr_csv_record rec;
  st = tsr_csv_next(c, &rec, &err);
  if (st) {
    tsr_csv_close(c);
    if (st == TSR_ENOTFOUND) {
      cli_msg("%s: error: empty file (expected a header with customer_id, timestamp, amount)", path);
      return TSR_EXIT_INPUT;
    }
    return cli_fail(st, &err);
  }
  int ci = -1, ti = -1, ai = -1;
  for (size_t k = 0; k < rec.nfields; k++) {
    char b[64];
    norm(rec.fields[k].ptr, b, sizeof b);
    if (!strcmp(b, "customerid")) ci = (int)k;
    else if ((!strcmp(b, "timestamp") || !strcmp(b, "date")) && ti < 0) ti = (int)k;
    else if (!strcmp(b, "amount")) ai = (int)k;
  }
  if (ci < 0 || ti < 0 || ai < 0) {
    cli_msg("%s:1: error: missing column %s (expected customer_id, timestamp or date, amount)",
            path, ci < 0 ? "customer_id" : ti < 0 ? "timestamp" : "amount");
    tsr_csv_close(c);
    return TSR_EXIT_INPUT;
  }
  int64_t bad = 0;
  for (;;) {
    st = tsr_csv_next(c, &rec, &err);
    if (st == TSR_ENOTFOUND) break;
    if (st == TSR_EIO) {
      tsr_csv_close(c);
      return cli_fail(st, &err);
    }
    if (st || rec.nfields <= (size_t)ci || rec.nfields <= (size_t)ti || rec.nfields <= (size_t)ai) {
      bad++;
      continue;
    }
    ptrdiff_t p = act_index_find(ix, rec.fields[ci].ptr, rec.fields[ci].len);
    if (p < 0) continue;
    int64_t e;
    const tsr_csv_field *tf = &rec.fields[ti], *af = &rec.fields[ai];
    char *end = NULL;
    double amt = strtod(af->ptr, &end);
    if (tsr_datetime_parse(tf->ptr, tf->len, NULL, &e) != TSR_OK || end == af->ptr || *end) {
      if (bad++ < 3)
        cli_msg("%s:%lld:%lld: warning: unreadable date or amount, row skipped", path,
                (long long)rec.line, (long long)(end == af->ptr || *end ? af->column : tf->column));
      continue;
    }
    int64_t day = e >= 0 ? e / 86400 : -((-e + 86399) / 86400);
    int64_t r = ref_day[p];
    if (r < 0) continue;
    if (pre && day >= r - pre_days && day < r) pre[p] += amt;
    if (post && day >= r && day < r + post_days) post[p] += amt;
  }
  if (bad) cli_msg("%s: %lld rows skipped (malformed)", path, (long long)bad);
  tsr_csv_close(c);
  return 0;
}
