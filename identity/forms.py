"""Sign-in pages' forms."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib.auth.forms import PasswordResetForm

from identity.selectors import user_find_by_email


class BlindIndexPasswordResetForm(PasswordResetForm):
    """Django's reset form, finding the user through the e-mail's blind index: the address itself is
    stored encrypted, so the stock `email__iexact` lookup cannot run."""

    def get_users(self, email: str) -> Iterator[Any]:
        user = user_find_by_email(email=email)
        if user is not None and user.is_active and user.has_usable_password():
            yield user
