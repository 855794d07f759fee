/* pages.c - placeholder */
#include "srv.h"
enum MHD_Result page_error(req *r, int status, const char *title, const char *msg) {
  sbuf b = {0};
  sb_puts(&b, "<!doctype html><title>");
  sb_html(&b, title);
  sb_puts(&b, "</title><p>");
  sb_html(&b, msg);
  return send_sbuf(r, status, "text/html; charset=utf-8", &b);
}
enum MHD_Result pages_dispatch(req *r) { return send_error(r, 404, "ENOTFOUND", "no page"); }
