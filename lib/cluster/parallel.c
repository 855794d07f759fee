/*
 * parallel.c - a deterministic parallel-for over fixed blocks of rows for the
 * clustering code (pthreads). Each block writes its own partial results;
 * callers reduce them in block order, so results do not depend on the number
 * of threads or on scheduling.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "cluster_internal.h"

typedef struct par_job {
  size_t n, nblocks, chunk;
  tsr__block_fn fn;
  void *ctx;
  atomic_size_t next;
} par_job;

/* A loop over n rows in blocks of chunk rows, none taken yet. */
static void job_init(par_job *job, size_t n, size_t chunk, tsr__block_fn fn, void *ctx) {
  job->n = n;
  job->chunk = chunk;
  job->nblocks = (n + chunk - 1) / chunk;
  job->fn = fn;
  job->ctx = ctx;
  atomic_init(&job->next, 0);
}

/* Takes blocks from the shared counter until none are left. */
static void *par_worker(void *arg) {
  par_job *job = arg;
  for (;;) {
    size_t b = atomic_fetch_add(&job->next, 1);
    if (b >= job->nblocks) break;
    size_t lo = b * job->chunk, hi = lo + job->chunk;
    if (hi > job->n) hi = job->n;
    job->fn(job->ctx, b, lo, hi);
  }
  return NULL;
}

void tsr__parallel_blocks(int n_threads, size_t n, tsr__block_fn fn,
                          void *ctx) {
  tsr__parallel_chunks(n_threads, n, TSR__BLOCK, fn, ctx);
}

void tsr__parallel_chunks(int n_threads, size_t n, size_t chunk,
                          tsr__block_fn fn, void *ctx) {
  par_job job;
  job_init(&job, n, chunk, fn, ctx);
  if (n_threads > 64) n_threads = 64;
  if ((size_t)n_threads > job.nblocks) n_threads = (int)job.nblocks;
  pthread_t th[64];
  int started = 0;
  for (int t = 1; t < n_threads; t++) {
    if (pthread_create(&th[started], NULL, par_worker, &job) != 0) break;
    started++;
  }
  par_worker(&job);
  for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
}

/* ------------------------------------------------------------------ pool */

struct tsr__pool {
  int want;           /* workers wanted (n_threads - 1) */
  int started;        /* workers running */
  int quit;
  pthread_t th[63];
  pthread_mutex_t mu;
  pthread_cond_t work, done;
  unsigned long gen;  /* bumped for each loop */
  par_job *job;       /* the open loop (NULL: none) */
  int inflight;       /* workers inside job */
  int sync;           /* mu and the conditions initialised */
};

/* Sleeps until a loop opens; takes its blocks. A worker that wakes after
 * the loop closed takes nothing. */
static void *pool_worker(void *arg) {
  tsr__pool *p = arg;
  unsigned long seen = 0;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->quit && (p->gen == seen || !p->job)) pthread_cond_wait(&p->work, &p->mu);
    if (p->quit) break;
    seen = p->gen;
    par_job *job = p->job;
    p->inflight++;
    pthread_mutex_unlock(&p->mu);
    par_worker(job);
    pthread_mutex_lock(&p->mu);
    if (--p->inflight == 0) pthread_cond_signal(&p->done);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

tsr__pool *tsr__pool_new(int n_threads) {
  if (n_threads <= 1) return NULL;
  tsr__pool *p = tsr__calloc(1, sizeof *p);
  if (!p) return NULL;
  p->want = (n_threads > 64 ? 64 : n_threads) - 1;
  return p;
}

/* Starts the workers on the first loop of more than one block. */
static void pool_start(tsr__pool *p) {
  if (pthread_mutex_init(&p->mu, NULL) != 0) {
    p->want = 0;
    return;
  }
  if (pthread_cond_init(&p->work, NULL) != 0) {
    pthread_mutex_destroy(&p->mu);
    p->want = 0;
    return;
  }
  if (pthread_cond_init(&p->done, NULL) != 0) {
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    p->want = 0;
    return;
  }
  p->sync = 1;
  for (int t = 0; t < p->want; t++) {
    if (pthread_create(&p->th[p->started], NULL, pool_worker, p) != 0) break;
    p->started++;
  }
  p->want = p->started;
}

void tsr__pool_chunks(tsr__pool *p, size_t n, size_t chunk, tsr__block_fn fn, void *ctx) {
  par_job job;
  job_init(&job, n, chunk, fn, ctx);
  if (p && job.nblocks > 1 && !p->sync && p->want > 0) pool_start(p);
  if (!p || !p->sync || job.nblocks <= 1 || p->started == 0) {
    par_worker(&job); /* small loops: no thread at all */
    return;
  }
  pthread_mutex_lock(&p->mu);
  p->job = &job;
  p->gen++;
  pthread_cond_broadcast(&p->work);
  pthread_mutex_unlock(&p->mu);
  par_worker(&job);
  /* every block is taken: close the loop, wait for the workers inside it */
  pthread_mutex_lock(&p->mu);
  p->job = NULL;
  while (p->inflight > 0) pthread_cond_wait(&p->done, &p->mu);
  pthread_mutex_unlock(&p->mu);
}

void tsr__pool_blocks(tsr__pool *p, size_t n, tsr__block_fn fn, void *ctx) {
  tsr__pool_chunks(p, n, TSR__BLOCK, fn, ctx);
}

void tsr__pool_free(tsr__pool *p) {
  if (!p) return;
  if (p->sync) {
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int t = 0; t < p->started; t++) pthread_join(p->th[t], NULL);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
  }
  tsr__free(p);
}
