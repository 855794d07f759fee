/*
 * tessera/csv.h - streaming RFC 4180 CSV reader.
 *
 * Reads records one at a time from a file, stdin or memory, in bounded
 * memory (the largest record, at most max_record bytes). Handles quotes,
 * doubled quotes, embedded newlines, CRLF/LF/CR line ends, a UTF-8 BOM, any
 * single-byte delimiter and "runs of whitespace" (delim = TSR_CSV_WS).
 * A malformed record (unterminated quote, text after a closing quote, a
 * record over the size limit) is reported with its line and column and
 * skipped; reading goes on with the next record.
 */
#ifndef TESSERA_CSV_H
#define TESSERA_CSV_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "tessera/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* delim value meaning "one or more spaces or tabs" (leading ones ignored). */
#define TSR_CSV_WS 0

#define TSR_CSV_DEFAULT_MAX_FIELD ((size_t)1 << 16)   /* 64 KiB per field */
#define TSR_CSV_DEFAULT_MAX_FIELDS ((size_t)4096)     /* fields per record */

typedef struct tsr_csv_opts {
  int delim;          /* ',' (default), '\t', ';', '|', or TSR_CSV_WS */
  size_t max_field;   /* bytes per field; 0 = TSR_CSV_DEFAULT_MAX_FIELD */
  size_t max_fields;  /* fields per record; 0 = TSR_CSV_DEFAULT_MAX_FIELDS */
  int no_checksum;    /* 1: the input is not hashed and tsr_csv_checksum
                         returns 0 (callers that never store or compare the
                         input, e.g. `tessera summary`); default 0 */
} tsr_csv_opts;

/* Sets the defaults above. */
TSR_API void tsr_csv_opts_init(tsr_csv_opts *o);

typedef struct tsr_csv_field {
  const char *ptr;   /* unquoted content, NUL-terminated; borrowed, valid until
                        the next tsr_csv_next() */
  size_t len;        /* bytes (may contain NUL bytes from the input) */
  int64_t line;      /* 1-based line where the field starts */
  int64_t column;    /* 1-based byte column where the field starts */
  int quoted;        /* 1 when the field was quoted */
} tsr_csv_field;

typedef struct tsr_csv_record {
  const tsr_csv_field *fields; /* borrowed, valid until the next call */
  size_t nfields;
  int64_t line;                /* line of the first byte of the record */
  int64_t end_line;            /* line of the last byte (embedded newlines) */
  const char *raw;             /* raw bytes of the record without the line end */
  size_t raw_len;
  int64_t offset;              /* byte offset of the record in the input */
} tsr_csv_record;

typedef struct tsr_csv tsr_csv;

/* Opens path ("-" = stdin) for reading. *out is owned by the caller
 * (tsr_csv_close). name is used in error reports (NULL = path). */
TSR_API tsr_status tsr_csv_open(const char *path, const tsr_csv_opts *opts,
                                tsr_csv **out, tsr_error *err);
/* Reads from memory (borrowed: buf must outlive the reader). */
TSR_API tsr_status tsr_csv_open_mem(const char *buf, size_t len,
                                    const char *name, const tsr_csv_opts *opts,
                                    tsr_csv **out, tsr_error *err);
TSR_API void tsr_csv_close(tsr_csv *c);

/* Reads the next record into *rec.
 * Returns TSR_OK with a record; TSR_ENOTFOUND at end of input (rec empty);
 * TSR_EPARSE or TSR_ELIMIT for a malformed record: err names line and
 * column, rec->raw/line describe the bad record, and the next call goes on
 * after it; TSR_EIO on a read error (fatal). Blank lines are skipped. */
TSR_API tsr_status tsr_csv_next(tsr_csv *c, tsr_csv_record *rec,
                                tsr_error *err);

/* Bytes consumed so far (for progress) and total size when known (else -1). */
TSR_API int64_t tsr_csv_bytes_read(const tsr_csv *c);
TSR_API int64_t tsr_csv_size(const tsr_csv *c);
/* 64-bit checksum of the bytes read so far (of the whole input at end);
 * 0 when opened with no_checksum. */
TSR_API uint64_t tsr_csv_checksum(const tsr_csv *c);
/* The name used in error reports. */
TSR_API const char *tsr_csv_name(const tsr_csv *c);

/* The one column resolver (ingestion, the API, the web jobs): the 0-based
 * index of the column spec names in the header hdr: a name matched without
 * case, spaces or punctuation ("Customer ID" = "customer_id"), a name of
 * punctuation only byte for byte, or a 1-based number up to the number of
 * fields (hdr's, or nfields for a file without header, hdr NULL). -1 when
 * no column matches, -2 when two names match (*second = the second one's
 * index, may be NULL). */
TSR_API ptrdiff_t tsr_csv_column_find(const tsr_csv_record *hdr, size_t nfields, const char *spec,
                                      size_t *second);

/* ---- writing (one CSV field writer and one number form for every output) */

/* Room tsr_format_double needs. */
#define TSR_DOUBLE_BUF 32
/* The shortest of "%.15g", "%.16g", "%.17g" that reads back as exactly d
 * (so 0.1 prints "0.1", 1e20 "1e+20"); the form of every number in the CSV
 * and JSON outputs. buf holds TSR_DOUBLE_BUF bytes; returns buf. */
TSR_API char *tsr_format_double(double d, char *buf);

/* s as one RFC 4180 field: quoted when it holds a comma, a double quote, CR
 * or LF, with inner quotes doubled; NULL = empty. tsr_csv_quote writes into
 * out (room for 2 * strlen(s) + 3 bytes, no NUL) and returns the bytes
 * written; tsr_csv_put_field writes to f. With TSR_CSV_FORMULA_GUARD a
 * field starting with = + - @ TAB or CR (a spreadsheet formula) is quoted
 * and starts with ' (downloads opened in spreadsheets). */
#define TSR_CSV_FORMULA_GUARD 1u
TSR_API size_t tsr_csv_quote(char *out, const char *s, unsigned flags);
TSR_API void tsr_csv_put_field(FILE *f, const char *s);

#ifdef __cplusplus
}
#endif
#endif
