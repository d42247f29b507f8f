"""Operator console for endorsements. Status is read-only; changes are confirmed buttons calling services."""

from __future__ import annotations

import datetime
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from endorsements.hooks import SUBJECT_TYPE as ENDORSEMENTS_SUBJECT
from endorsements.models import (
    Batch,
    BatchRow,
    CensusImport,
    Coverage,
    DeadLetterRequest,
    Dispatch,
    EmployerSafeguards,
    EndorsementAccount,
    EndorsementRequest,
    GatewayExchange,
    GroupPolicy,
    HeldBatch,
    InboundFile,
    InsurerCallbackSecret,
    InsurerEvent,
    InsurerProfile,
    Member,
    ParkedRequest,
    RateCard,
)
from endorsements.services import dispatch, funding, lifecycle, onboarding, reconciliation, velocity
from endorsements.services.funding import TOPUP_SUBJECT
from endorsements.states import RequestState
from escrow_project.common.admin import (
    ConsoleAdmin,
    ConsoleTabularInline,
    ReadOnlyAdmin,
    ReasonForm,
    console_money,
    object_action,
    register_subject,
)
from escrow_project.common.errors import DomainError, UnprocessableError
from escrow_project.common.signals import console_action_performed
from identity.models import Organization

# Audit subjects of this app: an employer's endorsements (by the employer's pk), its top-ups (by
# the employer's public id): both open the employer's page.
register_subject(ENDORSEMENTS_SUBJECT, Organization, "pk")
register_subject(TOPUP_SUBJECT, Organization, "public_id")


def _upload_recorded(request: HttpRequest, obj: Any, action: str, label: str, reason: str, **details: str) -> None:
    """An upload page is a console action too: its reason goes to the audit trail with the file's name."""
    console_action_performed.send(
        sender=type(obj), instance=obj, action=action, label=label, operator=request.user, reason=reason,
        outcome="done", details=details,
    )  # fmt: skip


class RateCardInline(ConsoleTabularInline):
    model = RateCard
    extra = 0


class CensusUploadForm(forms.Form):
    file = forms.FileField(help_text="CSV, streamed to disk and imported in the background.")
    reason = ReasonForm.base_fields["reason"]


@admin.register(GroupPolicy)
class GroupPolicyAdmin(ConsoleAdmin):
    list_display = ["policy_number", "employer", "insurer", "term_start", "term_end", "currency", "is_active"]
    list_filter = ["currency", "is_active", "insurer"]
    search_fields = ["policy_number", "employer__name"]
    inlines = [RateCardInline]

    def get_urls(self) -> list[Any]:
        census = path(
            "<int:policy_id>/census/",
            self.admin_site.admin_view(self.census_upload),
            name="endorsements_grouppolicy_census",
        )
        return [census, *super().get_urls()]

    def census_upload(self, request: HttpRequest, policy_id: int) -> HttpResponse:
        """Upload an employer's existing members (the same service as the onboarding API)."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        policy = get_object_or_404(GroupPolicy, pk=policy_id)
        form = CensusUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                with transaction.atomic():
                    census = onboarding.census_create(policy=policy, user=cast(Any, request.user), upload=upload)
                    _upload_recorded(request, policy, "census_import", "Import census", form.cleaned_data["reason"],
                                     file_name=str(upload.name), census=str(census.public_id))  # fmt: skip
            except DomainError as exc:
                self.message_user(request, exc.detail, level=messages.ERROR)
            else:
                self.message_user(request, f"Census {census.public_id} queued: follow it under Census imports.")
                return redirect("admin:endorsements_censusimport_changelist")
        context = {**self.admin_site.each_context(request), "form": form, "policy": policy, "title": "Import census"}
        return TemplateResponse(request, "admin/endorsements/census_upload.html", context)


class InsurerProfileForm(forms.ModelForm[InsurerProfile]):
    """Secrets are write-only: entered, never shown; left blank, the stored one is kept."""

    api_key = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), help_text="Outbound API credential."
    )
    sftp_private_key = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"placeholder": "(unchanged)"}), help_text="PEM or OpenSSH."
    )

    class Meta:
        model = InsurerProfile
        fields = ["insurer", *onboarding.PROFILE_FIELDS]  # what onboarding may set, one list for both

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("api_key", "sftp_private_key"):
            self.initial[name] = ""

    def _keep(self, name: str) -> str:
        value = str(self.cleaned_data.get(name) or "")
        return value or str(getattr(self.instance, name, "") or "")

    def clean_api_key(self) -> str:
        return self._keep("api_key")

    def clean_sftp_private_key(self) -> str:
        return self._keep("sftp_private_key")


class StatementUploadForm(forms.Form):
    file = forms.FileField(help_text="The insurer's monthly statement (CSV) or an 834 full-file audit.")
    format = forms.ChoiceField(choices=[("statement_csv", "Monthly statement (CSV)"), ("audit_834", "834 audit")])
    period = forms.DateField(required=False, help_text="Any day of the statement's month (CSV only).")
    tolerance = forms.DecimalField(required=False, min_value=0, decimal_places=4, max_digits=20)
    currency = forms.CharField(required=False, max_length=3, help_text="The policies' currency (834 only).")
    reason = ReasonForm.base_fields["reason"]


@admin.register(InsurerProfile)
class InsurerProfileAdmin(ConsoleAdmin):
    # Saving runs InsurerProfile.clean: a protocol without what it needs is refused here.
    form = InsurerProfileForm
    list_display = ["insurer", "protocol", "proration_method", "base_url", "window_seconds", "max_attempts",
                    "reconcile"]  # fmt: skip
    readonly_fields = ["x12_last_control_number", "last_window_at"]

    @admin.display(description="reconciliation")
    def reconcile(self, obj: InsurerProfile) -> str:
        url = reverse("admin:endorsements_insurerprofile_statement", args=[obj.pk])
        return format_html('<a href="{}">Upload a statement</a>', url)

    def get_urls(self) -> list[Any]:
        statement = path(
            "<int:profile_id>/statement/",
            self.admin_site.admin_view(self.statement_upload),
            name="endorsements_insurerprofile_statement",
        )
        return [statement, *super().get_urls()]

    def statement_upload(self, request: HttpRequest, profile_id: int) -> HttpResponse:
        """Reconcile an insurer's statement (the same services as the API); shows the recorded run."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        profile = get_object_or_404(InsurerProfile, pk=profile_id)
        form = StatementUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data, actor = form.cleaned_data, f"user:{request.user.pk}"
            try:
                with transaction.atomic():
                    run, created = _statement_import(profile.insurer, data, actor)
                    _upload_recorded(
                        request, profile, "statement_import", "Reconcile an insurer statement", data["reason"],
                        file_name=str(data["file"].name), run=str(run.public_id),
                    )  # fmt: skip
            except DomainError as exc:
                self.message_user(request, exc.detail, level=messages.ERROR)
            else:
                done = "Recorded" if created else "Already recorded"
                self.message_user(request, f"{done}: {run.line_count} lines, {run.break_count} breaks.")
                return redirect("admin:ledger_reconciliationrun_change", run.pk)
        context = {**self.admin_site.each_context(request), "form": form, "profile": profile,
                   "title": "Reconcile an insurer statement"}  # fmt: skip
        return TemplateResponse(request, "admin/endorsements/statement_upload.html", context)


def _statement_import(insurer: Any, data: dict[str, Any], actor: str) -> tuple[Any, bool]:
    upload = data["file"]
    if data["format"] == "audit_834":
        if not data.get("currency"):
            raise UnprocessableError("An 834 audit needs the policies' currency.", code="currency_required")
        return reconciliation.insurer_audit_import(
            insurer=insurer, handle=upload.file, currency=data["currency"].upper(), file_name=upload.name, actor=actor
        )
    if not data.get("period"):
        raise UnprocessableError("A monthly statement needs its month.", code="period_required")
    start = data["period"].replace(day=1)
    end = (start + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)
    return reconciliation.insurer_statement_import(
        insurer=insurer, handle=upload.file, period_start=start, period_end=end, tolerance=data.get("tolerance"),
        file_name=upload.name, actor=actor,
    )  # fmt: skip


@admin.register(InsurerCallbackSecret)
class InsurerCallbackSecretAdmin(ConsoleAdmin):
    list_display = ["insurer", "key_id", "is_active", "created_at"]
    list_filter = ["is_active"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The secret can be entered once, never read back.
        return ["insurer", "key_id", "is_active"] if obj is not None else ["insurer", "key_id", "secret", "is_active"]


@admin.register(Member)
class MemberAdmin(ReadOnlyAdmin):
    # Names, member ids and dates of birth stay off the lists: open a member only when needed.
    list_display = ["public_id", "policy", "relationship", "plan", "status", "claim_in_term", "created_at"]
    list_filter = ["status", "relationship"]
    exclude = ["member_index"]


@admin.register(Coverage)
class CoverageAdmin(ReadOnlyAdmin):
    list_display = ["member", "policy", "plan", "start_date", "end_date"]


def _wake_text(what: Any) -> Any:
    def describe(obj: Any) -> str:
        return (f"Lock funds now for the waiting requests of {what(obj)}, oldest effective date first, as far as "
                "the endorsement account's balance allows; what does not fit stays parked.")  # fmt: skip

    return describe


@admin.register(EndorsementAccount)
class EndorsementAccountAdmin(ConsoleAdmin):
    list_display = ["employer", "currency", "ledger_account_id", "low_balance_threshold", "created_at"]
    readonly_fields = ["employer", "currency", "ledger_account_id", "created_at"]
    object_actions = ["wake_now"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @object_action(label="Wake parked requests now", describe=_wake_text(lambda ea: f"{ea.employer} ({ea.currency})"))
    def wake_now(self, request: HttpRequest, ea: EndorsementAccount, form: ReasonForm) -> str:
        result = funding.ea_drain(employer_id=ea.employer_id, currency=ea.currency, actor=f"user:{request.user.pk}")
        return f"{ea}: {result.locked} locked, {result.parked} parked."


_CANCELLABLE = {RequestState.RECEIVED, RequestState.VALIDATED, RequestState.ON_HOLD_FUNDS, RequestState.FUND_LOCKED,
                RequestState.DEAD_LETTER}  # fmt: skip


def _request_text(verb: str) -> Any:
    def describe(r: EndorsementRequest) -> str:
        what = f"{r.get_kind_display().lower()} {r.tracking_id} of {r.employer} ({console_money(r.amount, r.currency)})"
        if verb == "retry":
            return f"Send the dead-lettered {what} to {r.insurer} again in the next delivery window."
        return f"Withdraw the {what}: any hold on the endorsement account is voided; the insurer never sees it."

    return describe


class _RequestAdmin(ReadOnlyAdmin):
    list_display = [
        "tracking_id",
        "employer",
        "kind",
        "direction",
        "money",
        "effective_date",
        "state",
        "attempts",
        "created_at",
    ]
    list_filter = ["state", "kind", "direction", "source", "insurer"]
    search_fields = ["tracking_id", "insurer_reference"]
    exclude = ["content_hash"]
    object_actions = ["retry", "cancel", "wake_now"]
    money_fields = ["amount"]

    @admin.display(description="amount", ordering="amount")
    def money(self, obj: EndorsementRequest) -> str:
        return console_money(obj.amount, obj.currency)

    @object_action(
        label="Retry (next window)", describe=_request_text("retry"),
        available=lambda r: r.state == RequestState.DEAD_LETTER,
    )  # fmt: skip
    def retry(self, request: HttpRequest, row: EndorsementRequest, form: ReasonForm) -> str:
        lifecycle.request_retry(request_id=row.pk, actor=f"user:{request.user.pk}")
        return f"{row.tracking_id}: requeued for the next window."

    @object_action(
        label="Cancel the request", describe=_request_text("cancel"), available=lambda r: r.state in _CANCELLABLE,
        danger=True,
    )  # fmt: skip
    def cancel(self, request: HttpRequest, row: EndorsementRequest, form: ReasonForm) -> str:
        lifecycle.request_cancel(request_id=row.pk, reason=form.cleaned_data["reason"], actor=f"user:{request.user.pk}")
        return f"{row.tracking_id}: cancelled."

    @object_action(
        label="Wake now (lock funds)", describe=_wake_text(lambda r: f"{r.employer} ({r.currency})"),
        available=lambda r: r.state == RequestState.ON_HOLD_FUNDS,
    )  # fmt: skip
    def wake_now(self, request: HttpRequest, row: EndorsementRequest, form: ReasonForm) -> str:
        result = funding.ea_drain(employer_id=row.employer_id, currency=row.currency, actor=f"user:{request.user.pk}")
        return f"{row.employer} {row.currency}: {result.locked} locked, {result.parked} parked."


@admin.register(EndorsementRequest)
class EndorsementRequestAdmin(_RequestAdmin):
    pass


class _QueueAdmin(_RequestAdmin):
    """A work queue: the list shows one state; a row's own page opens whatever its state now is
    (it leaves the queue when woken, retried or cancelled, and the operator's link must not 404)."""

    queue_state: str = ""

    def get_queryset(self, request: HttpRequest) -> QuerySet[EndorsementRequest]:
        queryset = super().get_queryset(request)
        match = getattr(request, "resolver_match", None)
        if match is not None and str(match.url_name).endswith(("_change", "_console_action")):
            return queryset
        return queryset.filter(state=self.queue_state)


@admin.register(ParkedRequest)
class ParkedRequestAdmin(_QueueAdmin):
    queue_state = RequestState.ON_HOLD_FUNDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[EndorsementRequest]:
        return super().get_queryset(request).order_by("effective_date", "pk")


@admin.register(DeadLetterRequest)
class DeadLetterRequestAdmin(_QueueAdmin):
    queue_state = RequestState.DEAD_LETTER


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdmin):
    list_display = [
        "public_id",
        "employer",
        "file_name",
        "status",
        "rows_total",
        "rows_accepted",
        "rows_rejected",
        "rows_duplicate",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "file_format"]


@admin.register(HeldBatch)
class HeldBatchAdmin(BatchAdmin):
    """Files the velocity circuit breaker held: check with the employer, then release or reject."""

    list_display = ["public_id", "employer", "file_name", "rows_total", "hold_reason", "created_at"]
    object_actions = ["release", "reject"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Batch]:
        queryset = super().get_queryset(request)
        match = getattr(request, "resolver_match", None)
        if match is not None and str(match.url_name).endswith(("_change", "_console_action")):
            return queryset  # a reviewed file's page still opens from the operator's link
        return queryset.filter(status=Batch.Status.HELD)

    @object_action(
        label="Release (process the file)",
        describe=lambda b: (
            f"Process the held file {b.file_name} of {b.employer} ({b.rows_total} rows) as it is; "
            "it is not checked by the velocity breaker again."
        ),
        available=lambda b: b.status == Batch.Status.HELD,
    )
    def release(self, request: HttpRequest, batch: Batch, form: ReasonForm) -> str:
        velocity.batch_release(batch_id=batch.pk, user=cast(Any, request.user), note=form.cleaned_data["reason"])
        return f"{batch.public_id}: released."

    @object_action(
        label="Reject the file",
        describe=lambda b: (
            f"Refuse the held file {b.file_name} of {b.employer}: none of its {b.rows_total} rows is "
            "ever processed (the employer may send a corrected one)."
        ),
        available=lambda b: b.status == Batch.Status.HELD,
        danger=True,
    )
    def reject(self, request: HttpRequest, batch: Batch, form: ReasonForm) -> str:
        velocity.batch_reject(batch_id=batch.pk, user=cast(Any, request.user), note=form.cleaned_data["reason"])
        return f"{batch.public_id}: rejected."


@admin.register(EmployerSafeguards)
class EmployerSafeguardsAdmin(ConsoleAdmin):
    list_display = [
        "employer",
        "velocity_enabled",
        "velocity_multiplier",
        "velocity_min_rows",
        "deletion_share_percent",
        "floor_percent",
        "low_balance_days",
    ]
    search_fields = ["employer__name"]


@admin.register(BatchRow)
class BatchRowAdmin(ReadOnlyAdmin):
    list_display = ["batch", "row_number", "outcome", "tracking_id", "original_tracking_id", "errors"]
    list_filter = ["outcome"]
    search_fields = ["batch__public_id", "tracking_id"]
    list_select_related = ["batch"]


@admin.register(Dispatch)
class DispatchAdmin(ReadOnlyAdmin):
    list_display = [
        "public_id",
        "insurer",
        "status",
        "attempts",
        "next_attempt_at",
        "file_name",
        "ack_status",
        "created_at",
    ]
    list_filter = ["status", "ack_status"]
    object_actions = ["stop"]

    @object_action(
        label="Stop delivering (dead letter)",
        describe=lambda d: (
            f"Give up on delivery {d.public_id} to {d.insurer} (attempt {d.attempts}): it dead-letters "
            "now; its requests can then be cancelled or retried after the insurer's route is fixed."
        ),
        available=lambda d: d.status == Dispatch.Status.PENDING,
        danger=True,
    )
    def stop(self, request: HttpRequest, row: Dispatch, form: ReasonForm) -> str:
        stopped = dispatch.dispatch_stop(dispatch_id=row.pk, actor=f"user:{request.user.pk}")
        return f"Delivery {row.public_id}: {stopped.get_status_display().lower()}."


@admin.register(CensusImport)
class CensusImportAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "policy", "status", "rows_done", "rows_created", "rows_rejected", "file_name"]
    list_filter = ["status"]


@admin.register(InboundFile)
class InboundFileAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "insurer", "name", "kind", "status", "dispatch", "error"]
    list_filter = ["kind", "status"]
    search_fields = ["name"]


@admin.register(GatewayExchange)
class GatewayExchangeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "insurer", "operation", "idempotency_key", "response_status", "duration_ms", "error"]
    list_filter = ["operation", "response_status"]


@admin.register(InsurerEvent)
class InsurerEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "insurer", "event_id", "event_type", "outcome", "request"]
    list_filter = ["event_type", "outcome"]
