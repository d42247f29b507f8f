"""Upward news from identity: role changes, which the audit app records."""

from django.dispatch import Signal

# Sent inside the granting transaction with `membership` and `granted_by` (a User or None).
membership_granted = Signal()
# Sent inside the revoking transaction, before the row goes, with `membership` and `revoked_by`.
membership_revoked = Signal()
# Sent inside the issuing transaction with `api_key` and `issued_by`; never carries the key itself.
api_key_issued = Signal()
# Sent inside the revoking transaction with `api_key` and `revoked_by`.
api_key_revoked = Signal()
