/*
 * analyze_resolved.h - the outcome of entity resolution that `tessera
 * analyze` keeps between the re-keying (app/analyze_rekey.c) and the
 * profile step (app/analyze_profiles.c): ids, canonical records and
 * households only, so that the resolver (every record's fields, blocks and
 * pairs) is freed right after its run. App floor, internal.
 */
#ifndef TSR_APP_ANALYZE_RESOLVED_H
#define TSR_APP_ANALYZE_RESOLVED_H

#include <stddef.h>

#include "tessera/resolve.h"

typedef struct tsr__resolved {
  size_t n;          /* records, in the resolver's order */
  char *ids;         /* their ids, NUL-terminated one after the other */
  size_t *id_off;    /* record i's id: ids + id_off[i] */
  size_t *canon;     /* tsr_resolver_canonical */
  size_t *head;      /* the head record of its household
                        (tsr_resolver_household_head), or SIZE_MAX: none */
  size_t households; /* tsr_resolve_stats.households */
} tsr__resolved;

/* The ids, canonical records and households of rv (after its run) into a
 * new *out (tsr__resolved_free). Errors: TSR_ENOMEM. */
tsr_status tsr__resolved_from(const tsr_resolver *rv, tsr__resolved **out, tsr_error *err);
void tsr__resolved_free(tsr__resolved *r);

static inline const char *tsr__resolved_id(const tsr__resolved *r, size_t i) {
  return r->ids + r->id_off[i];
}

#endif
