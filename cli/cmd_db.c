/*
 * cmd_db.c - `tessera db migrate|info`: database maintenance. migrate creates
 * the database if needed and applies pending schema migrations; info shows
 * the back end, schema version, journal mode, size and row counts.
 * Help: docs/cli/db.md.
 */
#include <getopt.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "tessera/store.h"

static int db_migrate(const char *url) {
  char shown[1024];
  tsr_store_url_display(url, shown, sizeof shown);
  tsr_store *s = NULL;
  tsr_error err;
  tsr_error_clear(&err);
  tsr_status st = tsr_store_open(url, TSR_STORE_CREATE | TSR_STORE_NO_MIGRATE, &s, &err);
  if (st != TSR_OK) return cli_fail(st, &err);
  int before = 0, after = 0;
  st = tsr_store_schema_version(s, &before, &err);
  if (st == TSR_OK) st = tsr_store_migrate(s, &after, &err);
  tsr_store_close(s);
  if (st != TSR_OK) return cli_fail(st, &err);
  if (before == after)
    printf("%s: schema version %d (up to date)\n", shown, after);
  else
    printf("%s: schema version %d (migrated from %d)\n", shown, after, before);
  return cli_close_out(stdout, "-") ? TSR_EXIT_FAIL : TSR_EXIT_OK;
}

static int db_info(const char *real_url, int fmt_set, cli_format fmt) {
  char url[1024];
  tsr_store_url_display(real_url, url, sizeof url);
  tsr_store *s = NULL;
  tsr_error err;
  tsr_error_clear(&err);
  tsr_status st = tsr_store_open(real_url, TSR_STORE_NO_MIGRATE, &s, &err);
  if (st != TSR_OK) return cli_fail(st, &err);
  tsr_store_stats t;
  st = tsr_store_stats_get(s, &t, &err);
  tsr_store_close(s);
  if (st != TSR_OK) return cli_fail(st, &err);
  struct {
    const char *key;
    long long v;
  } nums[] = {{"schema_version", t.schema_version},
              {"schema_latest", t.schema_latest},
              {"size_bytes", (long long)t.size_bytes},
              {"datasets", (long long)t.datasets},
              {"rejects", (long long)t.rejects},
              {"runs", (long long)t.runs},
              {"customers", (long long)t.customers},
              {"segments", (long long)t.segments},
              {"models", (long long)t.models},
              {"events", (long long)t.events}};
  size_t nn = sizeof nums / sizeof nums[0];
  if (fmt_set && fmt == CLI_FMT_JSON) {
    json_t *j = json_object();
    if (!j) return TSR_EXIT_FAIL;
    json_object_set_new(j, "database", json_string(url));
    json_object_set_new(j, "backend", json_string(t.backend));
    json_object_set_new(j, "journal_mode", json_string(t.journal_mode));
    for (size_t i = 0; i < nn; i++) json_object_set_new(j, nums[i].key, json_integer(nums[i].v));
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(j);
  } else {
    const char *sep = fmt_set ? "," : ": ";
    if (fmt_set) printf("key,value\n");
    if (fmt_set && strpbrk(url, ",\"\r\n")) {
      printf("database,\"");
      for (const char *p = url; *p; p++) printf(*p == '"' ? "\"\"" : "%c", *p);
      printf("\"\n");
    } else {
      printf("database%s%s\n", sep, url);
    }
    printf("backend%s%s\n", sep, t.backend);
    printf("journal_mode%s%s\n", sep, t.journal_mode);
    for (size_t i = 0; i < nn; i++) printf("%s%s%lld\n", nums[i].key, sep, nums[i].v);
  }
  if (t.schema_version < t.schema_latest)
    cli_msg("%s: %d migration(s) pending; run 'tessera db migrate'", url,
            t.schema_latest - t.schema_version);
  return cli_close_out(stdout, "-") ? TSR_EXIT_FAIL : TSR_EXIT_OK;
}

int tsr_cmd_db(int argc, char **argv) {
  enum { OPT_DB = 256, OPT_FORMAT };
  static const struct option longopts[] = {{"db", required_argument, NULL, OPT_DB},
                                           {"format", required_argument, NULL, OPT_FORMAT},
                                           {NULL, 0, NULL, 0}};
  const char *db = NULL;
  cli_format fmt = CLI_FMT_CSV;
  int fmt_set = 0;
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
    switch (c) {
      case OPT_DB:
        db = optarg;
        break;
      case OPT_FORMAT:
        if (cli_parse_format("db", optarg, &fmt)) return TSR_EXIT_USAGE;
        fmt_set = 1;
        break;
      case ':':
        return cli_usage("db", "%s: missing value", argv[optind - 1]);
      default:
        return cli_usage("db", "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind >= argc) return cli_usage("db", "expected a subcommand: migrate or info");
  const char *sub = argv[optind];
  if (optind + 1 < argc) return cli_usage("db", "unexpected argument '%s'", argv[optind + 1]);
  const char *url = tsr_store_default_url(db);
  if (!strcmp(sub, "migrate")) {
    if (fmt_set) return cli_usage("db", "--format: only for 'db info'");
    return db_migrate(url);
  }
  if (!strcmp(sub, "info")) return db_info(url, fmt_set, fmt);
  return cli_usage("db", "unknown subcommand '%s' (expected migrate or info)", sub);
}
