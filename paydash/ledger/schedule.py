"""Periodic schedules that know their timezone, say themselves in words and find their next run.

Huey's scheduler hands periodic tasks a naive UTC timestamp (utc=True). A `Schedule`
converts it to the configured timezone before matching, so "Sundays at 02:00" means
02:00 where the business is.
"""
import datetime as dt
import zoneinfo
from dataclasses import dataclass

DAY_NAMES = ["Sundays", "Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays"]


@dataclass(frozen=True)
class Schedule:
    """A cron-like schedule: None means "every"; day_of_week 0 = Sunday."""

    minute: int | None = None
    hour: int | None = None
    day_of_week: int | None = None
    tz: str = "UTC"

    def __call__(self, utc_timestamp: dt.datetime) -> bool:
        local = self.to_local(utc_timestamp)
        return ((self.minute is None or local.minute == self.minute)
                and (self.hour is None or local.hour == self.hour)
                and (self.day_of_week is None or (local.isoweekday() % 7) == self.day_of_week))

    def to_local(self, utc_timestamp: dt.datetime) -> dt.datetime:
        aware = utc_timestamp.replace(tzinfo=dt.UTC)
        return aware.astimezone(zoneinfo.ZoneInfo(self.tz)).replace(tzinfo=None)

    def in_words(self) -> str:
        if self.minute is None and self.hour is None and self.day_of_week is None:
            return "Every minute"
        when = f"{self.hour or 0:02d}:{self.minute or 0:02d}"
        tz = "" if self.tz == "UTC" else f" ({self.tz})"
        if self.day_of_week is not None:
            return f"{DAY_NAMES[self.day_of_week]} at {when}{tz}"
        if self.hour is not None:
            return f"Every day at {when}{tz}"
        return f"Every hour at :{self.minute:02d}"

    def next_run(self, after_utc: dt.datetime) -> dt.datetime:
        """The first matching minute after `after_utc` (naive UTC in, naive UTC out)."""
        t = after_utc.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        for _ in range(8 * 24 * 60 + 120):
            if self(t):
                return t
            t += dt.timedelta(minutes=1)
        raise ValueError("schedule never matches")
