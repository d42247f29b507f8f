"""Operator console for endorsements. Status is read-only; actions call services."""

from __future__ import annotations

import datetime
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

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
from endorsements.states import RequestState
from escrow_project.common.admin import ReadOnlyAdmin
from escrow_project.common.errors import DomainError, UnprocessableError


class RateCardInline(admin.TabularInline[Any, Any]):
    model = RateCard
    extra = 0


class CensusUploadForm(forms.Form):
    file = forms.FileField(help_text="CSV, streamed to disk and imported in the background.")


@admin.register(GroupPolicy)
class GroupPolicyAdmin(admin.ModelAdmin[Any]):
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
            try:
                census = onboarding.census_create(
                    policy=policy, user=cast(Any, request.user), upload=form.cleaned_data["file"]
                )
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


@admin.register(InsurerProfile)
class InsurerProfileAdmin(admin.ModelAdmin[Any]):
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
                run, created = _statement_import(profile.insurer, data, actor)
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
class InsurerCallbackSecretAdmin(admin.ModelAdmin[Any]):
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


@admin.register(EndorsementAccount)
class EndorsementAccountAdmin(admin.ModelAdmin[Any]):
    list_display = ["employer", "currency", "ledger_account_id", "low_balance_threshold", "created_at"]
    readonly_fields = ["employer", "currency", "ledger_account_id", "created_at"]
    actions = ["wake_now"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Wake parked requests now (lock what the balance allows)")
    def wake_now(self, request: HttpRequest, queryset: QuerySet[EndorsementAccount]) -> None:
        for ea in queryset:
            result = funding.ea_drain(employer_id=ea.employer_id, currency=ea.currency, actor=f"user:{request.user.pk}")
            self.message_user(request, f"{ea}: {result.locked} locked, {result.parked} parked.")


class _RequestAdmin(ReadOnlyAdmin):
    list_display = [
        "tracking_id",
        "employer",
        "kind",
        "direction",
        "amount",
        "currency",
        "effective_date",
        "state",
        "attempts",
        "created_at",
    ]
    list_filter = ["state", "kind", "direction", "source", "insurer"]
    search_fields = ["tracking_id", "insurer_reference"]
    exclude = ["content_hash"]
    actions = ["retry", "cancel", "wake_now"]

    def _run(self, request: HttpRequest, queryset: QuerySet[EndorsementRequest], call: Any, verb: str) -> None:
        done, refused = 0, []
        for obj in queryset:
            try:
                call(obj)
                done += 1
            except DomainError as exc:
                refused.append(f"{obj.tracking_id}: {exc.detail}")
        self.message_user(request, f"{done} {verb}.")
        for line in refused[:20]:
            self.message_user(request, line, level=messages.WARNING)

    @admin.action(description="Retry (dead letters go back to the next window)")
    def retry(self, request: HttpRequest, queryset: QuerySet[EndorsementRequest]) -> None:
        actor = f"user:{request.user.pk}"
        self._run(request, queryset, lambda o: lifecycle.request_retry(request_id=o.pk, actor=actor), "requeued")

    @admin.action(description="Cancel (void any hold)")
    def cancel(self, request: HttpRequest, queryset: QuerySet[EndorsementRequest]) -> None:
        actor = f"user:{request.user.pk}"
        self._run(
            request,
            queryset,
            lambda o: lifecycle.request_cancel(request_id=o.pk, reason="Cancelled by an operator.", actor=actor),
            "cancelled",
        )

    @admin.action(description="Wake now (try to lock funds for these employers)")
    def wake_now(self, request: HttpRequest, queryset: QuerySet[EndorsementRequest]) -> None:
        actor = f"user:{request.user.pk}"
        for employer_id, currency in set(queryset.values_list("employer_id", "currency")):
            result = funding.ea_drain(employer_id=employer_id, currency=currency, actor=actor)
            self.message_user(
                request, f"Employer {employer_id} {currency}: {result.locked} locked, {result.parked} parked."
            )


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
        if match is not None and str(match.url_name).endswith("_change"):
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
    actions = ["release", "reject"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Batch]:
        queryset = super().get_queryset(request)
        match = getattr(request, "resolver_match", None)
        if match is not None and str(match.url_name).endswith("_change"):
            return queryset  # a reviewed file's page still opens from the operator's link
        return queryset.filter(status=Batch.Status.HELD)

    def _review(self, request: HttpRequest, queryset: QuerySet[Batch], call: Any, verb: str) -> None:
        done = 0
        for batch in queryset:
            try:
                call(batch_id=batch.pk, user=request.user, note=f"{verb} in the operator console")
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{batch.public_id}: {exc.detail}", level=messages.WARNING)
        self.message_user(request, f"{done} {verb.lower()}.")

    @admin.action(description="Release (process the file as it is)")
    def release(self, request: HttpRequest, queryset: QuerySet[Batch]) -> None:
        self._review(request, queryset, velocity.batch_release, "Released")

    @admin.action(description="Reject (nothing in the file is processed)")
    def reject(self, request: HttpRequest, queryset: QuerySet[Batch]) -> None:
        self._review(request, queryset, velocity.batch_reject, "Rejected")


@admin.register(EmployerSafeguards)
class EmployerSafeguardsAdmin(admin.ModelAdmin[Any]):
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
    actions = ["stop"]

    @admin.action(description="Stop delivering (dead letter: its requests can then be cancelled or rerouted)")
    def stop(self, request: HttpRequest, queryset: QuerySet[Dispatch]) -> None:
        actor = f"user:{request.user.pk}"
        stopped = [dispatch.dispatch_stop(dispatch_id=d.pk, actor=actor) for d in queryset]
        dead = sum(1 for d in stopped if d.status == Dispatch.Status.DEAD_LETTER)
        self.message_user(request, f"{dead} of {len(stopped)} deliveries stopped.")


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
