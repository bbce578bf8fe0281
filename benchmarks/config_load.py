"""How fast a config is refused (or accepted), and what loading it imports.

Target (issue 11): a config that cannot run fails in under a second, before any work,
and loading a config imports no torch. Each figure is the wall time of a fresh Python
process (interpreter start included), so it is what a user waits for.

    python benchmarks/config_load.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOOD = Path(__file__).resolve().parents[1] / "experiments" / "table1" / "config.toml"


def timed(args: list[str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True)
    return time.perf_counter() - t0, proc.returncode


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bad = Path(tmp) / "bad.toml"
        bad.write_text(GOOD.read_text().replace("lag_s = { arousal = 2.0, valence = 2.0 }",
                                                "lag_s = { arousal = 2.0, valnce = 2.0 }", 1))
        bare, _ = timed([sys.executable, "-c", "pass"])
        load, _ = timed([sys.executable, "-c",
                         "import sys; from contaffect.experiment.config import load_config; "
                         f"load_config({str(GOOD)!r}); assert 'torch' not in sys.modules"])
        refuse, code = timed([sys.executable, "-m", "contaffect.cli", "run", str(bad)])
        helped, _ = timed([sys.executable, "-m", "contaffect.cli", "--help"])
        assert code == 2, code
        torch, _ = timed([sys.executable, "-c", "import torch"])
    print(f"python start (nothing imported):         {bare:6.2f} s")
    print(f"load + validate table1 config:           {load:6.2f} s  (torch not imported)")
    print(f"`contaffect run` refusing a typo (exit 2): {refuse:6.2f} s")
    print(f"`contaffect --help`:                       {helped:6.2f} s")
    print(f"import torch alone, for scale:            {torch:6.2f} s")
    print(f"ratio refuse / torch import:              {refuse / torch:6.2f}")


if __name__ == "__main__":
    main()
