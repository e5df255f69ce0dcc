"""The compiled incremental WaveNet kernel (Fast WaveNet, Paine et al. 2016).

``State(model, batch_size, n_threads=1)`` has the interface of
``fastdrum._reference.State``. Each thread owns a block of rows and runs the
whole time loop for them with the GIL released; per step and row block:

    x      = input_w[1][q(t)] + input_b + input_w[0][q(t-1)]
    for each layer l (ring buffer of its last d inputs):
      buf    = [x(t-d) | x | skip]                     (one row per clip)
      z      = buf[:, :2R] @ dil_w[l].reshape(2R, 2D) + zb[l]
               (zb[l] = dil_b[l] (+ cond[row, l]) (+ time bias of layer l at step t))
      h      = tanh(z[:, :D]) * sigmoid(z[:, D:])
      [x | skip] += h @ [res_w[l] | skip_w[l]] + [res_b[l] | skip_b[l]]
    logits = relu(relu(skip) @ out1_w + out1_b) @ out2_w + out2_b
    q(t+1) = inverse-CDF draw from softmax(logits / temperature), codes less
             probable than epsilon removed (fastdrum._reference.sample)

Products go through BLAS (scipy's cython_blas), the AVX2 small-matrix kernel of
_simd.h ("simd"), or its AVX-512F tiles ("avx512": the same packed panels, the
same operations for every output element, so the same results bit for bit);
activations through libm or AVX2. Each path is chosen once per State (``_gemm=``,
``_act=`` force one, for tests). "auto" takes the widest the CPU runs at full
width: "avx512" if it has AVX-512F and is not an AMD CPU, else "simd" if it has
AVX2 + FMA + F16C, else BLAS. Zen 4 executes AVX-512 in 256-bit halves, and on
it the AVX2 products were 1.27-1.34x faster than the AVX-512F tiles at batch 1
and 1.05-1.08x at batch 8 and 32 (2026-12-06, rounds of the two interleaved:
``python -m bench.interleave_paths``); Zen 5 is not measured. On the standard
config (bench/test_kernel_paths.py; figures in docs/benchmarks.md) the AVX2 products were 10 to 30% faster than scipy's
OpenBLAS (itself using AVX-512) at batch 8 to 128 on Zen 4 and as fast at
batch 1; on an Intel Xeon with AVX-512 (2026-12-04), whose single-thread
sgemm (160 GFLOP/s at 2.6 GHz) needs two 512-bit FMA units that AVX2 code can
only half fill, the AVX2 products were as fast as OpenBLAS (batch 32: 50% of
sgemm) and the AVX-512F tiles 1.3x faster than either (66%).
The path depends on the CPU only, never on the batch split, so results do not
depend on ``n_threads``.

At batch 1 the products are bound by streaming the ~0.9 MB of weights from L2
(about 32 bytes a cycle on Zen 4), not by arithmetic. When every product weight of the model
is exactly a float16 value (``Model.round_weights("float16")``; the shipped
models are), the SIMD path keeps them as binary16 and F16C widens them in
registers to the same float32 numbers: identical arithmetic, half the bytes.
"""

import numbers

import numpy as np

cimport cython
from cython.parallel cimport prange
from libc.math cimport exp, fabs, floor, isfinite, log1p
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset
from scipy.linalg.cython_blas cimport sgemm, sgemv

from fastdrum import predictor
from fastdrum.errors import GenerationError
from fastdrum.mulaw import mu_law_decode

__all__ = ["State", "gemm_paths", "simd_available"]


def simd_available():
    """Whether this CPU runs the SIMD paths: it has AVX2, FMA and F16C (and the OS saves YMM)."""
    return bool(fd_cpu_has_avx2_fma_f16c())


def gemm_paths():
    """The product paths this CPU runs: "blas", then "simd" and "avx512" if it has them."""
    paths = ["blas"]
    if fd_cpu_has_avx2_fma_f16c():
        paths.append("simd")
    if fd_cpu_has_avx512f():
        paths.append("avx512")
    return paths


def _draw_blocked(float[::1] p, double u, double[::1] block):
    """fd_draw_blocked on probabilities `p` (Q,) with the given block sums (Q // 8,): for tests.

    The AVX2 sampler's draw; the block sums come from the caller, so a test can give
    sums that round above the running sum, as a different summation order can.
    """
    if block.shape[0] != p.shape[0] // 8:
        raise ValueError(f"block must hold {p.shape[0] // 8} sums, got {block.shape[0]}")
    if not 0.0 <= u < 1.0:
        raise ValueError(f"u must be in [0, 1), got {u!r}")
    return fd_draw_blocked(&p[0], p.shape[0], u, &block[0] if block.shape[0] else NULL)


# ---- BLAS helpers (row-major views of Fortran BLAS) ------------------------------

cdef inline void _sgemm_rm(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                           float beta, float *C, int ldc) noexcept nogil:
    """C := A.B + beta*C for row-major A (M, K), B (K, N), C (M, N)."""
    # Row-major C is column-major C.T = B.T @ A.T: swap the operands.
    cdef char no = b'N'
    cdef float one = 1.0
    sgemm(&no, &no, &N, &M, &K, &one, <float *>B, &ldb, <float *>A, &lda, &beta, C, &ldc)


cdef inline void _sgemv_rm(int N, int K, const float *x, const float *B, int ldb,
                           float beta, float *y) noexcept nogil:
    """y := x.B + beta*y for a row vector x (K,) and row-major B (K, N)."""
    # Row-major B is column-major B.T (N, K): y = B.T @ x.
    cdef char no = b'N'
    cdef float one = 1.0
    cdef int inc = 1
    sgemv(&no, &N, &K, &one, <float *>B, &ldb, <float *>x, &inc, &beta, y, &inc)


cdef inline void _product(const Plan *p, int M, int N, int K, const float *A, int lda,
                          const char *Wb, const float *bias, Py_ssize_t ldb, float *C, int ldc,
                          bint accumulate) noexcept nogil:
    """C := A @ W + bias (+ C if accumulate); W packed for the chosen path.

    Row i adds ``bias + i*ldb``: ldb = 0 is one bias for all rows.
    """
    cdef int i, j
    cdef float *c
    cdef const float *bi
    cdef const float *W = <const float *>Wb
    if p.wide_gemm:
        fd_gemm_avx512(M, N, K, A, lda, Wb, p.half, bias, ldb, C, ldc, accumulate)
        return
    if p.simd_gemm:
        fd_gemm_avx2(M, N, K, A, lda, Wb, p.half, bias, ldb, C, ldc, accumulate)
        return
    # C = bias (broadcast, or one row each) (+ C), then C += A @ W
    for i in range(M):
        c = C + <Py_ssize_t>i * ldc
        bi = bias + i * ldb
        if accumulate:
            for j in range(N):
                c[j] += bi[j]
        else:
            for j in range(N):
                c[j] = bi[j]
    if p.use_gemv:
        # C[0] = A[0] @ W + C[0]
        _sgemv_rm(N, K, A, W, N, 1.0, C)
    else:
        # C = A @ W + C
        _sgemm_rm(M, N, K, A, lda, W, N, 1.0, C, ldc)


cdef inline void _relu(int M, int N, const float *src, float *dst, int ld_src) noexcept nogil:
    cdef int i, j
    cdef float v
    for i in range(M):
        for j in range(N):
            v = src[<Py_ssize_t>i * ld_src + j]
            dst[<Py_ssize_t>i * N + j] = v if v > 0 else 0


# ---- the time loop of one row block (no Python objects, no GIL) -------------------

cdef inline void _input_step(const Plan *p, Block *b, const RunArgs *a, int t) noexcept nogil:
    """x = input_w[1][q(t)] + input_b (+ input_w[0][q(t-1)]) (+ format 7's tables); skip = 0."""
    cdef int i, j, code, Rp = p.Rp
    cdef float *x
    cdef const float *w1
    cdef const float *w0
    for i in range(b.nb):
        code = a.codes[(b.row0 + i) * <Py_ssize_t>a.T + t]
        x = b.buf + <Py_ssize_t>i * p.rs + Rp
        w1 = p.iw + (<Py_ssize_t>p.Q + code) * Rp
        for j in range(Rp):
            x[j] = w1[j] + p.ib[j]
        if b.has_prev:
            w0 = p.iw + <Py_ssize_t>b.prev[i] * Rp
            for j in range(Rp):
                x[j] = x[j] + w0[j]
        if p.loop:
            _loop_input(p, b, i, code, t, x)
        b.prev[i] = code
        memset(x + Rp, 0, p.Sp * sizeof(float))
    b.has_prev = True


cdef inline int _mu_law(double v, int Q) noexcept nogil:
    """fastdrum.mulaw.mu_law_encode of one sample (clipped to [-1, 1]; NaN taken as 0)."""
    cdef double mu = Q - 1, f
    cdef int c
    if not (v == v):
        v = 0.0
    v = 1.0 if v > 1.0 else (-1.0 if v < -1.0 else v)
    f = log1p(mu * fabs(v)) / log1p(mu)
    if v < 0:
        f = -f
    c = <int>floor((f + 1.0) / 2.0 * mu + 0.5)
    return 0 if c < 0 else (Q - 1 if c > Q - 1 else c)


cdef inline void _loop_input(const Plan *p, Block *b, int i, int code, int t, float *x) noexcept nogil:
    """Format 7 (fastdrum.predictor.Loop): decode sample t of row i from its error's code, refit
    the row's coefficients after the sample that ends a hop, predict sample t + 1, and add
    sig_w[mulaw(y(t))] + pred_w[mulaw(pred(t + 1))] to its input x."""
    cdef int j, k, W = p.window, O = p.order, pos = t % p.window
    cdef double y, pr = 0.0
    # Each sample is stored twice, so the last `window` samples are contiguous: last[1 - window ..
    # 0] (zeros before the clip, never written).
    cdef double *yr = b.yring + <Py_ssize_t>i * 2 * W
    cdef double *last = yr + pos + W
    cdef double *c = b.coef + <Py_ssize_t>i * O
    cdef const float *ws
    cdef const float *wp
    y = b.pred[i] + p.lev[code]
    yr[pos] = y
    yr[pos + W] = y
    if (t + 1) % p.hop == 0:
        _fit(p, last + 1 - W, c, b.fit)
    if t + 1 >= p.hop:
        for k in range(1, O + 1):
            pr += c[k - 1] * last[1 - k]
    b.pred[i] = pr
    ws = p.sw + <Py_ssize_t>_mu_law(y, p.Q) * p.Rp
    wp = p.pw + <Py_ssize_t>_mu_law(pr, p.Q) * p.Rp
    for j in range(p.Rp):
        x[j] = x[j] + ws[j] + wp[j]


cdef void _fit(const Plan *p, const double *x, double *c, double *scratch) noexcept nogil:
    """fastdrum.predictor.coefficients of the `window` samples x (oldest first) into c: Hann
    window, autocorrelation (direct sums, eight lags at a time; the FFT's to rounding), lag 0 times
    1.0001, the Levinson recursion; zeros for silence or a fit that fails."""
    cdef int j, k, m, q, W = p.window, O = p.order
    cdef double acc, err, kk, xj
    cdef double acc8[8]
    cdef double *xw = scratch  # (W + 8): the windowed samples, then zeros
    cdef double *r = scratch + W + 8  # (O + 1 + 8)
    cdef double *tmp = r + O + 1 + 8  # (O + 1)
    for j in range(W):
        xw[j] = x[j] * p.hann[j]
    memset(xw + W, 0, 8 * sizeof(double))
    for k in range(0, O + 1, 8):  # r[k .. k + 7]: terms past the window's end are zeros
        memset(acc8, 0, 8 * sizeof(double))
        for j in range(W - k):
            xj = xw[j]
            for q in range(8):
                acc8[q] = acc8[q] + xj * xw[j + k + q]
        for q in range(8):
            r[k + q] = acc8[q]
    memset(c, 0, O * sizeof(double))
    if not r[0] > 0:
        return
    err = r[0] * 1.0001
    for m in range(O):
        acc = r[m + 1]
        for j in range(m):
            acc = acc - c[j] * r[m - j]
        kk = acc / err
        for j in range(m):
            tmp[j] = c[j] - kk * c[m - 1 - j]
        for j in range(m):
            c[j] = tmp[j]
        c[m] = kk
        err = err * (1.0 - kk * kk)
        if not (err > 0 and isfinite(kk)):
            memset(c, 0, O * sizeof(double))
            return


cdef inline void _layer_step(const Plan *p, Block *b, int l) noexcept nogil:
    """One residual layer on every row of the block: ring buffer, gated product, residual + skip."""
    cdef int i, nb = b.nb, Rp = p.Rp, Dp = p.Dp, rs = p.rs
    cdef float *slot
    cdef const char *wd = p.wd + <Py_ssize_t>l * 4 * Rp * Dp * p.wsize
    cdef const char *wrs = p.wrs + <Py_ssize_t>l * Dp * (Rp + p.Sp) * p.wsize
    # buf[:, :R] = ring[l][head]; ring[l][head] = x; head += 1 (mod d)
    slot = b.ring + b.ring_off[l] + <Py_ssize_t>b.head[l] * nb * Rp
    for i in range(nb):
        memcpy(b.buf + <Py_ssize_t>i * rs, slot + <Py_ssize_t>i * Rp, Rp * sizeof(float))
        memcpy(slot + <Py_ssize_t>i * Rp, b.buf + <Py_ssize_t>i * rs + Rp, Rp * sizeof(float))
    b.head[l] += 1
    if b.head[l] == p.dil[l]:
        b.head[l] = 0
    # z = concat(x_old, x) @ dil_w[l].reshape(2R, 2D) + dil_b[l] (+ cond[:, l], per row)
    #     (+ the time bias of layer l)
    _product(p, nb, 2 * Dp, 2 * Rp, b.buf, rs, wd, b.zbias + l * b.zb_ls, b.zb_ld,
             b.z, 2 * Dp, False)
    # h = tanh(z[:, :D]) * sigmoid(z[:, D:])
    if p.simd_act:
        fd_gate_avx2(nb, Dp, b.z, b.h)
    else:
        fd_gate_scalar(nb, Dp, b.z, b.h)
    # [x | skip] += h @ [res_w[l] | skip_w[l]] + [res_b[l] | skip_b[l]]
    _product(p, nb, Rp + p.Sp, Dp, b.h, Dp, wrs, p.brs + <Py_ssize_t>l * (Rp + p.Sp), 0,
             b.buf + Rp, rs, True)


cdef inline void _output_step(const Plan *p, Block *b, const RunArgs *a, int t) noexcept nogil:
    """logits from skip; copied out if asked; q(t+1) drawn once the primer is fed."""
    cdef int i, code, Sp = p.Sp, Qp = p.Qp, Q = p.Q
    cdef Py_ssize_t row
    cdef double u
    # hid = relu(relu(skip) @ out1_w + out1_b)
    _relu(b.nb, Sp, b.buf + 2 * p.Rp, b.sk, p.rs)
    _product(p, b.nb, Sp, Sp, b.sk, Sp, p.w1, p.b1, 0, b.hid, Sp, False)
    _relu(b.nb, Sp, b.hid, b.hid, Sp)
    # logits = hid @ out2_w + out2_b
    _product(p, b.nb, Qp, Sp, b.hid, Sp, p.w2, p.b2, 0, b.logits, Qp, False)
    if a.logits_out != NULL:
        for i in range(b.nb):
            memcpy(a.logits_out + ((b.row0 + i) * <Py_ssize_t>a.n_steps + (t - a.start)) * Q,
                   b.logits + <Py_ssize_t>i * Qp, Q * sizeof(float))
    if t + 1 < a.n_primer or t + 1 >= a.T:
        return
    if p.guided:
        _guided_step(p, b, a, t)
        return
    for i in range(b.nb):
        row = b.row0 + i
        u = a.u[row * a.n_steps + (t - a.start)]
        if p.simd_act:
            code = fd_sample_avx2(b.logits + <Py_ssize_t>i * Qp, Q, u, a.temperature, a.epsilon,
                                  b.scratch)
        else:
            code = fd_sample_scalar(b.logits + <Py_ssize_t>i * Qp, Q, u, a.temperature, a.epsilon,
                                    b.scratch)
        a.codes[row * a.T + t + 1] = code


cdef inline void _guided_step(const Plan *p, Block *b, const RunArgs *a, int t) noexcept nogil:
    """Negative-voice guidance: each pair of rows (2k, 2k + 1) draws one code, from
    g = l + w * (l - n) (l, n: the logits of rows 2k and 2k + 1; the difference in float32, the
    rest in double, rounded once to float32: the reference's rule) with row 2k's uniform, and
    both rows are fed it. The block's rows are whole pairs (_alloc_blocks)."""
    cdef int i, j, code, Qp = p.Qp, Q = p.Q
    cdef Py_ssize_t row
    cdef double u, w = p.guidance
    cdef float *g
    cdef const float *neg
    for i in range(0, b.nb, 2):
        row = b.row0 + i
        g = b.logits + <Py_ssize_t>i * Qp
        neg = g + Qp
        for j in range(Q):
            g[j] = <float>(<double>g[j] + w * <double>(g[j] - neg[j]))
        u = a.u[row * a.n_steps + (t - a.start)]
        if p.simd_act:
            code = fd_sample_avx2(g, Q, u, a.temperature, a.epsilon, b.scratch)
        else:
            code = fd_sample_scalar(g, Q, u, a.temperature, a.epsilon, b.scratch)
        a.codes[row * a.T + t + 1] = code
        a.codes[(row + 1) * a.T + t + 1] = code


cdef void _time_bias(const Plan *p, Block *b, int blk) noexcept nogil:
    """zb := base + the time bias of block `blk` (steps blk*time_block ..), every layer and row.

    phi_k = float32(exp(-blk*time_block / time_tau[k])) (in double), then per layer
    tb = sum_k phi_k * time_w[l, k] (float32, in k order) and zb[l, i] = base[l, i] + tb.
    """
    cdef int k, l, i, c, F = p.F, n2 = 2 * p.Dp
    cdef int rows = b.nb if b.zb_base != NULL else 1
    cdef double bt = <double>blk * p.time_block
    cdef float *phi = b.tscratch
    cdef float *tb = b.tscratch + F
    cdef float *dst
    cdef const float *tw
    cdef const float *base
    cdef float f
    for k in range(F):
        phi[k] = <float>exp(-bt / p.tau[k])
    for l in range(p.L):
        tw = p.tw + <Py_ssize_t>l * F * n2
        for c in range(n2):
            tb[c] = 0
        for k in range(F):
            f = phi[k]
            for c in range(n2):
                tb[c] = tb[c] + f * tw[<Py_ssize_t>k * n2 + c]
        dst = b.zb + <Py_ssize_t>l * rows * n2
        for i in range(rows):
            if b.zb_base != NULL:
                base = b.zb_base + (<Py_ssize_t>l * rows + i) * n2
            else:
                base = p.bd + <Py_ssize_t>l * n2
            for c in range(n2):
                dst[<Py_ssize_t>i * n2 + c] = base[c] + tb[c]


cdef void _run_block(const Plan *p, Block *b, const RunArgs *a) noexcept nogil:
    cdef int t, l, blk
    for t in range(a.start, a.stop):
        if p.timed:
            # The time bias changes every time_block steps: refresh it only then (or when this
            # call starts in another block than the bias in zb is for).
            blk = t // p.time_block
            if blk != b.time_blk:
                _time_bias(p, b, blk)
                b.time_blk = blk
        _input_step(p, b, a, t)
        for l in range(p.L):
            _layer_step(p, b, l)
        _output_step(p, b, a, t)
    b.ran = True


# ---- Python boundary ------------------------------------------------------------------

#: The packed arrays of a Plan (its fields of the same names), in their order in State.weights_mem.
_PACKED = ("iw", "ib", "wd", "bd", "wrs", "brs", "w1", "b1", "w2", "b2")
#: Those of a time-conditioned model, after them: time_w padded (float32), time_tau (float64).
_PACKED_TIME = ("tw", "tau")
#: Those of a format-7 model, after them: sig_w and pred_w padded (float32), the error codes' levels
#: over the gain and the fit's Hann window (float64).
_PACKED_LOOP = ("sw", "pw", "lev", "hann")
#: Bytes each packed array is aligned to in State.weights_mem (one cache line).
_ALIGN = 64
#: Padded channel counts are multiples of these: FD_NR columns for R, S, Q; 8 lanes for D.
_PAD_RSQ, _PAD_D = 16, 8


cdef inline int _pad(int n, int m):
    return (n + m - 1) // m * m


def _panels(w):
    """Pack a (K, N) matrix (N a multiple of 16) into FD_NR-column panels."""
    K, N = w.shape
    return w.reshape(K, N // FD_NR, FD_NR).transpose(1, 0, 2)


def _check_array(name, a, dtype, shape, writeable=False):
    if not isinstance(a, np.ndarray):
        raise GenerationError(f"{name} must be a numpy array, got {type(a).__name__}")
    if a.dtype != dtype:
        raise GenerationError(f"{name} must have dtype {np.dtype(dtype).name}, got {a.dtype}")
    if a.shape != shape:
        raise GenerationError(f"{name} must have shape {shape!r}, got {a.shape!r}")
    if not a.flags.c_contiguous:
        raise GenerationError(f"{name} must be C-contiguous")
    if writeable and not a.flags.writeable:
        raise GenerationError(f"{name} must be writeable")


def _check_int(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise GenerationError(f"{name} must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise GenerationError(f"{name} must be in [{lo}, {hi}], got {value!r}")
    return int(value)


def _model_arrays(model):
    """(float32 weights by name, dilations, float16-exact?, time) of a Model, or GenerationError.

    `time` is (time_tau as float64 (F,), time_block) for a time-conditioned model
    (``weights["time_w"]`` is then float32 (L, F, 2D)), else None.
    """
    try:
        weights = model.weights
        dilations = [int(d) for d in model.dilations]
        exact16 = bool(model.float16_exact)
        tau = getattr(model, "time_tau", None)
        block = getattr(model, "time_block", None)
    except (AttributeError, TypeError):
        raise GenerationError(
            f"model must be a fastdrum.Model, got {type(model).__name__}") from None
    if not dilations or min(dilations) < 1:
        raise GenerationError(f"dilations must be positive, got {dilations!r}")
    W = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
    if tau is None and block is None and "time_w" not in W:
        return W, dilations, exact16, None
    if tau is None or block is None or "time_w" not in W:
        raise GenerationError("a time-conditioned model needs time_tau, time_block and "
                              "weights['time_w'] together")
    tau = np.asarray(tau, dtype=np.float32)
    if tau.ndim != 1:
        raise GenerationError(f"time_tau must have one dimension, got shape {tau.shape!r}")
    if not np.all((tau >= 1) & (tau <= 2**24)):
        raise GenerationError(f"time_tau must lie in [1, 2**24], got {tau!r:.80}")
    block = _check_int("time_block", block, 1, 65536)
    shape = (len(dilations), tau.shape[0], W["dil_b"].shape[1])
    if W["time_w"].shape != shape:
        raise GenerationError(f"time_w must have shape {shape!r}, got {W['time_w'].shape!r}")
    return W, dilations, exact16, (tau.astype(np.float64), block)


def _choose_paths(gemm, act, weights, exact16):
    """(gemm path, activation path, binary16 weights?) from the CPU and the private overrides.

    The product weights are stored as binary16 when that loses nothing: every
    one of them is exactly a float16 value (Model.float16_exact; Model.round_weights
    makes such models). The products then compute the same float32 numbers
    from half the bytes.
    """
    if (gemm not in ("auto", "simd", "avx512", "blas") or act not in ("auto", "simd", "scalar")
            or weights not in ("auto", "float16", "float32")):
        raise GenerationError(
            f"unknown kernel path _gemm={gemm!r}, _act={act!r}, _weights={weights!r}")
    simd = bool(fd_cpu_has_avx2_fma_f16c())
    if not simd and "simd" in (gemm, act):
        raise GenerationError("this CPU has no AVX2 + FMA + F16C: the 'simd' path is unavailable")
    if gemm == "avx512" and not fd_cpu_has_avx512f():
        raise GenerationError("this CPU has no AVX-512F: the 'avx512' path is unavailable")
    if gemm == "auto":
        wide = fd_cpu_has_avx512f() and not fd_cpu_is_amd()
        gemm_path = "avx512" if wide else "simd" if simd else "blas"
    else:
        gemm_path = gemm
    act_path = ("simd" if simd else "scalar") if act == "auto" else act
    panels = gemm_path in ("simd", "avx512")
    if weights == "float16" and not (exact16 and panels):
        raise GenerationError(
            "_weights='float16' needs the 'simd' or 'avx512' path and float16-exact weights")
    return gemm_path, act_path, exact16 and panels and weights != "float32"


def _padded(W, Rp, Dp, Sp, Qp):
    """The format's arrays zero-padded and fused as the time loop reads them, by _PACKED name."""
    L, Q, R = W["dil_w"].shape[0], W["input_w"].shape[1], W["input_w"].shape[2]
    D, S = W["dil_b"].shape[1] // 2, W["skip_b"].shape[1]
    a = {"iw": np.zeros((2, Q, Rp), np.float32), "ib": np.zeros(Rp, np.float32),
         "wd": np.zeros((L, 2 * Rp, 2 * Dp), np.float32), "bd": np.zeros((L, 2 * Dp), np.float32),
         "wrs": np.zeros((L, Dp, Rp + Sp), np.float32), "brs": np.zeros((L, Rp + Sp), np.float32),
         "w1": np.zeros((Sp, Sp), np.float32), "b1": np.zeros(Sp, np.float32),
         "w2": np.zeros((Sp, Qp), np.float32), "b2": np.zeros(Qp, np.float32)}
    a["iw"][:, :, :R] = W["input_w"]
    a["ib"][:R] = W["input_b"]
    for tap in range(2):  # rows [x(t-d); x(t)], columns [filter | gate]
        rows = slice(tap * Rp, tap * Rp + R)
        a["wd"][:, rows, :D] = W["dil_w"][:, tap, :, :D]
        a["wd"][:, rows, Dp:Dp + D] = W["dil_w"][:, tap, :, D:]
    a["bd"][:, :D] = W["dil_b"][:, :D]
    a["bd"][:, Dp:Dp + D] = W["dil_b"][:, D:]
    a["wrs"][:, :D, :R] = W["res_w"]
    a["wrs"][:, :D, Rp:Rp + S] = W["skip_w"]
    a["brs"][:, :R] = W["res_b"]
    a["brs"][:, Rp:Rp + S] = W["skip_b"]
    a["w1"][:S, :S] = W["out1_w"]
    a["b1"][:S] = W["out1_b"]
    a["w2"][:S, :Q] = W["out2_w"]
    a["b2"][:Q] = W["out2_b"]
    return a


def _padded_time(time_w, tau, Dp):
    """time_w (L, F, 2D) padded as dil_b to (L, F, 2Dp), and time_tau, by _PACKED_TIME name."""
    L, F, D = time_w.shape[0], time_w.shape[1], time_w.shape[2] // 2
    tw = np.zeros((L, F, 2 * Dp), np.float32)
    tw[:, :, :D] = time_w[:, :, :D]
    tw[:, :, Dp:Dp + D] = time_w[:, :, D:]
    return {"tw": tw, "tau": np.ascontiguousarray(tau, dtype=np.float64)}


def _loop_of(model):
    """(order, window, hop, gain) of a format-7 model (its predictor inside the sampling loop), or
    None; GenerationError for a predictor the kernel cannot run."""
    if not getattr(model, "loop", False):
        return None
    p = model.predictor
    try:
        order, window, hop = (int(p[k]) for k in ("order", "window", "hop"))
        gain = float(p["gain"])
    except (TypeError, KeyError, ValueError):
        raise GenerationError(f"a format-7 model needs its predictor, got {p!r:.80}") from None
    lo, hi = predictor.GAIN_RANGE
    if not (1 <= order <= predictor.MAX_ORDER and order < window <= predictor.MAX_WINDOW
            and predictor.MIN_HOP <= hop <= window and lo <= gain <= hi):
        raise GenerationError(f"predictor out of range: {p!r:.80}")
    return order, window, hop, gain


def _padded_loop(W, loop, Q, Rp):
    """sig_w and pred_w (Q, R) padded to (Q, Rp), each error code's level over the gain and the Hann
    window, by _PACKED_LOOP name (the levels and the window as fastdrum.predictor computes them)."""
    _, window, _, gain = loop
    a = {}
    for name, key in (("sw", "sig_w"), ("pw", "pred_w")):
        if W[key].shape != (Q, W["input_w"].shape[2]):
            raise GenerationError(f"{key} must have shape (Q, R), got {W[key].shape!r}")
        a[name] = np.zeros((Q, Rp), np.float32)
        a[name][:, :W[key].shape[1]] = W[key]
    a["lev"] = mu_law_decode(np.arange(Q), Q).astype(np.float64) / gain
    a["hann"] = np.hanning(window).astype(np.float64)
    return a


def _packed(padded, simd_gemm, half):
    """The padded arrays as bytes, by _PACKED (and _PACKED_TIME) name: product matrices in
    panels for the SIMD path, and as binary16 if `half`."""
    a = dict(padded)
    if simd_gemm:
        a["wd"] = np.stack([_panels(w) for w in a["wd"]])
        a["wrs"] = np.stack([_panels(w) for w in a["wrs"]])
        a["w1"], a["w2"] = _panels(a["w1"]), _panels(a["w2"])
    if half:
        for k in ("wd", "wrs", "w1", "w2"):
            a[k] = a[k].astype(np.float16)
    return {k: np.ascontiguousarray(v).view(np.uint8).ravel() for k, v in a.items()}


cdef void _pack_bias(float *dst, dil_b, cond, int D, int Dp) except *:
    """dst (L, nb, 2Dp) := dil_b[l] + cond[i, l] for each row i, [filter | gate] padded to Dp."""
    cdef const unsigned char[::1] flat
    nb, L = cond.shape[0], cond.shape[1]
    full = (dil_b[None] + cond).transpose(1, 0, 2)  # (L, nb, 2D), a float32 sum
    z = np.zeros((L, nb, 2 * Dp), np.float32)
    z[:, :, :D] = full[:, :, :D]
    z[:, :, Dp:Dp + D] = full[:, :, D:]
    flat = z.view(np.uint8).ravel()
    memcpy(dst, &flat[0], flat.shape[0])


cdef void _set_sizes(Plan *p, W, int L, bint simd_gemm, bint simd_act, bint half,
                     int batch_size) except *:
    """The Plan's sizes and flags (its pointers are set by _load_weights)."""
    p.L, p.Q, p.R = L, W["input_w"].shape[1], W["input_w"].shape[2]
    p.D, p.S = W["dil_b"].shape[1] // 2, W["skip_b"].shape[1]
    p.Rp, p.Dp = _pad(p.R, _PAD_RSQ), _pad(p.D, _PAD_D)
    p.Sp, p.Qp = _pad(p.S, _PAD_RSQ), _pad(p.Q, _PAD_RSQ)
    p.rs = 2 * p.Rp + p.Sp
    p.simd_gemm = simd_gemm
    p.simd_act = simd_act
    p.use_gemv = batch_size == 1
    p.half = half
    p.wsize = 2 if half else 4
    p.timed = False  # set with F, time_block by State.__init__ for a time-conditioned model
    p.guided = False  # set with guidance by State.__init__ for a guided State
    p.loop = False  # set with order, window, hop by State.__init__ for a format-7 model


cdef inline char *_at(State st, dict offsets, str name):
    return st.weights_mem + <Py_ssize_t>offsets[name]


cdef void _load_weights(State st, dict packed, list dilations) except *:
    """Copy the packed arrays into one aligned allocation and point the Plan at them."""
    cdef Plan *p = &st.plan
    cdef const unsigned char[::1] flat
    cdef int l
    names = _PACKED + (_PACKED_TIME if p.timed else ()) + (_PACKED_LOOP if p.loop else ())
    offsets, total = {}, 0
    for name in names:
        offsets[name] = total
        total += _pad(packed[name].size, _ALIGN)
    st.weights_mem = <char *>fd_calloc_aligned(total)
    st.dil_mem = <int *>malloc(len(dilations) * sizeof(int))
    if st.weights_mem == NULL or st.dil_mem == NULL:
        raise MemoryError("cannot allocate the kernel's weights")
    for name in names:
        flat = packed[name]
        if flat.shape[0]:
            memcpy(_at(st, offsets, name), &flat[0], flat.shape[0])
    p.iw, p.ib = <float *>_at(st, offsets, "iw"), <float *>_at(st, offsets, "ib")
    p.wd, p.bd = _at(st, offsets, "wd"), <float *>_at(st, offsets, "bd")
    p.wrs, p.brs = _at(st, offsets, "wrs"), <float *>_at(st, offsets, "brs")
    p.w1, p.b1 = _at(st, offsets, "w1"), <float *>_at(st, offsets, "b1")
    p.w2, p.b2 = _at(st, offsets, "w2"), <float *>_at(st, offsets, "b2")
    if p.timed:
        p.tw, p.tau = <float *>_at(st, offsets, "tw"), <double *>_at(st, offsets, "tau")
    if p.loop:
        p.sw, p.pw = <float *>_at(st, offsets, "sw"), <float *>_at(st, offsets, "pw")
        p.lev, p.hann = <double *>_at(st, offsets, "lev"), <double *>_at(st, offsets, "hann")
    for l in range(len(dilations)):
        st.dil_mem[l] = dilations[l]
    p.dil = st.dil_mem


cdef void _alloc_block(Block *b, const Plan *p, Py_ssize_t ring_size, int batch_size) except *:
    """Zeroed buffers for the b.nb rows of b: ring buffers, activations, sampling scratch."""
    cdef Py_ssize_t off = 0
    cdef int l, nb = b.nb
    ring_bytes = int(ring_size) * nb * p.Rp * 4
    if ring_bytes >= 1 << 62:
        raise MemoryError(f"ring buffers of {ring_bytes} bytes requested")
    b.ring = <float *>fd_calloc_aligned(<size_t>ring_bytes)
    b.ring_off = <Py_ssize_t *>malloc(p.L * sizeof(Py_ssize_t))
    b.head = <int *>fd_calloc_aligned(p.L * sizeof(int))
    b.prev = <int *>fd_calloc_aligned(nb * sizeof(int))
    b.buf = <float *>fd_calloc_aligned(<Py_ssize_t>nb * p.rs * sizeof(float))
    b.z = <float *>fd_calloc_aligned(<Py_ssize_t>nb * 2 * p.Dp * sizeof(float))
    b.h = <float *>fd_calloc_aligned(<Py_ssize_t>nb * p.Dp * sizeof(float))
    b.sk = <float *>fd_calloc_aligned(<Py_ssize_t>nb * p.Sp * sizeof(float))
    b.hid = <float *>fd_calloc_aligned(<Py_ssize_t>nb * p.Sp * sizeof(float))
    b.logits = <float *>fd_calloc_aligned(<Py_ssize_t>nb * p.Qp * sizeof(float))
    b.scratch = <float *>fd_calloc_aligned(fd_sample_scratch(p.Q) * sizeof(float))
    if (b.ring == NULL or b.ring_off == NULL or b.head == NULL or b.prev == NULL
            or b.buf == NULL or b.z == NULL or b.h == NULL or b.sk == NULL
            or b.hid == NULL or b.logits == NULL or b.scratch == NULL):
        raise MemoryError(
            f"cannot allocate the ring buffers of {batch_size} rows "
            f"({ring_size * batch_size * p.Rp * 4 / 2**20:.1f} MiB)")
    for l in range(p.L):
        b.ring_off[l] = off
        off += <Py_ssize_t>p.dil[l] * nb * p.Rp
    b.has_prev = False
    if p.loop:
        b.yring = <double *>fd_calloc_aligned(<Py_ssize_t>nb * 2 * p.window * sizeof(double))
        b.coef = <double *>fd_calloc_aligned(<Py_ssize_t>nb * p.order * sizeof(double))
        b.pred = <double *>fd_calloc_aligned(<Py_ssize_t>nb * sizeof(double))
        b.fit = <double *>fd_calloc_aligned((p.window + 3 * (p.order + 1) + 16) * sizeof(double))
        if b.yring == NULL or b.coef == NULL or b.pred == NULL or b.fit == NULL:
            raise MemoryError("cannot allocate the kernel's predictor state")


cdef void _free_block(Block *b) noexcept nogil:
    fd_free_aligned(b.ring)
    free(b.ring_off)
    fd_free_aligned(b.head)
    fd_free_aligned(b.prev)
    fd_free_aligned(b.buf)
    fd_free_aligned(b.z)
    fd_free_aligned(b.h)
    fd_free_aligned(b.sk)
    fd_free_aligned(b.hid)
    fd_free_aligned(b.logits)
    fd_free_aligned(b.scratch)
    fd_free_aligned(b.zb)
    fd_free_aligned(b.zb_base)
    fd_free_aligned(b.tscratch)
    fd_free_aligned(b.yring)
    fd_free_aligned(b.coef)
    fd_free_aligned(b.pred)
    fd_free_aligned(b.fit)


cdef void _alloc_blocks(State st, int n_threads, cond, dil_b) except *:
    """One row block per thread (sizes differing by at most one row, or one pair of rows for a
    guided State), each with its buffers and
    its bias of z: Plan.bd for all rows, or its own (per row given `cond`; refreshed by
    _time_bias for a time-conditioned model, with dil_b + cond kept in zb_base)."""
    cdef const Plan *p = &st.plan
    cdef Block *b
    cdef Py_ssize_t ring_size = 0, n2 = 2 * p.Dp
    cdef int i, l, base, extra, B = st.batch_size
    cdef int unit = 2 if p.guided else 1  # a guided State splits its rows in whole pairs
    st.n_blocks = min(n_threads, B // unit)
    st.blocks = <Block *>malloc(st.n_blocks * sizeof(Block))
    if st.blocks == NULL:
        st.n_blocks = 0
        raise MemoryError("cannot allocate the kernel's row blocks")
    memset(st.blocks, 0, st.n_blocks * sizeof(Block))
    base, extra = divmod(B // unit, st.n_blocks)
    for l in range(p.L):
        ring_size += p.dil[l]
    for i in range(st.n_blocks):
        b = &st.blocks[i]
        b.row0 = unit * (i * base + min(i, extra))
        b.nb = unit * (base + (1 if i < extra else 0))
        _alloc_block(b, p, ring_size, B)
        b.time_blk = -1
        b.zbias, b.zb_ls, b.zb_ld = p.bd, n2, 0
        if cond is not None:
            b.zb = <float *>fd_calloc_aligned(<Py_ssize_t>p.L * b.nb * n2 * sizeof(float))
            if b.zb == NULL:
                raise MemoryError("cannot allocate the kernel's conditioning bias")
            _pack_bias(b.zb, dil_b, cond[b.row0:b.row0 + b.nb], p.D, p.Dp)
            b.zbias, b.zb_ls, b.zb_ld = b.zb, b.nb * n2, n2
        if p.timed:
            # zb becomes base + time bias; the base is dil_b + cond (moved to zb_base) or Plan.bd.
            b.zb_base = b.zb
            b.zb = <float *>fd_calloc_aligned(p.L * b.zb_ls * sizeof(float))
            b.tscratch = <float *>fd_calloc_aligned((p.F + n2) * sizeof(float))
            if b.zb == NULL or b.tscratch == NULL:
                raise MemoryError("cannot allocate the kernel's time bias")
            b.zbias = b.zb


def _check_guidance(guidance, batch_size):
    """`guidance` as a float32 weight in [0, 1000] for an even `batch_size`, or GenerationError."""
    if isinstance(guidance, bool) or not isinstance(guidance, numbers.Real):
        raise GenerationError(f"guidance must be a number, got {guidance!r}")
    if not 0 <= guidance <= 1000:  # False for nan
        raise GenerationError(f"guidance must be in [0, 1000], got {guidance!r}")
    if batch_size % 2:
        raise GenerationError(
            f"a guided State's rows come in pairs: batch_size must be even, got {batch_size}")
    return np.float32(guidance)


def _check_run(B, Q, codes, n_primer, uniforms, temperature, start, stop, logits_out,
               epsilon=0.0):
    """The arguments of State.run checked: (T, start, stop, n_primer, float32 temperature,
    float epsilon)."""
    if not isinstance(codes, np.ndarray) or codes.ndim != 2:
        raise GenerationError(f"codes must be a 2-D numpy array, got {codes!r:.80}")
    T = codes.shape[1]
    _check_array("codes", codes, np.int32, (B, T), writeable=True)
    if T >= 1 << 31:
        raise GenerationError(f"codes has too many steps ({T})")
    start = _check_int("start", start, 0, T)
    stop = _check_int("stop", stop, start, T)
    n_primer = _check_int("n_primer", n_primer, 0, (1 << 31) - 1)
    _check_array("uniforms", uniforms, np.float64, (B, stop - start))
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
        raise GenerationError(f"temperature must be a number, got {temperature!r}")
    finfo = np.finfo(np.float32)
    if not (temperature == 0 or float(finfo.tiny) <= temperature <= float(finfo.max)):
        raise GenerationError(
            f"temperature must be finite and >= 0 (0, or in [{finfo.tiny}, {finfo.max}] "
            f"to be a float32), got {temperature!r}")
    if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real):
        raise GenerationError(f"epsilon must be a number, got {epsilon!r}")
    if not 0 <= epsilon < 1:  # False for nan
        raise GenerationError(f"epsilon must be finite and in [0, 1), got {epsilon!r}")
    if logits_out is not None:
        _check_array("logits_out", logits_out, np.float32, (B, stop - start, Q), writeable=True)
    # Codes read but not written by this call: the primer and codes[:, start].
    given = codes[:, start:min(stop, max(n_primer, start + 1))]
    if given.size and (given.min() < 0 or given.max() >= Q):
        raise GenerationError(
            f"codes fed as input must lie in [0, {Q}), got range [{given.min()}, {given.max()}]")
    return T, start, stop, n_primer, np.float32(temperature), float(epsilon)


cdef class State:

    """Incremental generation state of the compiled kernel for `batch_size` clips.

    Parameters
    ----------
    model : fastdrum.Model
        Read, never modified: the State keeps its own packed copy of the weights.
    batch_size : int
    n_threads : int, default 1
        Threads the rows are split across (at most `batch_size` are used).
        Results do not depend on it.
    cond : ndarray of float32, shape (batch_size, L, 2D), optional
        Per-row conditioning bias (format 2), added to z of every layer at
        every step. It is folded into the bias of z once (``dil_b[l] +
        cond[row, l]``, a float32 sum), so a step costs what it does without.
        A time-conditioned model (``model.time_tau``, ``model.time_block``,
        ``model.weights["time_w"]``) adds to z of layer l at step t the bias
        ``sum_k phi_k(t) * time_w[l, k]``, ``phi_k(t) = float32(exp(-b / time_tau[k]))``,
        ``b = time_block * (t // time_block)``; it is folded into the bias of z
        too, refreshed only when t enters a new block (see _time_bias).
        A format-7 model (``model.loop``: its predictor inside the sampling loop) is fed at
        step t, beside ``codes[:, t]`` (its error's code), ``sig_w`` of the code of the sample
        decoded from it and ``pred_w`` of the code of the prediction of the next sample, as
        ``fastdrum.predictor.Loop`` runs the reference (see _loop_input); its runs must follow
        one another from step 0.
    guidance : float, optional
        Negative-voice guidance (``fastdrum._reference.State``): rows come in pairs, row 2k
        conditioned on a voice and row 2k + 1 on the voice to steer away from; each pair draws
        one code from ``l + guidance * (l - n)`` (the logits of its two rows) with row 2k's
        uniform, and both rows are fed it. `batch_size` must be even; a number >= 0 and at most
        1000 (0: the pair's first row alone, at twice the cost).
    _gemm : {"auto", "avx512", "simd", "blas"}
        Private, for tests and benchmarks: force the path of the products
        (`gemm_paths()` lists those this CPU runs).
    _act : {"auto", "simd", "scalar"}
        Private: force the path of the activations and the softmax.
    _weights : {"auto", "float16", "float32"}
        Private: how the SIMD path stores the product weights. "auto" takes
        binary16 when every product weight is exactly a float16 value (same
        numbers, half the bytes; see `weight_dtype`), else float32.

    Attributes
    ----------
    guidance : float or None
        As given.
    gemm_path, act_path : str
        The paths chosen ("avx512", "simd" or "blas"; "simd" or "scalar").
    weight_dtype : str
        "float16" or "float32": how the product weights are stored. Either
        way the products compute in float32 on the same values.
    """

    def __cinit__(self, *args, **kwargs):
        self.blocks = NULL
        self.n_blocks = 0
        self.weights_mem = NULL
        self.dil_mem = NULL
        self.busy = False

    def __init__(self, model, batch_size, n_threads=1, cond=None, *, guidance=None, _gemm="auto",
                 _act="auto", _weights="auto"):
        W, dilations, exact16, time = _model_arrays(model)
        batch_size = _check_int("batch_size", batch_size, 1, 1 << 24)
        n_threads = _check_int("n_threads", n_threads, 1, 1024)
        if guidance is not None:
            self.plan.guidance = _check_guidance(guidance, batch_size)
        self.gemm_path, self.act_path, half = _choose_paths(_gemm, _act, _weights, exact16)
        self.weight_dtype = "float16" if half else "float32"
        self.batch_size = batch_size
        self.n_threads = n_threads
        _set_sizes(&self.plan, W, len(dilations), self.gemm_path in ("simd", "avx512"),
                   self.act_path == "simd", half, batch_size)
        self.plan.wide_gemm = self.gemm_path == "avx512"
        if cond is not None:
            _check_array("cond", cond, np.float32, (batch_size, self.plan.L, 2 * self.plan.D))
        padded = _padded(W, self.plan.Rp, self.plan.Dp, self.plan.Sp, self.plan.Qp)
        if time is not None:
            self.plan.timed = True
            self.plan.F, self.plan.time_block = len(time[0]), time[1]
            padded.update(_padded_time(W["time_w"], time[0], self.plan.Dp))
        loop = _loop_of(model)
        if loop is not None:
            self.plan.loop = True
            self.plan.order, self.plan.window, self.plan.hop = loop[:3]
            padded.update(_padded_loop(W, loop, self.plan.Q, self.plan.Rp))
        self.next_t = 0
        _load_weights(self, _packed(padded, self.plan.simd_gemm, half), dilations)
        self.plan.guided = guidance is not None
        self.guidance = guidance
        _alloc_blocks(self, n_threads, cond, W["dil_b"])

    def __dealloc__(self):
        cdef int i
        if self.blocks != NULL:
            for i in range(self.n_blocks):
                _free_block(&self.blocks[i])
            free(self.blocks)
        fd_free_aligned(self.weights_mem)
        free(self.dil_mem)

    def run(self, codes, n_primer, uniforms, temperature, start, stop, logits_out=None,
            epsilon=0.0):
        """Advance steps ``t = start .. stop - 1`` (see ``fastdrum._reference.State.run``).

        Step ``t`` feeds ``codes[:, t]``; if ``t + 1 >= n_primer`` (and
        ``t + 1 < T``) it samples ``codes[:, t + 1]`` with
        ``uniforms[:, t - start]``. `codes` (int32, (B, T)) is modified in
        place; `uniforms` is float64 (B, stop - start); `logits_out`, if
        given, float32 (B, stop - start, Q), receives the logits. Codes whose
        probability (after the temperature) is below `epsilon` (in [0, 1);
        0: none) are never drawn: the rule of ``fastdrum._reference.sample``.

        Raises
        ------
        GenerationError
            If an argument does not have the documented type, shape or range.
        """
        cdef RunArgs a
        cdef int i
        cdef int[:, ::1] codes_v
        cdef const double[:, ::1] u_v
        cdef float[:, :, ::1] lo_v
        cdef State self_ = self
        cdef int n_blocks = self.n_blocks
        T, start, stop, n_primer, temp32, eps = _check_run(
            self.batch_size, self.plan.Q, codes, n_primer, uniforms, temperature, start, stop,
            logits_out, epsilon)
        if stop == start:
            return
        if self.plan.loop and start != self.next_t:
            raise GenerationError(
                f"run starts at step {start}, but this format-7 State is at step {self.next_t}")
        if self.busy:
            raise GenerationError("this State is already running in another thread")
        self.busy = True
        try:
            codes_v = codes
            u_v = uniforms
            a.codes = &codes_v[0, 0]
            a.T = T
            a.n_primer = min(n_primer, T + 1)
            a.u = &u_v[0, 0]
            a.n_steps = stop - start
            a.temperature = temp32
            a.epsilon = eps
            a.start = start
            a.stop = stop
            a.logits_out = NULL
            if logits_out is not None:
                lo_v = logits_out
                a.logits_out = &lo_v[0, 0, 0]
            for i in range(n_blocks):
                self.blocks[i].ran = False
            with nogil:
                if n_blocks == 1:
                    _run_block(&self_.plan, &self_.blocks[0], &a)
                else:
                    for i in prange(n_blocks, num_threads=n_blocks, schedule="static", chunksize=1):
                        _run_block(&self_.plan, &self_.blocks[i], &a)
            # OpenMP reports no thread-creation status; it runs every iteration
            # whatever the number of threads it got. Check that it did.
            for i in range(n_blocks):
                if not self.blocks[i].ran:
                    raise RuntimeError(f"the kernel's row block {i} did not run (OpenMP failure)")
            self.next_t = stop
        finally:
            self.busy = False
