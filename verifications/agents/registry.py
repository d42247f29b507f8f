"""Find the provider for a verification type."""

from __future__ import annotations

from escrow_project.common.errors import UnprocessableError
from verifications.agents.appraisal import AppraisalProvider
from verifications.agents.base import VerificationProvider
from verifications.agents.inspection import InspectionProvider
from verifications.agents.lending import LendingProvider
from verifications.agents.title import TitleProvider

PROVIDERS: dict[str, VerificationProvider] = {
    provider.verification_type: provider
    for provider in (TitleProvider(), InspectionProvider(), AppraisalProvider(), LendingProvider())
}


def provider_for(verification_type: str) -> VerificationProvider:
    try:
        return PROVIDERS[verification_type]
    except KeyError:
        raise UnprocessableError(f"Unknown verification type {verification_type!r}.", code="unknown_type") from None
