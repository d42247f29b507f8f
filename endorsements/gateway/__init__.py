"""Insurer gateways: one interface, one adapter per protocol (REST now; SOAP and SFTP later)."""

from __future__ import annotations

from endorsements.gateway.base import GatewayItem, GatewayResult, InsurerGateway
from endorsements.models import InsurerProfile


def gateway_for(profile: InsurerProfile) -> InsurerGateway:
    """The adapter that speaks this insurer's protocol."""
    from endorsements.gateway.rest import RestGateway

    if profile.protocol == InsurerProfile.Protocol.REST:
        return RestGateway(profile)
    raise NotImplementedError(f"The {profile.protocol} insurer gateway is not built yet (a later issue).")


__all__ = ["GatewayItem", "GatewayResult", "InsurerGateway", "gateway_for"]
