#!/usr/bin/env python3
"""Renames the server's internal names to the srv_ prefix (issue 17 item 5).

Usage: python3 scripts/srv_rename.py server/FILE.c ...
Rewrites identifiers outside string and character literals; inside comments
only names containing '_' (unambiguous). Member accesses (x.name, x->name)
are left alone. Safe to run twice (already renamed names are not touched).
Kept for merging branches written against the old names."""
import re, sys

RENAME = {
    # types
    'req': 'srv_req', 'job': 'srv_job', 'sbuf': 'srv_buf', 'logrec': 'srv_logrec',
    # buffer
    'sb_put': 'srv_buf_put', 'sb_puts': 'srv_buf_puts', 'sb_printf': 'srv_buf_printf',
    'sb_html': 'srv_buf_html', 'sb_csv': 'srv_buf_csv', 'sb_url': 'srv_buf_url',
    'sb_free': 'srv_buf_free', 'sb_json_str': 'srv_buf_json_str', 'sb_json_num': 'srv_buf_json_num',
    # requests, responses
    'req_arg': 'srv_req_arg', 'req_field': 'srv_req_field', 'req_header': 'srv_req_header',
    'req_is_api': 'srv_req_is_api', 'send_body': 'srv_send_body', 'send_json': 'srv_send_json',
    'send_error': 'srv_send_error', 'send_redirect': 'srv_send_redirect', 'send_sbuf': 'srv_send_buf',
    'send_response': 'srv_send_response', 'status_http': 'srv_status_http',
    'cache_drop': 'srv_cache_drop', 'cache_get': 'srv_cache_get', 'cache_put': 'srv_cache_put',
    'page_error': 'srv_page_error',
    # auth
    'auth_init': 'srv_auth_init', 'auth_resolve': 'srv_auth_resolve', 'auth_need': 'srv_auth_need',
    'auth_csrf': 'srv_auth_csrf', 'role_rank': 'srv_role_rank', 'auth_login': 'srv_auth_login',
    'auth_session_new': 'srv_auth_session_new', 'auth_logout': 'srv_auth_logout',
    'auth_cache_clear': 'srv_auth_cache_clear',
    # jobs
    'job_state_name': 'srv_job_state_name', 'jobs_start': 'srv_jobs_start', 'jobs_stop': 'srv_jobs_stop',
    'jobs_submit': 'srv_jobs_submit', 'jobs_get': 'srv_jobs_get', 'jobs_get_by_run': 'srv_jobs_get_by_run',
    'jobs_cancel': 'srv_jobs_cancel', 'jobs_each': 'srv_jobs_each', 'jobs_params_json': 'srv_jobs_params_json',
    'jobs_params_form': 'srv_jobs_params_form', 'job_json': 'srv_job_json',
    'jobs_check_columns': 'srv_jobs_check_columns',
    'JOB_QUEUED': 'SRV_JOB_QUEUED', 'JOB_RUNNING': 'SRV_JOB_RUNNING', 'JOB_DONE': 'SRV_JOB_DONE',
    'JOB_FAILED': 'SRV_JOB_FAILED', 'JOB_CANCELED': 'SRV_JOB_CANCELED', 'JOB_INTERRUPTED': 'SRV_JOB_INTERRUPTED',
    'JOB_MAX_KV': 'SRV_JOB_MAX_KV',
    'BODY_NONE': 'SRV_BODY_NONE', 'BODY_BUFFER': 'SRV_BODY_BUFFER', 'BODY_RAW_UPLOAD': 'SRV_BODY_RAW_UPLOAD',
    'BODY_FORM': 'SRV_BODY_FORM', 'M_STATUS_N': 'SRV_M_STATUS_N', 'M_BUCKETS': 'SRV_M_BUCKETS',
    # api, pages, retrain, decisions, real time
    'api_dataset_json': 'srv_view_dataset', 'api_customer_json': 'srv_view_customer_row',
    'api_upload_finish': 'srv_upload_finish', 'api_run_report': 'srv_run_report',
    'retrain_api': 'srv_retrain_api', 'retrain_page': 'srv_retrain_page',
    'decisions_start': 'srv_decisions_start', 'decisions_stop': 'srv_decisions_stop',
    'decisions_api': 'srv_decisions_api',
    'rt_events_post': 'srv_rt_events_post', 'rt_profile_get': 'srv_rt_profile_get',
    'rt_profile_get_or': 'srv_rt_profile_get_or', 'rt_changes_sse': 'srv_rt_changes_sse',
    'RT_MAX_LINES': 'SRV_RT_MAX_LINES', 'RT_LOCK_WAIT_MS': 'SRV_RT_LOCK_WAIT_MS',
    'RT_MAX_WAITING': 'SRV_RT_MAX_WAITING',
    'tsr__srv_seg_cb': 'srv_seg_cb', 'tsr__srv_model_cb': 'srv_model_cb', 'tsr__srv_job_cb': 'srv_job_cb',
}

TOKEN = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|[A-Za-z_][A-Za-z0-9_]*|\S', re.S)
IDENT = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')


def rename_comment(c):
    return IDENT.sub(lambda m: RENAME.get(m.group(0), m.group(0)) if '_' in m.group(0) else m.group(0), c)


def rename(text):
    out, pos, prev = [], 0, ''
    for m in TOKEN.finditer(text):
        out.append(text[pos:m.start()])
        t = m.group(0)
        if t.startswith('/*') or t.startswith('//'):
            t = rename_comment(t)
        elif t[0] in '"\'':
            pass
        elif IDENT.fullmatch(t):
            if prev not in ('.', '->') and t in RENAME:
                t = RENAME[t]
        out.append(t)
        if not (t.startswith('/*') or t.startswith('//')):
            prev = '->' if (prev == '-' and t == '>') else t
        pos = m.end()
    out.append(text[pos:])
    return ''.join(out)


for path in sys.argv[1:]:
    with open(path) as f:
        s = f.read()
    r = rename(s)
    if r != s:
        with open(path, 'w') as f:
            f.write(r)
