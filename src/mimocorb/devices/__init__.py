"""Sources for real instruments, and simulations of them to develop and test against.

A setup names them without a module of its own (``file_name: mimocorb.devices``):

* ``redpitaya``: waveforms from a Red Pitaya running Pavel Demin's MCPHA server (``_redpitaya``), with
  ``MCPHAClient`` for the protocol (``_mcpha``) and ``MCPHASimulator`` to stand in for the board
  (``_simulator``, ``mimocorb simulate redpitaya``);
* ``stream``: events another program sends as JSON lines over TCP or numpy frames over ZeroMQ
  (``_stream``);
* ``picoscope``: rapid-block captures of a PicoScope through Pico's ``picosdk`` wrapper and the PicoSDK
  driver (``_picoscope``, ``_picodriver``), loaded when the source starts; ``find_picoscopes`` lists the
  units the driver sees.

The clients use the standard library's sockets; pyzmq (the ``net`` extra) only for a ZeroMQ stream.
See docs/devices.md.
"""

from ._mcpha import Code, DeviceError, MCPHAClient, ScopeSettings, Status
from ._picodriver import DriverMissing, PicoScopeSearch, PicoScopeUnit, find_picoscopes
from ._picoscope import PicoScopeConfig, PicoScopeSource, check_picoscope_config, picoscope
from ._redpitaya import RedPitayaConfig, RedPitayaSource, check_redpitaya_config, redpitaya
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
    "DeviceError",
    "DriverMissing",
    "MCPHAClient",
    "MCPHASimulator",
    "PicoScopeConfig",
    "PicoScopeSearch",
    "PicoScopeSource",
    "PicoScopeUnit",
    "RedPitayaConfig",
    "RedPitayaSource",
    "ScopeSettings",
    "Status",
    "StreamSource",
    "check_picoscope_config",
    "check_redpitaya_config",
    "check_stream_config",
    "find_picoscopes",
    "gamma_spectrum",
    "pattern_samples",
    "picoscope",
    "read_spectrum",
    "redpitaya",
    "run_simulator",
    "simulated_board",
    "start_simulator_process",
    "stream",
]
