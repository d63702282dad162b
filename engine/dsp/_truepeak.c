/* The true-peak limiter's search for the frames over its ceiling, compiled.
 *
 * `over` returns the frames whose peak over [n, n+1) (the sample and the three 4x
 * inter-sample points, the largest over the channels) is above a threshold, and that
 * peak. It is the estimate `engine/dsp/truepeak.py` describes: only frames whose pair
 * (n, n+1) comes within 6 dB of the threshold are interpolated, with the folded tap pairs
 * summed in float32 in the order numpy would sum them (no FMA: built with
 * -ffp-contract=off), so the values are bit-for-bit what the same sums in numpy give.
 *
 * Why compiled: on a loud master tens of thousands of frames per chunk are candidates,
 * and in numpy their gathers and sums cost about as much as a third of the preset's
 * plugins. Here frames are taken a tile of 8 at a time, in 4-wide vectors (GCC's vector
 * extensions: SSE on x86-64, NEON on ARM), and a tile's sums stop after the first pairs
 * when the pairs left cannot carry any of its frames over the threshold.
 *
 * Each frame's value depends only on its neighbours' samples, never on where a call
 * starts, how its slices fall or which frames beside it were dropped: every render of a
 * frame finds the same value. The GIL is released while it runs, so render threads limit
 * in parallel.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

typedef float v4 __attribute__((vector_size(16)));
typedef int32_t vi4 __attribute__((vector_size(16)));

enum {
    TILE = 8,           /* frames summed together: two vectors */
    LANES = TILE / 4,
    SLICE = 2048,       /* frames whose sample peaks are found at a time (on the stack) */
    MARGIN = 16,        /* sample peaks kept either side of a slice: the taps' reach, 10 */
    MAX_CHANNELS = 64,
    MAX_PAIRS = 16,
};

typedef struct {
    const float *rows[MAX_CHANNELS];
    int channels;
    Py_ssize_t count;
    const float *weights; /* (pairs, 3): middle, outer sum, outer difference */
    int pairs;
    int prune_after;     /* pairs summed before a tile may be dropped */
    float left_gain;     /* the most the pairs after those add, per unit of |tap| */
    float threshold;
    float hot_level;     /* a frame is a candidate when its pair reaches this */
} Search;

typedef struct {
    v4 middle[LANES], outer_sum[LANES], outer_difference[LANES];
} Sums;

static inline v4 load(const float *at)
{
    v4 value;
    memcpy(&value, at, sizeof value);
    return value;
}

static inline v4 magnitude(v4 value) { return (v4)((vi4)value & 0x7fffffff); }

static inline v4 larger(v4 a, v4 b)
{
    vi4 pick = a > b;
    return (v4)((pick & (vi4)a) | (~pick & (vi4)b));
}

static inline float larger1(float a, float b) { return a > b ? a : b; }

static inline float tap(const float *row, Py_ssize_t at, Py_ssize_t count)
{
    return at >= 0 && at < count ? row[at] : 0.0f;
}

/* Add pairs [first, last) to the sums of frames first_frame .. first_frame + 7 of one
 * channel, as numpy's folded sums do: s = late + early, t = late - early, then
 * difference += t * b, sum += s * a, middle += s * m. Taps outside the audio are 0. */
static void add_pairs(const Search *search, const float *row, Py_ssize_t first_frame,
                      int first, int last, Sums *sums)
{
    const Py_ssize_t count = search->count;
    const int inside = first_frame - search->pairs + 1 >= 0
                       && first_frame + TILE - 1 + search->pairs < count;
    for (int pair = first; pair < last; pair++) {
        const int k = pair + 1;
        const float *w = search->weights + 3 * pair;
        const float m = w[0], a = w[1], b = w[2];
        for (int lane = 0; lane < LANES; lane++) {
            const Py_ssize_t frame = first_frame + 4 * lane;
            v4 late, early;
            if (inside) {
                late = load(row + frame + k);
                early = load(row + frame + 1 - k);
            } else {
                for (int j = 0; j < 4; j++) {
                    late[j] = tap(row, frame + j + k, count);
                    early[j] = tap(row, frame + j + 1 - k, count);
                }
            }
            const v4 s = late + early, t = late - early;
            sums->outer_difference[lane] += t * b;
            sums->outer_sum[lane] += s * a;
            sums->middle[lane] += s * m;
        }
    }
}

/* Per frame of a lane, the largest inter-sample magnitude over the channels from the
 * pairs `upto`: the middle point's |middle|, or the larger outer point's |A| + |B|. */
static void between_samples(const Search *search, Py_ssize_t first_frame, int upto,
                            v4 peaks[LANES])
{
    for (int lane = 0; lane < LANES; lane++) peaks[lane] = (v4){0, 0, 0, 0};
    for (int channel = 0; channel < search->channels; channel++) {
        Sums sums;
        memset(&sums, 0, sizeof sums);
        add_pairs(search, search->rows[channel], first_frame, 0, upto, &sums);
        for (int lane = 0; lane < LANES; lane++) {
            const v4 outer = magnitude(sums.outer_sum[lane])
                             + magnitude(sums.outer_difference[lane]);
            peaks[lane] = larger(larger(magnitude(sums.middle[lane]), outer), peaks[lane]);
        }
    }
}

/* The frames over the threshold from `start` on, at most `capacity` of them; returns how
 * many, and in *resume the frame to go on from (the count when done). */
static Py_ssize_t search_over(const Search *search, Py_ssize_t start, int64_t *frames_out,
                              float *peaks_out, Py_ssize_t capacity, Py_ssize_t *resume)
{
    const Py_ssize_t count = search->count;
    float peak_store[SLICE + 2 * MARGIN];
    float *peak = peak_store + MARGIN; /* peak[i]: frame base + i's sample peak */
    unsigned char hot[SLICE];
    Py_ssize_t found = 0;
    for (Py_ssize_t base = start; base < count; base += SLICE) {
        const Py_ssize_t frames = count - base < SLICE ? count - base : SLICE;
        const Py_ssize_t low = base - MARGIN < 0 ? 0 : base - MARGIN;
        const Py_ssize_t high = base + SLICE + MARGIN < count ? base + SLICE + MARGIN : count;
        for (Py_ssize_t i = -MARGIN; i < low - base; i++) peak[i] = 0.0f;
        for (Py_ssize_t i = high - base; i < SLICE + MARGIN; i++) peak[i] = 0.0f;
        float *own = peak + (low - base);
        for (Py_ssize_t i = 0; i < high - low; i++) own[i] = fabsf(search->rows[0][low + i]);
        for (int channel = 1; channel < search->channels; channel++) {
            const float *row = search->rows[channel] + low;
            for (Py_ssize_t i = 0; i < high - low; i++) own[i] = larger1(fabsf(row[i]), own[i]);
        }
        int any = 0;
        for (Py_ssize_t i = 0; i < frames; i++) {
            hot[i] = (peak[i] >= search->hot_level) | (peak[i + 1] >= search->hot_level);
            any |= hot[i];
        }
        if (!any) continue;
        for (Py_ssize_t i = frames; i < SLICE; i++) hot[i] = 0;
        for (Py_ssize_t tile = 0; tile < frames; tile += TILE) {
            int candidates = 0;
            for (int j = 0; j < TILE; j++) candidates |= hot[tile + j];
            if (!candidates) continue;
            const Py_ssize_t first_frame = base + tile;
            v4 reach[LANES];
            between_samples(search, first_frame, search->prune_after, reach);
            /* The pairs left reach frames tile - 12 .. tile + 19 at most (10 either
             * side): each adds at most the largest |sample| there times its weights. */
            v4 around = load(peak + tile - 12);
            for (int i = -8; i < TILE + 12; i += 4)
                around = larger(around, load(peak + tile + i));
            const float largest = larger1(larger1(around[0], around[1]),
                                          larger1(around[2], around[3]));
            const float extra = largest * search->left_gain;
            int alive = 0;
            for (int lane = 0; lane < LANES; lane++) {
                const v4 most = larger(reach[lane] + extra, load(peak + tile + 4 * lane));
                for (int j = 0; j < 4; j++)
                    alive |= hot[tile + 4 * lane + j] & (most[j] > search->threshold);
            }
            if (!alive) continue;
            between_samples(search, first_frame, search->pairs, reach);
            for (int lane = 0; lane < LANES; lane++) {
                const v4 value = larger(reach[lane], load(peak + tile + 4 * lane));
                for (int j = 0; j < 4; j++) {
                    const Py_ssize_t at = tile + 4 * lane + j;
                    if (!hot[at] || !(value[j] > search->threshold)) continue;
                    if (found == capacity) {
                        *resume = base + at;
                        return found;
                    }
                    frames_out[found] = base + at;
                    peaks_out[found] = value[j];
                    found++;
                }
            }
        }
    }
    *resume = count;
    return found;
}

static int float_buffer(PyObject *object, Py_buffer *view, int writable, const char *what)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(object, view, flags) < 0) return -1;
    if (view->itemsize != 4 || strcmp(view->format, "f") != 0) {
        PyErr_Format(PyExc_TypeError, "%s must be float32", what);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(over_doc,
"over(rows, threshold, hot_level, weights, prune_after, left_gain, start, frames_out,\n"
"     peaks_out) -> (found, resume)\n\n"
"Write into frames_out (int64) and peaks_out (float32) the frames from `start` on whose\n"
"peak over [n, n+1) is above `threshold`, and those peaks, interpolating only frames\n"
"whose pair (n, n+1) reaches `hot_level`; `rows` are the channels,\n"
"contiguous float32 of one length; `weights` the folded kernels, (pairs, 3) float32.\n"
"Returns how many were written and the frame to resume from (the length when done).");

static PyObject *over(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *rows, *weights_object, *frames_object, *peaks_object;
    double threshold, hot_level, left_gain;
    int prune_after;
    Py_ssize_t start;
    if (!PyArg_ParseTuple(args, "OddOidnOO", &rows, &threshold, &hot_level, &weights_object,
                          &prune_after, &left_gain, &start, &frames_object, &peaks_object))
        return NULL;
    PyObject *sequence = PySequence_Fast(rows, "rows must be a sequence of channels");
    if (sequence == NULL) return NULL;
    const Py_ssize_t channels = PySequence_Fast_GET_SIZE(sequence);
    Py_buffer views[MAX_CHANNELS], weights, frames, peaks;
    Py_ssize_t held = 0;
    int have_weights = 0, have_frames = 0, have_peaks = 0;
    PyObject *result = NULL;
    Search search;
    memset(&search, 0, sizeof search);
    if (channels < 1 || channels > MAX_CHANNELS) {
        PyErr_Format(PyExc_ValueError, "between 1 and %d channels, not %zd", MAX_CHANNELS,
                     channels);
        goto done;
    }
    for (; held < channels; held++) {
        if (float_buffer(PySequence_Fast_GET_ITEM(sequence, held), &views[held], 0, "a row") < 0)
            goto done;
        search.rows[held] = views[held].buf;
        if (views[held].len / 4 != views[0].len / 4) {
            PyErr_SetString(PyExc_ValueError, "the rows differ in length");
            held++;
            goto done;
        }
    }
    if (float_buffer(weights_object, &weights, 0, "weights") < 0) goto done;
    have_weights = 1;
    if (float_buffer(peaks_object, &peaks, 1, "peaks_out") < 0) goto done;
    have_peaks = 1;
    if (PyObject_GetBuffer(frames_object, &frames,
                           PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0)
        goto done;
    have_frames = 1;
    const int int64 = strcmp(frames.format, "q") == 0 || strcmp(frames.format, "l") == 0;
    if (frames.itemsize != 8 || !int64) {
        PyErr_SetString(PyExc_TypeError, "frames_out must be int64");
        goto done;
    }
    search.pairs = (int)(weights.len / (3 * 4));
    if (weights.len != (Py_ssize_t)search.pairs * 12 || search.pairs < 1
        || search.pairs > MAX_PAIRS || prune_after < 0 || prune_after > search.pairs) {
        PyErr_SetString(PyExc_ValueError, "weights must be (pairs, 3), prune_after within them");
        goto done;
    }
    if (start < 0) {
        PyErr_SetString(PyExc_ValueError, "start must not be negative");
        goto done;
    }
    search.channels = (int)channels;
    search.count = views[0].len / 4;
    search.weights = weights.buf;
    search.prune_after = prune_after;
    search.left_gain = (float)left_gain;
    search.threshold = (float)threshold;
    search.hot_level = (float)hot_level;
    const Py_ssize_t capacity = frames.len / 8 < peaks.len / 4 ? frames.len / 8 : peaks.len / 4;
    Py_ssize_t found, resume;
    Py_BEGIN_ALLOW_THREADS
    found = search_over(&search, start, frames.buf, peaks.buf, capacity, &resume);
    Py_END_ALLOW_THREADS
    result = Py_BuildValue("nn", found, resume);
done:
    for (Py_ssize_t i = 0; i < held; i++) PyBuffer_Release(&views[i]);
    if (have_weights) PyBuffer_Release(&weights);
    if (have_frames) PyBuffer_Release(&frames);
    if (have_peaks) PyBuffer_Release(&peaks);
    Py_DECREF(sequence);
    return result;
}

static PyMethodDef methods[] = {
    {"over", over, METH_VARARGS, over_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_truepeak",
    .m_doc = "The true-peak limiter's compiled search.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__truepeak(void) { return PyModule_Create(&module); }
