from django.db import models

from escrow_project.common.crypto.fields import EncryptedTextField


class IdempotencyRecord(models.Model):
    """The first response to a POST carrying an Idempotency-Key, replayed for repeats of it."""

    owner = models.CharField(max_length=64, help_text="Who sent it: user:<id>, or anon.")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    response_status = models.PositiveSmallIntegerField(default=0)
    # Text, not JSONField: jsonb reorders keys, and a replay must be byte-identical to the original.
    # Encrypted: a response body may carry personal data (the party a POST just created).
    response_body = EncryptedTextField(default="")
    response_headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="idempotency_owner_key_unique")]

    def __str__(self) -> str:
        return f"{self.owner} {self.key}"
