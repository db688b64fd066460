// vst's T/S/C augmentation on the GPU, compiled at run time by NVRTC. The CPU decodes a clip's frames and ships
// them as uint8 (YUV 4:2:0 planes or interleaved RGB); these kernels resample the crop, colour, blur and normalise
// it into float32 T x S x S x 3 (channels last), the layout of vst-data's `render_clip`.
//
// Every kernel computes, per element, the same float operations in the same order as vst-data's CPU code, and the
// program is compiled without FMA contraction (--fmad=false), so each op's output is that of the CPU path bit for
// bit. The one exception is the clip's mean luma (contrast): the CPU sums it pixel by pixel, here LUMA_LANES
// threads sum contiguous chunks that one thread then adds in order (deterministic, but a different association,
// so the f32 mean can differ in its last bit). augment/reference.rs mirrors each kernel on the CPU.
//
// The clip-wide parameters travel in one struct by value; sampling positions and blur taps are computed on the
// host (the very functions the CPU path uses) and uploaded.

#define LUMA_LANES 1024

// The order the jitter ops are drawn in and their factors (vst-data's JitterDraw), which of them this launch runs
// (order[from] up to order[to - 1]), then grayscale when `grayscale` is set.
struct ColorArgs {
    int order[4];
    int from;
    int to;
    int grayscale;
    float brightness;
    float contrast;
    float saturation;
    float hue;
};

#define GRID_LOOP(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)blockDim.x * gridDim.x)

// Rust's f32::clamp(0, 1): comparisons, so a -0.0 stays -0.0 (fminf/fmaxf may not keep it).
__device__ __forceinline__ float clamp01(float x) {
    if (x < 0.0f) x = 0.0f;
    if (x > 1.0f) x = 1.0f;
    return x;
}

__device__ __forceinline__ float luma(float r, float g, float b) {
    return 0.299f * r + 0.587f * g + 0.114f * b;
}

// Bilinear blend as vst-data's RowCache/Resampler: p + (q - p) * w.
__device__ __forceinline__ float lerp(float p, float q, float w) { return p + (q - p) * w; }

// BT.601 limited range to RGB (vst-data's yuv_to_rgb), unclamped.
__device__ __forceinline__ void yuv_to_rgb(float y, float u, float v, float* rgb) {
    y = (y - 16.0f) * (1.0f / 219.0f);
    u = (u - 128.0f) * (1.0f / 224.0f);
    v = (v - 128.0f) * (1.0f / 224.0f);
    rgb[0] = y + 1.402f * v;
    rgb[1] = y - 0.344136f * u - 0.714136f * v;
    rgb[2] = y + 1.772f * u;
}

// Sampling positions of one axis: lo, hi (source indices) and the weight of hi, for each output index.
struct Axis {
    const unsigned int* lo;
    const unsigned int* hi;
    const float* w;
};

__device__ __forceinline__ Axis axis(const unsigned int* index, const float* weight, int size, int which) {
    Axis a;
    a.lo = index + (long long)(2 * which) * size;
    a.hi = index + (long long)(2 * which + 1) * size;
    a.w = weight + (long long)which * size;
    return a;
}

// One plane's value at output (oy, ox): horizontal blends of the two source rows, then the vertical blend.
__device__ __forceinline__ float sample_plane(const unsigned char* plane, int stride, int channels, int c,
                                              Axis ax, Axis ay, int ox, int oy) {
    const unsigned char* ra = plane + (long long)ay.lo[oy] * stride;
    const unsigned char* rb = plane + (long long)ay.hi[oy] * stride;
    unsigned int lo = ax.lo[ox] * channels + c, hi = ax.hi[ox] * channels + c;
    float wx = ax.w[ox];
    float a = lerp((float)ra[lo], (float)ra[hi], wx);
    float b = lerp((float)rb[lo], (float)rb[hi], wx);
    return lerp(a, b, ay.w[oy]);
}

// Resamples the crop of `frames` YUV 4:2:0 frames (planes packed frame after frame) to size x size RGB in [0, 1].
// `index`/`weight` hold the axes luma x, luma y, chroma x, chroma y (2 x size indices and size weights each).
extern "C" __global__ void vst_aug_resample_yuv(float* out, const unsigned char* y, const unsigned char* u,
                                                const unsigned char* v, long long frames, int width, int height,
                                                int chroma_width, int chroma_height, int size,
                                                const unsigned int* index, const float* weight) {
    long long n = frames * size * size;
    Axis lx = axis(index, weight, size, 0), ly = axis(index, weight, size, 1);
    Axis cx = axis(index, weight, size, 2), cy = axis(index, weight, size, 3);
    GRID_LOOP(i, n) {
        long long f = i / ((long long)size * size);
        int rest = (int)(i - f * size * size);
        int oy = rest / size, ox = rest - oy * size;
        float yy = sample_plane(y + f * width * height, width, 1, 0, lx, ly, ox, oy);
        long long cplane = f * chroma_width * chroma_height;
        float uu = sample_plane(u + cplane, chroma_width, 1, 0, cx, cy, ox, oy);
        float vv = sample_plane(v + cplane, chroma_width, 1, 0, cx, cy, ox, oy);
        float rgb[3];
        yuv_to_rgb(yy, uu, vv, rgb);
        out[i * 3] = clamp01(rgb[0]);
        out[i * 3 + 1] = clamp01(rgb[1]);
        out[i * 3 + 2] = clamp01(rgb[2]);
    }
}

// The same for interleaved RGB8 frames: one value per thread, scaled to [0, 1].
extern "C" __global__ void vst_aug_resample_rgb(float* out, const unsigned char* rgb, long long frames, int width,
                                                int height, int size, const unsigned int* index,
                                                const float* weight) {
    long long n = frames * size * size * 3;
    Axis lx = axis(index, weight, size, 0), ly = axis(index, weight, size, 1);
    GRID_LOOP(i, n) {
        long long pixel = i / 3;
        int c = (int)(i - pixel * 3);
        long long f = pixel / ((long long)size * size);
        int rest = (int)(pixel - f * size * size);
        int oy = rest / size, ox = rest - oy * size;
        float value = sample_plane(rgb + f * width * height * 3, width * 3, 3, c, lx, ly, ox, oy);
        out[i] = value * (1.0f / 255.0f);
    }
}

// Hue rotation through HSV, as vst-data's shift_hue (torchvision's adjust_hue).
__device__ __forceinline__ void shift_hue(float* p, float turns) {
    float r = p[0], g = p[1], b = p[2];
    float mx = fmaxf(fmaxf(r, g), b);
    float mn = fminf(fminf(r, g), b);
    float delta = mx - mn;
    if (delta <= 0.0f) return;
    float sextant;
    if (mx == r) {
        float x = (g - b) / delta;
        sextant = x < 0.0f ? x + 6.0f : x;
    } else if (mx == g) {
        sextant = (b - r) / delta + 2.0f;
    } else {
        sextant = (r - g) / delta + 4.0f;
    }
    float h = sextant / 6.0f + turns;
    if (h >= 0.0f && h < 1.0f) {
    } else if (h > -1.0f && h < 0.0f) {
        h = h + 1.0f;
    } else if (h >= 1.0f && h < 2.0f) {
        h = h - 1.0f;
    } else {
        h = h - floorf(h);  // not reached: hue shifts are within half a turn
    }
    float s = delta / mx, val = mx;
    float h6 = h * 6.0f;
    float fl = floorf(h6);
    int sector = ((int)fl) % 6;
    if (sector < 0) sector += 6;
    float f = h6 - fl;
    float pp = val * (1.0f - s);
    float q = val * (1.0f - s * f);
    float t = val * (1.0f - s * (1.0f - f));
    float o0, o1, o2;
    switch (sector) {
        case 0: o0 = val; o1 = t; o2 = pp; break;
        case 1: o0 = q; o1 = val; o2 = pp; break;
        case 2: o0 = pp; o1 = val; o2 = t; break;
        case 3: o0 = pp; o1 = q; o2 = val; break;
        case 4: o0 = t; o1 = pp; o2 = val; break;
        default: o0 = val; o1 = pp; o2 = q; break;
    }
    p[0] = o0;
    p[1] = o1;
    p[2] = o2;
}

// Jitter ops order[from] up to order[to - 1], then (optionally) grayscale on each RGB pixel; `mean` is the clip's mean luma for
// contrast (read only when contrast is among the ops).
extern "C" __global__ void vst_aug_color(float* px, long long pixels, ColorArgs a, const float* mean) {
    GRID_LOOP(i, pixels) {
        float p[3] = {px[i * 3], px[i * 3 + 1], px[i * 3 + 2]};
        for (int k = a.from; k < a.to; ++k) {
            switch (a.order[k]) {
                case 0:
                    for (int c = 0; c < 3; ++c) p[c] = clamp01(p[c] * a.brightness);
                    break;
                case 1: {
                    float m = *mean;
                    for (int c = 0; c < 3; ++c) p[c] = clamp01((p[c] - m) * a.contrast + m);
                    break;
                }
                case 2: {
                    float g = luma(p[0], p[1], p[2]);
                    for (int c = 0; c < 3; ++c) p[c] = clamp01(g + (p[c] - g) * a.saturation);
                    break;
                }
                default:
                    if (a.hue != 0.0f) shift_hue(p, a.hue);
                    break;
            }
        }
        if (a.grayscale) {
            float g = luma(p[0], p[1], p[2]);
            p[0] = g;
            p[1] = g;
            p[2] = g;
        }
        px[i * 3] = p[0];
        px[i * 3 + 1] = p[1];
        px[i * 3 + 2] = p[2];
    }
}

// Partial luma sums: lane t adds pixels t * chunk up to (t + 1) * chunk - 1 in order, in double.
extern "C" __global__ void vst_aug_luma_partials(const float* px, long long pixels, long long chunk,
                                                 double* partials) {
    long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= LUMA_LANES) return;
    double sum = -0.0;
    long long end = (t + 1) * chunk < pixels ? (t + 1) * chunk : pixels;
    for (long long i = t * chunk; i < end; ++i) sum += (double)luma(px[i * 3], px[i * 3 + 1], px[i * 3 + 2]);
    partials[t] = sum;
}

// The mean from the partials, added in lane order by one thread.
extern "C" __global__ void vst_aug_luma_mean(const double* partials, long long pixels, float* mean) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    double sum = -0.0;
    for (int t = 0; t < LUMA_LANES; ++t) sum += partials[t];
    *mean = (float)(sum / (double)(pixels > 1 ? pixels : 1));
}

// Reflection without repeating the edge, as vst-data's blur (PyTorch's "reflect" padding).
__device__ __forceinline__ int reflect(int i, int n) {
    if (i < 0) i = -i;
    return i >= n ? 2 * (n - 1) - i : i;
}

// One pass of the separable Gaussian blur over size x size RGB frames: along x (`vertical` 0) or y (1). Sums
// start at 0 and add w[k] * x in k order, as the CPU's row loops do.
extern "C" __global__ void vst_aug_blur(float* out, const float* in, long long frames, int size, const float* taps,
                                        int radius, int vertical) {
    long long n = frames * size * size * 3;
    GRID_LOOP(i, n) {
        long long pixel = i / 3;
        int c = (int)(i - pixel * 3);
        long long f = pixel / ((long long)size * size);
        int rest = (int)(pixel - f * size * size);
        int y = rest / size, x = rest - y * size;
        const float* frame = in + f * size * size * 3;
        float acc = 0.0f;
        for (int k = 0; k <= 2 * radius; ++k) {
            int sy = vertical ? reflect(y + k - radius, size) : y;
            int sx = vertical ? x : reflect(x + k - radius, size);
            acc += taps[k] * frame[((long long)sy * size + sx) * 3 + c];
        }
        out[i] = acc;
    }
}

// (x - mean[c]) / std[c] with 1 / std given.
extern "C" __global__ void vst_aug_normalize(float* out, const float* in, long long n, float m0, float m1, float m2,
                                             float s0, float s1, float s2) {
    GRID_LOOP(i, n) {
        int c = (int)(i % 3);
        float m = c == 0 ? m0 : (c == 1 ? m1 : m2);
        float s = c == 0 ? s0 : (c == 1 ? s1 : s2);
        out[i] = (in[i] - m) * s;
    }
}

// Temporal difference: frame k + 1 minus frame k, over std, for `frames` output frames of `plane` values.
extern "C" __global__ void vst_aug_difference(float* out, const float* in, long long frames, long long plane,
                                              float s0, float s1, float s2) {
    GRID_LOOP(i, frames * plane) {
        long long k = i / plane, j = i - k * plane;
        int c = (int)(j % 3);
        float s = c == 0 ? s0 : (c == 1 ? s1 : s2);
        out[i] = (in[(k + 1) * plane + j] - in[k * plane + j]) * s;
    }
}
