import sys

from sgsend_desktop.cli import main

sys.exit(main())
