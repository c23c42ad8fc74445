"""A simulated Red Pitaya: the MCPHA server's commands on the wire, answered from a model of the board.

It exists so that the Red Pitaya source, its tests and a new setup can be tried without the hardware: the
same client talks to it over TCP exactly as to the board.

The model follows the FPGA pulse generator as the server drives it. Pulses come at ``rate`` per second,
evenly spaced or as a Poisson process; each amplitude (ADC counts) is drawn from a 4096-bin spectrum;
the shape rises and falls exponentially with the half-lives set by the rise-time (ns) and fall-time (µs)
commands. The generator's output is wired to both inputs, each with its own Gaussian noise. The
oscilloscope triggers on the first pulse that crosses the level with the chosen slope on the chosen input
after its pre-trigger samples are recorded (auto mode: on noise when no pulse came for 10 ms); the
pulse-height analyser fills one histogram bin per two ADC counts of pulse height while its timer runs.
Time is wall-clock time: a capture is complete when the model says the board would be done.

Rather than simulating every sample at 125 MHz, the model draws when the next triggering pulse comes
(geometric in the number of pulses, exponential for Poisson spacing) and adds all pulses since the last
look to the histograms at once (multinomial counts), so that high rates cost nothing.

Unlike the board, the generator runs from the start (with ``spectrum``, by default a Cs-137-like one),
and it keeps running when a client disconnects: a DAQ client never has to start it.

For tests, ``pattern=True`` makes every capture a known sequence (``pattern_samples``) triggered by every
pulse, ``commands`` lists every command received, and ``record=True`` keeps every waveform sent.
"""

from __future__ import annotations

import contextlib
import math
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ._common import accept_client, end_process, serve_until_signal, start_simulator
from ._mcpha import ADC_MAX, ADC_MIN, CLOCK_HZ, HISTOGRAM_BINS, STATUS_BYTES, Code, decode

AUTO_TIMEOUT = 0.01  # s without a trigger before auto mode captures anyway
DEFAULT_PORT = 10001  # the board's 1001 needs root on most machines
NOISE_BANK = 1 << 20


def pattern_samples(capture: int, samples: int) -> np.ndarray:
    """The known waveform of capture number ``capture`` (1, 2, ...) in pattern mode: int16 (samples, 2).

    Every sample and every capture differ, so a lost, repeated or shifted sample shows in a comparison.
    """
    index = np.arange(samples, dtype=np.int64)
    in1 = (capture * 977 + index) % (ADC_MAX - ADC_MIN + 1) + ADC_MIN
    out = np.empty((samples, 2), "<i2")
    out[:, 0] = in1
    out[:, 1] = -1 - in1
    return out


# gamma lines (keV) and their share of a source's counts; Cs-137 with the barium X-rays that follow it
GAMMA_SOURCES: dict[str, tuple[tuple[float, float], ...]] = {
    "cs137": ((661.7, 0.85), (32.0, 0.07)),
    "co60": ((1173.2, 1.0), (1332.5, 1.0)),
    "na22": ((511.0, 1.8), (1274.5, 1.0)),
}
ELECTRON_KEV = 511.0


def gamma_spectrum(
    sources: str = "cs137", kev_per_count: float = 661.7 / 3000, counts: int = 1_000_000
) -> np.ndarray:
    """Pulse amplitudes of gamma sources in a NaI-like detector (7 % FWHM at 662 keV, scaling with the
    square root of the energy): each line with its Compton continuum and edge, and a backscatter peak.

    ``sources`` names one or more of ``GAMMA_SOURCES`` joined by ``+`` (``cs137+co60``); the default puts
    662 keV at 3000 ADC counts.
    """
    kev = np.arange(HISTOGRAM_BINS) * kev_per_count
    shape = np.zeros(HISTOGRAM_BINS)
    for name in sources.lower().split("+"):
        if name not in GAMMA_SOURCES:
            raise ValueError(f"unknown gamma source {name!r}; known: {', '.join(GAMMA_SOURCES)}")
        for energy, share in GAMMA_SOURCES[name]:
            shape += share * _line_with_continuum(kev, energy, kev_per_count)
    return np.round(shape / shape.sum() * counts).astype(np.uint32)


def _line_with_continuum(kev: np.ndarray, energy: float, kev_per_count: float) -> np.ndarray:
    """One line's counts per bin: a third in the photopeak, the rest Compton-scattered out of it."""

    def gauss(centre: float) -> np.ndarray:
        sigma = 0.07 * np.sqrt(661.7 * centre) / 2.355
        curve = np.exp(-0.5 * ((kev - centre) / sigma) ** 2)
        return curve / max(curve.sum(), 1e-300)

    if energy < 100:  # an X-ray: absorbed whole
        return gauss(energy)
    edge = energy * (1 - 1 / (1 + 2 * energy / ELECTRON_KEV))
    continuum = np.where(kev < edge, 1 + (kev / edge) ** 2, 0.0) * (kev > 40)
    sigma = 0.07 * np.sqrt(661.7 * edge) / 2.355 / kev_per_count  # the edge smeared as a line there
    offsets = np.arange(-int(4 * sigma), int(4 * sigma) + 1)
    continuum = np.convolve(continuum, np.exp(-0.5 * (offsets / sigma) ** 2), mode="same")
    continuum /= max(continuum.sum(), 1e-300)
    return 0.33 * gauss(energy) + 0.58 * continuum + 0.09 * gauss(energy - edge)


def read_spectrum(path: str | Path) -> np.ndarray:
    """Generator amplitudes: gamma sources by name (``cs137``, ``cs137+co60``), or a file of 4096
    numbers (counts per amplitude bin, fewer are padded) or of lines 'bin count'."""
    names = str(path).lower().split("+")
    if not Path(path).exists() and all(name in GAMMA_SOURCES for name in names):
        highest = max(energy for name in names for energy, _ in GAMMA_SOURCES[name])
        return gamma_spectrum(str(path), kev_per_count=highest / 3000)  # the highest line at 3000 counts
    values = np.loadtxt(path, ndmin=1)
    spectrum = np.zeros(HISTOGRAM_BINS, np.uint32)
    if values.ndim == 2 and values.shape[1] == 2:
        bins = values[:, 0].astype(int)
        if bins.min() < 0 or bins.max() >= HISTOGRAM_BINS:
            raise ValueError(f"{path}: bins must be 0-{HISTOGRAM_BINS - 1}")
        spectrum[bins] = values[:, 1]
    elif values.ndim == 1 and len(values) <= HISTOGRAM_BINS:
        spectrum[: len(values)] = values
    else:
        raise ValueError(f"{path}: expected up to {HISTOGRAM_BINS} counts, or lines of 'bin count'")
    if spectrum.sum() == 0:
        raise ValueError(f"{path}: the spectrum is empty")
    return spectrum


class _Generator:
    """The pulser: rate, spacing, amplitude spectrum, shape."""

    def __init__(self, spectrum: np.ndarray, rate: float, rng: np.random.Generator):
        self.rng = rng
        self.spectrum = np.zeros(HISTOGRAM_BINS, np.uint64)  # as loaded by commands 27/28
        self.spectrum[:] = spectrum
        self.rate, self.poisson = rate, False
        self.fall_us, self.rise_ns = 50, 50  # half-lives, the server's start values
        self.running = True
        self.keep_running = True  # the simulator starts as if a GUI had started it to keep pulsing
        self.weights = self._weights()

    def _weights(self) -> np.ndarray:
        total = self.spectrum.sum()
        return self.spectrum / total if total else np.zeros(HISTOGRAM_BINS)

    def start(self, keep: bool) -> None:
        self.weights = self._weights()
        self.running, self.keep_running = bool(self.weights.any()), keep

    def pulses_between(self, t0: float, t1: float) -> int:
        if not self.running or self.rate <= 0 or t1 <= t0:
            return 0
        mean = (t1 - t0) * self.rate
        return (
            int(self.rng.poisson(mean))
            if self.poisson
            else int(math.floor(t1 * self.rate) - math.floor(t0 * self.rate))
        )

    def wait_for(self, probability: float) -> float:
        """Seconds until the next pulse that triggers, each pulse triggering with ``probability``."""
        if not self.running or self.rate <= 0 or probability <= 0:
            return math.inf
        if self.poisson:
            return float(self.rng.exponential(1 / (self.rate * probability)))
        return float(self.rng.geometric(probability)) / self.rate

    def _constants(self) -> tuple[float, float, float, float]:
        """Fall and rise time constants (s), the time of the maximum and the height there."""
        fall, rise = max(self.fall_us, 1) * 1e-6 / math.log(2), max(self.rise_ns, 1) * 1e-9 / math.log(2)
        fall = max(fall, rise * 1.01)
        peak_t = math.log(fall / rise) * fall * rise / (fall - rise)
        return fall, rise, peak_t, math.exp(-peak_t / fall) - math.exp(-peak_t / rise)

    def shape(self, t: np.ndarray) -> np.ndarray:
        """The pulse of amplitude 1 at time ``t`` (s) after its start."""
        fall, rise, _, norm = self._constants()
        tt = np.maximum(t, 0)
        return np.where(t >= 0, (np.exp(-tt / fall) - np.exp(-tt / rise)) / norm, 0.0)

    def crossing_time(self, fraction: float, leading_edge: bool) -> float:
        """When the pulse of amplitude 1 passes ``fraction`` on its leading or trailing edge (bisection:
        the shape is monotonic on either side of its maximum)."""
        fall, rise, peak_t, norm = self._constants()
        low, high = (0.0, peak_t) if leading_edge else (peak_t, peak_t + 50 * fall)
        for _ in range(60):
            middle = (low + high) / 2
            value = (math.exp(-middle / fall) - math.exp(-middle / rise)) / norm
            if (value < fraction) == leading_edge:
                low = middle
            else:
                high = middle
        return (low + high) / 2


def _crossing(peak: np.ndarray, level: int, falling: bool) -> np.ndarray:
    """Whether a pulse of signed ``peak`` crosses ``level`` with the slope, from a baseline of 0."""
    positive, negative = peak > 0, peak < 0
    if falling:
        return (positive & (level >= 0) & (level < peak)) | (negative & (level >= peak) & (level < 0))
    return (positive & (level > 0) & (level <= peak)) | (negative & (level > peak) & (level <= 0))


class _Board:
    """The state the commands change and the replies report."""

    def __init__(self, spectrum: np.ndarray, rate: float, noise: float, pattern: bool, seed: int | None):
        self.rng = np.random.default_rng(seed)
        self.gen = _Generator(spectrum, rate, self.rng)
        self.noise_bank = (self.rng.standard_normal(NOISE_BANK) * noise).astype(np.float32)
        self.pattern = pattern
        self.captures = 0
        self.decimation = 4
        self.negate = [False, False]
        self.trigger_channel, self.falling, self.auto, self.level = 0, False, False, 500
        self.pretrigger, self.samples = 100, 2048
        self.armed_at: float | None = None
        self.done_at = math.inf
        self.trigger_peak: float | None = None  # amplitude of the triggering pulse; None: noise only
        self.waveform = b""
        self.histograms = np.zeros((2, HISTOGRAM_BINS), np.uint32)
        self.pha_min, self.pha_max = [0, 0], [HISTOGRAM_BINS - 1] * 2
        self.timer_ticks = [0.0, 0.0]
        self.timer_since: list[float | None] = [None, None]
        self.last_pulses = time.monotonic()
        self._actions = self._table()

    # -- time passing -------------------------------------------------------------------------------

    def catch_up(self, now: float) -> None:
        """Add the pulses since the last look to the running histograms."""
        counting = [c for c in (0, 1) if self.timer_since[c] is not None and not self.negate[c]]
        n = self.gen.pulses_between(self.last_pulses, now) if counting else 0
        self.last_pulses = now
        if n == 0 or not self.gen.weights.any():
            return
        counts = self.rng.multinomial(n, self.gen.weights)
        heights = np.arange(HISTOGRAM_BINS)
        for channel in counting:
            bins = heights // 2
            keep = (bins >= self.pha_min[channel]) & (bins <= self.pha_max[channel])
            np.add.at(self.histograms[channel], bins[keep], counts[keep].astype(np.uint32))

    def timer(self, channel: int, now: float) -> int:
        since = self.timer_since[channel]
        running = 0.0 if since is None else (now - since) * CLOCK_HZ
        return int(self.timer_ticks[channel] + running)

    def set_timer_running(self, channel: int, running: bool, now: float) -> None:
        since = self.timer_since[channel]
        if running and since is None:
            self.timer_since[channel] = now
        elif not running and since is not None:
            self.timer_ticks[channel] += (now - since) * CLOCK_HZ
            self.timer_since[channel] = None

    # -- the oscilloscope ---------------------------------------------------------------------------

    @property
    def sample_time(self) -> float:
        return max(self.decimation, 1) / CLOCK_HZ

    def arm(self, now: float) -> None:
        self.armed_at, self.waveform = now, b""
        ready = now + self.pretrigger * self.sample_time
        if self.pattern:
            wait, peak = self.gen.wait_for(1.0), None
        else:
            wait, peak = self._next_trigger()
        if self.auto and wait > AUTO_TIMEOUT:
            wait, peak = AUTO_TIMEOUT, None
        self.trigger_peak = peak
        self.done_at = ready + wait + (self.samples - self.pretrigger) * self.sample_time

    def _next_trigger(self) -> tuple[float, float | None]:
        sign = -1 if self.negate[self.trigger_channel] else 1
        peaks = sign * np.arange(HISTOGRAM_BINS)
        weights = self.gen.weights * _crossing(peaks, self.level, self.falling)
        probability = float(weights.sum())
        wait = self.gen.wait_for(probability)
        if math.isinf(wait):
            return wait, None
        return wait, float(self.rng.choice(HISTOGRAM_BINS, p=weights / probability))

    def capturing(self, now: float) -> bool:
        return self.armed_at is not None and now < self.done_at

    def reset_scope(self) -> None:
        self.armed_at, self.done_at = None, math.inf

    def read_scope(self) -> bytes:
        if not self.waveform:
            self.waveform = self._capture()
        return self.waveform

    def _capture(self) -> bytes:
        if self.armed_at is None or math.isinf(self.done_at):
            return bytes(4 * self.samples)  # what the board's memory holds: nothing captured
        self.captures += 1
        if self.pattern:
            return pattern_samples(self.captures, self.samples).tobytes()
        samples = np.zeros((self.samples, 2), np.float32)
        if self.trigger_peak is not None:
            t = self._pulse_times()
            pulse = self.trigger_peak * self.gen.shape(t)
            for channel in (0, 1):
                samples[:, channel] = -pulse if self.negate[channel] else pulse
        for channel in (0, 1):
            start = int(self.rng.integers(0, NOISE_BANK - self.samples))
            samples[:, channel] += self.noise_bank[start : start + self.samples]
        return np.clip(np.rint(samples), ADC_MIN, ADC_MAX).astype("<i2").tobytes()

    def _pulse_times(self) -> np.ndarray:
        """Times since the pulse start of each sample, the level crossing falling on the trigger sample."""
        assert self.trigger_peak is not None
        sign = -1 if self.negate[self.trigger_channel] else 1
        leading_edge = (sign > 0) != self.falling  # a negative pulse rises back through the level
        fraction = self.level / (sign * self.trigger_peak) if self.trigger_peak else 1.0
        crossing = self.gen.crossing_time(min(max(fraction, 0.0), 1.0), leading_edge)
        return crossing + (np.arange(self.samples) - self.pretrigger) * self.sample_time

    # -- the commands -------------------------------------------------------------------------------

    def handle(self, code: int, channel: int, value: int, now: float) -> bytes | None:
        """Carry out one command; the reply, if the command has one. Unknown codes are ignored, as by
        the server."""
        action = self._actions.get(code)
        return action(channel, value, now) if action else None

    def _table(self) -> dict[int, Callable[[int, int, float], bytes | None]]:
        return {
            Code.RESET_HISTOGRAM: self._reset_histogram,
            Code.RESET_TIMER: self._reset_timer,
            Code.RESET_SCOPE: lambda c, v, now: self.reset_scope(),
            Code.SAMPLE_RATE: self._sample_rate,
            Code.NEGATOR: self._negator,
            Code.PHA_MIN: self._pha_min,
            Code.PHA_MAX: self._pha_max,
            Code.SET_TIMER: self._set_timer,
            Code.TIMER_MODE: self._timer_mode,
            Code.READ_STATUS: self._status,
            Code.READ_HISTOGRAM: self._histogram,
            Code.TRIGGER_SOURCE: self._trigger_source,
            Code.TRIGGER_SLOPE: self._trigger_slope,
            Code.TRIGGER_MODE: self._trigger_mode,
            Code.TRIGGER_LEVEL: self._trigger_level,
            Code.PRETRIGGER: self._pretrigger,
            Code.TOTAL_SAMPLES: self._total_samples,
            Code.START_SCOPE: lambda c, v, now: self.arm(now),
            Code.READ_SCOPE: lambda c, v, now: self.read_scope(),
            Code.FALL_TIME: self._fall_time,
            Code.RISE_TIME: self._rise_time,
            Code.PULSE_RATE: self._pulse_rate,
            Code.DISTRIBUTION: self._distribution,
            Code.RESET_SPECTRUM: self._reset_spectrum,
            Code.SPECTRUM_BIN: self._spectrum_bin,
            Code.START_GENERATOR: self._start_generator,
            Code.STOP_GENERATOR: self._stop_generator,
        }

    def _reset_histogram(self, channel: int, value: int, now: float) -> None:
        self.catch_up(now)
        if channel < 2:
            self.histograms[channel] = 0

    def _reset_timer(self, channel: int, value: int, now: float) -> None:
        if channel < 2:
            self.timer_ticks[channel] = 0.0
            if self.timer_since[channel] is not None:
                self.timer_since[channel] = now

    def _sample_rate(self, channel: int, value: int, now: float) -> None:
        self.decimation = 1 if value < 4 else value  # below 4 the server switches decimation off

    def _negator(self, channel: int, value: int, now: float) -> None:
        if channel < 2 and value in (0, 1):
            self.negate[channel] = bool(value)

    def _pha_min(self, channel: int, value: int, now: float) -> None:
        if channel < 2:
            self.pha_min[channel] = value & 0xFFFF

    def _pha_max(self, channel: int, value: int, now: float) -> None:
        if channel < 2:
            self.pha_max[channel] = value & 0xFFFF

    def _set_timer(self, channel: int, value: int, now: float) -> None:
        if channel < 2:
            self.timer_ticks[channel] = float(value)

    def _timer_mode(self, channel: int, value: int, now: float) -> None:
        """Channel 2 switches both timers, as on the server."""
        self.catch_up(now)
        for c in {0: (0,), 1: (1,), 2: (0, 1)}.get(channel, ()):
            if value in (0, 1):
                self.set_timer_running(c, bool(value), now)

    def _status(self, channel: int, value: int, now: float) -> bytes:
        self.catch_up(now)
        return self.status(now)

    def _histogram(self, channel: int, value: int, now: float) -> bytes | None:
        if channel > 1:
            return None
        self.catch_up(now)
        return self.histograms[channel].astype("<u4").tobytes()

    def _trigger_source(self, channel: int, value: int, now: float) -> None:
        if channel < 2:
            self.trigger_channel = channel

    def _trigger_slope(self, channel: int, value: int, now: float) -> None:
        if value in (0, 1):
            self.falling = value == 1

    def _trigger_mode(self, channel: int, value: int, now: float) -> None:
        if value in (0, 1):
            self.auto = value == 1

    def _trigger_level(self, channel: int, value: int, now: float) -> None:
        value &= 0xFFFF  # the register keeps 16 bits, read as a signed number
        self.level = value - 0x10000 if value & 0x8000 else value

    def _pretrigger(self, channel: int, value: int, now: float) -> None:
        self.pretrigger = value

    def _total_samples(self, channel: int, value: int, now: float) -> None:
        self.samples = value

    def _fall_time(self, channel: int, value: int, now: float) -> None:
        if value <= 100:  # the server ignores longer ones
            self.gen.fall_us = value

    def _rise_time(self, channel: int, value: int, now: float) -> None:
        if value <= 100:
            self.gen.rise_ns = value

    def _pulse_rate(self, channel: int, value: int, now: float) -> None:
        self.catch_up(now)
        self.gen.rate = float(value)

    def _distribution(self, channel: int, value: int, now: float) -> None:
        self.gen.poisson = value != 0

    def _reset_spectrum(self, channel: int, value: int, now: float) -> None:
        self.gen.spectrum.fill(0)

    def _spectrum_bin(self, channel: int, value: int, now: float) -> None:
        self.gen.spectrum[(value >> 32) & 0xFFF] = value & 0xFFFFFFFF

    def _start_generator(self, channel: int, value: int, now: float) -> None:
        self.catch_up(now)
        self.gen.start(keep=bool(value))

    def _stop_generator(self, channel: int, value: int, now: float) -> None:
        self.catch_up(now)
        self.gen.running = False

    # -- replies ------------------------------------------------------------------------------------

    def status(self, now: float) -> bytes:
        words = np.zeros(STATUS_BYTES // 4, "<u4")
        for channel in (0, 1):
            ticks = self.timer(channel, now)
            words[2 * channel], words[2 * channel + 1] = ticks & 0xFFFFFFFF, ticks >> 32
        position = int((now - (self.armed_at or now)) / self.sample_time) & 0x7FFFFF
        words[8] = position << 1 | int(self.capturing(now))
        return words.tobytes()


class MCPHASimulator:
    """The simulated MCPHA server, serving one client at a time as the board does.

    Args:
        host: the address to listen on (loopback by default: the simulator has no access control).
        port: the TCP port; 0 picks a free one (``port`` tells which after ``start()``).
        spectrum: amplitude counts per ADC count (4096 bins) of the generator; default Cs-137-like.
        rate: pulses per second.
        noise: standard deviation of the noise, ADC counts.
        pattern: captures carry ``pattern_samples`` and every pulse triggers.
        record: keep every waveform sent, in ``sent``.
        seed: for the random numbers, to repeat a run.

    Example:
        ::

            with MCPHASimulator(pattern=True, rate=1000) as sim:
                client = MCPHAClient("127.0.0.1", sim.port)
                ...
            print(sim.commands)
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        spectrum: np.ndarray | None = None,
        rate: float = 1000.0,
        noise: float = 4.0,
        pattern: bool = False,
        record: bool = False,
        seed: int | None = None,
    ):
        self.host = host
        self.board = _Board(gamma_spectrum() if spectrum is None else spectrum, rate, noise, pattern, seed)
        self.record = record
        self.commands: list[tuple[int, int, int]] = []
        self.sent: list[bytes] = []
        self.connections = 0
        self._listener = socket.create_server((host, port))
        self.port: int = self._listener.getsockname()[1]
        self._client: socket.socket | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, name="mcpha-simulator", daemon=True)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> MCPHASimulator:
        self._thread.start()
        return self

    def __enter__(self) -> MCPHASimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def connected(self) -> bool:
        """A client is connected now."""
        with self._lock:
            return self._client is not None

    @property
    def armed(self) -> bool:
        """A capture was started and the scope not reset since (a client's capture is pending)."""
        return self.board.armed_at is not None

    def received(self, code: int) -> list[tuple[int, int]]:
        """``(channel, value)`` of every command ``code`` received so far, in order."""
        return [(channel, value) for c, channel, value in list(self.commands) if c == code]

    def stop(self) -> None:
        """Stop at once, as a board switched off: the client's connection breaks."""
        self._stopping.set()
        with self._lock:
            client = self._client
        if client is not None:
            with contextlib.suppress(OSError):  # already closed by the client
                client.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):  # not connected: nothing to shut down
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        while not self._stopping.is_set():
            client = accept_client(self._listener)
            if client is None:
                return
            with self._lock:
                self._client = client
            self.connections += 1
            try:
                self._serve(client)
            except OSError:
                pass
            finally:
                with self._lock:
                    self._client = None
                client.close()
            if not self.board.gen.keep_running:
                self.board.gen.running = False

    def _serve(self, client: socket.socket) -> None:
        incoming = client.makefile("rb")
        while not self._stopping.is_set():
            raw = incoming.read(8)
            if len(raw) < 8:
                return
            code, channel, value = decode(raw)
            self.commands.append((code, channel, value))
            reply = self.board.handle(code, channel, value, time.monotonic())
            if reply is not None:
                if code == Code.READ_SCOPE and self.record:
                    self.sent.append(reply)
                client.sendall(reply)


def run_simulator(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    spectrum: str | None = None,
    rate: float = 1000.0,
    noise: float = 4.0,
    pattern: bool = False,
    seed: int | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM (``mimocorb simulate redpitaya``); says where it listens first."""
    amplitudes = None if spectrum is None else read_spectrum(spectrum)
    simulator = MCPHASimulator(host, port, amplitudes, rate, noise, pattern, seed=seed).start()
    serve_until_signal(simulator.stop, f"MCPHA simulator listening on {simulator.address}")


def start_simulator_process(*options: str) -> tuple[subprocess.Popen, int]:
    """``mimocorb simulate redpitaya`` in a process of its own, on a free loopback port (the second
    value); ``options`` as on the command line. A process, not a thread: a run forks its workers, and a
    forked worker must not inherit a server thread's sockets."""
    board, address = start_simulator("redpitaya", "listening on ", "--port", "0", *options)
    return board, int(address.rsplit(":", 1)[1])


@contextlib.contextmanager
def simulated_board(*options: str) -> Iterator[str]:
    """A simulated Red Pitaya in its own process for as long as the block runs; yields its address."""
    board, port = start_simulator_process(*options)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        end_process(board)
