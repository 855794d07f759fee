/*
 * analyze_lane.c - the side thread of an analysis (analyze_lane.h).
 */
#include "analyze_lane.h"

/* The first side task that may run now (its dependency done), or -1;
 * *later: some side task waits for its dependency. Under l->mu. */
static int next_side(const tsr__lane *l, int *later) {
  *later = 0;
  for (size_t i = 0; i < l->n; i++) {
    const tsr__lane_task *t = &l->t[i];
    if (!t->side || !t->fn || t->state != 0) continue;
    if (t->dep < 0 || l->t[t->dep].state == 2) return (int)i;
    *later = 1;
  }
  return -1;
}

static void *side_main(void *arg) {
  tsr__lane *l = arg;
  pthread_mutex_lock(&l->mu);
  while (!l->stop) {
    int later, i = next_side(l, &later);
    if (i < 0) {
      if (!later) break;
      pthread_cond_wait(&l->cv, &l->mu);
      continue;
    }
    l->t[i].state = 1;
    pthread_mutex_unlock(&l->mu);
    l->t[i].fn(l->t[i].arg);
    pthread_mutex_lock(&l->mu);
    l->t[i].state = 2;
    pthread_cond_broadcast(&l->cv);
  }
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

void tsr__lane_start(tsr__lane *l, int threads) {
  l->sync = l->threaded = l->stop = 0;
  if (!threads || pthread_mutex_init(&l->mu, NULL) != 0) return;
  if (pthread_cond_init(&l->cv, NULL) != 0) {
    pthread_mutex_destroy(&l->mu);
    return;
  }
  l->sync = 1;
  l->threaded = pthread_create(&l->th, NULL, side_main, l) == 0;
}

void tsr__lane_run(tsr__lane *l, size_t i) {
  tsr__lane_task *t = &l->t[i];
  if (!t->fn) return;
  if (!l->sync) { /* no side thread: here, in the caller's order */
    if (t->state != 0) return;
    if (t->dep >= 0) tsr__lane_run(l, (size_t)t->dep);
    t->state = 1;
    t->fn(t->arg);
    t->state = 2;
    return;
  }
  pthread_mutex_lock(&l->mu);
  while (t->state == 0 && t->dep >= 0 && l->t[t->dep].state != 2) {
    pthread_mutex_unlock(&l->mu);
    tsr__lane_run(l, (size_t)t->dep); /* the side thread may take t meanwhile */
    pthread_mutex_lock(&l->mu);
  }
  if (t->state == 0) {
    t->state = 1;
    pthread_mutex_unlock(&l->mu);
    t->fn(t->arg);
    pthread_mutex_lock(&l->mu);
    t->state = 2;
    pthread_cond_broadcast(&l->cv);
  }
  while (t->state != 2) pthread_cond_wait(&l->cv, &l->mu);
  pthread_mutex_unlock(&l->mu);
}

void tsr__lane_stop(tsr__lane *l) {
  if (!l->sync) return;
  pthread_mutex_lock(&l->mu);
  l->stop = 1;
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
  if (l->threaded) pthread_join(l->th, NULL);
  pthread_cond_destroy(&l->cv);
  pthread_mutex_destroy(&l->mu);
  l->sync = l->threaded = 0;
}
