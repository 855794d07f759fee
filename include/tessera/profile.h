/*
 * tessera/profile.h - multi-source customer profiles and micro-segments.
 *
 * One profile per resolved customer, built from the tables of a bundle
 * (tessera/bundle.h): CRM records (demographics, products held, risk),
 * product events, interactions (service contacts, sentiment), transactions
 * (channel mix, spend) and, from the analysis, the RFM / BTYD / CLV values.
 * Rules (life stage, risk band, digital share, segments) are documented in
 * docs/profiles.md.
 *
 * Use: tsr_profiles_new; optionally tsr_profiles_map_id for every merged
 * record (entity resolution; without it the resolved id is the customer_id);
 * tsr_profiles_add_* for each table present (any order, each at most once);
 * tsr_profiles_set_value for the analysis columns; tsr_profiles_finish;
 * then tsr_profiles_segment; read with tsr_profiles_get or write CSV.
 *
 * Memory: about 200 bytes per customer plus its ids. Not thread-safe; one
 * builder per thread.
 */
#ifndef TESSERA_PROFILE_H
#define TESSERA_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tessera/bundle.h"
#include "tessera/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tsr_life_stage {
  TSR_LS_UNKNOWN = 0,     /* no age */
  TSR_LS_STUDENT = 1,
  TSR_LS_YOUNG_ADULT = 2,
  TSR_LS_FAMILY = 3,
  TSR_LS_ESTABLISHED = 4,
  TSR_LS_PRE_RETIREMENT = 5,
  TSR_LS_RETIRED = 6
} tsr_life_stage;
#define TSR_LS_COUNT 7

/* "unknown", "student", "young_adult", "family", "established",
 * "pre_retirement", "retired". */
TSR_API const char *tsr_life_stage_name(tsr_life_stage s);

/* The documented rule (docs/profiles.md): age in years (NAN = unknown) and
 * whether the customer holds a student product and a child product. */
TSR_API tsr_life_stage tsr_life_stage_rule(double age, int holds_student,
                                           int holds_child);

#define TSR_PROFILE_MAX_PRODUCTS 64

typedef struct tsr_profile {
  const char *id;          /* resolved customer id (borrowed from the set) */
  uint32_t n_records;      /* CRM records merged into this customer */
  int in_crm;              /* 1 when at least one CRM record */
  double age;              /* years at the reference day; NAN unknown */
  const char *gender;      /* as in the CRM ("" unknown); borrowed */
  const char *income_band;
  const char *city;
  const char *channel_preference;
  double tenure_years;     /* since the earliest join_date (else first
                              product event or transaction); NAN unknown */
  tsr_life_stage life_stage;
  uint64_t products;       /* bit i = holds product i (tsr_profiles_product) */
  uint32_t product_count;
  uint32_t recent_openings;/* openings in the last recent_days */
  double risk_score;       /* 0..100, mean over records; NAN unknown */
  const char *risk_band;   /* "low" (< 34), "medium" (< 67), "high", "" */
  int64_t tx_count;        /* transactions (refunds included) */
  double tx_amount;        /* sum of amounts, refunds netted */
  double digital_share;    /* share of transactions with a channel that are
                              web or mobile; NAN when none has a channel */
  int64_t last_tx_time;    /* epoch seconds; INT64_MIN when none */
  uint32_t service_contacts; /* interactions */
  double sentiment_mean;   /* mean interaction score in [-1, 1]; NAN none */
  double sentiment_last;   /* score of the latest interaction; NAN none */
  int64_t anomalies;       /* flagged transactions; -1 = not computed */
  /* analysis values (tsr_profiles_set_value); NAN when absent */
  double frequency, recency, T, monetary, p_alive, expected, clv;
  const char *rfm_segment; /* "" when absent; borrowed */
  /* segments (tsr_profiles_segment); -1 before */
  int behaviour;           /* behavioural cluster 0..k-1 */
  int value_tier;          /* 0 = top CLV tier .. 3 = lowest; -1 no value */
  int affinity;            /* product-affinity cluster 0..k-1 */
  const char *micro;       /* micro-segment name (borrowed), "" before */
  /* internal */
  int64_t first_day, join_day, last_ev_day, last_in_time, birth_day;
  double sent_sum;
  uint32_t n_sent, n_risk;
  int64_t n_dig, n_chan;
  uint64_t opened_recent_mask;
} tsr_profile;

typedef struct tsr_profile_opts {
  int64_t today;       /* reference day (days since 1970-01-01); < 0 = the
                          day after the latest date seen in any table */
  int recent_days;     /* window of "recent openings", >= 1; default 90 */
  /* Sentiment scorer of an interaction's message (the sentiment module);
   * returns a score in [-1, 1] or NAN. NULL = sentiment columns empty. */
  double (*sentiment)(void *ud, const char *text, size_t len);
  void *sentiment_ud;
} tsr_profile_opts;

TSR_API void tsr_profile_opts_init(tsr_profile_opts *o);

typedef struct tsr_profiles tsr_profiles;

TSR_API tsr_status tsr_profiles_new(const tsr_profile_opts *o,
                                    tsr_profiles **out, tsr_error *err);
TSR_API void tsr_profiles_free(tsr_profiles *p);

/* Entity resolution: rows naming record_id belong to resolved_id (both
 * copied). Call before adding tables. */
TSR_API tsr_status tsr_profiles_map_id(tsr_profiles *p, const char *record_id,
                                       const char *resolved_id, tsr_error *err);
/* The resolved id of a record id (borrowed), the id itself when unmapped. */
TSR_API const char *tsr_profiles_resolve(const tsr_profiles *p,
                                         const char *record_id);

/* Streams a table from an open reader (of the matching table) to its end.
 * Returns as tsr_bundle_next (TSR_EMAXERR, TSR_EIO, TSR_ENOMEM) or TSR_OK. */
TSR_API tsr_status tsr_profiles_add_table(tsr_profiles *p, tsr_bundle_reader *r,
                                          tsr_error *err);
/* The transactions table read ahead of the other tables, so that its one
 * pass can feed another reader too (tsr_bundle_reader_on_csv; the profile
 * step's anomalies): tsr_profiles_stage_table streams r (a transactions
 * table; TSR_EINVAL for another) into totals per resolved customer (by the
 * ids mapped so far), creating no profile; tsr_profiles_add_staged adds
 * them later as tsr_profiles_add_table would have at that point (the
 * profiles of new customers in the order of their first transaction) and
 * frees them. Returns as tsr_profiles_add_table. */
TSR_API tsr_status tsr_profiles_stage_table(tsr_profiles *p, tsr_bundle_reader *r,
                                            tsr_error *err);
TSR_API tsr_status tsr_profiles_add_staged(tsr_profiles *p, tsr_error *err);
/* Anomaly hook: n flagged transactions of record id (resolved). */
TSR_API tsr_status tsr_profiles_add_anomalies(tsr_profiles *p, const char *id,
                                              int64_t n, tsr_error *err);
/* Analysis values of a customer (record id, resolved); a customer not yet
 * known is added. NAN = unknown. */
typedef struct tsr_profile_value {
  double frequency, recency, T, monetary, p_alive, expected, clv;
  const char *rfm_segment; /* copied; may be NULL */
} tsr_profile_value;
TSR_API tsr_status tsr_profiles_set_value(tsr_profiles *p, const char *id,
                                          const tsr_profile_value *v,
                                          tsr_error *err);

/* Derives age, tenure, life stage, product count, risk band ... Call once
 * after the tables. */
TSR_API tsr_status tsr_profiles_finish(tsr_profiles *p, tsr_error *err);

TSR_API size_t tsr_profiles_count(const tsr_profiles *p);
/* Profile i (0-based, in order of first appearance); borrowed. */
TSR_API const tsr_profile *tsr_profiles_get(const tsr_profiles *p, size_t i);
/* Index of a resolved id, or -1. */
TSR_API ptrdiff_t tsr_profiles_find(const tsr_profiles *p, const char *id);
/* Product catalogue (names seen, in order of first appearance). */
TSR_API size_t tsr_profiles_nproducts(const tsr_profiles *p);
TSR_API const char *tsr_profiles_product(const tsr_profiles *p, size_t i);
/* Reference day used (after finish). */
TSR_API int64_t tsr_profiles_today(const tsr_profiles *p);

/* ------------------------------------------------------------ segments */

typedef struct tsr_segment_opts {
  size_t behaviour_k;   /* behavioural clusters, 2..20; default 5 */
  size_t affinity_k;    /* product-affinity clusters, 2..20; default 5 */
  size_t min_cell;      /* micro-segments smaller than this are merged up
                           (docs/profiles.md); >= 1; default 50 */
  size_t sample;        /* k-means fitted on at most this many customers,
                           then all assigned; >= 1000; default 50000 */
  uint64_t seed;        /* default 1 */
  int n_threads;        /* default 2 */
} tsr_segment_opts;

TSR_API void tsr_segment_opts_init(tsr_segment_opts *o);

/* Summary of one segment value (one row of segment_profiles.csv). */
typedef struct tsr_segment_summary {
  const char *kind;     /* "behaviour", "value_tier", "life_stage",
                           "affinity", "micro" */
  const char *name;     /* borrowed */
  size_t size;
  double revenue;       /* sum of tx_amount */
  double clv_mean;      /* NAN when no CLV */
  double age_mean;      /* NAN when no ages */
  double digital_share; /* mean over customers with a share */
  double sentiment_mean;/* mean over customers with a sentiment */
  double p_alive_mean;
  char top_products[160]; /* up to 3 most held, ';'-separated */
} tsr_segment_summary;

/* Computes every segment column and the segment summaries. */
TSR_API tsr_status tsr_profiles_segment(tsr_profiles *p,
                                        const tsr_segment_opts *o,
                                        tsr_error *err);
TSR_API size_t tsr_profiles_nsegments(const tsr_profiles *p);
TSR_API const tsr_segment_summary *tsr_profiles_segment_get(
    const tsr_profiles *p, size_t i);
/* Name of behavioural cluster / affinity cluster c (borrowed). */
TSR_API const char *tsr_profiles_behaviour_name(const tsr_profiles *p, int c);
TSR_API const char *tsr_profiles_affinity_name(const tsr_profiles *p, int c);
/* "top", "high", "medium", "low" (tier 0..3), "none". */
TSR_API const char *tsr_value_tier_name(int tier);

/* Writes profiles.csv (header + one row per profile; docs/profiles.md lists
 * the columns) and segment_profiles.csv. TSR_EIO on a write error. */
TSR_API tsr_status tsr_profiles_write_csv(const tsr_profiles *p, FILE *f,
                                          tsr_error *err);
TSR_API tsr_status tsr_profiles_write_segments_csv(const tsr_profiles *p,
                                                   FILE *f, tsr_error *err);

/* ------------------------------------------------------------ personal data */

/* Personal data (name, e-mail, phone, address, birth date of the CRM) is
 * never written to logs, events, errors or reports; in the store it is
 * either dropped or sealed with libsodium's crypto_secretbox (XSalsa20-
 * Poly1305) under a 32-byte key (docs/profiles.md "Personal data"). */
#define TSR_PII_DROP 0
#define TSR_PII_ENCRYPT 1
#define TSR_PII_KEY_BYTES 32

/* Loads the key: from the file named by $TSR_PII_KEY_FILE (32 raw bytes or
 * 64 hex digits), else from $TSR_PII_KEY (64 hex digits), else key_file when
 * non-NULL. TSR_ENOTFOUND when none is set; TSR_EINVAL for a malformed key
 * (the key never appears in err). */
TSR_API tsr_status tsr_pii_key_load(const char *key_file,
                                    unsigned char key[TSR_PII_KEY_BYTES],
                                    tsr_error *err);
/* Seals plaintext into "v1:KEYID:BASE64(nonce|ciphertext)" (KEYID: 8 hex
 * digits of the key's BLAKE2b hash, for rotation). *out: caller frees with
 * free(). */
TSR_API tsr_status tsr_pii_seal(const unsigned char key[TSR_PII_KEY_BYTES],
                                const char *plain, size_t len, char **out,
                                tsr_error *err);
/* Opens a sealed text; TSR_EAUTH when the key is wrong or the text was
 * altered. *out (NUL-terminated, *len bytes): caller frees with free(). */
TSR_API tsr_status tsr_pii_open(const unsigned char key[TSR_PII_KEY_BYTES],
                                const char *sealed, char **out, size_t *len,
                                tsr_error *err);
/* Key id (8 hex digits + NUL) of a key. */
TSR_API void tsr_pii_key_id(const unsigned char key[TSR_PII_KEY_BYTES],
                            char out[9]);

/* PII hook of the builder: called for every accepted CRM record with its
 * resolved profile index (the row is borrowed for the call). */
TSR_API void tsr_profiles_on_record(tsr_profiles *p,
                                    void (*fn)(void *ud, size_t profile,
                                               const tsr_bundle_row *row),
                                    void *ud);

#ifdef __cplusplus
}
#endif
#endif
