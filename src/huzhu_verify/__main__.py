"""``python -m huzhu_verify`` runs the ``huzhu-verify`` command."""

import sys

from huzhu_verify.cli import main

sys.exit(main())
