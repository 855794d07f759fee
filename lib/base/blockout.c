/*
 * blockout.c - a long text output (customers.csv, the summary CSV) made of
 * numbered blocks: threads format the blocks into a ring of buffers while
 * the calling thread hands the finished ones, in order, to the sink. The
 * formatting of later blocks and the copy of earlier ones into the file
 * overlap, and the text is the one a single thread would write.
 */
#include <pthread.h>
#include <stdlib.h>

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
