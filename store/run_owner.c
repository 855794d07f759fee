/*
 * run_owner.c - which process owns a running run, and whether it still
 * lives (issue 11). tsr_store_run_begin records the owner of each run as
 * "HOST|BOOT_ID|PID|START" (START = the process start time in clock ticks
 * since boot, /proc/PID/stat field 22, so a reused pid is told apart);
 * tsr_store_open marks a run "interrupted" when its owner ran on this host
 * and is gone (no such process, another start time, or the host rebooted).
 * Runs owned by processes on other hosts are left alone: their liveness
 * cannot be checked from here (docs/store.md).
 */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The boot id of this kernel (a UUID), or "" when unknown. */
static void boot_id(char *buf, size_t cap) {
  buf[0] = '\0';
  FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
  if (!f) return;
  if (!fgets(buf, (int)cap, f)) buf[0] = '\0';
  fclose(f);
  buf[strcspn(buf, "\r\n")] = '\0';
}

/* Start time of process pid in clock ticks since boot; -1 when it does not
 * exist (or /proc is unavailable). */
static long long proc_start(long long pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%lld/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* "pid (comm) state ppid ...": comm may hold spaces and ')', so count
   * fields after the last ')'; starttime is field 22 overall, the 20th after */
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  p++;
  for (int field = 3; field < 22 && p; field++) { /* p: the space before field `field` */
    p = strchr(p + 1, ' ');
  }
  if (!p) return -1;
  char *end = NULL;
  long long v = strtoll(p + 1, &end, 10);
  return end == p + 1 ? -1 : v;
}

void tsr__run_owner_self(char *buf, size_t cap) {
  char host[256] = "", boot[64];
  if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "?");
  host[sizeof host - 1] = '\0';
  for (char *h = host; *h; h++)
    if (*h == '|') *h = '_';
  boot_id(boot, sizeof boot);
  long long pid = (long long)getpid();
  snprintf(buf, cap, "%s|%s|%lld|%lld", host, boot, pid, proc_start(pid));
}

int tsr__run_owner_gone(const char *owner) {
  char me[400];
  tsr__run_owner_self(me, sizeof me);
  /* the fields from the right: START, PID, BOOT; the rest is the host */
  const char *p3 = strrchr(owner, '|');
  if (!p3) return 0;
  const char *p2 = p3 - 1;
  while (p2 >= owner && *p2 != '|') p2--;
  if (p2 < owner) return 0;
  const char *p1 = p2 - 1;
  while (p1 >= owner && *p1 != '|') p1--;
  if (p1 < owner) return 0;
  const char *m3 = strrchr(me, '|'), *m2 = m3 - 1;
  while (m2 > me && *m2 != '|') m2--;
  const char *m1 = m2 - 1;
  while (m1 > me && *m1 != '|') m1--;
  /* another host: cannot tell */
  if (p1 - owner != m1 - me || memcmp(owner, me, (size_t)(p1 - owner)) != 0) return 0;
  /* same host, another boot: every process of that boot is gone */
  if (p2 - p1 != m2 - m1 || memcmp(p1, m1, (size_t)(p2 - p1)) != 0) return 1;
  char *end = NULL;
  long long pid = strtoll(p2 + 1, &end, 10);
  if (end != p3 || pid <= 0) return 0;
  long long start = strtoll(p3 + 1, &end, 10);
  long long now = proc_start(pid);
  if (now < 0) return access("/proc/self/stat", R_OK) == 0; /* gone, if /proc works */
  return start >= 0 && now != start; /* the pid was reused */
}

typedef struct reap_ctx {
  int64_t ids[256];
  size_t n;
} reap_ctx;

static int reap_cb(void *ctx, int64_t id, const char *owner) {
  reap_ctx *r = ctx;
  if (owner && tsr__run_owner_gone(owner) && r->n < TSR__ARRAY_LEN(r->ids)) r->ids[r->n++] = id;
  return 0;
}

tsr_status tsr__store_reap_runs(tsr_store *s, int64_t *n, tsr_error *err) {
  if (n) *n = 0;
  reap_ctx r;
  r.n = 0;
  tsr_status st = tsr__sql_runs_owned_list(tsr__store_db(s), reap_cb, &r, err);
  for (size_t i = 0; st == TSR_OK && i < r.n; i++) {
    st = tsr_store_run_finish(s, r.ids[i], TSR_RUN_INTERRUPTED, NULL, NULL,
                              "interrupted: the process running it ended without finishing it "
                              "(killed or crashed)",
                              err);
    if (st == TSR_ENOTFOUND) st = TSR_OK; /* deleted meanwhile */
    if (st == TSR_OK && n) (*n)++;
  }
  return st;
}
