"""An HR manager signs in, uploads a file, watches it being processed, reads what to fix, downloads
the results, and tops up so that a request waiting for funds goes ahead: in a real browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from endorsements.models import Batch, EndorsementRequest
from endorsements.services import batches
from endorsements.services.intake import endorsement_submit
from endorsements.states import RequestState
from tests.endorsements.conftest import LIVE_TERM, addition, day, make_world
from tests.endorsements.test_api import CSV_HEADER
from tests.factories import TEST_PASSWORD


def _file(tmp_path: Path) -> Path:
    lines = [
        f"GP-1001,addition,E-1,Ann One,1990-01-01,employee,DAY,,{day(5)}",
        f"GP-1001,addition,E-2,Bob Two,1990-01-01,employee,GOLD,,{day(5)}",  # no such plan
        f"GP-1001,addition,E-3,Cy Three,not-a-date,employee,DAY,,{day(5)}",  # bad date of birth
        f"GP-1001,addition,E-4,Di Four,1990-01-01,employee,DAY,,{day(5)}",
        f"GP-1001,addition,E-5,Ed Five,1990-01-01,employee,DAY,,{day(5)}",
        f"GP-1001,addition,E-6,Flo Six,1990-01-01,employee,DAY,,{day(5)}",
    ]
    path = tmp_path / "april-changes.csv"
    path.write_text(CSV_HEADER + "".join(line + "\n" for line in lines))
    return path


@pytest.mark.django_db(transaction=True)
def test_hr_uploads_a_file_watches_it_and_tops_up_to_wake_a_waiting_request(
    live_server: Any, page: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect

    world = make_world(term=LIVE_TERM)
    waiting = endorsement_submit(
        employer=world.employer, data=addition("E-0", effective=day(5), plan="DAY"), actor="test"
    )
    assert waiting.state == RequestState.ON_HOLD_FUNDS  # the account is empty

    # Sign in.
    page.goto(f"{live_server.url}/employer/")
    assert "/employer/login/" in page.url
    page.fill("#id_username", world.hr.username)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/employer/{world.employer.public_id}/")
    expect(page.locator("#parked")).to_contain_text("160.00 USD")

    # Upload a file; nothing processes it until "the worker" below runs.
    page.click("text=Upload a file")
    page.set_input_files("#id_file", str(_file(tmp_path)))
    page.click("text=Upload and check")
    batch = Batch.objects.get(employer=world.employer)
    page.wait_for_url(f"**/files/{batch.public_id}/")
    expect(page.locator("#progress-text")).to_have_text("0 of 6 rows done (0%)")

    # The worker processes two rows at a time; the open page follows without being reloaded.
    monkeypatch.setattr(batches, "CHUNK_ROWS", 2)
    page.evaluate("window.__samePage = true")
    assert batches.batch_process(batch_id=batch.pk, max_rows=2) is False
    expect(page.locator("#progress-text")).to_have_text("2 of 6 rows done (33%)", timeout=10_000)
    assert page.evaluate("window.__samePage") is True
    assert batches.batch_process(batch_id=batch.pk, max_rows=2) is False
    expect(page.locator("#progress-text")).to_have_text("4 of 6 rows done (66%)", timeout=10_000)
    assert batches.batch_process(batch_id=batch.pk) is True

    # Finished: the page shows the rows to fix, numbered as in the spreadsheet.
    expect(page.locator("#rows")).to_be_visible(timeout=10_000)
    expect(page.locator("#progress-text")).to_have_text("6 of 6 rows done (100%)")
    rows = page.locator("#rows tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).inner_text().startswith("3")
    assert "This plan is not on the policy for this relationship." in rows.nth(0).inner_text()
    assert rows.nth(1).inner_text().startswith("4")
    assert "date_of_birth" in rows.nth(1).inner_text()

    # ... and every row's result downloads as CSV.
    with page.expect_download() as download_info:
        page.click("text=Download the results (CSV)")
    lines = Path(download_info.value.path()).read_text().splitlines()
    assert lines[0] == "row,outcome,tracking_id,original_tracking_id,errors"
    assert [line.split(",")[:2] for line in lines[1:]] == [
        ["2", "accepted"],
        ["3", "rejected"],
        ["4", "rejected"],
        ["5", "accepted"],
        ["6", "accepted"],
        ["7", "accepted"],
    ]

    # The waiting list says what the first in line needs.
    page.click("text=Waiting for funds")
    first = page.locator("#parked-USD tbody tr").first
    assert waiting.tracking_id in first.inner_text()
    assert "160.00 USD" in first.inner_text()

    # Top up through the payment rail (the sandbox payer stands in for the card form).
    page.click("nav >> text=Top up")
    page.fill("#id_amount", "200.00")
    page.click("text=Continue to payment")
    page.click("text=Pay 200.00 USD")
    expect(page.locator("#paid")).to_contain_text("Paid.")
    expect(page.locator("main")).to_contain_text("Paid 200.00 USD into your endorsement account.")
    expect(page.locator("#paid")).to_contain_text("4 endorsements still wait for funds.")

    # The request that waited longest went ahead.
    waiting.refresh_from_db()
    assert waiting.state == RequestState.FUND_LOCKED
    page.click("text=Requests")
    page.fill("#q", "E-0")
    page.click("button:has-text('Show')")
    expect(page.locator("#requests")).to_contain_text("Paid for, waiting to be sent")
    assert EndorsementRequest.objects.filter(state=RequestState.ON_HOLD_FUNDS).count() == 4
    page.screenshot(path=str(tmp_path / "requests.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_another_employer_s_hr_gets_a_404_in_the_browser(live_server: Any, page: Any) -> None:
    mine = make_world(term=LIVE_TERM)
    other = make_world(policy_number="GP-2002", term=LIVE_TERM)

    page.goto(f"{live_server.url}/employer/login/")
    page.fill("#id_username", other.hr.username)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/employer/{other.employer.public_id}/")

    response = page.goto(f"{live_server.url}/employer/{mine.employer.public_id}/")
    assert response is not None
    assert response.status == 404
    assert mine.employer.name not in page.content()


@pytest.mark.django_db(transaction=True)
def test_the_account_page_fits_a_phone_screen(live_server: Any, browser: Any, tmp_path: Path) -> None:
    from django.conf import settings
    from django.test import Client

    from endorsements.services import funding

    world = make_world(term=LIVE_TERM)
    funding.ea_topup(employer=world.employer, amount="100.00", currency="USD", idempotency_key="t1", actor="t")
    endorsement_submit(employer=world.employer, data=addition("E-1", effective=day(5), plan="DAY"), actor="t")
    client = Client()
    client.force_login(world.hr)
    context = browser.new_context(viewport={"width": 375, "height": 740}, device_scale_factor=2)
    try:
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
        phone = context.new_page()
        for path in ("", "requests/", "waiting-for-funds/", "files/", "top-up/", "messages/"):
            phone.goto(f"{live_server.url}/employer/{world.employer.public_id}/{path}")
            # No sideways scrolling of the page: wide tables scroll inside their own box.
            assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
        phone.goto(f"{live_server.url}/employer/{world.employer.public_id}/")
        assert phone.locator("svg.chart").bounding_box()["width"] <= 375
        phone.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
    finally:
        context.close()
