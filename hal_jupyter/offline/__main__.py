"""``python -m hal_jupyter.offline``: the same as ``hal-jupyter offline``."""

import sys

from .cli import main

sys.exit(main())
