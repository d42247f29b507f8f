"""Every write of the audit app. Other apps call `event_record` inside their own transaction."""

from audit.services.events import event_record

__all__ = ["event_record"]
