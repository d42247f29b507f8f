from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.core.validators import EmailValidator
from django.db import models

from escrow_project.common.crypto.blind_index import blind_index
from escrow_project.common.crypto.fields import EncryptedTextField

EMAIL_INDEX_PURPOSE = "identity.user.email"


class User(AbstractUser):
    """A person who signs in: operator, party, agent or partner staff. Custom from day one.

    Names and e-mail are personal data and stored encrypted (docs/decisions/0401); the username is
    the login and stays plain. `email_index` (a blind index) finds a user by exact e-mail.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    first_name = EncryptedTextField("first name", blank=True)
    last_name = EncryptedTextField("last name", blank=True)
    email = EncryptedTextField("email address", blank=True, validators=[EmailValidator()])
    email_index = models.CharField(max_length=64, blank=True, default="", db_index=True, editable=False)

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email_index = blind_index(self.email, purpose=EMAIL_INDEX_PURPOSE) if self.email else ""
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "email" in update_fields:
            kwargs["update_fields"] = {*update_fields, "email_index"}
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        # The username, not the name: __str__ ends up in logs, admin lists and audit lines.
        return self.username


class OrganizationKind(models.TextChoices):
    PLATFORM_OPERATOR = "platform_operator", "Platform operator"
    BROKERAGE = "brokerage", "Real-estate brokerage"
    TITLE_COMPANY = "title_company", "Title company"
    INSPECTION_FIRM = "inspection_firm", "Inspection firm"
    APPRAISER = "appraiser", "Appraiser"
    LENDER = "lender", "Lender"
    EMPLOYER = "employer", "Employer"
    INSURER = "insurer", "Insurer"
    # Buyers and sellers acting for themselves still need an organization to scope their data by.
    INDIVIDUAL = "individual", "Individual or household"


class Organization(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=OrganizationKind.choices)
    slug = models.SlugField(max_length=80, unique=True)
    is_active = models.BooleanField(default=True)
    # A household (or any client organization) belongs to the escrow company that serves it: only
    # that company's officers may name it on a transaction. Businesses (brokerages, lenders) are a
    # shared directory and have none. docs/decisions/0502-who-may-do-what.md
    client_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="clients", help_text="owning tenant"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["kind"])]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OPERATOR = "operator", "Platform operator"
    # Administers one organization: its payout bank details (with a second person's confirmation).
    ORG_ADMIN = "org_admin", "Organization administrator"
    ESCROW_OFFICER = "escrow_officer", "Escrow officer"
    BUYER = "buyer", "Buyer"
    SELLER = "seller", "Seller"
    AGENT = "agent", "Real-estate agent"
    VERIFIER = "verifier", "Verification agent"
    EMPLOYER_HR = "employer_hr", "Employer HR"
    INSURER = "insurer", "Insurer staff"
    AUDITOR = "auditor", "Auditor"


class Membership(models.Model):
    """A user's role in an organization; a user may hold several."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization", "role"], name="membership_unique_role"),
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.get_role_display()} at {self.organization}"


class ApiKey(models.Model):
    """A partner organization's machine credential: sent as `Authorization: Bearer esk_<prefix>_<secret>`.

    Only a SHA-256 digest of the whole key is stored; the key is shown once, at issue. A slow hash
    (as for passwords) buys nothing here: the secret is 256 random bits, not something a person chose.
    The key signs in as its own service user, whose memberships are the key's scopes (roles in the
    organization), so every existing permission and tenant check applies unchanged. A rotation issues
    a successor for the same service user and lets the old key live on for a grace period.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="api_keys")
    service_user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_digest = models.CharField(max_length=64)
    scopes = models.JSONField(default=list, help_text="roles the key acts with in its organization")
    read_only = models.BooleanField(default=False)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    rotated_from = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="rotated_to"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.name} (esk_{self.prefix}_…)"
