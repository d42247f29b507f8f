from django.apps import AppConfig


class TransactionsConfig(AppConfig):
    name = "transactions"
    verbose_name = "Escrow transactions"

    def ready(self) -> None:
        from transactions import handlers  # noqa: F401 - connects the signal receivers
