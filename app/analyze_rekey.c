/*
 * analyze_rekey.c - RFM and BTYD per resolved customer on a bundle
 * (issue 12, docs/profiles.md "Wiring"): before the summary, the CRM
 * records of the bundle's customers table are resolved (tessera/resolve.h)
 * and the ledger's entries of every merged record move to its canonical
 * record's id, so that two records of one person are one customer with the
 * purchases of both (same-day entries merge as in the ingest). The
 * resolution runs once per run: the resolver is handed on to the profile
 * step (app/analyze_profiles.c). Application layer; the ledger is rebuilt
 * through ledger_feed.h.
 */
#include "internal.h"
#include "ledger_feed.h"
#include "tessera/analyze.h"
#include "tessera/resolve.h"

#include <stdio.h>
#include <string.h>

tsr_status tsr__analyze_rekey(const tsr_analyze_opts *o, tsr_analyze_result *res,
                              const tsr_ledger *keep, tsr_resolver **rv, int64_t *moved,
                              tsr_error *err);

/* Entity resolution of the bundle's customers table, once per run: *out is
 * the resolver after its run, or NULL when the bundle has no customers table
 * or the resolver cannot read it (no id column, too many bad rows: the ids
 * stay as given, the profile step says so). Out of memory and read errors
 * fail the run. Errors never name personal data. */
static tsr_status resolve_bundle(const tsr_analyze_opts *o, tsr_resolver **out, tsr_error *err) {
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
    *out = rv;
    return TSR_OK;
  }
  tsr_resolver_free(rv);
  if (st != TSR_ENOMEM && st != TSR_EIO) return TSR_OK; /* unresolved ids, not a failed run */
  if (err) *err = rerr;
  return st;
}

/* Resolves the bundle's customers (*rv: the resolver, owned by the caller,
 * for the profile step; NULL when unresolved) and re-keys res->ledger
 * (finished) to resolved ids; *moved = ledger customers whose entries moved
 * to another id (0: the ledger is left as it is). The ledger replaced is
 * freed unless it is keep: the models' ledger of the raw ids
 * (app/analyze_predict.c), which then stays as it was. */
tsr_status tsr__analyze_rekey(const tsr_analyze_opts *o, tsr_analyze_result *res,
                              const tsr_ledger *keep, tsr_resolver **rv, int64_t *moved,
                              tsr_error *err) {
  *moved = 0;
  tsr_status st = resolve_bundle(o, rv, err);
  if (st != TSR_OK || !*rv) return st;
  const tsr_resolver *r = *rv;
  const tsr_ledger *lg = res->ledger;
  size_t nl = tsr_ledger_ncustomers(lg);
  const char **to = NULL; /* per ledger customer: the resolved id, or NULL */
  if (st == TSR_OK && !(to = tsr__calloc(nl ? nl : 1, sizeof *to))) st = TSR_ENOMEM;
  for (size_t i = 0; st == TSR_OK && i < tsr_resolver_count(r); i++) {
    size_t c = tsr_resolver_canonical(r, i);
    if (c == i) continue;
    ptrdiff_t k = tsr_ledger_find(lg, tsr_resolver_id(r, i));
    if (k < 0) continue;
    to[k] = tsr_resolver_id(r, c);
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
  for (size_t k = 0; st == TSR_OK && k < nl; k++) {
    const char *id = to[k] ? to[k] : tsr_ledger_customer(lg, k);
    size_t n;
    const tsr_ledger_entry *e = tsr_ledger_entries(lg, k, &n);
    for (size_t j = 0; st == TSR_OK && j < n; j++) {
      char a[32], b[32];
      /* shortest round-trip text: the same doubles come back */
      st = tsr__lfeed_day(&f, id, strlen(id), e[j].day, e[j].ntx, tsr__fmt_double(e[j].amount, a),
                          e[j].nrefund, tsr__fmt_double(e[j].refund, b), err);
    }
  }
  st = tsr__lfeed_replace(&f, nlg, &res->ledger, keep, st, err);
  tsr__free(to);
  return st;
}
