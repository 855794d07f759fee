/*
 * retrain.c - the admin action "retrain" of the web application:
 *   POST /api/v1/retrain   {"force":bool, "since":"YYYY-MM-DD", "id_col":"order_id",
 *                           "datasets":[ids], "calibration_end":"YYYY-MM-DD"}
 *                          (all optional; JSON or form fields) -> 200 with the
 *                          evaluation of tsr_retrain_result_json
 *   POST /retrain          the button on the Users page (admin): runs the
 *                          same and redirects to the new run's dashboard
 * Admin only (the caller checks). Runs in the request's worker thread: a
 * retrain of CDNOW-sized data takes seconds; uploads are kept on disk by the
 * server, so every uploaded dataset takes part (tessera/retrain.h).
 */
#include <stdlib.h>
#include <string.h>

#include "srv.h"
#include "tessera/datetime.h"
#include "tessera/retrain.h"

/* A request value: JSON member or form field, as text. */
static const char *arg_text(srv_req *r, json_t *b, const char *name) {
  if (b) {
    json_t *v = json_object_get(b, name);
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_true(v)) return "1";
    return NULL;
  }
  return srv_req_field(r, name);
}

/* Parses a date into a day number; -1 when malformed. */
static int day_of(const char *s, int64_t *day) {
  int64_t sec;
  if (tsr_datetime_parse(s, strlen(s), NULL, &sec) != TSR_OK) return -1;
  *day = sec / 86400;
  return 0;
}

/* Runs the retrain described by the request. On failure *http and msg say
 * why (code is the stable error code). */
static int do_retrain(srv_req *r, tsr_store *st, tsr_retrain_result *res, int *http, const char **code,
                      char *msg, size_t cap) {
  json_t *b = NULL;
  if (r->kind != SRV_BODY_FORM && r->body_len) {
    json_error_t je;
    b = json_loadb(r->body, r->body_len, 0, &je);
    if (!json_is_object(b)) {
      json_decref(b);
      *http = 400;
      *code = "EPARSE";
      snprintf(msg, cap, "request body: expected a JSON object");
      return -1;
    }
  }
  tsr_retrain_opts o;
  tsr_retrain_opts_init(&o);
  int64_t ids[TSR_RETRAIN_MAX_DATASETS];
  size_t nids = 0;
  const char *v;
  int bad = 0;
  if ((v = arg_text(r, b, "force")) && strcmp(v, "0") && strcmp(v, "false") && *v) o.force = 1;
  if ((v = arg_text(r, b, "since")) && *v) {
    int64_t d;
    if (day_of(v, &d)) bad = snprintf(msg, cap, "since: expected a date (YYYY-MM-DD), got '%.40s'", v);
    else o.since_ms = d * 86400000LL;
  }
  char idcol[128] = "";
  if ((v = arg_text(r, b, "id_col")) && *v) {
    snprintf(idcol, sizeof idcol, "%s", v);
    o.id_col = idcol;
  }
  if (!bad && (v = arg_text(r, b, "calibration_end")) && *v) {
    if (day_of(v, &o.cal_end_day))
      bad = snprintf(msg, cap, "calibration_end: expected a date (YYYY-MM-DD), got '%.40s'", v);
  }
  json_t *ds = b ? json_object_get(b, "datasets") : NULL;
  if (!bad && json_is_array(ds)) {
    size_t i;
    json_t *e;
    json_array_foreach(ds, i, e) {
      if (!json_is_integer(e) || json_integer_value(e) < 1 || nids == TSR_RETRAIN_MAX_DATASETS) {
        bad = snprintf(msg, cap, "datasets: expected an array of dataset ids");
        break;
      }
      ids[nids++] = json_integer_value(e);
    }
  }
  json_decref(b);
  if (bad) {
    *http = 400;
    *code = "EINVAL";
    return -1;
  }
  if (nids) {
    o.dataset_ids = ids;
    o.n_dataset_ids = nids;
  }
  tsr_error err;
  tsr_error_clear(&err);
  tsr_status s = tsr_retrain_run(&o, st, res, &err);
  if (s != TSR_OK) {
    *http = srv_status_http(s);
    *code = tsr_status_name(s);
    snprintf(msg, cap, "%s", err.msg[0] ? err.msg : tsr_strerror(s));
    return -1;
  }
  return 0;
}

enum MHD_Result srv_retrain_api(srv_req *r, tsr_store *st) {
  tsr_retrain_result res;
  int http = 500;
  const char *code = "EINVAL";
  char msg[600];
  if (do_retrain(r, st, &res, &http, &code, msg, sizeof msg))
    return srv_send_error(r, http, code, "%s", msg);
  char *txt = NULL;
  tsr_error err;
  if (tsr_retrain_result_json(&res, &txt, &err) != TSR_OK) return srv_send_error(r, 500, "ENOMEM", "out of memory");
  /* the library's JSON text, sent as it is */
  enum MHD_Result ret = srv_send_body(r, 200, "application/json", txt, strlen(txt));
  free(txt);
  return ret;
}

enum MHD_Result srv_retrain_page(srv_req *r, tsr_store *st) {
  tsr_retrain_result res;
  int http = 500;
  const char *code = "EINVAL";
  char msg[600];
  if (do_retrain(r, st, &res, &http, &code, msg, sizeof msg))
    return srv_page_error(r, http, "Retraining failed", msg);
  snprintf(r->location, sizeof r->location, "/runs/%lld", (long long)res.run_id);
  return srv_send_redirect(r, r->location);
}
