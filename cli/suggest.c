/*
 * suggest.c - "did you mean" for misspelled commands and options: the
 * closest candidate by edit distance (Levenshtein, with adjacent
 * transpositions), and a getopt_long wrapper that prints it for an
 * unknown long option (cli.h maps getopt_long to it in every command).
 */
#define CLI_NO_GETOPT_WRAP
#include "cli.h"

#include <stdlib.h>
#include <string.h>

/* Edit distance of a[0..la) and b[0..lb) (optimal string alignment). */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb) {
  if (la > 64 || lb > 64) return (size_t)-1;
  size_t d[65][65];
  for (size_t i = 0; i <= la; i++) d[i][0] = i;
  for (size_t j = 0; j <= lb; j++) d[0][j] = j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      size_t c = a[i - 1] == b[j - 1] ? 0 : 1, v = d[i - 1][j - 1] + c;
      if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
        v = d[i - 2][j - 2] + 1;
      d[i][j] = v;
    }
  return d[la][lb];
}

const char *cli_closest(const char *word, size_t len, const char *const *cands, size_t n) {
  const char *best = NULL;
  size_t bd = (size_t)-1;
  for (size_t i = 0; i < n; i++) {
    if (!cands[i]) continue;
    size_t dd = edit_distance(word, len, cands[i], strlen(cands[i]));
    /* a prefix typed in full also counts ("--calib" for --calibration-end) */
    if (len >= 3 && !strncmp(cands[i], word, len)) dd = 1;
    if (dd < bd) bd = dd, best = cands[i];
  }
  size_t lim = len / 3 > 2 ? len / 3 : 2;
  return bd <= lim ? best : NULL;
}

int cli_getopt_long(int argc, char *const argv[], const char *shortopts,
                    const struct option *longopts, int *longind) {
  int r = getopt_long(argc, argv, shortopts, longopts, longind);
  if (r != '?' || optind < 1 || optind > argc) return r;
  const char *arg = argv[optind - 1];
  if (!arg || strncmp(arg, "--", 2) || !arg[2]) return r;
  const char *name = arg + 2, *eq = strchr(name, '=');
  size_t len = eq ? (size_t)(eq - name) : strlen(name);
  size_t n = 0;
  while (longopts[n].name) n++;
  const char **names = malloc((n ? n : 1) * sizeof *names);
  if (!names) return r;
  for (size_t i = 0; i < n; i++) {
    names[i] = longopts[i].name;
    if (strlen(names[i]) == len && !strncmp(names[i], name, len)) {
      free(names); /* a known option (bad or missing argument) */
      return r;
    }
  }
  const char *best = cli_closest(name, len, names, n);
  if (best) fprintf(stderr, "tessera: unknown option '--%.*s'; did you mean '--%s'?\n", (int)len, name, best);
  free(names);
  return r;
}
