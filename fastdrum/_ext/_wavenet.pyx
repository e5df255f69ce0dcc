"""The compiled incremental WaveNet kernel (Fast WaveNet, Paine et al. 2016).

``State(model, batch_size, n_threads=1)`` has the interface of
``fastdrum._reference.State``. Each thread owns a block of rows and runs the
whole time loop for them with the GIL released; per step and row block:

    x      = input_w[1][q(t)] + input_b + input_w[0][q(t-1)]
    for each layer l (ring buffer of its last d inputs):
      buf    = [x(t-d) | x | skip]                     (one row per clip)
      z      = buf[:, :2R] @ dil_w[l].reshape(2R, 2D) + dil_b[l]
      h      = tanh(z[:, :D]) * sigmoid(z[:, D:])
      [x | skip] += h @ [res_w[l] | skip_w[l]] + [res_b[l] | skip_b[l]]
    logits = relu(relu(skip) @ out1_w + out1_b) @ out2_w + out2_b
    q(t+1) = inverse-CDF draw from softmax(logits / temperature)

Products go either through BLAS (scipy's cython_blas) or through the AVX2
small-matrix kernel of _simd.h; activations through libm or AVX2. Each path is
chosen once per State (``_gemm=``, ``_act=`` force one, for tests). "auto"
takes AVX2 for both whenever the CPU has AVX2 + FMA + F16C: measured on the standard
config (bench/bench_kernel_dev.py, Zen 4), the AVX2 products were 10 to 30%
faster than scipy's OpenBLAS (itself using AVX-512) at batch 8 to 128 and as
fast at batch 1, where both stream the ~0.9 MB of weights from L2 at the rate
of a bare streaming loop. The path depends on the CPU only, never on the
batch split, so results do not depend on ``n_threads``.

At batch 1 the products are bound by that stream (about 32 bytes a cycle
from L2 on Zen 4), not by arithmetic. When every product weight of the model
is exactly a float16 value (``Model.round_weights("float16")``; the shipped
models are), the SIMD path keeps them as binary16 and F16C widens them in
registers to the same float32 numbers: identical arithmetic, half the bytes.
"""

import numbers

import numpy as np

cimport cython
from cython.parallel cimport prange
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset
from scipy.linalg.cython_blas cimport sgemm, sgemv

from fastdrum._errors import GenerationError

__all__ = ["State", "simd_available"]


def simd_available():
    """Whether this CPU runs the AVX2 + FMA paths."""
    return bool(fd_cpu_has_avx2_fma())


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

cdef void _run_block(const Plan *p, Block *b, const RunArgs *a) noexcept nogil:
    cdef int nb = b.nb, Rp = p.Rp, Dp = p.Dp, Sp = p.Sp, Qp = p.Qp, rs = p.rs
    cdef int t, l, i, j, code, Q = p.Q
    cdef Py_ssize_t row
    cdef float *x
    cdef float *slot
    cdef const float *w1
    cdef const float *w0
    for t in range(a.start, a.stop):
        # x = input_w[1][q(t)] + input_b (+ input_w[0][q(t-1)]); skip = 0
        for i in range(nb):
            row = b.row0 + i
            code = a.codes[row * a.T + t]
            x = b.buf + <Py_ssize_t>i * rs + Rp
            w1 = p.iw + (<Py_ssize_t>Q + code) * Rp
            for j in range(Rp):
                x[j] = w1[j] + p.ib[j]
            if b.has_prev:
                w0 = p.iw + <Py_ssize_t>b.prev[i] * Rp
                for j in range(Rp):
                    x[j] = x[j] + w0[j]
            b.prev[i] = code
            memset(x + Rp, 0, Sp * sizeof(float))
        b.has_prev = True

        for l in range(p.L):
            # buf[:, :R] = ring[l][head]; ring[l][head] = x; head += 1 (mod d)
            slot = b.ring + b.ring_off[l] + <Py_ssize_t>b.head[l] * nb * Rp
            for i in range(nb):
                memcpy(b.buf + <Py_ssize_t>i * rs, slot + <Py_ssize_t>i * Rp, Rp * sizeof(float))
                memcpy(slot + <Py_ssize_t>i * Rp, b.buf + <Py_ssize_t>i * rs + Rp, Rp * sizeof(float))
            b.head[l] += 1
            if b.head[l] == p.dil[l]:
                b.head[l] = 0
            # z = concat(x_old, x) @ dil_w[l].reshape(2R, 2D) + dil_b[l] (+ cond[:, l], per row)
            if b.zb != NULL:
                _product(p, nb, 2 * Dp, 2 * Rp, b.buf, rs, p.wd + <Py_ssize_t>l * 4 * Rp * Dp * p.wsize,
                         b.zb + <Py_ssize_t>l * nb * 2 * Dp, 2 * Dp, b.z, 2 * Dp, False)
            else:
                _product(p, nb, 2 * Dp, 2 * Rp, b.buf, rs, p.wd + <Py_ssize_t>l * 4 * Rp * Dp * p.wsize,
                         p.bd + <Py_ssize_t>l * 2 * Dp, 0, b.z, 2 * Dp, False)
            # h = tanh(z[:, :D]) * sigmoid(z[:, D:])
            if p.simd_act:
                fd_gate_avx2(nb, Dp, b.z, b.h)
            else:
                fd_gate_scalar(nb, Dp, b.z, b.h)
            # [x | skip] += h @ [res_w[l] | skip_w[l]] + [res_b[l] | skip_b[l]]
            _product(p, nb, Rp + Sp, Dp, b.h, Dp, p.wrs + <Py_ssize_t>l * Dp * (Rp + Sp) * p.wsize,
                     p.brs + <Py_ssize_t>l * (Rp + Sp), 0, b.buf + Rp, rs, True)

        # hid = relu(relu(skip) @ out1_w + out1_b)
        _relu(nb, Sp, b.buf + 2 * Rp, b.sk, rs)
        _product(p, nb, Sp, Sp, b.sk, Sp, p.w1, p.b1, 0, b.hid, Sp, False)
        _relu(nb, Sp, b.hid, b.hid, Sp)
        # logits = hid @ out2_w + out2_b
        _product(p, nb, Qp, Sp, b.hid, Sp, p.w2, p.b2, 0, b.logits, Qp, False)

        if a.logits_out != NULL:
            for i in range(nb):
                memcpy(a.logits_out + ((b.row0 + i) * <Py_ssize_t>a.n_steps + (t - a.start)) * Q,
                       b.logits + <Py_ssize_t>i * Qp, Q * sizeof(float))
        if t + 1 >= a.n_primer and t + 1 < a.T:
            for i in range(nb):
                row = b.row0 + i
                if p.simd_act:
                    code = fd_sample_avx2(b.logits + <Py_ssize_t>i * Qp, Q,
                                          a.u[row * a.n_steps + (t - a.start)], a.temperature, b.scratch)
                else:
                    code = fd_sample_scalar(b.logits + <Py_ssize_t>i * Qp, Q,
                                            a.u[row * a.n_steps + (t - a.start)], a.temperature, b.scratch)
                a.codes[row * a.T + t + 1] = code
    b.ran = True


# ---- Python boundary ------------------------------------------------------------------

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
    _gemm : {"auto", "simd", "blas"}
        Private, for tests and benchmarks: force the path of the products.
    _act : {"auto", "simd", "scalar"}
        Private: force the path of the activations and the softmax.
    _weights : {"auto", "float16", "float32"}
        Private: how the SIMD path stores the product weights. "auto" takes
        binary16 when every product weight is exactly a float16 value (same
        numbers, half the bytes; see `weight_dtype`), else float32.

    Attributes
    ----------
    gemm_path, act_path : str
        The paths chosen ("simd" or "blas"; "simd" or "scalar").
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

    def __init__(self, model, batch_size, n_threads=1, cond=None, *, _gemm="auto", _act="auto",
                 _weights="auto"):
        cdef Plan *p = &self.plan
        cdef Block *b
        cdef int i, l, base, extra
        cdef Py_ssize_t ring_size
        cdef char *mem
        cdef Py_ssize_t off
        cdef const unsigned char[::1] flat
        cdef Py_ssize_t st[10]

        try:
            weights = model.weights
            dilations = [int(d) for d in model.dilations]
            exact16 = bool(model.float16_exact)
        except (AttributeError, TypeError):
            raise GenerationError(f"model must be a fastdrum.Model, got {type(model).__name__}") from None
        batch_size = _check_int("batch_size", batch_size, 1, 1 << 24)
        n_threads = _check_int("n_threads", n_threads, 1, 1024)
        simd = bool(fd_cpu_has_avx2_fma())
        if (_gemm not in ("auto", "simd", "blas") or _act not in ("auto", "simd", "scalar")
                or _weights not in ("auto", "float16", "float32")):
            raise GenerationError(
                f"unknown kernel path _gemm={_gemm!r}, _act={_act!r}, _weights={_weights!r}")
        if not simd and "simd" in (_gemm, _act):
            raise GenerationError("this CPU has no AVX2 + FMA + F16C: the 'simd' path is unavailable")
        self.gemm_path = ("simd" if simd else "blas") if _gemm == "auto" else _gemm
        self.act_path = ("simd" if simd else "scalar") if _act == "auto" else _act

        W = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
        # The product weights are stored as binary16 when that loses nothing:
        # every one of them is exactly a float16 value (Model.float16_exact;
        # Model.round_weights makes such models). The products then compute the same float32
        # numbers from half the bytes.
        if _weights == "float16" and not (exact16 and self.gemm_path == "simd"):
            raise GenerationError("_weights='float16' needs the 'simd' path and float16-exact weights")
        half = exact16 and self.gemm_path == "simd" and _weights != "float32"
        self.weight_dtype = "float16" if half else "float32"
        L = len(dilations)
        Q, R = W["input_w"].shape[1:]
        D = W["dil_b"].shape[1] // 2
        S = W["skip_b"].shape[1]
        if L < 1 or min(dilations) < 1:
            raise GenerationError(f"dilations must be positive, got {dilations!r}")
        if cond is not None:
            _check_array("cond", cond, np.float32, (batch_size, L, 2 * D))
        Rp, Dp, Sp, Qp = _pad(R, 16), _pad(D, 8), _pad(S, 16), _pad(Q, 16)
        p.L, p.Q, p.R, p.D, p.S = L, Q, R, D, S
        p.Rp, p.Dp, p.Sp, p.Qp = Rp, Dp, Sp, Qp
        p.rs = 2 * Rp + Sp
        p.simd_gemm = self.gemm_path == "simd"
        p.simd_act = self.act_path == "simd"
        p.use_gemv = batch_size == 1
        p.half = half
        p.wsize = 2 if half else 4
        self.batch_size = batch_size
        self.n_threads = n_threads

        # Zero-padded weights, laid out for the chosen product path.
        iw = np.zeros((2, Q, Rp), np.float32)
        iw[:, :, :R] = W["input_w"]
        ib = np.zeros(Rp, np.float32)
        ib[:R] = W["input_b"]
        wd = np.zeros((L, 2 * Rp, 2 * Dp), np.float32)
        bd = np.zeros((L, 2 * Dp), np.float32)
        for tap in range(2):
            rows = slice(tap * Rp, tap * Rp + R)
            wd[:, rows, :D] = W["dil_w"][:, tap, :, :D]
            wd[:, rows, Dp:Dp + D] = W["dil_w"][:, tap, :, D:]
        bd[:, :D] = W["dil_b"][:, :D]
        bd[:, Dp:Dp + D] = W["dil_b"][:, D:]
        wrs = np.zeros((L, Dp, Rp + Sp), np.float32)
        wrs[:, :D, :R] = W["res_w"]
        wrs[:, :D, Rp:Rp + S] = W["skip_w"]
        brs = np.zeros((L, Rp + Sp), np.float32)
        brs[:, :R] = W["res_b"]
        brs[:, Rp:Rp + S] = W["skip_b"]
        w1 = np.zeros((Sp, Sp), np.float32)
        w1[:S, :S] = W["out1_w"]
        b1 = np.zeros(Sp, np.float32)
        b1[:S] = W["out1_b"]
        w2 = np.zeros((Sp, Qp), np.float32)
        w2[:S, :Q] = W["out2_w"]
        b2 = np.zeros(Qp, np.float32)
        b2[:Q] = W["out2_b"]
        if p.simd_gemm:
            wd = np.stack([_panels(w) for w in wd])
            wrs = np.stack([_panels(w) for w in wrs])
            w1, w2 = _panels(w1), _panels(w2)
        if half:
            wd, wrs, w1, w2 = (a.astype(np.float16) for a in (wd, wrs, w1, w2))
        parts = [np.ascontiguousarray(a).view(np.uint8).ravel()
                 for a in (iw, ib, wd, bd, wrs, brs, w1, b1, w2, b2)]
        # each part starts on a 64-byte boundary
        sizes = [_pad(a.size, 64) for a in parts]
        self.weights_mem = <char *>fd_calloc_aligned(sum(sizes))
        self.dil_mem = <int *>malloc(L * sizeof(int))
        if self.weights_mem == NULL or self.dil_mem == NULL:
            raise MemoryError("cannot allocate the kernel's weights")
        mem = self.weights_mem
        off = 0
        for i in range(10):
            flat = parts[i]
            memcpy(mem + off, &flat[0], flat.shape[0])
            st[i] = off
            off += sizes[i]
        p.iw, p.ib, p.bd = <float *>(mem + st[0]), <float *>(mem + st[1]), <float *>(mem + st[3])
        p.brs, p.b1, p.b2 = <float *>(mem + st[5]), <float *>(mem + st[7]), <float *>(mem + st[9])
        p.wd, p.wrs, p.w1, p.w2 = mem + st[2], mem + st[4], mem + st[6], mem + st[8]
        for l in range(L):
            self.dil_mem[l] = dilations[l]
        p.dil = self.dil_mem

        # Row blocks, one per thread, sizes differing by at most one.
        self.n_blocks = min(n_threads, batch_size)
        self.blocks = <Block *>malloc(self.n_blocks * sizeof(Block))
        if self.blocks == NULL:
            self.n_blocks = 0
            raise MemoryError("cannot allocate the kernel's row blocks")
        memset(self.blocks, 0, self.n_blocks * sizeof(Block))
        base, extra = divmod(batch_size, self.n_blocks)
        ring_size = 0
        for l in range(L):
            ring_size += dilations[l]
        for i in range(self.n_blocks):
            b = &self.blocks[i]
            b.row0 = i * base + min(i, extra)
            b.nb = base + (1 if i < extra else 0)
            ring_bytes = int(ring_size) * b.nb * Rp * 4
            if ring_bytes >= 1 << 62:
                raise MemoryError(f"ring buffers of {ring_bytes} bytes requested")
            b.ring = <float *>fd_calloc_aligned(<size_t>ring_bytes)
            b.ring_off = <Py_ssize_t *>malloc(L * sizeof(Py_ssize_t))
            b.head = <int *>fd_calloc_aligned(L * sizeof(int))
            b.prev = <int *>fd_calloc_aligned(b.nb * sizeof(int))
            b.buf = <float *>fd_calloc_aligned(<Py_ssize_t>b.nb * p.rs * sizeof(float))
            b.z = <float *>fd_calloc_aligned(<Py_ssize_t>b.nb * 2 * Dp * sizeof(float))
            b.h = <float *>fd_calloc_aligned(<Py_ssize_t>b.nb * Dp * sizeof(float))
            b.sk = <float *>fd_calloc_aligned(<Py_ssize_t>b.nb * Sp * sizeof(float))
            b.hid = <float *>fd_calloc_aligned(<Py_ssize_t>b.nb * Sp * sizeof(float))
            b.logits = <float *>fd_calloc_aligned(<Py_ssize_t>b.nb * Qp * sizeof(float))
            b.scratch = <float *>fd_calloc_aligned(fd_sample_scratch(Q) * sizeof(float))
            if cond is not None:
                b.zb = <float *>fd_calloc_aligned(<Py_ssize_t>L * b.nb * 2 * Dp * sizeof(float))
                if b.zb == NULL:
                    raise MemoryError("cannot allocate the kernel's conditioning bias")
                _pack_bias(b.zb, W["dil_b"], cond[b.row0:b.row0 + b.nb], D, Dp)
            if (b.ring == NULL or b.ring_off == NULL or b.head == NULL or b.prev == NULL
                    or b.buf == NULL or b.z == NULL or b.h == NULL or b.sk == NULL
                    or b.hid == NULL or b.logits == NULL or b.scratch == NULL):
                raise MemoryError(
                    f"cannot allocate the ring buffers of {batch_size} rows "
                    f"({ring_size * batch_size * Rp * 4 / 2**20:.1f} MiB)")
            off = 0
            for l in range(L):
                b.ring_off[l] = off
                off += <Py_ssize_t>dilations[l] * b.nb * Rp
            b.has_prev = False

    def __dealloc__(self):
        cdef int i
        cdef Block *b
        if self.blocks != NULL:
            for i in range(self.n_blocks):
                b = &self.blocks[i]
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
            free(self.blocks)
        fd_free_aligned(self.weights_mem)
        free(self.dil_mem)

    def run(self, codes, n_primer, uniforms, temperature, start, stop, logits_out=None):
        """Advance steps ``t = start .. stop - 1`` (see ``fastdrum._reference.State.run``).

        Step ``t`` feeds ``codes[:, t]``; if ``t + 1 >= n_primer`` (and
        ``t + 1 < T``) it samples ``codes[:, t + 1]`` with
        ``uniforms[:, t - start]``. `codes` (int32, (B, T)) is modified in
        place; `uniforms` is float64 (B, stop - start); `logits_out`, if
        given, float32 (B, stop - start, Q), receives the logits.

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
        B = self.batch_size
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
        temp32 = np.float32(temperature)
        if logits_out is not None:
            _check_array("logits_out", logits_out, np.float32, (B, stop - start, self.plan.Q),
                         writeable=True)
        # Codes read but not written by this call: the primer and codes[:, start].
        given = codes[:, start:min(stop, max(n_primer, start + 1))]
        if given.size and (given.min() < 0 or given.max() >= self.plan.Q):
            raise GenerationError(
                f"codes fed as input must lie in [0, {self.plan.Q}), got range "
                f"[{given.min()}, {given.max()}]")
        if stop == start:
            return
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
        finally:
            self.busy = False
