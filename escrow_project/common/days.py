"""The UTC day a daily job or command works on."""

from __future__ import annotations

import datetime


def utc_day_or_yesterday(text: str | None) -> datetime.date:
    """`YYYY-MM-DD`, or yesterday in UTC when not given (the last complete day); ValueError otherwise."""
    if text:
        return datetime.date.fromisoformat(text)
    return datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=1)
