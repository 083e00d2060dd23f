"""Run every benchmark in bench/ (`make bench`); each prints its own figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHES = ["telegram_webhook.py"]

if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    failed = [b for b in BENCHES if subprocess.run([sys.executable, str(here / b)]).returncode]
    sys.exit(1 if failed else 0)
