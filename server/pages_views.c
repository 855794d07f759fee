/*
 * pages_views.c - the newer parts of the web pages (docs/web.md): the run
 * comparison page (segment migration as a table and a flow diagram), the
 * account page (change one's password), the model fits as a table in words,
 * segment meanings and suggested actions, the analysis inputs' labels in
 * words, sizes in human units, and the placeholders that web/app.js fills
 * from the views of api_views.c (customers at risk, segment profiles, the
 * customer's churn risk, next best products, household map and message
 * preview). Every dynamic string goes through srv_buf_html.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"

/* ================================================================ words */

static const struct {
  const char *name, *label;
  int group; /* 0 column mapping, 1 forecast, 2 advanced */
} PARAM_WORDS[] = {
    {"customer_col", "Customer column", 0},
    {"date_col", "Date column", 0},
    {"amount_col", "Amount column", 0},
    {"id_col", "Transaction id column", 0},
    {"date_format", "Date format", 2},
    {"delimiter", "Field separator", 2},
    {"max_errors", "Stop after this many unreadable rows", 2},
    {"freq", "Time period", 2},
    {"freq_multiplier", "Days per time unit", 2},
    {"end", "End of the observation period", 2},
    {"calibration_end", "Holdout check: fit up to", 2},
    {"refunds", "Refunds", 2},
    {"dedupe", "Repeated rows", 2},
    {"scheme", "Segment scheme", 2},
    {"model", "Purchase model", 2},
    {"spend", "Compute customer lifetime value", 1},
    {"horizon", "Forecast horizon", 1},
    {"unit", "Unit of the horizon", 1},
    {"discount", "Monthly discount rate", 2},
    {"level", "Confidence level of intervals", 2},
    {"churn_threshold", "Churn threshold", 2},
    {"cluster", "Clustering method", 2},
    {"k", "Number of clusters", 2},
    {"n_init", "Clustering restarts", 2},
    {"seed", "Random seed", 2},
};

const char *views_param_label(const char *name) {
  for (size_t i = 0; i < sizeof PARAM_WORDS / sizeof *PARAM_WORDS; i++)
    if (!strcmp(PARAM_WORDS[i].name, name)) return PARAM_WORDS[i].label;
  return name;
}

int views_param_group(const char *name) {
  for (size_t i = 0; i < sizeof PARAM_WORDS / sizeof *PARAM_WORDS; i++)
    if (!strcmp(PARAM_WORDS[i].name, name)) return PARAM_WORDS[i].group;
  return 2;
}

static const struct {
  const char *name, *meaning, *action;
} SEGMENT_WORDS[] = {
    {"champions", "Bought recently and often: the best customers.",
     "Reward them: early access, loyalty perks; ask for reviews and referrals."},
    {"loyal_customers", "Buy often and fairly recently.", "Offer higher-value products and the loyalty programme."},
    {"potential_loyalists", "Recent customers with a few repeat purchases.",
     "Invite them to the loyalty programme; recommend related products."},
    {"new_customers", "First purchase very recently, no repeat yet.",
     "Welcome them and give a reason for a second purchase soon."},
    {"promising", "Bought recently, but only once.", "A small incentive for the next purchase builds the habit."},
    {"need_attention", "Average recency and frequency: slipping.",
     "Reactivate with a limited-time offer based on what they bought."},
    {"about_to_sleep", "Below-average recency and few purchases.",
     "Show popular products and a discount before they lapse."},
    {"at_risk", "Bought often, but not for a long time.",
     "Win them back: a personal message and an offer; ask what went wrong."},
    {"cant_lose", "Used to buy the most; no purchase for a long time.",
     "Win them back with a strong personal offer before a competitor does."},
    {"hibernating", "Few purchases, the last one long ago.",
     "Low-cost reactivation only (newsletter, relevant offer); do not overspend."},
    {"lost", "The fewest purchases, the last one longest ago.",
     "Leave them out of paid campaigns, or try one last reactivation."},
};

const char *views_segment_label(const char *segment, char *buf, size_t cap) {
  snprintf(buf, cap, "%s", segment);
  for (char *p = buf; *p; p++)
    if (*p == '_') *p = ' ';
  if (buf[0] >= 'a' && buf[0] <= 'z') buf[0] = (char)(buf[0] - 32);
  return buf;
}

void views_segment_cells(srv_buf *b, const char *segment) {
  const char *m = "", *a = "";
  for (size_t i = 0; i < sizeof SEGMENT_WORDS / sizeof *SEGMENT_WORDS; i++)
    if (segment && !strcmp(SEGMENT_WORDS[i].name, segment)) {
      m = SEGMENT_WORDS[i].meaning;
      a = SEGMENT_WORDS[i].action;
    }
  srv_buf_puts(b, "<td class=\"meaning\">");
  srv_buf_html(b, m);
  srv_buf_puts(b, "</td><td class=\"action\">");
  srv_buf_html(b, a);
  srv_buf_puts(b, "</td>");
}

void views_bytes(srv_buf *b, double v) {
  static const char *const u[] = {"bytes", "kB", "MB", "GB", "TB"};
  int k = 0;
  while (v >= 1000 && k < 4) {
    v /= 1000;
    k++;
  }
  if (k == 0) srv_buf_printf(b, "%.0f bytes", v);
  else srv_buf_printf(b, "%.*f %s", v < 10 ? 1 : 0, v, u[k]);
}

/* ================================================================ home */

static int any_run_cb(void *ctx, const tsr_run *row) {
  (void)row;
  *(int *)ctx = 1;
  return 1;
}

static int any_dataset_cb(void *ctx, const tsr_dataset *row) {
  (void)row;
  *(int *)ctx = 1;
  return 1;
}

enum MHD_Result views_home(srv_req *r, tsr_store *st) {
  int runs = 0, sets = 0;
  tsr_store_runs_list(st, 1, 0, any_run_cb, &runs, NULL);
  tsr_store_datasets_list(st, 1, 0, any_dataset_cb, &sets, NULL);
  /* a first-time user is led to the upload */
  return srv_send_redirect(r, runs || sets ? "/runs" : "/datasets");
}

/* ================================================================ model fits */

static const struct {
  const char *kind, *name, *meaning;
} MODEL_WORDS[] = {
    {"bgnbd", "BG/NBD purchase model", "when and how often customers buy, and when they silently leave"},
    {"mbgnbd", "MBG/NBD purchase model", "like BG/NBD, but one-time buyers may also have left"},
    {"pnbd", "Pareto/NBD purchase model", "purchases at random while active, leaving at any time"},
    {"bgbb", "BG/BB purchase model", "purchases in discrete opportunities (one per period)"},
    {"gg", "Gamma-Gamma spend model", "the amount spent per purchase"},
    {"kmeans", "k-means clusters", "groups of similar customers"},
    {"gmm", "Gaussian mixture clusters", "groups of similar customers"},
    {"dbscan", "DBSCAN clusters", "dense groups of similar customers"},
};

static const struct {
  const char *kind, *param, *meaning;
} PARAM_MEANING[] = {
    {"*nbd", "r", "shape of how purchase rates vary between customers"},
    {"*nbd", "alpha", "scale of the purchase rates (in periods): larger means slower buyers"},
    {"*nbd", "a", "with b: how likely a customer is to leave after a purchase"},
    {"*nbd", "b", "with a: the mean chance to leave after a purchase is a / (a + b)"},
    {"pnbd", "s", "shape of how dropout rates vary between customers"},
    {"pnbd", "beta", "scale of the dropout rates (in periods): larger means customers stay longer"},
    {"bgbb", "alpha", "with beta: the chance to buy at each opportunity"},
    {"bgbb", "beta", "with alpha: the mean chance to buy is alpha / (alpha + beta)"},
    {"bgbb", "gamma", "with delta: the chance to leave at each opportunity"},
    {"bgbb", "delta", "with gamma: the mean chance to leave is gamma / (gamma + delta)"},
    {"gg", "p", "shape of the spend per purchase around a customer's own mean"},
    {"gg", "q", "shape of how customers' mean spend varies"},
    {"gg", "gamma", "scale of the customers' mean spend (currency of the data)"},
};

static const char *param_meaning(const char *kind, const char *param) {
  int nbd = strstr(kind, "nbd") != NULL;
  for (size_t i = 0; i < sizeof PARAM_MEANING / sizeof *PARAM_MEANING; i++) {
    const char *k = PARAM_MEANING[i].kind;
    if (strcmp(PARAM_MEANING[i].param, param)) continue;
    if (!strcmp(k, kind)) return PARAM_MEANING[i].meaning;
    if (!strcmp(k, "*nbd") && nbd && !(!strcmp(kind, "pnbd") && (!strcmp(param, "a") || !strcmp(param, "b"))))
      return PARAM_MEANING[i].meaning;
  }
  return "";
}

static double jnum(json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  return json_is_number(v) ? json_number_value(v) : NAN;
}

static void num(srv_buf *b, double v) {
  if (!isfinite(v)) srv_buf_puts(b, "&ndash;");
  else if (fabs(v) >= 1e5 || (v != 0 && fabs(v) < 1e-3)) srv_buf_printf(b, "%.4g", v);
  else srv_buf_printf(b, "%.4f", v);
}

/* The fitted parameters in words: the mean purchase rate and chance to leave
 * of the purchase models, the mean spend of the spend model. */
static void model_words(srv_buf *b, const char *kind, json_t *pp, double period_days) {
  const char *per = period_days == 7 ? "week" : period_days == 1 ? "day" : "period";
  double r = jnum(pp, "r"), al = jnum(pp, "alpha");
  if (strstr(kind, "nbd") && isfinite(r) && al > 0) {
    srv_buf_printf(b, " An active customer buys on average %.3g times a %s (r / alpha)", r / al, per);
    double a = jnum(pp, "a"), bb = jnum(pp, "b"), sv = jnum(pp, "s"), be = jnum(pp, "beta");
    if (a > 0 && bb > 0) srv_buf_printf(b, "; after each purchase %.1f%% leave for good (a / (a + b)).", 100 * a / (a + bb));
    else if (sv > 0 && be > 0) srv_buf_printf(b, "; on average %.3g leave per customer and %s (s / beta).", sv / be, per);
    else srv_buf_puts(b, ".");
  }
  double p = jnum(pp, "p"), q = jnum(pp, "q"), g = jnum(pp, "gamma");
  if (!strcmp(kind, "gg") && p > 0 && q > 1 && g > 0)
    srv_buf_printf(b, " The mean spend per purchase is about %.2f across customers (p &middot; gamma / (q &minus; 1), in the "
                 "currency of the data).", p * g / (q - 1));
}

/* One row per parameter (value, standard error, meaning) and a sentence on
 * the fit of each model; cluster models by their fit figures only. */
void views_models_table(srv_buf *b, json_t *models) {
  srv_buf_puts(b, "<div class=\"scroll\"><table class=\"data\" id=\"models\"><thead><tr><th>model</th><th>parameter</th>"
             "<th>value</th><th>standard error</th><th>meaning</th></tr></thead><tbody>");
  size_t i;
  json_t *m;
  json_array_foreach(models, i, m) {
    json_t *kv = json_object_get(m, "kind");
    const char *kind = json_is_string(kv) ? json_string_value(kv) : "";
    const char *name = kind, *meaning = "";
    for (size_t k = 0; k < sizeof MODEL_WORDS / sizeof *MODEL_WORDS; k++)
      if (!strcmp(MODEL_WORDS[k].kind, kind)) {
        name = MODEL_WORDS[k].name;
        meaning = MODEL_WORDS[k].meaning;
      }
    json_t *pj = json_object_get(m, "params"), *fs = json_object_get(m, "fit_stats");
    json_t *pp = json_object_get(pj, "params"), *se = json_object_get(pj, "se");
    srv_buf_puts(b, "<tr class=\"model-head\"><th scope=\"rowgroup\" colspan=\"5\">");
    srv_buf_html(b, name);
    srv_buf_printf(b, " <span class=\"hint\">(version %.0f): ", jnum(m, "version"));
    srv_buf_html(b, meaning);
    srv_buf_puts(b, ". ");
    json_t *conv = json_object_get(fs, "converged");
    if (json_is_boolean(conv)) {
      srv_buf_puts(b, json_is_true(conv) ? "The fit converged" : "<strong>The fit did not converge</strong>");
      if (isfinite(jnum(fs, "iterations"))) srv_buf_printf(b, " after %.0f iterations", jnum(fs, "iterations"));
      if (isfinite(jnum(fs, "loglik"))) {
        srv_buf_puts(b, "; log-likelihood ");
        num(b, jnum(fs, "loglik"));
      }
      if (isfinite(jnum(pj, "n_customers"))) srv_buf_printf(b, " on %.0f customers", jnum(pj, "n_customers"));
      srv_buf_puts(b, ".");
    }
    if (isfinite(jnum(fs, "k"))) {
      srv_buf_printf(b, "%.0f clusters", jnum(fs, "k"));
      if (isfinite(jnum(fs, "silhouette"))) {
        srv_buf_puts(b, "; silhouette ");
        num(b, jnum(fs, "silhouette"));
        srv_buf_puts(b, " (from -1 to 1: higher means better separated clusters)");
      }
      srv_buf_puts(b, ".");
    }
    model_words(b, kind, pp, jnum(pj, "period_days"));
    srv_buf_puts(b, "</span></th></tr>");
    if (!strstr(kind, "nbd") && strcmp(kind, "gg") && strcmp(kind, "bgbb")) continue;
    const char *pk;
    json_t *pv;
    json_object_foreach(pp, pk, pv) {
      srv_buf_puts(b, "<tr><td></td><td><code>");
      srv_buf_html(b, pk);
      srv_buf_puts(b, "</code></td><td class=\"num\">");
      num(b, json_is_number(pv) ? json_number_value(pv) : NAN);
      srv_buf_puts(b, "</td><td class=\"num\">");
      num(b, jnum(se, pk));
      srv_buf_puts(b, "</td><td>");
      srv_buf_html(b, param_meaning(kind, pk));
      srv_buf_puts(b, "</td></tr>");
    }
  }
  srv_buf_puts(b, "</tbody></table></div>");
}

/* ================================================================ run page parts */

void views_run_top(srv_buf *b, int64_t run) {
  srv_buf_printf(b, "<form class=\"lookup\" id=\"lookup\" method=\"get\" action=\"/runs/%lld/customer\"><label>Look up a customer "
               "<input name=\"id\" id=\"lookup-id\" required maxlength=\"256\" placeholder=\"customer id\"></label>"
               "<button type=\"submit\">Open</button> <a href=\"/runs/%lld/compare\" id=\"compare-link\">Compare with "
               "another run</a></form>",
            (long long)run, (long long)run);
}

void views_run_extras(srv_buf *b, int64_t run) {
  srv_buf_printf(b, "<section id=\"at-risk\" data-run=\"%lld\" hidden><h2>Customers at risk</h2><p class=\"hint\" "
               "id=\"at-risk-def\"></p><div class=\"scroll\" id=\"at-risk-segments\"></div><div class=\"scroll\" "
               "id=\"at-risk-list\"></div></section>",
            (long long)run);
  srv_buf_printf(b, "<section id=\"segment-profiles\" data-run=\"%lld\" hidden><h2>Segment profiles</h2><p class=\"hint\">"
               "Each segment of the customer profiles (<a href=\"/help#g-profiles\">what they mean</a>): its size, "
               "revenue, mean CLV, age, digital share, sentiment and the products most held.</p><div "
               "id=\"segment-profiles-body\"></div></section>",
            (long long)run);
}

void views_customer_extras(srv_req *r, srv_buf *b, int64_t run, const char *cid) {
  srv_buf_printf(b, "<section id=\"customer-view\" data-run=\"%lld\" data-customer=\"", (long long)run);
  srv_buf_html(b, cid);
  srv_buf_puts(b, "\"><div class=\"grid2\"><div id=\"cust-churn\" class=\"card\" hidden><h2>Churn risk</h2>"
             "<div class=\"body\"></div></div><div id=\"cust-nbp\" class=\"card\" hidden><h2>Next best products</h2>"
             "<div class=\"body\"></div></div></div><div id=\"cust-household\" class=\"card\" hidden><h2>Household "
             "and linked records</h2><p class=\"hint\">Who is linked to this customer by entity resolution: records "
             "merged into the same person and the members of the household (same surname and address), with the "
             "products held.</p><div class=\"plot\" id=\"household-map\"></div></div><div id=\"cust-profile\" "
             "class=\"card\" hidden><h2>Profile</h2><div class=\"body\"></div></div>");
  srv_buf_puts(b, "<div class=\"card\" id=\"msg\"><h2>Preview a message</h2><p class=\"hint\">How a message of an offer "
             "would read for this customer (nothing is sent). The template language and the fields are described "
             "in the <a href=\"/help#g-messages\">help</a>; names are not kept by the analysis, so the greeting "
             "uses its default.</p><form id=\"msg-form\"><div class=\"row\"><label>Channel <select "
             "name=\"channel\" id=\"msg-channel\"><option value=\"\">customer's preference</option><option "
             "value=\"sms\">SMS (160 characters)</option><option value=\"push\">push (120 characters)</option>"
             "<option value=\"email\">e-mail (2000 characters)</option></select></label><label>Offer name <input "
             "name=\"offer_name\" id=\"msg-offer\" maxlength=\"200\" placeholder=\"e.g. cashback card\"></label>"
             "</div><details><summary>Templates</summary><textarea name=\"templates\" id=\"msg-templates\" "
             "rows=\"9\" maxlength=\"65536\">");
  srv_buf_html(b, views_default_templates());
  srv_buf_puts(b, "</textarea></details><button type=\"submit\" id=\"msg-preview-btn\">Preview</button></form>"
             "<div id=\"msg-preview\" aria-live=\"polite\"></div></div></section>");
  (void)r;
}

/* ================================================================ compare */

typedef struct run_opts {
  srv_buf *b;
  int64_t self, sel;
  size_t n;
} run_opts;

static int run_opt_cb(void *ctx, const tsr_run *run) {
  run_opts *o = ctx;
  if (run->id == o->self || run->status != TSR_RUN_DONE) return 0;
  char t[40];
  o->n++;
  srv_buf_printf(o->b, "<option value=\"%lld\"%s>run %lld, ", (long long)run->id, run->id == o->sel ? " selected" : "",
            (long long)run->id);
  srv_buf_html(o->b, tsr_store_time_format(run->created_at, t, sizeof t));
  srv_buf_printf(o->b, ", %lld customers</option>", (long long)run->n_customers);
  return o->n >= 200;
}

static void seg_name(srv_buf *b, const char *s) {
  char buf[128];
  srv_buf_html(b, views_segment_label(s, buf, sizeof buf));
}

enum MHD_Result views_compare_page(srv_req *r, tsr_store *st, int64_t run) {
  tsr_run *rr = NULL;
  tsr_error e;
  tsr_error_clear(&e);
  if (tsr_store_run_get(st, run, &rr, &e) != TSR_OK) return srv_page_error(r, 404, "Run not found", e.msg);
  tsr_store_free(rr);
  int64_t other = 0;
  const char *w = srv_req_arg(r, "with"), *by = srv_req_arg(r, "by");
  int by_cluster = by && !strcmp(by, "cluster");
  if (w && *w && (views_id(w, &other) || other <= 0))
    return srv_page_error(r, 400, "Request not understood", "with: expected a run number");
  srv_buf b = {0};
  char title[80];
  snprintf(title, sizeof title, "Compare run %lld", (long long)run);
  page_head(r, &b, title);
  srv_buf_printf(&b, "<h1>Compare run %lld with another run</h1><p class=\"meta\"><a href=\"/runs/%lld\">Back to run "
                "%lld</a></p><p class=\"hint\">How many customers moved from each segment of this run to each "
                "segment of the other (for example before and after new data), the same counts as <em>segment "
                "migration</em> in the <a href=\"/help#g-migration\">help</a>. Customers only in the other run come "
                "from <em>(new)</em>; those only in this run go to <em>(gone)</em>.</p>",
            (long long)run, (long long)run, (long long)run);
  srv_buf_printf(&b, "<form method=\"get\" action=\"/runs/%lld/compare\" class=\"filters\"><label>Other run <select "
                "name=\"with\" id=\"compare-with\">",
            (long long)run);
  run_opts ro = {&b, run, other, 0};
  tsr_store_runs_list(st, 200, 0, run_opt_cb, &ro, NULL);
  srv_buf_printf(&b, "</select></label><label>Compare <select name=\"by\" id=\"compare-by\"><option value=\"segment\"%s>RFM "
                "segments</option><option value=\"cluster\"%s>clusters</option></select></label><button "
                "type=\"submit\" id=\"compare-go\">Compare</button></form>",
            by_cluster ? "" : " selected", by_cluster ? " selected" : "");
  if (!ro.n) srv_buf_puts(&b, "<p class=\"alert\">There is no other finished run to compare with yet.</p>");
  if (other) {
    json_t *v = view_compare(st, run, other, by_cluster, &e);
    if (!v) {
      srv_buf_puts(&b, "<p class=\"alert\" role=\"alert\">");
      srv_buf_html(&b, e.msg);
      srv_buf_puts(&b, "</p>");
    } else {
      double both = (double)json_integer_value(json_object_get(v, "in_both"));
      double stayed = (double)json_integer_value(json_object_get(v, "stayed"));
      json_t *to = json_object_get(v, "to"), *from = json_object_get(v, "from");
      srv_buf_printf(&b, "<p id=\"compare-summary\"><strong>%.0f</strong> customers are in both runs; <strong>%.0f</strong> "
                    "(%.1f%%) stayed in the same %s. %.0f are new in run %lld and %.0f are gone from it.</p>",
                both, stayed, both > 0 ? 100 * stayed / both : 0.0, by_cluster ? "cluster" : "segment",
                (double)json_integer_value(json_object_get(from, "(new)")), (long long)other,
                (double)json_integer_value(json_object_get(to, "(gone)")));
      srv_buf_printf(&b, "<figure class=\"chart wide\"><figcaption>Flow of customers from run %lld (left) to run %lld "
                    "(right); the width of a band is the number of customers</figcaption><div class=\"plot\" "
                    "id=\"chart-sankey\" data-run-a=\"%lld\" data-run-b=\"%lld\" data-by=\"%s\"></div></figure>",
                (long long)run, (long long)other, (long long)run, (long long)other, by_cluster ? "cluster" : "segment");
      srv_buf_printf(&b, "<h2>Moves</h2><div class=\"scroll\"><table class=\"data\" id=\"migration\"><thead><tr><th>in run "
                    "%lld</th><th>in run %lld</th><th>customers</th><th>share of the row</th></tr></thead><tbody>",
                (long long)run, (long long)other);
      size_t i;
      json_t *m;
      json_array_foreach(json_object_get(v, "moves"), i, m) {
        const char *f = json_string_value(json_object_get(m, "from")), *t = json_string_value(json_object_get(m, "to"));
        double n = (double)json_integer_value(json_object_get(m, "customers"));
        double tot = (double)json_integer_value(json_object_get(from, f));
        srv_buf_printf(&b, "<tr%s><td>", strcmp(f, t) ? "" : " class=\"stay\"");
        seg_name(&b, f);
        srv_buf_puts(&b, "</td><td>");
        seg_name(&b, t);
        srv_buf_printf(&b, "</td><td class=\"num\">%.0f</td><td class=\"num\">%.1f%%</td></tr>", n, tot > 0 ? 100 * n / tot : 0.0);
      }
      srv_buf_puts(&b, "</tbody></table></div>");
      json_decref(v);
    }
  }
  return page_finish(r, &b, 200);
}

/* ================================================================ account */

enum MHD_Result views_account_page(srv_req *r, tsr_store *st) {
  const char *msg = NULL;
  char buf[300];
  int status = 200, ok = 0;
  if (!strcmp(r->method, "POST")) {
    status = views_password_change(r, st, srv_req_field(r, "current_password"), srv_req_field(r, "new_password"),
                                   srv_req_field(r, "confirm_password") ? srv_req_field(r, "confirm_password") : "", buf,
                                   sizeof buf);
    ok = status == 200;
    buf[0] = (char)(buf[0] >= 'a' && buf[0] <= 'z' ? buf[0] - 32 : buf[0]);
    msg = buf;
  }
  srv_buf b = {0};
  page_head(r, &b, "Account");
  srv_buf_puts(&b, "<section class=\"narrow\"><h1>Your account</h1><p>");
  srv_buf_html(&b, r->user->name);
  srv_buf_puts(&b, " (");
  srv_buf_html(&b, r->user->role);
  srv_buf_puts(&b, ")</p>");
  if (msg) {
    srv_buf_printf(&b, "<p class=\"%s\" role=\"alert\" id=\"account-msg\">", ok ? "notice" : "alert");
    srv_buf_html(&b, msg);
    srv_buf_puts(&b, ".</p>");
  }
  srv_buf_puts(&b, "<h2>Change your password</h2><form method=\"post\" action=\"/account\" id=\"password-form\">");
  page_csrf_field(r, &b);
  srv_buf_puts(&b, "<label>Current password <input name=\"current_password\" id=\"current-password\" type=\"password\" "
              "autocomplete=\"current-password\" required maxlength=\"1024\"></label><label>New password <input "
              "name=\"new_password\" id=\"new-password\" type=\"password\" autocomplete=\"new-password\" required "
              "minlength=\"8\" maxlength=\"1024\"></label><label>New password again <input name=\"confirm_password\" "
              "id=\"confirm-password\" type=\"password\" autocomplete=\"new-password\" required minlength=\"8\" "
              "maxlength=\"1024\"></label><span class=\"range\">at least 8 characters</span><button type=\"submit\" "
              "id=\"change-password\">Change password</button></form></section>");
  return page_finish(r, &b, status);
}

/* ================================================================ glossary */

void views_glossary(srv_buf *b) {
  srv_buf_puts(b,
          "<dt id=\"g-units\">Units</dt><dd>Amounts (revenue, spend, CLV, revenue at risk) are in the currency of "
          "the data file. Recency and customer age T are counted in the run's period (weeks by default: the time "
          "period and days per time unit of the advanced options). Probabilities are shown in percent.</dd>"
          "<dt id=\"g-churn-probability\">Churn probability and reasons</dt><dd>For runs of a data bundle with a "
          "churn model: the probability (0 to 100%) that the customer makes no purchase in the next churn window, "
          "from a gradient-boosting model trained on earlier windows. The reasons are the customer's features that "
          "raised it most (their SHAP contributions).</dd>"
          "<dt id=\"g-at-risk\">Customers at risk, revenue at risk</dt><dd>Customers whose churn probability is at or "
          "above the run's churn threshold (50% by default), listed by revenue at risk: churn probability times the "
          "customer's revenue so far, in the currency of the data. Without a churn model the churn probability is "
          "1 &minus; P(alive).</dd>"
          "<dt id=\"g-nbp\">Next best products</dt><dd>Products the customer does not hold yet, ranked by a score: "
          "a weighted blend of standardised scores (what similar customers hold, the customer's product factors "
          "and the propensity to open it); higher ranks first, comparable within one run, not a probability and "
          "without a unit. Shown with the main reason.</dd>"
          "<dt id=\"g-goals\">Financial goals</dt><dd>For each goal family (home, retirement, saving, travel, "
          "business growth): the probability (shown 0 to 1) that the customer opens a product of the family in the "
          "next 90 days, from the product propensity models; 0 when the customer already holds the whole family "
          "or the family has no product.</dd>"
          "<dt id=\"g-household\">Household and linked records</dt><dd>From entity resolution: records of the same "
          "person (merged into one profile) and the members of the same household (same surname and address, "
          "different persons; never merged).</dd>"
          "<dt id=\"g-profiles\">Segment profiles</dt><dd>For each segment of the customer profiles (behaviour, value "
          "tier, life stage, product affinity, micro-segment): customers (count and share of all), revenue and mean "
          "CLV (currency of the data), mean age (years), digital share (share of interactions on digital channels, "
          "percent), mean sentiment (from &minus;1 negative to +1 positive), mean P(alive) (percent) and the products "
          "most held.</dd>"
          "<dt id=\"g-migration\">Segment migration</dt><dd>Comparing two runs: for each segment (or cluster) of the "
          "first run, how many of its customers are in each segment of the second run; a customer present in only "
          "one run comes from (new) or goes to (gone). The same counts as <code>tessera migration</code>.</dd>"
          "<dt id=\"g-messages\">Message preview</dt><dd>A message of an offer rendered for one customer from "
          "templates: fields such as the segment, the CLV tier (high: CLV at or above the 80th percentile of the "
          "run, medium: at or above the median, else low), the next best product and the offer name; missing fields "
          "get their default text. SMS allows 160 characters, push 120 (no personal fields), e-mail 2,000.</dd>"
          "<dt id=\"g-silhouette\">Silhouette</dt><dd>How well separated the clusters are, from &minus;1 to 1: "
          "higher is better; above 0.5 the clusters are clearly apart.</dd>");
}
