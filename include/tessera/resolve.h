/*
 * tessera/resolve.h - entity resolution of CRM customer records.
 *
 * One person may be held several times by the CRM (a second record after a
 * move, a new e-mail, a typo, a missing phone); several persons may share a
 * household (same surname and address). The resolver:
 *   1. normalises each record (case, accents and umlauts folded to ASCII,
 *      white space, phone numbers to E.164, e-mail case, address words);
 *   2. blocks: records sharing a key (phonetic surname + birth date,
 *      phonetic first name + birth date, e-mail, phone, phonetic surname +
 *      postcode, phonetic first name + surname + birth year or birth day
 *      of the year) become candidate pairs;
 *      blocks larger than max_block are skipped (counted); surname +
 *      postcode blocks over 24 records are sorted by address and paired
 *      within a window of 10 records with similar addresses instead, at
 *      any size; so the number of pairs grows about linearly;
 *   3. compares each pair field by field (Jaro-Winkler names, birth date,
 *      address edit distance, phone, e-mail, postcode, gender) into levels
 *      agree / partial / disagree / missing;
 *   4. scores the comparison patterns with a latent class model (three
 *      classes: same person, same household, unrelated; conditional
 *      independence, Fellegi-Sunter m- and u-probabilities) whose
 *      parameters are estimated by EM on the data itself (no labels);
 *   5. merges pairs with P(same person) >= threshold transitively
 *      (union-find); the canonical record of a cluster is the earliest
 *      (join date, then input row). Pairs of distinct persons with
 *      P(same household) >= 0.5 at one address (same house number and
 *      postcode, or same postcode and phone) become household relations;
 *      a household has at most 12 persons.
 * See docs/resolve.md.
 *
 * Personal data never enters an error message: errors name the file, line,
 * column and field only. Not thread-safe; distinct resolvers may be used
 * from distinct threads.
 */
#ifndef TESSERA_RESOLVE_H
#define TESSERA_RESOLVE_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/csv.h"
#include "tessera/error.h"
#include "tessera/ingest.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsr_resolve_params {
  double threshold;       /* P(same person) to merge, in (0,1); default 0.5 */
  double household_threshold; /* P(same household) for a relation, (0,1); 0.5 */
  size_t max_block;       /* records per block, >= 2; larger blocks are
                             skipped; default 200 */
  int em_max_iter;        /* EM iterations, >= 1; default 500 */
  double em_tol;          /* relative change of the log-likelihood, > 0;
                             default 1e-9 */
  char phone_country[8];  /* calling code for national numbers (leading 0),
                             1-4 digits; default "44" */
} tsr_resolve_params;

/* Sets the defaults above. */
TSR_API void tsr_resolve_params_init(tsr_resolve_params *p);
/* TSR_EINVAL naming the parameter, its range and value. */
TSR_API tsr_status tsr_resolve_check_params(const tsr_resolve_params *p,
                                            tsr_error *err);

/* One customer record as the CRM holds it. Every pointer is borrowed for
 * the call and may be NULL or "" (missing). name is the full name ("Anna
 * Müller"); first_name/last_name, when given, are used instead of splitting
 * name. birth_date and join_date: YYYY-MM-DD, YYYYMMDD, YYYY/MM/DD or
 * DD.MM.YYYY. products_held: ';'-separated product names (for the graph). */
typedef struct tsr_person_record {
  const char *customer_id; /* required, non-empty */
  const char *name, *first_name, *last_name;
  const char *email, *phone, *birth_date, *gender;
  const char *address, *postcode, *city, *join_date;
  const char *products_held;
} tsr_person_record;

typedef struct tsr_resolver tsr_resolver;

/* A new resolver (copies *p; NULL = defaults). *out owned by the caller
 * (tsr_resolver_free). */
TSR_API tsr_status tsr_resolver_new(const tsr_resolve_params *p,
                                    tsr_resolver **out, tsr_error *err);
TSR_API void tsr_resolver_free(tsr_resolver *r);

/* Adds a record (normalised copies are kept). TSR_EPARSE when a date does
 * not parse or the id is empty (err->field names the field, the message
 * never quotes the value); the record is then not added. */
TSR_API tsr_status tsr_resolver_add(tsr_resolver *r,
                                    const tsr_person_record *rec,
                                    tsr_error *err);

/* Options of tsr_resolver_read_csv. Columns are bound by header name
 * (case, blanks and punctuation ignored): customer_id (or id, customer,
 * client_id), name (or full_name), first_name, last_name (or surname),
 * email, phone, birth_date (or dob, date_of_birth), gender, address,
 * postcode (or zip, postal_code), city, join_date (or customer_since),
 * products_held (or products). */
typedef struct tsr_resolve_read_opts {
  tsr_csv_opts csv;
  int64_t max_errors;  /* -1 = unlimited (default) */
  void (*on_reject)(void *ud, const tsr_reject *r); /* raw is never set */
  void *ud;
} tsr_resolve_read_opts;
TSR_API void tsr_resolve_read_opts_init(tsr_resolve_read_opts *o);

/* Reads customers.csv (streaming) into r. Rows with a bad field go to
 * on_reject and are counted in *rejected (may be NULL). TSR_EMAXERR when
 * more than max_errors rows were rejected; TSR_EPARSE when the header has
 * no customer id column; TSR_EIO on read errors. */
TSR_API tsr_status tsr_resolver_read_csv(tsr_resolver *r, const char *path,
                                         const tsr_resolve_read_opts *o,
                                         int64_t *rejected, tsr_error *err);

/* Runs blocking, comparison, EM and clustering on the records added. May be
 * called once. TSR_ECONVERGE is never returned: EM stops at em_max_iter and
 * the stats say so. */
TSR_API tsr_status tsr_resolver_run(tsr_resolver *r, tsr_error *err);

typedef struct tsr_resolve_stats {
  size_t records;          /* records added */
  size_t candidate_pairs;  /* distinct pairs compared */
  size_t blocks_skipped;   /* blocks over max_block (their pairs not formed) */
  size_t matched_pairs;    /* pairs with P(same person) >= threshold */
  size_t household_pairs;  /* pairs classed as one household */
  size_t merged_records;   /* records whose resolved id is another record */
  size_t persons;          /* distinct resolved persons */
  size_t households;       /* households with two or more persons */
  size_t household_refused; /* household links refused: over 12 persons */
  int em_iterations;       /* EM iterations run */
  int em_converged;        /* 1 when the tolerance was reached */
  double prior_match;      /* EM class weights of the candidate pairs */
  double prior_household;
  double seconds_block, seconds_compare, seconds_em, seconds_cluster;
} tsr_resolve_stats;
TSR_API void tsr_resolver_stats(const tsr_resolver *r, tsr_resolve_stats *s);

/* Results, valid after tsr_resolver_run; i is the 0-based order of addition. */
TSR_API size_t tsr_resolver_count(const tsr_resolver *r);
/* The record's id (borrowed). */
TSR_API const char *tsr_resolver_id(const tsr_resolver *r, size_t i);
/* Index of the canonical record of i's cluster (i itself when canonical). */
TSR_API size_t tsr_resolver_canonical(const tsr_resolver *r, size_t i);
/* P(same person) of the strongest link of i (0 when it had no candidate). */
TSR_API double tsr_resolver_score(const tsr_resolver *r, size_t i);
/* Plain reasons for i's strongest link, e.g. "merged: same name, same birth
 * date, new e-mail" or "distinct: different birth date"; written into buf
 * (NUL-terminated, truncated to cap; no personal data). Returns buf. */
TSR_API char *tsr_resolver_reasons(const tsr_resolver *r, size_t i, char *buf,
                                   size_t cap);
/* Household index of i's person in 0..households-1, or -1 when the person
 * shares no household. */
TSR_API ptrdiff_t tsr_resolver_household(const tsr_resolver *r, size_t i);
/* Canonical record index of the household's first person (for an id). */
TSR_API size_t tsr_resolver_household_head(const tsr_resolver *r, size_t h);
/* products_held of record i as given (borrowed, "" when absent). */
TSR_API const char *tsr_resolver_products(const tsr_resolver *r, size_t i);

/* EM estimates: for field f (0..tsr_resolver_nfields-1) and level l
 * (1 disagree, 2 partial, 3 agree) the probability of that level among
 * pairs of the same person (m) and of unrelated persons (u). */
TSR_API size_t tsr_resolver_nfields(void);
TSR_API const char *tsr_resolver_field_name(size_t f);
TSR_API void tsr_resolver_field_probs(const tsr_resolver *r, size_t f,
                                      int level, double *m, double *h,
                                      double *u);

/* The normalisations, exposed for tests and for other modules.
 * Folds UTF-8 text to lowercase ASCII (accents dropped, ä->ae, ö->oe,
 * ü->ue, ß->ss), punctuation to spaces, runs of white space to one space,
 * trimmed. Returns the length written (buf NUL-terminated, truncated). */
TSR_API size_t tsr_resolve_fold(const char *s, char *buf, size_t cap);
/* Phone number to E.164 ("+441632960001"): digits kept, "00" or "+" start an
 * international number, a leading 0 is replaced by the country code, a
 * "(0)" after the country code is dropped.
 * Returns 0 and buf "" when fewer than 7 or more than 15 digits remain. */
TSR_API int tsr_resolve_phone(const char *s, const char *country, char *buf,
                              size_t cap);
/* Soundex code of a folded word into buf (5 bytes): "R163". */
TSR_API char *tsr_resolve_soundex(const char *word, char *buf);
/* Jaro-Winkler similarity in [0,1] of two byte strings. */
TSR_API double tsr_resolve_jaro_winkler(const char *a, size_t na,
                                        const char *b, size_t nb);
/* Levenshtein distance (bytes); strings longer than 255 are cut to 255. */
TSR_API size_t tsr_resolve_levenshtein(const char *a, size_t na,
                                       const char *b, size_t nb);

#ifdef __cplusplus
}
#endif
#endif
