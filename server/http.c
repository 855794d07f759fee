/*
 * http.c - the HTTP helpers of the server in one place: request values
 * (query, headers, form fields, JSON bodies, path ids), responses (security
 * headers, JSON, HTML, redirects, errors in the API's or the pages' form),
 * the growable buffer with HTML / CSV / URL / JSON escaping, and the
 * wording of messages for the web (no command-line flags, no server paths).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"
#include "tessera/csv.h"
#include "tessera/params.h"

/* ================================================================ requests */

const char *srv_req_arg(srv_req *r, const char *name) {
  return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *srv_req_header(srv_req *r, const char *name) {
  return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *srv_req_field(srv_req *r, const char *name) {
  for (size_t i = 0; i < r->nfields; i++)
    if (!strcmp(r->fields[i].name, name)) return r->fields[i].value ? r->fields[i].value : "";
  return NULL;
}

int srv_req_is_api(const srv_req *r) { return !strncmp(r->path, "/api/", 5); }

int srv_status_http(tsr_status st) {
  switch (st) {
    case TSR_OK: return 200;
    case TSR_ENOTFOUND: return 404;
    case TSR_EINVAL:
    case TSR_EPARSE:
    case TSR_ERANGE: return 400;
    case TSR_ELIMIT: return 413;
    case TSR_EEXIST: return 409;
    case TSR_EAUTH: return 401;
    case TSR_EPERM: return 403;
    case TSR_EUNSUPPORTED: return 501;
    default: return 500;
  }
}

/* ================================================================ responses */

static const char CSP[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

static enum MHD_Result queue(srv_req *r, int status, struct MHD_Response *resp, const char *ctype,
                             size_t len, int is_static) {
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
  MHD_add_response_header(resp, "Content-Security-Policy", CSP);
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(resp, "X-Frame-Options", "DENY");
  MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
  MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                          is_static ? "public, max-age=3600" : "no-store");
  if (r->S->tls)
    MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
  if (r->set_cookie) MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, r->cookie);
  if (r->location[0]) MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
  if (status == 429) MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "60");
  if (status == 401 && srv_req_is_api(r))
    MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"tessera\"");
  r->status = status;
  r->bytes_out = (int64_t)len;
  enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)status, resp);
  MHD_destroy_response(resp);
  return ret;
}

enum MHD_Result srv_send_static(srv_req *r, const void *data, size_t len, const char *ctype) {
  struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
  return queue(r, 200, resp, ctype, len, 1);
}

enum MHD_Result srv_send_response(srv_req *r, int status, struct MHD_Response *resp, const char *ctype) {
  return queue(r, status, resp, ctype, 0, 0);
}

enum MHD_Result srv_send_body(srv_req *r, int status, const char *ctype, const char *body, size_t len) {
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  return queue(r, status, resp, ctype, len, 0);
}

enum MHD_Result srv_send_buf(srv_req *r, int status, const char *ctype, srv_buf *b) {
  if (b->oom) {
    srv_buf_free(b);
    return srv_send_error(r, 500, "ENOMEM", "out of memory");
  }
  size_t len = b->n;
  struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(
      len, b->p ? b->p : (char *)"", b->p ? free : NULL);
  if (!resp) srv_buf_free(b);
  b->p = NULL;
  b->n = b->cap = 0;
  return queue(r, status, resp, ctype, len, 0);
}

enum MHD_Result srv_send_json(srv_req *r, int status, json_t *j) {
  char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
  json_decref(j);
  if (!s) return srv_send_body(r, 500, "application/json", "{\"error\":{\"code\":\"ENOMEM\",\"message\":\"out of memory\"}}", 55);
  size_t len = strlen(s);
  struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(len, s, free);
  if (!resp) free(s);
  return queue(r, status, resp, "application/json", len, 0);
}

enum MHD_Result srv_send_error(srv_req *r, int status, const char *code, const char *fmt, ...) {
  char raw[1024], msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(raw, sizeof raw, fmt, ap);
  va_end(ap);
  srv_web_text(r->S, raw, msg, sizeof msg); /* no flags or server paths on the web */
  if (srv_req_is_api(r) || !strcmp(r->path, "/metrics") || !strcmp(r->path, "/healthz")) {
    json_t *e = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    return srv_send_json(r, status, e);
  }
  const char *title = status == 401   ? "Please log in"
                      : status == 403 ? "Not allowed"
                      : status == 404 ? "Page not found"
                      : status == 413 ? "Too large"
                      : status == 429 ? "Too many attempts"
                      : status >= 500 ? "Something went wrong"
                                      : "Request not understood";
  return srv_page_error(r, status, title, msg);
}

enum MHD_Result srv_send_redirect(srv_req *r, const char *location) {
  snprintf(r->location, sizeof r->location, "%s", location);
  return srv_send_body(r, 303, "text/plain; charset=utf-8", "", 0);
}


/* ================================================================ request values */

/* Strict non-negative integer from a path segment or query value. */
int srv_parse_id(const char *s, int64_t *out) {
  if (!s || !*s || strlen(s) > 18) return -1;
  int64_t v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') return -1;
    v = v * 10 + (*p - '0');
  }
  *out = v;
  return 0;
}

int srv_query_int(srv_req *r, const char *name, int64_t lo, int64_t hi, int64_t def,
                           int64_t *out, enum MHD_Result *ret) {
  const char *v = srv_req_arg(r, name);
  if (!v || !*v) {
    *out = def;
    return 0;
  }
  int64_t x;
  if (srv_parse_id(v, &x) || x < lo || x > hi) {
    *ret = srv_send_error(r, 400, "EINVAL", "%s: expected an integer in [%lld, %lld], got '%.40s'", name,
                      (long long)lo, (long long)hi, v);
    return -1;
  }
  *out = x;
  return 0;
}

/* The JSON object body of r (NULL with a 400 sent when it does not parse). */
json_t *srv_body_json(srv_req *r, enum MHD_Result *ret) {
  if (r->kind == SRV_BODY_FORM) {
    json_t *o = json_object();
    for (size_t i = 0; i < r->nfields; i++)
      json_object_set_new(o, r->fields[i].name, json_string(r->fields[i].value ? r->fields[i].value : ""));
    return o;
  }
  if (!r->body_len) return json_object();
  json_error_t je;
  json_t *j = json_loadb(r->body, r->body_len, 0, &je);
  if (!j) {
    *ret = srv_send_error(r, 400, "EPARSE", "request body: line %d, column %d: %s", je.line, je.column,
                      je.text);
    return NULL;
  }
  if (!json_is_object(j)) {
    json_decref(j);
    *ret = srv_send_error(r, 400, "EPARSE", "request body: expected a JSON object");
    return NULL;
  }
  return j;
}

const char *srv_json_text(json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

enum MHD_Result srv_send_tsr(srv_req *r, tsr_status st, const tsr_error *e) {
  char msg[1200];
  if (e && e->code != TSR_OK) tsr_error_format(e, msg, sizeof msg);
  else snprintf(msg, sizeof msg, "%s", tsr_strerror(st));
  return srv_send_error(r, srv_status_http(st), tsr_status_name(st), "%s", msg);
}

/* Keeps a safe display name: the base name, printable, at most 200 bytes. */
/* Length of the valid UTF-8 sequence at p (1..4), 0 when invalid
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static size_t utf8_len(const unsigned char *p) {
  if (p[0] < 0x80) return 1;
  if (p[0] >= 0xC2 && p[0] <= 0xDF) return (p[1] & 0xC0) == 0x80 ? 2 : 0;
  if (p[0] >= 0xE0 && p[0] <= 0xEF) {
    if ((p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) return 0;
    if (p[0] == 0xE0 && p[1] < 0xA0) return 0;
    if (p[0] == 0xED && p[1] >= 0xA0) return 0;
    return 3;
  }
  if (p[0] >= 0xF0 && p[0] <= 0xF4) {
    if ((p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80) return 0;
    if (p[0] == 0xF0 && p[1] < 0x90) return 0;
    if (p[0] == 0xF4 && p[1] >= 0x90) return 0;
    return 4;
  }
  return 0;
}

/* Text for display and storage: control characters as '_', invalid UTF-8
 * bytes as U+FFFD, at most ~200 bytes (cut at a character boundary). */
void srv_clean_text(const char *b, char *out, size_t cap) {
  size_t k = 0;
  for (const unsigned char *p = (const unsigned char *)b; *p && k < 200;) {
    size_t n = utf8_len(p);
    if (n == 0) {
      if (k + 4 > cap) break;
      memcpy(out + k, "\xEF\xBF\xBD", 3);
      k += 3;
      p++;
      continue;
    }
    if (k + n + 1 > cap) break;
    if (n == 1) out[k++] = (*p < 0x20 || *p == 0x7f) ? '_' : (char)*p;
    else memcpy(out + k, p, n), k += n;
    p += n;
  }
  out[k] = '\0';
}


/* ================================================================ buffer */

void srv_buf_put(srv_buf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->n + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
}

void srv_buf_puts(srv_buf *b, const char *s) { srv_buf_put(b, s, strlen(s)); }

void srv_buf_printf(srv_buf *b, const char *fmt, ...) {
  char tmp[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof tmp) {
    srv_buf_put(b, tmp, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (!big) {
    b->oom = 1;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  srv_buf_put(b, big, (size_t)n);
  free(big);
}

void srv_buf_html(srv_buf *b, const char *s) {
  if (!s) return;
  const char *run = s;
  for (; *s; s++) {
    const char *rep = NULL;
    switch (*s) {
      case '&': rep = "&amp;"; break;
      case '<': rep = "&lt;"; break;
      case '>': rep = "&gt;"; break;
      case '"': rep = "&quot;"; break;
      case '\'': rep = "&#39;"; break;
      default: break;
    }
    if (rep) {
      srv_buf_put(b, run, (size_t)(s - run));
      srv_buf_puts(b, rep);
      run = s + 1;
    }
  }
  srv_buf_put(b, run, (size_t)(s - run));
}

void srv_buf_csv(srv_buf *b, const char *s) {
  if (!s) s = "";
  size_t need = 2 * strlen(s) + 3;
  char small[512], *t = need <= sizeof small ? small : malloc(need);
  if (!t) {
    b->oom = 1;
    return;
  }
  srv_buf_put(b, t, tsr_csv_quote(t, s, TSR_CSV_FORMULA_GUARD)); /* formulas are not run */
  if (t != small) free(t);
}

void srv_buf_url(srv_buf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        *p == '-' || *p == '_' || *p == '.' || *p == '~') {
      srv_buf_put(b, (const char *)p, 1);
    } else {
      char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
      srv_buf_put(b, e, 3);
    }
  }
}

void srv_buf_free(srv_buf *b) {
  free(b->p);
  b->p = NULL;
  b->n = b->cap = 0;
}

void srv_buf_json_str(srv_buf *b, const char *s) {
  static const char hex[] = "0123456789abcdef";
  if (!s) {
    srv_buf_puts(b, "null");
    return;
  }
  srv_buf_put(b, "\"", 1);
  const char *run = s;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) continue;
    srv_buf_put(b, run, (size_t)(s - run));
    if (c == '"') srv_buf_puts(b, "\\\"");
    else if (c == '\\') srv_buf_puts(b, "\\\\");
    else if (c == '\n') srv_buf_puts(b, "\\n");
    else if (c == '\t') srv_buf_puts(b, "\\t");
    else {
      char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      srv_buf_put(b, e, 6);
    }
    run = s + 1;
  }
  srv_buf_put(b, run, (size_t)(s - run));
  srv_buf_put(b, "\"", 1);
}

void srv_buf_json_num(srv_buf *b, double v) {
  if (!isfinite(v)) {
    srv_buf_puts(b, "null");
    return;
  }
  char t[TSR_DOUBLE_BUF + 2];
  if (v == (double)(long long)v && fabs(v) < 1e15)
    snprintf(t, sizeof t, "%lld.0", (long long)v); /* a JSON real, not an integer */
  else
    tsr_format_double(v, t); /* the shortest form that reads back exactly */
  srv_buf_puts(b, t);
}

/* ================================================================ words for the web */

/* The words the web uses for an analysis input (the form's labels). */
static const char *const input_words[][2] = {
    {"customer_col", "customer column"}, {"date_col", "date column"},
    {"amount_col", "amount column"},     {"id_col", "transaction id column"},
    {"freq", "period"},                  {"freq_multiplier", "periods per unit"},
    {"max_errors", "maximum rejected rows"}, {"spend", "spend model"},
    {"k", "number of clusters"},         {"cluster", "clustering method"}};

/* Appends the words for the command-line option opt ("--date-format",
 * without arguments): an analysis input by its label, a server setting or
 * any other option by its name in words. */
static void option_words(srv_buf *b, const char *opt, size_t len) {
  char name[64];
  size_t k = 0;
  for (size_t i = 2; i < len && k + 1 < sizeof name; i++) name[k++] = opt[i] == '-' ? '_' : opt[i];
  name[k] = '\0';
  const tsr_param *p = NULL;
  for (size_t i = 0; i < tsr_params_count() && !p; i++) {
    const tsr_param *q = tsr_param_at(i);
    if (strlen(q->option) == len && !memcmp(q->option, opt, len)) p = q;
  }
  const char *words = NULL;
  const char *key = p ? p->name : name;
  for (size_t i = 0; i < sizeof input_words / sizeof *input_words; i++)
    if (!strcmp(input_words[i][0], key)) words = input_words[i][1];
  char buf[64];
  if (!words) {
    snprintf(buf, sizeof buf, "%s", key);
    for (char *c = buf; *c; c++)
      if (*c == '_') *c = ' ';
    words = buf;
  }
  if (!strcmp(key, "max_upload")) srv_buf_puts(b, "the upload limit");
  else srv_buf_printf(b, p ? "the \"%s\" input" : "the \"%s\" setting", words);
}

/* Appends the web's name of the file or folder at path (len bytes): a
 * dataset by its uploaded name, a run folder in words, any other path by
 * its last component. */
static void path_words(const srv *S, srv_buf *b, const char *path, size_t len) {
  size_t dl = strlen(S->data_dir);
  char uploads[1100];
  snprintf(uploads, sizeof uploads, "%s/uploads/", S->data_dir);
  size_t ul = strlen(uploads);
  if (len > ul && !strncmp(path, uploads, ul)) {
    int64_t id = 0;
    const char *q = path + ul;
    while (q < path + len && *q >= '0' && *q <= '9') id = id * 10 + (*q++ - '0');
    tsr_store *st = srv_store((srv *)S);
    tsr_dataset *d = NULL;
    if (id > 0 && st && tsr_store_dataset_get(st, id, &d, NULL) == TSR_OK && d->source) {
      char nm[256];
      srv_clean_text(d->source, nm, sizeof nm);
      srv_buf_printf(b, "\"%s\"", nm);
    } else {
      srv_buf_puts(b, "the uploaded file");
    }
    tsr_store_free(d);
    return;
  }
  if (len >= dl && !strncmp(path, S->data_dir, dl)) {
    srv_buf_puts(b, strstr(path, "/runs") == path + dl ? "the run's results" : "the server's data");
    return;
  }
  const char *base = path;
  for (const char *q = path; q < path + len; q++)
    if (*q == '/') base = q + 1;
  if (base == path + len) srv_buf_puts(b, "a server folder");
  else srv_buf_put(b, base, (size_t)(path + len - base));
}

/* Length of the path at s: up to a space, quote, comma, ';', ')' or a
 * ':' followed by a digit or space (FILE:LINE:COL). */
static size_t path_len(const char *s) {
  size_t n = 0;
  while (s[n] && !strchr(" \t\n\"'`,;()<>", s[n])) {
    if (s[n] == ':' && (s[n + 1] == ' ' || (s[n + 1] >= '0' && s[n + 1] <= '9') || !s[n + 1])) break;
    n++;
  }
  return n;
}

void srv_web_text(const srv *S, const char *in, char *out, size_t cap) {
  srv_buf b = {0};
  size_t dl = strlen(S->data_dir);
  for (const char *p = in; *p;) {
    int at_start = p == in || strchr(" \t\n\"'`(=:", p[-1]) != NULL;
    if (at_start && p[0] == '-' && p[1] == '-' && p[2] >= 'a' && p[2] <= 'z') {
      size_t n = 2;
      while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= '0' && p[n] <= '9') || p[n] == '-') n++;
      option_words(&b, p, n);
      p += n;
      continue;
    }
    if (at_start && p[0] >= 'a' && p[0] <= 'z') {
      /* a column input the library names as the error's field ("amount_col: ") */
      char name[32];
      size_t n = 0;
      while (n + 1 < sizeof name && ((p[n] >= 'a' && p[n] <= 'z') || p[n] == '_')) name[n] = p[n], n++;
      name[n] = '\0';
      const tsr_param *cp = p[n] == ':' ? tsr_param_find(name) : NULL;
      if (cp && !strcmp(cp->unit, "column")) {
        option_words(&b, cp->option, strlen(cp->option));
        p += n;
        continue;
      }
    }
    int data = dl && !strncmp(p, S->data_dir, dl) && (p[dl] == '/' || !p[dl]);
    if (at_start && (data || (p[0] == '/' && p[1] != '/' && strncmp(p, "/api/", 5) && strchr(p + 1, '/')))) {
      size_t n = path_len(p);
      const char *slash = memchr(p + 1, '/', n ? n - 1 : 0);
      if (data || (slash && n > 1)) {
        path_words(S, &b, p, n);
        p += n;
        continue;
      }
    }
    b.oom ? (void)0 : srv_buf_put(&b, p, 1);
    p++;
  }
  snprintf(out, cap, "%s", b.p && !b.oom ? b.p : in);
  srv_buf_free(&b);
}
