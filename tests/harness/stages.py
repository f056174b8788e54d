"""One kill at each precise failpoint (after the claim, after ``sending``, after the blog
answered and before the commit), then a normal daemon takes over."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from tests.harness.daemons import DaemonProcess, LogFile
from tests.harness.platform import Platform
from tests.harness.project import SETTLED, Project, drop_posts, history, state_of
from tests.invariants import project_violations

STAGES = ("after_claim", "after_sending", "after_publish")


# -- one kill at each precise stage ---------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StageOutcome:
    stage: str
    delivery_id: str
    state_when_killed: str
    final_state: str
    creations: int
    path: tuple[str, ...]  # the states the delivery went through
    violations: tuple[str, ...]  # broken queue invariants once settled (tests/invariants.py)

    def describe(self) -> str:
        killed = self.state_when_killed
        after = self.path[self.path.index(killed) + 1 :] if killed in self.path else self.path
        return (
            f"{self.stage:<14} killed while {killed:<8} -> {' -> '.join(after)}; "
            f"created on the blog {self.creations}x"
        )


def kill_at_stage(
    project: Project, blog: Platform, stage: str, *, log: LogFile, timeout: float = 60
) -> StageOutcome:
    """One post; the daemon frozen at ``stage`` is killed, then a normal one takes over."""
    [title] = drop_posts(project, 1, seed=0, first=STAGES.index(stage) + 90001)
    frozen = DaemonProcess(project, log, failpoints=stage)
    reached = frozen.wait_for("failpoint reached", timeout)
    frozen.kill()
    if reached is None:
        raise RuntimeError(f"the daemon never reached the failpoint {stage}; see {log.path}")
    delivery_id = str(reached["delivery_id"])
    when_killed = state_of(project, delivery_id)
    after = DaemonProcess(project, log)
    after.wait_for("relais started", timeout)
    deadline = time.monotonic() + timeout
    try:
        while state_of(project, delivery_id) not in SETTLED and time.monotonic() < deadline:
            time.sleep(0.2)  # polling the queue a real process is working on
    finally:
        after.stop()
    made = sum(1 for item in blog.created() if item["title"] == title)
    return StageOutcome(
        stage=stage,
        delivery_id=delivery_id,
        state_when_killed=when_killed,
        final_state=state_of(project, delivery_id),
        creations=made,
        path=tuple(to for _from, to, _why in history(project, delivery_id)),
        violations=tuple(project_violations(project.config, datetime.now(UTC))),
    )
