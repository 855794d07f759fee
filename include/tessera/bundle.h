/*
 * tessera/bundle.h - the customer data bundle: reading its tables.
 *
 * A bundle (docs/bundle.md, ../shared/DATA.md) is a set of CSV tables about
 * the same customers: transactions (required), customers (CRM records),
 * products_events, interactions, campaign and offers. Each table is read
 * streaming, one validated row at a time, in bounded memory, with the
 * rules of the transaction reader (tessera/ingest.h):
 *   - columns are bound by header name (any order; case, blanks and
 *     punctuation ignored; a few aliases per column); every column can be
 *     renamed with tsr_bundle_opts.rename; unknown columns are reported once
 *     through on_note and ignored;
 *   - a bad row is passed to on_reject with FILE:LINE:COLUMN, field and
 *     reason, counted and skipped (never fatal); with max_errors >= 0 the
 *     read stops with TSR_EMAXERR after more rejected rows than that;
 *   - each date column's format is detected from its values: ISO 8601
 *     (dates, timestamps with offsets), YYYYMMDD, or day-first / month-first
 *     "D/M/YYYY" (also '.' or '-' separated) with or without a time
 *     "HH:MM[:SS]", decided by values above 12. The detected form is
 *     reported once through on_note. A column whose values fit both
 *     day-first and month-first is an error naming the forms that fit; a
 *     table's format can be forced with tsr_bundle_opts.date_format.
 *
 * Personal data (names, e-mails, phones, addresses, birth dates; the columns
 * for which tsr_bundle_column_is_pii() is 1) never appears in reject reasons
 * or notes: their values are replaced by "<redacted>" unless show_pii is set.
 *
 * Thread safety: a reader is used by one thread at a time; different readers
 * are independent.
 */
#ifndef TESSERA_BUNDLE_H
#define TESSERA_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/csv.h"
#include "tessera/error.h"
#include "tessera/ingest.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The tables of a bundle. */
typedef enum tsr_bundle_table {
  TSR_BT_TRANSACTIONS = 0,
  TSR_BT_CUSTOMERS = 1,
  TSR_BT_PRODUCTS = 2,     /* products_events.csv or products.csv */
  TSR_BT_INTERACTIONS = 3,
  TSR_BT_CAMPAIGN = 4,
  TSR_BT_OFFERS = 5,
  TSR_BT_COUNT = 6
} tsr_bundle_table;

/* Columns of each table (the index into tsr_bundle_row.v). Required columns
 * are marked (R). Column names in the header: see tsr_bundle_column_name();
 * aliases in docs/bundle.md. */
enum {
  TSR_TX_CUSTOMER_ID = 0, /* (R) id */
  TSR_TX_TIMESTAMP,       /* (R) date/time ("timestamp" or "date") */
  TSR_TX_AMOUNT,          /* (R) number; negative = refund */
  TSR_TX_ID,              /* transaction_id, id */
  TSR_TX_CURRENCY,        /* text */
  TSR_TX_CHANNEL,         /* text: branch, web, mobile, card_pos, atm, phone */
  TSR_TX_MERCHANT_CATEGORY, /* text */
  TSR_TX_PRODUCT,         /* text */
  TSR_TX_DESCRIPTION,     /* text */
  TSR_TX_NCOLS
};
enum {
  TSR_CU_CUSTOMER_ID = 0, /* (R) id */
  TSR_CU_NAME,            /* text, PII */
  TSR_CU_EMAIL,           /* text, PII */
  TSR_CU_PHONE,           /* text, PII */
  TSR_CU_BIRTH_DATE,      /* date, PII */
  TSR_CU_GENDER,          /* text */
  TSR_CU_ADDRESS,         /* text, PII */
  TSR_CU_POSTCODE,        /* text */
  TSR_CU_CITY,            /* text */
  TSR_CU_INCOME_BAND,     /* text */
  TSR_CU_JOIN_DATE,       /* date */
  TSR_CU_PRODUCTS_HELD,   /* text, ';'-separated product names */
  TSR_CU_CHANNEL_PREFERENCE, /* text */
  TSR_CU_RISK_SCORE,      /* number in [0, 100] */
  TSR_CU_NCOLS
};
enum {
  TSR_PE_CUSTOMER_ID = 0, /* (R) id */
  TSR_PE_DATE,            /* (R) date */
  TSR_PE_PRODUCT,         /* (R) text: "product_opened" or "product" */
  TSR_PE_EVENT,           /* open/opened/close/closed; num = +1 open, -1 close;
                             absent column = open */
  TSR_PE_NCOLS
};
enum {
  TSR_IN_CUSTOMER_ID = 0, /* (R) id */
  TSR_IN_TIMESTAMP,       /* (R) date/time */
  TSR_IN_CHANNEL,         /* text: call, chat, email, branch ... */
  TSR_IN_TOPIC,           /* text */
  TSR_IN_MESSAGE,         /* text (free text) */
  TSR_IN_ID,              /* interaction_id (optional; line number otherwise) */
  TSR_IN_NCOLS
};
enum {
  TSR_CA_CUSTOMER_ID = 0, /* (R) id */
  TSR_CA_CAMPAIGN_ID,     /* (R) id */
  TSR_CA_GROUP,           /* (R) text: control / treatment / an arm name */
  TSR_CA_CONTACT_DATE,    /* date */
  TSR_CA_RESPONDED,       /* 0 or 1 (also yes/no, true/false) */
  TSR_CA_OFFER_ID,        /* id */
  TSR_CA_NCOLS
};
enum {
  TSR_OF_OFFER_ID = 0,    /* (R) id */
  TSR_OF_NAME,            /* text */
  TSR_OF_DESCRIPTION,     /* text */
  TSR_OF_PRODUCT,         /* text */
  TSR_OF_ELIGIBLE,        /* text (a rule) */
  TSR_OF_NCOLS
};

#define TSR_BUNDLE_MAX_COLS 16

/* Value kinds of columns. */
typedef enum tsr_coltype {
  TSR_COL_ID = 0,   /* non-empty UTF-8 text, at most TSR_INGEST_MAX_ID bytes */
  TSR_COL_TEXT = 1, /* UTF-8 text (may be empty), at most max_field bytes */
  TSR_COL_DATE = 2, /* date or timestamp -> t (epoch seconds, UTC) */
  TSR_COL_NUMBER = 3, /* amount syntax of tsr_amount_parse -> num */
  TSR_COL_FLAG = 4  /* 0/1/yes/no/true/false/y/n -> num 0 or 1 */
} tsr_coltype;

/* "transactions", "customers", "products_events", "interactions",
 * "campaign", "offers" (static storage). */
TSR_API const char *tsr_bundle_table_name(tsr_bundle_table t);
/* Number of columns of table t (TSR_TX_NCOLS ...). */
TSR_API size_t tsr_bundle_ncols(tsr_bundle_table t);
/* Canonical column name ("customer_id", "timestamp" ...); NULL out of range. */
TSR_API const char *tsr_bundle_column_name(tsr_bundle_table t, size_t col);
TSR_API tsr_coltype tsr_bundle_column_type(tsr_bundle_table t, size_t col);
TSR_API int tsr_bundle_column_required(tsr_bundle_table t, size_t col);
/* 1 for personal data (name, email, phone, address, birth_date). */
TSR_API int tsr_bundle_column_is_pii(tsr_bundle_table t, size_t col);
/* Parses a table name (also "products"); TSR_EINVAL if unknown. */
TSR_API tsr_status tsr_bundle_table_parse(const char *s, tsr_bundle_table *out);

/* ------------------------------------------------------------ options */

/* Detected (or forced) form of a date column. */
typedef enum tsr_datefmt {
  TSR_DATEFMT_AUTO = 0,   /* detect (default) */
  TSR_DATEFMT_ISO = 1,    /* ISO 8601 / YYYYMMDD (tsr_datetime_parse) */
  TSR_DATEFMT_DMY = 2,    /* D/M/YYYY [HH:MM[:SS]] ('/', '.', '-') */
  TSR_DATEFMT_MDY = 3,    /* M/D/YYYY [HH:MM[:SS]] */
  TSR_DATEFMT_CUSTOM = 4  /* strptime-style (tsr_datetime_parse with fmt) */
} tsr_datefmt;

/* A note from the reader (unknown columns, detected date formats). */
typedef struct tsr_bundle_note {
  tsr_bundle_table table;
  const char *source;  /* file name */
  const char *column;  /* canonical column name, or "" */
  const char *msg;     /* "ignored unknown columns: foo, bar" ... */
} tsr_bundle_note;

typedef struct tsr_bundle_opts {
  tsr_csv_opts csv;        /* delimiter and limits (all tables) */
  int64_t max_errors;      /* per table: -1 = unlimited (default) */
  int decimal_comma;       /* numbers use ',' as decimal mark ("1.234,56") */
  /* Per table: NULL = detect each date column; "iso", "dmy", "mdy" or a
   * strptime-style format (tessera/datetime.h) for every date column. */
  const char *date_format[TSR_BT_COUNT];
  /* Column renames "table.column=Header Name" (or "column=Header" for
   * every table having that column), NULL-terminated list, may be NULL. */
  const char *const *rename;
  int show_pii;            /* 1: PII values may appear in reasons */
  void (*on_reject)(void *ud, const tsr_reject *r); /* may be NULL */
  void (*on_note)(void *ud, const tsr_bundle_note *n); /* may be NULL */
  void *ud;
} tsr_bundle_opts;

/* Sets the defaults above. */
TSR_API void tsr_bundle_opts_init(tsr_bundle_opts *o);

/* ------------------------------------------------------------ bundles */

/* The files of a bundle (paths only; nothing is read). */
typedef struct tsr_bundle tsr_bundle;

/* An empty bundle (add tables with tsr_bundle_set). Owned by the caller. */
TSR_API tsr_status tsr_bundle_new(tsr_bundle **out, tsr_error *err);
/* Finds the tables of folder dir by file name (transactions.csv,
 * customers.csv, products_events.csv or products.csv, interactions.csv,
 * campaign.csv, offers.csv). TSR_EIO if dir cannot be read; TSR_ENOTFOUND
 * (err names it) if transactions.csv is missing. */
TSR_API tsr_status tsr_bundle_open_dir(const char *dir, tsr_bundle **out,
                                       tsr_error *err);
TSR_API void tsr_bundle_free(tsr_bundle *b);
/* Sets (path != NULL, copied) or removes (NULL) table t's file. */
TSR_API tsr_status tsr_bundle_set(tsr_bundle *b, tsr_bundle_table t, const char *path,
                                  tsr_error *err);
/* Table t's file (borrowed), or NULL when the bundle lacks it. */
TSR_API const char *tsr_bundle_path(const tsr_bundle *b, tsr_bundle_table t);

/* ------------------------------------------------------------ readers */

/* One column value of a row (borrowed, valid until the next tsr_bundle_next).
 * present is 0 when the table has no such column or (for optional columns)
 * the field is empty; then s = "", len = 0, t = 0, num = NAN. */
typedef struct tsr_value {
  const char *s;  /* trimmed text, NUL-terminated */
  size_t len;
  int64_t t;      /* TSR_COL_DATE: epoch seconds, UTC */
  double num;     /* TSR_COL_NUMBER / TSR_COL_FLAG; TSR_PE_EVENT: +1/-1 */
  int present;
} tsr_value;

typedef struct tsr_bundle_row {
  const tsr_value *v;  /* tsr_bundle_ncols(t) values, indexed by column */
  size_t n;
  int64_t line;        /* line of the record in the file */
} tsr_bundle_row;

typedef struct tsr_bundle_stats {
  int64_t bytes;
  int64_t rows_read;      /* data records */
  int64_t rows_accepted;  /* returned by tsr_bundle_next */
  int64_t rows_rejected;  /* passed to on_reject */
  int64_t min_time, max_time; /* of the table's main date column, accepted rows */
  uint64_t checksum;      /* of the bytes read so far */
} tsr_bundle_stats;

typedef struct tsr_bundle_reader tsr_bundle_reader;

/* Opens table t of file path ("-" = stdin). Reads the header, binds the
 * columns and detects the date formats (which may read the file once more
 * up to the first row that decides a day-first/month-first column).
 * Errors: TSR_EIO (cannot read), TSR_EPARSE (empty file, missing required
 * column, ambiguous or mixed date column: err names file, column and the
 * forms that fit), TSR_EINVAL (bad option). *out owned by the caller. */
TSR_API tsr_status tsr_bundle_reader_open(tsr_bundle_table t, const char *path,
                                  const tsr_bundle_opts *opts,
                                  tsr_bundle_reader **out, tsr_error *err);
/* Same over memory (borrowed: buf must outlive the reader). */
TSR_API tsr_status tsr_bundle_reader_open_mem(tsr_bundle_table t, const char *buf, size_t len,
                                      const char *name,
                                      const tsr_bundle_opts *opts,
                                      tsr_bundle_reader **out, tsr_error *err);
/* Opens the bundle's table t; TSR_ENOTFOUND when the bundle lacks it. */
TSR_API tsr_status tsr_bundle_open_table(const tsr_bundle *b, tsr_bundle_table t,
                                         const tsr_bundle_opts *opts,
                                         tsr_bundle_reader **out, tsr_error *err);
TSR_API void tsr_bundle_reader_close(tsr_bundle_reader *r);

/* Next accepted row. TSR_OK with *row; TSR_ENOTFOUND at the end; TSR_EMAXERR
 * after more than max_errors rejected rows; TSR_EIO / TSR_ENOMEM (fatal).
 * Rejected rows are reported through on_reject and skipped. */
TSR_API tsr_status tsr_bundle_next(tsr_bundle_reader *r, tsr_bundle_row *row,
                                  tsr_error *err);

/* fn(ud, rec) sees each data record that the CSV reader reads from now
 * on, before the checks of tsr_bundle_next (the rows it rejects too; not
 * a record the CSV reader itself could not read); rec is valid during the
 * call. Lets another reader with its own rules share the one pass over a
 * file (the profile step's anomalies). fn NULL: none. */
TSR_API void tsr_bundle_reader_on_csv(tsr_bundle_reader *r,
                                      void (*fn)(void *ud, const tsr_csv_record *rec),
                                      void *ud);

/* 1 when the file has column col (bound in the header). */
TSR_API int tsr_bundle_has(const tsr_bundle_reader *r, size_t col);
/* Header name bound to col (borrowed), or NULL. */
TSR_API const char *tsr_bundle_header(const tsr_bundle_reader *r, size_t col);
/* The date form used for date column col (TSR_DATEFMT_AUTO if none). */
TSR_API tsr_datefmt tsr_bundle_datefmt(const tsr_bundle_reader *r, size_t col);
TSR_API tsr_bundle_table tsr_bundle_reader_table(const tsr_bundle_reader *r);
TSR_API const char *tsr_bundle_reader_source(const tsr_bundle_reader *r);
TSR_API void tsr_bundle_reader_stats(const tsr_bundle_reader *r, tsr_bundle_stats *st);

/* Parses one date value in form f (fmt for TSR_DATEFMT_CUSTOM). TSR_OK,
 * TSR_EPARSE or TSR_ERANGE (outside 1900-01-01..2100-12-31; dates before
 * 1970, e.g. birth dates, give negative times; ISO values before 1970 are
 * accepted as dates without a time). */
TSR_API tsr_status tsr_date_parse_form(const char *s, size_t len, tsr_datefmt f,
                                       const char *fmt, int64_t *epoch_s);

/* ------------------------------------------------------------ simulation */

/* A simulated retail-bank bundle (lib/simulate/simulate_bundle.c; the
 * latent model and every latent file's columns are documented in
 * docs/simulate-bundle.md). Persons live in households, have one CRM record
 * (a few have two: moved, new e-mail, typo, missing phone), a life stage
 * that drives their product openings, transactions with injected anomalies,
 * interactions whose text carries a sentiment, and may be in a randomised
 * campaign with a heterogeneous treatment effect. Output depends only on the
 * options (one platform). */
typedef struct tsr_bundle_sim_opts {
  uint64_t customers;     /* persons, 1..TSR_SIMULATE_MAX_CUSTOMERS; default 1000 */
  uint64_t seed;          /* default 1 */
  int64_t start_day;      /* first day of the window (days since 1970-01-01);
                             default 19723 (2024-01-01) */
  int weeks;              /* window length, 1..520; default 104 */
  double tx_per_customer; /* mean transactions per person over the window if
                             it stayed active throughout, (0, 1000]; default 14
                             (about 10 on average after dropouts and joins) */
  double interactions_per_customer; /* mean interactions per person, [0, 100];
                             default 1 */
  double duplicate_rate;  /* share of persons with a duplicate CRM record,
                             [0, 0.5]; default 0.03 */
  double anomaly_rate;    /* share of transactions that are injected
                             anomalies, [0, 0.2]; default 0.005 */
  double campaign_share;  /* share of persons in the campaign, [0, 1];
                             default 0.2 */
  /* Progress (may be NULL): persons done, persons total. */
  void (*on_progress)(void *ud, uint64_t done, uint64_t total);
  void *ud;
} tsr_bundle_sim_opts;

TSR_API void tsr_bundle_sim_opts_init(tsr_bundle_sim_opts *o);
/* Checks every field; TSR_EINVAL names field, range and value. */
TSR_API tsr_status tsr_bundle_sim_check_opts(const tsr_bundle_sim_opts *o,
                                             tsr_error *err);

/* Counts of a simulated bundle. */
typedef struct tsr_bundle_sim_stats {
  uint64_t persons, households, customer_records, duplicates;
  uint64_t transactions, anomalies, interactions, product_events;
  uint64_t campaign_rows, offers;
} tsr_bundle_sim_stats;

/* Writes transactions.csv, customers.csv, products_events.csv,
 * interactions.csv, campaign.csv and offers.csv into dir (created), and the
 * latent truth (persons.csv, records.csv, anomalies.csv, sentiment.csv,
 * campaign_truth.csv) into latent_dir when non-NULL (created). stats may be
 * NULL. TSR_EINVAL (bad options), TSR_EIO (cannot create or write a file:
 * err names it), TSR_ENOMEM. */
TSR_API tsr_status tsr_bundle_simulate(const tsr_bundle_sim_opts *o,
                                       const char *dir, const char *latent_dir,
                                       tsr_bundle_sim_stats *stats,
                                       tsr_error *err);

#ifdef __cplusplus
}
#endif
#endif
