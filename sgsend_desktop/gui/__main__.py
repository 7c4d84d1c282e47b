import sys

from sgsend_desktop.gui.launcher import main

sys.exit(main())
