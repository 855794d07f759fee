/* test_run_owner.c - issue 11: a run whose process is killed is marked
 * "interrupted" the next time the store is opened (it used to stay
 * "running" forever), on SQLite and, with TSR_TEST_PG_URL (ctest
 * unit/test_run_owner_pg inside tests/pg/with_pg.sh), on PostgreSQL. A run
 * of a live process stays running. */
#include "tsr_test.h"
#include "tessera/store.h"
#include "store_int.h"

#include <signal.h>
#include <sys/wait.h>

static char url[512];

static int setup(void **state) {
  (void)state;
  const char *pg = getenv("TSR_TEST_PG_URL");
  if (pg && *pg) {
    snprintf(url, sizeof url, "%s", pg);
  } else {
    char tmpl[] = "/tmp/tsr-owner-XXXXXX";
    if (!mkdtemp(tmpl)) return -1;
    snprintf(url, sizeof url, "%s/t.db", tmpl);
  }
  return 0;
}

static tsr_run_status status_of(tsr_store *s, int64_t id, char *error, size_t cap) {
  tsr_run *r = NULL;
  tsr_error e;
  assert_int_equal(tsr_store_run_get(s, id, &r, &e), TSR_OK);
  tsr_run_status st = r->status;
  if (error) snprintf(error, cap, "%s", r->error ? r->error : "");
  tsr_store_free(r);
  return st;
}

static void test_killed_run_interrupted(void **state) {
  (void)state;
  tsr_store *s = NULL;
  tsr_error e;
  assert_int_equal(tsr_store_open(url, TSR_STORE_CREATE, &s, &e), TSR_OK);
  tsr_run run;
  memset(&run, 0, sizeof run);
  run.command = "analyze";
  int64_t mine = 0;
  assert_int_equal(tsr_store_run_begin(s, &run, &mine, &e), TSR_OK);
  tsr_store_close(s);
  /* a child starts a run and is killed (kill -9) before finishing it */
  int pipefd[2];
  assert_int_equal(pipe(pipefd), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    tsr_store *c = NULL;
    int64_t id = 0;
    if (tsr_store_open(url, 0, &c, NULL) != TSR_OK || tsr_store_run_begin(c, &run, &id, NULL) != TSR_OK)
      _exit(1);
    if (write(pipefd[1], &id, sizeof id) != (ssize_t)sizeof id) _exit(1);
    raise(SIGKILL);
    _exit(2);
  }
  close(pipefd[1]);
  int64_t theirs = 0;
  assert_int_equal(read(pipefd[0], &theirs, sizeof theirs), (ssize_t)sizeof theirs);
  close(pipefd[0]);
  int ws = 0;
  assert_int_equal(waitpid(pid, &ws, 0), pid);
  assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
  assert_true(theirs > mine);
  /* the next open marks it; this process's own run stays running */
  assert_int_equal(tsr_store_open(url, 0, &s, &e), TSR_OK);
  char msg[300];
  assert_int_equal(status_of(s, theirs, msg, sizeof msg), TSR_RUN_INTERRUPTED);
  assert_non_null(strstr(msg, "ended without finishing it"));
  assert_int_equal(status_of(s, mine, NULL, 0), TSR_RUN_RUNNING);
  assert_int_equal(tsr_store_run_finish(s, mine, TSR_RUN_DONE, NULL, NULL, NULL, &e), TSR_OK);
  tsr_store_close(s);
}

static void test_owner_liveness(void **state) {
  (void)state;
  char me[400], other[450];
  tsr__run_owner_self(me, sizeof me);
  assert_int_equal(tsr__run_owner_gone(me), 0); /* alive */
  snprintf(other, sizeof other, "another-host-%s", me);
  assert_int_equal(tsr__run_owner_gone(other), 0); /* cannot tell: left alone */
  /* same host, same pid, another start time: the pid was reused */
  char *last = strrchr(me, '|');
  snprintf(other, sizeof other, "%.*s|12345", (int)(last - me), me);
  assert_int_equal(tsr__run_owner_gone(other), 1);
  /* same host, another boot */
  char *host_end = strchr(me, '|');
  snprintf(other, sizeof other, "%.*s|another-boot|1|1", (int)(host_end - me), me);
  assert_int_equal(tsr__run_owner_gone(other), 1);
  assert_int_equal(tsr__run_owner_gone("garbage"), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_killed_run_interrupted),
      cmocka_unit_test(test_owner_liveness),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
