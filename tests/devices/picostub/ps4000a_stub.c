/* A stand-in for Pico Technology's ps4000a driver (libps4000a.so) for the PicoScope source's tests.
 *
 * The functions the source calls have the C signatures of the ps4000a programmer's guide, so the source
 * talks to it through Pico's own Python wrappers (picosdk) with real ctypes calls. Every other function
 * the wrapper binds when it is imported exists as a placeholder returning PICO_NOT_USED.
 *
 * One four-channel unit (serial STUB0001) captures a rapid block in a thread of its own, at PICOSTUB_RATE captures
 * per second (default 2000; 0 as fast as it can), and calls the ready callback when the block is full.
 * Capture n (counted from 1 over the life of the process, across reconnections) holds a flat baseline
 * at 0 mV on every channel, and on channels A and B a pulse at the trigger sample (the pre-trigger
 * samples) whose height in mV is 100 + n % 200 + 10 * channel, decaying with 25 samples, as a muon
 * passing the two upper layers; every fourth capture has a second, 60 mV pulse on channel B alone,
 * 50 + (37 n) % (post-trigger samples - 100) samples later: a decay, as the muon-lifetime filter
 * looks for it. The signal plus the channel's analogue offset is
 * digitised in the channel's range to counts of +-32767.
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

#define HANDLE 1
#define CHANNELS 4 /* a four-channel unit, such as the PicoScope 4424A */
#define MAX_ADC 32767
#define MEMORY 64000000L /* samples shared by the segments */
#define TAU 25.0
#define SERIAL "STUB0001"

static const double RANGE_MV[] = {10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000};
#define RANGES (int)(sizeof RANGE_MV / sizeof RANGE_MV[0])

static struct {
    int open, lost, lose_after, return_after;
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
} unit = {.segments = 1, .captures = 1, .return_after = -1, .rate = 2000};

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
    double counts = (mv + unit.offset[channel] * 1000.0) * MAX_ADC / RANGE_MV[unit.range[channel]];
    if (counts > MAX_ADC) return MAX_ADC;
    if (counts < -MAX_ADC) return -MAX_ADC;
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

PICO_STATUS ps4000aOpenUnit(int16_t *handle, int8_t *serial) {
    note("OpenUnit serial=%s", serial ? (const char *)serial : "");
    if (unit.lost && unit.return_after > 0 && --unit.return_after == 0) unit.lost = 0, unit.lose_after = 0;
    if (unit.lost || unit.open || (serial && strcmp((const char *)serial, SERIAL) != 0)) {
        *handle = 0;
        return PICO_NOT_FOUND;
    }
    unit.open = 1;
    *handle = HANDLE;
    return PICO_OK;
}

PICO_STATUS ps4000aCloseUnit(int16_t handle) {
    note("CloseUnit");
    end_block();
    if (handle != HANDLE || !unit.open) return PICO_INVALID_HANDLE;
    unit.open = 0;
    return PICO_OK;
}

PICO_STATUS ps4000aEnumerateUnits(int16_t *count, int8_t *serials, int16_t *serialLth) {
    *count = unit.lost || unit.open ? 0 : 1;
    if (serials && serialLth && *serialLth > (int16_t)strlen(SERIAL)) strcpy((char *)serials, *count ? SERIAL : "");
    if (serialLth) *serialLth = *count ? (int16_t)strlen(SERIAL) : 0;
    return PICO_OK;
}

PICO_STATUS ps4000aMaximumValue(int16_t handle, int16_t *value) {
    *value = MAX_ADC;
    return reachable(handle);
}

PICO_STATUS ps4000aSetChannel(int16_t handle, int32_t channel, int16_t enabled, int32_t type, int32_t range,
                              float analogOffset) {
    note("SetChannel channel=%d enabled=%d coupling=%d range=%d offset=%.3f", channel, enabled, type, range,
         analogOffset);
    if (reachable(handle)) return reachable(handle);
    if (channel < 0 || channel >= CHANNELS) return PICO_INVALID_CHANNEL;
    if (range < 0 || range >= RANGES) return PICO_INVALID_VOLTAGE_RANGE;
    unit.enabled[channel] = enabled, unit.range[channel] = range, unit.offset[channel] = analogOffset;
    return PICO_OK;
}

PICO_STATUS ps4000aSetSimpleTrigger(int16_t handle, int16_t enable, int32_t source, int16_t threshold,
                                    int32_t direction, uint32_t delay, int16_t autoTrigger_ms) {
    note("SetSimpleTrigger enable=%d source=%d threshold=%d direction=%d delay=%u auto_ms=%d", enable, source,
         threshold, direction, delay, autoTrigger_ms);
    return reachable(handle);
}

PICO_STATUS ps4000aGetTimebase2(int16_t handle, uint32_t timebase, int32_t noSamples, float *timeIntervalNanoseconds,
                                int32_t *maxSamples, uint32_t segmentIndex) {
    note("GetTimebase2 timebase=%u samples=%d segment=%u", timebase, noSamples, segmentIndex);
    if (timeIntervalNanoseconds) *timeIntervalNanoseconds = 12.5f * (timebase + 1);
    if (maxSamples) *maxSamples = (int32_t)(MEMORY / unit.segments);
    return reachable(handle);
}

PICO_STATUS ps4000aMemorySegments(int16_t handle, uint32_t nSegments, int32_t *nMaxSamples) {
    note("MemorySegments segments=%u", nSegments);
    if (reachable(handle)) return reachable(handle);
    if (nSegments < 1 || nSegments > 1024) return PICO_TOO_MANY_SEGMENTS;
    unit.segments = nSegments;
    *nMaxSamples = (int32_t)(MEMORY / nSegments);
    return PICO_OK;
}

PICO_STATUS ps4000aSetNoOfCaptures(int16_t handle, uint32_t nCaptures) {
    note("SetNoOfCaptures captures=%u", nCaptures);
    if (reachable(handle)) return reachable(handle);
    if (nCaptures < 1 || nCaptures > unit.segments) return PICO_INVALID_PARAMETER;
    unit.captures = nCaptures;
    return PICO_OK;
}

PICO_STATUS ps4000aSetDataBuffer(int16_t handle, int32_t channel, int16_t *buffer, int32_t bufferLth,
                                 uint32_t segmentIndex, int32_t mode) {
    note("SetDataBuffer channel=%d length=%d segment=%u mode=%d", channel, bufferLth, segmentIndex, mode);
    if (reachable(handle)) return reachable(handle);
    if (channel < 0 || channel >= CHANNELS) return PICO_INVALID_CHANNEL;
    if (segmentIndex >= unit.segments) return PICO_SEGMENT_OUT_OF_RANGE;
    unit.buffer[channel][segmentIndex] = buffer;
    return PICO_OK;
}

PICO_STATUS ps4000aRunBlock(int16_t handle, int32_t noOfPreTriggerSamples, int32_t noOfPostTriggerSamples,
                            uint32_t timebase, int32_t *timeIndisposedMs, uint32_t segmentIndex, BlockReady lpReady,
                            void *pParameter) {
    note("RunBlock pre=%d post=%d timebase=%u segment=%u", noOfPreTriggerSamples, noOfPostTriggerSamples, timebase,
         segmentIndex);
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

PICO_STATUS ps4000aIsReady(int16_t handle, int16_t *ready) {
    *ready = (int16_t)unit.ready;
    return reachable(handle);
}

PICO_STATUS ps4000aStop(int16_t handle) {
    note("Stop");
    end_block();
    return reachable(handle);
}

PICO_STATUS ps4000aGetNoOfCaptures(int16_t handle, uint32_t *nCaptures) {
    *nCaptures = unit.completed;
    return reachable(handle);
}

PICO_STATUS ps4000aGetValuesBulk(int16_t handle, uint32_t *noOfSamples, uint32_t fromSegmentIndex,
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

PICO_STATUS ps4000aGetValuesTriggerTimeOffsetBulk64(int16_t handle, int64_t *times, int32_t *timeUnits,
                                                    uint32_t fromSegmentIndex, uint32_t toSegmentIndex) {
    for (uint32_t s = fromSegmentIndex; s <= toSegmentIndex; s++) times[s - fromSegmentIndex] = 0, timeUnits[s - fromSegmentIndex] = 1;
    return reachable(handle);
}

PICO_STATUS ps4000aChangePowerSource(int16_t handle, PICO_STATUS powerState) {
    note("ChangePowerSource state=%u", powerState);
    return reachable(handle);
}

/* ---- placeholders: bound by the wrapper at import, not used by the source ------------------------ */

#define UNUSED(name) \
    PICO_STATUS ps4000a##name(void) { return PICO_NOT_USED; }

UNUSED(OpenUnitAsync) UNUSED(OpenUnitProgress) UNUSED(GetUnitInfo) UNUSED(FlashLed) UNUSED(SetChannelLed)
UNUSED(IsLedFlashing) UNUSED(SetBandwidthFilter) UNUSED(ApplyResistanceScaling) UNUSED(GetTimebase)
UNUSED(SetSigGenArbitrary) UNUSED(SetSigGenBuiltIn) UNUSED(SetSigGenPropertiesArbitrary)
UNUSED(SetSigGenPropertiesBuiltIn) UNUSED(SigGenFrequencyToPhase) UNUSED(SigGenArbitraryMinMaxValues)
UNUSED(SigGenSoftwareControl) UNUSED(SetEts) UNUSED(SetTriggerChannelProperties)
UNUSED(SetTriggerChannelConditions) UNUSED(SetTriggerChannelDirections) UNUSED(SetTriggerDelay)
UNUSED(SetPulseWidthQualifierProperties) UNUSED(SetPulseWidthQualifierConditions)
UNUSED(IsTriggerOrPulseWidthQualifierEnabled) UNUSED(GetTriggerTimeOffset) UNUSED(GetTriggerTimeOffset64)
UNUSED(GetValuesTriggerTimeOffsetBulk) UNUSED(SetDataBuffers) UNUSED(SetEtsTimeBuffer) UNUSED(SetEtsTimeBuffers)
UNUSED(RunStreaming) UNUSED(GetStreamingLatestValues) UNUSED(NoOfStreamingValues) UNUSED(GetMaxDownSampleRatio)
UNUSED(GetValues) UNUSED(GetValuesAsync) UNUSED(GetValuesOverlapped) UNUSED(GetValuesOverlappedBulk)
UNUSED(GetChannelInformation) UNUSED(ConnectDetect) UNUSED(MinimumValue) UNUSED(GetAnalogueOffset)
UNUSED(GetMaxSegments) UNUSED(CurrentPowerSource) UNUSED(PingUnit) UNUSED(GetNoOfProcessedCaptures)
UNUSED(DeviceMetaData) UNUSED(GetString) UNUSED(GetCommonModeOverflow) UNUSED(SetFrequencyCounter)
UNUSED(OpenUnitWithResolution) UNUSED(GetDeviceResolution) UNUSED(SetDeviceResolution)
