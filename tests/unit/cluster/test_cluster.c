/* test_cluster.c - the clustering pipeline (tsr_cluster_run): stable ids,
 * profiles, labels, determinism, auto k, the JSON model round trip and
 * assignment, errors, and every allocation failing in turn. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cluster_test_util.h"
#include "internal.h"
#include "tessera/cluster.h"

typedef struct cdn {
  size_t n;
  double *f, *r, *T, *m, *clv;
  const double *cols[5];
  const char *names[5];
  const char **seg;
} cdn;

/* CDNOW sample summary plus a mean amount per customer from
 * cdnow_sample.csv (the i-th customer of the log = ID i), a fake clv and
 * RFM-like segment names. */
static void load(cdn *c) {
  memset(c, 0, sizeof *c);
  c->n = tu_cdnow(&c->f, &c->r, &c->T);
  assert_int_equal(c->n, 2357);
  c->m = calloc(c->n, sizeof *c->m);
  c->clv = calloc(c->n, sizeof *c->clv);
  double *cnt = calloc(c->n, sizeof *cnt);
  char path[1024], line[256], prev[256] = "";
  const char *dir = getenv("TSR_SHARED_DATA");
  snprintf(path, sizeof path, "%s/cdnow/cdnow_sample.csv", dir ? dir : TSR_SHARED_DATA);
  FILE *fp = fopen(path, "r");
  assert_non_null(fp);
  assert_non_null(fgets(line, sizeof line, fp));
  long idx = -1;
  while (fgets(line, sizeof line, fp)) {
    char *p = strchr(line, ',');
    if (!p) continue;
    *p = '\0';
    if (strcmp(prev, line)) {
      idx++;
      snprintf(prev, sizeof prev, "%s", line);
    }
    p = strchr(p + 1, ',');
    p = strchr(p + 1, ',');
    if (idx >= 0 && (size_t)idx < c->n) {
      c->m[idx] += strtod(p + 1, NULL);
      cnt[idx]++;
    }
  }
  fclose(fp);
  c->seg = malloc(c->n * sizeof *c->seg);
  for (size_t i = 0; i < c->n; i++) {
    c->m[i] = cnt[i] ? c->m[i] / cnt[i] : 0;
    c->clv[i] = c->m[i] * c->f[i] * 0.5;
    c->seg[i] = c->f[i] >= 3 ? "champions" : c->f[i] >= 1 ? "loyal" : "hibernating";
  }
  free(cnt);
  const double *cols[5] = {c->f, c->r, c->T, c->m, c->clv};
  const char *names[5] = {"frequency", "recency", "T", "monetary_value", "clv"};
  memcpy(c->cols, cols, sizeof cols);
  memcpy(c->names, names, sizeof names);
}

static void unload(cdn *c) {
  free(c->f);
  free(c->r);
  free(c->T);
  free(c->m);
  free(c->clv);
  free(c->seg);
}

static void check_profiles(const tsr_cluster_result *r, const cdn *c) {
  double share = 0, rev = 0;
  size_t size = 0;
  for (size_t j = 0; j < r->k; j++) {
    const tsr_cluster_profile *p = &r->profiles[j];
    share += p->share;
    rev += p->revenue_share;
    size += p->size;
    if (j > 0) assert_true(p->mean_monetary <= r->profiles[j - 1].mean_monetary);
    assert_non_null(p->label);
    assert_true(p->n_segments >= 1);
    /* centroid in original units = mean of the members */
    double s = 0;
    size_t m = 0;
    for (size_t i = 0; i < c->n; i++)
      if (r->labels[i] == (int)j) {
        s += c->f[i];
        m++;
      }
    assert_int_equal(m, p->size);
    assert_true(fabs(p->centroid[0] - s / (double)m) < 1e-9);
    assert_true(!isnan(p->mean_clv) && isnan(p->mean_p_alive));
  }
  assert_int_equal(size + r->n_noise, c->n);
  assert_true(fabs(share + (double)r->n_noise / (double)c->n - 1) < 1e-12);
  if (r->n_noise == 0) assert_true(fabs(rev - 1) < 1e-12);
}

static void kmeans_pipeline(void **state) {
  (void)state;
  cdn c;
  load(&c);
  tsr_cluster_opts o;
  tsr_cluster_opts_init(&o);
  o.k = 5;
  o.seed = 3;
  tsr_cluster_result *r = NULL, *r2 = NULL;
  assert_int_equal(tsr_cluster_run(&o, c.cols, c.names, c.n, 5, c.seg, &r, NULL), TSR_OK);
  assert_int_equal(r->k, 5);
  check_profiles(r, &c);
  for (size_t j = 0; j < r->k; j++)
    printf("cluster %zu size %zu monetary %.2f revenue %.3f label '%s' top segment %s\n", j,
           r->profiles[j].size, r->profiles[j].mean_monetary, r->profiles[j].revenue_share,
           r->profiles[j].label, r->profiles[j].segments[0]);
  /* same seed, one thread: identical labels */
  o.n_threads = 1;
  assert_int_equal(tsr_cluster_run(&o, c.cols, c.names, c.n, 5, NULL, &r2, NULL), TSR_OK);
  assert_memory_equal(r->labels, r2->labels, c.n * sizeof(int));
  assert_true(r->inertia == r2->inertia);
  /* the model assigns the training rows to their clusters */
  int *lab = malloc(c.n * sizeof *lab);
  assert_int_equal(tsr_cluster_model_assign(r->model, c.cols, c.names, c.n, 5, lab, NULL, NULL), TSR_OK);
  assert_memory_equal(lab, r->labels, c.n * sizeof(int));
  /* JSON round trip: same text, same assignment */
  char *j1 = NULL, *j2 = NULL;
  tsr_cluster_model *m = NULL;
  assert_int_equal(tsr_cluster_model_to_json(r->model, &j1, NULL), TSR_OK);
  assert_int_equal(tsr_cluster_model_from_json(j1, strlen(j1), "m.json", &m, NULL), TSR_OK);
  assert_int_equal(tsr_cluster_model_to_json(m, &j2, NULL), TSR_OK);
  assert_string_equal(j1, j2);
  assert_int_equal(tsr_cluster_model_assign(m, c.cols, c.names, c.n, 5, lab, NULL, NULL), TSR_OK);
  assert_memory_equal(lab, r->labels, c.n * sizeof(int));
  char *sj = NULL;
  assert_int_equal(tsr_cluster_result_summary_json(r, &sj, NULL), TSR_OK);
  assert_non_null(strstr(sj, "\"revenue_share\""));
  free(sj);
  free(j1);
  free(j2);
  free(lab);
  tsr_cluster_model_free(m);
  tsr_cluster_result_free(r);
  tsr_cluster_result_free(r2);
  unload(&c);
}

static void auto_k_tables(void **state) {
  (void)state;
  cdn c;
  load(&c);
  tsr_cluster_opts o;
  tsr_cluster_opts_init(&o);
  o.k_min = 2;
  o.k_max = 6;
  o.n_init = 3;
  tsr_cluster_result *r = NULL;
  assert_int_equal(tsr_cluster_run(&o, c.cols, c.names, c.n, 5, c.seg, &r, NULL), TSR_OK);
  assert_int_equal(r->n_kscores, 5);
  size_t best = 0;
  for (size_t i = 0; i < r->n_kscores; i++) {
    assert_int_equal(r->kscores[i].k, i + 2);
    if (r->kscores[i].silhouette > r->kscores[best].silhouette) best = i;
    if (i) assert_true(r->kscores[i].inertia < r->kscores[i - 1].inertia);
  }
  assert_int_equal(r->k, r->kscores[best].k);
  assert_true(r->elbow_k >= 3 && r->elbow_k <= 5);
  tsr_cluster_result_free(r);
  /* GMM: lowest BIC */
  o.method = TSR_CLUSTER_GMM;
  o.k_max = 4;
  o.n_init = 0;
  assert_int_equal(tsr_cluster_run(&o, c.cols, c.names, c.n, 5, c.seg, &r, NULL), TSR_OK);
  best = 0;
  for (size_t i = 0; i < r->n_kscores; i++)
    if (r->kscores[i].bic < r->kscores[best].bic) best = i;
  assert_int_equal(r->k, r->kscores[best].k);
  assert_true(r->bic == r->kscores[best].bic);
  check_profiles(r, &c);
  for (size_t i = 0; i < c.n; i++) assert_true(r->probability[i] > 0 && r->probability[i] <= 1);
  for (size_t i = 1; i < r->n_trace; i++) assert_true(r->loglik_trace[i] >= r->loglik_trace[i - 1] - 1e-9);
  int *lab = malloc(c.n * sizeof *lab);
  double *prob = malloc(c.n * sizeof *prob);
  assert_int_equal(tsr_cluster_model_assign(r->model, c.cols, c.names, c.n, 5, lab, prob, NULL), TSR_OK);
  assert_memory_equal(lab, r->labels, c.n * sizeof(int));
  for (size_t i = 0; i < c.n; i++) assert_true(fabs(prob[i] - r->probability[i]) < 1e-9);
  free(lab);
  free(prob);
  tsr_cluster_result_free(r);
  unload(&c);
}

/* --k auto on more rows than k_sample: the k table comes from a sample,
 * the chosen k is then fitted on all rows exactly as a fixed-k run. */
static void auto_k_sampled(void **state) {
  (void)state;
  cdn c;
  load(&c);
  tsr_cluster_opts o;
  tsr_cluster_opts_init(&o);
  o.k_min = 2;
  o.k_max = 6;
  o.n_init = 3;
  o.seed = 7;
  o.k_sample = 1000;
  tsr_cluster_result *r = NULL, *f = NULL, *all = NULL;
  assert_int_equal(tsr_cluster_run(&o, c.cols, c.names, c.n, 5, c.seg, &r, NULL), TSR_OK);
  assert_int_equal(r->k_sample_n, 1000);
  assert_int_equal(r->n_kscores, 5);
  size_t best = 0;
  for (size_t i = 0; i < r->n_kscores; i++) {
    assert_int_equal(r->kscores[i].k, i + 2);
    if (r->kscores[i].silhouette > r->kscores[best].silhouette) best = i;
  }
  assert_int_equal(r->k, r->kscores[best].k);
  /* the same k fixed: same labels, inertia and silhouette */
  tsr_cluster_opts of = o;
  of.k = r->k;
  assert_int_equal(tsr_cluster_run(&of, c.cols, c.names, c.n, 5, c.seg, &f, NULL), TSR_OK);
  assert_int_equal(f->k_sample_n, 0);
  assert_memory_equal(r->labels, f->labels, c.n * sizeof(int));
  assert_true(r->inertia == f->inertia);
  assert_true(r->silhouette == f->silhouette);
  assert_true(r->silhouette > 0 && r->silhouette < 1);
  /* the sample's inertia is that of 1000 of the 2357 rows: smaller */
  assert_true(r->kscores[best].inertia < r->inertia);
  /* k_sample 0: every k on all rows (the unsampled table) */
  o.k_sample = 0;
  assert_int_equal(tsr_cluster_run(&o, c.cols, c.names, c.n, 5, c.seg, &all, NULL), TSR_OK);
  assert_int_equal(all->k_sample_n, 0);
  for (size_t i = 0; i < all->n_kscores; i++)
    if (all->kscores[i].k == all->k) assert_true(all->kscores[i].inertia == all->inertia);
  tsr_cluster_result_free(r);
  tsr_cluster_result_free(f);
  tsr_cluster_result_free(all);
  unload(&c);
}

static void dbscan_pipeline(void **state) {
  (void)state;
  cdn c;
  load(&c);
  tsr_cluster_opts o;
  tsr_cluster_opts_init(&o);
  o.method = TSR_CLUSTER_DBSCAN;
  o.min_samples = 10;
  tsr_cluster_result *r = NULL;
  assert_int_equal(tsr_cluster_run(&o, c.cols, c.names, c.n, 5, c.seg, &r, NULL), TSR_OK);
  printf("dbscan eps %.4f clusters %zu noise %zu\n", r->eps, r->k, r->n_noise);
  assert_true(r->eps > 0 && r->k >= 1);
  check_profiles(r, &c);
  int *lab = malloc(c.n * sizeof *lab);
  char *js = NULL;
  tsr_cluster_model *m = NULL;
  assert_int_equal(tsr_cluster_model_to_json(r->model, &js, NULL), TSR_OK);
  assert_int_equal(tsr_cluster_model_from_json(js, strlen(js), "d.json", &m, NULL), TSR_OK);
  assert_int_equal(tsr_cluster_model_assign(m, c.cols, c.names, c.n, 5, lab, NULL, NULL), TSR_OK);
  size_t same = 0, clustered = 0;
  for (size_t i = 0; i < c.n; i++) {
    if (r->labels[i] < 0) assert_int_equal(lab[i], -1); /* noise stays noise */
    if (r->labels[i] >= 0) assert_true(lab[i] >= 0);
    clustered += r->labels[i] >= 0;
    same += r->labels[i] >= 0 && lab[i] == r->labels[i];
  }
  /* core points keep their cluster; a border point goes to its nearest core
   * point's cluster, which may differ from the fit's tie rule */
  printf("dbscan reassigned %zu of %zu clustered rows identically\n", same, clustered);
  assert_true((double)same >= 0.99 * (double)clustered);
  free(js);
  free(lab);
  tsr_cluster_model_free(m);
  tsr_cluster_result_free(r);
  unload(&c);
}

static void errors(void **state) {
  (void)state;
  double a[] = {1, 2, -3, 4}, b[] = {1, 1, 2, 2};
  const double *cols[] = {a, b};
  const char *names[] = {"x", "y"};
  const char *feats[] = {"x", "z"};
  tsr_cluster_opts o;
  tsr_cluster_opts_init(&o);
  o.features = feats;
  o.nfeatures = 2;
  o.k = 2;
  tsr_cluster_result *r = NULL;
  tsr_error e;
  assert_int_equal(tsr_cluster_run(&o, cols, names, 4, 2, NULL, &r, &e), TSR_ENOTFOUND);
  assert_string_equal(e.field, "z");
  assert_string_equal(e.msg, "no column named 'z'");
  feats[1] = "y";
  assert_int_equal(tsr_cluster_run(&o, cols, names, 4, 2, NULL, &r, &e), TSR_ERANGE);
  assert_int_equal(e.line, 3);
  o.transform = TSR_XFORM_STANDARDIZE;
  o.k = 9;
  assert_int_equal(tsr_cluster_run(&o, cols, names, 4, 2, NULL, &r, &e), TSR_EINVAL);
  assert_string_equal(e.field, "k");
  o.k = 2;
  o.min_samples = 0;
  assert_int_equal(tsr_cluster_run(&o, cols, names, 4, 2, NULL, &r, &e), TSR_EINVAL);
  assert_string_equal(e.msg, "expected a value in [1, 10000], got 0");
  assert_null(r);
  tsr_cluster_result_free(NULL);
  tsr_cluster_model_free(NULL);
  /* a model file with a wrong format */
  tsr_cluster_model *m = NULL;
  const char *bad = "{\"format\":\"other\",\"version\":1}";
  assert_int_equal(tsr_cluster_model_from_json(bad, strlen(bad), "x.json", &m, &e), TSR_EPARSE);
  assert_string_equal(e.msg, "model: format: expected \"tessera-cluster-model\"");
  assert_int_equal(tsr_cluster_model_from_json("{", 1, "x.json", &m, &e), TSR_EPARSE);
  assert_int_equal(e.line, 1);
}

/* Every allocation of a run fails in turn: ENOMEM, never a crash or leak. */
static void allocation_failures(void **state) {
  (void)state;
  size_t n = 60;
  double x[60], y[60], mon[60];
  const char *seg[60];
  for (size_t i = 0; i < n; i++) {
    x[i] = (double)(i % 3) * 10 + (double)(i % 7) * 0.1;
    y[i] = (double)(i % 3) * 5 + (double)(i % 5) * 0.1;
    mon[i] = (double)(i % 3) * 20;
    seg[i] = i % 2 ? "a" : "b";
  }
  const double *cols[] = {x, y, mon};
  const char *names[] = {"x", "y", "monetary_value"};
  const char *feats[] = {"x", "y"};
  for (int meth = 0; meth < 3; meth++) {
    tsr_cluster_opts o;
    tsr_cluster_opts_init(&o);
    o.method = (tsr_cluster_method)meth;
    o.features = feats;
    o.nfeatures = 2;
    o.k = meth == 2 ? 0 : 3;
    o.k_max = 4;
    o.transform = TSR_XFORM_STANDARDIZE;
    o.n_threads = 1;
    size_t okays = 0;
    for (long fail = 0; fail < 2000 && !okays; fail++) {
      tsr_cluster_result *r = NULL;
      tsr__alloc_fail_after(fail);
      tsr_status st = tsr_cluster_run(&o, cols, names, n, 3, seg, &r, NULL);
      char *js = NULL;
      if (st == TSR_OK) st = tsr_cluster_model_to_json(r->model, &js, NULL);
      tsr__alloc_fail_after(-1);
      if (st == TSR_OK) okays++;
      else assert_int_equal(st, TSR_ENOMEM);
      free(js);
      tsr_cluster_result_free(r);
    }
    assert_int_equal(okays, 1);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(kmeans_pipeline),
      cmocka_unit_test(auto_k_tables),
      cmocka_unit_test(auto_k_sampled),
      cmocka_unit_test(dbscan_pipeline),
      cmocka_unit_test(errors),
      cmocka_unit_test(allocation_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
