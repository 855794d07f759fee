/*
 * srv_compat.h - the server's names before the srv_ prefix (issue 17), for
 * files written against them (server/decisions.c, server/api_views.c) while
 * their branches merge. Included by srv.h only where the build defines
 * SRV_COMPAT_NAMES (CMakeLists.txt, per file). To retire it: run
 *   python3 scripts/srv_rename.py server/decisions.c server/api_views.c
 * and drop the define.
 */
#ifndef TESSERA_SRV_COMPAT_H
#define TESSERA_SRV_COMPAT_H
#define req srv_req
#define job srv_job
#define sbuf srv_buf
#define sb_put srv_buf_put
#define sb_puts srv_buf_puts
#define sb_printf srv_buf_printf
#define sb_html srv_buf_html
#define sb_csv srv_buf_csv
#define sb_url srv_buf_url
#define sb_free srv_buf_free
#define sb_json_str srv_buf_json_str
#define sb_json_num srv_buf_json_num
#define req_arg srv_req_arg
#define req_field srv_req_field
#define req_header srv_req_header
#define req_is_api srv_req_is_api
#define send_body srv_send_body
#define send_json srv_send_json
#define send_error srv_send_error
#define send_redirect srv_send_redirect
#define send_sbuf srv_send_buf
#define send_response srv_send_response
#define status_http srv_status_http
#define page_error srv_page_error
#define auth_need srv_auth_need
#define auth_resolve srv_auth_resolve
#define auth_csrf srv_auth_csrf
#define role_rank srv_role_rank
#define jobs_get srv_jobs_get
#define jobs_get_by_run srv_jobs_get_by_run
#define api_dataset_json srv_view_dataset
#define api_customer_json srv_view_customer_row
#define decisions_start srv_decisions_start
#define decisions_stop srv_decisions_stop
#define decisions_api srv_decisions_api
#define BODY_FORM SRV_BODY_FORM
#define BODY_BUFFER SRV_BODY_BUFFER
#define JOB_RUNNING SRV_JOB_RUNNING
#define JOB_QUEUED SRV_JOB_QUEUED
#define JOB_DONE SRV_JOB_DONE
#endif
