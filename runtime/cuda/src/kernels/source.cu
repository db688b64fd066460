// vst's CUDA kernels, compiled at run time by NVRTC (no CUDA toolkit at build time). Everything is f32, dense and
// row-major; tensors are channels-last. Indices are 64-bit. Sums accumulate in double within a thread and combine
// partials in a fixed order, so results do not depend on scheduling (no atomics anywhere).
//
// The op codes (UN_*, BIN_*, RED_*) are prepended by the Rust side from the same table that encodes them, so the
// two cannot disagree.

#define MAX_RANK 8
// No standard headers under NVRTC: infinity and the NaN test by hand (valid without fast-math, which is off).
#define VST_INF __int_as_float(0x7f800000)
#define vst_isnan(v) ((v) != (v))

struct Strided {
    long long rank;
    long long shape[MAX_RANK];
    long long s0[MAX_RANK];
    long long s1[MAX_RANK];
};

struct Pool {
    long long n, t, h, w, c;
    long long ot, oh, ow;
    long long k[3];
    long long s[3];
    long long p[3];
};

#define GRID_LOOP(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)blockDim.x * gridDim.x)

// Offsets of flat output index i in the two operands described by d.
__device__ __forceinline__ void strided_offsets(const Strided& d, long long i, long long& o0, long long& o1) {
    o0 = 0;
    o1 = 0;
    for (int a = (int)d.rank - 1; a >= 0; --a) {
        long long len = d.shape[a];
        long long q = i / len;
        long long r = i - q * len;
        o0 += r * d.s0[a];
        o1 += r * d.s1[a];
        i = q;
    }
}

__device__ __forceinline__ float unary_apply(int op, float x, float p) {
    switch (op) {
        case UN_RELU: return x > 0.0f ? x : 0.0f;
        case UN_EXP: return expf(x);
        case UN_LOG: return logf(x);
        case UN_NEG: return -x;
        case UN_SQRT: return sqrtf(x);
        case UN_RECIP: return 1.0f / x;
        case UN_SQUARE: return x * x;
        case UN_STEP: return x > 0.0f ? 1.0f : 0.0f;
        case UN_SCALE: return x * p;
        case UN_ADD_SCALAR: return x + p;
        case UN_CLAMP_MIN: return x > p ? x : p;
        case UN_POWF: return powf(x, p);
        default: return __int_as_float(0x7fc00000);
    }
}

__device__ __forceinline__ float binary_apply(int op, float a, float b) {
    switch (op) {
        case BIN_ADD: return a + b;
        case BIN_SUB: return a - b;
        case BIN_MUL: return a * b;
        case BIN_DIV: return a / b;
        default: return __int_as_float(0x7fc00000);
    }
}

// max that lets NaN win, as the CPU backend does.
__device__ __forceinline__ float nan_max(float a, float b) { return (b > a || vst_isnan(b)) ? b : a; }

extern "C" __global__ void vst_fill(float* y, long long n, float v) {
    GRID_LOOP(i, n) { y[i] = v; }
}

extern "C" __global__ void vst_unary(float* y, const float* x, long long n, int op, float p) {
    GRID_LOOP(i, n) { y[i] = unary_apply(op, x[i], p); }
}

extern "C" __global__ void vst_binary_same(float* y, const float* a, const float* b, long long n, int op) {
    GRID_LOOP(i, n) { y[i] = binary_apply(op, a[i], b[i]); }
}

// s0: strides of a, s1: strides of b, both over the output shape (0 on broadcast axes).
extern "C" __global__ void vst_binary_strided(float* y, const float* a, const float* b, long long n, int op,
                                              Strided d) {
    GRID_LOOP(i, n) {
        long long oa, ob;
        strided_offsets(d, i, oa, ob);
        y[i] = binary_apply(op, a[oa], b[ob]);
    }
}

// Generic strided copy: for each index of shape d, y[y_base + off0] = x[x_base + off1]. Serves broadcast, permute,
// slice, concat (one launch per part) and pad.
extern "C" __global__ void vst_strided_copy(float* y, long long y_base, const float* x, long long x_base,
                                            long long n, Strided d) {
    GRID_LOOP(i, n) {
        long long oy, ox;
        strided_offsets(d, i, oy, ox);
        y[y_base + oy] = x[x_base + ox];
    }
}

extern "C" __global__ void vst_axpby(float* y, const float* x, long long n, float a, float b) {
    GRID_LOOP(i, n) { y[i] = a * y[i] + b * x[i]; }
}

extern "C" __global__ void vst_relu_backward(float* out, const float* y, const float* dy, long long n) {
    GRID_LOOP(i, n) { out[i] = y[i] > 0.0f ? dy[i] : 0.0f; }
}

// ----- reductions -----

#define RED_THREADS 256

// Block-wide combination of one double per thread (sum) or float (max); thread 0 gets the result.
__device__ double block_sum(double v, double* sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads();
    return r;
}

__device__ float block_max(float v, float* sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] = nan_max(sh[threadIdx.x], sh[threadIdx.x + s]);
        __syncthreads();
    }
    float r = sh[0];
    __syncthreads();
    return r;
}

// x viewed as rows × r; out[row * chunks + c] reduces x[row, c*chunk .. min(r, (c+1)*chunk)].
// grid: (rows, chunks); block: RED_THREADS.
extern "C" __global__ void vst_reduce_rows(float* out, const float* x, long long rows, long long r, long long chunk,
                                           int op) {
    __shared__ double shd[RED_THREADS];
    __shared__ float shf[RED_THREADS];
    long long row = blockIdx.x;
    long long c = blockIdx.y;
    long long chunks = gridDim.y;
    long long lo = c * chunk;
    long long hi = lo + chunk < r ? lo + chunk : r;
    const float* xr = x + row * r;
    if (op == RED_SUM) {
        double acc = 0.0;
        for (long long j = lo + threadIdx.x; j < hi; j += blockDim.x) acc += (double)xr[j];
        double total = block_sum(acc, shd);
        if (threadIdx.x == 0) out[row * chunks + c] = (float)total;
    } else {
        float acc = -VST_INF;
        for (long long j = lo + threadIdx.x; j < hi; j += blockDim.x) acc = nan_max(acc, xr[j]);
        float total = block_max(acc, shf);
        if (threadIdx.x == 0) out[row * chunks + c] = total;
    }
}

// x viewed as outer × r × inner; out viewed as outer × chunks × inner. block (32, 8): threadIdx.x walks inner
// (coalesced), threadIdx.y strides over the chunk's rows. grid.x = outer * ceil(inner / 32), grid.y = chunks.
extern "C" __global__ void vst_reduce_cols(float* out, const float* x, long long outer, long long r, long long inner,
                                           long long chunk, int op) {
    __shared__ double shd[8][33];
    __shared__ float shf[8][33];
    long long tiles = (inner + 31) / 32;
    long long o = blockIdx.x / tiles;
    long long i = (blockIdx.x % tiles) * 32 + threadIdx.x;
    long long c = blockIdx.y;
    long long chunks = gridDim.y;
    long long lo = c * chunk;
    long long hi = lo + chunk < r ? lo + chunk : r;
    bool live = i < inner;
    if (op == RED_SUM) {
        double acc = 0.0;
        if (live)
            for (long long j = lo + threadIdx.y; j < hi; j += 8) acc += (double)x[(o * r + j) * inner + i];
        shd[threadIdx.y][threadIdx.x] = acc;
        __syncthreads();
        if (threadIdx.y == 0 && live) {
            double t = 0.0;
            for (int k = 0; k < 8; ++k) t += shd[k][threadIdx.x];
            out[(o * chunks + c) * inner + i] = (float)t;
        }
    } else {
        float acc = -VST_INF;
        if (live)
            for (long long j = lo + threadIdx.y; j < hi; j += 8) acc = nan_max(acc, x[(o * r + j) * inner + i]);
        shf[threadIdx.y][threadIdx.x] = acc;
        __syncthreads();
        if (threadIdx.y == 0 && live) {
            float t = -VST_INF;
            for (int k = 0; k < 8; ++k) t = nan_max(t, shf[k][threadIdx.x]);
            out[(o * chunks + c) * inner + i] = t;
        }
    }
}

// ----- softmax (one block per row) -----

extern "C" __global__ void vst_softmax(float* y, const float* x, long long rows, long long cols, int log_out) {
    __shared__ double shd[RED_THREADS];
    __shared__ float shf[RED_THREADS];
    long long row = blockIdx.x;
    const float* xr = x + row * cols;
    float* yr = y + row * cols;
    float m = -VST_INF;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, xr[j]);
    m = block_max(m, shf);
    double s = 0.0;
    for (long long j = threadIdx.x; j < cols; j += blockDim.x) s += (double)expf(xr[j] - m);
    s = block_sum(s, shd);
    if (log_out) {
        float lse = logf((float)s) + m;
        for (long long j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = xr[j] - lse;
    } else {
        float inv = (float)(1.0 / s);
        for (long long j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = expf(xr[j] - m) * inv;
    }
}

extern "C" __global__ void vst_softmax_backward(float* dx, const float* y, const float* dy, long long rows,
                                                long long cols, int log_out) {
    __shared__ double shd[RED_THREADS];
    long long row = blockIdx.x;
    const float* yr = y + row * cols;
    const float* gr = dy + row * cols;
    float* o = dx + row * cols;
    double s = 0.0;
    if (log_out) {
        for (long long j = threadIdx.x; j < cols; j += blockDim.x) s += (double)gr[j];
    } else {
        for (long long j = threadIdx.x; j < cols; j += blockDim.x) s += (double)(gr[j] * yr[j]);
    }
    float sf = (float)block_sum(s, shd);
    if (log_out) {
        for (long long j = threadIdx.x; j < cols; j += blockDim.x) o[j] = gr[j] - expf(yr[j]) * sf;
    } else {
        for (long long j = threadIdx.x; j < cols; j += blockDim.x) o[j] = yr[j] * (gr[j] - sf);
    }
}

// ----- gathers and scatters by index -----

extern "C" __global__ void vst_pick(float* y, const float* x, const unsigned long long* t, long long rows,
                                    long long cols) {
    GRID_LOOP(r, rows) { y[r] = x[r * cols + (long long)t[r]]; }
}

extern "C" __global__ void vst_pick_backward(float* dx, const float* dy, const unsigned long long* t,
                                             long long rows, long long cols) {
    GRID_LOOP(i, rows * cols) {
        long long r = i / cols;
        long long c = i - r * cols;
        dx[i] = (long long)t[r] == c ? dy[r] : 0.0f;
    }
}

// y: outer × n_idx × inner from x: outer × axis_len × inner.
extern "C" __global__ void vst_index_select(float* y, const float* x, const unsigned long long* idx, long long outer,
                                            long long axis_len, long long inner, long long n_idx) {
    GRID_LOOP(i, outer * n_idx * inner) {
        long long in = i % inner;
        long long k = (i / inner) % n_idx;
        long long o = i / (inner * n_idx);
        y[i] = x[(o * axis_len + (long long)idx[k]) * inner + in];
    }
}

// y: outer × full × inner (zero-filled by the caller); one thread owns a column (o, in) and adds the entries in
// index order, so repeated indices accumulate deterministically without atomics.
extern "C" __global__ void vst_index_add(float* y, const float* x, const unsigned long long* idx, long long outer,
                                         long long full, long long inner, long long n_idx) {
    GRID_LOOP(col, outer * inner) {
        long long o = col / inner;
        long long in = col - o * inner;
        for (long long k = 0; k < n_idx; ++k) {
            y[(o * full + (long long)idx[k]) * inner + in] += x[(o * n_idx + k) * inner + in];
        }
    }
}

// ----- 3D max pooling, channels-last, padding as -inf (PyTorch floor mode) -----

extern "C" __global__ void vst_max_pool_forward(float* y, const float* x, Pool p) {
    long long total = p.n * p.ot * p.oh * p.ow * p.c;
    GRID_LOOP(i, total) {
        long long c = i % p.c;
        long long r = i / p.c;
        long long ow = r % p.ow; r /= p.ow;
        long long oh = r % p.oh; r /= p.oh;
        long long ot = r % p.ot;
        long long n = r / p.ot;
        float best = -VST_INF;
        for (long long kt = 0; kt < p.k[0]; ++kt) {
            long long it = ot * p.s[0] - p.p[0] + kt;
            if (it < 0 || it >= p.t) continue;
            for (long long kh = 0; kh < p.k[1]; ++kh) {
                long long ih = oh * p.s[1] - p.p[1] + kh;
                if (ih < 0 || ih >= p.h) continue;
                for (long long kw = 0; kw < p.k[2]; ++kw) {
                    long long iw = ow * p.s[2] - p.p[2] + kw;
                    if (iw < 0 || iw >= p.w) continue;
                    float v = x[(((n * p.t + it) * p.h + ih) * p.w + iw) * p.c + c];
                    if (v > best || vst_isnan(v)) best = v;
                }
            }
        }
        y[i] = best;
    }
}

// Flat input offset of the first maximum of window (n, ot, oh, ow) in channel c, or -1 for an empty window.
__device__ long long pool_argmax(const float* x, const Pool& p, long long n, long long ot, long long oh, long long ow,
                                 long long c) {
    float best = -VST_INF;
    long long arg = -1;
    for (long long kt = 0; kt < p.k[0]; ++kt) {
        long long it = ot * p.s[0] - p.p[0] + kt;
        if (it < 0 || it >= p.t) continue;
        for (long long kh = 0; kh < p.k[1]; ++kh) {
            long long ih = oh * p.s[1] - p.p[1] + kh;
            if (ih < 0 || ih >= p.h) continue;
            for (long long kw = 0; kw < p.k[2]; ++kw) {
                long long iw = ow * p.s[2] - p.p[2] + kw;
                if (iw < 0 || iw >= p.w) continue;
                long long off = (((n * p.t + it) * p.h + ih) * p.w + iw) * p.c + c;
                float v = x[off];
                if (v > best || vst_isnan(v) || arg < 0) {
                    best = v;
                    arg = off;
                }
            }
        }
    }
    return arg;
}

// Gather formulation: each input element sums dy over the windows whose first maximum it is (no atomics). The
// window bounds below are mirrored and tested exhaustively by `geometry::covering_windows`.
__device__ __forceinline__ long long ceil_div_nonneg(long long a, long long b) { return a <= 0 ? 0 : (a + b - 1) / b; }

extern "C" __global__ void vst_max_pool_backward(float* dx, const float* x, const float* dy, Pool p) {
    long long total = p.n * p.t * p.h * p.w * p.c;
    GRID_LOOP(i, total) {
        long long c = i % p.c;
        long long r = i / p.c;
        long long iw = r % p.w; r /= p.w;
        long long ih = r % p.h; r /= p.h;
        long long it = r % p.t;
        long long n = r / p.t;
        // Output windows covering (it, ih, iw): o*s - pad <= i <= o*s - pad + k - 1.
        long long t0 = ceil_div_nonneg(it + p.p[0] - p.k[0] + 1, p.s[0]);
        long long t1 = (it + p.p[0]) / p.s[0];
        long long h0 = ceil_div_nonneg(ih + p.p[1] - p.k[1] + 1, p.s[1]);
        long long h1 = (ih + p.p[1]) / p.s[1];
        long long w0 = ceil_div_nonneg(iw + p.p[2] - p.k[2] + 1, p.s[2]);
        long long w1 = (iw + p.p[2]) / p.s[2];
        if (t1 > p.ot - 1) t1 = p.ot - 1;
        if (h1 > p.oh - 1) h1 = p.oh - 1;
        if (w1 > p.ow - 1) w1 = p.ow - 1;
        float g = 0.0f;
        for (long long ot = t0; ot <= t1; ++ot)
            for (long long oh = h0; oh <= h1; ++oh)
                for (long long ow = w0; ow <= w1; ++ow)
                    if (pool_argmax(x, p, n, ot, oh, ow, c) == i)
                        g += dy[(((n * p.ot + ot) * p.oh + oh) * p.ow + ow) * p.c + c];
        dx[i] = g;
    }
}

// ----- batch norm on a rows × channels view -----

// Per-channel partial sums over a chunk of rows: mode BN_SUMSQ writes Σ (x − mean)² into out[c * ch + k];
// mode BN_BACKWARD writes Σ g into out[(2c) * ch + k] and Σ g·(x − mean) into out[(2c + 1) * ch + k], where
// g = dy masked by relu_y > 0 when relu_y is given. grid.x = ceil(ch / 32), grid.y = chunks; block (32, 8).
extern "C" __global__ void vst_bn_reduce(float* out, const float* x, const float* dy, const float* mean,
                                         const float* relu_y, long long rows, long long ch, long long chunk, int mode) {
    __shared__ double s0[8][33];
    __shared__ double s1[8][33];
    long long k = blockIdx.x * 32 + threadIdx.x;
    long long c = blockIdx.y;
    long long lo = c * chunk;
    long long hi = lo + chunk < rows ? lo + chunk : rows;
    double a0 = 0.0, a1 = 0.0;
    if (k < ch) {
        float m = mean[k];
        for (long long r = lo + threadIdx.y; r < hi; r += 8) {
            long long off = r * ch + k;
            float d = x[off] - m;
            if (mode == BN_SUMSQ) {
                a0 += (double)(d * d);
            } else {
                float g = dy[off];
                if (relu_y != 0 && !(relu_y[off] > 0.0f)) g = 0.0f;
                a0 += (double)g;
                a1 += (double)(g * d);
            }
        }
    }
    s0[threadIdx.y][threadIdx.x] = a0;
    s1[threadIdx.y][threadIdx.x] = a1;
    __syncthreads();
    if (threadIdx.y == 0 && k < ch) {
        double t0 = 0.0, t1 = 0.0;
        for (int j = 0; j < 8; ++j) {
            t0 += s0[j][threadIdx.x];
            t1 += s1[j][threadIdx.x];
        }
        if (mode == BN_SUMSQ) {
            out[c * ch + k] = (float)t0;
        } else {
            out[(2 * c) * ch + k] = (float)t0;
            out[(2 * c + 1) * ch + k] = (float)t1;
        }
    }
}

extern "C" __global__ void vst_channel_affine(float* y, const float* x, const float* scale, const float* shift,
                                              long long n, long long ch, int relu) {
    GRID_LOOP(i, n) {
        long long k = i % ch;
        float v = x[i] * scale[k] + shift[k];
        y[i] = relu ? (v > 0.0f ? v : 0.0f) : v;
    }
}

extern "C" __global__ void vst_bn_backward_data(float* dx, const float* dy, const float* x, const float* mean,
                                                const float* relu_y, const float* a, const float* b, const float* d,
                                                long long n, long long ch) {
    GRID_LOOP(i, n) {
        long long k = i % ch;
        float g = dy[i];
        if (relu_y != 0 && !(relu_y[i] > 0.0f)) g = 0.0f;
        dx[i] = a[k] * g + b[k] * (x[i] - mean[k]) + d[k];
    }
}

// ----- bf16 conversion for the bf16 compute mode (round to nearest even; no cuda_bf16.h needed) -----

extern "C" __global__ void vst_f32_to_bf16(unsigned short* y, const float* x, long long n) {
    GRID_LOOP(i, n) {
        unsigned int u = __float_as_uint(x[i]);
        if ((u & 0x7fffffffu) > 0x7f800000u) {
            y[i] = 0x7fc0;
        } else {
            u += 0x7fffu + ((u >> 16) & 1u);
            y[i] = (unsigned short)(u >> 16);
        }
    }
}

extern "C" __global__ void vst_bf16_to_f32(float* y, const unsigned short* x, long long n) {
    GRID_LOOP(i, n) { y[i] = __uint_as_float(((unsigned int)x[i]) << 16); }
}
