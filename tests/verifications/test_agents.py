"""Each provider's report schema is strict and its rules decide pass or fail with readable reasons."""

from __future__ import annotations

import random

import pytest

from escrow_project.common.errors import UnprocessableError
from verifications.agents.registry import PROVIDERS, provider_for

CONTEXT = {"purchase_price": "400000.00", "loan_amount": "300000.00", "currency": "USD"}


@pytest.mark.parametrize("kind", sorted(PROVIDERS))
def test_sandbox_reports_pass_or_fail_as_configured(kind: str) -> None:
    provider = provider_for(kind)
    good = provider.sandbox_report(context=CONTEXT, passing=True, rng=random.Random(1))
    bad = provider.sandbox_report(context=CONTEXT, passing=False, rng=random.Random(1))

    assert provider.validate_report(good, context=CONTEXT).passed is True
    decision = provider.validate_report(bad, context=CONTEXT)
    assert decision.passed is False
    assert decision.reasons
    assert all(isinstance(r, str) and r for r in decision.reasons)


def test_appraisal_below_price_is_rejected_with_the_figures() -> None:
    report = provider_for("appraisal").sandbox_report(context=CONTEXT, passing=True, rng=random.Random(2))
    report["appraised_value"] = "380000.00"

    decision = provider_for("appraisal").validate_report(report, context=CONTEXT)

    assert decision.passed is False
    assert decision.reasons == ["Appraised value 380000.00 is below the purchase price 400000.00."]


def test_title_with_surviving_lien_is_not_clear() -> None:
    report = provider_for("title").sandbox_report(context=CONTEXT, passing=True, rng=random.Random(3))
    report["liens"][0]["released_at_closing"] = False

    decision = provider_for("title").validate_report(report, context=CONTEXT)

    assert decision.passed is False
    assert "survives closing" in decision.reasons[0]


@pytest.mark.parametrize(
    ("kind", "mutate", "field"),
    [
        ("appraisal", lambda r: r.update(appraised_value=401000.5), "appraised_value"),
        ("appraisal", lambda r: r.update(comparables=r["comparables"][:2]), "comparables"),
        ("title", lambda r: r.update(title_status="probably"), "title_status"),
        ("title", lambda r: r.update(surprise="field"), "surprise"),
        ("inspection", lambda r: r["findings"][0].update(repair_estimate="-5.00"), "findings.0.repair_estimate"),
        ("inspection", lambda r: r.pop("summary"), "summary"),
        ("lending", lambda r: r.update(loan_approved="maybe"), "loan_approved"),
    ],
)
def test_a_report_off_its_schema_is_refused_naming_the_field(kind, mutate, field) -> None:
    report = provider_for(kind).sandbox_report(context=CONTEXT, passing=True, rng=random.Random(4))
    mutate(report)

    with pytest.raises(UnprocessableError) as caught:
        provider_for(kind).validate_report(report, context=CONTEXT)

    assert caught.value.code == "invalid_report"
    assert field in [e["field"] for e in caught.value.errors]


def test_a_report_of_another_type_is_refused() -> None:
    title_report = provider_for("title").sandbox_report(context=CONTEXT, passing=True, rng=random.Random(5))

    with pytest.raises(UnprocessableError) as caught:
        provider_for("appraisal").validate_report(title_report, context=CONTEXT)

    assert caught.value.code == "invalid_report"
