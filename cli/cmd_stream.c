/*
 * cmd_stream.c - `tessera stream --redis URL --stream NAME --group NAME`: a
 * consumer in a Redis Streams consumer group feeding the real-time engine
 * (help: docs/cli/stream.md, guarantees: docs/realtime.md).
 *
 * Loop: own pending entries first (XREADGROUP ... 0, after a restart), then
 * XAUTOCLAIM of entries idle longer than --claim-idle (a dead consumer's),
 * then new entries (XREADGROUP ... >). Each batch: parse, make the events
 * durable in the store (one transaction; duplicates by key skipped), apply
 * and re-score, XADD every segment change to tessera:segment-changes and
 * rejected entries to tessera:rejected-events, and only then XACK.
 */
#include <errno.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "tessera/realtime_app.h"

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* redis://host[:port], unix:PATH, unix://PATH or a socket path. */
static redisContext *connect_url(const char *url) {
  struct timeval tv = {5, 0};
  if (!strncmp(url, "unix://", 7)) return redisConnectUnixWithTimeout(url + 7, tv);
  if (!strncmp(url, "unix:", 5)) return redisConnectUnixWithTimeout(url + 5, tv);
  if (url[0] == '/') return redisConnectUnixWithTimeout(url, tv);
  const char *h = url;
  if (!strncmp(h, "redis://", 8)) h += 8;
  char host[256];
  int port = 6379;
  const char *colon = strchr(h, ':');
  size_t hl = colon ? (size_t)(colon - h) : strcspn(h, "/");
  if (hl >= sizeof host) hl = sizeof host - 1;
  memcpy(host, h, hl);
  host[hl] = 0;
  if (!host[0]) snprintf(host, sizeof host, "127.0.0.1");
  if (colon) port = atoi(colon + 1);
  return redisConnectWithTimeout(host, port, tv);
}

typedef struct sctx {
  redisContext *rc;
  const char *stream, *group, *consumer, *changes, *rejects;
  tsr_rt_engine *eng;
  size_t batch;
  tsr_rt_event *evs;
  unsigned char *applied;
  char (*ids)[48];     /* entry ids of the batch */
  size_t *ev_entry;    /* entry index of each valid event */
  int64_t n_read, n_applied, n_dup, n_rejected, n_changes;
  size_t pending_cmds; /* pipelined XADDs */
  double *lat;         /* per-batch update time per event, seconds */
  size_t nlat, caplat;
  double *blat;        /* per-batch time from read to XACK, seconds */
  size_t nblat, capblat;
  int verbose;
} sctx;

static void change_cb(void *ud, const tsr_rt_change *c) {
  sctx *x = ud;
  char oc[16], nc[16], r[8], f[8], m[8], pa[32], ex[32], clv[32], at[11], evj[1024], day[11];
  snprintf(oc, sizeof oc, "%d", c->old_cluster);
  snprintf(nc, sizeof nc, "%d", c->new_cluster);
  snprintf(r, sizeof r, "%d", c->scores->r);
  snprintf(f, sizeof f, "%d", c->scores->f);
  snprintf(m, sizeof m, "%d", c->scores->m);
  snprintf(pa, sizeof pa, "%.17g", c->scores->p_alive);
  snprintf(ex, sizeof ex, "%.17g", c->scores->expected);
  snprintf(clv, sizeof clv, "%.17g", c->scores->clv);
  tsr_day_format(c->scores->at, at);
  snprintf(evj, sizeof evj,
           "{\"type\":\"transaction\",\"customer_id\":\"%s\",\"date\":\"%s\",\"amount\":%.17g,"
           "\"transaction_id\":\"%s\"}",
           c->event->customer_id, tsr_day_format(c->event->day, day), c->event->amount,
           c->event->key);
  const char *argv[] = {"XADD", x->changes, "*", "customer_id", c->customer_id, "old_segment",
                        c->old_segment ? c->old_segment : "", "new_segment",
                        c->new_segment ? c->new_segment : "", "old_cluster", oc, "new_cluster",
                        nc, "r", r, "f", f, "m", m, "rfm_cell", c->scores->cell, "p_alive", pa,
                        "expected_purchases", ex, "clv", clv, "at", at, "event", evj};
  redisAppendCommandArgv(x->rc, (int)(sizeof argv / sizeof argv[0]), argv, NULL);
  x->pending_cmds++;
  x->n_changes++;
}

static int drain(sctx *x) {
  int ok = 1;
  for (; x->pending_cmds; x->pending_cmds--) {
    redisReply *r = NULL;
    if (redisGetReply(x->rc, (void **)&r) != REDIS_OK) return 0;
    if (r && r->type == REDIS_REPLY_ERROR) {
      cli_msg("redis: %s", r->str);
      ok = 0;
    }
    freeReplyObject(r);
  }
  return ok;
}

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Processes the entries of one XREADGROUP/XAUTOCLAIM reply array. Returns
 * the number of entries, or -1 on a fatal error. */
static long process_entries1(sctx *x, redisReply *ents);
static long process_entries(sctx *x, redisReply *ents) {
  double t0 = now_s();
  long n = process_entries1(x, ents);
  if (n > 0) {
    if (x->nblat == x->capblat) {
      x->capblat = x->capblat ? 2 * x->capblat : 4096;
      x->blat = realloc(x->blat, x->capblat * sizeof *x->blat);
    }
    x->blat[x->nblat++] = now_s() - t0;
  }
  return n;
}

static long process_entries1(sctx *x, redisReply *ents) {
  size_t ne = ents->elements, nv = 0;
  if (ne == 0) return 0;
  for (size_t i = 0; i < ne; i++) {
    redisReply *e = ents->element[i];
    x->ids[i][0] = 0;
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[0]->type != REDIS_REPLY_STRING) continue;
    snprintf(x->ids[i], sizeof x->ids[i], "%s", e->element[0]->str);
    redisReply *kv = e->element[1];
    const char *line = NULL;
    size_t len = 0;
    if (kv->type == REDIS_REPLY_ARRAY)
      for (size_t k = 0; k + 1 < kv->elements; k += 2)
        if (kv->element[k]->type == REDIS_REPLY_STRING && !strcmp(kv->element[k]->str, "event")) {
          line = kv->element[k + 1]->str;
          len = kv->element[k + 1]->len;
        }
    x->n_read++;
    tsr_error err;
    tsr_error_clear(&err);
    tsr_status st = line ? tsr_rt_event_parse(line, len, x->n_read, &x->evs[nv], &err)
                         : tsr_error_set(&err, TSR_EPARSE, "event", x->n_read, 0, "event",
                                         "expected a field 'event' with the event's JSON");
    if (st != TSR_OK) {
      char msg[1024];
      tsr_error_format(&err, msg, sizeof msg);
      const char *argv[] = {"XADD", x->rejects, "*", "stream", x->stream, "id", x->ids[i],
                            "error", msg, "event", line ? line : ""};
      redisAppendCommandArgv(x->rc, 11, argv, NULL);
      x->pending_cmds++;
      x->n_rejected++;
      if (x->verbose) cli_msg("%s %s: %s", x->stream, x->ids[i], msg);
      continue;
    }
    if (!x->evs[nv].key[0]) snprintf(x->evs[nv].key, sizeof x->evs[nv].key, "%s:%s", x->stream, x->ids[i]);
    x->ev_entry[nv] = i;
    nv++;
  }
  /* durable first; retried while the store is busy (never acknowledged before) */
  for (int attempt = 0;; attempt++) {
    tsr_error err;
    double t0 = now_s();
    tsr_status st = tsr_rt_engine_ingest(x->eng, x->evs, nv, x->applied, change_cb, x, &err);
    double dt = now_s() - t0;
    if (st == TSR_OK) {
      for (size_t i = 0; i < nv; i++) {
        if (x->applied[i]) x->n_applied++;
        else x->n_dup++;
      }
      if (nv) {
        if (x->nlat == x->caplat) {
          x->caplat = x->caplat ? 2 * x->caplat : 4096;
          x->lat = realloc(x->lat, x->caplat * sizeof *x->lat);
        }
        x->lat[x->nlat++] = dt / (double)nv;
      }
      break;
    }
    if (st != TSR_ESTORE || stop_flag || attempt > 600) {
      cli_fail(st, &err);
      return -1;
    }
    usleep(100000);
  }
  if (!drain(x)) return -1;
  /* acknowledge the whole batch (valid, duplicate and rejected entries) */
  const char **argv = malloc((3 + ne) * sizeof *argv);
  argv[0] = "XACK";
  argv[1] = x->stream;
  argv[2] = x->group;
  size_t na = 3;
  for (size_t i = 0; i < ne; i++)
    if (x->ids[i][0]) argv[na++] = x->ids[i];
  if (na == 3) {
    free(argv);
    return (long)ne;
  }
  redisReply *r = redisCommandArgv(x->rc, (int)na, argv, NULL);
  free(argv);
  if (!r || r->type == REDIS_REPLY_ERROR) {
    cli_msg("redis: XACK: %s", r ? r->str : x->rc->errstr);
    freeReplyObject(r);
    return -1;
  }
  freeReplyObject(r);
  return (long)ne;
}

/* XREADGROUP with id ("0" = own pending, ">" = new). */
static long read_group(sctx *x, const char *id, int block_ms) {
  char count[24], block[24];
  snprintf(count, sizeof count, "%zu", x->batch);
  snprintf(block, sizeof block, "%d", block_ms);
  const char *argv[] = {"XREADGROUP", "GROUP", x->group, x->consumer, "COUNT", count,
                        "BLOCK", block, "STREAMS", x->stream, id};
  int argc = block_ms >= 0 ? 11 : 9;
  if (block_ms < 0) {
    argv[6] = "STREAMS";
    argv[7] = x->stream;
    argv[8] = id;
  }
  redisReply *r = redisCommandArgv(x->rc, argc, argv, NULL);
  if (!r) {
    cli_msg("redis: %s", x->rc->errstr);
    return -1;
  }
  long n = 0;
  if (r->type == REDIS_REPLY_ERROR) {
    cli_msg("redis: XREADGROUP: %s", r->str);
    n = -1;
  } else if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
    redisReply *s = r->element[0];
    if (s->type == REDIS_REPLY_ARRAY && s->elements == 2) n = process_entries(x, s->element[1]);
  }
  freeReplyObject(r);
  return n;
}

static long autoclaim(sctx *x, long idle_ms) {
  char idle[24], count[24];
  snprintf(idle, sizeof idle, "%ld", idle_ms);
  snprintf(count, sizeof count, "%zu", x->batch);
  long total = 0;
  char start[48] = "0-0";
  for (int round = 0; round < 1000; round++) {
    const char *argv[] = {"XAUTOCLAIM", x->stream, x->group, x->consumer, idle, start, "COUNT", count};
    redisReply *r = redisCommandArgv(x->rc, 8, argv, NULL);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2) {
      cli_msg("redis: XAUTOCLAIM: %s", r && r->type == REDIS_REPLY_ERROR ? r->str : x->rc->errstr);
      freeReplyObject(r);
      return -1;
    }
    snprintf(start, sizeof start, "%s", r->element[0]->str ? r->element[0]->str : "0-0");
    long n = process_entries(x, r->element[1]);
    freeReplyObject(r);
    if (n < 0) return -1;
    total += n;
    if (!strcmp(start, "0-0")) break;
  }
  return total;
}

int tsr_cmd_stream(int argc, char **argv) {
  const char *cmd = "stream";
  enum { O_REDIS = 256, O_STREAM, O_GROUP, O_CONSUMER, O_DB, O_BATCH, O_BLOCK, O_CLAIM,
         O_CHANGES, O_MAXEV, O_IDLE_EXIT, O_PARTITION, O_VERBOSE };
  static const struct option lopts[] = {
      {"redis", required_argument, 0, O_REDIS},       {"stream", required_argument, 0, O_STREAM},
      {"group", required_argument, 0, O_GROUP},       {"consumer", required_argument, 0, O_CONSUMER},
      {"db", required_argument, 0, O_DB},             {"batch", required_argument, 0, O_BATCH},
      {"block", required_argument, 0, O_BLOCK},       {"claim-idle", required_argument, 0, O_CLAIM},
      {"changes", required_argument, 0, O_CHANGES},   {"max-events", required_argument, 0, O_MAXEV},
      {"idle-exit", required_argument, 0, O_IDLE_EXIT}, {"partition", required_argument, 0, O_PARTITION},
      {"verbose", no_argument, 0, O_VERBOSE},         {0, 0, 0, 0}};
  const char *url = NULL, *stream = NULL, *group = NULL, *consumer = NULL, *db = NULL;
  const char *changes = "tessera:segment-changes", *part = NULL;
  long batch = 500, block = 1000, claim = 30000, max_events = 0, idle_exit = 0;
  int verbose = 0;
  opterr = 0;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, ":", lopts, NULL)) != -1) {
    switch (c) {
      case O_REDIS: url = optarg; break;
      case O_STREAM: stream = optarg; break;
      case O_GROUP: group = optarg; break;
      case O_CONSUMER: consumer = optarg; break;
      case O_DB: db = optarg; break;
      case O_CHANGES: changes = optarg; break;
      case O_PARTITION: part = optarg; break;
      case O_VERBOSE: verbose = 1; break;
      case O_BATCH:
        if (cli_parse_long(cmd, "--batch", optarg, 1, TSR_RT_MAX_BATCH, &batch)) return TSR_EXIT_USAGE;
        break;
      case O_BLOCK:
        if (cli_parse_long(cmd, "--block", optarg, 1, 60000, &block)) return TSR_EXIT_USAGE;
        break;
      case O_CLAIM:
        if (cli_parse_long(cmd, "--claim-idle", optarg, 1, 86400000, &claim)) return TSR_EXIT_USAGE;
        break;
      case O_MAXEV:
        if (cli_parse_long(cmd, "--max-events", optarg, 1, 1L << 62, &max_events)) return TSR_EXIT_USAGE;
        break;
      case O_IDLE_EXIT:
        if (cli_parse_long(cmd, "--idle-exit", optarg, 1, 86400000, &idle_exit)) return TSR_EXIT_USAGE;
        break;
      case ':':
        return cli_usage(cmd, "%s: expected a value", argv[optind - 1]);
      default:
        return cli_usage(cmd, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc) return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
  if (!url) return cli_usage(cmd, "--redis: expected the Redis URL (redis://HOST:PORT or unix:PATH)");
  if (!stream || !*stream) return cli_usage(cmd, "--stream: expected a stream name");
  if (!group || !*group) return cli_usage(cmd, "--group: expected a consumer group name");
  char sname[512];
  snprintf(sname, sizeof sname, "%s", stream);
  if (part) {
    unsigned pi = 0, pn = 0;
    char extra;
    if (sscanf(part, "%u/%u%c", &pi, &pn, &extra) != 2 || pn < 1 || pi >= pn || pn > 1024)
      return cli_usage(cmd, "--partition: expected I/P with 0 <= I < P <= 1024, got '%s'", part);
    if (pn > 1) snprintf(sname, sizeof sname, "%s.%u", stream, pi);
  }
  char cname[300];
  if (!consumer) {
    char host[256] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(cname, sizeof cname, "%s", host);
    consumer = cname;
  }
  tsr_error err;
  tsr_rt_engine *eng = NULL;
  tsr_status st = tsr_rt_engine_open(tsr_store_default_url(db), 0, &eng, &err);
  if (st != TSR_OK) return cli_fail(st, &err);
  redisContext *rc = connect_url(url);
  if (!rc || rc->err) {
    cli_msg("redis: %s: %s", url, rc ? rc->errstr : "cannot allocate a context");
    if (rc) redisFree(rc);
    tsr_rt_engine_close(eng);
    return TSR_EXIT_FAIL;
  }
  /* the group, at the start of the stream when new */
  redisReply *r = redisCommand(rc, "XGROUP CREATE %s %s 0 MKSTREAM", sname, group);
  if (!r || (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9))) {
    cli_msg("redis: XGROUP CREATE: %s", r ? r->str : rc->errstr);
    freeReplyObject(r);
    redisFree(rc);
    tsr_rt_engine_close(eng);
    return TSR_EXIT_FAIL;
  }
  freeReplyObject(r);
  sctx x;
  memset(&x, 0, sizeof x);
  x.rc = rc;
  x.stream = sname;
  x.group = group;
  x.consumer = consumer;
  x.changes = changes;
  x.rejects = "tessera:rejected-events";
  x.eng = eng;
  x.batch = (size_t)batch;
  x.verbose = verbose;
  x.evs = malloc(x.batch * sizeof *x.evs);
  x.applied = malloc(x.batch);
  x.ids = malloc(x.batch * sizeof *x.ids);
  x.ev_entry = malloc(x.batch * sizeof *x.ev_entry);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  int rc_exit = TSR_EXIT_OK;
  double t0 = now_s(), last_claim = -1e9, last_data = now_s();
  /* own pending entries first (delivered before a crash, never acked) */
  for (;;) {
    long n = read_group(&x, "0", -1);
    if (n < 0) {
      rc_exit = TSR_EXIT_FAIL;
      goto out;
    }
    if (n == 0) break;
  }
  while (!stop_flag) {
    if (max_events && x.n_read >= max_events) break;
    double now = now_s();
    if (now - last_claim >= (double)claim / 2000.0) {
      long n = autoclaim(&x, claim);
      if (n < 0) {
        rc_exit = TSR_EXIT_FAIL;
        break;
      }
      if (n > 0) last_data = now_s();
      last_claim = now;
    }
    long n = read_group(&x, ">", (int)block);
    if (n < 0) {
      rc_exit = TSR_EXIT_FAIL;
      break;
    }
    if (n > 0) last_data = now_s();
    else if (idle_exit && (now_s() - last_data) * 1000.0 >= (double)idle_exit) break;
  }
out:;
  double el = now_s() - last_data > 0 && idle_exit ? last_data - t0 : now_s() - t0;
  if (el <= 0) el = 1e-9;
  double p50 = NAN, p99 = NAN, b50 = NAN, b99 = NAN;
  if (x.nlat) {
    qsort(x.lat, x.nlat, sizeof *x.lat, cmp_dbl);
    p50 = x.lat[x.nlat / 2];
    p99 = x.lat[(size_t)((double)(x.nlat - 1) * 0.99)];
  }
  if (x.nblat) {
    qsort(x.blat, x.nblat, sizeof *x.blat, cmp_dbl);
    b50 = x.blat[x.nblat / 2];
    b99 = x.blat[(size_t)((double)(x.nblat - 1) * 0.99)];
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
               (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
  fprintf(stderr,
          "tessera stream: %s: %lld read, %lld applied, %lld duplicates, %lld rejected, "
          "%lld segment changes; %.0f events/s (%.0f per CPU second of this process); update per event p50 %.1f us, p99 %.1f us "
          "(batch mean); batch read-to-XACK p50 %.2f ms, p99 %.2f ms\n",
          sname, (long long)x.n_read, (long long)x.n_applied, (long long)x.n_dup,
          (long long)x.n_rejected, (long long)x.n_changes, (double)x.n_read / el,
          cpu > 0 ? (double)x.n_read / cpu : 0.0, p50 * 1e6,
          p99 * 1e6, b50 * 1e3, b99 * 1e3);
  free(x.lat);
  free(x.blat);
  free(x.evs);
  free(x.applied);
  free(x.ids);
  free(x.ev_entry);
  redisFree(rc);
  tsr_rt_engine_close(eng);
  return rc_exit;
}
