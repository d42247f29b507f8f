"""The employer's HR pages: what an HR manager sees and does, and that nobody else sees any of it."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from endorsements.models import Batch, EndorsementRequest
from endorsements.services import funding
from endorsements.states import RequestState
from endorsements.tasks import batch_process_task
from identity.models import Role
from notifications.models import NotificationPreference
from tests.endorsements.conftest import LIVE_TERM, addition, day, make_world
from tests.endorsements.test_api import CSV_HEADER, csv_file
from tests.factories import member, operator


@pytest.fixture
def hr(live_world, client):
    client.force_login(live_world.hr)
    return client


def _urls(world, batch, payment_id):
    e = world.employer.public_id
    return [
        f"/employer/{e}/",
        f"/employer/{e}/requests/",
        f"/employer/{e}/waiting-for-funds/",
        f"/employer/{e}/files/",
        f"/employer/{e}/files/{batch.public_id}/",
        f"/employer/{e}/files/{batch.public_id}/progress",
        f"/employer/{e}/files/{batch.public_id}/results.csv",
        f"/employer/{e}/top-up/",
        f"/employer/{e}/top-up/{payment_id}/",
        f"/employer/{e}/messages/",
    ]


def _upload(client, world, lines, name="march.csv"):
    return client.post(f"/employer/{world.employer.public_id}/files/", {"file": csv_file(lines, name=name)})


def _a_batch_and_a_payment(world, hr):
    lines = [f"GP-1001,addition,E-1,Ann Lee,1990-01-01,employee,DAY,,{day(5)}"]
    _upload(hr, world, lines)
    batch = Batch.objects.get(employer=world.employer)
    batch_process_task(batch.pk)
    asked = hr.post(
        f"/employer/{world.employer.public_id}/top-up/",
        {"amount": "100.00", "currency": "USD", "idempotency_key": "k1"},
    )
    assert asked.status_code == 302, asked.content
    payment_id = asked.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    return batch, payment_id


def test_every_page_opens_for_the_employer_s_hr_and_is_a_404_for_anyone_else(live_world, hr):
    from django.test import Client

    world = live_world
    batch, payment_id = _a_batch_and_a_payment(world, hr)
    urls = _urls(world, batch, payment_id)
    for url in urls:
        assert hr.get(url).status_code == 200, url

    other = make_world(policy_number="GP-2002", term=LIVE_TERM)
    for stranger in (other.hr, operator(), member(Role.AUDITOR)):
        client = Client()
        client.force_login(stranger)
        for url in urls:
            assert client.get(url).status_code == 404, (stranger, url)
        # The other employer's HR uploads nothing into this employer either.
        posted = client.post(urls[3], {"file": csv_file(["GP-1001,deletion,E-1,,,,,,2026-01-01"])})
        assert posted.status_code == 404
    assert Batch.objects.filter(employer=world.employer).count() == 1

    anonymous = Client().get(urls[0])
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"].startswith("/employer/login/")


def test_the_account_page_shows_balance_parked_and_the_forecast(live_world, hr):
    world = live_world
    funding.ea_topup(employer=world.employer, amount="100.00", currency="USD", idempotency_key="t1", actor="t")
    from endorsements.services.intake import endorsement_submit

    endorsement_submit(employer=world.employer, data=addition("E-1", effective=day(5), plan="DAY"), actor="t")

    page = hr.get(f"/employer/{world.employer.public_id}/").content.decode()

    assert "100.00 USD" in page  # balance and available
    assert 'id="parked">160.00 USD' in page
    assert "1 endorsement cannot go ahead until you top up at least 60.00 USD" in page
    assert "<svg" in page
    assert "<polyline" in page
    assert "Waiting for funds" in page


def test_requests_are_filtered_by_state_and_found_by_member_number(live_world, hr):
    world = live_world
    from endorsements.services.intake import endorsement_submit

    funding.ea_topup(employer=world.employer, amount="200.00", currency="USD", idempotency_key="t1", actor="t")
    first = endorsement_submit(employer=world.employer, data=addition("E-1", effective=day(5), plan="DAY"), actor="t")
    second = endorsement_submit(employer=world.employer, data=addition("E-2", effective=day(5), plan="DAY"), actor="t")
    assert (first.state, second.state) == (RequestState.FUND_LOCKED, RequestState.ON_HOLD_FUNDS)
    base = f"/employer/{world.employer.public_id}/requests/"

    waiting = hr.get(base, {"state": "on_hold_funds"}).content.decode()
    assert second.tracking_id in waiting
    assert first.tracking_id not in waiting

    found = hr.get(base, {"q": "E-1"}).content.decode()
    assert first.tracking_id in found
    assert second.tracking_id not in found
    assert hr.get(base, {"q": second.tracking_id.lower()}).content.decode().count(second.tracking_id) == 1


def test_the_waiting_page_says_what_each_parked_request_needs(live_world, hr):
    world = live_world
    from endorsements.services.intake import endorsement_submit

    funding.ea_topup(employer=world.employer, amount="100.00", currency="USD", idempotency_key="t1", actor="t")
    for member_id in ("E-1", "E-2"):
        endorsement_submit(employer=world.employer, data=addition(member_id, effective=day(5), plan="DAY"), actor="t")

    page = hr.get(f"/employer/{world.employer.public_id}/waiting-for-funds/").content.decode()

    # 160.00 each, 100.00 available: the first needs 60.00 more, the second 220.00.
    assert "60.00 USD" in page
    assert "220.00 USD" in page


def test_an_upload_shows_progress_then_the_rows_to_fix_and_a_csv_of_every_row(live_world, hr):
    world = live_world
    lines = [
        f"GP-1001,addition,E-1,Ann Lee,1990-01-01,employee,DAY,,{day(5)}",
        f"GP-1001,addition,E-2,Bob Ray,1990-01-01,employee,GOLD,,{day(5)}",
    ]
    uploaded = _upload(hr, world, lines)
    assert uploaded.status_code == 302
    batch = Batch.objects.get()
    assert uploaded.headers["Location"] == f"/employer/{world.employer.public_id}/files/{batch.public_id}/"
    progress_url = uploaded.headers["Location"] + "progress"
    assert hr.get(progress_url).json() == {
        "status": "queued",
        "status_words": "Queued",
        "finished": False,
        "rows_done": 0,
        "rows_total": 2,
        "percent": 0,
        "accepted": 0,
        "rejected": 0,
        "duplicate": 0,
    }

    batch_process_task(batch.pk)

    assert hr.get(progress_url).json()["percent"] == 100
    page = hr.get(uploaded.headers["Location"]).content.decode()
    assert "This plan is not on the policy for this relationship." in page
    assert '<td class="num">3</td>' in page  # the GOLD row is line 3 of the spreadsheet
    csv_text = b"".join(hr.get(uploaded.headers["Location"] + "results.csv").streaming_content).decode()
    assert csv_text.splitlines()[0] == "row,outcome,tracking_id,original_tracking_id,errors"
    assert [line.split(",")[:2] for line in csv_text.splitlines()[1:]] == [["2", "accepted"], ["3", "rejected"]]


def test_an_unreadable_file_is_refused_on_the_page_naming_the_problem(live_world, hr):
    content = (CSV_HEADER + "GP-1001,addition,E-1,Zoë,1990-01-01,employee,DAY,,2026-01-01\n").encode("latin-1")
    response = hr.post(
        f"/employer/{live_world.employer.public_id}/files/",
        {"file": SimpleUploadedFile("hr.csv", content, content_type="text/csv")},
    )
    assert response.status_code == 422
    assert "line 2" in response.content.decode()
    assert "Latin-1" in response.content.decode()
    assert not Batch.objects.exists()


def test_a_top_up_paid_with_the_sandbox_card_wakes_the_parked_request(live_world, hr):
    world = live_world
    from endorsements.services.intake import endorsement_submit

    parked = endorsement_submit(employer=world.employer, data=addition("E-1", effective=day(5), plan="DAY"), actor="t")
    assert parked.state == RequestState.ON_HOLD_FUNDS
    e = world.employer.public_id
    asked = hr.post(f"/employer/{e}/top-up/", {"amount": "200.00", "currency": "USD", "idempotency_key": "k1"})
    assert asked.status_code == 302
    payment_page = asked.headers["Location"]
    assert "Pay 200.00 USD" in hr.get(payment_page).content.decode()
    # Pressing "continue" twice asks the rail once.
    again = hr.post(f"/employer/{e}/top-up/", {"amount": "200.00", "currency": "USD", "idempotency_key": "k1"})
    assert again.headers["Location"] == payment_page

    declined = hr.post(payment_page + "sandbox-pay", {"card_number": "4000 0000 0000 0002"}, follow=True)
    assert "declined" in declined.content.decode()
    assert EndorsementRequest.objects.get().state == RequestState.ON_HOLD_FUNDS

    paid = hr.post(payment_page + "sandbox-pay", {"card_number": "4242 4242 4242 4242"}, follow=True)

    assert "Paid 200.00 USD into your endorsement account." in paid.content.decode()
    assert "Nothing is waiting for funds." in paid.content.decode()
    assert EndorsementRequest.objects.get().state == RequestState.FUND_LOCKED


def test_message_settings_are_saved_for_the_person(live_world, hr):
    url = f"/employer/{live_world.employer.public_id}/messages/"
    assert 'name="ea_running_low:email" id="ea_running_low:email" checked' in hr.get(url).content.decode()

    saved = hr.post(url, {"ea_running_low:email": "on", "endorsement_batch_finished:live": "on"}, follow=True)

    assert "Your message settings are saved." in saved.content.decode()
    prefs = NotificationPreference.objects.filter(user=live_world.hr)
    assert prefs.get(kind="ea_running_low", channel="email").enabled
    assert not prefs.get(kind="ea_running_low", channel="sms").enabled
    assert not prefs.get(kind="endorsement_batch_finished", channel="email").enabled
    assert prefs.get(kind="endorsement_batch_finished", channel="live").enabled


def test_the_same_file_again_on_the_page_shows_the_first_upload(live_world, hr):
    lines = [f"GP-1001,addition,E-1,Ann Lee,1990-01-01,employee,DAY,,{day(5)}"]
    first = _upload(hr, live_world, lines)
    again = _upload(hr, live_world, lines, name="march-copy.csv")

    assert again.headers["Location"] == first.headers["Location"]
    page = hr.get(again.headers["Location"]).content.decode()
    assert "You uploaded this file before. These are the results of that upload." in page
    assert Batch.objects.count() == 1


def test_a_held_file_says_why_on_the_account_and_file_pages(live_world, hr):
    from tests.endorsements.velocity_world import covered_members

    world = live_world
    members = covered_members(world, 12)
    uploaded = _upload(hr, world, [f"GP-1001,deletion,{m.member_id},,,,,,{day(5)}" for m in members])
    batch_process_task(Batch.objects.get().pk)

    reason = "this file removes 12 of 12 covered members (100%, more than 20%)"
    assert reason in hr.get(f"/employer/{world.employer.public_id}/").content.decode()
    page = hr.get(uploaded.headers["Location"]).content.decode()
    assert "This file is waiting for a check." in page
    assert reason in page
    assert hr.get(uploaded.headers["Location"] + "progress").json()["status"] == "held"
