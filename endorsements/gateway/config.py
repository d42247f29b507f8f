"""Is an insurer's protocol configured well enough to send? Checked when an operator saves it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from endorsements.models import InsurerProfile


def profile_problems(profile: InsurerProfile) -> dict[str, str]:
    """Field -> what is wrong; empty when the profile's protocol has everything it needs.

    Refusing here (admin form, onboarding API) is what keeps a request from being locked against a
    delivery that could never be attempted.
    """
    problems: dict[str, str] = {}
    protocol = profile.protocol
    if protocol in ("rest", "soap") and not profile.base_url:
        what = "the WSDL address" if protocol == "soap" else "the API base URL"
        problems["base_url"] = f"A {protocol.upper()} insurer needs {what}."
    if protocol == "soap" and profile.base_url and "wsdl" not in profile.base_url.lower():
        problems["base_url"] = "A SOAP insurer's address must be its WSDL (ending in ?wsdl or .wsdl)."
    if protocol == "sftp":
        required = {
            "sftp_host": "the SFTP host",
            "sftp_username": "the SFTP user name",
            "sftp_private_key": "our private key (key authentication only)",
            "sftp_host_key": "the server's host public key",
            "x12_sender_id": "our X12 sender id (ISA06)",
            "x12_receiver_id": "the insurer's X12 receiver id (ISA08)",
        }
        for name, what in required.items():
            if not str(getattr(profile, name) or "").strip():
                problems[name] = f"An SFTP insurer needs {what}."
        if profile.sftp_private_key and "PRIVATE KEY" not in profile.sftp_private_key:
            problems["sftp_private_key"] = "The private key must be in PEM or OpenSSH format."
        for name in ("x12_sender_id", "x12_receiver_id"):
            value = str(getattr(profile, name) or "")
            if len(value) > 15 or any(c in value for c in "*~:^"):
                problems[name] = "An X12 id is at most 15 characters, without * ~ : or ^."
    return problems
