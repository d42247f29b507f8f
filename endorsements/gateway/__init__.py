"""Insurer gateways: one interface, one adapter per protocol (REST, SOAP, SFTP with X12 834)."""

from __future__ import annotations

from endorsements.gateway.base import GatewayItem, GatewayResult, InsurerGateway
from endorsements.gateway.config import profile_problems
from endorsements.models import InsurerProfile


class GatewayConfigError(Exception):
    """The profile cannot be used to send anything until an operator fixes it."""


def gateway_for(profile: InsurerProfile) -> InsurerGateway:
    """The adapter that speaks this insurer's protocol; refuses a profile that is not complete."""
    problems = profile_problems(profile)
    if problems:
        raise GatewayConfigError("; ".join(problems.values()))
    if profile.protocol == InsurerProfile.Protocol.REST:
        from endorsements.gateway.rest import RestGateway

        return RestGateway(profile)
    if profile.protocol == InsurerProfile.Protocol.SOAP:
        from endorsements.gateway.soap import SoapGateway

        return SoapGateway(profile)
    if profile.protocol == InsurerProfile.Protocol.SFTP:
        from endorsements.gateway.sftp import SftpGateway

        return SftpGateway(profile)
    raise GatewayConfigError(f"No insurer gateway speaks {profile.protocol!r}.")


__all__ = ["GatewayConfigError", "GatewayItem", "GatewayResult", "InsurerGateway", "gateway_for"]
