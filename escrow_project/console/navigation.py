"""The console's sidebar: models grouped by business (escrow, verifications, endorsements, money,
audit, notifications, identity, system) instead of Django's alphabetical list of apps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

# (group title, [(label, "app_label.model_name", material icon, badge name or "")])
GROUPS: list[tuple[str, list[tuple[str, str, str, str]]]] = [
    ("Escrow", [
        ("Transactions", "transactions.escrowtransaction", "real_estate_agent", ""),
        ("Settlements", "transactions.settlementstatement", "approval", "approvals"),
        ("Disputes", "transactions.dispute", "gavel", "disputes"),
        ("Payouts", "transactions.payment", "payments", ""),
        ("Manual deposits", "transactions.manualdeposit", "move_to_inbox", ""),
        ("Bank-detail changes", "transactions.bankdetailschange", "account_balance", ""),
        ("Payee profiles", "transactions.payeeprofile", "badge", ""),
        ("Payout pause switch", "transactions.platformcontrol", "emergency", ""),
    ]),
    ("Verifications", [
        ("Workflows", "verifications.verificationworkflow", "account_tree", ""),
        ("Tasks", "verifications.verificationtask", "task_alt", ""),
        ("Reports", "verifications.verificationreport", "description", ""),
        ("Agents", "verifications.agentprofile", "support_agent", ""),
    ]),
    ("Endorsements", [
        ("Requests", "endorsements.endorsementrequest", "list_alt", ""),
        ("Parked (short of funds)", "endorsements.parkedrequest", "hourglass_top", "parked"),
        ("Dead letters", "endorsements.deadletterrequest", "report", ""),
        ("Held files", "endorsements.heldbatch", "front_hand", ""),
        ("Batches", "endorsements.batch", "upload_file", ""),
        ("Batch rows", "endorsements.batchrow", "table_rows", ""),
        ("Dispatches", "endorsements.dispatch", "outbox", ""),
        ("Inbound files", "endorsements.inboundfile", "inbox", ""),
        ("Insurer events", "endorsements.insurerevent", "notifications_active", ""),
        ("Gateway exchanges", "endorsements.gatewayexchange", "swap_horiz", ""),
        ("Group policies", "endorsements.grouppolicy", "policy", ""),
        ("Members", "endorsements.member", "groups", ""),
        ("Coverages", "endorsements.coverage", "health_and_safety", ""),
        ("Census imports", "endorsements.censusimport", "person_add", ""),
        ("Endorsement accounts", "endorsements.endorsementaccount", "savings", ""),
        ("Employer safeguards", "endorsements.employersafeguards", "shield", ""),
        ("Insurer profiles", "endorsements.insurerprofile", "settings_ethernet", ""),
        ("Insurer callback secrets", "endorsements.insurercallbacksecret", "key", ""),
    ]),
    ("Money and ledger", [
        ("Accounts", "ledger.account", "account_balance_wallet", ""),
        ("Journal entries", "ledger.journalentry", "menu_book", ""),
        ("Holds", "ledger.hold", "lock", ""),
        ("Rail payouts", "ledger.payoutintent", "send_money", ""),
        ("Rail payments in", "ledger.railpayment", "credit_card", ""),
        ("Rail events", "ledger.railevent", "bolt", ""),
        ("Entries to approve", "ledger.operatorentryrequest", "rule", ""),
        ("Reconciliation breaks", "ledger.reconciliationbreak", "difference", "breaks"),
        ("Reconciliation runs", "ledger.reconciliationrun", "compare_arrows", ""),
        ("Reconciliation lines", "ledger.reconciliationline", "view_list", ""),
        ("Invariant runs", "ledger.invariantrun", "verified", ""),
    ]),
    ("Audit", [
        ("Audit events", "audit.auditevent", "history_edu", ""),
        ("Tree heads", "audit.treehead", "park", ""),
        ("Anchors", "audit.anchor", "anchor", ""),
    ]),
    ("Notifications", [
        ("Outbox", "notifications.notification", "mail", ""),
        ("Webhook endpoints", "notifications.webhookendpoint", "webhook", ""),
        ("Circuit breakers", "notifications.channelcircuit", "electrical_services", ""),
        ("Preferences", "notifications.notificationpreference", "tune", ""),
        ("Contact points", "notifications.contactpoint", "contact_phone", ""),
    ]),
    ("Identity", [
        ("Users", "identity.user", "person", ""),
        ("Organizations", "identity.organization", "corporate_fare", ""),
        ("Memberships and roles", "identity.membership", "group", ""),
        ("API keys", "identity.apikey", "vpn_key", ""),
        ("Groups", "auth.group", "groups_2", ""),
    ]),
    ("System", [
        ("Periodic tasks", "django_celery_beat.periodictask", "schedule", ""),
        ("Intervals", "django_celery_beat.intervalschedule", "timer", ""),
        ("Crontabs", "django_celery_beat.crontabschedule", "event_repeat", ""),
        ("Clocked", "django_celery_beat.clockedschedule", "alarm", ""),
        ("Solar events", "django_celery_beat.solarschedule", "wb_sunny", ""),
        ("Login attempts", "axes.accessattempt", "login", ""),
        ("Login failures", "axes.accessfailurelog", "no_accounts", ""),
        ("Login log", "axes.accesslog", "list", ""),
        ("Outstanding tokens", "token_blacklist.outstandingtoken", "token", ""),
        ("Blacklisted tokens", "token_blacklist.blacklistedtoken", "block", ""),
    ]),
]  # fmt: skip


def _may_view(label: str) -> Callable[[HttpRequest], bool]:
    app_label, model_name = label.split(".")

    def check(request: HttpRequest) -> bool:
        user: Any = request.user
        return bool(
            user.has_perm(f"{app_label}.view_{model_name}") or user.has_perm(f"{app_label}.change_{model_name}")
        )

    return check


def sidebar(request: HttpRequest) -> list[dict[str, Any]]:
    """UNFOLD["SIDEBAR"]["navigation"]: the dashboard first, then each business's pages."""
    from escrow_project.console import dashboard

    counts = {"approvals": dashboard.settlements_due, "disputes": dashboard.open_disputes,
              "parked": dashboard.parked_requests, "breaks": dashboard.open_breaks}  # fmt: skip
    groups: list[dict[str, Any]] = [
        {"title": "Work", "separator": False, "items": [
            {"title": "Dashboard", "icon": "dashboard", "link": reverse("admin:index")},
        ]},
    ]  # fmt: skip
    for title, items in GROUPS:
        entries = []
        for label, model, icon, badge in items:
            app_label, model_name = model.split(".")
            entry: dict[str, Any] = {
                "title": label,
                "icon": icon,
                "link": reverse(f"admin:{app_label}_{model_name}_changelist"),
                "permission": _may_view(model),
            }
            count = counts[badge]() if badge else 0
            if count:  # a plain count: unfold shows a badge for any non-empty value, even "0"
                entry["badge"] = str(count)
            entries.append(entry)
        groups.append({"title": title, "separator": True, "collapsible": title == "System", "items": entries})
    return groups
