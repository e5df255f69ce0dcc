/* Hand-vectorised small-matrix products, gated activation and sampling for
 * fastdrum's incremental WaveNet kernel (_wavenet.pyx).
 *
 * Two families of functions:
 *   fd_*_scalar  portable C (libm), used when the CPU lacks AVX2, FMA or F16C;
 *   fd_*_avx2    AVX2 + FMA + F16C intrinsics, compiled for those instructions only
 *                through GCC/Clang's per-function target attribute, so the rest
 *                of the module (and a wheel) still runs on any x86-64; callers
 *                choose them only if fd_cpu_has_avx2_fma_f16c() says so.
 *
 * Products (fd_gemm_avx2) read weights packed in panels of FD_NR = 16 columns:
 * panel p of a (K, N) matrix W is the contiguous (K, 16) block
 * Wp[p*K*16 + k*16 + j] = W[k, 16*p + j]; N is a multiple of 16. The panels
 * hold float32, or IEEE binary16 when every weight of the model's matrices is
 * exactly a float16 value (fastdrum.Model.float16_exact checks that; _wavenet.pyx
 * only reads its answer): F16C converts them back to the very same float32
 * numbers in registers, so the arithmetic is unchanged and only half the bytes
 * stream from L2 at each step.
 * Every output element is computed by the same sequence of operations whatever
 * the tile it falls in (init = C and/or bias, then one FMA per k in order), so
 * results do not depend on the number of rows handled together, i.e. on the
 * batch split between threads.
 */
#ifndef FASTDRUM_SIMD_H
#define FASTDRUM_SIMD_H

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define FD_NR 16

/* 64-byte aligned, zeroed memory; NULL on failure. Free with fd_free_aligned().
 * calloc, not posix_memalign + memset: large blocks come zeroed from the OS and
 * are only backed by memory when touched, so a ring buffer of a dilation far
 * longer than the clip costs address space, not RAM. */
static void *fd_calloc_aligned(size_t nbytes)
{
    unsigned char *raw, *p;
    if (nbytes > (size_t)-1 - 128)
        return NULL;
    raw = (unsigned char *)calloc(1, nbytes + 64);
    if (raw == NULL)
        return NULL;
    p = raw + 64 - ((size_t)raw & 63);            /* 1 to 64 bytes past raw */
    p[-1] = (unsigned char)(p - raw);
    return p;
}

static void fd_free_aligned(void *ptr)
{
    unsigned char *p = (unsigned char *)ptr;
    if (p != NULL)
        free(p - p[-1]);
}

/* Floats of scratch space the sampling functions need for Q codes. */
static int fd_sample_scratch(int Q) { return ((Q + 15) & ~15) + 2 * (Q / 8 + 1); }

/* ---- portable scalar versions ------------------------------------------- */

/* h[i, j] = tanh(z[i, j]) * sigmoid(z[i, Dp + j]), z rows of 2*Dp, h rows of Dp */
static void fd_gate_scalar(int nb, int Dp, const float *z, float *h)
{
    for (int i = 0; i < nb; i++) {
        const float *zi = z + (size_t)i * 2 * Dp;
        float *hi = h + (size_t)i * Dp;
        for (int j = 0; j < Dp; j++)
            hi[j] = tanhf(zi[j]) * (1.0f / (1.0f + expf(-zi[Dp + j])));
    }
}

/* First maximum of logits[0:Q] (np.argmax). */
static int fd_argmax(const float *logits, int Q)
{
    int best = 0;
    for (int k = 1; k < Q; k++)
        if (logits[k] > logits[best])
            best = k;
    return best;
}

/* Continue the inverse-CDF scan at code k with cdf the sum of p[0:k]: the
 * first code from k on whose running sum exceeds threshold. If none does (the
 * threshold came from a total summed in another order, and u is within an ulp
 * or so of 1), the last code with p > 0: never a code the cutoff removed or
 * whose exp underflowed (p[argmax] = 1, so one exists). */
static int fd_scan(const float *p, int Q, int k, double cdf, double threshold)
{
    while (k < Q) {
        cdf += (double)p[k];
        if (!(cdf <= threshold))
            return k;
        k++;
    }
    for (k = Q - 1; k > 0 && !(p[k] > 0.0f); k--)
        ;
    return k;
}

/* Inverse-CDF draw from the cumulative sums of p[0:Q] (the rule of
 * fastdrum._reference.sample): the number of k with cdf[k] <= u * cdf[Q-1],
 * accumulated in double (u < 1 keeps it below Q here; fd_scan's fallback is
 * for fd_draw_blocked). */
static int fd_draw(const float *p, int Q, double u)
{
    double total = 0.0;
    for (int j = 0; j < Q; j++)
        total += (double)p[j];
    return fd_scan(p, Q, 0, 0.0, u * total);
}

/* Epsilon sampling's cutoff on p[0:Q] = exp(z - max z) (max p = 1): with total
 * the sum of p in double, every p[k] with (double)p[k] < min(epsilon * total, 1)
 * becomes 0 (the rule of fastdrum._reference.sample). The most probable code
 * (p = 1) always stays. */
static double fd_cutoff(double epsilon, double total)
{
    double threshold = epsilon * total;
    return threshold < 1.0 ? threshold : 1.0;
}

static void fd_truncate(float *p, int Q, double epsilon)
{
    double total = 0.0, threshold;
    for (int k = 0; k < Q; k++)
        total += (double)p[k];
    threshold = fd_cutoff(epsilon, total);
    for (int k = 0; k < Q; k++)
        if ((double)p[k] < threshold)
            p[k] = 0.0f;
}

/* Sample one code from softmax(logits / temperature), codes of probability below
 * epsilon removed (epsilon = 0: none, and no extra pass); scratch holds Q floats. */
static int fd_sample_scalar(const float *logits, int Q, double u, float temperature, double epsilon,
                            float *scratch)
{
    float m;
    if (temperature == 0.0f)
        return fd_argmax(logits, Q);
    for (int k = 0; k < Q; k++)
        scratch[k] = logits[k] / temperature;
    m = scratch[0];
    for (int k = 1; k < Q; k++)
        if (scratch[k] > m)
            m = scratch[k];
    for (int k = 0; k < Q; k++)
        scratch[k] = expf(scratch[k] - m);
    if (epsilon > 0.0)
        fd_truncate(scratch, Q, epsilon);
    return fd_draw(scratch, Q, u);
}

/* fd_draw with the sums of the blocks p[8j:8j+8] given (Q8 = Q & ~7 of them):
 * whole blocks are skipped while the running sum stays <= u * total, then the
 * block holding the boundary is scanned element by element, as fd_draw does.
 * Summation order differs from fd_draw only by rounding (1e-16 relative). */
static int fd_draw_blocked(const float *p, int Q, double u, const double *block)
{
    const int nblocks = Q >> 3;
    double total = 0.0, cdf = 0.0, threshold;
    int j, k = 0;
    for (j = 0; j < nblocks; j++)
        total += block[j];
    for (k = nblocks * 8; k < Q; k++)
        total += (double)p[k];
    threshold = u * total;
    k = 0;
    for (j = 0; j < nblocks && cdf + block[j] <= threshold; j++) {
        cdf += block[j];
        k += 8;
    }
    return fd_scan(p, Q, k, cdf, threshold);
}

/* ---- AVX2 + FMA + F16C ----------------------------------------------------- */
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>

#include <cpuid.h>

#define FD_AVX2 __attribute__((target("avx2,fma,f16c")))
#define FD_INLINE static inline __attribute__((always_inline))

/* AVX2, FMA and F16C (every x86 CPU with AVX2 so far also has F16C, but the
 * bits are separate: check all three, and that the OS saves the YMM state). */
static int fd_cpu_has_avx2_fma_f16c(void)
{
    unsigned int a, b, c, d;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return 0;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    return (c & bit_F16C) != 0;
}

/* exp(x) for x <= 0 (Cephes expf polynomial, about 1 ulp); x below -87 gives
 * exp(-87) (about 1.6e-38) instead of a denormal or zero. */
FD_AVX2 FD_INLINE __m256 fd_exp_neg(__m256 x)
{
    const __m256 lo = _mm256_set1_ps(-87.0f);
    const __m256 log2e = _mm256_set1_ps(1.44269504088896341f);
    const __m256 c1 = _mm256_set1_ps(0.693359375f);
    const __m256 c2 = _mm256_set1_ps(-2.12194440e-4f);
    __m256 fx, y, z;
    __m256i e;
    x = _mm256_max_ps(x, lo);
    fx = _mm256_round_ps(_mm256_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm256_fnmadd_ps(fx, c1, x);
    x = _mm256_fnmadd_ps(fx, c2, x);
    z = _mm256_mul_ps(x, x);
    y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, z, x);
    y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
    e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

/* tanh(f) * sigmoid(g) with one division:
 * tanh(f) = sign(f) (1 - a) / (1 + a), a = exp(-2|f|);
 * sigmoid(g) = (g >= 0 ? 1 : b) / (1 + b), b = exp(-|g|). */
FD_AVX2 FD_INLINE __m256 fd_gate8(__m256 f, __m256 g)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 af = _mm256_andnot_ps(sign, f), ag = _mm256_andnot_ps(sign, g);
    __m256 a = fd_exp_neg(_mm256_mul_ps(af, _mm256_set1_ps(-2.0f)));
    __m256 b = fd_exp_neg(_mm256_sub_ps(_mm256_setzero_ps(), ag));
    __m256 num = _mm256_sub_ps(one, a);
    __m256 gnum = _mm256_blendv_ps(one, b, g);          /* sign bit of g set -> b */
    __m256 den = _mm256_mul_ps(_mm256_add_ps(one, a), _mm256_add_ps(one, b));
    num = _mm256_or_ps(num, _mm256_and_ps(f, sign));    /* (1 - a) >= 0: copy f's sign */
    return _mm256_div_ps(_mm256_mul_ps(num, gnum), den);
}

FD_AVX2 static void fd_gate_avx2(int nb, int Dp, const float *z, float *h)
{
    for (int i = 0; i < nb; i++) {
        const float *zi = z + (size_t)i * 2 * Dp;
        float *hi = h + (size_t)i * Dp;
        for (int j = 0; j < Dp; j += 8)   /* Dp is a multiple of 8 */
            _mm256_storeu_ps(hi + j, fd_gate8(_mm256_loadu_ps(zi + j), _mm256_loadu_ps(zi + Dp + j)));
    }
}

/* fd_truncate for fd_draw_blocked: the total from the sums of the blocks of 8
 * (and the tail), then the kept values and their block sums (summed as
 * fd_sample_avx2 sums them), compared in double. */
FD_AVX2 static void fd_truncate_blocked(float *p, int Q, double epsilon, double *block)
{
    const int nblocks = Q >> 3;
    double total = 0.0, threshold;
    __m256d vth;
    int j, k;
    for (j = 0; j < nblocks; j++)
        total += block[j];
    for (k = nblocks * 8; k < Q; k++)
        total += (double)p[k];
    threshold = fd_cutoff(epsilon, total);
    vth = _mm256_set1_pd(threshold);
    for (j = 0; j < nblocks; j++) {
        __m256 e = _mm256_loadu_ps(p + 8 * j);
        __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(e));
        __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1));
        __m256d s4;
        __m128d s2;
        lo = _mm256_and_pd(lo, _mm256_cmp_pd(lo, vth, _CMP_GE_OQ));   /* kept, else +0 */
        hi = _mm256_and_pd(hi, _mm256_cmp_pd(hi, vth, _CMP_GE_OQ));
        /* back to float32: exact, the kept values came from floats */
        _mm256_storeu_ps(p + 8 * j, _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(lo)),
                                                         _mm256_cvtpd_ps(hi), 1));
        s4 = _mm256_add_pd(lo, hi);
        s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
        block[j] = _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
    }
    for (k = nblocks * 8; k < Q; k++)
        if ((double)p[k] < threshold)
            p[k] = 0.0f;
}

/* scratch holds Q floats and (Q / 8) doubles after them (fd_sample_scratch floats). */
FD_AVX2 static int fd_sample_avx2(const float *logits, int Q, double u, float temperature, double epsilon,
                                  float *scratch)
{
    int k, Q8 = Q & ~7;
    double *block = (double *)(scratch + ((Q + 15) & ~15));
    __m256 vt, vm;
    float m, lanes[8];
    if (temperature == 0.0f)
        return fd_argmax(logits, Q);
    /* z = logits / temperature (an IEEE division, as NumPy's); m = max z */
    vt = _mm256_set1_ps(temperature);
    vm = _mm256_set1_ps(-INFINITY);
    for (k = 0; k < Q8; k += 8) {
        __m256 z = _mm256_div_ps(_mm256_loadu_ps(logits + k), vt);
        _mm256_storeu_ps(scratch + k, z);
        vm = _mm256_max_ps(vm, z);
    }
    _mm256_storeu_ps(lanes, vm);
    m = lanes[0];
    for (int j = 1; j < 8; j++)
        m = lanes[j] > m ? lanes[j] : m;
    for (; k < Q; k++) {
        scratch[k] = logits[k] / temperature;
        m = scratch[k] > m ? scratch[k] : m;
    }
    /* p = exp(z - m), and the sum of each block of 8 in double */
    vm = _mm256_set1_ps(m);
    for (k = 0; k < Q8; k += 8) {
        __m256 e = fd_exp_neg(_mm256_sub_ps(_mm256_loadu_ps(scratch + k), vm));
        __m256d s4 = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(e)),
                                   _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
        __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
        _mm256_storeu_ps(scratch + k, e);
        block[k >> 3] = _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
    }
    for (; k < Q; k++)
        scratch[k] = expf(scratch[k] - m);
    if (epsilon > 0.0)
        fd_truncate_blocked(scratch, Q, epsilon, block);
    return fd_draw_blocked(scratch, Q, u, block);
}

/* Eight weights W[off : off + 8], float32 (H = 0) or binary16 (H = 1). */
FD_AVX2 FD_INLINE __m256 fd_load_w(const int H, const void *W, ptrdiff_t off)
{
    if (H)
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const unsigned short *)W + off)));
    return _mm256_loadu_ps((const float *)W + off);
}

/* One tile: C[0:MR, 0:16*NP] (+)= A[0:MR, 0:K] @ W[:, panels 0:NP] (+ bias),
 * the panels starting at element w0 of W; row i adds bias + i*ldb (ldb = 0:
 * one bias for every row; a per-row bias costs nothing more). MR, NP and H are compile-time
 * constants at every call site, so the accumulators live in registers. */
FD_AVX2 FD_INLINE void fd_tile(const int MR, const int NP, const int H, int K,
                                const float *A, ptrdiff_t lda,
                                const void *W, ptrdiff_t w0, ptrdiff_t pstride,
                                const float *bias, ptrdiff_t ldb, float *C, ptrdiff_t ldc,
                                int accumulate)
{
    /* Software prefetch distance for one row, in rows of a panel (1 KiB
     * ahead), or 0 for none: it helped float32 panels at batch 1 by ~4% and
     * slowed binary16 ones by ~15% (their lines last two k each). */
    const int PF = H ? 0 : 16;
    const size_t esize = H ? 2 : 4;
    __m256 acc[6][12];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < 2 * NP; j++) {
            __m256 v = accumulate ? _mm256_loadu_ps(C + i * ldc + 8 * j) : _mm256_setzero_ps();
            if (bias)
                v = _mm256_add_ps(v, _mm256_loadu_ps(bias + i * ldb + 8 * j));
            acc[i][j] = v;
        }
    /* Both loop orders below do, for every output element, the same FMAs in
     * the same order of k; they differ in the registers they need (16 ymm):
     * weights first holds 2NP weights and one broadcast, rows first MR
     * broadcasts and one weight. Spilling either to the stack costs ~30%. */
    const int weights_first = 2 * NP * MR + 2 * NP + 1 <= 16;
    /* Unrolled twice: fewer loop instructions per FMA, and the batch-1 speed
     * no longer swings by ~8% with where the linker happens to place the loop. */
#pragma GCC unroll 2
    for (int k = 0; k < K; k++) {
        if (PF && MR == 1)   /* one row: bound by streaming W from L2 */
            for (int j = 0; j < NP; j++)
                _mm_prefetch((const char *)W + (w0 + j * pstride + (ptrdiff_t)(k + PF) * FD_NR) * esize,
                             _MM_HINT_T0);
        if (weights_first) {
            __m256 w[12];
            for (int j = 0; j < 2 * NP; j++)
                w[j] = fd_load_w(H, W, w0 + (j >> 1) * pstride + k * FD_NR + 8 * (j & 1));
            for (int i = 0; i < MR; i++) {
                __m256 a = _mm256_broadcast_ss(A + i * lda + k);
                for (int j = 0; j < 2 * NP; j++)
                    acc[i][j] = _mm256_fmadd_ps(a, w[j], acc[i][j]);
            }
        } else {
            __m256 a[6];
            for (int i = 0; i < MR; i++)
                a[i] = _mm256_broadcast_ss(A + i * lda + k);
            for (int j = 0; j < 2 * NP; j++) {
                __m256 w = fd_load_w(H, W, w0 + (j >> 1) * pstride + k * FD_NR + 8 * (j & 1));
                for (int i = 0; i < MR; i++)
                    acc[i][j] = _mm256_fmadd_ps(a[i], w, acc[i][j]);
            }
        }
    }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < 2 * NP; j++)
            _mm256_storeu_ps(C + i * ldc + 8 * j, acc[i][j]);
}

/* All column panels of MR rows, NP panels at a time. */
FD_AVX2 FD_INLINE void fd_rows(const int MR, const int NP, const int H, int N, int K,
                                const float *A, ptrdiff_t lda, const void *W,
                                const float *bias, ptrdiff_t ldb, float *C, ptrdiff_t ldc,
                                int accumulate)
{
    const ptrdiff_t pstride = (ptrdiff_t)K * FD_NR;
    const int P = N / FD_NR;
    int p = 0;
    for (; p + NP <= P; p += NP)
        fd_tile(MR, NP, H, K, A, lda, W, p * pstride, pstride, bias ? bias + p * FD_NR : NULL,
                ldb, C + p * FD_NR, ldc, accumulate);
    switch (P - p) {   /* fewer than NP panels left */
    case 3: fd_tile(MR, 3, H, K, A, lda, W, p * pstride, pstride, bias ? bias + p * FD_NR : NULL,
                    ldb, C + p * FD_NR, ldc, accumulate); break;
    case 2: fd_tile(MR, 2, H, K, A, lda, W, p * pstride, pstride, bias ? bias + p * FD_NR : NULL,
                    ldb, C + p * FD_NR, ldc, accumulate); break;
    case 1: fd_tile(MR, 1, H, K, A, lda, W, p * pstride, pstride, bias ? bias + p * FD_NR : NULL,
                    ldb, C + p * FD_NR, ldc, accumulate); break;
    default: break;
    }
}

/* One row (batch size 1, or the last row of a block): the P panels in as few
 * tiles as 12 accumulators allow, of near-equal widths, so that no tile is
 * left with few accumulators, whose FMA chains would bound it by latency. */
FD_AVX2 FD_INLINE void fd_row1(const int H, int N, int K, const float *A, const void *W,
                                const float *bias, float *C, int accumulate)
{
    const ptrdiff_t pstride = (ptrdiff_t)K * FD_NR;
    const int P = N / FD_NR, tiles = (P + 5) / 6;
    int p = 0;
    for (int t = 0; t < tiles; t++) {
        const int np = (P - p) / (tiles - t);   /* widths differ by at most one */
        const float *b = bias ? bias + p * FD_NR : NULL;
        switch (np) {
        case 6: fd_tile(1, 6, H, K, A, 0, W, p * pstride, pstride, b, 0, C + p * FD_NR, 0, accumulate); break;
        case 5: fd_tile(1, 5, H, K, A, 0, W, p * pstride, pstride, b, 0, C + p * FD_NR, 0, accumulate); break;
        case 4: fd_tile(1, 4, H, K, A, 0, W, p * pstride, pstride, b, 0, C + p * FD_NR, 0, accumulate); break;
        case 3: fd_tile(1, 3, H, K, A, 0, W, p * pstride, pstride, b, 0, C + p * FD_NR, 0, accumulate); break;
        case 2: fd_tile(1, 2, H, K, A, 0, W, p * pstride, pstride, b, 0, C + p * FD_NR, 0, accumulate); break;
        default: fd_tile(1, 1, H, K, A, 0, W, p * pstride, pstride, b, 0, C + p * FD_NR, 0, accumulate); break;
        }
        p += np;
    }
}

FD_AVX2 FD_INLINE void fd_gemm_h(const int H, int M, int N, int K, const float *A, ptrdiff_t lda,
                                  const void *W, const float *bias, ptrdiff_t ldb, float *C,
                                  ptrdiff_t ldc, int accumulate)
{
    int i = 0;
    for (; i + 6 <= M; i += 6)
        fd_rows(6, 1, H, N, K, A + i * lda, lda, W, bias ? bias + i * ldb : NULL, ldb, C + i * ldc,
                ldc, accumulate);
    A += i * lda;
    C += i * ldc;
    if (bias)
        bias += i * ldb;
    switch (M - i) {
    case 5: fd_rows(5, 1, H, N, K, A, lda, W, bias, ldb, C, ldc, accumulate); break;
    case 4: fd_rows(4, 1, H, N, K, A, lda, W, bias, ldb, C, ldc, accumulate); break;
    case 3: fd_rows(3, 2, H, N, K, A, lda, W, bias, ldb, C, ldc, accumulate); break;
    case 2: fd_rows(2, 2, H, N, K, A, lda, W, bias, ldb, C, ldc, accumulate); break;
    case 1: fd_row1(H, N, K, A, W, bias, C, accumulate); break;
    default: break;
    }
}

/* C[0:M, 0:N] = A[0:M, 0:K] @ W + bias (+ C if accumulate): row-major A and C,
 * W packed in panels (see the top of this file) of float32 (half = 0) or
 * binary16 (half = 1), N a multiple of 16; bias may be NULL; row i of C adds
 * bias + i*ldb (ldb = 0: the same bias for every row). Tiles of 6 rows x
 * 16 columns (12 accumulators), fewer rows at the end with more columns (at
 * most 12 accumulators, at least 8 when M % 6 != 3, 5). */
FD_AVX2 static void fd_gemm_avx2(int M, int N, int K, const float *A, ptrdiff_t lda,
                                 const void *W, int half, const float *bias, ptrdiff_t ldb,
                                 float *C, ptrdiff_t ldc, int accumulate)
{
    if (half)
        fd_gemm_h(1, M, N, K, A, lda, W, bias, ldb, C, ldc, accumulate);
    else
        fd_gemm_h(0, M, N, K, A, lda, W, bias, ldb, C, ldc, accumulate);
}

/* ---- AVX-512F -------------------------------------------------------------- */
/* The same products with 512-bit registers: a panel's row of 16 columns is one
 * zmm, and 32 registers hold tiles of 6 rows x 4 panels (24 accumulators). On
 * CPUs with two 512-bit FMA units this doubles the FMA width of fd_gemm_avx2;
 * each output element still gets init = C and/or bias, then one FMA per k in
 * order, so the results are those of fd_gemm_avx2 bit for bit. */
#define FD_AVX512 __attribute__((target("avx512f,avx2,fma,f16c")))

/* AVX-512F besides AVX2, FMA and F16C. __builtin_cpu_supports("avx512f") is set by
 * libgcc (GCC 7 and later) and compiler-rt only when XGETBV says the OS saves
 * the opmask and ZMM state. */
static int fd_cpu_has_avx512f(void)
{
    return fd_cpu_has_avx2_fma_f16c() && __builtin_cpu_supports("avx512f");
}

/* An AMD CPU: Zen 4 executes AVX-512 in 256-bit halves, and there the AVX2 products are
 * the faster ones (docs/benchmarks.md), so "auto" does not take the AVX-512F tiles. */
static int fd_cpu_is_amd(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_is("amd");
}

/* Sixteen weights W[off : off + 16], float32 (H = 0) or binary16 (H = 1). */
FD_AVX512 FD_INLINE __m512 fd_load_w16(const int H, const void *W, ptrdiff_t off)
{
    if (H)
        return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const unsigned short *)W + off)));
    return _mm512_loadu_ps((const float *)W + off);
}

/* fd_tile with zmm: C[0:MR, 0:16*NP] (+)= A[0:MR, 0:K] @ W[:, panels 0:NP] (+ bias).
 * MR * NP <= 24 and NP <= 8 (MR * NP accumulators, NP weights, one broadcast). */
FD_AVX512 FD_INLINE void fd_tile512(const int MR, const int NP, const int H, int K,
                                     const float *A, ptrdiff_t lda,
                                     const void *W, ptrdiff_t w0, ptrdiff_t pstride,
                                     const float *bias, ptrdiff_t ldb, float *C, ptrdiff_t ldc,
                                     int accumulate)
{
    __m512 acc[6][8];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NP; j++) {
            __m512 v = accumulate ? _mm512_loadu_ps(C + i * ldc + 16 * j) : _mm512_setzero_ps();
            if (bias)
                v = _mm512_add_ps(v, _mm512_loadu_ps(bias + i * ldb + 16 * j));
            acc[i][j] = v;
        }
#pragma GCC unroll 2
    for (int k = 0; k < K; k++) {
        __m512 w[8];
        for (int j = 0; j < NP; j++)
            w[j] = fd_load_w16(H, W, w0 + j * pstride + k * FD_NR);
        for (int i = 0; i < MR; i++) {
            __m512 a = _mm512_set1_ps(A[i * lda + k]);
            for (int j = 0; j < NP; j++)
                acc[i][j] = _mm512_fmadd_ps(a, w[j], acc[i][j]);
        }
    }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NP; j++)
            _mm512_storeu_ps(C + i * ldc + 16 * j, acc[i][j]);
}

/* All column panels of MR rows, four panels at a time. */
FD_AVX512 FD_INLINE void fd_rows512(const int MR, const int H, int N, int K,
                                     const float *A, ptrdiff_t lda, const void *W,
                                     const float *bias, ptrdiff_t ldb, float *C, ptrdiff_t ldc,
                                     int accumulate)
{
    const ptrdiff_t pstride = (ptrdiff_t)K * FD_NR;
    const int P = N / FD_NR;
    int p = 0;
    for (; p + 4 <= P; p += 4)
        fd_tile512(MR, 4, H, K, A, lda, W, p * pstride, pstride, bias ? bias + p * FD_NR : NULL,
                   ldb, C + p * FD_NR, ldc, accumulate);
    switch (P - p) {   /* fewer than four panels left */
    case 3: fd_tile512(MR, 3, H, K, A, lda, W, p * pstride, pstride, bias ? bias + p * FD_NR : NULL,
                       ldb, C + p * FD_NR, ldc, accumulate); break;
    case 2: fd_tile512(MR, 2, H, K, A, lda, W, p * pstride, pstride, bias ? bias + p * FD_NR : NULL,
                       ldb, C + p * FD_NR, ldc, accumulate); break;
    case 1: fd_tile512(MR, 1, H, K, A, lda, W, p * pstride, pstride, bias ? bias + p * FD_NR : NULL,
                       ldb, C + p * FD_NR, ldc, accumulate); break;
    default: break;
    }
}

/* One row: the P panels in tiles of near-equal widths (as fd_row1), at most 8
 * panels (accumulators) wide for binary16 weights and 4 for float32. Measured at
 * batch 1 on an Intel Xeon with AVX-512 (2026-12-04), standard config (bench/test_kernel_paths.py,
 * three alternating runs of each): binary16 ran 5 to 7% faster in tiles of 8 than
 * of 4 (more FMA chains beside the F16C conversions), float32 5 to 8% slower. */
FD_AVX512 FD_INLINE void fd_row1_512(const int H, int N, int K, const float *A, const void *W,
                                      const float *bias, float *C, int accumulate)
{
    const ptrdiff_t pstride = (ptrdiff_t)K * FD_NR;
    const int widest = H ? 8 : 4;
    const int P = N / FD_NR, tiles = (P + widest - 1) / widest;
    int p = 0;
    for (int t = 0; t < tiles; t++) {
        const int np = (P - p) / (tiles - t);   /* widths differ by at most one */
        const float *b = bias ? bias + p * FD_NR : NULL;
        const ptrdiff_t w0 = p * pstride;
        float *c = C + p * FD_NR;
        switch (np) {
        case 8: fd_tile512(1, 8, H, K, A, 0, W, w0, pstride, b, 0, c, 0, accumulate); break;
        case 7: fd_tile512(1, 7, H, K, A, 0, W, w0, pstride, b, 0, c, 0, accumulate); break;
        case 6: fd_tile512(1, 6, H, K, A, 0, W, w0, pstride, b, 0, c, 0, accumulate); break;
        case 5: fd_tile512(1, 5, H, K, A, 0, W, w0, pstride, b, 0, c, 0, accumulate); break;
        case 4: fd_tile512(1, 4, H, K, A, 0, W, w0, pstride, b, 0, c, 0, accumulate); break;
        case 3: fd_tile512(1, 3, H, K, A, 0, W, w0, pstride, b, 0, c, 0, accumulate); break;
        case 2: fd_tile512(1, 2, H, K, A, 0, W, w0, pstride, b, 0, c, 0, accumulate); break;
        default: fd_tile512(1, 1, H, K, A, 0, W, w0, pstride, b, 0, c, 0, accumulate); break;
        }
        p += np;
    }
}

FD_AVX512 FD_INLINE void fd_gemm512_h(const int H, int M, int N, int K, const float *A,
                                       ptrdiff_t lda, const void *W, const float *bias,
                                       ptrdiff_t ldb, float *C, ptrdiff_t ldc, int accumulate)
{
    int i = 0;
    for (; i + 6 <= M; i += 6)
        fd_rows512(6, H, N, K, A + i * lda, lda, W, bias ? bias + i * ldb : NULL, ldb,
                   C + i * ldc, ldc, accumulate);
    A += i * lda;
    C += i * ldc;
    if (bias)
        bias += i * ldb;
    switch (M - i) {
    case 5: fd_rows512(5, H, N, K, A, lda, W, bias, ldb, C, ldc, accumulate); break;
    case 4: fd_rows512(4, H, N, K, A, lda, W, bias, ldb, C, ldc, accumulate); break;
    case 3: fd_rows512(3, H, N, K, A, lda, W, bias, ldb, C, ldc, accumulate); break;
    case 2: fd_rows512(2, H, N, K, A, lda, W, bias, ldb, C, ldc, accumulate); break;
    case 1: fd_row1_512(H, N, K, A, W, bias, C, accumulate); break;
    default: break;
    }
}

/* fd_gemm_avx2's contract and results, with AVX-512F tiles of 6 rows x 64 columns;
 * call only if fd_cpu_has_avx512f(). */
FD_AVX512 static void fd_gemm_avx512(int M, int N, int K, const float *A, ptrdiff_t lda,
                                     const void *W, int half, const float *bias, ptrdiff_t ldb,
                                     float *C, ptrdiff_t ldc, int accumulate)
{
    if (half)
        fd_gemm512_h(1, M, N, K, A, lda, W, bias, ldb, C, ldc, accumulate);
    else
        fd_gemm512_h(0, M, N, K, A, lda, W, bias, ldb, C, ldc, accumulate);
}

#else  /* not x86 with GCC/Clang: only the portable path exists */
static int fd_cpu_has_avx2_fma_f16c(void) { return 0; }
static void fd_gate_avx2(int nb, int Dp, const float *z, float *h) { fd_gate_scalar(nb, Dp, z, h); }
static int fd_sample_avx2(const float *logits, int Q, double u, float temperature, double epsilon,
                          float *scratch)
{
    return fd_sample_scalar(logits, Q, u, temperature, epsilon, scratch);
}
static void fd_gemm_avx2(int M, int N, int K, const float *A, ptrdiff_t lda, const void *W,
                         int half, const float *bias, ptrdiff_t ldb, float *C, ptrdiff_t ldc,
                         int accumulate)
{
    (void)M; (void)N; (void)K; (void)A; (void)lda; (void)W; (void)half; (void)bias; (void)ldb; (void)C;
    (void)ldc; (void)accumulate;
    abort();  /* never called: the kernel selects this path only if fd_cpu_has_avx2_fma_f16c() */
}
static int fd_cpu_has_avx512f(void) { return 0; }
static int fd_cpu_is_amd(void) { return 0; }
static void fd_gemm_avx512(int M, int N, int K, const float *A, ptrdiff_t lda, const void *W,
                           int half, const float *bias, ptrdiff_t ldb, float *C, ptrdiff_t ldc,
                           int accumulate)
{
    fd_gemm_avx2(M, N, K, A, lda, W, half, bias, ldb, C, ldc, accumulate);  /* aborts likewise */
}
#endif

#endif /* FASTDRUM_SIMD_H */
