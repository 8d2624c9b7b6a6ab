"""``python -m gridding``: see :mod:`gridding.cli`."""

import sys

from gridding.cli import main

sys.exit(main())
