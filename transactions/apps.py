from django.apps import AppConfig


class TransactionsConfig(AppConfig):
    name = "transactions"
    verbose_name = "Escrow transactions"

    def ready(self) -> None:
        from audit.access import register_subject_access
        from notifications.access import register_subject_access as register_live_access
        from notifications.links import register_subject_link
        from transactions import handlers  # noqa: F401 - connects the signal receivers
        from transactions.selectors import escrow_user_is_party

        def visible(user: object, subject_id: str) -> bool:
            return escrow_user_is_party(user=user, subject_id=subject_id)

        register_subject_access("escrow_transaction", visible)
        register_live_access("escrow_transaction", visible)
        register_subject_link("escrow_transaction", lambda subject_id: f"/escrow/{subject_id}/")
