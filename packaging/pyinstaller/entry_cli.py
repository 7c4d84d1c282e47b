"""Entry point of the bundle's console `sgsend` executable (see sgsend.spec)."""

import os
import sys

# The bootloader points LD_LIBRARY_PATH at the bundle for this process only (see entry_gui.py).
if "LD_LIBRARY_PATH_ORIG" in os.environ:
    os.environ["LD_LIBRARY_PATH"] = os.environ.pop("LD_LIBRARY_PATH_ORIG")
else:
    os.environ.pop("LD_LIBRARY_PATH", None)

from sgsend_desktop.cli import main

sys.exit(main())
