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
  job.n = n;
  job.chunk = chunk;
  job.nblocks = (n + chunk - 1) / chunk;
  job.fn = fn;
  job.ctx = ctx;
  atomic_init(&job.next, 0);
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
