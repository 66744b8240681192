#include <cblas.h>

/* LAPACK's Fortran entry points in libopenblas (Debian ships no LAPACKE). Column-major;
   every argument by pointer; none of these take hidden string-length arguments. */
void sgeqrf_(const int *m, const int *n, float *a, const int *lda, float *tau,
             float *work, const int *lwork, int *info);
void sorgqr_(const int *m, const int *n, const int *k, float *a, const int *lda,
             const float *tau, float *work, const int *lwork, int *info);
