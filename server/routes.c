/*
 * routes.c - the dispatcher of `tessera serve`: finds the route of a request
 * in the table of routes.def (method and path pattern), then applies the
 * same checks to every route in the same order:
 *   1. a login (session cookie or bearer token) unless the route is PUBLIC;
 *   2. the CSRF token of a state-changing request made with a cookie;
 *   3. the database handle of this thread (unless SRV_F_NO_STORE);
 *   4. the route's role (analyst, admin);
 * and runs its handler, or sends the JSON value its view returns.
 * A path that matches no route: 404 (after the login check, so that nothing
 * is learnt about the routes without one); a known path with another method:
 * 405; a {id} that is not a number: 400 in the API, 404 for pages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"

/* the functions named in the table */
#define SRV_DECL_HANDLER(fn) enum MHD_Result srv_##fn(srv_req *r);
#define SRV_DECL_VIEW(fn) json_t *srv_##fn(srv_req *r, tsr_error *err);
#define R(kind, method, pattern, role, flags, fn) SRV_DECL_##kind(fn)
#include "routes.def"
#undef R

#define SRV_FN_HANDLER(fn) srv_##fn, NULL
#define SRV_FN_VIEW(fn) NULL, srv_##fn
#define R(kind, method, pattern, role, flags, fn) {method, pattern, SRV_##role, flags, SRV_FN_##kind(fn)},
const srv_route srv_routes[] = {
#include "routes.def"
};
#undef R
const size_t srv_nroutes = sizeof srv_routes / sizeof *srv_routes;

static const char *const role_names[] = {"", "viewer", "analyst", "admin"};

#define MAX_SEGS 16

/* Splits s in place at '/' (empty segments skipped). */
static size_t split(char *s, char **seg) {
  size_t n = 0;
  char *save = NULL;
  for (char *t = strtok_r(s, "/", &save); t && n < MAX_SEGS; t = strtok_r(NULL, "/", &save)) seg[n++] = t;
  return n;
}

/* The patterns of the table split once (a request is matched against
 * every route: splitting them per request cost 12% of a decision). */
static struct {
  char buf[256];
  char *ps[MAX_SEGS];
  size_t np;
} pats[sizeof srv_routes / sizeof *srv_routes];
static pthread_once_t pats_once = PTHREAD_ONCE_INIT;

static void pats_split(void) {
  for (size_t i = 0; i < srv_nroutes; i++) {
    snprintf(pats[i].buf, sizeof pats[i].buf, "%s", srv_routes[i].pattern);
    pats[i].np = split(pats[i].buf, pats[i].ps);
  }
}

/* 1 when the path segments have the shape of rt's pattern (an entry of
 * srv_routes); fills the placeholders of r (when r is not NULL) and *bad
 * with the first {id} that is not a number. */
static int shape(const srv_route *rt, char **seg, size_t n, srv_req *r, const char **bad) {
  pthread_once(&pats_once, pats_split);
  char *const *ps = pats[rt - srv_routes].ps;
  size_t np = pats[rt - srv_routes].np;
  int prefix = (rt->flags & SRV_F_PREFIX) && np && !strcmp(ps[np - 1], "*");
  if (prefix ? n < np - 1 : n != np) return 0;
  size_t k = 0;
  *bad = NULL;
  for (size_t i = 0; i < np - (size_t)prefix; i++) {
    if (ps[i][0] != '{') {
      if (strcmp(ps[i], seg[i])) return 0;
      continue;
    }
    int64_t v = 0;
    int num = !strcmp(ps[i], "{id}");
    if (num && srv_parse_id(seg[i], &v) && !*bad) *bad = seg[i];
    if (r && k < SRV_MAX_PARAMS) {
      r->parg[k] = seg[i];
      r->pid[k] = v;
    }
    k++;
  }
  if (r) r->nparg = k;
  return 1;
}

static int method_ok(const srv_route *rt, const char *method) {
  return !strcmp(rt->method, method) || (!strcmp(method, "HEAD") && !strcmp(rt->method, "GET"));
}

int srv_route_is_upload(const char *method, const char *path) {
  char buf[SRV_MAX_URL];
  char *seg[MAX_SEGS];
  for (size_t i = 0; i < srv_nroutes; i++) {
    const char *bad;
    if (!(srv_routes[i].flags & SRV_F_UPLOAD) || !method_ok(&srv_routes[i], method)) continue;
    snprintf(buf, sizeof buf, "%s", path);
    size_t n = split(buf, seg);
    if (shape(&srv_routes[i], seg, n, NULL, &bad) && !bad) return 1;
  }
  return 0;
}

/* The answer when no route takes the request. */
static enum MHD_Result no_route(srv_req *r, int known_path, int need_login, const char *bad_id,
                                const char *noun) {
  enum MHD_Result ret;
  int api = srv_req_is_api(r);
  if (api && strncmp(r->path, "/api/v1", 7))
    return srv_send_error(r, 404, "ENOTFOUND", "no such endpoint: %s (the API lives under /api/v1)", r->path);
  if (need_login && !srv_auth_need(r, "viewer", &ret)) return ret;
  if (bad_id) {
    if (!api) return srv_page_error(r, 404, "Page not found", "there is no page at this address");
    size_t len = strlen(noun);
    return srv_send_error(r, 400, "EINVAL", "%.*s id: expected a number, got '%.40s'",
                          (int)(len > 1 && noun[len - 1] == 's' ? len - 1 : len), noun, bad_id);
  }
  if (known_path)
    return srv_send_error(r, 405, "EINVAL", "%s is not allowed at %s", r->method, r->path);
  if (!api) return srv_page_error(r, 404, "Page not found", "there is no page at this address");
  return srv_send_error(r, 404, "ENOTFOUND", "%s %s is not an endpoint (see /api/v1/openapi.json)", r->method,
                        r->path);
}

enum MHD_Result srv_route_request(srv_req *r) {
  char *seg[MAX_SEGS];
  snprintf(r->pbuf, sizeof r->pbuf, "%s", r->path);
  size_t n = split(r->pbuf, seg);
  const srv_route *hit = NULL;
  int known_path = 0, need_login = 1;
  const char *bad_id = NULL, *noun = "";
  char bad_copy[48];
  for (size_t i = 0; i < srv_nroutes && !hit; i++) {
    const srv_route *rt = &srv_routes[i];
    const char *bad = NULL;
    if (!shape(rt, seg, n, NULL, &bad)) continue;
    if (!known_path) need_login = rt->role > SRV_PUBLIC;
    else need_login = need_login && rt->role > SRV_PUBLIC;
    known_path = 1;
    if (!method_ok(rt, r->method)) continue;
    if (bad) {
      if (!bad_id) {
        snprintf(bad_copy, sizeof bad_copy, "%s", bad);
        bad_id = bad_copy;
        for (size_t k = 1; k < n; k++)
          if (seg[k] == bad) noun = seg[k - 1];
      }
      continue;
    }
    shape(rt, seg, n, r, &bad);
    hit = rt;
  }
  if (!hit) return no_route(r, known_path, need_login, bad_id, noun);
  r->route = hit;
  enum MHD_Result ret;
  if (hit->role == SRV_PUBLIC) {
    srv_auth_resolve(r); /* pages show who is logged in */
  } else {
    if (!srv_auth_need(r, "viewer", &ret)) return ret;
    int safe = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
    if (!safe && !srv_auth_csrf(r, &ret)) return ret;
  }
  if (!(hit->flags & SRV_F_NO_STORE) && !(r->st = srv_store(r->S))) {
    if (!srv_req_is_api(r))
      return srv_page_error(r, 503, "Database unavailable", "the database cannot be opened; try again later");
    return srv_send_error(r, 503, "ESTORE", "the database is not available");
  }
  if (hit->role > SRV_VIEWER && !srv_auth_need(r, role_names[hit->role], &ret)) return ret;
  if (hit->handler) return hit->handler(r);
  tsr_error e;
  tsr_error_clear(&e);
  json_t *j = hit->view(r, &e);
  if (!j) return srv_send_tsr(r, e.code != TSR_OK ? e.code : TSR_ENOMEM, &e);
  return srv_send_json(r, 200, j);
}
