"""``python -m neurona ...``: the same as the ``neurona`` command."""

import sys

from .cli import main

sys.exit(main())
