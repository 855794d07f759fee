/*
 * cluster_io.h - input/output shared by `tessera cluster` and
 * `tessera assign`: the customer table as named numeric columns, and the
 * customer_id,cluster[,probability] output.
 */
#ifndef TESSERA_CLI_CLUSTER_IO_H
#define TESSERA_CLI_CLUSTER_IO_H

#include <stddef.h>

#include "cli.h"
#include "tessera/cluster.h"

typedef struct cluster_input {
  tsr_table *t;
  size_t n, ncols;        /* numeric columns kept */
  const char **names;     /* borrowed from t */
  double **cols;          /* owned */
  size_t *tcol;           /* table column of each kept column */
  const char **segments;  /* n cells of the segment column or NULL */
  ptrdiff_t id_col;
} cluster_input;

/* Reads path; converts the `need` columns strictly (a bad cell is an error
 * naming file:line:column) and the optional profile columns leniently (a
 * cell that is not a number becomes NAN). Prints the error; returns an exit
 * code (TSR_EXIT_OK on success). */
int cluster_input_read(const char *cmd, const char *path, const char *id_col,
                       const char *segment_col, const char *const *need,
                       size_t nneed, cluster_input *in);
void cluster_input_release(cluster_input *in);
/* Maps a library error whose line is a 1-based data row to file:line:col of
 * the table and prints it. Returns the exit code. */
int cluster_fail(const cluster_input *in, tsr_status st, tsr_error *err);
/* Writes id,cluster[,probability]. Returns an exit code. */
int cluster_write_labels(const cluster_input *in, const char *path,
                         const char *id_name, const int *labels,
                         const double *prob);
/* Splits "a,b,c" into a NULL-terminated array of at most max names
 * (strings point into the modified copy *buf). Returns the count or -1. */
int cluster_split_names(const char *s, char **buf, const char **names,
                        size_t max);

#endif
