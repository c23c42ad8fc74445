"""Sources for real instruments, and simulations of them to develop and test against.

A setup names them without a module of its own (``file_name: mimocorb.devices``):

* ``redpitaya``: waveforms from a Red Pitaya running Pavel Demin's MCPHA server (``_redpitaya``), with
  ``MCPHAClient`` for the protocol (``_mcpha``) and ``MCPHASimulator`` to stand in for the board
  (``_simulator``, ``mimocorb simulate redpitaya``);
* ``stream``: events another program sends as JSON lines over TCP or numpy frames over ZeroMQ
  (``_stream``);
* ``picoscope``: rapid-block captures of a PicoScope through Pico's ``picosdk`` wrapper and the PicoSDK
  driver (``_picoscope``, ``_picodriver``), loaded when the source starts; ``find_picoscopes`` lists the
  units the driver sees;
* ``cosmicwatch``: event lines of a CosmicWatch muon detector on a serial port (``_cosmicwatch``), with
  ``CosmicWatchSimulator`` on a pseudo-terminal (``_cosmicwatch_sim``, ``mimocorb simulate cosmicwatch``);
* ``scpi_scope``: single acquisitions of a Rigol, Keysight, Tektronix or Siglent oscilloscope over VISA
  (``_scpi_scope``, dialects in ``_scpi``), with ``ScpiSimulator`` (``_scpi_sim``, ``mimocorb simulate
  scpi``);
* ``find_devices``: what ``mimocorb devices`` lists (``_discover``).

The clients use the standard library's sockets; pyzmq (the ``net`` extra) only for a ZeroMQ stream,
pyserial and PyVISA (the ``devices`` extra) only for the serial and VISA sources.
See docs/devices.md.
"""

from ._cosmicwatch import CosmicWatchSource, check_cosmicwatch_config, cosmicwatch
from ._cosmicwatch_lines import parse_line
from ._cosmicwatch_sim import (
    CosmicWatchSimulator,
    cosmicwatch_lines,
    run_cosmicwatch_simulator,
    simulated_cosmicwatch,
)
from ._discover import Found, describe, find_devices
from ._mcpha import Code, DeviceError, MCPHAClient, ScopeSettings, Status
from ._picodriver import DriverMissing, PicoScopeSearch, PicoScopeUnit, find_picoscopes
from ._picoscope import PicoScopeConfig, PicoScopeSource, check_picoscope_config, picoscope
from ._redpitaya import RedPitayaConfig, RedPitayaSource, check_redpitaya_config, redpitaya
from ._scpi import Profile, Scale, ScpiScope, parse_block
from ._scpi_scope import ScpiScopeSource, check_scpi_config, scpi_scope
from ._scpi_sim import ScpiSimulator, run_scpi_simulator, scope_waveform, simulated_scope
from ._simulator import (
    MCPHASimulator,
    gamma_spectrum,
    pattern_samples,
    read_spectrum,
    run_simulator,
    simulated_board,
    start_simulator_process,
)
from ._stream import StreamSource, check_stream_config, stream

__all__ = [
    "Code",
    "CosmicWatchSimulator",
    "CosmicWatchSource",
    "DeviceError",
    "DriverMissing",
    "Found",
    "MCPHAClient",
    "MCPHASimulator",
    "PicoScopeConfig",
    "PicoScopeSearch",
    "PicoScopeSource",
    "PicoScopeUnit",
    "Profile",
    "RedPitayaConfig",
    "RedPitayaSource",
    "Scale",
    "ScopeSettings",
    "ScpiScope",
    "ScpiScopeSource",
    "ScpiSimulator",
    "Status",
    "StreamSource",
    "check_cosmicwatch_config",
    "check_picoscope_config",
    "check_redpitaya_config",
    "check_scpi_config",
    "check_stream_config",
    "cosmicwatch",
    "cosmicwatch_lines",
    "describe",
    "find_devices",
    "find_picoscopes",
    "gamma_spectrum",
    "parse_block",
    "parse_line",
    "pattern_samples",
    "picoscope",
    "read_spectrum",
    "redpitaya",
    "run_cosmicwatch_simulator",
    "run_scpi_simulator",
    "run_simulator",
    "scope_waveform",
    "scpi_scope",
    "simulated_board",
    "simulated_cosmicwatch",
    "simulated_scope",
    "start_simulator_process",
    "stream",
]
