"""Entry point of the bundle's windowed `sgsend-desktop` executable (see sgsend.spec)."""

import os
import sys

# The bootloader points LD_LIBRARY_PATH at the bundle for this process; programs the app starts (the
# browser, the file manager through xdg-open) must get the user's own libraries, not the bundle's.
if "LD_LIBRARY_PATH_ORIG" in os.environ:
    os.environ["LD_LIBRARY_PATH"] = os.environ.pop("LD_LIBRARY_PATH_ORIG")
else:
    os.environ.pop("LD_LIBRARY_PATH", None)

from sgsend_desktop.gui.app import main

sys.exit(main())
