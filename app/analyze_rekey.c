/*
 * analyze_rekey.c - RFM and BTYD per resolved customer on a bundle
 * (issue 12, docs/profiles.md "Wiring"): before the summary, the CRM
 * records of the bundle's customers table are resolved (tessera/resolve.h)
 * and the ledger's entries of every merged record move to its canonical
 * record's id, so that two records of one person are one customer with the
 * purchases of both (same-day entries merge as in the ingest). The
 * resolution runs once per run: its outcome (analyze_resolved.h; the
 * resolver itself is freed at once) is handed on to the profile step
 * (app/analyze_profiles.c). Application layer; the ledger is rebuilt
 * through ledger_feed.h.
 */
#include "internal.h"
#include "analyze_resolved.h"
#include "ledger_feed.h"
#include "tessera/analyze.h"
#include "tessera/resolve.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct tsr__resolve_job tsr__resolve_job;
tsr__resolve_job *tsr__analyze_resolve_start(const tsr_analyze_opts *o);
void tsr__analyze_resolve_free(tsr__resolve_job *j);
tsr_status tsr__analyze_rekey(const tsr_analyze_opts *o, tsr_analyze_result *res,
                              const tsr_ledger *keep, tsr__resolve_job *job, tsr__resolved **rv,
                              int64_t *moved, tsr_error *err);

void tsr__resolved_free(tsr__resolved *r) {
  if (!r) return;
  tsr__free(r->ids);
  tsr__free(r->id_off);
  tsr__free(r->canon);
  tsr__free(r->head);
  tsr__free(r);
}

tsr_status tsr__resolved_from(const tsr_resolver *rv, tsr__resolved **out, tsr_error *err) {
  *out = NULL;
  size_t n = tsr_resolver_count(rv), len = 0;
  for (size_t i = 0; i < n; i++) len += strlen(tsr_resolver_id(rv, i)) + 1;
  tsr__resolved *r = tsr__calloc(1, sizeof *r);
  if (r) {
    r->n = n;
    r->ids = tsr__malloc(len ? len : 1);
    r->id_off = tsr__malloc((n ? n : 1) * sizeof *r->id_off);
    r->canon = tsr__malloc((n ? n : 1) * sizeof *r->canon);
    r->head = tsr__malloc((n ? n : 1) * sizeof *r->head);
  }
  if (!r || !r->ids || !r->id_off || !r->canon || !r->head) {
    tsr__resolved_free(r);
    return tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  }
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    const char *id = tsr_resolver_id(rv, i);
    size_t k = strlen(id) + 1;
    memcpy(r->ids + off, id, k);
    r->id_off[i] = off;
    off += k;
    r->canon[i] = tsr_resolver_canonical(rv, i);
    ptrdiff_t h = tsr_resolver_household(rv, i);
    r->head[i] = h >= 0 ? tsr_resolver_household_head(rv, (size_t)h) : SIZE_MAX;
  }
  tsr_resolve_stats rs;
  tsr_resolver_stats(rv, &rs);
  r->households = rs.households;
  *out = r;
  return TSR_OK;
}

/* Entity resolution of the bundle's customers table, once per run: *out is
 * its outcome (the resolver is freed), or NULL when the bundle has no
 * customers table or the resolver cannot read it (no id column, too many
 * bad rows: the ids stay as given, the profile step says so). Out of
 * memory and read errors fail the run. Errors never name personal data. */
static tsr_status resolve_bundle(const tsr_analyze_opts *o, tsr__resolved **out, tsr_error *err) {
  *out = NULL;
  const char *path = tsr_bundle_path(o->bundle, TSR_BT_CUSTOMERS);
  if (!path) return TSR_OK;
  tsr_resolver *rv;
  tsr_status st = tsr_resolver_new(NULL, &rv, err);
  if (st != TSR_OK) return st;
  tsr_resolve_read_opts ro;
  tsr_resolve_read_opts_init(&ro);
  if (o->bundle_opts) ro.csv = o->bundle_opts->csv;
  tsr_error rerr;
  st = tsr_resolver_read_csv(rv, path, &ro, NULL, &rerr);
  if (st == TSR_OK) st = tsr_resolver_run(rv, &rerr);
  if (st == TSR_OK) {
    st = tsr__resolved_from(rv, out, err);
    tsr_resolver_free(rv);
    return st;
  }
  tsr_resolver_free(rv);
  if (st != TSR_ENOMEM && st != TSR_EIO) return TSR_OK; /* unresolved ids, not a failed run */
  if (err) *err = rerr;
  return st;
}

/* Resolves the bundle's customers (*rv: the outcome, owned by the caller,
 * for the profile step; NULL when unresolved) and re-keys res->ledger
 * (finished) to resolved ids; *moved = ledger customers whose entries moved
 * to another id (0: the ledger is left as it is). The ledger replaced is
 * freed unless it is keep: the models' ledger of the raw ids
 * (app/analyze_predict.c), which then stays as it was. */
/* The resolution on a thread of its own, beside the ingest of the
 * transactions (issue 12): it reads only the customers table. */
struct tsr__resolve_job {
  const tsr_analyze_opts *o;
  pthread_t th;
  tsr__resolved *rv;
  tsr_status st;
  tsr_error err;
};

static void *resolve_main(void *arg) {
  tsr__resolve_job *j = arg;
  j->st = resolve_bundle(j->o, &j->rv, &j->err);
  return NULL;
}

/* Starts the resolution of o's customers table on a thread; NULL when
 * there is none to resolve or no thread starts (tsr__analyze_rekey then
 * resolves). */
tsr__resolve_job *tsr__analyze_resolve_start(const tsr_analyze_opts *o) {
  if (!o->bundle || !tsr_bundle_path(o->bundle, TSR_BT_CUSTOMERS)) return NULL;
  tsr__resolve_job *j = tsr__calloc(1, sizeof *j);
  if (!j) return NULL;
  j->o = o;
  if (pthread_create(&j->th, NULL, resolve_main, j) != 0) {
    tsr__free(j);
    return NULL;
  }
  return j;
}

/* Waits for the job: its outcome into *rv (NULL: freed). */
static tsr_status resolve_join(tsr__resolve_job *j, tsr__resolved **rv, tsr_error *err) {
  pthread_join(j->th, NULL);
  tsr_status st = j->st;
  if (st != TSR_OK && err) *err = j->err;
  if (rv) *rv = j->rv;
  else tsr__resolved_free(j->rv);
  tsr__free(j);
  return st;
}

/* A run that fails before its re-keying: waits for the job and frees it. */
void tsr__analyze_resolve_free(tsr__resolve_job *j) {
  if (j) resolve_join(j, NULL, NULL);
}

tsr_status tsr__analyze_rekey(const tsr_analyze_opts *o, tsr_analyze_result *res,
                              const tsr_ledger *keep, tsr__resolve_job *job, tsr__resolved **rv,
                              int64_t *moved, tsr_error *err) {
  *moved = 0;
  tsr_status st = job ? resolve_join(job, rv, err) : resolve_bundle(o, rv, err);
  if (st != TSR_OK || !*rv) return st;
  const tsr__resolved *r = *rv;
  const tsr_ledger *lg = res->ledger;
  size_t nl = tsr_ledger_ncustomers(lg);
  const char **to = NULL; /* per ledger customer: the resolved id, or NULL */
  if (st == TSR_OK && !(to = tsr__calloc(nl ? nl : 1, sizeof *to))) st = TSR_ENOMEM;
  for (size_t i = 0; st == TSR_OK && i < r->n; i++) {
    size_t c = r->canon[i];
    if (c == i) continue;
    ptrdiff_t k = tsr_ledger_find(lg, tsr__resolved_id(r, i));
    if (k < 0) continue;
    to[k] = tsr__resolved_id(r, c);
    (*moved)++;
  }
  if (st != TSR_OK || *moved == 0) {
    tsr__free(to);
    *moved = 0;
    return st == TSR_ENOMEM ? tsr_error_set(err, st, NULL, 0, 0, NULL, "out of memory") : TSR_OK;
  }
  tsr_ledger *nlg = NULL;
  tsr_ingest_stats fs;
  tsr__lfeed f;
  st = tsr_ledger_new(&nlg, err);
  if (st == TSR_OK) st = tsr__lfeed_init(&f, nlg, "transactions", NULL, &fs, err);
  const size_t mx = tsr__ledger_max_entries(lg);
  tsr_ledger_entry *eb = tsr__malloc((mx ? mx : 1) * sizeof *eb); /* a customer's entries */
  if (st == TSR_OK && !eb) st = tsr_error_set(err, TSR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
  for (size_t k = 0; st == TSR_OK && k < nl; k++) {
    const char *id = to[k] ? to[k] : tsr_ledger_customer(lg, k);
    size_t n;
    const tsr_ledger_entry *e = tsr__ledger_decode(lg, k, eb, &n);
    for (size_t j = 0; st == TSR_OK && j < n; j++) {
      char a[32], b[32];
      /* shortest round-trip text: the same doubles come back */
      st = tsr__lfeed_day(&f, id, strlen(id), e[j].day, e[j].ntx, tsr__fmt_double(e[j].amount, a),
                          e[j].nrefund, tsr__fmt_double(e[j].refund, b), err);
    }
  }
  tsr__free(eb);
  st = tsr__lfeed_replace(&f, nlg, &res->ledger, keep, st, err);
  tsr__free(to);
  return st;
}
