/* bgbb.c - placeholder until the model lands. */
#include "btyd_internal.h"
static int nl(const double *p, const tsr_btyd_data *d, double *ll, double *g) { (void)p,(void)d,(void)ll,(void)g; return -1; }
static int nc(const double *p, double x, double tx, double T, double t, double *e, double *pa) { (void)p,(void)x,(void)tx,(void)T,(void)t,(void)e,(void)pa; return -1; }
static int ne(const double *p, double t, double *o) { (void)p,(void)t,(void)o; return -1; }
static double nh(const double *p, double x, double tx, double T) { (void)p,(void)x,(void)tx,(void)T; return 0; }
static void ns(int k, const tsr_btyd_data *d, double *p) { (void)k,(void)d; p[0]=p[1]=p[2]=p[3]=1; }
const tsr__btyd_spec tsr__bgbb_spec = {TSR_BTYD_BGBB, "bgbb", 4, {"alpha","beta","gamma","delta"}, nl, nc, ne, NULL, nh, ns};
