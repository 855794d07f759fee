/*
 * mhd_lazy.h - libmicrohttpd opened by tessera serve (dlopen), not at process
 * start: linking it made every tessera command load it with GnuTLS, Nettle,
 * GMP, p11-kit and libidn2 (issue 18: a large share of the CPU time of a
 * short command such as tessera fit). Included by server/srv.h instead of
 * <microhttpd.h>: the MHD_* functions below then call through a table filled
 * by tsr__mhd_open (store/lazy_lib.h, shared with store/pq_lazy.c), which
 * tsr_server_run calls before anything else; no other path reaches them.
 * TESSERA_LIBMICROHTTPD names another library file. Not public API.
 */
#ifndef TESSERA_MHD_LAZY_H
#define TESSERA_MHD_LAZY_H

#include <stddef.h>

#include <microhttpd.h>

#define TSR__MHD_FUNCS(X)                                                                          \
  X(MHD_add_response_header)                                                                       \
  X(MHD_create_post_processor)                                                                     \
  X(MHD_create_response_from_buffer)                                                               \
  X(MHD_create_response_from_buffer_with_free_callback)                                            \
  X(MHD_create_response_from_callback)                                                             \
  X(MHD_destroy_post_processor)                                                                    \
  X(MHD_destroy_response)                                                                          \
  X(MHD_get_connection_info)                                                                       \
  X(MHD_get_daemon_info)                                                                           \
  X(MHD_lookup_connection_value)                                                                   \
  X(MHD_post_process)                                                                              \
  X(MHD_queue_response)                                                                            \
  X(MHD_start_daemon)                                                                              \
  X(MHD_stop_daemon)
#define TSR__MHD_FIELD(f) __typeof__(&f) p_##f;
typedef struct tsr__mhd_api {
  TSR__MHD_FUNCS(TSR__MHD_FIELD)
} tsr__mhd_api;
#undef TSR__MHD_FIELD

extern tsr__mhd_api tsr__mhd;
/* Opens libmicrohttpd once (thread-safe) and fills tsr__mhd. Returns 0, or
 * -1 with why (cap bytes) naming the library file, its Debian package and
 * the dlopen error (or the missing function). */
int tsr__mhd_open(char *why, size_t cap);

#define MHD_add_response_header (*tsr__mhd.p_MHD_add_response_header)
#define MHD_create_post_processor (*tsr__mhd.p_MHD_create_post_processor)
#define MHD_create_response_from_buffer (*tsr__mhd.p_MHD_create_response_from_buffer)
#define MHD_create_response_from_buffer_with_free_callback                                         \
  (*tsr__mhd.p_MHD_create_response_from_buffer_with_free_callback)
#define MHD_create_response_from_callback (*tsr__mhd.p_MHD_create_response_from_callback)
#define MHD_destroy_post_processor (*tsr__mhd.p_MHD_destroy_post_processor)
#define MHD_destroy_response (*tsr__mhd.p_MHD_destroy_response)
#define MHD_get_connection_info (*tsr__mhd.p_MHD_get_connection_info)
#define MHD_get_daemon_info (*tsr__mhd.p_MHD_get_daemon_info)
#define MHD_lookup_connection_value (*tsr__mhd.p_MHD_lookup_connection_value)
#define MHD_post_process (*tsr__mhd.p_MHD_post_process)
#define MHD_queue_response (*tsr__mhd.p_MHD_queue_response)
#define MHD_start_daemon (*tsr__mhd.p_MHD_start_daemon)
#define MHD_stop_daemon (*tsr__mhd.p_MHD_stop_daemon)

#endif
