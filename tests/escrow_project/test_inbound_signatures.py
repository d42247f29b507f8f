"""The one verifier for webhooks partners send us (agents: `sha256=`, insurers: `v1=`)."""

from __future__ import annotations

import time

from escrow_project.common.inbound_signatures import signature_hex, signature_matches, timestamp_fresh

BODY = b'{"event":"report.submitted"}'


def test_a_header_signed_by_a_retiring_secret_still_matches_during_rotation():
    ts = str(int(time.time()))
    header = f"sha256={signature_hex('old', ts, BODY)}, sha256={'0' * 64}"
    assert signature_matches(secrets=["new", "old"], timestamp=ts, raw_body=BODY, header=header, scheme="sha256")


def test_another_scheme_or_no_signature_is_told_apart_from_a_wrong_one():
    ts = str(int(time.time()))
    good_v1 = f"v1={signature_hex('s', ts, BODY)}"
    assert signature_matches(secrets=["s"], timestamp=ts, raw_body=BODY, header=good_v1, scheme="sha256") is None
    assert signature_matches(secrets=["s"], timestamp=ts, raw_body=BODY + b" ", header=good_v1, scheme="v1") is False


def test_a_timestamp_is_fresh_only_as_digits_inside_the_tolerance():
    now = int(time.time())
    assert timestamp_fresh(f" {now - 299} ", tolerance_seconds=300)
    assert not timestamp_fresh(str(now - 301), tolerance_seconds=300)
    assert not timestamp_fresh("\uff11\uff12\uff13", tolerance_seconds=10**12)  # full-width digits: not a Unix time
