/*
 * blockout.c - a long text output (customers.csv, the summary CSV) made of
 * numbered blocks: threads format the blocks into a ring of buffers while
 * the calling thread hands the finished ones, in order, to the sink. The
 * formatting of later blocks and the copy of earlier ones into the file
 * overlap, and the text is the one a single thread would write.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "base/textbuf.h"

#define RING 6 /* buffers: up to RING - 1 blocks ahead of the sink */
#define MAX_THREADS 8

typedef struct bpipe {
  size_t nblocks;
  tsr__block_fmt fmt;
  void *ctx;
  tsr__tb buf[RING];
  size_t ready[RING]; /* block index + 1 formatted in the slot; 0 none */
  size_t next;        /* next block to format */
  size_t written;     /* blocks handed to the sink */
  int stop;           /* out of memory or a sink error: every thread ends */
  int oom;
  pthread_mutex_t mu;
  pthread_cond_t cv_ready; /* a block was formatted (or stop) */
  pthread_cond_t cv_free;  /* a block was written (or stop) */
} bpipe;

static void *formatter(void *arg) {
  bpipe *p = arg;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    size_t blk = p->next;
    if (p->stop || blk >= p->nblocks) break;
    p->next++;
    /* its slot is free once the block RING before it is written */
    while (!p->stop && blk >= p->written + RING) pthread_cond_wait(&p->cv_free, &p->mu);
    if (p->stop) break;
    pthread_mutex_unlock(&p->mu);
    tsr__tb *b = &p->buf[blk % RING];
    b->len = 0;
    int bad = p->fmt(p->ctx, blk, b);
    pthread_mutex_lock(&p->mu);
    if (bad) {
      p->oom = p->stop = 1;
      pthread_cond_broadcast(&p->cv_free);
    } else {
      p->ready[blk % RING] = blk + 1;
    }
    pthread_cond_broadcast(&p->cv_ready);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

int tsr__blocks_write(size_t nblocks, int threads, tsr__block_fmt fmt, tsr__block_sink sink,
                      void *ctx) {
  bpipe *p = tsr__calloc(1, sizeof *p);
  if (!p) return -1;
  p->nblocks = nblocks;
  p->fmt = fmt;
  p->ctx = ctx;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv_ready, NULL);
  pthread_cond_init(&p->cv_free, NULL);
  pthread_t th[MAX_THREADS];
  int nth = 0;
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  while (threads > 1 && nth < threads && nblocks > (size_t)nth &&
         pthread_create(&th[nth], NULL, formatter, p) == 0)
    nth++;
  int serr = 0;
  if (nth == 0) { /* one thread (or none started): each block in turn */
    for (size_t b = 0; b < nblocks && !p->oom && !serr; b++) {
      p->buf[0].len = 0;
      if (fmt(ctx, b, &p->buf[0])) p->oom = 1;
      else if (sink(ctx, p->buf[0].s, p->buf[0].len)) serr = 1;
    }
  } else {
    pthread_mutex_lock(&p->mu);
    while (p->written < nblocks && !p->stop) {
      size_t slot = p->written % RING;
      if (p->ready[slot] != p->written + 1) {
        pthread_cond_wait(&p->cv_ready, &p->mu);
        continue;
      }
      pthread_mutex_unlock(&p->mu);
      int bad = sink(ctx, p->buf[slot].s, p->buf[slot].len);
      pthread_mutex_lock(&p->mu);
      if (bad) serr = p->stop = 1;
      p->ready[slot] = 0;
      p->written++;
      pthread_cond_broadcast(&p->cv_free);
    }
    pthread_mutex_unlock(&p->mu);
    for (int t = 0; t < nth; t++) pthread_join(th[t], NULL);
  }
  int st = p->oom ? -1 : serr ? -2 : 0;
  for (int i = 0; i < RING; i++) tsr__tb_free(&p->buf[i]);
  pthread_cond_destroy(&p->cv_free);
  pthread_cond_destroy(&p->cv_ready);
  pthread_mutex_destroy(&p->mu);
  tsr__free(p);
  return st;
}

/* ------------------------------------------------------- direct file sink */

#define FD_ALIGN ((size_t)4096) /* buffer, offset and length of a direct write */

/* n bytes at s by write(2); 0, or -1 (werr set). */
static int plain_write(tsr__fd_sink *k, const char *s, size_t n) {
  while (n) {
    ssize_t w = write(k->fd, s, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      k->werr = errno;
      return -1;
    }
    s += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Clears O_DIRECT (if set) and stops trying it. */
static void direct_off(tsr__fd_sink *k) {
  if (k->on) (void)fcntl(k->fd, F_SETFL, k->flags);
  k->on = k->direct = 0;
}

int tsr__fd_sink_init(tsr__fd_sink *k, int fd, size_t cap, int direct) {
  memset(k, 0, sizeof *k);
  k->fd = fd;
  k->cap = cap ? cap : (size_t)4 << 20;
  k->flags = fcntl(fd, F_GETFL);
  off_t off = lseek(fd, 0, SEEK_CUR);
#ifdef O_DIRECT
  k->direct = direct && k->flags >= 0 && off >= 0 && k->cap % FD_ALIGN == 0;
#else
  (void)direct;
#endif
  if (!k->direct) return 0;
  k->plain = (FD_ALIGN - (size_t)off % FD_ALIGN) % FD_ALIGN;
  void *probe = tsr__malloc(1); /* the allocation-failure hook of the tests */
  if (!probe) return -1;
  tsr__free(probe);
  if (posix_memalign((void **)&k->buf, FD_ALIGN, k->cap) != 0) return -1;
  return 0;
}

/* The full buffer (cap bytes, at an aligned offset) by a direct write, or
 * plainly where that is refused. */
static int flush_full(tsr__fd_sink *k) {
#ifdef O_DIRECT
  if (k->direct && !k->on) {
    if (fcntl(k->fd, F_SETFL, k->flags | O_DIRECT) == 0) k->on = 1;
    else direct_off(k);
  }
  size_t done = 0;
  while (k->on && done < k->len) {
    ssize_t w = write(k->fd, k->buf + done, k->len - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0 || (size_t)w % FD_ALIGN) { /* refused, or a piece not aligned */
      if (w > 0) done += (size_t)w;
      direct_off(k);
      break;
    }
    done += (size_t)w;
  }
  int st = done < k->len ? plain_write(k, k->buf + done, k->len - done) : 0;
#else
  int st = plain_write(k, k->buf, k->len);
#endif
  k->len = 0;
  return st;
}

int tsr__fd_sink_put(void *ctx, const char *s, size_t n) {
  tsr__fd_sink *k = ctx;
  if (!k->direct) return plain_write(k, s, n);
  if (k->plain) { /* up to the first aligned offset */
    size_t p = n < k->plain ? n : k->plain;
    if (plain_write(k, s, p)) return -1;
    k->plain -= p;
    s += p;
    n -= p;
  }
  while (n) {
    size_t c = k->cap - k->len < n ? k->cap - k->len : n;
    memcpy(k->buf + k->len, s, c);
    k->len += c;
    s += c;
    n -= c;
    if (k->len == k->cap && flush_full(k)) return -1;
    if (!k->direct) return plain_write(k, s, n); /* direct refused: the rest plainly */
  }
  return 0;
}

int tsr__fd_sink_finish(tsr__fd_sink *k) {
  direct_off(k);
  int st = k->len && !k->werr ? plain_write(k, k->buf, k->len) : 0;
  free(k->buf);
  k->buf = NULL;
  k->len = 0;
  return st || k->werr ? -1 : 0;
}
