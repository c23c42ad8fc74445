"""How the project's own tools (tests, benchmarks, the documentation's pictures) start a headless chromium.

The flags keep a browser on a machine without a display and without outside network from trying either:
no sandbox (CI runs as root), no GPU, and none of the background connections (updates, sync, QUIC probes)
that a closed network refuses many at a time.
"""

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
