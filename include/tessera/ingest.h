/*
 * tessera/ingest.h - reading transaction logs into a ledger.
 *
 * A ledger holds, per customer, one entry per active day (purchases and
 * refunds of that day summed). Its memory grows with customers and their
 * active days, never with the file: a transaction log is streamed once.
 * Several files may be ingested into one ledger (old + new data); with a
 * transaction id column, rows repeated across files are dropped.
 *
 * Identical rows (no id column) are found by a 64-bit hash of their trimmed
 * fields kept per customer-day: exact up to hash collisions (about 2^-64 per
 * pair of rows of one customer and day). A day's amounts are summed in file
 * order.
 *
 * Bad rows are never fatal and never silently dropped: each is passed to the
 * on_reject callback with file, line, column, field and reason, and counted.
 * With max_errors >= 0, ingestion stops with TSR_EMAXERR when more rows than
 * that were rejected.
 */
#ifndef TESSERA_INGEST_H
#define TESSERA_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "tessera/csv.h"
#include "tessera/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TSR_INGEST_MAX_ID 256 /* bytes of a customer or transaction id */

typedef enum tsr_dedupe {
  TSR_DEDUPE_NONE = 0, /* identical rows are kept (and counted as a warning) */
  TSR_DEDUPE_EXACT = 1 /* identical rows after the first are dropped */
} tsr_dedupe;

typedef enum tsr_refunds {
  TSR_REFUNDS_EXCLUDE = 0, /* negative amounts are kept out of spend */
  TSR_REFUNDS_NET = 1      /* refunds are subtracted from spend */
} tsr_refunds;

/* A rejected row, passed to on_reject (all pointers borrowed for the call). */
typedef struct tsr_reject {
  tsr_status code;    /* TSR_EPARSE, TSR_ERANGE, TSR_ELIMIT */
  const char *source; /* file name */
  int64_t line;
  int64_t column;
  const char *field;  /* column name ("" for record-level problems) */
  const char *reason; /* "expected a number, got '12,50'" */
  const char *raw;    /* the raw record (first line for multi-line errors) */
  size_t raw_len;
} tsr_reject;

typedef struct tsr_ingest_opts {
  tsr_csv_opts csv;         /* delimiter and limits */
  int header;               /* 1: first line names the columns (default);
                               0: no header, columns by 1-based number */
  const char *customer_col; /* name or 1-based number; NULL = auto */
  const char *date_col;     /* name or number; NULL = auto */
  const char *amount_col;   /* name or number; NULL = auto; "" = none */
  const char *id_col;       /* transaction id; NULL = none */
  const char *date_format;  /* strptime-style extra format, or NULL */
  tsr_dedupe dedupe;
  int64_t max_errors;       /* -1 = unlimited (default) */
  /* Optional callbacks (may be NULL); ud is passed back. */
  void (*on_reject)(void *ud, const tsr_reject *r);
  void (*on_progress)(void *ud, int64_t bytes_done, int64_t bytes_total,
                      int64_t rows);
  void *ud;
  int threads;              /* 0 or 1: one thread (default); 2 or more: rows
                               are parsed and applied to the ledger by two
                               threads working concurrently (inputs under
                               256 KiB use one). Results, rejects and their
                               order are identical; callbacks are always
                               called from the calling thread. */
  int decimal_comma;        /* 1: amounts use ',' as the decimal mark and '.'
                               as thousands separator ("1.234,56"); default 0 */
  double max_amount;        /* amounts with |amount| above it are rejected as
                               implausible; 0 = TSR_INGEST_MAX_AMOUNT */
  int single_input;         /* 1: this is the ledger's only input (set by the
                               caller that knows it; default 0). With a
                               transaction id column the ledger then keeps
                               no per-day row hashes (a fifth less memory):
                               rows of a further input would not be compared
                               with this input's for identical rows. While
                               the ids come in order nothing of a row is
                               kept for them (an id out of order has a file
                               or buffer read again up to it), so a further
                               input with transaction ids is refused
                               (TSR_EINVAL) when every id of this one came
                               in order */
} tsr_ingest_opts;

/* Default largest plausible |amount| of one transaction (1e12). */
#define TSR_INGEST_MAX_AMOUNT 1e12

/* Sets the defaults above. */
TSR_API void tsr_ingest_opts_init(tsr_ingest_opts *o);

typedef struct tsr_ingest_stats {
  int64_t bytes;            /* bytes of the input */
  int64_t rows_read;        /* data records (header excluded) */
  int64_t rows_accepted;    /* rows that entered the ledger */
  int64_t rows_rejected;    /* rows passed to on_reject */
  int64_t duplicate_ids;    /* rows dropped: same id, identical content */
  int64_t identical_rows;   /* rows identical to an earlier row (no id col) */
  int64_t identical_dropped;/* of those, dropped by TSR_DEDUPE_EXACT */
  int64_t refunds;          /* rows with a negative amount */
  double refund_amount;     /* their sum (<= 0) */
  int64_t min_time, max_time; /* epoch seconds of accepted rows */
  uint64_t checksum;        /* of the input bytes (0 with csv.no_checksum) */
  char customer_col[64], date_col[64], amount_col[64], id_col[64]; /* resolved names */
  int columns_by_rule;      /* 1: a headerless file's columns were taken by
                               the rule customer 1, date 2, amount 3 (the
                               caller warns) */
  /* The currency column, watched while the rows are parsed (the caller
   * decides what a code, several codes or a bad value mean): the first
   * column of the first record named currency, ccy, currencycode or
   * currency_code (any case, as it stands); its value in every later
   * record the CSV reader parsed and that has the column (rows rejected
   * for other reasons too), blanks and tabs (and a final CR) trimmed,
   * empty values skipped, letters upper-cased. Watching ends at the first
   * value that is a second code or not a code: at most one of
   * currency_other and currency_bad_line is set. The first record is the
   * header even with header 0 (then it is not watched). */
  char currency_col[64];    /* its name in the first record; "" = none */
  char currency[4];         /* the first code (three letters A-Z); "" = none */
  char currency_other[4];   /* a code other than currency, after it; "" = none */
  int64_t currency_bad_line;   /* line (and column) of the first value that
                                  is not a three-letter code; 0 = none */
  int64_t currency_bad_column;
} tsr_ingest_stats;

/* One active day of a customer. */
typedef struct tsr_ledger_entry {
  int32_t day;       /* days since 1970-01-01 (UTC) */
  uint32_t ntx;      /* purchase rows (amount >= 0) */
  uint32_t nrefund;  /* refund rows (amount < 0) */
  double amount;     /* sum of purchase amounts */
  double refund;     /* sum of refund amounts (<= 0) */
} tsr_ledger_entry;

typedef struct tsr_ledger tsr_ledger;

TSR_API tsr_status tsr_ledger_new(tsr_ledger **out, tsr_error *err);
TSR_API void tsr_ledger_free(tsr_ledger *lg);

/* Streams path ("-" = stdin) into the ledger. stats (may be NULL) receives
 * this file's counts. Returns TSR_OK also when rows were rejected; TSR_EIO
 * when the file cannot be read; TSR_EPARSE when the header lacks a required
 * column (err names it); TSR_EMAXERR when max_errors was exceeded;
 * TSR_EINVAL for bad options. After an error the ledger keeps the rows
 * accepted so far. */
TSR_API tsr_status tsr_ingest_file(tsr_ledger *lg, const char *path,
                                   const tsr_ingest_opts *opts,
                                   tsr_ingest_stats *stats, tsr_error *err);
/* Same from memory (name used in messages). */
TSR_API tsr_status tsr_ingest_mem(tsr_ledger *lg, const char *buf, size_t len,
                                  const char *name, const tsr_ingest_opts *opts,
                                  tsr_ingest_stats *stats, tsr_error *err);

/* Sorts every customer's entries by day (merging equal days) and the
 * customers by id (digit-only ids numerically, others bytewise). Call once
 * after ingesting and before reading entries; idempotent. */
TSR_API tsr_status tsr_ledger_finish(tsr_ledger *lg, tsr_error *err);
/* Frees what the ledger keeps only to recognise later rows (the
 * transaction ids seen, the content hashes of identical rows) and trims
 * each customer's entry storage to its used size: call it when nothing
 * more will be ingested into lg (finished or not; the entries, ids and
 * tsr_ledger_find are unchanged; pointers from tsr_ledger_entries taken
 * before it are not). A later tsr_ingest_file or
 * tsr_ingest_mem into lg fails with TSR_EINVAL. Idempotent. */
TSR_API void tsr_ledger_seal(tsr_ledger *lg);
/* tsr_ledger_finish, then tsr_ledger_seal: the same ledger and status as
 * the two calls; with threads >= 2 (and many customers) the seal's
 * packing runs in a second thread while the customers are sorted. For a
 * ledger that is neither finished nor sealed yet (else the two calls). */
TSR_API tsr_status tsr_ledger_finish_seal(tsr_ledger *lg, int threads, tsr_error *err);

TSR_API size_t tsr_ledger_ncustomers(const tsr_ledger *lg);
/* Customer id (borrowed, NUL-terminated). i in finish order. */
TSR_API const char *tsr_ledger_customer(const tsr_ledger *lg, size_t i);
/* Entries of customer i, sorted by day after tsr_ledger_finish (borrowed).
 * The ledger keeps its entries in a smaller form of its own: the first
 * call decodes all of them into a copy the ledger owns (32 bytes an entry
 * more; safe when several threads call it at once), which serves every
 * later call until the ledger changes (an ingest into it, tsr_ledger_free;
 * pointers taken before are then invalid). NULL with *n = 0 when i is out
 * of range, the customer has no entry, or the copy cannot be allocated. */
TSR_API const tsr_ledger_entry *tsr_ledger_entries(const tsr_ledger *lg,
                                                   size_t i, size_t *n);
/* Index of a customer id, or -1. */
TSR_API ptrdiff_t tsr_ledger_find(const tsr_ledger *lg, const char *id);

/* Parses an amount: optional sign or parentheses, currency symbol ($, €, £,
 * ¥, ₹) or ISO code (USD...) before or after, thousands separators ',' in
 * groups of three, '.' decimal point, exponent. TSR_EPARSE if not a number,
 * TSR_ERANGE if not finite. */
TSR_API tsr_status tsr_amount_parse(const char *s, size_t len, double *out);

#ifdef __cplusplus
}
#endif
#endif
