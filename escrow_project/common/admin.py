"""Operator-console building blocks shared by every app's admin (docs/decisions/0902-operator-console.md).

- `ConsoleAdmin`: the unfold ModelAdmin every app's admin derives from. No bulk-action dropdown:
  every change is a button on the object's page (`object_actions`), which opens a confirmation page
  saying exactly what will happen and asks for a reason; the effect runs through the owning app's
  service and the reason goes to the audit trail (`console_action_performed`, recorded by audit).
- `ReadOnlyAdmin`: rows only their app's services write: viewable, never added, saved or deleted.
- `register_subject`: how an audit row's subject (subject_type + subject_id) finds its admin page.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin, StackedInline, TabularInline
from unfold.widgets import UnfoldAdminTextareaWidget

from escrow_project.common.display import describe_money
from escrow_project.common.errors import DomainError
from escrow_project.common.signals import console_action_performed

__all__ = [
    "ConsoleAdmin",
    "ConsoleStackedInline",
    "ConsoleTabularInline",
    "ObjectAction",
    "QueueFilter",
    "ReadOnlyAdmin",
    "ReadOnlyInline",
    "ReasonForm",
    "actor_link",
    "actor_user",
    "actor_users",
    "console_money",
    "object_action",
    "register_subject",
    "subject_admin_url",
    "subject_admin_urls",
]

REASON_MIN_LENGTH = 5
MONEY_PREFIX = "money__"


class ReasonForm(forms.Form):
    """What every console action asks for: why. Actions that need more (an amount) subclass it."""

    reason = forms.CharField(
        min_length=REASON_MIN_LENGTH,
        max_length=300,
        strip=True,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        help_text="Required. Recorded in the audit trail under your name, with what was done.",
    )

    def extra_details(self) -> dict[str, Any]:
        """Fields besides the reason that go into the audit event (strings, as entered)."""
        return {name: str(value) for name, value in self.cleaned_data.items() if name != "reason"}


def console_money(amount: Any, currency: str) -> str:
    """Money on a console page (a row with a currency the kernel does not know still shows)."""
    return describe_money(amount, currency)


def _always(obj: Any) -> bool:
    return True


@dataclass(frozen=True)
class ObjectAction:
    """One button on an object's page. `perform(admin, request, obj, form)` calls a service and
    returns the message shown afterwards; `describe(obj)` is the sentence the confirmation page shows."""

    name: str
    label: str
    perform: Callable[..., str]
    describe: Callable[[Any], str]
    available: Callable[[Any], bool] = _always
    danger: bool = False
    # False for services that talk to the outside world (a rail) and so must not run inside our
    # transaction: the reason is then recorded first, and a refusal is recorded after it.
    atomic: bool = True
    form: type[ReasonForm] = ReasonForm
    confirm_label: str = ""
    icon: str | None = None


def object_action(
    *,
    label: str,
    describe: Callable[[Any], str],
    available: Callable[[Any], bool] = _always,
    danger: bool = False,
    atomic: bool = True,
    form: type[ReasonForm] = ReasonForm,
    confirm_label: str = "",
) -> Callable[[Callable[..., str]], ObjectAction]:
    """Declare a ModelAdmin method as an object-page action (list its name in `object_actions`)."""

    def decorate(func: Callable[..., str]) -> ObjectAction:
        return ObjectAction(
            name=func.__name__,
            label=label,
            perform=func,
            describe=describe,
            available=available,
            danger=danger,
            atomic=atomic,
            form=form,
            confirm_label=confirm_label,
        )

    return decorate


class MoneyDisplayMixin:
    """Amounts shown as money ("$400,000.00") in the currency found at `money_currency`, a dotted
    path on the row, where the page only reads them (a form keeps the number)."""

    model: Any
    money_fields: Sequence[str] = ()
    money_currency: str = "currency"

    def __getattr__(self, name: str) -> Any:
        if name.startswith(MONEY_PREFIX) and name[len(MONEY_PREFIX) :] in type(self).money_fields:
            return self._money_display(name[len(MONEY_PREFIX) :])
        raise AttributeError(name)

    def _money_display(self, field_name: str) -> Callable[[Any], str]:
        label = str(self.model._meta.get_field(field_name).verbose_name)

        @admin.display(description=label[:1].upper() + label[1:])
        def show(obj: Any) -> str:
            currency: Any = obj
            for part in self.money_currency.split("."):
                currency = getattr(currency, part, None)
            value = getattr(obj, field_name)
            return "—" if value is None else console_money(value, str(currency or ""))

        return show


class ConsoleAdmin(MoneyDisplayMixin, ModelAdmin):
    """The base of every console page: unfold's look, actions as confirmed buttons, never a dropdown."""

    actions = None  # no one-click bulk actions (and no bulk delete): see `object_actions`
    object_actions: Sequence[str] = ()
    compressed_fields = True
    warn_unsaved_form = True
    change_form_before_template = "admin/common/object_actions.html"

    def _money_view(self, request: HttpRequest, obj: Any) -> bool:
        return bool(obj is not None and self.money_fields and not self.has_change_permission(request, obj))

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if not self._money_view(request, obj):
            return fieldsets
        swap = {name: f"{MONEY_PREFIX}{name}" for name in self.money_fields}
        return [(title, {**opts, "fields": [swap.get(f, f) if isinstance(f, str) else f for f in opts["fields"]]})
                for title, opts in fieldsets]  # fmt: skip

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        if self._money_view(request, obj):
            readonly += [f"{MONEY_PREFIX}{name}" for name in self.money_fields]
        return readonly

    # --- object actions -------------------------------------------------------------------
    def _object_action(self, name: str) -> ObjectAction | None:
        if name not in self.object_actions:
            return None
        spec = getattr(type(self), name, None)
        return spec if isinstance(spec, ObjectAction) else None

    def may_act(self, request: HttpRequest, obj: Any) -> bool:
        """Who sees and may press the buttons: active staff who may view the row. The service then
        applies the business rules (operators only, four eyes) and its refusal is shown."""
        user: Any = request.user
        return bool(user.is_active and user.is_staff and self.has_view_permission(request, obj))

    def available_actions(self, request: HttpRequest, obj: Any) -> list[ObjectAction]:
        if obj is None or not self.may_act(request, obj):
            return []
        specs = [self._object_action(name) for name in self.object_actions]
        return [spec for spec in specs if spec is not None and spec.available(obj)]

    def _action_url_name(self) -> str:
        return f"{self.model._meta.app_label}_{self.model._meta.model_name}_console_action"

    def action_url(self, obj: Any, name: str) -> str:
        return reverse(f"{self.admin_site.name}:{self._action_url_name()}", args=[quote(obj.pk), name])

    def get_urls(self) -> list[URLPattern]:
        urls: list[URLPattern] = super().get_urls()
        action = path(
            "<path:object_id>/do/<str:action>/",
            self.admin_site.admin_view(self.console_action_view),
            name=self._action_url_name(),
        )
        return [action, *urls]

    def render_change_form(self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        obj = kwargs.get("obj")
        # A panel at the top of the row's page (change_form_before_template), not unfold's header
        # tabs: those fold away behind a menu on a phone.
        context["console_actions"] = [
            {"title": spec.label, "path": self.action_url(obj, spec.name), "name": spec.name, "danger": spec.danger}
            for spec in self.available_actions(request, obj)
        ]
        return super().render_change_form(request, context, *args, **kwargs)

    def _change_url(self, obj: Any) -> str:
        opts = self.model._meta
        return reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[quote(obj.pk)])

    def console_action_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        """GET: what will happen, and a reason box. POST with a reason: do it through the service."""
        spec = self._object_action(action)
        if spec is None:
            raise Http404("No such action.")
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404("No such object.")
        if not self.may_act(request, obj):
            raise PermissionDenied
        back = self._change_url(obj)
        if not spec.available(obj):
            self.message_user(request, f"“{spec.label}” does not apply to {obj} as it is now.", messages.WARNING)
            return HttpResponseRedirect(back)
        form = spec.form(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                done = self._perform(request, obj, spec, form)
            except DomainError as exc:
                self.message_user(request, f"Refused: {exc.detail}", messages.ERROR)
            else:
                self.message_user(request, done, messages.SUCCESS)
            return HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": obj,
            "title": spec.label,
            "action": spec,
            "summary": spec.describe(obj),
            "form": form,
            "back_url": back,
            "confirm_label": spec.confirm_label or f"Confirm: {spec.label}",
        }
        status = 400 if request.method == "POST" else 200
        return TemplateResponse(request, "admin/common/confirm_action.html", context, status=status)

    def _perform(self, request: HttpRequest, obj: Any, spec: ObjectAction, form: ReasonForm) -> str:
        details = {"summary": spec.describe(obj), **form.extra_details()}
        reason = form.cleaned_data["reason"]

        def record(outcome: str, **more: Any) -> None:
            console_action_performed.send(
                sender=type(obj), instance=obj, action=spec.name, label=spec.label, operator=request.user,
                reason=reason, outcome=outcome, details={**details, **more},
            )  # fmt: skip

        if spec.atomic:
            # The effect and its reason commit together, or neither does.
            with transaction.atomic():
                done = spec.perform(self, request, obj, form)
                record("done")
            return done
        record("requested")
        try:
            return spec.perform(self, request, obj, form)
        except DomainError as exc:
            record("refused", refusal=exc.detail)
            raise


class QueueFilter(admin.SimpleListFilter):
    """The work queues of a list, as the dashboard links to them (`?queue=<key>`): a subclass names
    each queue's label and the condition of its rows (a callable: "now" moves)."""

    title = "work queue"
    parameter_name = "queue"
    queues: dict[str, tuple[str, Callable[[], models.Q]]] = {}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, label) for key, (label, _condition) in self.queues.items()]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        queue = self.queues.get(self.value() or "")
        return queryset.filter(queue[1]()) if queue else queryset


class NoWritesMixin:
    """No add, change or delete permission: the page opens in view mode (no Save, no Delete) and a
    forged POST is refused."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(NoWritesMixin, ConsoleAdmin):
    """Rows written only by their app's services: the console reads them and acts through buttons."""


class ConsoleTabularInline(TabularInline):
    pass


class ConsoleStackedInline(StackedInline):
    pass


class ReadOnlyInline(MoneyDisplayMixin, NoWritesMixin, TabularInline):
    """Child rows shown on the parent's page, never added, edited or removed there; `money_fields`
    read as money."""

    extra = 0
    can_delete = False

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        swap = {name: f"{MONEY_PREFIX}{name}" for name in self.money_fields}
        return [swap.get(f, f) for f in super().get_fields(request, obj)]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*super().get_readonly_fields(request, obj), *(f"{MONEY_PREFIX}{n}" for n in self.money_fields)]


def actor_users(actors: Iterable[str]) -> dict[str, Any]:
    """The users behind actor strings ("user:<public id>" or "user:<pk>"), two queries for a page
    of them. Through the auth model setting, so the kernel names no app."""
    by_pk: dict[int, str] = {}
    by_public_id: dict[uuid.UUID, str] = {}
    for actor in set(actors):
        kind, _, ref = str(actor or "").partition(":")
        if kind != "user" or not ref:
            continue
        if ref.isdigit():
            by_pk[int(ref)] = actor
            continue
        try:
            by_public_id[uuid.UUID(ref)] = actor
        except ValueError:
            continue
    users = get_user_model()._default_manager
    found: dict[str, Any] = {}
    if by_pk:
        found.update({by_pk[user.pk]: user for user in users.filter(pk__in=by_pk)})
    if by_public_id:
        found.update({by_public_id[user.public_id]: user for user in users.filter(public_id__in=by_public_id)})
    return found


def actor_user(actor: str) -> Any:
    """The user behind one actor string, or None."""
    return actor_users([actor]).get(actor)


def actor_link(actor: str, site: admin.AdminSite | None = None, known: dict[str, Any] | None = None) -> str:
    """An actor as operators read it: the person's username linked to them, else the actor as stored.
    `known` is the result of `actor_users` for the page (saves a query per row)."""
    user = known.get(actor) if known is not None else actor_user(actor)
    if user is None:
        return str(actor or "")
    opts = user._meta
    url = reverse(f"{(site or admin.site).name}:{opts.app_label}_{opts.model_name}_change", args=[quote(user.pk)])
    return format_html('<a href="{}">{}</a>', url, user.get_username())


def console_site_setup(site: admin.AdminSite | None = None) -> None:
    """Once every admin is registered: the index is the dashboard, and no bulk dropdown remains."""
    site = site or admin.site
    site.index_title = "Dashboard"
    console_without_bulk_actions(site)


def console_without_bulk_actions(site: admin.AdminSite | None = None) -> None:
    """No one-click dropdown anywhere in the console: not the site-wide "delete selected", nor the
    actions of the third-party pages (periodic tasks' "run", login records' "delete"). Their rows are
    still opened and changed one by one, each with its own confirmation page."""
    site = site or admin.site
    if any(name == "delete_selected" for name, _ in site.actions):
        site.disable_action("delete_selected")
    for model_admin in site._registry.values():
        model_admin.actions = None


# --- audit subjects -> admin pages ----------------------------------------------------------
# The audit app sits below the apps that own the subjects, so each app's admin declares how its
# subject types are found: subject_type -> (model, the field subject_id holds, or a fixed object).
_SUBJECTS: dict[str, tuple[type[models.Model], str]] = {}


def register_subject(subject_type: str, model: type[models.Model], lookup: str = "pk") -> None:
    """`lookup` is the model field the audit subject_id holds ("public_id", "pk"), or "=<pk>" for a
    subject that is always one row (the platform control)."""
    _SUBJECTS[subject_type] = (model, lookup)


def subject_admin_url(subject_type: str, subject_id: str, site: admin.AdminSite | None = None) -> str | None:
    """The admin change page of an audit subject, or None when it has none (or no longer exists)."""
    return subject_admin_urls([(subject_type, str(subject_id))], site).get((subject_type, str(subject_id)))


def subject_admin_urls(
    subjects: Iterable[tuple[str, str]], site: admin.AdminSite | None = None
) -> dict[tuple[str, str], str]:
    """Admin change pages of audit subjects, one query per subject type on the page."""
    site = site or admin.site
    by_type: dict[str, set[str]] = {}
    for subject_type, subject_id in subjects:
        by_type.setdefault(subject_type, set()).add(str(subject_id))
    urls: dict[tuple[str, str], str] = {}
    for subject_type, ids in by_type.items():
        model, lookup = _SUBJECTS.get(subject_type) or _generic_subject(subject_type, site) or (None, "")
        if model is None:
            continue
        for subject_id, pk in _subject_pks(model, lookup, ids).items():
            opts = model._meta
            try:
                urls[(subject_type, subject_id)] = reverse(
                    f"{site.name}:{opts.app_label}_{opts.model_name}_change", args=[quote(pk)]
                )
            except NoReverseMatch:
                continue
    return urls


def _subject_pks(model: type[models.Model], lookup: str, ids: set[str]) -> dict[str, Any]:
    if lookup.startswith("="):
        return dict.fromkeys(ids, lookup[1:])
    field = model._meta.pk if lookup == "pk" else model._meta.get_field(lookup)
    valid = set()
    for subject_id in ids:
        try:
            field.to_python(subject_id)  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001, S112 - an id of another shape (a UUID field given "payouts") has no page
            continue
        valid.add(subject_id)
    if not valid:
        return {}
    rows = model._default_manager.filter(**{f"{lookup}__in": valid}).values_list(lookup, "pk")
    return {str(key): pk for key, pk in rows}


def _generic_subject(subject_type: str, site: admin.AdminSite) -> tuple[type[models.Model], str] | None:
    # Console events use "<app_label>_<model_name>" and the row's primary key (as the reveal does).
    for model in site._registry:
        if model._meta.label_lower.replace(".", "_") == subject_type:
            return model, "pk"
    return None
