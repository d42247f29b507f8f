"""The SFTP rail against the sandbox insurer's real SFTP server (asyncssh, key auth): 834 files out,
999 and result files back, applied exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

from endorsements import funds
from endorsements.models import (
    Dispatch,
    EndorsementAccount,
    EndorsementRequest,
    GatewayExchange,
    InboundFile,
    InsurerEvent,
    InsurerProfile,
)
from endorsements.sandbox.server import Config, State
from endorsements.sandbox.sftp import SftpOptions, serve_sftp, validate_834
from endorsements.services import dispatch, funding
from endorsements.services.inbox import inbound_file_apply, insurer_inbox_poll
from endorsements.services.intake import endorsement_submit
from endorsements.states import RequestState
from tests.conftest import requires_postgres
from tests.endorsements.conftest import LIVE_TERM, SECRET, World, addition, day, make_world
from tests.endorsements.insurers import send_window, wait_for

pytestmark = [requires_postgres]


@dataclass
class Insurer:
    root: Path
    options: SftpOptions
    state: State
    port: int
    host_key: str
    private_key: str

    def inbound(self) -> list[str]:
        return sorted(p.name for p in (self.root / "inbound").iterdir())

    def outbound(self) -> list[str]:
        return sorted(p.name for p in (self.root / "outbound").iterdir())


@pytest.fixture
def insurer(tmp_path) -> Iterator[Insurer]:
    key = asyncssh.generate_private_key("ssh-ed25519")
    options = SftpOptions(root=tmp_path / "insurer", authorized_key=key.export_public_key().decode(), poll_seconds=0.05)
    state = State()
    server = serve_sftp("127.0.0.1", 0, options, Config(api_key="", secrets=[SECRET]), state)
    yield Insurer(options.root, options, state, server.port, server.host_key, key.export_private_key().decode())
    server.stop()


def sftp_world(insurer: Insurer) -> World:
    world = make_world(term=LIVE_TERM)
    profile = world.profile
    profile.protocol = "sftp"
    profile.sftp_host, profile.sftp_port, profile.sftp_username = "127.0.0.1", insurer.port, "platform"
    profile.sftp_private_key, profile.sftp_host_key = insurer.private_key, insurer.host_key
    profile.x12_sender_id, profile.x12_receiver_id = "ESCROWPLAT", "NORTHWIND"
    profile.full_clean()
    profile.save()
    funding.ea_topup(employer=world.employer, amount="1000.00", currency="USD", idempotency_key="t1", actor="t")
    return world


def submit(world: World, data: dict[str, str]) -> EndorsementRequest:
    return endorsement_submit(employer=world.employer, data=data, actor="t")


def poll_until(world: World, files: int) -> None:
    def enough() -> bool:
        insurer_inbox_poll(insurer_id=world.insurer.pk)
        return InboundFile.objects.filter(insurer=world.insurer).count() >= files

    wait_for(enough, f"{files} files from the insurer")


def test_a_mixed_window_round_trips_as_834_and_each_answer_applies_once(db, insurer):
    world = sftp_world(insurer)
    for member_id in ("E-1", "E-2", "REJ-3"):
        submit(world, addition(member_id, effective=day(5), plan="DAY"))

    first = send_window()

    assert first.status == Dispatch.Status.ACKNOWLEDGED
    assert insurer.inbound() == [first.file_name]
    written = (insurer.root / "inbound" / first.file_name).read_text()
    assert validate_834(written)[0]  # pyx12 accepts the file we wrote
    assert f"BGN*00*{first.idempotency_key}*" in written
    poll_until(world, 2)
    states = {r.member.member_id: r.state for r in EndorsementRequest.objects.select_related("member")}
    assert states == {"E-1": RequestState.ACTIVE, "E-2": RequestState.ACTIVE, "REJ-3": RequestState.REJECTED}
    [rejected] = EndorsementRequest.objects.filter(state=RequestState.REJECTED)
    assert rejected.rejection_reason.startswith("E01: ")
    assert Dispatch.objects.get(pk=first.pk).ack_status == "A"  # the 999 pyx12 wrote for our file

    # Polling again applies nothing twice, nor does the same file handed over again by name.
    events = InsurerEvent.objects.count()
    assert insurer_inbox_poll(insurer_id=world.insurer.pk) == []
    result = InboundFile.objects.get(kind=InboundFile.Kind.RESULT)
    again = inbound_file_apply(insurer=world.insurer, name=result.name, content=result.content.encode())
    assert again.pk == result.pk
    assert InsurerEvent.objects.count() == events

    # The next window: a deletion and a plan change; a new, never repeated control number.
    submit(world, {"policy_number": "GP-1001", "kind": "deletion", "member_id": "E-1", "effective_date": day(30)})
    submit(
        world,
        {
            "policy_number": "GP-1001",
            "kind": "modification",
            "member_id": "E-2",
            "new_plan": "PLUS",
            "effective_date": day(30),
        },
    )
    second = send_window()
    assert (first.control_number, second.control_number) == (1, 2)
    assert InsurerProfile.objects.get(pk=world.profile.pk).x12_last_control_number == 2
    text = (insurer.root / "inbound" / second.file_name).read_text()
    assert validate_834(text)[0]
    assert "INS*Y*18*024*" in text
    assert "INS*Y*18*001*" in text
    poll_until(world, 4)
    assert Dispatch.objects.get(pk=second.pk).ack_status == "A"
    assert set(EndorsementRequest.objects.values_list("state", flat=True)) == {
        RequestState.ACTIVE,
        RequestState.REJECTED,
    }
    ea = EndorsementAccount.objects.get(employer=world.employer)
    assert funds.balance_summary(ea)["locked"] == 0
    operations = set(GatewayExchange.objects.values_list("direction", "operation"))
    assert operations == {("outbound", "upload_834"), ("inbound", "fetch_999"), ("inbound", "fetch_result")}


def test_a_connection_dropped_mid_upload_leaves_no_visible_file_and_the_retry_delivers_it(db, insurer):
    insurer.options.drop_first_upload_after = 300
    world = sftp_world(insurer)
    for member_id in ("E-1", "E-2"):
        submit(world, addition(member_id, effective=day(5), plan="DAY"))
    [dispatch_id] = dispatch.scheduler_tick(force=True)

    delay = dispatch.dispatch_send(dispatch_id=dispatch_id)

    assert delay is not None  # transient: retried later
    assert insurer.options.dropped == 1
    # Only the hidden temporary file: the insurer saw nothing and took nothing.
    assert all(name.startswith(".") for name in insurer.inbound())
    assert insurer.state.stats["submissions"] == 0
    assert dispatch.dispatch_send(dispatch_id=dispatch_id) is None
    sent = Dispatch.objects.get(pk=dispatch_id)
    assert sent.status == Dispatch.Status.ACKNOWLEDGED
    assert insurer.inbound() == [sent.file_name]
    delivered = (insurer.root / "inbound" / sent.file_name).read_text()
    assert delivered == GatewayExchange.objects.filter(error="").get().request_body  # whole, byte for byte
    errors = list(GatewayExchange.objects.exclude(error="").values_list("error", flat=True))
    assert len(errors) == 1
    poll_until(world, 2)
    assert insurer.state.stats["submissions"] == 1


def test_the_same_file_is_never_taken_twice(db, insurer):
    world = sftp_world(insurer)
    submit(world, addition("E-1", effective=day(5), plan="DAY"))
    sent = send_window()
    poll_until(world, 2)

    # Our side: a delivery re-run after a lost reply finds the file in place and uploads nothing.
    Dispatch.objects.filter(pk=sent.pk).update(status=Dispatch.Status.PENDING)
    EndorsementRequest.objects.filter(dispatch=sent).update(state=RequestState.FUND_LOCKED)
    assert dispatch.dispatch_send(dispatch_id=sent.pk) is None
    last = GatewayExchange.objects.filter(operation="upload_834").order_by("pk").last()
    assert last is not None
    assert last.response_body == "already delivered"
    # The insurer's side: the same BGN reference under another name is a duplicate, answered by nothing.
    original = insurer.root / "inbound" / sent.file_name
    (insurer.root / "inbound" / "copy.x12").write_text(original.read_text())
    wait_for(lambda: insurer.state.stats["replays"] == 1, "the insurer to see the copy")
    assert len(insurer.outbound()) == 2


def test_an_unreadable_999_goes_to_the_dead_letter_with_the_file_kept(db, insurer):
    world = sftp_world(insurer)
    (insurer.root / "outbound" / "garbage.999").write_text("ISA*this is not an acknowledgement~")
    (insurer.root / "outbound" / "bad.result.csv").write_text("who,what\n1,2\n")

    insurer_inbox_poll(insurer_id=world.insurer.pk)
    insurer_inbox_poll(insurer_id=world.insurer.pk)

    files = {f.name: f for f in InboundFile.objects.all()}
    assert set(files) == {"garbage.999", "bad.result.csv"}
    assert {f.status for f in files.values()} == {InboundFile.Status.DEAD_LETTER}
    assert files["garbage.999"].content == "ISA*this is not an acknowledgement~"
    assert "999" in files["garbage.999"].error
    assert (insurer.root / "outbound" / "garbage.999").exists()  # left in place for the insurer's support


def test_a_rejecting_999_rejects_the_file_s_requests_and_frees_their_funds(db, insurer):
    world = sftp_world(insurer)
    request = submit(world, addition("E-1", effective=day(5), plan="DAY"))
    ea = EndorsementAccount.objects.get(employer=world.employer)
    sent = send_window()
    rejection = (
        "ISA*00*          *00*          *ZZ*NORTHWIND      *ZZ*ESCROWPLAT     *261203*1200*^*00501*000000001*0*P*>~"
        f"GS*FA*NORTHWIND*ESCROWPLAT*20261203*1200*1*X*005010X231A1~ST*999*0001*005010X231A1~"
        f"AK1*BE*{sent.control_number}*005010X220A1~AK2*834*0001*005010X220A1~IK3*INS*8**8~IK5*R*5~"
        "AK9*R*1*1*0~SE*7*0001~GE*1*1~IEA*1*000000001~"
    )
    # Named to sort before the sandbox's own answers, which then find the request already rejected.
    (insurer.root / "outbound" / "000-reject.999").write_text(rejection)

    insurer_inbox_poll(insurer_id=world.insurer.pk)

    request = EndorsementRequest.objects.get(pk=request.pk)
    assert request.state == RequestState.REJECTED
    assert "999 rejected" in request.rejection_reason
    assert Dispatch.objects.get(pk=sent.pk).ack_status == "R"
    assert funds.balance_summary(ea)["locked"] == 0


def test_a_partly_accepting_999_rejects_only_the_refused_policy_s_requests(db, insurer):
    from decimal import Decimal

    from endorsements.models import GroupPolicy, RateCard

    world = sftp_world(insurer)
    other = GroupPolicy.objects.create(
        employer=world.employer,
        insurer=world.insurer,
        policy_number="GP-2002",
        term_start=LIVE_TERM[0],
        term_end=LIVE_TERM[1],
        currency="USD",
    )
    RateCard.objects.create(policy=other, plan="DAY", relationship="employee", annual_premium=Decimal("365.00"))
    kept = submit(world, addition("E-1", effective=day(5), plan="DAY"))
    refused = submit(world, addition("E-2", effective=day(5), plan="DAY", policy_number="GP-2002"))
    sent = send_window()
    assert (insurer.root / "inbound" / sent.file_name).read_text().count("ST*834*") == 2
    partial = (
        "ISA*00*          *00*          *ZZ*NORTHWIND      *ZZ*ESCROWPLAT     *261203*1200*^*00501*000000001*0*P*>~"
        "GS*FA*NORTHWIND*ESCROWPLAT*20261203*1200*1*X*005010X231A1~ST*999*0001*005010X231A1~"
        f"AK1*BE*{sent.control_number}*005010X220A1~AK2*834*0001*005010X220A1~IK5*A~"
        "AK2*834*0002*005010X220A1~IK3*INS*9**8~IK5*R*5~AK9*P*2*2*1~SE*9*0001~GE*1*1~IEA*1*000000001~"
    )
    (insurer.root / "outbound" / "000-partial.999").write_text(partial)

    insurer_inbox_poll(insurer_id=world.insurer.pk)

    assert Dispatch.objects.get(pk=sent.pk).ack_status == "P"
    assert EndorsementRequest.objects.get(pk=refused.pk).state == RequestState.REJECTED
    assert EndorsementRequest.objects.get(pk=kept.pk).state != RequestState.REJECTED


def test_a_server_whose_host_key_is_not_the_pinned_one_gets_nothing(db, insurer):
    world = sftp_world(insurer)
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    InsurerProfile.objects.filter(pk=world.profile.pk).update(sftp_host_key=impostor)
    request = submit(world, addition("E-1", effective=day(5), plan="DAY"))

    sent = send_window()

    assert sent.status == Dispatch.Status.DEAD_LETTER  # configuration, not worth retrying
    assert "HostKeyNotVerifiable" in EndorsementRequest.objects.get(pk=request.pk).last_error
    assert insurer.inbound() == []


def test_a_monthly_statement_dropped_on_sftp_is_reconciled_on_the_next_poll_and_only_once(db, insurer):
    from ledger.models import ReconciliationRun

    world = sftp_world(insurer)
    statement = (
        "reference,member_id,action,effective_date,amount,currency,status\n"
        ",E-404,add,2026-03-01,50.00,USD,active\n"  # the insurer bills someone we never sent
    )
    (insurer.root / "outbound" / "statement_2026-03-01_2026-03-31.csv").write_text(statement)
    (insurer.root / "outbound" / "statement_2026-02-01_2026-02-30.csv").write_text(statement)  # no 30 February

    insurer_inbox_poll(insurer_id=world.insurer.pk)
    insurer_inbox_poll(insurer_id=world.insurer.pk)  # the scheduled poll again: nothing new

    (run,) = ReconciliationRun.objects.filter(statement_name="statement_2026-03-01_2026-03-31.csv")
    assert (str(run.period_start), str(run.period_end)) == ("2026-03-01", "2026-03-31")
    assert run.break_count == 1
    assert run.lines.get().outcome_list == ["missing_internal"]
    files = {f.name: f for f in InboundFile.objects.filter(insurer=world.insurer)}
    assert files["statement_2026-03-01_2026-03-31.csv"].status == InboundFile.Status.APPLIED
    bad = files["statement_2026-02-01_2026-02-30.csv"]
    assert bad.status == InboundFile.Status.DEAD_LETTER
    assert "Statement refused" in bad.error
