/*
 * bigmem.c - large arrays on transparent huge pages (see lib/internal.h).
 * On this kind of machine (a VM) a fresh 4 KiB page costs about 1 us to
 * fault in: 12 MB of new memory, 40 ms, more than parsing it. With
 * MADV_HUGEPAGE (THP in "madvise" mode) the same memory is faulted in 2 MiB
 * at a time. Only the 2 MiB-aligned inside of a block is advised, so
 * nothing outside it changes; a kernel without THP ignores the advice.
 * tsr__malloc_big takes blocks of 1 MiB or more 2 MiB-aligned, rounded up
 * to whole 2 MiB pages (free() releases them as any other block).
 */
#include "internal.h"

#include <stdlib.h>
#include <sys/mman.h>

void tsr__advise_huge(void *p, size_t n) {
#ifdef MADV_HUGEPAGE
  const uintptr_t H = (uintptr_t)2 << 20;
  if (!p || n < 2 * H) return;
  uintptr_t a = ((uintptr_t)p + H - 1) & ~(H - 1), e = ((uintptr_t)p + n) & ~(H - 1);
  if (e > a) (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
  (void)p;
  (void)n;
#endif
}

void *tsr__malloc_big(size_t n) {
#ifdef MADV_HUGEPAGE
  const size_t H = (size_t)2 << 20;
  if (n >= H / 2 && n <= SIZE_MAX - H) {
    /* 2 MiB-aligned and a whole number of 2 MiB pages: all of it can be
     * huge (at most one partly used huge page) */
    void *probe = tsr__malloc(1); /* the allocation-failure hook of the tests */
    if (!probe) return NULL;
    tsr__free(probe);
    void *p = NULL;
    size_t m = (n + H - 1) / H * H;
    if (posix_memalign(&p, H, m) != 0) return NULL;
    (void)madvise(p, m, MADV_HUGEPAGE);
    return p;
  }
#endif
  void *p = tsr__malloc(n);
  tsr__advise_huge(p, n);
  return p;
}
