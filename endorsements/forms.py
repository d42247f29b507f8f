"""Forms of the employer's HR pages."""

from __future__ import annotations

from typing import Any

from django import forms

# The messages an HR manager may choose, in their words, and the channels they may choose them on.
NOTIFICATION_KINDS = [
    ("endorsement_batch_finished", "A file I uploaded has been processed"),
    ("endorsement_batch_held", "A file is held for a check before processing"),
    ("endorsement_batch_reviewed", "A held file was released or rejected"),
    ("endorsement_received", "A single endorsement was received"),
    ("endorsement_on_hold_funds", "An endorsement waits for funds"),
    ("endorsement_woken", "An endorsement that waited for funds is on its way"),
    ("endorsement_confirmed", "The insurer accepted an endorsement"),
    ("endorsement_activated", "Cover is in force"),
    ("endorsement_rejected", "The insurer refused an endorsement"),
    ("endorsement_failed", "An endorsement failed"),
    ("endorsement_dead_lettered", "An endorsement is delayed (insurer unreachable)"),
    ("ea_running_low", "The endorsement account will run out soon"),
    ("ea_low_balance", "The endorsement account fell below its threshold"),
]
NOTIFICATION_CHANNELS = [("email", "E-mail"), ("live", "On screen"), ("sms", "Text message")]


class BatchUploadForm(forms.Form):
    file = forms.FileField(
        label="Your file",
        help_text="A CSV file saved as “CSV UTF-8”, a JSON file, or an X12 834 file. The first line of a CSV "
        "names the columns.",
    )


class TopupForm(forms.Form):
    amount = forms.CharField(label="Amount", max_length=24, help_text="For example 2500.00")
    currency = forms.ChoiceField(label="Currency")
    # A second press of the button pays once: the rail is asked with the same key.
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, currencies: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        currency = self.fields["currency"]
        assert isinstance(currency, forms.ChoiceField)
        currency.choices = [(c, c) for c in currencies]
        if len(currencies) == 1:
            self.fields["currency"].initial = currencies[0]

    def clean_amount(self) -> str:
        # Thousands separators as people type them; the service checks the amount itself.
        return str(self.cleaned_data["amount"]).strip().replace(",", "")
