// Direct convolution for few channels, in AVX2 and FMA (see include/Kernels.h). Blocks are
// chosen so that accumulators stay in the 16 vector registers: P pixels x V vectors of 8
// output channels in the forward pass, CB input channels x V vectors in the weight gradient.
// The block sizes are constants after inlining, so each loop below unrolls fully.
#include "Kernels.h"
#include <immintrin.h>

#define TARGET __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

int lesion_kernels_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/// P consecutive output pixels of one row, V vectors of output channels from `w`'s column 0.
TARGET INLINE void conv_block(const float *x, int xrow, int cin, const float *w, int k, int cout,
                              float *y, const int P, const int V) {
    __m256 acc[8];
    for (int i = 0; i < P * V; i++) acc[i] = _mm256_setzero_ps();
    for (int kh = 0; kh < k; kh++) {
        for (int kw = 0; kw < k; kw++) {
            const float *xp = x + kh * xrow + kw * cin;
            const float *wp = w + (kh * k + kw) * cin * cout;
            for (int ci = 0; ci < cin; ci++) {
                __m256 wv[2];
                for (int v = 0; v < V; v++) wv[v] = _mm256_loadu_ps(wp + ci * cout + 8 * v);
                for (int p = 0; p < P; p++) {
                    __m256 b = _mm256_broadcast_ss(xp + p * cin + ci);
                    for (int v = 0; v < V; v++) acc[p * V + v] = _mm256_fmadd_ps(b, wv[v], acc[p * V + v]);
                }
            }
        }
    }
    for (int p = 0; p < P; p++)
        for (int v = 0; v < V; v++) _mm256_storeu_ps(y + p * cout + 8 * v, acc[p * V + v]);
}

/// One output row, for the V vectors of output channels that start at column `co`.
TARGET INLINE void conv_row(const float *x, int xrow, int cin, const float *w, int k, int cout,
                            float *y, int wo, int co, const int P, const int V) {
    int ow = 0;
    for (; ow + P <= wo; ow += P) conv_block(x + ow * cin, xrow, cin, w + co, k, cout, y + ow * cout + co, P, V);
    // The rest in blocks of 4, 2 and 1: one pixel alone is one chain of dependent multiply-adds.
    if (P > 4 && ow + 4 <= wo) { conv_block(x + ow * cin, xrow, cin, w + co, k, cout, y + ow * cout + co, 4, V); ow += 4; }
    if (ow + 2 <= wo) { conv_block(x + ow * cin, xrow, cin, w + co, k, cout, y + ow * cout + co, 2, V); ow += 2; }
    if (ow < wo) conv_block(x + ow * cin, xrow, cin, w + co, k, cout, y + ow * cout + co, 1, V);
}

/// The loops below with the input channels a constant (fully unrolled inner loop) or not.
TARGET INLINE void conv_rows(const float *x, int xrow, int cin, const float *w, int k, int cout,
                             float *y, int ho, int wo) {
    for (int oh = 0; oh < ho; oh++) {
        const float *xr = x + oh * xrow;
        float *yr = y + oh * wo * cout;
        int co = 0;
        for (; co + 16 <= cout; co += 16) conv_row(xr, xrow, cin, w, k, cout, yr, wo, co, 4, 2);
        for (; co < cout; co += 8) conv_row(xr, xrow, cin, w, k, cout, yr, wo, co, 8, 1);
    }
}

TARGET void lesion_conv_direct(const float *x, int xrow, int cin, const float *w, int k, int cout,
                               float *y, int ho, int wo) {
    if (cin == 8 && k == 3) conv_rows(x, xrow, 8, w, 3, cout, y, ho, wo);
    else if (cin == 16 && k == 3) conv_rows(x, xrow, 16, w, 3, cout, y, ho, wo);
    else conv_rows(x, xrow, cin, w, k, cout, y, ho, wo);
}

/// dw rows (tap, ci0 ..< ci0 + CB), V vectors of columns from co, summed over all pixels.
TARGET INLINE void wgrad_block(const float *x, int xrow, int cin, const float *dy, int cout,
                               int ho, int wo, float *dw, int co, const int CB, const int V) {
    __m256 acc[12];
    for (int i = 0; i < CB * V; i++) acc[i] = _mm256_setzero_ps();
    for (int oh = 0; oh < ho; oh++) {
        const float *xr = x + oh * xrow;
        const float *gr = dy + oh * wo * cout + co;
        for (int ow = 0; ow < wo; ow++) {
            __m256 g[2];
            for (int v = 0; v < V; v++) g[v] = _mm256_loadu_ps(gr + ow * cout + 8 * v);
            for (int c = 0; c < CB; c++) {
                __m256 b = _mm256_broadcast_ss(xr + ow * cin + c);
                for (int v = 0; v < V; v++) acc[c * V + v] = _mm256_fmadd_ps(b, g[v], acc[c * V + v]);
            }
        }
    }
    for (int c = 0; c < CB; c++)
        for (int v = 0; v < V; v++) {
            float *d = dw + c * cout + co + 8 * v;
            _mm256_storeu_ps(d, _mm256_add_ps(_mm256_loadu_ps(d), acc[c * V + v]));
        }
}

/// All input channels of one tap, for V vectors of columns from co.
TARGET INLINE void wgrad_tap(const float *x, int xrow, int cin, const float *dy, int cout,
                             int ho, int wo, float *dw, int co, const int CB, const int V) {
    int ci = 0;
    for (; ci + CB <= cin; ci += CB) wgrad_block(x + ci, xrow, cin, dy, cout, ho, wo, dw + ci * cout, co, CB, V);
    for (; ci < cin; ci++) wgrad_block(x + ci, xrow, cin, dy, cout, ho, wo, dw + ci * cout, co, 1, V);
}

TARGET void lesion_conv_direct_wgrad(const float *x, int xrow, int cin, const float *dy, int k, int cout,
                                     int ho, int wo, float *dw) {
    for (int kh = 0; kh < k; kh++) {
        for (int kw = 0; kw < k; kw++) {
            const float *xt = x + kh * xrow + kw * cin;
            float *dt = dw + (kh * k + kw) * cin * cout;
            int co = 0;
            for (; co + 16 <= cout; co += 16) wgrad_tap(xt, xrow, cin, dy, cout, ho, wo, dt, co, 4, 2);
            for (; co < cout; co += 8) wgrad_tap(xt, xrow, cin, dy, cout, ho, wo, dt, co, 8, 1);
        }
    }
}

/// Adds 8 floats to 8 doubles.
TARGET INLINE void add_to_doubles(double *d, __m256 v) {
    _mm256_storeu_pd(d, _mm256_add_pd(_mm256_loadu_pd(d), _mm256_cvtps_pd(_mm256_castps256_ps128(v))));
    _mm256_storeu_pd(d + 4, _mm256_add_pd(_mm256_loadu_pd(d + 4), _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))));
}

/* a where mask > 0, else 0 (also where mask is NaN): a ReLU's backward on the fly. */
static inline TARGET __m256 masked(__m256 a, const float *mask) {
    if (!mask) return a;
    return _mm256_and_ps(a, _mm256_cmp_ps(_mm256_loadu_ps(mask), _mm256_setzero_ps(), _CMP_GT_OQ));
}

TARGET void lesion_channel_sums(const float *a, const float *b, const float *shift, const float *mask, long rows, int c,
                                double *acc, double *acc_a) {
    for (long r = 0; r < rows; r += 64) {
        long end = r + 64 < rows ? r + 64 : rows;
        for (int j = 0; j < c; j += 8) {
            __m256 blk = _mm256_setzero_ps();
            if (shift) {
                __m256 m = _mm256_loadu_ps(shift + j);
                for (long i = r; i < end; i++) {
                    __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i * c + j), m);
                    blk = _mm256_add_ps(blk, _mm256_mul_ps(d, d));
                }
            } else if (b) {
                __m256 blk_a = _mm256_setzero_ps();
                for (long i = r; i < end; i++) {
                    __m256 v = masked(_mm256_loadu_ps(a + i * c + j), mask ? mask + i * c + j : 0);
                    blk = _mm256_add_ps(blk, _mm256_mul_ps(v, _mm256_loadu_ps(b + i * c + j)));
                    blk_a = _mm256_add_ps(blk_a, v);
                }
                if (acc_a) add_to_doubles(acc_a + j, blk_a);
            } else {
                for (long i = r; i < end; i++) blk = _mm256_add_ps(blk, masked(_mm256_loadu_ps(a + i * c + j), mask ? mask + i * c + j : 0));
            }
            add_to_doubles(acc + j, blk);
        }
    }
}

TARGET void lesion_bn_apply(const float *x, long rows, int c, const float *scale, const float *shift,
                            const float *gamma, const float *beta, float *xhat, float *y, int relu) {
    for (long i = 0; i < rows; i++) {
        for (int j = 0; j < c; j += 8) {
            __m256 sc = _mm256_loadu_ps(scale + j), sh = _mm256_loadu_ps(shift + j);
            __m256 g = _mm256_loadu_ps(gamma + j), be = _mm256_loadu_ps(beta + j);
            __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i * c + j), sc), sh);
            if (xhat) _mm256_storeu_ps(xhat + i * c + j, v);
            __m256 out = _mm256_add_ps(_mm256_mul_ps(v, g), be);
            if (relu) out = _mm256_and_ps(out, _mm256_cmp_ps(out, _mm256_setzero_ps(), _CMP_GT_OQ));
            _mm256_storeu_ps(y + i * c + j, out);
        }
    }
}

TARGET void lesion_bn_backward(const float *dy, const float *mask, const float *xhat, long rows, int c, const float *k, float n,
                               const float *sum_dy, const float *sum_dy_xhat, float *dx) {
    __m256 nv = _mm256_set1_ps(n);
    for (long i = 0; i < rows; i++) {
        for (int j = 0; j < c; j += 8) {
            __m256 kv = _mm256_loadu_ps(k + j), sb = _mm256_loadu_ps(sum_dy + j), sg = _mm256_loadu_ps(sum_dy_xhat + j);
            __m256 d = masked(_mm256_loadu_ps(dy + i * c + j), mask ? mask + i * c + j : 0);
            __m256 t = _mm256_sub_ps(_mm256_mul_ps(nv, d), sb);
            t = _mm256_sub_ps(t, _mm256_mul_ps(_mm256_loadu_ps(xhat + i * c + j), sg));
            _mm256_storeu_ps(dx + i * c + j, _mm256_mul_ps(kv, t));
        }
    }
}
