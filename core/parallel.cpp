#include "core/parallel.h"

#include "core/error.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace fw {

static int g_threads = 0;  // 0 = not set: use OpenMP's default (OMP_NUM_THREADS or all cores)

void set_num_threads(int n) {
    if (n < 1) fail("set_num_threads: need at least 1 thread, got ", n);
    g_threads = n;
}

int num_threads() {
#if defined(_OPENMP)
    return g_threads > 0 ? g_threads : omp_get_max_threads();
#else
    return 1;
#endif
}

}  // namespace fw
