/*
 * analyze_lane.h - a second thread for the steps of an analysis that do
 * not depend on each other (app/analyze.c, issue 18). The caller lists
 * tasks; a side thread takes the ones marked side in list order as soon as
 * their dependency is done, and the caller's thread asks for each task where
 * the sequential order would compute it (tsr__lane_run): it runs the task
 * there when the side thread has not taken it, else waits for it. A task
 * writes only its own results, so the results are those of the sequential
 * order whichever thread ran what; without a side thread (threads = 0, or
 * none could be started) every task runs at its tsr__lane_run, in the
 * caller's order.
 */
#ifndef TSR_APP_ANALYZE_LANE_H
#define TSR_APP_ANALYZE_LANE_H

#include <pthread.h>
#include <stddef.h>

#define TSR__LANE_MAX 16

typedef struct tsr__lane_task {
  void (*fn)(void *arg); /* NULL: no task (tsr__lane_run returns at once) */
  void *arg;
  int dep;   /* index of the task to be done first, or -1 */
  int side;  /* the side thread may run it */
  int state; /* the lane's: 0 pending, 1 running, 2 done */
} tsr__lane_task;

typedef struct tsr__lane {
  tsr__lane_task t[TSR__LANE_MAX];
  size_t n;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int sync;     /* mu and cv are initialized */
  int threaded; /* th is to be joined */
  int stop;     /* the side thread takes no more tasks */
} tsr__lane;

/* Starts the lane of l->t[0 .. l->n) (set by the caller, states 0) with a
 * side thread when threads is not 0. */
void tsr__lane_start(tsr__lane *l, int threads);
/* Task i done on return: run here (its dependency first) unless the side
 * thread has it, then waited for. */
void tsr__lane_run(tsr__lane *l, size_t i);
/* The side thread takes no more tasks and is joined (after the task it
 * runs); the pending tasks stay pending. Idempotent. */
void tsr__lane_stop(tsr__lane *l);

#endif
