"""Run every benchmark in bench/ (`make bench`); each script prints its own figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOT_BENCHMARKS = {"run.py", "__init__.py", "echo_bot.py"}  # echo_bot.py: the baseline's server


def main() -> int:
    failed = 0
    for script in sorted(HERE.glob("*.py")):
        if script.name in NOT_BENCHMARKS:
            continue
        print(f"\n== {script.name} ==", flush=True)
        failed += subprocess.call([sys.executable, str(script)]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
