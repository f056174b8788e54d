"""The house rules of one account, as config.yaml states them.

```yaml
accounts:
  facebook:
    kind: ...
    rules:
      daily_cap: 3          # hard: never more than 3 posts on one local day
      daily_target: 1       # soft: a day below it is reported by `relais plan`
      min_gap: 2h           # at least 2 hours between two posts on the account
      hours: 08:00-20:00    # posting hours, local time
      on_cap: roll          # a fixed-time post that breaks a rule: roll to the nearest free
                            # time of its day, or hold it for the editor
```
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from scheduler.durations import Duration

_HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


class OnBrokenRule(StrEnum):
    ROLL = "roll"
    HOLD = "hold"


class PostingHours(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: time
    end: time  # exclusive; 24:00 is written as 23:59 + 1 minute, i.e. time.max

    def contains(self, moment: time) -> bool:
        return self.start <= moment < self.end


class AccountRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    daily_cap: int | None = Field(default=None, ge=1)
    """Hard: never more than this many posts on one local day, checked when placed and again when
    sent."""
    daily_target: int | None = Field(default=None, ge=1)
    """Soft: `relais plan` flags a day with fewer posts."""
    min_gap: Duration = timedelta(0)
    """No two posts on the account closer than this."""
    hours: PostingHours = PostingHours(start=time(0, 0), end=time.max)
    """Posting hours, local time, such as 08:00-20:00."""
    on_cap: OnBrokenRule = OnBrokenRule.ROLL
    """A post whose fixed time would break a rule: `roll` moves it to the nearest free time of
    the same local day (when the day is full it waits for the editor), `hold` keeps it for
    the editor."""

    @field_validator("hours", mode="before")
    @classmethod
    def _parse_hours(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        match = _HOURS.match(value.strip())
        if not match:
            raise ValueError(f"{value!r} is not a range of hours such as 08:00-20:00")
        h1, m1, h2, m2 = (int(part) for part in match.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(f"{value!r} has an impossible time of day")
        end = time.max if h2 == 24 else time(h2, m2)
        if time(h1, m1) >= end:
            raise ValueError(f"{value!r} ends before it starts")
        return {"start": time(h1, m1), "end": end}

    @model_validator(mode="after")
    def _target_within_cap(self) -> AccountRules:
        if self.daily_cap and self.daily_target and self.daily_target > self.daily_cap:
            raise ValueError(
                f"daily_target {self.daily_target} is above daily_cap {self.daily_cap}"
            )
        return self
