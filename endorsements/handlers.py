"""What the endorsements app does when other apps announce something (connected in apps.ready)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from endorsements.services.funding import TOPUP_SUBJECT, ea_topup_from_rail
from ledger import signals as ledger_signals


@receiver(ledger_signals.rail_payment_succeeded, dispatch_uid="endorsements_rail_payment_succeeded")
def _rail_payment_succeeded(sender: Any, payment: Any, **kw: Any) -> None:
    if payment.subject_type == TOPUP_SUBJECT:
        ea_topup_from_rail(payment=payment)
