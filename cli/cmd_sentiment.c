/*
 * cmd_sentiment.c - `tessera sentiment`: lexicon sentiment of service
 * interactions, topics per customer (see docs/cli/sentiment.md and
 * docs/sentiment.md).
 */
#include <ctype.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tessera/sentiment.h"

#define CMD "sentiment"

static void norm(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n && o + 1 < cap; i++)
    if (isalnum((unsigned char)s[i])) out[o++] = (char)tolower((unsigned char)s[i]);
  out[o] = '\0';
}

static ptrdiff_t find_col(const tsr_csv_record *h, const char *const *names) {
  for (; *names; names++)
    for (size_t k = 0; k < h->nfields; k++) {
      char b[64];
      norm(h->fields[k].ptr, h->fields[k].len, b, sizeof b);
      if (!strcmp(b, *names)) return (ptrdiff_t)k;
    }
  return -1;
}

typedef struct topic_row {
  char *customer, *topic;
  double score;
} topic_row;

static int cmp_topic(const void *a, const void *b) {
  const topic_row *x = a, *y = b;
  int c = strcmp(x->customer, y->customer);
  return c ? c : strcmp(x->topic, y->topic);
}

static int write_topics(topic_row *t, size_t n, const char *path) {
  FILE *f = cli_open_out(path);
  if (!f) return TSR_EXIT_FAIL;
  if (n) qsort(t, n, sizeof *t, cmp_topic);
  fputs("customer_id,topic,count,mean_score\n", f);
  for (size_t a = 0; a < n;) {
    size_t b = a;
    double s = 0;
    while (b < n && !cmp_topic(&t[a], &t[b])) s += t[b++].score;
    tsr_csv_put_field(f, t[a].customer);
    fputc(',', f);
    tsr_csv_put_field(f, t[a].topic);
    fprintf(f, ",%zu,%.4f\n", b - a, s / (double)(b - a));
    a = b;
  }
  return cli_close_out(f, path) ? TSR_EXIT_FAIL : TSR_EXIT_OK;
}

int tsr_cmd_sentiment(int argc, char **argv) {
  enum { OPT_TOPICS = 256, OPT_THR, OPT_MAXERR };
  static const struct option longopts[] = {{"output", required_argument, NULL, 'o'},
                                           {"topics-out", required_argument, NULL, OPT_TOPICS},
                                           {"threshold", required_argument, NULL, OPT_THR},
                                           {"max-errors", required_argument, NULL, OPT_MAXERR},
                                           {NULL, 0, NULL, 0}};
  const char *out_path = NULL, *topics_path = NULL;
  double thr = 0.05;
  long max_errors = -1;
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":o:", longopts, NULL)) != -1) {
    switch (c) {
      case 'o': out_path = optarg; break;
      case OPT_TOPICS: topics_path = optarg; break;
      case OPT_THR:
        if (cli_parse_double(CMD, "--threshold", optarg, 0, 0.99, &thr)) return TSR_EXIT_USAGE;
        break;
      case OPT_MAXERR:
        if (cli_parse_long(CMD, "--max-errors", optarg, 0, 1000000000L, &max_errors)) return TSR_EXIT_USAGE;
        break;
      case ':': return cli_usage(CMD, "%s: missing value", argv[optind - 1]);
      default: return cli_usage(CMD, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind >= argc) return cli_usage(CMD, "expected an interactions file (interactions.csv)");
  if (optind + 1 < argc) return cli_usage(CMD, "unexpected argument '%s'", argv[optind + 1]);
  const char *in_path = argv[optind];
  if (out_path && topics_path && !strcmp(out_path, topics_path) && strcmp(out_path, "-"))
    return cli_usage(CMD, "-o and --topics-out name the same file '%s'", out_path);

  static const char *const n_id[] = {"interactionid", "id", NULL};
  static const char *const n_cust[] = {"customerid", "customer", "clientid", NULL};
  static const char *const n_msg[] = {"message", "text", "body", "note", "comment", NULL};
  static const char *const n_topic[] = {"topic", "subject", "category", NULL};
  tsr_error err;
  tsr_error_clear(&err);
  tsr_csv *csv = NULL;
  tsr_status st = tsr_csv_open(in_path, NULL, &csv, &err);
  if (st) return cli_fail(st, &err);
  int rc = TSR_EXIT_OK;
  FILE *f = NULL;
  topic_row *topics = NULL;
  size_t ntop = 0, captop = 0;
  tsr_csv_record rec;
  st = tsr_csv_next(csv, &rec, &err);
  if (st == TSR_ENOTFOUND) {
    tsr_error_set(&err, TSR_EPARSE, tsr_csv_name(csv), 1, 1, NULL, "expected a header line, got an empty file");
    rc = cli_fail(TSR_EPARSE, &err);
    goto done;
  }
  if (st) {
    rc = cli_fail(st, &err);
    goto done;
  }
  ptrdiff_t cid = find_col(&rec, n_id), ccu = find_col(&rec, n_cust), cmsg = find_col(&rec, n_msg),
            ctop = find_col(&rec, n_topic);
  size_t nhdr = rec.nfields;
  if (ccu < 0 || cmsg < 0) {
    tsr_error_set(&err, TSR_EPARSE, tsr_csv_name(csv), 1, 1, ccu < 0 ? "customer_id" : "message",
                  "expected a %s column in the header", ccu < 0 ? "customer_id" : "message");
    rc = cli_fail(TSR_EPARSE, &err);
    goto done;
  }
  f = cli_open_out(out_path);
  if (!f) {
    rc = TSR_EXIT_FAIL;
    goto done;
  }
  fputs("interaction_id,customer_id,score,label\n", f);
  long nrej = 0, nrows = 0, counts[3] = {0, 0, 0};
  for (;;) {
    st = tsr_csv_next(csv, &rec, &err);
    if (st == TSR_ENOTFOUND) break;
    if (st == TSR_EIO) {
      rc = cli_fail(st, &err);
      goto done;
    }
    if (!st && rec.nfields != nhdr)
      st = tsr_error_set(&err, TSR_EPARSE, tsr_csv_name(csv), rec.line, 1, NULL,
                         "expected %zu fields as in the header, got %zu", nhdr, rec.nfields);
    else if (!st && rec.fields[ccu].len == 0)
      st = tsr_error_set(&err, TSR_EPARSE, tsr_csv_name(csv), rec.fields[ccu].line,
                         rec.fields[ccu].column, "customer_id", "expected a customer id, got an empty field");
    if (st) {
      /* the message text may hold personal data: the error names the position only */
      if (nrej++ < 10) {
        char buf[1024];
        fprintf(stderr, "tessera: %s\n", tsr_error_format(&err, buf, sizeof buf));
      }
      if (max_errors >= 0 && nrej > max_errors) {
        cli_msg("%s: more than %ld rows rejected", in_path, max_errors);
        rc = TSR_EXIT_MAXERR;
        goto done;
      }
      continue;
    }
    nrows++;
    tsr_sentiment_result res;
    tsr_sentiment_score(rec.fields[cmsg].ptr, rec.fields[cmsg].len, &res);
    tsr_sentiment_label lab = tsr_sentiment_classify(res.compound, thr);
    counts[lab + 1]++;
    char line[32];
    if (cid >= 0 && rec.fields[cid].len) tsr_csv_put_field(f, rec.fields[cid].ptr);
    else {
      snprintf(line, sizeof line, "L%lld", (long long)rec.line);
      fputs(line, f);
    }
    fputc(',', f);
    tsr_csv_put_field(f, rec.fields[ccu].ptr);
    fprintf(f, ",%.4f,%s\n", res.compound, tsr_sentiment_label_name(lab));
    if (topics_path) {
      if (ntop == captop) {
        captop = captop ? captop * 2 : 1024;
        topic_row *t = realloc(topics, captop * sizeof *t);
        if (!t) {
          rc = cli_fail(TSR_ENOMEM, NULL);
          goto done;
        }
        topics = t;
      }
      const char *tp = ctop >= 0 && rec.fields[ctop].len ? rec.fields[ctop].ptr : "(none)";
      topics[ntop].customer = strdup(rec.fields[ccu].ptr);
      topics[ntop].topic = strdup(tp);
      topics[ntop].score = res.compound;
      if (!topics[ntop].customer || !topics[ntop].topic) {
        free(topics[ntop].customer);
        free(topics[ntop].topic);
        rc = cli_fail(TSR_ENOMEM, NULL);
        goto done;
      }
      ntop++;
    }
  }
  if (cli_close_out(f, out_path)) rc = TSR_EXIT_FAIL;
  f = NULL;
  if (!rc && topics_path) rc = write_topics(topics, ntop, topics_path);
  if (nrej) cli_msg("%s: %ld rows rejected%s", in_path, nrej, nrej > 10 ? " (10 shown)" : "");
  cli_msg("sentiment: %ld interactions: %ld negative, %ld neutral, %ld positive", nrows, counts[0],
          counts[1], counts[2]);
done:
  if (f) cli_close_out(f, out_path);
  for (size_t i = 0; i < ntop; i++) free(topics[i].customer), free(topics[i].topic);
  free(topics);
  tsr_csv_close(csv);
  return rc;
}
