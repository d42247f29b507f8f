"""Party-facing pages of the notifications app: a person's own preferences, one-click unsubscribe."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from escrow_project.common.errors import DomainError
from notifications.kinds import KINDS
from notifications.models import ContactPoint
from notifications.selectors import PERSON_CHANNEL_LABELS, preference_matrix_for_user
from notifications.services import preference_set, preference_unsubscribe
from notifications.unsubscribe import unsubscribe_token_read


# Any kind of person signs in at settings.LOGIN_URL (/accounts/login/), which sends them back (`next`).
@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    """Which messages the signed-in person gets, by which channel; essential kinds stay on."""
    user = request.user
    assert user.pk is not None  # login_required
    if request.method == "POST":
        changed = 0
        for row in preference_matrix_for_user(user=user):
            for cell in row["cells"]:
                wanted = request.POST.get(cell["name"]) == "on"
                # An essential cell is never written: a hand-made POST cannot turn it off either.
                if cell["locked"] or wanted == cell["on"]:
                    continue
                preference_set(user_id=user.pk, kind=row["kind"], channel=cell["channel"], enabled=wanted)
                changed += 1
        messages.success(request, "Your notification preferences are saved." if changed else "Nothing changed.")
        return redirect("notification-preferences-page")
    contact = ContactPoint.objects.filter(user_id=user.pk).first()  # the phone is encrypted: not queryable
    return render(
        request,
        "notifications/pages/preferences.html",
        {
            "rows": preference_matrix_for_user(user=user),
            "channels": list(PERSON_CHANNEL_LABELS.items()),
            "has_phone": bool(contact and contact.phone),
        },
    )


# The token is the credential and a mail client's one-click POST carries no CSRF token (RFC 8058).
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (mail scanners follow links; they must not unsubscribe anyone); POST unsubscribes."""
    try:
        if request.method == "POST":
            done = preference_unsubscribe(token=token)
            return render(
                request,
                "notifications/pages/unsubscribe.html",
                {"done": True, "description": KINDS[done.kind].description, "token": token},
            )
        wanted = unsubscribe_token_read(token)
    except DomainError as exc:
        return render(
            request, "notifications/pages/unsubscribe.html", {"error": exc.detail, "code": exc.code}, status=400
        )
    return render(
        request,
        "notifications/pages/unsubscribe.html",
        {"done": False, "description": KINDS[wanted.kind].description, "token": token},
    )
