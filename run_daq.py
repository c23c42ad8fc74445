#!/usr/bin/env python3
"""Run a mimocorb data acquisition: ``run_daq.py [setup.yaml] [-v N] [-d]``, as mimoCoRB 1.0.2's script does.

The setup file (default demo_setup.yaml) and the options are taken from the command line by
``run_mimoDAQ()``; relative paths in the setup resolve against the current directory first, then the
setup file's directory. ``mimocorb run SETUP.yaml`` does the same with more options and an exit code.
"""

from mimocorb.buffer_control import run_mimoDAQ

daq = run_mimoDAQ()
daq.setup()
daq.run()
