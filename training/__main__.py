"""``python -m fakevlm_training`` = ``fakevlm-train``."""

import sys

from .cli import main

sys.exit(main())
