"""`python -m weir ARGS` runs the installed `weir` binary with ARGS."""

import os
import sys

from .binary import find_binary


def main() -> None:
    """Replaces this process with the binary (on Windows, runs it and exits with its code)."""
    weir = find_binary()
    if sys.platform == "win32":
        import subprocess

        sys.exit(subprocess.call([weir, *sys.argv[1:]]))
    os.execv(weir, [weir, *sys.argv[1:]])


if __name__ == "__main__":
    main()
