"""``python -m mimocorb`` runs the ``mimocorb`` command."""

import sys

from mimocorb.cli import main

if __name__ == "__main__":
    sys.exit(main())
