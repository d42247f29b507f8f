from django.apps import AppConfig


class TransactionsConfig(AppConfig):
    name = "transactions"
    verbose_name = "Escrow transactions"

    def ready(self) -> None:
        from audit.access import register_subject_access
        from transactions import handlers  # noqa: F401 - connects the signal receivers
        from transactions.selectors import escrow_user_is_party

        register_subject_access(
            "escrow_transaction", lambda user, subject_id: escrow_user_is_party(user=user, subject_id=subject_id)
        )
