"""SFTP insurer adapter: one X12 834 file per window (dispatch), uploaded atomically; the insurer's
999 and result files are fetched from its outbox (applied by `services/inbox.py`).

The file's name and control number are fixed at the first attempt, so a retry after a dropped
connection uploads the identical file; an upload goes to a hidden temporary name and is renamed
into place only when complete, so the insurer never sees half a file. If the final name is
already there (the rename happened but its reply was lost), the delivery is done.
"""

from __future__ import annotations

import asyncio
import datetime
import time
from collections import defaultdict
from typing import Any, cast

import asyncssh
import structlog
from django.db import transaction

from endorsements import metrics, x12
from endorsements.gateway.base import (
    GatewayItem,
    GatewayResult,
    InsurerGateway,
    exchange_record,
    insurer_address,
    refused_host_error,
)
from endorsements.models import Dispatch, EndorsementRequest, GroupPolicy, InsurerProfile, Member
from endorsements.states import RequestState
from escrow_project.common import egress

logger = structlog.get_logger(__name__)

CONNECT_TIMEOUT = 10
# Not worth retrying: the key or the pinned host key is wrong; an operator must fix the profile.
CONFIG_ERRORS = (asyncssh.PermissionDenied, asyncssh.HostKeyNotVerifiable, asyncssh.KeyImportError)


@transaction.atomic
def control_number_assign(*, dispatch_id: int) -> Dispatch:
    """Give the dispatch its interchange control number and file name, once (persisted)."""
    dispatch = Dispatch.objects.select_for_update().get(pk=dispatch_id)
    if dispatch.control_number is None:
        profile = InsurerProfile.objects.select_for_update().get(insurer_id=dispatch.insurer_id)
        profile.x12_last_control_number += 1
        profile.save(update_fields=["x12_last_control_number"])
        dispatch.control_number = profile.x12_last_control_number
        dispatch.file_name = f"834_{profile.x12_sender_id}_{dispatch.control_number:09d}.x12"
        dispatch.save(update_fields=["control_number", "file_name"])
    return dispatch


def _enrollment(
    member: Member, code: str, *, plan: str, effective: datetime.date, tracking_id: str = ""
) -> x12.Enrollment:
    # A dependant is filed under its employee (REF*0F), with its own id in REF*17.
    subscriber = member.employee.member_id if member.employee is not None else member.member_id
    return x12.Enrollment(
        maintenance=code,
        member_id=member.member_id,
        subscriber_id=subscriber,
        relationship=member.relationship,
        person_name=member.person_name,
        date_of_birth=cast(datetime.date, member.date_of_birth),  # an encrypted date field: a date once read
        plan=plan,
        effective_date=effective,
        tracking_id=tracking_id,
    )


def dispatch_834(dispatch: Dispatch, profile: InsurerProfile) -> str:
    """The 834 for a dispatch's requests, one transaction set per policy."""
    requests = (
        EndorsementRequest.objects.filter(dispatch=dispatch, state=RequestState.FUND_LOCKED)
        .select_related("member", "member__employee", "policy", "employer")
        .order_by("policy_id", "direction", "effective_date", "pk")
    )
    by_policy: dict[int, list[EndorsementRequest]] = defaultdict(list)
    for request in requests:
        by_policy[request.policy_id].append(request)
    transactions = []
    for group in by_policy.values():
        policy = group[0].policy
        enrollments = []
        for r in group:
            enrollments.append(
                _enrollment(
                    r.member,
                    x12.MAINTENANCE[r.kind],
                    plan=r.new_plan or r.plan or r.member.plan,
                    effective=r.effective_date,
                    tracking_id=r.tracking_id,
                )
            )
        transactions.append(
            x12.Transaction834(
                policy_number=policy.policy_number,
                sponsor_name=group[0].employer.name,
                sponsor_id=group[0].employer.slug[:80],
                insurer_name=profile.insurer.name,
                insurer_id=profile.x12_receiver_id,
                enrollments=enrollments,
            )
        )
    assert dispatch.control_number is not None
    envelope = x12.Envelope(
        sender_id=profile.x12_sender_id,
        receiver_id=profile.x12_receiver_id,
        control_number=dispatch.control_number,
        created_at=dispatch.created_at,
    )
    return x12.write_834(envelope=envelope, reference=dispatch.idempotency_key, transactions=transactions)


class SftpGateway(InsurerGateway):
    protocol = "sftp"

    def __init__(self, profile: InsurerProfile) -> None:
        self.profile = profile

    def _connect(self) -> Any:
        """Connect to the checked address of the host (`insurer_address`): the host key is pinned on
        the profile, not looked up by name, so the address serves as well as the name."""
        p = self.profile
        return asyncssh.connect(
            insurer_address(p.sftp_host, p.sftp_port),
            p.sftp_port,
            username=p.sftp_username,
            client_keys=[asyncssh.import_private_key(p.sftp_private_key)],
            known_hosts=([asyncssh.import_public_key(p.sftp_host_key)], [], []),
            connect_timeout=CONNECT_TIMEOUT,
            password_auth=False,
            kbdint_auth=False,
            agent_path=None,
        )

    def url(self, directory: str, name: str = "") -> str:
        return f"sftp://{self.profile.sftp_host}:{self.profile.sftp_port}/{directory.strip('/')}/{name}"

    async def _upload(self, name: str, data: bytes) -> str:
        inbound = self.profile.sftp_inbound_dir.rstrip("/")
        final, temporary = f"{inbound}/{name}", f"{inbound}/.{name}.part"
        async with self._connect() as conn, conn.start_sftp_client() as sftp:
            if await sftp.exists(final):
                return "already delivered"
            async with sftp.open(temporary, "wb") as handle:
                await handle.write(data)
            await sftp.posix_rename(temporary, final)
        return "uploaded"

    def submit(
        self, *, idempotency_key: str, items: list[GatewayItem], callback_url: str, dispatch_id: int | None
    ) -> GatewayResult:
        if dispatch_id is None:
            raise ValueError("An SFTP delivery is always a dispatch's file.")
        dispatch = control_number_assign(dispatch_id=dispatch_id)
        text = dispatch_834(dispatch, self.profile)
        started = time.perf_counter()
        outcome, error, transient = "", "", False
        try:
            outcome = asyncio.run(self._upload(dispatch.file_name, text.encode()))
        except egress.EgressRefused as exc:
            error = refused_host_error(exc)
        except CONFIG_ERRORS as exc:
            error = f"{type(exc).__name__}: {exc}"
        except (TimeoutError, OSError, asyncssh.Error, egress.EgressUnresolvable) as exc:
            error, transient = f"{type(exc).__name__}: {exc}", True
        exchange_record(
            insurer_id=self.profile.insurer_id,
            dispatch_id=dispatch_id,
            operation="upload_834",
            started=started,
            idempotency_key=idempotency_key,
            url=self.url(self.profile.sftp_inbound_dir, dispatch.file_name),
            request_body=text,
            response_status=None if error else 200,
            response_body=outcome,
            error=error,
        )
        if error:
            metrics.GATEWAY_CALLS.labels(protocol=self.protocol, result="transient" if transient else "refused").inc()
            return GatewayResult(accepted=False, transient=transient, error=error)
        metrics.GATEWAY_CALLS.labels(protocol=self.protocol, result="accepted").inc()
        return GatewayResult(accepted=True, reference=dispatch.file_name)

    async def _fetch(self, skip: set[str]) -> list[tuple[str, bytes]]:
        outbound = self.profile.sftp_outbound_dir.rstrip("/")
        found: list[tuple[str, bytes]] = []
        async with self._connect() as conn, conn.start_sftp_client() as sftp:
            for name in sorted(await sftp.listdir(outbound)):
                if name in (".", "..") or x12.in_progress(name) or name in skip:
                    continue
                async with sftp.open(f"{outbound}/{name}", "rb") as handle:
                    found.append((name, await handle.read()))
        return found

    def fetch_outbox(self, *, skip: set[str]) -> list[tuple[str, bytes]]:
        """The insurer's finished files we have not recorded yet (name, content)."""
        return asyncio.run(self._fetch(skip))


def policy_audit_834(*, policy_id: int, control_number: int, reference: str, created_at: datetime.datetime) -> str:
    """The full-file audit (every line 030) of a policy's covered members, for reconciliation."""
    policy = GroupPolicy.objects.select_related("employer", "insurer").get(pk=policy_id)
    profile = InsurerProfile.objects.get(insurer_id=policy.insurer_id)
    members = (
        Member.objects.filter(policy=policy, status=Member.Status.COVERED)
        .select_related("employee")
        .prefetch_related("coverages")
        .order_by("pk")
    )
    enrollments = []
    for member in members:
        open_periods = [c for c in member.coverages.all() if c.end_date is None and c.voided_at is None]
        start = min((c.start_date for c in open_periods), default=policy.term_start)
        enrollments.append(_enrollment(member, "030", plan=member.plan, effective=start))
    envelope = x12.Envelope(
        sender_id=profile.x12_sender_id,
        receiver_id=profile.x12_receiver_id,
        control_number=control_number,
        created_at=created_at,
    )
    transaction_set = x12.Transaction834(
        policy_number=policy.policy_number,
        sponsor_name=policy.employer.name,
        sponsor_id=policy.employer.slug[:80],
        insurer_name=policy.insurer.name,
        insurer_id=profile.x12_receiver_id,
        enrollments=enrollments,
    )
    return x12.write_834(envelope=envelope, reference=reference, transactions=[transaction_set], audit=True)
