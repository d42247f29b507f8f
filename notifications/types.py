"""Who a notification is for, as one small value that callers in other apps build.

`Recipient.user(id)` reaches one user on email, SMS and live; `Recipient.organization(id)` reaches
every member of the organization on those channels and the organization's webhook endpoints on the
webhook channel; `Recipient.address(email=..., phone=...)` reaches someone with no account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RecipientType = Literal["user", "organization", "address"]


@dataclass(frozen=True)
class Recipient:
    type: RecipientType
    user_id: int | None = None
    organization_id: int | None = None
    email: str = ""
    phone: str = ""

    @classmethod
    def user(cls, user_id: int) -> Recipient:
        return cls(type="user", user_id=user_id)

    @classmethod
    def organization(cls, organization_id: int) -> Recipient:
        return cls(type="organization", organization_id=organization_id)

    @classmethod
    def address(cls, *, email: str = "", phone: str = "") -> Recipient:
        return cls(type="address", email=email, phone=phone)

    def required_user_id(self) -> int:
        if self.user_id is None:
            raise ValueError("this recipient has no user id")
        return self.user_id

    def required_organization_id(self) -> int:
        if self.organization_id is None:
            raise ValueError("this recipient has no organization id")
        return self.organization_id

    def __repr__(self) -> str:
        # Addresses are personal data: keep them out of logs and tracebacks.
        if self.type == "address":
            return "Recipient(type='address', email=<redacted>, phone=<redacted>)"
        return f"Recipient(type={self.type!r}, user_id={self.user_id}, organization_id={self.organization_id})"
