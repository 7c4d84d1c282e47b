"""Root test configuration: everything runs offscreen and on loopback."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never touch the real user's keyring or data dir from a test.
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
