/* A stand-in for Pico Technology's drivers (libps4000a.so, libps2000a.so, libps3000a.so, libps5000a.so)
 * for the PicoScope source's tests, built once per family (build.py): FAMILY is the prefix of the C
 * functions; OVERSAMPLE (ps2000a, ps3000a) adds the oversample argument of GetTimebase2 and RunBlock;
 * RESOLUTION (ps5000a) the resolution argument of OpenUnit; TRIGGER_INFO (ps3000a, ps5000a) exports
 * GetTriggerInfoBulk; RANGES is the number of voltage ranges of the family's enum.
 *
 * The functions the source calls have the C signatures of the family's programmer's guide, so the source
 * talks to it through Pico's own Python wrappers (picosdk) with real ctypes calls. Every other function
 * the wrapper binds when it is imported exists as a weak placeholder returning PICO_NOT_USED (build.py
 * writes them from the wrapper's list).
 *
 * One four-channel unit (serial STUB0001) captures a rapid block in a thread of its own, at PICOSTUB_RATE captures
 * per second (default 2000; 0 as fast as it can), and calls the ready callback when the block is full.
 * Capture n (counted from 1 over the life of the process, across reconnections) holds a flat baseline
 * at 0 mV on every channel, and on channels A and B a pulse at the trigger sample (the pre-trigger
 * samples) whose height in mV is 100 + n % 200 + 10 * channel, decaying with 25 samples, as a muon
 * passing the two upper layers; every fourth capture has a second, 60 mV pulse on channel B alone,
 * 50 + (37 n) % (post-trigger samples - 100) samples later: a decay, as the muon-lifetime filter
 * looks for it. The signal plus the channel's analogue offset is
 * digitised in the channel's range to counts of +-32767 (ps5000a above 8 bits, ps4000a) or +-32512
 * (ps2000a, ps3000a, ps5000a at 8 bits).
 *
 * GetTriggerInfoBulk says, for segment k of a block, a timestamp counter of k * 1000 + k * k sample
 * intervals after the block's first trigger (the first counter of a block being 0), so that the times
 * the source derives from it are known exactly.
 *
 * Environment variables (read when the library is loaded):
 *   PICOSTUB_LOG          append one line per call that changes a setting or moves data
 *   PICOSTUB_DATA         append the samples handed out by GetValuesBulk: per capture, each enabled
 *                         channel in channel order, int16 in the machine's byte order
 *   PICOSTUB_UNITS=0      no unit is connected: OpenUnit returns PICO_NOT_FOUND
 *   PICOSTUB_LOSE_AFTER   the unit is lost after this many captures: calls return PICO_NOT_FOUND
 *   PICOSTUB_RETURN_AFTER a lost unit opens again after this many failed OpenUnit calls (default never)
 *   PICOSTUB_RATE         captures per second
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef uint32_t PICO_STATUS;
typedef void (*BlockReady)(int16_t handle, PICO_STATUS status, void *parameter);

#define PICO_OK 0x00
#define PICO_NOT_FOUND 0x03
#define PICO_INVALID_HANDLE 0x0C
#define PICO_INVALID_PARAMETER 0x0D
#define PICO_INVALID_VOLTAGE_RANGE 0x0F
#define PICO_INVALID_CHANNEL 0x10
#define PICO_TOO_MANY_SAMPLES 0x1D
#define PICO_TOO_MANY_SEGMENTS 0x1E
#define PICO_SEGMENT_OUT_OF_RANGE 0x26
#define PICO_NO_SAMPLES_AVAILABLE 0x25
#define PICO_NOT_USED 0x3F
#define PICO_BUFFERS_NOT_SET 0x46

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(FAMILY, name)

#define HANDLE 1
#define CHANNELS 4 /* a four-channel unit, such as the PicoScope 4424A */
#define MEMORY 64000000L /* samples shared by the segments */
#define TAU 25.0
#define SERIAL "STUB0001"

static const double RANGE_MV[] = {10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000};
#ifndef RANGES
#define RANGES 14
#endif

static struct {
    int open, lost, lose_after, return_after, max_adc;
    long captured; /* captures made since the library was loaded */
    double rate;
    int enabled[CHANNELS], range[CHANNELS];
    float offset[CHANNELS];
    uint32_t segments, captures, completed;
    int32_t pre, post;
    int16_t *memory;            /* segments x CHANNELS x samples */
    int16_t *buffer[CHANNELS][1024];  /* the caller's buffers, by channel and segment */
    pthread_t thread;
    int running, cancel, ready;
    BlockReady callback;
    void *parameter;
    FILE *log, *data;
} unit = {.segments = 1, .captures = 1, .return_after = -1, .rate = 2000, .max_adc = 32767};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((constructor)) static void load(void) {
    const char *v;
    if ((v = getenv("PICOSTUB_LOG")) && *v) unit.log = fopen(v, "a");
    if ((v = getenv("PICOSTUB_DATA")) && *v) unit.data = fopen(v, "ab");
    if ((v = getenv("PICOSTUB_LOSE_AFTER")) && *v) unit.lose_after = atoi(v);
    if ((v = getenv("PICOSTUB_RETURN_AFTER")) && *v) unit.return_after = atoi(v);
    if ((v = getenv("PICOSTUB_RATE")) && *v) unit.rate = atof(v);
    if ((v = getenv("PICOSTUB_UNITS")) && *v && atoi(v) == 0) unit.lost = 1, unit.return_after = -1;
    for (int c = 0; c < CHANNELS; c++) unit.enabled[c] = 1, unit.range[c] = 5;
}

static void note(const char *format, ...) {
    if (!unit.log) return;
    va_list args;
    va_start(args, format);
    vfprintf(unit.log, format, args);
    va_end(args);
    fputc('\n', unit.log);
    fflush(unit.log);
}

static PICO_STATUS reachable(int16_t handle) {
    if (unit.lost) return PICO_NOT_FOUND;
    return handle == HANDLE && unit.open ? PICO_OK : PICO_INVALID_HANDLE;
}

static int32_t samples(void) { return unit.pre + unit.post; }

static int16_t digitise(int channel, double mv) {
    double counts = (mv + unit.offset[channel] * 1000.0) * unit.max_adc / RANGE_MV[unit.range[channel]];
    if (counts > unit.max_adc) return (int16_t)unit.max_adc;
    if (counts < -unit.max_adc) return (int16_t)-unit.max_adc;
    return (int16_t)lround(counts);
}

static double pulse(int32_t i, int32_t at, double height) { return i < at ? 0.0 : height * exp(-(i - at) / TAU); }

static void capture(uint32_t segment, long n) {
    int32_t total = samples(), span = unit.post > 101 ? unit.post - 100 : 1;
    int32_t second = unit.pre + 50 + (int32_t)((37 * n) % span);
    for (int c = 0; c < CHANNELS; c++) {
        int16_t *out = unit.memory + ((size_t)segment * CHANNELS + c) * total;
        for (int32_t i = 0; i < total; i++) {
            double mv = c < 2 ? pulse(i, unit.pre, 100 + n % 200 + 10 * c) : 0.0;
            if (c == 1 && n % 4 == 0) mv += pulse(i, second, 60);
            out[i] = digitise(c, mv);
        }
    }
}

static void wait_one(void) {
    if (unit.rate <= 0) return;
    struct timespec pause = {0, (long)(1e9 / unit.rate)};
    nanosleep(&pause, NULL);
}

static void *block(void *arg) {
    (void)arg;
    for (uint32_t k = 0; k < unit.captures; k++) {
        wait_one();
        pthread_mutex_lock(&lock);
        int stop = unit.cancel || unit.lost;
        if (!stop && unit.lose_after && unit.captured >= unit.lose_after) unit.lost = 1, stop = 1;
        if (!stop) capture(k, ++unit.captured), unit.completed = k + 1;
        pthread_mutex_unlock(&lock);
        if (stop) return NULL;
    }
    unit.ready = 1;
    if (unit.callback) unit.callback(HANDLE, PICO_OK, unit.parameter);
    return NULL;
}

static void end_block(void) {
    if (!unit.running) return;
    pthread_mutex_lock(&lock);
    unit.cancel = 1;
    pthread_mutex_unlock(&lock);
    pthread_join(unit.thread, NULL);
    unit.running = 0;
}

/* ---- the functions the source calls ---------------------------------------------------------- */

#ifdef RESOLUTION
PICO_STATUS FN(OpenUnit)(int16_t *handle, int8_t *serial, int32_t resolution) {
    note("OpenUnit serial=%s resolution=%d", serial ? (const char *)serial : "", resolution);
    if (resolution < 0 || resolution > 4) return PICO_INVALID_PARAMETER;
    unit.max_adc = resolution == 0 ? 32512 : 32767; /* 8 bits, or 12 to 16 */
#else
PICO_STATUS FN(OpenUnit)(int16_t *handle, int8_t *serial) {
    note("OpenUnit serial=%s", serial ? (const char *)serial : "");
#ifdef OVERSAMPLE
    unit.max_adc = 32512;
#endif
#endif
    if (unit.lost && unit.return_after > 0 && --unit.return_after == 0) unit.lost = 0, unit.lose_after = 0;
    if (unit.lost || unit.open || (serial && strcmp((const char *)serial, SERIAL) != 0)) {
        *handle = 0;
        return PICO_NOT_FOUND;
    }
    unit.open = 1;
    *handle = HANDLE;
    return PICO_OK;
}

PICO_STATUS FN(CloseUnit)(int16_t handle) {
    note("CloseUnit");
    end_block();
    if (handle != HANDLE || !unit.open) return PICO_INVALID_HANDLE;
    unit.open = 0;
    return PICO_OK;
}

PICO_STATUS FN(EnumerateUnits)(int16_t *count, int8_t *serials, int16_t *serialLth) {
    *count = unit.lost || unit.open ? 0 : 1;
    if (serials && serialLth && *serialLth > (int16_t)strlen(SERIAL)) strcpy((char *)serials, *count ? SERIAL : "");
    if (serialLth) *serialLth = *count ? (int16_t)strlen(SERIAL) : 0;
    return PICO_OK;
}

PICO_STATUS FN(MaximumValue)(int16_t handle, int16_t *value) {
    *value = (int16_t)unit.max_adc;
    return reachable(handle);
}

PICO_STATUS FN(SetChannel)(int16_t handle, int32_t channel, int16_t enabled, int32_t type, int32_t range,
                              float analogOffset) {
    note("SetChannel channel=%d enabled=%d coupling=%d range=%d offset=%.3f", channel, enabled, type, range,
         analogOffset);
    if (reachable(handle)) return reachable(handle);
    if (channel < 0 || channel >= CHANNELS) return PICO_INVALID_CHANNEL;
    if (range < 0 || range >= RANGES) return PICO_INVALID_VOLTAGE_RANGE;
    unit.enabled[channel] = enabled, unit.range[channel] = range, unit.offset[channel] = analogOffset;
    return PICO_OK;
}

PICO_STATUS FN(SetSimpleTrigger)(int16_t handle, int16_t enable, int32_t source, int16_t threshold,
                                    int32_t direction, uint32_t delay, int16_t autoTrigger_ms) {
    note("SetSimpleTrigger enable=%d source=%d threshold=%d direction=%d delay=%u auto_ms=%d", enable, source,
         threshold, direction, delay, autoTrigger_ms);
    return reachable(handle);
}

#ifdef OVERSAMPLE
PICO_STATUS FN(GetTimebase2)(int16_t handle, uint32_t timebase, int32_t noSamples, float *timeIntervalNanoseconds,
                             int16_t oversample, int32_t *maxSamples, uint32_t segmentIndex) {
    note("GetTimebase2 timebase=%u samples=%d oversample=%d segment=%u", timebase, noSamples, oversample,
         segmentIndex);
#else
PICO_STATUS FN(GetTimebase2)(int16_t handle, uint32_t timebase, int32_t noSamples, float *timeIntervalNanoseconds,
                             int32_t *maxSamples, uint32_t segmentIndex) {
    note("GetTimebase2 timebase=%u samples=%d segment=%u", timebase, noSamples, segmentIndex);
#endif
    if (timeIntervalNanoseconds) *timeIntervalNanoseconds = 12.5f * (timebase + 1);
    if (maxSamples) *maxSamples = (int32_t)(MEMORY / unit.segments);
    return reachable(handle);
}

PICO_STATUS FN(MemorySegments)(int16_t handle, uint32_t nSegments, int32_t *nMaxSamples) {
    note("MemorySegments segments=%u", nSegments);
    if (reachable(handle)) return reachable(handle);
    if (nSegments < 1 || nSegments > 1024) return PICO_TOO_MANY_SEGMENTS;
    unit.segments = nSegments;
    *nMaxSamples = (int32_t)(MEMORY / nSegments);
    return PICO_OK;
}

PICO_STATUS FN(SetNoOfCaptures)(int16_t handle, uint32_t nCaptures) {
    note("SetNoOfCaptures captures=%u", nCaptures);
    if (reachable(handle)) return reachable(handle);
    if (nCaptures < 1 || nCaptures > unit.segments) return PICO_INVALID_PARAMETER;
    unit.captures = nCaptures;
    return PICO_OK;
}

PICO_STATUS FN(SetDataBuffer)(int16_t handle, int32_t channel, int16_t *buffer, int32_t bufferLth,
                                 uint32_t segmentIndex, int32_t mode) {
    note("SetDataBuffer channel=%d length=%d segment=%u mode=%d", channel, bufferLth, segmentIndex, mode);
    if (reachable(handle)) return reachable(handle);
    if (channel < 0 || channel >= CHANNELS) return PICO_INVALID_CHANNEL;
    if (segmentIndex >= unit.segments) return PICO_SEGMENT_OUT_OF_RANGE;
    unit.buffer[channel][segmentIndex] = buffer;
    return PICO_OK;
}

#ifdef OVERSAMPLE
PICO_STATUS FN(RunBlock)(int16_t handle, int32_t noOfPreTriggerSamples, int32_t noOfPostTriggerSamples,
                         uint32_t timebase, int16_t oversample, int32_t *timeIndisposedMs, uint32_t segmentIndex,
                         BlockReady lpReady, void *pParameter) {
    note("RunBlock pre=%d post=%d timebase=%u oversample=%d segment=%u", noOfPreTriggerSamples,
         noOfPostTriggerSamples, timebase, oversample, segmentIndex);
#else
PICO_STATUS FN(RunBlock)(int16_t handle, int32_t noOfPreTriggerSamples, int32_t noOfPostTriggerSamples,
                         uint32_t timebase, int32_t *timeIndisposedMs, uint32_t segmentIndex, BlockReady lpReady,
                         void *pParameter) {
    note("RunBlock pre=%d post=%d timebase=%u segment=%u", noOfPreTriggerSamples, noOfPostTriggerSamples, timebase,
         segmentIndex);
#endif
    if (reachable(handle)) return reachable(handle);
    end_block();
    if ((long)(noOfPreTriggerSamples + noOfPostTriggerSamples) * unit.segments > MEMORY) return PICO_TOO_MANY_SAMPLES;
    unit.pre = noOfPreTriggerSamples, unit.post = noOfPostTriggerSamples;
    free(unit.memory);
    unit.memory = calloc((size_t)unit.captures * CHANNELS * samples(), sizeof(int16_t));
    unit.callback = lpReady, unit.parameter = pParameter;
    unit.cancel = unit.ready = 0, unit.completed = 0;
    if (timeIndisposedMs) *timeIndisposedMs = 0;
    unit.running = 1;
    pthread_create(&unit.thread, NULL, block, NULL);
    return PICO_OK;
}

PICO_STATUS FN(IsReady)(int16_t handle, int16_t *ready) {
    *ready = (int16_t)unit.ready;
    return reachable(handle);
}

PICO_STATUS FN(Stop)(int16_t handle) {
    note("Stop");
    end_block();
    return reachable(handle);
}

PICO_STATUS FN(GetNoOfCaptures)(int16_t handle, uint32_t *nCaptures) {
    *nCaptures = unit.completed;
    return reachable(handle);
}

PICO_STATUS FN(GetValuesBulk)(int16_t handle, uint32_t *noOfSamples, uint32_t fromSegmentIndex,
                                 uint32_t toSegmentIndex, uint32_t downSampleRatio, int32_t downSampleRatioMode,
                                 int16_t *overflow) {
    note("GetValuesBulk from=%u to=%u samples=%u", fromSegmentIndex, toSegmentIndex, *noOfSamples);
    if (reachable(handle)) return reachable(handle);
    if (toSegmentIndex < fromSegmentIndex || toSegmentIndex >= unit.completed) return PICO_NO_SAMPLES_AVAILABLE;
    uint32_t n = *noOfSamples < (uint32_t)samples() ? *noOfSamples : (uint32_t)samples();
    (void)downSampleRatio, (void)downSampleRatioMode;
    for (uint32_t s = fromSegmentIndex; s <= toSegmentIndex; s++) {
        overflow[s - fromSegmentIndex] = 0;
        for (int c = 0; c < CHANNELS; c++) {
            if (!unit.enabled[c]) continue;
            if (!unit.buffer[c][s]) return PICO_BUFFERS_NOT_SET;
            memcpy(unit.buffer[c][s], unit.memory + ((size_t)s * CHANNELS + c) * samples(), n * sizeof(int16_t));
            if (unit.data) fwrite(unit.buffer[c][s], sizeof(int16_t), n, unit.data);
        }
    }
    if (unit.data) fflush(unit.data);
    *noOfSamples = n;
    return PICO_OK;
}

#ifdef TRIGGER_INFO
#pragma pack(push, 1)
typedef struct {
    PICO_STATUS status;
    uint32_t segmentIndex, triggerIndex;
    int64_t triggerTime;
    int16_t timeUnits, reserved0;
    uint64_t timeStampCounter;
} TRIGGER_INFO_T;
#pragma pack(pop)

PICO_STATUS FN(GetTriggerInfoBulk)(int16_t handle, TRIGGER_INFO_T *info, uint32_t fromSegmentIndex,
                                   uint32_t toSegmentIndex) {
    note("GetTriggerInfoBulk from=%u to=%u", fromSegmentIndex, toSegmentIndex);
    if (reachable(handle)) return reachable(handle);
    if (toSegmentIndex < fromSegmentIndex || toSegmentIndex >= unit.completed) return PICO_NO_SAMPLES_AVAILABLE;
    for (uint32_t s = fromSegmentIndex; s <= toSegmentIndex; s++) {
        TRIGGER_INFO_T *i = info + (s - fromSegmentIndex);
        memset(i, 0, sizeof *i);
        i->segmentIndex = s;
        i->timeStampCounter = (uint64_t)s * 1000 + (uint64_t)s * s;
    }
    return PICO_OK;
}
#endif

PICO_STATUS FN(ChangePowerSource)(int16_t handle, PICO_STATUS powerState) {
    note("ChangePowerSource state=%u", powerState);
    return reachable(handle);
}
