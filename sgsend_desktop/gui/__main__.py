import sys

from sgsend_desktop.gui.app import main

sys.exit(main())
