"""``python -m metanmt.cli``: the ``metanmt`` command (what ``train --processes N`` launches)."""

import sys

from metanmt.cli import main

sys.exit(main())
