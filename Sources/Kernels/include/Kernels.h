// Kernels: the few loops that Swift, built for baseline x86-64, cannot make fast: a direct
// convolution for layers of few channels (where im2col and a GEMM with 8 or 16 columns spend
// their time moving patches) and its weight gradient. Each function is compiled for AVX2 and
// FMA and chosen at run time (`lesion_kernels_available`); callers keep their own path for
// machines without them. Pure arithmetic: no allocation, no errors, no global state.
#ifndef LESION_KERNELS_H
#define LESION_KERNELS_H

/// 1 when this CPU has AVX2 and FMA (the kernels below may be called), else 0.
int lesion_kernels_available(void);

/// One image of a stride-1 convolution in NHWC:
///   y[oh, ow, co] = sum over (kh, kw, ci) of x[oh + kh, ow + kw, ci] * w[(kh * k + kw) * cin + ci, co]
/// x is the zero-padded input, [ho + k - 1, wo + k - 1, cin] with row stride `xrow` floats
/// (at least (wo + k - 1) * cin); w is [k * k * cin, cout]; y is [ho, wo, cout].
/// cout must be a multiple of 8. Each output is one fused multiply-add chain in (kh, kw, ci) order.
void lesion_conv_direct(const float *x, int xrow, int cin, const float *w, int k, int cout,
                        float *y, int ho, int wo);

/// Adds one image's weight gradient of the same convolution to dw [k * k * cin, cout]:
///   dw[(kh * k + kw) * cin + ci, co] += sum over (oh, ow) of x[oh + kh, ow + kw, ci] * dy[oh, ow, co]
/// with x as in lesion_conv_direct and dy [ho, wo, cout]; cout a multiple of 8.
void lesion_conv_direct_wgrad(const float *x, int xrow, int cin, const float *dy, int k, int cout,
                              int ho, int wo, float *dw);



// Batch normalisation's passes over [rows, c] buffers, c a multiple of 8. Each channel's
// arithmetic is the one of BatchNorm.swift's loops, in the same order and without fused
// multiply-adds, so both paths give the same bits.

/// acc[ch] += the sum over rows of a[r, ch] (b and shift null), of a[r, ch] * b[r, ch] (b given)
/// or of (a[r, ch] - shift[ch])^2 (shift given); rows are summed in Float in blocks of 64 and
/// each block's sum is added to the Double total. With `mask` (not with shift), a[r, ch] counts
/// only where mask[r, ch] > 0 (a ReLU's backward before the sums). With b and acc_a, acc_a[ch]
/// also gets the sum of (masked) a, as a call without b would give it, in the same pass.
void lesion_channel_sums(const float *a, const float *b, const float *shift, const float *mask, long rows, int c, double *acc,
                         double *acc_a);

/// y = (x * scale + shift) * gamma + beta per channel; with xhat, also xhat = x * scale + shift.
/// y may be x. With relu, y is then 0 where it is not above 0 (NaN included), as a ReLU after it.
void lesion_bn_apply(const float *x, long rows, int c, const float *scale, const float *shift,
                     const float *gamma, const float *beta, float *xhat, float *y, int relu);

/// dx = k * (n * dy - sum_dy - xhat * sum_dy_xhat) per channel; with `mask`, dy counts only
/// where mask > 0.
void lesion_bn_backward(const float *dy, const float *mask, const float *xhat, long rows, int c, const float *k, float n,
                        const float *sum_dy, const float *sum_dy_xhat, float *dx);
#endif
