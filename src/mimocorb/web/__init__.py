"""Watch and steer a run from a browser, and browse finished runs (``pip install 'mimocorb[web]'``).

The web server is a process of its own (``WebLink`` starts it for the run controller). It reads buffers
only through observers and the statistics the controller sends (``build_snapshot``), and sends commands
the way the keyboard and the buffer-info window do. Importing this package imports neither the web
framework nor the charting library: only the server process does.
"""

from .access import make_token, parse_address, url_of
from .link import WebLink, web_unavailable_reason
from .snapshot import build_snapshot

__all__ = ["WebLink", "build_snapshot", "make_token", "parse_address", "url_of", "web_unavailable_reason"]
