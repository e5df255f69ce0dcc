# Declarations of the compiled incremental WaveNet kernel (see _wavenet.pyx).

cdef extern from "_simd.h" nogil:
    int FD_NR
    void *fd_calloc_aligned(size_t nbytes)
    void fd_free_aligned(void *ptr)
    int fd_sample_scratch(int Q)
    int fd_cpu_has_avx2_fma_f16c()
    void fd_gate_scalar(int nb, int Dp, const float *z, float *h)
    void fd_gate_avx2(int nb, int Dp, const float *z, float *h)
    int fd_sample_scalar(const float *logits, int Q, double u, float temperature, double epsilon,
                         float *scratch)
    int fd_sample_avx2(const float *logits, int Q, double u, float temperature, double epsilon,
                       float *scratch)
    int fd_draw_blocked(const float *p, int Q, double u, const double *block)
    void fd_gemm_avx2(int M, int N, int K, const float *A, Py_ssize_t lda, const void *W, int half,
                      const float *bias, Py_ssize_t ldb, float *C, Py_ssize_t ldc, int accumulate)
    int fd_cpu_has_avx512f()
    int fd_cpu_is_amd()
    void fd_gemm_avx512(int M, int N, int K, const float *A, Py_ssize_t lda, const void *W,
                        int half, const float *bias, Py_ssize_t ldb, float *C, Py_ssize_t ldc,
                        int accumulate)


# The network, padded and packed once per State; shared read-only by all threads.
# Padded sizes Rp, Sp, Qp are multiples of 16 and Dp of 8; padding holds zeros.
cdef struct Plan:
    int L, Q, R, D, S
    int Rp, Dp, Sp, Qp
    int rs              # row stride of a block's buf: [x_old (Rp) | x (Rp) | skip (Sp)]
    bint simd_gemm      # products by fd_gemm_avx2 / fd_gemm_avx512 (packed panels) or BLAS (row-major)
    bint wide_gemm      # the SIMD products by fd_gemm_avx512 (same panels, same results)
    bint simd_act       # gate and softmax by the AVX2 or the scalar (libm) functions
    bint use_gemv       # BLAS path with batch size 1: sgemv instead of sgemm
    bint half           # the product weights wd, wrs, w1, w2 are binary16 (SIMD path only)
    int wsize           # bytes per element of wd, wrs, w1, w2 (2 or 4)
    const int *dil      # (L,) dilations
    const float *iw     # (2, Q, Rp) input taps
    const float *ib     # (Rp,)
    const char *wd      # (L, 2Rp, 2Dp) dilated taps [x(t-d); x(t)] -> [filter | gate]
    const float *bd     # (L, 2Dp)
    const char *wrs     # (L, Dp, Rp + Sp) [res_w | skip_w]
    const float *brs    # (L, Rp + Sp) [res_b | skip_b]
    const char *w1      # (Sp, Sp)
    const float *b1     # (Sp,)
    const char *w2      # (Sp, Qp)
    const float *b2     # (Qp,)
    # Time-since-onset conditioning (optional, format 2); NULL / 0 for a model without it.
    bint timed
    int F               # number of time features
    int time_block      # the features change every time_block steps
    const float *tw     # (L, F, 2Dp) time_w, float32 whatever wsize is
    const double *tau   # (F,) time_tau
    # Negative-voice guidance (optional): rows come in pairs (2k: the voice, 2k + 1: the negative
    # voice, fed the same codes); row 2k draws from l(2k) + guidance * (l(2k) - l(2k + 1)).
    bint guided
    float guidance
    # Format 7 (optional): the linear predictor inside the sampling loop (fastdrum.predictor.Loop);
    # False / NULL for a model without it.
    bint loop
    int order, window, hop
    const float *sw     # (Q, Rp) sig_w: the table of the decoded sample's code
    const float *pw     # (Q, Rp) pred_w: the table of the prediction's code
    const double *lev   # (Q,) each error code's decoded level over the gain
    const double *hann  # (window,) the fit's window


# One thread's rows [row0, row0 + nb) and everything they own.
cdef struct Block:
    int row0, nb
    float *ring         # layer l: (dil[l], nb, Rp) at ring + ring_off[l]
    const float *zbias  # bias of z read by the products: layer l, row i at zbias + l*zb_ls + i*zb_ld
    Py_ssize_t zb_ls, zb_ld  # its layer and row strides (zb_ld = 0: one bias for all rows)
    float *zb           # owned bias of z: (L, nb, 2Dp) dil_b[l] + cond[row, l] (+ time bias),
                        # (L, 1, 2Dp) dil_b[l] + time bias (timed, no cond), or NULL (zbias = Plan.bd)
    float *zb_base      # (L, nb, 2Dp) dil_b[l] + cond[row, l] of a timed conditioned block; else NULL
    float *tscratch     # (F + 2Dp,) phi(t) and one layer's time bias; timed only
    int time_blk        # t // time_block of the time bias in zb; -1: none yet
    Py_ssize_t *ring_off
    int *head           # (L,) next slot of each ring
    int *prev           # (nb,) q(t-1)
    bint has_prev       # False before t = 0 (all-zero one-hot)
    bint ran            # set by the thread that ran this block in the last call
    float *buf          # (nb, rs)
    float *z            # (nb, 2Dp)
    float *h            # (nb, Dp)
    float *sk           # (nb, Sp)
    float *hid          # (nb, Sp)
    float *logits       # (nb, Qp)
    float *scratch      # fd_sample_scratch(Q) floats
    # Format 7 only (else NULL): the predictor's state of each row.
    double *yring       # (nb, 2 window) decoded samples, sample t at t % window and window + t % window
    double *coef        # (nb, order) prediction coefficients a(1..order)
    double *pred        # (nb,) prediction of the next sample to decode
    double *fit         # (window + 3 (order + 1) + 16,) a fit's scratch


cdef struct RunArgs:
    int *codes          # (B, T)
    int T
    int n_primer
    const double *u     # (B, n_steps)
    float *logits_out   # (B, n_steps, Q) or NULL
    int n_steps
    float temperature
    double epsilon      # epsilon sampling's cutoff; 0: none
    int start, stop


cdef class State:
    cdef Plan plan
    cdef Block *blocks
    cdef int n_blocks
    cdef char *weights_mem
    cdef int *dil_mem
    cdef bint busy
    cdef readonly int batch_size
    cdef readonly int n_threads
    cdef readonly str gemm_path
    cdef readonly str act_path
    cdef readonly str weight_dtype
    cdef readonly object guidance
    cdef int next_t     # the step the next run of a format-7 State must start at
