/*
 * pq_lazy.h - libpq opened on the first connection (dlopen), not at process
 * start: linking it made every tessera command load libpq with OpenSSL,
 * Kerberos, LDAP and SASL (about two thirds of the start-up CPU time of a
 * command that never touches PostgreSQL). Include instead of <libpq-fe.h>
 * (store/postgres.c, app/analyze_indb.c): the PQ* names below then call
 * through a table filled by PQconnectdb, which returns NULL when libpq cannot
 * be opened (tsr__pq_why() says why; "out of memory" otherwise).
 * TESSERA_LIBPQ names another library file. Not public API.
 */
#ifndef TESSERA_PQ_LAZY_H
#define TESSERA_PQ_LAZY_H

#include <libpq-fe.h>

#define TSR__PQ_FUNCS(X)                                                              \
  X(PQclear) X(PQgetvalue) X(PQresultStatus) X(PQerrorMessage) X(PQstatus)            \
  X(PQgetisnull) X(PQfreemem) X(PQfinish) X(PQexec) X(PQconnectdb)                    \
  X(PQsetNoticeProcessor) X(PQresultErrorField) X(PQntuples) X(PQgetlength)           \
  X(PQexecParams) X(PQescapeIdentifier) X(PQtransactionStatus) X(PQputCopyData)       \
  X(PQprepare) X(PQnfields) X(PQgetResult) X(PQexecPrepared) X(PQsetSingleRowMode)    \
  X(PQsendQuery) X(PQresultErrorMessage) X(PQputCopyEnd) X(PQcmdTuples)
#define TSR__PQ_FIELD(f) __typeof__(&f) p_##f;
typedef struct tsr__pq_api {
  TSR__PQ_FUNCS(TSR__PQ_FIELD)
} tsr__pq_api;
#undef TSR__PQ_FIELD

extern tsr__pq_api tsr__pq;
/* PQconnectdb after opening libpq once (thread-safe); NULL when it cannot
 * be opened or is out of memory. */
PGconn *tsr__pq_connectdb(const char *conninfo);
/* PQfinish that accepts NULL before libpq is open. */
void tsr__pq_finish(PGconn *c);
/* Why the last NULL from tsr__pq_connectdb: the load error, or "out of
 * memory". */
const char *tsr__pq_why(void);

#define PQconnectdb tsr__pq_connectdb
#define PQfinish tsr__pq_finish
#define PQclear (*tsr__pq.p_PQclear)
#define PQgetvalue (*tsr__pq.p_PQgetvalue)
#define PQresultStatus (*tsr__pq.p_PQresultStatus)
#define PQerrorMessage (*tsr__pq.p_PQerrorMessage)
#define PQstatus (*tsr__pq.p_PQstatus)
#define PQgetisnull (*tsr__pq.p_PQgetisnull)
#define PQfreemem (*tsr__pq.p_PQfreemem)
#define PQexec (*tsr__pq.p_PQexec)
#define PQsetNoticeProcessor (*tsr__pq.p_PQsetNoticeProcessor)
#define PQresultErrorField (*tsr__pq.p_PQresultErrorField)
#define PQntuples (*tsr__pq.p_PQntuples)
#define PQgetlength (*tsr__pq.p_PQgetlength)
#define PQexecParams (*tsr__pq.p_PQexecParams)
#define PQescapeIdentifier (*tsr__pq.p_PQescapeIdentifier)
#define PQtransactionStatus (*tsr__pq.p_PQtransactionStatus)
#define PQputCopyData (*tsr__pq.p_PQputCopyData)
#define PQprepare (*tsr__pq.p_PQprepare)
#define PQnfields (*tsr__pq.p_PQnfields)
#define PQgetResult (*tsr__pq.p_PQgetResult)
#define PQexecPrepared (*tsr__pq.p_PQexecPrepared)
#define PQsetSingleRowMode (*tsr__pq.p_PQsetSingleRowMode)
#define PQsendQuery (*tsr__pq.p_PQsendQuery)
#define PQresultErrorMessage (*tsr__pq.p_PQresultErrorMessage)
#define PQputCopyEnd (*tsr__pq.p_PQputCopyEnd)
#define PQcmdTuples (*tsr__pq.p_PQcmdTuples)

#endif
