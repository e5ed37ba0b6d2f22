"""The console script's entry: Ctrl-C while the command line is still loading."""

from __future__ import annotations

import subprocess
import sys

# A finder that interrupts the import of the command line, as a Ctrl-C in its first tenths of a second would.
_INTERRUPTED_IMPORT = """
import sys

class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == "simulator.cli":
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, Interrupt())
from simulator._entry import main
sys.exit(main(["events", "list"]))
"""


def test_ctrl_c_while_the_command_line_loads_says_interrupted_in_one_line() -> None:
    proc = subprocess.run([sys.executable, "-c", _INTERRUPTED_IMPORT], capture_output=True, text=True,
                          timeout=60, check=False)
    assert (proc.returncode, proc.stderr, proc.stdout) == (130, "chestsim: error: interrupted\n", "")


def test_python_dash_m_and_the_console_script_run_the_same_entry() -> None:
    proc = subprocess.run([sys.executable, "-m", "simulator", "events", "list", "--format", "json"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert '"secret.used"' in proc.stdout

