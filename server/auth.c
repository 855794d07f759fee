/*
 * auth.c - accounts and sessions of the web application: argon2id password
 * hashes (libsodium crypto_pwhash_str; MIN limits under
 * TESSERA_TEST_FAST_HASH=1 for tests), API tokens and session ids stored as
 * hashes only and compared in constant time by the database lookup of their
 * hash, CSRF secrets per session (sodium_memcmp), login rate limiting per IP
 * and per user name, and at most two password hashes computed at once
 * (each takes 64 MiB).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "srv.h"

#define RL_MAX_FAILS 5 /* per user name and client address, in RL_WINDOW_MS */
#define RL_WINDOW_MS (5LL * 60 * 1000)
#define MAX_CONCURRENT_LOGINS 2

static int fast_hash(void) {
  const char *e = getenv("TESSERA_TEST_FAST_HASH");
  return e && !strcmp(e, "1");
}

int tsr_server_hash_password(const char *pw, char *out) {
  if (sodium_init() < 0) return -1;
  unsigned long long ops = fast_hash() ? crypto_pwhash_OPSLIMIT_MIN : crypto_pwhash_OPSLIMIT_INTERACTIVE;
  size_t mem = fast_hash() ? crypto_pwhash_MEMLIMIT_MIN : crypto_pwhash_MEMLIMIT_INTERACTIVE;
  return crypto_pwhash_str(out, pw, strlen(pw), ops, mem) == 0 ? 0 : -1;
}

static void to_hex(const unsigned char *b, size_t n, char *out) {
  sodium_bin2hex(out, 2 * n + 1, b, n);
}

void tsr_server_token_hash(const char *token, char *hash) {
  unsigned char h[32];
  crypto_generichash(h, sizeof h, (const unsigned char *)token, strlen(token),
                     (const unsigned char *)"tessera-token-v1", 16);
  to_hex(h, sizeof h, hash);
}

int tsr_server_new_token(char *token, char *hash) {
  if (sodium_init() < 0) return -1;
  unsigned char b[32];
  randombytes_buf(b, sizeof b);
  to_hex(b, sizeof b, token);
  tsr_server_token_hash(token, hash);
  return 0;
}

void srv_auth_init(srv *S) {
  /* a hash to verify against for unknown users (same timing either way) */
  if (tsr_server_hash_password("tessera-no-such-user", S->dummy_hash) != 0)
    S->dummy_hash[0] = '\0';
}

int srv_role_rank(const char *role) {
  if (!role) return 0;
  if (!strcmp(role, "admin")) return 3;
  if (!strcmp(role, "analyst")) return 2;
  if (!strcmp(role, "viewer")) return 1;
  return 0;
}

/* Value of cookie name in the Cookie header, copied into out. */
static int cookie_value(srv_req *r, const char *name, char *out, size_t cap) {
  const char *v = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
  if (!v || strlen(v) >= cap) return 0;
  snprintf(out, cap, "%s", v);
  return 1;
}

#define AC_TTL_MS 5000

static size_t ac_slot(const char *hash) {
  size_t h = 0;
  for (int i = 0; i < 8 && hash[i]; i++) h = h * 16 + (size_t)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
  return h % 256;
}

/* Sets r->user from copies in r (user_s, user_name, user_role). */
static void set_user(srv_req *r, int64_t id, const char *name, const char *role) {
  snprintf(r->user_name, sizeof r->user_name, "%s", name);
  snprintf(r->user_role, sizeof r->user_role, "%s", role);
  memset(&r->user_s, 0, sizeof r->user_s);
  r->user_s.id = id;
  r->user_s.name = r->user_name;
  r->user_s.role = r->user_role;
  r->user_s.pwhash = "";
  r->user = &r->user_s;
}

/* 1 when hash is in the cache (r->user and r->csrf set). */
static int ac_get(srv_req *r, const char *hash, int via_token) {
  srv *S = r->S;
  size_t k = ac_slot(hash);
  int hit = 0;
  pthread_mutex_lock(&S->ac_mu);
  if (S->ac[k].expires_ms > tsr_store_now_ms() && S->ac[k].via_token == via_token &&
      !strcmp(S->ac[k].hash, hash)) {
    set_user(r, S->ac[k].user_id, S->ac[k].name, S->ac[k].role);
    snprintf(r->csrf, sizeof r->csrf, "%s", S->ac[k].csrf);
    hit = 1;
  }
  pthread_mutex_unlock(&S->ac_mu);
  return hit;
}

static void ac_put(srv_req *r, const char *hash, int via_token) {
  srv *S = r->S;
  size_t k = ac_slot(hash);
  pthread_mutex_lock(&S->ac_mu);
  snprintf(S->ac[k].hash, sizeof S->ac[k].hash, "%s", hash);
  S->ac[k].user_id = r->user->id;
  snprintf(S->ac[k].name, sizeof S->ac[k].name, "%s", r->user->name);
  snprintf(S->ac[k].role, sizeof S->ac[k].role, "%s", r->user->role);
  snprintf(S->ac[k].csrf, sizeof S->ac[k].csrf, "%s", r->csrf);
  S->ac[k].via_token = via_token;
  S->ac[k].expires_ms = tsr_store_now_ms() + AC_TTL_MS;
  pthread_mutex_unlock(&S->ac_mu);
}

static void ac_del(srv *S, const char *hash) {
  size_t k = ac_slot(hash);
  pthread_mutex_lock(&S->ac_mu);
  if (!strcmp(S->ac[k].hash, hash)) S->ac[k].expires_ms = 0;
  pthread_mutex_unlock(&S->ac_mu);
}

void srv_auth_cache_clear(srv *S) {
  pthread_mutex_lock(&S->ac_mu);
  for (size_t i = 0; i < 256; i++) S->ac[i].expires_ms = 0;
  pthread_mutex_unlock(&S->ac_mu);
}

/* Resolves the user from a bearer token or the session cookie, through a
 * cache of a few seconds (a deleted account or ended session stops working
 * within AC_TTL_MS even when changed by another process). */
void srv_auth_resolve(srv_req *r) {
  if (r->auth_done) return;
  r->auth_done = 1;
  const char *h = srv_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
  tsr_web_user *u = NULL;
  if (h && !strncasecmp(h, "Bearer ", 7)) {
    const char *tok = h + 7;
    if (strlen(tok) != 64) return;
    char hash[65];
    tsr_server_token_hash(tok, hash);
    if (ac_get(r, hash, 1)) {
      r->via_token = 1;
      return;
    }
    tsr_store *st = srv_store(r->S);
    if (st && tsr_web_token_get(st, hash, &u, NULL) == TSR_OK) {
      set_user(r, u->id, u->name, u->role);
      r->via_token = 1;
      ac_put(r, hash, 1);
    }
    tsr_store_free(u);
    return;
  }
  char sid[80];
  if (!cookie_value(r, "tsr_session", sid, sizeof sid) || strlen(sid) != 64) return;
  tsr_server_token_hash(sid, r->session_hash);
  if (ac_get(r, r->session_hash, 0)) return;
  tsr_store *st = srv_store(r->S);
  if (st && tsr_web_session_get(st, r->session_hash, tsr_store_now_ms(), &u, r->csrf, sizeof r->csrf,
                                NULL) == TSR_OK) {
    set_user(r, u->id, u->name, u->role);
    ac_put(r, r->session_hash, 0);
  } else {
    r->csrf[0] = '\0';
  }
  tsr_store_free(u);
}

int srv_auth_need(srv_req *r, const char *role, enum MHD_Result *ret) {
  srv_auth_resolve(r);
  if (!r->user) {
    if (!srv_req_is_api(r) && strcmp(r->path, "/metrics")) {
      srv_buf b = {0};
      srv_buf_puts(&b, "/login?next=");
      srv_buf_url(&b, r->path);
      if (!b.oom) snprintf(r->location, sizeof r->location, "%s", b.p);
      srv_buf_free(&b);
      *ret = srv_send_body(r, 303, "text/plain; charset=utf-8", "", 0);
      return 0;
    }
    *ret = srv_send_error(r, 401, "EAUTH", "authentication required: log in or send 'Authorization: Bearer TOKEN'");
    return 0;
  }
  if (srv_role_rank(r->user->role) < srv_role_rank(role)) {
    *ret = srv_send_error(r, 403, "EPERM", "your role (%s) may not do this; it needs the %s role",
                      r->user->role, role);
    return 0;
  }
  return 1;
}

int srv_auth_csrf(srv_req *r, enum MHD_Result *ret) {
  if (r->via_token) return 1; /* bearer tokens are not sent by browsers on their own */
  const char *t = srv_req_header(r, "X-CSRF-Token");
  if (!t) t = srv_req_field(r, "csrf");
  size_t n = strlen(r->csrf);
  if (t && n && strlen(t) == n && sodium_memcmp(t, r->csrf, n) == 0) return 1;
  *ret = srv_send_error(r, 403, "ECSRF",
                    "missing or wrong CSRF token: reload the page and try again (API clients send "
                    "the token from the login answer in the X-CSRF-Token header)");
  return 0;
}

/* ---------------------------------------------------------------- rate limits */

/* The client's address: with --proxy-header NAME the last entry of that
 * header (the one the trusted proxy appended), else the connection's. */
static void client_ip(srv_req *r, char *out, size_t cap) {
  out[0] = '\0';
  const char *ph = r->S->cfg.proxy_header;
  const char *hv = ph && *ph ? srv_req_header(r, ph) : NULL;
  if (hv) {
    const char *last = strrchr(hv, ',');
    last = last ? last + 1 : hv;
    while (*last == ' ' || *last == '\t') last++;
    size_t n = strcspn(last, " \t");
    if (n && n < 64) {
      snprintf(out, cap, "%.*s", (int)n, last);
      return;
    }
  }
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (!ci || !ci->client_addr) return;
  const struct sockaddr *sa = ci->client_addr;
  char host[64] = "";
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, sizeof host);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, host, sizeof host);
  snprintf(out, cap, "%s", host);
}

int srv_auth_login(srv_req *r, const char *name, const char *pw, tsr_web_user **user, char *msg,
               size_t cap) {
  srv *S = r->S;
  *user = NULL;
  int64_t now = tsr_store_now_ms();
  char ip[64];
  client_ip(r, ip, sizeof ip);
  if (strlen(name) > 64 || strlen(pw) > 1024) {
    snprintf(msg, cap, "wrong user name or password");
    return 401;
  }
  /* the lock-out is keyed on user name and client address and kept in the
   * store: failures from one address (every user behind one proxy) do not
   * lock out another user, and a restart does not reset it. Without the
   * store the login fails closed (503). */
  tsr_store *lst = srv_store(S);
  int64_t fails = 0;
  if (!lst || tsr_web_login_fails(lst, name, ip, now - RL_WINDOW_MS, &fails, NULL) != TSR_OK) {
    atomic_fetch_add(&S->m_login_fail, 1);
    snprintf(msg, cap, "the login cannot be checked now (database unavailable); try again");
    return 503;
  }
  if (fails >= RL_MAX_FAILS) {
    atomic_fetch_add(&S->m_login_fail, 1);
    snprintf(msg, cap, "too many failed logins; wait 5 minutes and try again");
    return 429;
  }
  if (atomic_fetch_add(&S->logins_active, 1) >= MAX_CONCURRENT_LOGINS) {
    atomic_fetch_sub(&S->logins_active, 1);
    atomic_fetch_add(&S->m_login_fail, 1);
    snprintf(msg, cap, "the server is busy checking other logins; try again in a moment");
    return 503;
  }
  tsr_store *st = srv_store(S);
  tsr_web_user *u = NULL;
  int ok = 0;
  if (st && tsr_web_user_get(st, 0, name, &u, NULL) == TSR_OK) {
    ok = crypto_pwhash_str_verify(u->pwhash, pw, strlen(pw)) == 0;
  } else if (S->dummy_hash[0]) {
    if (crypto_pwhash_str_verify(S->dummy_hash, pw, strlen(pw)) == 0) ok = 0;
  }
  atomic_fetch_sub(&S->logins_active, 1);
  if (!ok) {
    tsr_store_free(u);
    tsr_web_login_fail(lst, name, ip, now, RL_WINDOW_MS, NULL); /* best effort: see docs/web.md */
    atomic_fetch_add(&S->m_login_fail, 1);
    snprintf(msg, cap, "wrong user name or password");
    return 401;
  }
  tsr_web_login_clear(lst, name, ip, NULL);
  *user = u;
  return 0;
}

int srv_auth_session_new(srv_req *r, const tsr_web_user *u) {
  char sid[65], hash[65];
  if (tsr_server_new_token(sid, hash) != 0) return -1;
  unsigned char c[32];
  randombytes_buf(c, sizeof c);
  sodium_bin2hex(r->csrf, sizeof r->csrf, c, sizeof c);
  tsr_store *st = srv_store(r->S);
  if (!st || tsr_web_session_add(st, hash, u->id, r->csrf, tsr_store_now_ms() + SRV_SESSION_MS,
                                 NULL) != TSR_OK)
    return -1;
  snprintf(r->cookie, sizeof r->cookie,
           "tsr_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s", sid,
           SRV_SESSION_MS / 1000, r->S->tls ? "; Secure" : "");
  r->set_cookie = 1;
  return 0;
}

void srv_auth_logout(srv_req *r) {
  tsr_store *st = srv_store(r->S);
  if (r->session_hash[0]) ac_del(r->S, r->session_hash);
  if (st && r->session_hash[0]) tsr_web_session_del(st, r->session_hash, NULL);
  snprintf(r->cookie, sizeof r->cookie, "tsr_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0%s",
           r->S->tls ? "; Secure" : "");
  r->set_cookie = 1;
}
