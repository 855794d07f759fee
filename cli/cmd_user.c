/*
 * cmd_user.c - `tessera user`: web accounts in the store (docs/cli/user.md).
 *   user add NAME --role admin|analyst|viewer   password from stdin
 *   user passwd NAME                            new password from stdin
 *   user list | user del NAME | user token NAME (prints a new API token once)
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"
#include "server.h"
#include "tessera/store_web.h"

enum { OPT_DB = 1, OPT_ROLE };

/* Reads the password: the first line of stdin, without its line end. */
static int read_password(char *buf, size_t cap) {
  if (!fgets(buf, (int)cap, stdin)) {
    cli_msg("user: expected the password on standard input");
    return -1;
  }
  size_t n = strlen(buf);
  if (n == cap - 1 && buf[n - 1] != '\n') {
    cli_msg("user: the password is longer than %zu bytes", cap - 2);
    return -1;
  }
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = '\0';
  if (n < 8) {
    cli_msg("user: the password must have at least 8 characters");
    return -1;
  }
  return 0;
}

static int list_cb(void *ctx, const tsr_web_user *u) {
  (void)ctx;
  char b[40];
  printf("%s,%s,%s\n", u->name, u->role, tsr_store_time_format(u->created_at, b, sizeof b));
  return 0;
}

/* A new password ends the account's web sessions (a running server stops
 * accepting them within its few seconds of login cache). */
static tsr_status end_sessions(tsr_store *s, const char *name, tsr_error *err) {
  tsr_web_user *u = NULL;
  tsr_status st = tsr_web_user_get(s, 0, name, &u, err);
  if (st == TSR_OK) st = tsr_web_sessions_del(s, u->id, NULL, NULL, err);
  tsr_store_free(u);
  return st;
}

int tsr_cmd_user(int argc, char **argv) {
  static const struct option longopts[] = {{"db", required_argument, NULL, OPT_DB},
                                           {"role", required_argument, NULL, OPT_ROLE},
                                           {NULL, 0, NULL, 0}};
  const char *db = NULL, *role = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
      case OPT_DB: db = optarg; break;
      case OPT_ROLE:
        if (strcmp(optarg, "admin") && strcmp(optarg, "analyst") && strcmp(optarg, "viewer"))
          return cli_usage("user", "--role: expected admin, analyst or viewer, got '%s'", optarg);
        role = optarg;
        break;
      default: return cli_usage("user", "unknown option");
    }
  }
  if (optind >= argc) return cli_usage("user", "expected add, passwd, list, del or token");
  const char *sub = argv[optind++];
  const char *name = optind < argc ? argv[optind++] : NULL;
  if (optind < argc) return cli_usage("user", "unexpected argument '%s'", argv[optind]);
  int needs_name = strcmp(sub, "list") != 0;
  if (strcmp(sub, "add") && strcmp(sub, "passwd") && strcmp(sub, "list") && strcmp(sub, "del") &&
      strcmp(sub, "token"))
    return cli_usage("user", "expected add, passwd, list, del or token, got '%s'", sub);
  if (needs_name && !name) return cli_usage("user", "%s: expected a user name", sub);
  if (!needs_name && name) return cli_usage("user", "list: unexpected argument '%s'", name);
  if (!strcmp(sub, "add") && !role) return cli_usage("user", "add: expected --role admin|analyst|viewer");
  if (sodium_init() < 0) {
    cli_msg("user: libsodium failed to initialise");
    return TSR_EXIT_FAIL;
  }
  tsr_store *s = NULL;
  tsr_error err;
  tsr_error_clear(&err);
  tsr_status st = tsr_store_open(tsr_store_default_url(db), TSR_STORE_CREATE, &s, &err);
  if (st != TSR_OK) return cli_fail(st, &err);
  int rc = TSR_EXIT_OK;
  if (!strcmp(sub, "add") || !strcmp(sub, "passwd")) {
    char pw[1100], hash[crypto_pwhash_STRBYTES];
    if (read_password(pw, sizeof pw) != 0) {
      rc = TSR_EXIT_USAGE;
    } else if (tsr_server_hash_password(pw, hash) != 0) {
      cli_msg("user: could not hash the password (out of memory?)");
      rc = TSR_EXIT_FAIL;
    } else {
      st = !strcmp(sub, "add") ? tsr_web_user_add(s, name, role, hash, NULL, &err)
                               : tsr_web_user_update(s, name, role, hash, &err);
      if (st == TSR_OK && !strcmp(sub, "passwd")) st = end_sessions(s, name, &err);
      if (st != TSR_OK) rc = cli_fail(st, &err);
    }
    sodium_memzero(pw, sizeof pw);
  } else if (!strcmp(sub, "list")) {
    printf("name,role,created\n");
    st = tsr_web_users_list(s, list_cb, NULL, &err);
    if (st != TSR_OK) rc = cli_fail(st, &err);
  } else if (!strcmp(sub, "del")) {
    st = tsr_web_user_del(s, name, &err);
    if (st != TSR_OK) rc = cli_fail(st, &err);
  } else {
    tsr_web_user *u = NULL;
    char tok[65], hash[65];
    st = tsr_web_user_get(s, 0, name, &u, &err);
    if (st == TSR_OK && tsr_server_new_token(tok, hash) == 0) st = tsr_web_token_add(s, u->id, hash, &err);
    if (st != TSR_OK) rc = cli_fail(st, &err);
    else printf("%s\n", tok);
    tsr_store_free(u);
  }
  tsr_store_close(s);
  return rc;
}
