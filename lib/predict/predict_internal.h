/*
 * predict_internal.h - the customer data the prediction models read (a
 * minimal reader of the bundle of /work/shared/DATA.md: transactions,
 * customers, products_events, interactions) and the feature builders
 * shared by churn and next-best-product. Not public API.
 *
 * Customers are those of the transaction ledger (with at least one
 * transaction row); rows of the other tables naming other ids are counted
 * (unmatched) and left out.
 */
#ifndef TSR_PREDICT_INTERNAL_H
#define TSR_PREDICT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/btyd.h"
#include "tessera/bundle.h"
#include "tessera/error.h"
#include "tessera/ingest.h"

#define TSR__NODAY INT32_MIN
#define TSR__MAX_PRODUCTS 256

typedef struct tsr__pevent {
  int32_t day;
  int16_t product; /* index into pdata.products */
  int8_t open;     /* 1 open, 0 close */
} tsr__pevent;

typedef struct tsr__ievent {
  int32_t day;
  uint8_t complaint; /* topic or message mentions a complaint */
  float sentiment;   /* compound score of the message (tessera/sentiment.h),
                        NaN without a message */
} tsr__ievent;

/* Products with a feature of their own (days held): the most frequent ones
 * in products_events.csv. */
#define TSR__NPSLOT 12

typedef struct tsr__pdata {
  tsr_ledger *lg;          /* owned unless lg_borrowed */
  int lg_borrowed;         /* 1: the caller's ledger (never changed here) */
  size_t n;                /* customers (ledger order) */
  int32_t first_day, last_day; /* first and last transaction day */
  /* customers.csv (NULL arrays when absent) */
  int has_customers;
  int32_t *birth, *join;   /* TSR__NODAY when unknown */
  float *income, *risk;    /* NaN when unknown */
  uint8_t *business;       /* 1 business, 0 personal: all 0 for now (the
                              bundle has no customer-type column; a
                              business product makes a customer business) */
  /* products_events.csv */
  int has_products;
  size_t nprod;
  char *products[TSR__MAX_PRODUCTS]; /* owned names */
  tsr__pevent *pev;        /* sorted by customer then day */
  size_t nslot;            /* products with a days-held feature */
  int16_t slot[TSR__NPSLOT]; /* their indices, most events first */
  size_t *pev_off;         /* n + 1 */
  /* interactions.csv */
  int has_interactions;
  tsr__ievent *iev;
  size_t *iev_off;         /* n + 1 */
  /* reading counts */
  int64_t rejected, unmatched;
  tsr_error first_reject;  /* the first rejected row (code 0 when none) */
} tsr__pdata;

/* Reads DIR/transactions.csv (required) and the optional tables. A file
 * path instead of a folder is read as the transaction log alone. With lg
 * (a finished ledger, borrowed: it must outlive d) the transactions are
 * lg's and only the optional tables are read from folder dir (NULL or a
 * file: none). topts: how the optional tables are read (renames, date
 * forms; NULL = defaults; its callbacks and error limit are not used;
 * the transactions' date format is used when the ledger is read here).
 */
tsr_status tsr__pdata_read(const char *dir, const tsr_ledger *lg, const tsr_bundle_opts *topts,
                           tsr__pdata *d, tsr_error *err);
/* The same with the optional tables of bundle tabs (its customer, product
 * and interaction files) instead of folder dir's; tabs NULL = dir's. */
tsr_status tsr__pdata_read_tables(const char *dir, const tsr_ledger *lg,
                                  const tsr_bundle_opts *topts, const tsr_bundle *tabs,
                                  tsr__pdata *d, tsr_error *err);
void tsr__pdata_release(tsr__pdata *d);
/* Product index by name, or -1. */
int tsr__pdata_product(const tsr__pdata *d, const char *name);

/* tsr_churn_run and tsr_nbp_run on d, read before (tsr__pdata_read_tables
 * with the options' ledger, table_opts and tables; dir: for messages)
 * instead of reading the tables again: the same results. d is only read
 * (both may run on it at once, on two threads); the caller releases it
 * after both. `tessera analyze` reads the tables once for the two. */
struct tsr_churn_opts;
struct tsr_churn_result;
struct tsr_nbp_opts;
struct tsr_nbp_result;
tsr_status tsr__churn_run_pdata(const tsr__pdata *d, const struct tsr_churn_opts *opts,
                                struct tsr_churn_result **out, tsr_error *err);
tsr_status tsr__nbp_run_pdata(const char *dir, const tsr__pdata *d,
                              const struct tsr_nbp_opts *opts, struct tsr_nbp_result **out,
                              tsr_error *err);

/* --------------------------------------------------------- churn features */

enum {
  TSR__F_RECENCY = 0,   /* days since the last purchase */
  TSR__F_TENURE,        /* days since the first purchase */
  TSR__F_VISITS,        /* purchase days, all history */
  TSR__F_VISITS90,      /* purchase days in the last 90 days */
  TSR__F_VISITS365,     /* purchase days in the last 365 days */
  TSR__F_TREND,         /* visits last 90 days - visits the 90 before */
  TSR__F_SPEND90,       /* spend in the last 90 days */
  TSR__F_MEANSPEND,     /* mean spend per purchase day */
  TSR__F_GAP,           /* mean days between purchase days (NaN with one) */
  TSR__F_OVERDUE,       /* recency / mean gap */
  TSR__F_REFUNDS,       /* refund rows, all history */
  TSR__F_PALIVE,        /* BG/NBD P(alive) at the cutoff */
  TSR__F_EXPECTED,      /* BG/NBD expected purchases in the window */
  TSR__F_AGE,           /* years */
  TSR__F_MEMBER,        /* days since join_date */
  TSR__F_INCOME,        /* income band code */
  TSR__F_RISK,          /* risk score 0-100 */
  TSR__F_HELD,          /* products held at the cutoff */
  TSR__F_OPENS365,      /* products opened in the last 365 days */
  TSR__F_CLOSES365,     /* products closed in the last 365 days */
  TSR__F_CONTACTS90,    /* service contacts in the last 90 days */
  TSR__F_COMPLAINTS90,  /* complaints in the last 90 days */
  TSR__F_SINCE_COMPLAINT, /* days since the last complaint (NaN: none) */
  TSR__F_CONTACTS,      /* service contacts, all history */
  TSR__F_SINCE_CONTACT, /* days since the last service contact (NaN: none) */
  TSR__F_SENT_MEAN,     /* mean sentiment of the messages, all history */
  TSR__F_SENT_LAST,     /* sentiment of the last message */
  TSR__F_SENT_MIN90,    /* lowest sentiment in the last 90 days */
  TSR__F_PEV_RATE,      /* product events per year since the first one */
  TSR__F_SINCE_PEVENT,  /* days since the last product event */
  TSR__F_PZERO,         /* BG/NBD P(no purchase in the window) at the cutoff */
  TSR__F_HELD_DAYS0,    /* days held of product slot 0 (NaN: not held) */
  TSR__NFEAT = TSR__F_HELD_DAYS0 + TSR__NPSLOT
};
#define TSR__NFIXED TSR__F_HELD_DAYS0
/* The features of the product propensity models (recommend.c): the
 * purchase, profile, product-count and complaint features; the sentiment,
 * contact, product-event and tenure-per-product ones are churn's only
 * (they lowered the propensity AUC of rare products in tests). */
#define TSR__NPROPFEAT TSR__F_CONTACTS

/* Feature names (snake_case, static) of the fixed features; slot features
 * are "days_held_<product>" (tsr__churn_feature_label). */
const char *tsr__churn_feature_name(int j);
/* The name of feature j for the data d (slot features name the product);
 * "" for an unused slot. */
const char *tsr__churn_feature_label(const tsr__pdata *d, int j, char *buf, size_t cap);
/* Number of features used with d: the fixed ones and one per slot. */
size_t tsr__churn_nfeat(const tsr__pdata *d);

/* Features of every customer at cutoff day c, from data on days <= c
 * only: x is n * TSR__NFEAT floats (NaN = missing or not available);
 * active[i] = 1 when customer i has a purchase on or before c. The BG/NBD
 * model is fitted on the customers active at c (weekly periods); window
 * is the horizon of the expected-purchases feature in days. m (may be NULL)
 * receives the model; *has_btyd = 0 when it could not be fitted. */
tsr_status tsr__churn_features(const tsr__pdata *d, int32_t c, int32_t window,
                               float *x, uint8_t *active, tsr_btyd_model *m,
                               int *has_btyd, tsr_error *err);
/* The learning customers of a churn fit (tsr_churn_opts.max_train_rows):
 * learn[0..nl) itself when max is 0 or nl <= max, else a sample of max of
 * them stratified by the label y[learn[k]] (1 or 0): each class keeps its
 * share of max rounded to the nearest, chosen by a shuffle seeded with
 * seed; out (nl entries, the caller's; may be learn) gets them in their
 * order in learn, *nout their count. TSR_ENOMEM. */
tsr_status tsr__churn_sample_learn(const size_t *learn, size_t nl, const float *y, size_t max,
                                   uint64_t seed, size_t *out, size_t *nout, tsr_error *err);
/* Label of customer i: 1 when no purchase (and no product event) on days
 * c+1 .. c+window. */
uint8_t tsr__churn_label(const tsr__pdata *d, size_t i, int32_t c, int32_t window);

/* The plain-words reason of feature j (named name) with value v ("no
 * purchase for 21 weeks"); buf >= 96 bytes. */
char *tsr__churn_reason(int j, const char *name, float v, char *buf, size_t cap);

#endif
