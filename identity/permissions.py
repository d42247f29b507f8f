"""DRF permission classes built on the identity selectors; other apps' api/ modules use these."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from identity.selectors import user_has_role, user_is_operator


class IsOperator(BasePermission):
    message = "Only platform operators may do this."

    def has_permission(self, request: Any, view: Any) -> bool:
        return user_is_operator(request.user)


class HasAnyRole(BasePermission):
    """Use as `HasAnyRole.of("auditor", "operator")`."""

    roles: tuple[str, ...] = ()
    message = "Your role does not allow this."

    @classmethod
    def of(cls, *roles: str) -> type[HasAnyRole]:
        return type(f"HasAnyRole_{'_'.join(roles)}", (cls,), {"roles": roles})

    def has_permission(self, request: Any, view: Any) -> bool:
        return user_is_operator(request.user) or user_has_role(request.user, *self.roles)
