"""The mutation score of each core module, and its survivors, from mutmut's last run.

``make mutate`` runs mutmut (configured in pyproject.toml's ``[tool.mutmut]``) then this.
The score counts a mutant as killed when a test failed on it or it timed out; a mutant
that survived, or that no test reaches ("no tests"), counts against it. Modules or mutants
not run yet ("not checked") are listed apart, so a partial run says what it did not do.

    .venv/bin/python -m tests.mutation_report [--survivors]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

KILLED = {"killed", "timeout", "caught by type check"}
NOT_RUN = {"not checked", "skipped"}
# scheduler.delivery.states.x_check_transition__mutmut_3 (a function)
# scheduler.delivery.states.xǁIllegalTransitionǁ__init____mutmut_1 (a method)
NAME = re.compile(r"^\s*(?P<mutant>(?P<module>[\w.]+?)\.x[_ǁ]\S*__mutmut_\d+): (?P<status>.+)$")


def results(mutmut: Path) -> list[tuple[str, str, str]]:
    """(module, mutant, status) for every mutant mutmut knows of."""
    output = subprocess.run(
        [str(mutmut), "results", "--all", "true"], capture_output=True, text=True, check=True
    ).stdout
    found = []
    for line in output.splitlines():
        match = NAME.match(line)
        if match:
            found.append((match["module"], match["mutant"], match["status"].strip()))
    return found


def render(rows: list[tuple[str, str, str]], *, survivors: bool) -> str:
    by_module: defaultdict[str, Counter[str]] = defaultdict(Counter)
    lost: defaultdict[str, list[str]] = defaultdict(list)
    for module, mutant, status in rows:
        by_module[module][status] += 1
        if status not in KILLED | NOT_RUN:
            lost[module].append(f"{mutant} ({status})")
    lines = [f"{'module':<34}{'mutants':>8}{'killed':>8}{'lived':>8}{'not run':>9}{'score':>8}"]
    for module in sorted(by_module):
        counts = by_module[module]
        total = sum(counts.values())
        killed = sum(counts[status] for status in KILLED)
        not_run = sum(counts[status] for status in NOT_RUN)
        ran = total - not_run
        score = f"{100 * killed / ran:.0f} %" if ran else "-"
        lived = ran - killed
        lines.append(f"{module:<34}{total:>8}{killed:>8}{lived:>8}{not_run:>9}{score:>8}")
    if survivors:
        for module in sorted(lost):
            lines.append(f"\nsurvivors in {module} (`mutmut show NAME` prints the change):")
            lines += [f"  {mutant}" for mutant in lost[module]]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--survivors", action="store_true", help="list every survivor")
    arguments = parser.parse_args(argv)
    mutmut = Path(sys.executable).with_name("mutmut")
    print(render(results(mutmut), survivors=arguments.survivors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
