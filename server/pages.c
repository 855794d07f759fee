/*
 * pages.c - the server-rendered HTML pages of `tessera serve`: login,
 * datasets (upload, preview, column mapping and analysis form with the valid
 * range of every input and inline errors), jobs with progress, runs and the
 * run dashboard (KPIs, segments, clusters, model fits; charts drawn by
 * web/app.js from /api/v1/runs/ID/results), segment pages (sortable, CSV
 * export), customer pages, the event log, accounts, the help page generated
 * from the params table, and friendly error pages. The handlers are named
 * in routes.def; the run dashboard, the runs table and the event log render
 * the values of views.c (the same the API sends). A failed run links back
 * to its dataset with its inputs filled in.
 * Every dynamic string goes through srv_buf_html; no inline scripts or styles
 * (the CSP forbids them).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"
#include "tessera/datetime.h"

/* ================================================================ layout */

static void head(srv_req *r, srv_buf *b, const char *title) {
  srv_buf_puts(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
             "<title>");
  srv_buf_html(b, title);
  srv_buf_puts(b, " - tessera</title><link rel=\"stylesheet\" href=\"/static/app.css\">");
  if (r->want_report)
    srv_buf_puts(b, "<link rel=\"stylesheet\" href=\"/static/report.css\">"
               "<script src=\"/static/chart.js\" defer></script>"
               "<script src=\"/static/chartjs-chart-matrix.js\" defer></script>"
               "<script src=\"/static/report.js\" defer></script>");
  srv_buf_puts(b, "<script src=\"/static/app.js\" defer></script>");
  if (r->user && r->csrf[0]) {
    srv_buf_puts(b, "<meta name=\"csrf-token\" content=\"");
    srv_buf_html(b, r->csrf);
    srv_buf_puts(b, "\">");
  }
  srv_buf_puts(b, "</head><body><header><a class=\"brand\" href=\"/\">tessera</a><nav>");
  if (r->user) {
    srv_buf_puts(b, "<a href=\"/datasets\">Datasets</a><a href=\"/jobs\">Jobs</a><a href=\"/runs\">Runs</a>"
               "<a href=\"/events\">Event log</a>");
    if (srv_role_rank(r->user->role) >= 3) srv_buf_puts(b, "<a href=\"/users\">Users</a>");
    srv_buf_puts(b, "<a href=\"/help\">Help</a>");
  }
  srv_buf_puts(b, "</nav>");
  if (r->user) {
    srv_buf_puts(b, "<form class=\"logout\" method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"");
    srv_buf_html(b, r->csrf);
    srv_buf_puts(b, "\"><a class=\"who\" href=\"/account\" title=\"Your account and password\">");
    srv_buf_html(b, r->user->name);
    srv_buf_puts(b, " (");
    srv_buf_html(b, r->user->role);
    srv_buf_puts(b, ")</a><button type=\"submit\">Log out</button></form>");
  }
  srv_buf_puts(b, "</header><main>\n");
}

static enum MHD_Result finish(srv_req *r, srv_buf *b, int status) {
  srv_buf_puts(b, "\n</main><footer>tessera customer profiling</footer></body></html>\n");
  return srv_send_buf(r, status, "text/html; charset=utf-8", b);
}

static void csrf_field(srv_req *r, srv_buf *b) {
  srv_buf_puts(b, "<input type=\"hidden\" name=\"csrf\" value=\"");
  srv_buf_html(b, r->csrf);
  srv_buf_puts(b, "\">");
}

void page_head(srv_req *r, srv_buf *b, const char *title) { head(r, b, title); }
enum MHD_Result page_finish(srv_req *r, srv_buf *b, int status) { return finish(r, b, status); }
void page_csrf_field(srv_req *r, srv_buf *b) { csrf_field(r, b); }

enum MHD_Result srv_page_error(srv_req *r, int status, const char *title, const char *text) {
  srv_buf b = {0};
  char msg[1200];
  srv_web_text(r->S, text, msg, sizeof msg); /* no flags or server paths on the web */
  srv_auth_resolve(r);
  head(r, &b, title);
  srv_buf_printf(&b, "<section class=\"error\"><h1>%d: ", status);
  srv_buf_html(&b, title);
  srv_buf_puts(&b, "</h1><p>");
  srv_buf_html(&b, msg);
  srv_buf_puts(&b, "</p><p>");
  if (status == 401) srv_buf_puts(&b, "<a href=\"/login\">Log in</a>");
  else if (status == 403) srv_buf_puts(&b, "Ask an administrator for an account with more rights. <a href=\"/\">Back to the start page</a>");
  else if (status == 413) srv_buf_puts(&b, "Split the file or ask the administrator to raise the upload limit. <a href=\"/datasets\">Back to datasets</a>");
  else if (status == 404) srv_buf_puts(&b, "Check the address, or <a href=\"/\">go to the start page</a>.");
  else srv_buf_puts(&b, "<a href=\"/\">Back to the start page</a>");
  srv_buf_puts(&b, "</p></section>");
  return finish(r, &b, status);
}

/* ================================================================ formatting */

/* A message in the web's words (srv_web_text), HTML-escaped. */
static void web_html(srv_req *r, srv_buf *b, const char *msg) {
  char m[1200];
  srv_web_text(r->S, msg ? msg : "", m, sizeof m);
  srv_buf_html(b, m);
}

static void fmt_num(srv_buf *b, double v, int digits) {
  if (!isfinite(v)) {
    srv_buf_puts(b, "&ndash;");
    return;
  }
  char t[64];
  snprintf(t, sizeof t, "%.*f", digits, v);
  /* thousands separators for the integer part */
  char *dot = strchr(t, '.');
  size_t ilen = dot ? (size_t)(dot - t) : strlen(t);
  size_t start = t[0] == '-' ? 1 : 0;
  srv_buf_put(b, t, start);
  for (size_t i = start; i < ilen; i++) {
    srv_buf_put(b, t + i, 1);
    size_t left = ilen - i - 1;
    if (left && left % 3 == 0) srv_buf_puts(b, ",");
  }
  if (dot) srv_buf_puts(b, dot);
}

static void fmt_pct(srv_buf *b, double v) {
  if (!isfinite(v)) srv_buf_puts(b, "&ndash;");
  else srv_buf_printf(b, "%.1f%%", 100 * v);
}

/* " <small>UNIT</small>" after a value. */
static void sb_unit(srv_buf *b, const char *u) {
  srv_buf_puts(b, " <small>");
  srv_buf_html(b, u);
  srv_buf_puts(b, "</small>");
}

static double jd(json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *js(json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  return json_is_string(v) ? json_string_value(v) : "";
}

/* ================================================================ login */

static enum MHD_Result login_page(srv_req *r, const char *err, int status) {
  srv_buf b = {0};
  unsigned char rnd[16];
  char tok[33];
  randombytes_buf(rnd, sizeof rnd);
  sodium_bin2hex(tok, sizeof tok, rnd, sizeof rnd);
  snprintf(r->cookie, sizeof r->cookie, "tsr_login=%s; Path=/login; HttpOnly; SameSite=Strict%s", tok,
           r->S->tls ? "; Secure" : "");
  r->set_cookie = 1;
  head(r, &b, "Log in");
  srv_buf_puts(&b, "<section class=\"narrow\"><h1>Log in</h1>");
  if (err) {
    srv_buf_puts(&b, "<p class=\"alert\" role=\"alert\">");
    srv_buf_html(&b, err);
    srv_buf_puts(&b, "</p>");
  }
  srv_buf_puts(&b, "<form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"csrf\" value=\"");
  srv_buf_puts(&b, tok);
  srv_buf_puts(&b, "\"><input type=\"hidden\" name=\"next\" value=\"");
  const char *next = srv_req_arg(r, "next");
  if (!next) next = srv_req_field(r, "next");
  srv_buf_html(&b, next ? next : "/");
  srv_buf_puts(&b, "\"><label>User name <input name=\"name\" id=\"name\" autocomplete=\"username\" required maxlength=\"64\" autofocus></label>"
              "<label>Password <input name=\"password\" id=\"password\" type=\"password\" autocomplete=\"current-password\" required maxlength=\"1024\"></label>"
              "<button type=\"submit\">Log in</button></form>"
              "<p class=\"hint\">Accounts are created by an administrator with <code>tessera user add</code>.</p></section>");
  return finish(r, &b, status);
}

/* A local path to go to after login ("/" when next is anything else): one
 * leading '/', then no '/' or '\\' right after it, no backslash, space or
 * control character anywhere (browsers drop tabs and newlines and read '\\'
 * as '/', so "/\t/evil.example" and "/\\evil.example" leave the origin). */
static const char *safe_next(const char *next) {
  if (!next || next[0] != '/' || next[1] == '/') return "/";
  for (const unsigned char *p = (const unsigned char *)next; *p; p++)
    if (*p <= 0x20 || *p == 0x7f || *p == '\\') return "/";
  return next;
}

static enum MHD_Result login_post(srv_req *r) {
  const char *name = srv_req_field(r, "name"), *pw = srv_req_field(r, "password"), *tok = srv_req_field(r, "csrf");
  const char *cookie = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, "tsr_login");
  if (!tok || !cookie || strlen(tok) != strlen(cookie) || sodium_memcmp(tok, cookie, strlen(tok)) != 0)
    return login_page(r, "Your login form had expired. Please try again.", 403);
  if (!name || !pw || !*name || !*pw) return login_page(r, "Enter your user name and password.", 400);
  tsr_web_user *u = NULL;
  char msg[200];
  int code = srv_auth_login(r, name, pw, &u, msg, sizeof msg);
  if (code) {
    char m[300];
    snprintf(m, sizeof m, "%s%s", msg, code == 401 ? ". Check both and try again." : ".");
    m[0] = (char)(m[0] >= 'a' && m[0] <= 'z' ? m[0] - 32 : m[0]);
    return login_page(r, m, code);
  }
  int bad = srv_auth_session_new(r, u);
  tsr_store_free(u);
  if (bad) return srv_page_error(r, 500, "Something went wrong", "the session could not be created; try again");
  return srv_send_redirect(r, safe_next(srv_req_field(r, "next")));
}

/* ================================================================ datasets */

typedef struct ids {
  int64_t v[200];
  size_t n;
} ids;

static int ids_ds_cb(void *ctx, const tsr_dataset *d) {
  ids *x = ctx;
  if (x->n < 200) x->v[x->n++] = d->id;
  return x->n >= 200;
}

static enum MHD_Result datasets_page(srv_req *r, tsr_store *st) {
  srv_buf b = {0};
  head(r, &b, "Datasets");
  srv_buf_puts(&b, "<h1>Datasets</h1>");
  ids x = {{0}, 0};
  tsr_store_datasets_list(st, 1000, 0, ids_ds_cb, &x, NULL);
  if (!x.n)
    srv_buf_puts(&b, "<section class=\"card welcome\" id=\"welcome\"><h2>Welcome to tessera</h2><p>Start here: upload a "
                "file of purchases (one row per purchase with a customer, a date and an amount). You then check "
                "its first rows, say which column is which, and start the analysis. The <a href=\"/help#start\">"
                "help</a> walks you through it.</p></section>");
  if (srv_role_rank(r->user->role) >= 2) {
    srv_buf_puts(&b, "<section class=\"card\"><h2>Upload a transaction file</h2>"
                "<form method=\"post\" action=\"/datasets\" enctype=\"multipart/form-data\" id=\"upload-form\">");
    csrf_field(r, &b);
    srv_buf_puts(&b, "<label>CSV file <input type=\"file\" name=\"file\" id=\"file\" accept=\".csv,.txt,.tsv,text/csv\" required></label>"
                "<p class=\"hint\">One row per purchase with a customer id, a date and an amount. Largest file: ");
    views_bytes(&b, (double)r->S->cfg.max_upload);
    srv_buf_puts(&b, ". See <a href=\"/help#formats\">file formats</a>.</p><button type=\"submit\">Upload</button></form></section>");
  }
  srv_buf_puts(&b, "<div class=\"scroll\"><table class=\"data\"><thead><tr><th>id</th><th>name</th><th>uploaded</th><th>size</th><th>owner</th><th></th></tr></thead><tbody>");
  size_t shown = 0;
  for (size_t i = 0; i < x.n; i++) {
    json_t *o = srv_view_dataset(st, x.v[i], 0, NULL);
    if (!o) continue;
    shown++;
    srv_buf_printf(&b, "<tr><td>%lld</td><td><a href=\"/datasets/%lld\">", (long long)x.v[i], (long long)x.v[i]);
    srv_buf_html(&b, js(o, "name"));
    srv_buf_puts(&b, "</a></td><td>");
    srv_buf_html(&b, js(o, "created_at"));
    srv_buf_puts(&b, "</td><td class=\"num\">");
    views_bytes(&b, jd(o, "bytes"));
    srv_buf_puts(&b, "</td><td>");
    srv_buf_html(&b, js(o, "owner"));
    srv_buf_printf(&b, "</td><td><a class=\"button\" href=\"/datasets/%lld\">Preview and analyse</a></td></tr>", (long long)x.v[i]);
    json_decref(o);
  }
  if (!shown) srv_buf_puts(&b, "<tr><td colspan=\"6\">No datasets yet: upload a file above.</td></tr>");
  srv_buf_puts(&b, "</tbody></table></div>");
  return finish(r, &b, 200);
}

static void param_input(srv_req *r, srv_buf *b, const tsr_param *p, const char *value, json_t *columns,
                        const char *err_field, const char *err_msg) {
  char range[200];
  (void)r;
  srv_buf_printf(b, "<div class=\"field%s\" id=\"f-%s\"><label for=\"p-%s\">", err_field && !strcmp(err_field, p->name) ? " invalid" : "",
            p->name, p->name);
  srv_buf_html(b, views_param_label(p->name));
  if (p->unit[0]) {
    srv_buf_puts(b, " <span class=\"unit\">(");
    srv_buf_html(b, p->unit);
    srv_buf_puts(b, ")</span>");
  }
  srv_buf_puts(b, "</label>");
  int is_col = columns && (!strcmp(p->name, "customer_col") || !strcmp(p->name, "date_col") ||
                           !strcmp(p->name, "amount_col") || !strcmp(p->name, "id_col"));
  if (is_col) {
    srv_buf_printf(b, "<select name=\"%s\" id=\"p-%s\"><option value=\"\">(detect automatically%s)</option>", p->name, p->name,
              !strcmp(p->name, "id_col") ? ": none" : "");
    size_t i;
    json_t *c;
    json_array_foreach(columns, i, c) {
      const char *cn = json_string_value(c);
      if (!cn) continue;
      srv_buf_puts(b, "<option value=\"");
      srv_buf_html(b, cn);
      srv_buf_puts(b, "\"");
      if (value && !strcmp(value, cn)) srv_buf_puts(b, " selected");
      srv_buf_puts(b, ">");
      srv_buf_html(b, cn);
      srv_buf_puts(b, "</option>");
    }
    srv_buf_puts(b, "</select>");
  } else if (p->type == TSR_PARAM_CHOICE) {
    srv_buf_printf(b, "<select name=\"%s\" id=\"p-%s\">", p->name, p->name);
    char buf[200];
    snprintf(buf, sizeof buf, "%s", p->choices);
    char *save = NULL;
    const char *sel = value && *value ? value : p->def;
    for (char *t = strtok_r(buf, "|", &save); t; t = strtok_r(NULL, "|", &save)) {
      srv_buf_puts(b, "<option value=\"");
      srv_buf_html(b, t);
      srv_buf_puts(b, "\"");
      if (!strcmp(t, sel)) srv_buf_puts(b, " selected");
      srv_buf_puts(b, ">");
      srv_buf_html(b, t);
      srv_buf_puts(b, "</option>");
    }
    srv_buf_puts(b, "</select>");
  } else {
    srv_buf_printf(b, "<input name=\"%s\" id=\"p-%s\"", p->name, p->name);
    if (p->type == TSR_PARAM_NUMBER || p->type == TSR_PARAM_INTEGER)
      srv_buf_printf(b, " inputmode=\"decimal\" data-min=\"%.17g\" data-max=\"%.17g\" data-open=\"%d\" data-int=\"%d\"", p->min, p->max,
                p->min_open, p->type == TSR_PARAM_INTEGER);
    if (p->type == TSR_PARAM_DATE) srv_buf_puts(b, " placeholder=\"YYYY-MM-DD\" data-date=\"1\"");
    srv_buf_printf(b, " maxlength=\"%d\" value=\"", TSR_PARAM_TEXT_MAX);
    srv_buf_html(b, value && *value ? value : p->def);
    srv_buf_puts(b, "\">");
  }
  srv_buf_puts(b, "<span class=\"range\">");
  srv_buf_html(b, tsr_param_range(p, range, sizeof range));
  if (p->def[0]) {
    srv_buf_puts(b, "; default ");
    srv_buf_html(b, p->def);
  }
  srv_buf_puts(b, "</span><span class=\"help\">");
  srv_buf_html(b, p->description);
  srv_buf_puts(b, "</span><span class=\"error-msg\" role=\"alert\">");
  if (err_field && !strcmp(err_field, p->name)) srv_buf_html(b, err_msg);
  srv_buf_puts(b, "</span></div>");
}

static enum MHD_Result dataset_page(srv_req *r, tsr_store *st, int64_t id, srv_job *form, const char *err_field,
                                    const char *err_msg, int status) {
  tsr_error e;
  json_t *o = srv_view_dataset(st, id, 1, &e);
  if (!o) return srv_page_error(r, srv_status_http(e.code), "Dataset not found", e.msg);
  srv_buf b = {0};
  head(r, &b, js(o, "name"));
  srv_buf_puts(&b, "<h1>Dataset ");
  srv_buf_html(&b, js(o, "name"));
  srv_buf_puts(&b, "</h1><p class=\"meta\">");
  views_bytes(&b, jd(o, "bytes"));
  srv_buf_puts(&b, ", uploaded ");
  srv_buf_html(&b, js(o, "created_at"));
  srv_buf_puts(&b, " by ");
  srv_buf_html(&b, js(o, "owner"));
  srv_buf_puts(&b, ", checksum <code>");
  srv_buf_html(&b, js(o, "checksum"));
  srv_buf_puts(&b, "</code></p>");
  json_t *pv = json_object_get(o, "preview"), *cols = json_object_get(pv, "columns"),
         *rows = json_object_get(pv, "rows"), *guess = json_object_get(pv, "guess"),
         *probs = json_object_get(pv, "problems");
  srv_buf_puts(&b, "<h2>First rows</h2><div class=\"scroll\"><table class=\"data\" id=\"preview\"><thead><tr>");
  size_t i, k;
  json_t *c, *row, *cell;
  json_array_foreach(cols, i, c) {
    srv_buf_puts(&b, "<th>");
    srv_buf_html(&b, json_string_value(c));
    srv_buf_puts(&b, "</th>");
  }
  srv_buf_puts(&b, "</tr></thead><tbody>");
  json_array_foreach(rows, i, row) {
    srv_buf_puts(&b, "<tr>");
    json_array_foreach(row, k, cell) {
      srv_buf_puts(&b, "<td>");
      srv_buf_html(&b, json_string_value(cell));
      srv_buf_puts(&b, "</td>");
    }
    srv_buf_puts(&b, "</tr>");
  }
  srv_buf_puts(&b, "</tbody></table></div>");
  if (json_array_size(probs)) {
    srv_buf_puts(&b, "<div class=\"alert\"><p>Problems in the first rows (such rows are rejected and reported when the analysis runs):</p><ul>");
    json_array_foreach(probs, i, c) {
      srv_buf_puts(&b, "<li>");
      srv_buf_html(&b, json_string_value(c));
      srv_buf_puts(&b, "</li>");
    }
    srv_buf_puts(&b, "</ul></div>");
  }
  if (srv_role_rank(r->user->role) >= 2) {
    srv_buf_puts(&b, "<h2>New analysis</h2>");
    if (err_msg) {
      srv_buf_puts(&b, "<p class=\"alert\" role=\"alert\" id=\"form-error\">Please correct this: ");
      web_html(r, &b, err_msg);
      srv_buf_puts(&b, "</p>");
    } else if (form) {
      srv_buf_puts(&b, "<p class=\"hint\" id=\"form-from-run\">The inputs of run ");
      srv_buf_html(&b, srv_req_arg(r, "run"));
      srv_buf_puts(&b, " are filled in: check the column mapping and start again.</p>");
    }
    srv_buf_puts(&b, "<form method=\"post\" action=\"/runs\" id=\"analysis-form\" novalidate>");
    csrf_field(r, &b);
    srv_buf_printf(&b, "<input type=\"hidden\" name=\"dataset_id\" value=\"%lld\">", (long long)id);
    static const char *const groups[] = {"<fieldset id=\"column-mapping\"><legend>Column mapping</legend>",
                                         "<fieldset><legend>Forecast</legend>",
                                         "<details class=\"advanced\" id=\"advanced\"%s><summary>Advanced options "
                                         "(periods, cleaning, segments, models, clusters)</summary><fieldset>"};
    for (int g = 0; g < 3; g++) {
    if (g == 2) srv_buf_printf(&b, groups[2], err_field && views_param_group(err_field) == 2 ? " open" : "");
    else srv_buf_puts(&b, groups[g]);
    for (size_t p = 0; p < tsr_params_count(); p++) {
      const tsr_param *pp = tsr_param_at(p);
      if (views_param_group(pp->name) != g) continue;
      const char *val = NULL;
      if (form) {
        const tsr_param_value *fv = tsr_params_cvalue(&form->params, p);
        if (fv->given) val = fv->text;
        if (!val && err_field && !strcmp(err_field, pp->name)) val = srv_req_field(r, pp->name);
      }
      if (!val && !form && guess) val = js(guess, pp->name);
      param_input(r, &b, pp, val, cols, err_field, err_msg);
    }
    srv_buf_puts(&b, g == 2 ? "</fieldset></details>" : "</fieldset>");
    }
    srv_buf_puts(&b, "<button type=\"submit\" id=\"start\">Start the analysis</button></form>");
    srv_buf_printf(&b, "<form method=\"post\" action=\"/datasets/%lld/delete\" class=\"inline danger\">", (long long)id);
    csrf_field(r, &b);
    srv_buf_puts(&b, "<button type=\"submit\" data-confirm=\"Delete this dataset?\">Delete dataset</button></form>");
  }
  json_decref(o);
  return finish(r, &b, status);
}

/* ================================================================ runs, jobs */

/* After a failed analysis: back to its dataset with the run's inputs
 * filled in (the column mapping first). */
static void retry_link(srv_buf *b, int64_t dataset, int64_t run) {
  if (dataset <= 0) return;
  srv_buf_printf(b, "<p class=\"retry\" id=\"retry\">Check <a id=\"retry-link\" href=\"/datasets/%lld?run=%lld#column-mapping\">"
                    "the dataset and its column mapping</a> (the inputs of this run are filled in) and start the analysis again.</p>",
                 (long long)dataset, (long long)run);
}

static void progress_bar(srv_buf *b, double pct, const char *id) {
  srv_buf_printf(b, "<div class=\"progress\"%s%s%s><div class=\"bar\" data-pct=\"%.1f\"></div><span>%.0f%%</span></div>",
            id ? " id=\"" : "", id ? id : "", id ? "\"" : "", pct, pct);
}

typedef struct jobs_pg {
  srv_req *r;
  srv_buf *b;
} jobs_pg;

static void job_row_cb(void *ctx, const srv_job *j) {
  srv_buf *b = ((jobs_pg *)ctx)->b;
  srv_req *ctx_req = ((jobs_pg *)ctx)->r;
  srv_buf_printf(b, "<tr data-job=\"%lld\"><td><a href=\"/jobs/%lld\">%lld</a></td><td>", (long long)j->id, (long long)j->id,
            (long long)j->id);
  srv_buf_html(b, srv_job_state_name(j->state));
  srv_buf_puts(b, "</td><td>");
  srv_buf_html(b, j->step);
  srv_buf_puts(b, "</td><td>");
  progress_bar(b, j->frac * 100, NULL);
  srv_buf_printf(b, "</td><td class=\"num\">%lld</td><td>", (long long)j->rows);
  if (j->run_id) srv_buf_printf(b, "<a href=\"/runs/%lld\">run %lld</a>", (long long)j->run_id, (long long)j->run_id);
  srv_buf_puts(b, "</td><td>");
  srv_buf_html(b, j->owner_name);
  srv_buf_puts(b, "</td><td>");
  web_html(ctx_req, b, j->error);
  srv_buf_puts(b, "</td></tr>");
}

static enum MHD_Result jobs_page(srv_req *r) {
  srv_buf b = {0};
  head(r, &b, "Jobs");
  srv_buf_puts(&b, "<h1>Jobs</h1><p class=\"hint\">Analyses started on this server since it started. The page refreshes while jobs run.</p>"
              "<table class=\"data\" id=\"jobs\" data-poll=\"1\"><thead><tr><th>job</th><th>state</th><th>step</th><th>progress</th><th>rows read</th><th>run</th><th>owner</th><th>error</th></tr></thead><tbody>");
  size_t before = b.n;
  jobs_pg pg = {r, &b};
  srv_jobs_each(r->S, job_row_cb, &pg);
  if (b.n == before) srv_buf_puts(&b, "<tr><td colspan=\"8\">No jobs yet. Start one from a <a href=\"/datasets\">dataset</a>.</td></tr>");
  srv_buf_puts(&b, "</tbody></table>");
  return finish(r, &b, 200);
}

static enum MHD_Result job_page(srv_req *r, int64_t id) {
  srv_job j;
  if (srv_jobs_get(r->S, id, &j)) return srv_page_error(r, 404, "Job not found", "this job is unknown (jobs are remembered while the server runs; see Runs for stored results)");
  srv_buf b = {0};
  head(r, &b, "Job");
  srv_buf_printf(&b, "<h1>Analysis job %lld</h1><div id=\"job\" data-job=\"%lld\">", (long long)id, (long long)id);
  srv_buf_puts(&b, "<p>State: <strong id=\"job-state\">");
  srv_buf_html(&b, srv_job_state_name(j.state));
  srv_buf_puts(&b, "</strong>, step <span id=\"job-step\">");
  srv_buf_html(&b, j.step);
  srv_buf_printf(&b, "</span>, <span id=\"job-rows\">%lld</span> rows read</p>", (long long)j.rows);
  progress_bar(&b, j.frac * 100, "job-progress");
  srv_buf_puts(&b, "<p id=\"job-error\" class=\"alert\"");
  if (!j.error[0]) srv_buf_puts(&b, " hidden");
  srv_buf_puts(&b, ">");
  web_html(r, &b, j.error);
  srv_buf_puts(&b, "</p><p id=\"job-link\">");
  if (j.run_id) srv_buf_printf(&b, "<a href=\"/runs/%lld\" id=\"run-link\">Open the dashboard of run %lld</a>", (long long)j.run_id, (long long)j.run_id);
  srv_buf_puts(&b, "</p>");
  if (j.state == SRV_JOB_FAILED) retry_link(&b, j.upload_id, j.run_id);
  if (j.state == SRV_JOB_QUEUED || j.state == SRV_JOB_RUNNING) {
    srv_buf_printf(&b, "<form method=\"post\" action=\"/jobs/%lld/cancel\" id=\"cancel-form\">", (long long)id);
    csrf_field(r, &b);
    srv_buf_puts(&b, "<button type=\"submit\">Cancel</button></form>");
  }
  srv_buf_puts(&b, "</div>");
  return finish(r, &b, 200);
}

typedef struct runs_pg {
  srv_buf *b;
  size_t n;
  tsr_store *st;
  srv_req *r;
} runs_pg;

/* A row of the runs table, rendered from the run's view (views.c). */
static int runs_row_cb(void *ctx, const tsr_run *run) {
  runs_pg *p = ctx;
  srv_buf *b = p->b;
  json_t *v = srv_view_run_row(p->r->S, p->st, run);
  p->n++;
  srv_buf_printf(b, "<tr><td><a href=\"/runs/%lld\">%lld</a></td><td>", (long long)run->id, (long long)run->id);
  srv_buf_html(b, js(v, "created_at"));
  srv_buf_puts(b, "</td><td>");
  srv_buf_html(b, js(v, "command"));
  srv_buf_puts(b, "</td><td><span class=\"status ");
  srv_buf_html(b, js(v, "status"));
  srv_buf_puts(b, "\">");
  srv_buf_html(b, js(v, "status"));
  srv_buf_puts(b, "</span></td><td>");
  srv_buf_html(b, js(v, "source"));
  srv_buf_printf(b, "</td><td class=\"num\">%.0f</td><td>", jd(v, "customers"));
  srv_buf_html(b, js(v, "error")); /* in words already */
  srv_buf_puts(b, "</td></tr>");
  json_decref(v);
  return p->n >= 200;
}

static enum MHD_Result runs_page(srv_req *r, tsr_store *st) {
  srv_buf b = {0};
  head(r, &b, "Runs");
  srv_buf_puts(&b, "<h1>Runs</h1><table class=\"data\"><thead><tr><th>run</th><th>created</th><th>command</th><th>status</th><th>input</th><th>customers</th><th>error</th></tr></thead><tbody>");
  runs_pg p = {&b, 0, st, r};
  tsr_store_runs_list(st, 200, 0, runs_row_cb, &p, NULL);
  if (!p.n) srv_buf_puts(&b, "<tr><td colspan=\"7\">No runs yet. <a href=\"/datasets\">Upload a file of purchases</a> to start your first analysis.</td></tr>");
  srv_buf_puts(&b, "</tbody></table>");
  return finish(r, &b, 200);
}

static void kpi(srv_buf *b, const char *label, const char *id) {
  srv_buf_printf(b, "<div class=\"kpi\" id=\"kpi-%s\"><span class=\"label\">", id);
  srv_buf_html(b, label);
  srv_buf_puts(b, "</span><span class=\"value\">");
}

static enum MHD_Result run_page(srv_req *r, tsr_store *st, int64_t id) {
  tsr_error e;
  tsr_error_clear(&e);
  json_t *res = srv_view_run_results(r->S, st, id, &e);
  if (!res) return srv_page_error(r, srv_status_http(e.code), "Run not found", e.msg);
  json_t *run = json_object_get(res, "run"), *k = json_object_get(res, "kpis");
  srv_buf b = {0};
  char title[64];
  snprintf(title, sizeof title, "Run %lld", (long long)id);
  r->want_report = !strcmp(js(run, "status"), "done");
  head(r, &b, title);
  srv_buf_printf(&b, "<h1>Run %lld <span class=\"status ", (long long)id);
  srv_buf_html(&b, js(run, "status"));
  srv_buf_puts(&b, "\">");
  srv_buf_html(&b, js(run, "status"));
  srv_buf_puts(&b, "</span></h1><p class=\"meta\">Input ");
  srv_buf_html(&b, js(run, "source"));
  srv_buf_puts(&b, ", started ");
  srv_buf_html(&b, js(run, "started_at"));
  srv_buf_printf(&b, " &middot; <a href=\"/events?run=%lld\">event log</a> &middot; <a href=\"/api/v1/runs/%lld/results\">JSON</a></p>",
            (long long)id, (long long)id);
  const char *status = js(run, "status");
  if (strcmp(status, "done")) {
    srv_buf_puts(&b, "<p class=\"alert\">");
    if (!strcmp(status, "running")) srv_buf_puts(&b, "This analysis is still running; see <a href=\"/jobs\">Jobs</a>.");
    else {
      srv_buf_puts(&b, "This analysis did not finish: ");
      srv_buf_html(&b, js(run, "error"));
    }
    srv_buf_puts(&b, "</p>");
    if (strcmp(status, "running")) retry_link(&b, json_integer_value(json_object_get(run, "dataset_id")), id);
    json_t *rej = json_object_get(run, "rejects");
    if (json_array_size(rej)) {
      srv_buf_puts(&b, "<h2>Rejected rows</h2><table class=\"data\" id=\"rejects\"><thead><tr><th>line</th><th>column</th><th>field</th><th>reason</th><th>row</th></tr></thead><tbody>");
      size_t i;
      json_t *x;
      json_array_foreach(rej, i, x) {
        srv_buf_printf(&b, "<tr><td class=\"num\">%.0f</td><td class=\"num\">%.0f</td><td>", jd(x, "line"), jd(x, "column"));
        srv_buf_html(&b, js(x, "field"));
        srv_buf_puts(&b, "</td><td>");
        srv_buf_html(&b, js(x, "reason"));
        srv_buf_puts(&b, "</td><td><code>");
        srv_buf_html(&b, js(x, "raw"));
        srv_buf_puts(&b, "</code></td></tr>");
      }
      srv_buf_puts(&b, "</tbody></table>");
    }
    json_decref(res);
    return finish(r, &b, 200);
  }
  views_run_top(&b, id);
  json_t *units = view_units(st, id);
  /* KPIs */
  srv_buf_puts(&b, "<section class=\"kpis\">");
  kpi(&b, "Customers", "customers"); fmt_num(&b, jd(k, "customers"), 0); srv_buf_puts(&b, "</span></div>");
  kpi(&b, "Purchases", "purchases"); fmt_num(&b, jd(k, "transactions"), 0); srv_buf_puts(&b, "</span></div>");
  kpi(&b, "Visits (active days)", "visits"); fmt_num(&b, jd(k, "visits"), 0); srv_buf_puts(&b, "</span></div>");
  kpi(&b, "Revenue", "revenue"); fmt_num(&b, jd(k, "revenue"), 2); srv_buf_puts(&b, "</span></div>");
  kpi(&b, "First join", "first"); srv_buf_html(&b, js(k, "first_purchase")); srv_buf_puts(&b, "</span></div>");
  kpi(&b, "Last activity", "last"); srv_buf_html(&b, js(k, "last_purchase")); srv_buf_puts(&b, "</span></div>");
  kpi(&b, "Churn rate", "churn"); fmt_pct(&b, jd(k, "churn_rate")); srv_buf_puts(&b, "</span></div>");
  kpi(&b, "Mean P(alive)", "palive"); fmt_num(&b, jd(k, "mean_p_alive"), 3); srv_buf_puts(&b, "</span></div>");
  kpi(&b, "Total CLV", "clv"); fmt_num(&b, jd(k, "clv_total"), 2); srv_buf_puts(&b, "</span></div>");
  kpi(&b, "Mean CLV", "clvmean"); fmt_num(&b, jd(k, "clv_mean"), 2); srv_buf_puts(&b, "</span></div>");
  kpi(&b, "Bought again", "repeat"); fmt_pct(&b, jd(k, "repeat_share")); srv_buf_puts(&b, "</span></div>");
  kpi(&b, "Revenue of top 20%", "top20"); fmt_pct(&b, jd(k, "top20_revenue_share")); srv_buf_puts(&b, "</span></div>");
  srv_buf_puts(&b, "</section><p class=\"hint\" id=\"units\">Amounts (revenue, spend, CLV) are in ");
  srv_buf_html(&b, *js(units, "currency") ? js(units, "currency") : "the currency of the data");
  srv_buf_puts(&b, "; recency and customer age are in ");
  srv_buf_html(&b, js(units, "period"));
  srv_buf_puts(&b, ". Every figure is defined in the <a href=\"/help#glossary\">glossary</a>.</p>");
  /* charts (drawn by app.js) */
  srv_buf_printf(&b, "<section class=\"charts\" id=\"charts\" data-run=\"%lld\">", (long long)id);
  static const char *const charts[][2] = {
      {"segments", "Customers and revenue share by RFM segment"},
      {"rfgrid", "Recency x frequency scores: customers (colour) and mean spend"},
      {"clusters", "Clusters: size (bars, left axis) and mean CLV (dots, right axis)"},
      {"palive", "P(alive): distribution"},
      {"frequency", "Repeat purchases: distribution"},
      {"clvhist", "CLV: distribution"}};
  for (size_t i = 0; i < sizeof charts / sizeof *charts; i++) {
    srv_buf_printf(&b, "<figure class=\"chart\"><figcaption>%s</figcaption><div class=\"plot\" id=\"chart-%s\" data-chart=\"%s\"></div></figure>",
              charts[i][1], charts[i][0], charts[i][0]);
  }
  srv_buf_puts(&b, "</section>");
  /* segments */
  srv_buf_puts(&b, "<h2>RFM segments</h2><div class=\"scroll\"><table class=\"data\" id=\"segments\"><thead><tr><th>segment</th><th>what it means</th><th>suggested action</th><th>customers</th><th>share</th><th>mean R score (1-5)</th><th>mean F score (1-5)</th><th>mean M score (1-5)</th><th>revenue</th><th>revenue share</th></tr></thead><tbody>");
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(res, "segments"), i, s) {
    char lb[80];
    if (jd(s, "customers") <= 0) continue;
    srv_buf_printf(&b, "<tr><td><a href=\"/runs/%lld/segments/", (long long)id);
    srv_buf_url(&b, js(s, "segment"));
    srv_buf_puts(&b, "\">");
    srv_buf_html(&b, views_segment_label(js(s, "segment"), lb, sizeof lb));
    srv_buf_puts(&b, "</a></td>");
    views_segment_cells(&b, js(s, "segment"));
    srv_buf_puts(&b, "<td class=\"num\">");
    fmt_num(&b, jd(s, "customers"), 0);
    srv_buf_puts(&b, "</td><td class=\"num\">");
    fmt_pct(&b, jd(s, "share"));
    srv_buf_puts(&b, "</td><td class=\"num\">");
    fmt_num(&b, jd(s, "mean_r"), 2);
    srv_buf_puts(&b, "</td><td class=\"num\">");
    fmt_num(&b, jd(s, "mean_f"), 2);
    srv_buf_puts(&b, "</td><td class=\"num\">");
    fmt_num(&b, jd(s, "mean_m"), 2);
    srv_buf_puts(&b, "</td><td class=\"num\">");
    fmt_num(&b, jd(s, "revenue"), 2);
    srv_buf_puts(&b, "</td><td class=\"num\">");
    fmt_pct(&b, jd(s, "revenue_share"));
    srv_buf_puts(&b, "</td></tr>");
  }
  srv_buf_puts(&b, "</tbody></table></div>");
  /* clusters */
  json_t *agg = json_object_get(res, "aggregates");
  json_t *cl = json_object_get(agg, "clusters");
  if (json_array_size(cl)) {
    srv_buf_puts(&b, "<h2>Clusters</h2><div class=\"scroll\"><table class=\"data\" id=\"clusters\"><thead><tr><th>cluster</th><th>customers</th><th>mean frequency (repeat periods)</th><th>mean recency (");
    srv_buf_html(&b, js(units, "period"));
    srv_buf_puts(&b, ")</th><th>mean customer age T (");
    srv_buf_html(&b, js(units, "period"));
    srv_buf_puts(&b, ")</th><th>mean spend</th><th>mean CLV</th><th>mean P(alive)</th><th>revenue</th></tr></thead><tbody>");
    json_array_foreach(cl, i, s) {
      srv_buf_printf(&b, "<tr><td><a href=\"/runs/%lld/clusters/%.0f\">%.0f</a></td><td class=\"num\">", (long long)id, jd(s, "cluster"), jd(s, "cluster"));
      fmt_num(&b, jd(s, "customers"), 0);
      const char *keys[] = {"mean_frequency", "mean_recency", "mean_T", "mean_monetary", "mean_clv", "mean_p_alive", "revenue"};
      for (size_t q = 0; q < 7; q++) {
        srv_buf_puts(&b, "</td><td class=\"num\">");
        fmt_num(&b, jd(s, keys[q]), q == 5 ? 3 : 2);
      }
      srv_buf_puts(&b, "</td></tr>");
    }
    srv_buf_puts(&b, "</tbody></table></div>");
  }
  views_run_extras(&b, id);
  /* models */
  srv_buf_puts(&b, "<h2>Model fits</h2>");
  views_models_table(&b, json_object_get(res, "models"));
  srv_buf_printf(&b, "<h2>Detailed report</h2><p class=\"hint\">The same charts as the HTML report of "
                "<code>tessera report %lld</code>: feature distributions and relations, RFM, clusters, "
                "model checks, top customers and those at risk.</p>"
                "<div class=\"tsr-report\" id=\"report\" data-run=\"%lld\"><p class=\"hint\">Loading the report...</p></div>",
            (long long)id, (long long)id);
  json_decref(units);
  json_decref(res);
  return finish(r, &b, 200);
}

/* ---------------------------------------------------------------- segment / cluster lists */

/* A row of the customer list, rendered from its view (srv_view_customer_row). */
static void cust_row(srv_buf *b, int64_t run, json_t *c) {
  srv_buf_printf(b, "<tr><td><a href=\"/runs/%lld/customers/", (long long)run);
  srv_buf_url(b, js(c, "customer_id"));
  srv_buf_puts(b, "\">");
  srv_buf_html(b, js(c, "customer_id"));
  srv_buf_puts(b, "</a></td><td class=\"num\">");
  fmt_num(b, jd(c, "frequency"), 0);
  srv_buf_puts(b, "</td><td class=\"num\">");
  fmt_num(b, jd(c, "recency"), 1);
  srv_buf_puts(b, "</td><td class=\"num\">");
  fmt_num(b, jd(c, "monetary_value"), 2);
  srv_buf_puts(b, "</td><td class=\"num\">");
  fmt_num(b, jd(c, "revenue"), 2);
  srv_buf_puts(b, "</td><td>");
  srv_buf_html(b, js(c, "rfm_cell"));
  srv_buf_puts(b, "</td><td class=\"num\">");
  fmt_num(b, jd(c, "expected_purchases"), 2);
  srv_buf_puts(b, "</td><td class=\"num\">");
  fmt_num(b, jd(c, "p_alive"), 3);
  srv_buf_puts(b, "</td><td class=\"num\">");
  fmt_num(b, jd(c, "clv"), 2);
  srv_buf_puts(b, "</td></tr>");
}

/* The page of a view that failed: 404 names what was not found. */
static enum MHD_Result view_error(srv_req *r, const tsr_error *e, const char *not_found) {
  tsr_status s = e->code != TSR_OK ? e->code : TSR_ESTORE;
  return srv_page_error(r, srv_status_http(s), s == TSR_ENOTFOUND ? not_found : "Something went wrong", e->msg);
}

static enum MHD_Result customers_page(srv_req *r, tsr_store *st, int64_t run, const char *segment, int64_t cluster) {
  static const char *const labels[] = {"customer", "frequency", "recency", "mean spend", "revenue",
                                       "RFM cell", "expected purchases", "P(alive)", "CLV"};
  tsr_customer_query q;
  tsr_customer_query_init(&q, run);
  q.segment = segment;
  q.cluster = cluster;
  q.sort = TSR_CUSTOMER_SORT_CLV;
  q.descending = 1;
  const char *order = srv_req_arg(r, "order");
  int sort = srv_customer_sort(srv_req_arg(r, "sort")); /* the page ignores what it does not know */
  if (sort >= 0) q.sort = (tsr_customer_sort)sort;
  if (order) q.descending = strcmp(order, "asc") != 0;
  int64_t page = 0;
  const char *pg = srv_req_arg(r, "page");
  if (pg && srv_parse_id(pg, &page)) page = 0;
  q.limit = 100;
  q.offset = page * 100;
  tsr_error e;
  tsr_error_clear(&e);
  json_t *v = srv_view_customers(st, &q, &e);
  if (!v) return view_error(r, &e, "Run not found");
  double total = jd(v, "total");
  srv_buf b = {0}, base = {0};
  char lb[80], title[160];
  if (segment) snprintf(title, sizeof title, "Segment %s", views_segment_label(segment, lb, sizeof lb));
  else snprintf(title, sizeof title, "Cluster %lld", (long long)cluster);
  head(r, &b, title);
  srv_buf_puts(&b, "<h1>");
  srv_buf_html(&b, title);
  srv_buf_printf(&b, "</h1><p class=\"meta\"><a href=\"/runs/%lld\">Run %lld</a> &middot; ", (long long)run, (long long)run);
  fmt_num(&b, total, 0);
  srv_buf_printf(&b, " customers &middot; <a id=\"csv-export\" href=\"/api/v1/runs/%lld/customers.csv?", (long long)run);
  if (segment) {
    srv_buf_puts(&b, "segment=");
    srv_buf_url(&b, segment);
  } else {
    srv_buf_printf(&b, "cluster=%lld", (long long)cluster);
  }
  srv_buf_puts(&b, "\">Download as CSV</a></p>");
  if (segment) {
    srv_buf_puts(&b, "<table class=\"meaning\" id=\"segment-meaning\"><tr><th>What it means</th><th>Suggested action</th></tr><tr>");
    views_segment_cells(&b, segment);
    srv_buf_puts(&b, "</tr></table>");
  }
  if (segment) {
    srv_buf_printf(&base, "/runs/%lld/segments/", (long long)run);
    srv_buf_url(&base, segment);
  } else {
    srv_buf_printf(&base, "/runs/%lld/clusters/%lld", (long long)run, (long long)cluster);
  }
  srv_buf_puts(&b, "<table class=\"data\" id=\"customers\"><thead><tr>");
  for (size_t i = 0; i < sizeof labels / sizeof *labels; i++) {
    int cur = (size_t)q.sort == i;
    srv_buf_puts(&b, "<th><a href=\"");
    srv_buf_puts(&b, base.p ? base.p : "");
    srv_buf_printf(&b, "?sort=%s&amp;order=%s\"%s>", srv_customer_sort_name((tsr_customer_sort)i),
                   cur && q.descending ? "asc" : "desc",
                   cur ? (q.descending ? " class=\"sorted desc\"" : " class=\"sorted asc\"") : "");
    srv_buf_html(&b, labels[i]);
    srv_buf_puts(&b, "</a></th>");
  }
  srv_buf_puts(&b, "</tr></thead><tbody>");
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(v, "customers"), i, c) cust_row(&b, run, c);
  srv_buf_puts(&b, "</tbody></table><p class=\"pager\">");
  const char *sn = srv_customer_sort_name(q.sort), *on = q.descending ? "desc" : "asc";
  if (page > 0) {
    srv_buf_puts(&b, "<a href=\"");
    srv_buf_puts(&b, base.p ? base.p : "");
    srv_buf_printf(&b, "?sort=%s&amp;order=%s&amp;page=%lld\">Previous</a> ", sn, on, (long long)page - 1);
  }
  if ((double)(page + 1) * 100 < total) {
    srv_buf_puts(&b, "<a href=\"");
    srv_buf_puts(&b, base.p ? base.p : "");
    srv_buf_printf(&b, "?sort=%s&amp;order=%s&amp;page=%lld\">Next</a>", sn, on, (long long)page + 1);
  }
  srv_buf_puts(&b, "</p>");
  srv_buf_free(&base);
  json_decref(v);
  return finish(r, &b, 200);
}

/* A KPI of the customer page: the value (digits, "&ndash;" when missing) and its unit. */
static void cust_kpi(srv_buf *b, const char *label, const char *id, double v, int digits, const char *unit) {
  kpi(b, label, id);
  fmt_num(b, v, digits);
  if (unit) sb_unit(b, unit);
  srv_buf_puts(b, "</span></div>");
}

static enum MHD_Result customer_page(srv_req *r, tsr_store *st, int64_t run, const char *cid) {
  tsr_error e;
  tsr_error_clear(&e);
  json_t *c = srv_view_customer(st, run, cid, &e);
  if (!c) return view_error(r, &e, "Customer not found");
  srv_buf b = {0};
  char title[300], lb[80];
  snprintf(title, sizeof title, "Customer %.256s", cid);
  head(r, &b, title);
  srv_buf_puts(&b, "<h1>Customer ");
  srv_buf_html(&b, cid);
  srv_buf_printf(&b, "</h1><p class=\"meta\"><a href=\"/runs/%lld\">Run %lld</a>", (long long)run, (long long)run);
  if (json_is_string(json_object_get(c, "segment"))) {
    srv_buf_printf(&b, " &middot; segment <a href=\"/runs/%lld/segments/", (long long)run);
    srv_buf_url(&b, js(c, "segment"));
    srv_buf_puts(&b, "\">");
    srv_buf_html(&b, views_segment_label(js(c, "segment"), lb, sizeof lb));
    srv_buf_puts(&b, "</a>");
  }
  json_t *cl = json_object_get(c, "cluster");
  if (json_is_integer(cl))
    srv_buf_printf(&b, " &middot; <a href=\"/runs/%lld/clusters/%lld\">cluster %lld</a>", (long long)run,
                   (long long)json_integer_value(cl), (long long)json_integer_value(cl));
  srv_buf_puts(&b, "</p>");
  json_t *units = view_units(st, run);
  const char *per = js(units, "period"), *cur = js(units, "currency");
  const char *money = *cur ? cur : "(data's currency)";
  srv_buf_puts(&b, "<section class=\"kpis\" id=\"profile\">");
  cust_kpi(&b, "Purchases", "transactions", jd(c, "transactions"), 0, NULL);
  cust_kpi(&b, "Revenue", "revenue", jd(c, "revenue"), 2, money);
  kpi(&b, "First purchase", "first"); srv_buf_puts(&b, js(c, "first_purchase")); srv_buf_puts(&b, "</span></div>");
  kpi(&b, "Last purchase", "last"); srv_buf_puts(&b, js(c, "last_purchase")); srv_buf_puts(&b, "</span></div>");
  cust_kpi(&b, "Frequency (repeat periods)", "frequency", jd(c, "frequency"), 0, NULL);
  cust_kpi(&b, "Recency (age at last purchase)", "recency", jd(c, "recency"), 1, per);
  cust_kpi(&b, "Customer age T", "T", jd(c, "T"), 1, per);
  cust_kpi(&b, "Mean spend per purchase", "monetary", jd(c, "monetary_value"), 2, money);
  kpi(&b, "RFM cell", "rfm"); srv_buf_html(&b, json_is_string(json_object_get(c, "rfm_cell")) ? js(c, "rfm_cell") : "-"); srv_buf_puts(&b, "</span></div>");
  cust_kpi(&b, "Expected purchases (forecast horizon)", "expected", jd(c, "expected_purchases"), 2, NULL);
  kpi(&b, "P(alive)", "palive"); fmt_pct(&b, jd(c, "p_alive")); srv_buf_puts(&b, "</span></div>");
  kpi(&b, "CLV", "clv"); fmt_num(&b, jd(c, "clv"), 2); sb_unit(&b, money);
  double lo = jd(c, "clv_lo"), hi = jd(c, "clv_hi");
  if (isfinite(lo) && isfinite(hi)) {
    srv_buf_puts(&b, " <small>(");
    fmt_num(&b, lo, 2);
    srv_buf_puts(&b, " to ");
    fmt_num(&b, hi, 2);
    srv_buf_puts(&b, ")</small>");
  }
  srv_buf_puts(&b, "</span></div></section>");
  json_decref(units);
  views_customer_extras(r, &b, run, cid);
  srv_buf_puts(&b, "<figure class=\"chart\"><figcaption>Purchase history (spend per day)</figcaption><div class=\"plot\" id=\"chart-history\" data-chart=\"history\"></div></figure>");
  srv_buf_puts(&b, "<h2>Transactions by day</h2><table class=\"data\" id=\"history\"><thead><tr><th>date</th><th>purchases</th><th>amount</th></tr></thead><tbody>");
  size_t i;
  json_t *h;
  json_array_foreach(json_object_get(c, "history"), i, h) {
    const char *day = js(h, "date");
    double amount = jd(h, "amount");
    long long ntx = (long long)json_integer_value(json_object_get(h, "purchases"));
    srv_buf_printf(&b, "<tr data-day=\"%s\" data-amount=\"%.17g\" data-n=\"%lld\"><td>", day, amount, ntx);
    srv_buf_puts(&b, day);
    srv_buf_printf(&b, "</td><td class=\"num\">%lld</td><td class=\"num\">", ntx);
    fmt_num(&b, amount, 2);
    srv_buf_puts(&b, "</td></tr>");
  }
  srv_buf_puts(&b, "</tbody></table>");
  json_decref(c);
  return finish(r, &b, 200);
}

/* ================================================================ events */

typedef struct ev_pg {
  srv_buf *b;
  size_t n;
  srv_req *r;
} ev_pg;

/* A row of the event log, rendered from the event's view (views.c). */
static int ev_row_cb(void *ctx, const tsr_event *e) {
  ev_pg *p = ctx;
  json_t *v = srv_view_event(p->r->S, e);
  p->n++;
  srv_buf_printf(p->b, "<tr class=\"lvl-%s\"><td>", tsr_log_level_name(e->level));
  srv_buf_html(p->b, js(v, "time"));
  srv_buf_printf(p->b, "</td><td><a href=\"/runs/%lld\">%lld</a></td><td>", (long long)e->run_id, (long long)e->run_id);
  srv_buf_html(p->b, js(v, "level"));
  srv_buf_puts(p->b, "</td><td>");
  srv_buf_html(p->b, js(v, "step"));
  srv_buf_puts(p->b, "</td><td>");
  srv_buf_html(p->b, js(v, "message")); /* in words already */
  srv_buf_puts(p->b, "</td><td class=\"num\">");
  if (json_is_integer(json_object_get(v, "rows_in"))) srv_buf_printf(p->b, "%.0f", jd(v, "rows_in"));
  srv_buf_puts(p->b, "</td><td class=\"num\">");
  if (jd(v, "duration_ms") >= 0) srv_buf_printf(p->b, "%.1f", jd(v, "duration_ms"));
  srv_buf_puts(p->b, "</td></tr>");
  json_decref(v);
  return p->n >= 2000;
}

static enum MHD_Result events_page(srv_req *r, tsr_store *st) {
  int64_t run = 0;
  const char *rs = srv_req_arg(r, "run"), *ls = srv_req_arg(r, "level");
  if (rs && *rs && srv_parse_id(rs, &run)) return srv_page_error(r, 400, "Request not understood", "run: expected a run number");
  tsr_log_level lvl = TSR_LOG_INFO;
  if (ls && *ls && tsr_log_level_parse(ls, &lvl) != TSR_OK)
    return srv_page_error(r, 400, "Request not understood", "level: expected info, warn or error");
  srv_buf b = {0};
  head(r, &b, "Event log");
  srv_buf_puts(&b, "<h1>Event log</h1><form method=\"get\" action=\"/events\" class=\"filters\"><label>Run <input name=\"run\" inputmode=\"numeric\" value=\"");
  if (run) srv_buf_printf(&b, "%lld", (long long)run);
  srv_buf_puts(&b, "\" placeholder=\"all\"></label><label>Level <select name=\"level\">");
  const char *lv[] = {"info", "warn", "error"};
  for (int i = 0; i < 3; i++)
    srv_buf_printf(&b, "<option value=\"%s\"%s>%s%s</option>", lv[i], (int)lvl == i ? " selected" : "", lv[i], i < 2 ? " and above" : "");
  srv_buf_puts(&b, "</select></label><button type=\"submit\">Filter</button></form>");
  srv_buf_puts(&b, "<table class=\"data\" id=\"events\"><thead><tr><th>time</th><th>run</th><th>level</th><th>step</th><th>message</th><th>rows</th><th>ms</th></tr></thead><tbody>");
  ev_pg p = {&b, 0, r};
  tsr_store_events_list(st, run, lvl, ev_row_cb, &p, NULL);
  if (!p.n) srv_buf_puts(&b, "<tr><td colspan=\"7\">No events match.</td></tr>");
  srv_buf_puts(&b, "</tbody></table>");
  return finish(r, &b, 200);
}

/* ================================================================ users */

static int user_row_cb(void *ctx, const tsr_web_user *u) {
  srv_req *r = ((void **)ctx)[0];
  srv_buf *b = ((void **)ctx)[1];
  char t[40];
  srv_buf_puts(b, "<tr><td>");
  srv_buf_html(b, u->name);
  srv_buf_puts(b, "</td><td>");
  srv_buf_html(b, u->role);
  srv_buf_puts(b, "</td><td>");
  srv_buf_html(b, tsr_store_time_format(u->created_at, t, sizeof t));
  srv_buf_puts(b, "</td><td>");
  if (strcmp(u->name, r->user->name)) {
    srv_buf_puts(b, "<form method=\"post\" class=\"inline\" action=\"/users/");
    srv_buf_url(b, u->name);
    srv_buf_puts(b, "/delete\">");
    csrf_field(r, b);
    srv_buf_puts(b, "<button type=\"submit\" data-confirm=\"Delete this account?\">Delete</button></form>");
  }
  srv_buf_puts(b, "</td></tr>");
  return 0;
}

static enum MHD_Result users_page(srv_req *r, tsr_store *st, const char *msg, int status) {
  srv_buf b = {0};
  head(r, &b, "Users");
  srv_buf_puts(&b, "<h1>Users</h1>");
  if (msg) {
    srv_buf_puts(&b, "<p class=\"alert\" role=\"alert\">");
    srv_buf_html(&b, msg);
    srv_buf_puts(&b, "</p>");
  }
  srv_buf_puts(&b, "<table class=\"data\"><thead><tr><th>name</th><th>role</th><th>created</th><th></th></tr></thead><tbody>");
  void *ctx[2] = {r, &b};
  tsr_web_users_list(st, user_row_cb, ctx, NULL);
  srv_buf_puts(&b, "</tbody></table><section class=\"card\"><h2>Add a user</h2><form method=\"post\" action=\"/users\">");
  csrf_field(r, &b);
  srv_buf_puts(&b, "<label>Name <input name=\"name\" required maxlength=\"64\"></label><label>Role <select name=\"role\"><option>viewer</option><option>analyst</option><option>admin</option></select></label>"
              "<label>Password <input name=\"password\" type=\"password\" required minlength=\"8\" maxlength=\"1024\" autocomplete=\"new-password\"></label>"
              "<span class=\"range\">at least 8 characters</span><button type=\"submit\">Add</button></form></section>");
  srv_buf_puts(&b, "<section class=\"card\"><h2>Retrain the models</h2><p class=\"hint\">Refits the models on every "
              "uploaded dataset and promotes the new version only if it is not worse on a holdout window "
              "(<code>tessera retrain</code>).</p><form method=\"post\" action=\"/retrain\">");
  csrf_field(r, &b);
  srv_buf_puts(&b, "<label><input type=\"checkbox\" name=\"force\" value=\"1\"> promote even if worse</label>"
              "<button type=\"submit\" id=\"retrain\">Retrain</button></form></section>");
  return finish(r, &b, status);
}

/* ================================================================ help */

static enum MHD_Result help_page(srv_req *r) {
  srv_buf b = {0};
  head(r, &b, "Help");
  srv_buf_puts(&b, "<h1>Help</h1><nav class=\"toc\"><a href=\"#start\">Getting started</a> <a href=\"#inputs\">Analysis inputs</a> <a href=\"#formats\">File formats</a> <a href=\"#limits\">Limits</a> <a href=\"#glossary\">Glossary</a></nav>");
  srv_buf_puts(&b, "<section id=\"start\"><h2>Getting started</h2><ol>"
              "<li>Go to <a href=\"/datasets\">Datasets</a> and upload a CSV file of purchases.</li>"
              "<li>Open the dataset: check the first rows, pick which column holds the customer, the date and the amount, and adjust the analysis inputs if needed (each shows its valid range).</li>"
              "<li>Start the analysis and follow it under <a href=\"/jobs\">Jobs</a>.</li>"
              "<li>Read the dashboard of the run: key figures, segments, clusters, model fits; open a segment to see its customers, or look up one customer.</li></ol></section>");
  srv_buf_puts(&b, "<section id=\"inputs\"><h2>Analysis inputs</h2><p>The same table drives this page, the form, the checks of the server and the <code>tessera analyze</code> command line.</p>"
              "<table class=\"data\" id=\"params\"><thead><tr><th>input</th><th>form name</th><th>command line</th><th>meaning</th><th>unit</th><th>valid values</th><th>default</th></tr></thead><tbody>");
  for (size_t i = 0; i < tsr_params_count(); i++) {
    const tsr_param *p = tsr_param_at(i);
    char range[200];
    srv_buf_printf(&b, "<tr id=\"param-%s\"><td>", p->name);
    srv_buf_html(&b, views_param_label(p->name));
    srv_buf_puts(&b, "</td><td><code>");
    srv_buf_html(&b, p->name);
    srv_buf_puts(&b, "</code></td><td><code>");
    srv_buf_html(&b, p->option);
    srv_buf_puts(&b, "</code></td><td>");
    srv_buf_html(&b, p->description);
    srv_buf_puts(&b, "</td><td>");
    srv_buf_html(&b, p->unit);
    srv_buf_puts(&b, "</td><td>");
    srv_buf_html(&b, tsr_param_range(p, range, sizeof range));
    srv_buf_puts(&b, "</td><td>");
    srv_buf_html(&b, p->def[0] ? p->def : "(automatic)");
    srv_buf_puts(&b, "</td></tr>");
  }
  srv_buf_puts(&b, "</tbody></table></section>");
  srv_buf_puts(&b, "<section id=\"formats\"><h2>File formats</h2>"
              "<p>A text file with one purchase per row, values separated by commas (or semicolons, tabs, | or spaces: choose the delimiter), the first row naming the columns. Needed: a customer id, a date, an amount. Other columns are ignored.</p>"
              "<pre>customer_id,date,amount\nC001,2024-01-05,19.90\nC002,2024-01-05T14:03:00Z,5.00\nC001,2024-02-11,\"1,250.00\"</pre>"
              "<p>Dates: ISO 8601 (<code>2024-01-05</code>, <code>2024-01-05T14:03:00Z</code>, <code>2024-01-05 14:03:00+02:00</code>, normalised to UTC), <code>20240105</code>, or your own format such as <code>%d/%m/%Y</code> in <em>date_format</em>. Dates must lie between 1970-01-01 and 2100-12-31.</p>"
              "<p>Amounts: plain decimals (<code>19.90</code>), optional currency symbols and quoted thousands separators (<code>\"$1,250.00\"</code>). Negative amounts are refunds.</p>"
              "<p>Rows that cannot be read (a missing customer id, a date or amount that is not one, a wrong number of fields) are rejected with their line number and reason, never silently dropped; the run lists them. With <em>max_errors</em> the analysis stops when more rows are rejected.</p></section>");
  srv_buf_printf(&b, "<section id=\"limits\"><h2>Limits</h2><ul><li>Largest upload: %lld bytes.</li><li>Largest form field: %d bytes; largest request body other than uploads: %d bytes.</li>"
                "<li>A field of the file may hold up to 65,536 bytes; a customer id up to 256 bytes.</li><li>Lists show at most 1,000 rows per page.</li></ul></section>",
            (long long)r->S->cfg.max_upload, SRV_MAX_FIELD, SRV_MAX_BODY);
  srv_buf_puts(&b, "<section id=\"glossary\"><h2>Glossary</h2><dl>"
              "<dt id=\"g-rfm\">RFM</dt><dd>Recency, Frequency, Monetary value: each customer gets a score from 1 to 5 on how recently they bought, how often, and how much, by quintiles of the customer base. The scores name a segment such as champions, at risk or hibernating.</dd>"
              "<dt id=\"g-frequency\">Frequency, recency, T</dt><dd>Frequency counts the periods with a repeat purchase (after the first). Recency is the age of the customer at the last purchase, T the age at the end of the observation, both in periods (weeks by default).</dd>"
              "<dt id=\"g-clv\">CLV (customer lifetime value)</dt><dd>The expected spend of a customer over the horizon, discounted by the monthly discount rate: expected purchases times expected spend per purchase, with an interval at the chosen level.</dd>"
              "<dt id=\"g-palive\">P(alive)</dt><dd>The probability that a customer is still active (has not silently left), given when and how often they bought. A customer who bought often and stopped long ago has a low P(alive).</dd>"
              "<dt id=\"g-bgnbd\">BG/NBD</dt><dd>The beta-geometric / negative binomial model (Fader, Hardie and Lee, 2005): while active a customer buys at random with a personal rate; after each purchase they may leave for good. It predicts expected purchases and P(alive). Gamma-Gamma models the spend per purchase.</dd>"
              "<dt id=\"g-churn\">Churn rate</dt><dd>The share of customers whose P(alive) is below the churn threshold (0.5 by default).</dd>"
              "<dt id=\"g-cluster\">Clusters</dt><dd>Groups of customers with similar behaviour (frequency, recency, spend, age) found by k-means or a Gaussian mixture; unlike segments they are learned from the data.</dd>"
              "<dt id=\"g-visits\">Visits</dt><dd>Days on which a customer bought at least once.</dd>");
  views_glossary(&b);
  srv_buf_puts(&b, "</dl></section>");
  return finish(r, &b, 200);
}

/* ================================================================ dispatch */

enum MHD_Result srv_page_run_post(srv_req *r) {
  tsr_store *st = r->st;
  int64_t ds = 0;
  if (srv_parse_id(srv_req_field(r, "dataset_id"), &ds) || ds <= 0)
    return srv_page_error(r, 400, "Request not understood", "the form did not say which dataset to analyse");
  char msg[600], field[64] = "";
  srv_job *j = NULL;
  int code = srv_jobs_prepare(r, ds, NULL, &j, msg, sizeof msg, field, sizeof field);
  if (code == 404) return srv_page_error(r, 404, "Dataset not found", "the dataset no longer exists");
  if (code == 400) {
    enum MHD_Result ret = dataset_page(r, st, ds, j, field, msg, 400);
    free(j);
    return ret;
  }
  if (code) return srv_page_error(r, 500, "Something went wrong", msg);
  int64_t id = srv_jobs_submit(r->S, j);
  if (!id) {
    free(j);
    return srv_page_error(r, 503, "Busy", "too many analyses are waiting; try again in a few minutes");
  }
  char loc[64];
  snprintf(loc, sizeof loc, "/jobs/%lld", (long long)id);
  return srv_send_redirect(r, loc);
}

/* ================================================================ handlers (routes.def) */

enum MHD_Result srv_page_login(srv_req *r) { return login_page(r, NULL, 200); }
enum MHD_Result srv_page_login_post(srv_req *r) { return login_post(r); }
/* first-time users are led to the upload (server/pages_views.c) */
enum MHD_Result srv_page_home(srv_req *r) { return views_home(r, r->st); }
enum MHD_Result srv_page_help(srv_req *r) { return help_page(r); }
enum MHD_Result srv_page_datasets(srv_req *r) { return datasets_page(r, r->st); }
/* GET /datasets/{id}[?run=N]: with a run of the dataset, its inputs are
 * filled in (the link of a failed run). */
enum MHD_Result srv_page_dataset(srv_req *r) {
  int64_t run_id = 0;
  const char *rs = srv_req_arg(r, "run");
  if (!rs || srv_parse_id(rs, &run_id) || run_id <= 0) return dataset_page(r, r->st, r->pid[0], NULL, NULL, NULL, 200);
  srv_job *j = calloc(1, sizeof *j);
  if (!j) return srv_page_error(r, 500, "Something went wrong", "out of memory");
  if (srv_jobs_get_by_run(r->S, run_id, j) != 0) {
    memset(j, 0, sizeof *j);
    tsr_run *run = NULL;
    if (tsr_store_run_get(r->st, run_id, &run, NULL) == TSR_OK && run->params) {
      json_t *p = json_loads(run->params, 0, NULL); /* the run's inputs, stored as JSON text */
      srv_jobs_params_prefill(j, p);
      json_decref(p);
    }
    tsr_store_free(run);
  }
  enum MHD_Result ret = dataset_page(r, r->st, r->pid[0], j, NULL, NULL, 200);
  free(j);
  return ret;
}
enum MHD_Result srv_page_jobs(srv_req *r) { return jobs_page(r); }
enum MHD_Result srv_page_job(srv_req *r) { return job_page(r, r->pid[0]); }
enum MHD_Result srv_page_runs(srv_req *r) { return runs_page(r, r->st); }
enum MHD_Result srv_page_run(srv_req *r) { return run_page(r, r->st, r->pid[0]); }
enum MHD_Result srv_page_segment(srv_req *r) { return customers_page(r, r->st, r->pid[0], r->parg[1], -1); }
enum MHD_Result srv_page_cluster(srv_req *r) { return customers_page(r, r->st, r->pid[0], NULL, r->pid[1]); }
enum MHD_Result srv_page_customer(srv_req *r) { return customer_page(r, r->st, r->pid[0], r->parg[1]); }
enum MHD_Result srv_page_events(srv_req *r) { return events_page(r, r->st); }
enum MHD_Result srv_page_retrain(srv_req *r) { return srv_retrain_page(r, r->st); }
enum MHD_Result srv_page_users(srv_req *r) { return users_page(r, r->st, NULL, 200); }

enum MHD_Result srv_page_logout(srv_req *r) {
  srv_auth_logout(r);
  return srv_send_redirect(r, "/login");
}

static enum MHD_Result redirect_id(srv_req *r, const char *fmt, int64_t id) {
  char loc[64];
  snprintf(loc, sizeof loc, fmt, (long long)id);
  return srv_send_redirect(r, loc);
}

enum MHD_Result srv_page_dataset_upload(srv_req *r) {
  char msg[600];
  int64_t id = 0;
  int code = srv_upload_finish(r, &id, msg, sizeof msg);
  if (code) return srv_page_error(r, code, code == 400 ? "Nothing uploaded" : "Upload failed", msg);
  return redirect_id(r, "/datasets/%lld", id);
}

enum MHD_Result srv_page_dataset_delete(srv_req *r) {
  tsr_store *st = r->st;
  int64_t id = r->pid[0], owner = 0;
  tsr_error e;
  if (tsr_web_upload_owner(st, id, &owner, &e) != TSR_OK) return srv_page_error(r, 404, "Dataset not found", e.msg);
  if (!(srv_role_rank(r->user->role) >= 3 || owner == r->user->id))
    return srv_page_error(r, 403, "Not allowed", "only the owner of a dataset or an administrator may delete it");
  tsr_dataset *d = NULL;
  char path[1200] = "";
  if (tsr_store_dataset_get(st, id, &d, NULL) == TSR_OK && d->stored_path) snprintf(path, sizeof path, "%s", d->stored_path);
  tsr_store_free(d);
  if (tsr_web_dataset_delete(st, id, &e) != TSR_OK) return srv_page_error(r, 500, "Something went wrong", e.msg);
  if (path[0]) remove(path);
  return srv_send_redirect(r, "/datasets");
}

enum MHD_Result srv_page_job_cancel(srv_req *r) {
  int64_t id = r->pid[0];
  srv_job j;
  if (srv_jobs_get(r->S, id, &j)) return srv_page_error(r, 404, "Job not found", "no such job");
  if (!(srv_role_rank(r->user->role) >= 3 || j.owner == r->user->id))
    return srv_page_error(r, 403, "Not allowed", "only the owner of a job or an administrator may cancel it");
  srv_jobs_cancel(r->S, id);
  return redirect_id(r, "/jobs/%lld", id);
}

enum MHD_Result srv_page_customer_lookup(srv_req *r) {
  const char *cid = srv_req_arg(r, "id");
  if (!cid || !*cid) return srv_page_error(r, 400, "Request not understood", "enter a customer id");
  srv_buf loc = {0};
  srv_buf_printf(&loc, "/runs/%lld/customers/", (long long)r->pid[0]);
  srv_buf_url(&loc, cid);
  enum MHD_Result ret = loc.oom || loc.n >= sizeof r->location
                            ? srv_page_error(r, 400, "Request not understood", "customer id too long")
                            : srv_send_redirect(r, loc.p);
  srv_buf_free(&loc);
  return ret;
}

enum MHD_Result srv_page_user_add(srv_req *r) {
  const char *name = srv_req_field(r, "name"), *role = srv_req_field(r, "role"), *pw = srv_req_field(r, "password");
  if (!name || !role || !pw || strlen(pw) < 8)
    return users_page(r, r->st, "Enter a name, a role and a password of at least 8 characters.", 400);
  char hash[crypto_pwhash_STRBYTES];
  tsr_error e;
  if (tsr_server_hash_password(pw, hash)) return users_page(r, r->st, "The password could not be hashed.", 500);
  if (tsr_web_user_add(r->st, name, role, hash, NULL, &e) != TSR_OK) return users_page(r, r->st, e.msg, srv_status_http(e.code));
  return srv_send_redirect(r, "/users");
}

enum MHD_Result srv_page_user_delete(srv_req *r) {
  tsr_error e;
  if (!strcmp(r->parg[0], r->user->name)) return users_page(r, r->st, "You cannot delete your own account.", 409);
  if (tsr_web_user_del(r->st, r->parg[0], &e) != TSR_OK) return users_page(r, r->st, e.msg, srv_status_http(e.code));
  srv_auth_cache_clear(r->S);
  return srv_send_redirect(r, "/users");
}
