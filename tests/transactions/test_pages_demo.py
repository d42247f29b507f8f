"""The demo as each demo person sees it: every deal in their list opens, in their own role, with
something saying what happens next; the inspector finds the deals they were assigned."""

from __future__ import annotations

import html
import re

import pytest

from identity import demo as identity_demo
from transactions import demo
from verifications import demo as verification_demo


def _text(response) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)).strip())


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("username", "role"),
    [
        ("buyer", "buyer"),
        ("seller", "seller"),
        ("buyer_agent", "buyer's agent"),
        ("seller_agent", "seller's agent"),
        ("lender", "lender"),
        ("officer", "escrow officer"),
        ("inspector", "verifier"),
        ("operator", "operator"),
    ],
)
def test_each_demo_person_opens_every_deal_in_their_own_role(client, username, role):
    identity_demo.seed()
    verification_demo.seed()
    demo.seed()
    signed_in = client.post("/escrow/login/", {"username": username, "password": f"{username}-demo-2026"})
    assert signed_in.status_code == 302

    listing = client.get("/escrow/")
    links = sorted(set(re.findall(r'href="(/escrow/[0-9a-f-]{36}/)"', listing.content.decode())))

    assert links, f"{username} sees no deal"
    for link in links:
        page = client.get(link)
        text = _text(page)
        assert page.status_code == 200, link
        assert f"You are the {role}" in text, (link, text[:300])
        assert "What happens next" in text
        assert "You are not a party" not in text
