from django.apps import AppConfig


class TransactionsConfig(AppConfig):
    name = "transactions"
    verbose_name = "Escrow transactions"

    def ready(self) -> None:
        from audit.kinds import audit_kinds_register
        from escrow_project.common.subject_access import register_subject_access
        from notifications.links import register_subject_link
        from transactions import audit_kinds, handlers  # noqa: F401 - handlers connects the signal receivers
        from transactions.selectors import escrow_user_is_party

        def visible(user: object, subject_id: str) -> bool:
            return escrow_user_is_party(user=user, subject_id=subject_id)

        register_subject_access("escrow_transaction", visible)  # audit trails and live pages alike
        register_subject_link("escrow_transaction", lambda subject_id: f"/escrow/{subject_id}/")
        audit_kinds_register("transactions", audit_kinds.AUDIT_KINDS)
