"""Property-based tests: random sequences of operations keep every invariant and match a reference model."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from escrow_project.common.errors import DomainError
from ledger import services
from ledger.selectors import account_balance, invariants_check
from ledger.types import TransferOp

pytestmark = pytest.mark.django_db

N_ACCOUNTS = 4  # 0..2 guarded wallets, 3 unguarded
cents = st.integers(min_value=1, max_value=3000)
idx = st.integers(min_value=0, max_value=N_ACCOUNTS - 1)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("deposit"), idx, cents),
        st.tuples(st.just("transfer"), idx, idx, cents),
        st.tuples(st.just("hold"), idx, idx, cents),
        st.tuples(st.just("post"), st.integers(0, 20), st.one_of(st.none(), cents)),
        st.tuples(st.just("void"), st.integers(0, 20)),
        st.tuples(st.just("reverse"), st.integers(0, 20)),
        st.tuples(st.just("batch"), st.lists(st.tuples(idx, idx, cents), min_size=1, max_size=4)),
        st.tuples(st.just("replay"), st.integers(0, 20)),
    ),
    max_size=18,
)


@dataclass
class Model:
    """The reference: what the four counters must be after each accepted operation."""

    pd: list[Decimal] = field(default_factory=lambda: [Decimal(0)] * N_ACCOUNTS)
    pc: list[Decimal] = field(default_factory=lambda: [Decimal(0)] * N_ACCOUNTS)
    qd: list[Decimal] = field(default_factory=lambda: [Decimal(0)] * N_ACCOUNTS)
    qc: list[Decimal] = field(default_factory=lambda: [Decimal(0)] * N_ACCOUNTS)

    def fits(self, debits: dict[int, Decimal], pending: dict[int, Decimal], credits: dict[int, Decimal]) -> bool:
        for i in range(3):  # guarded wallets
            if debits.get(i, 0) + pending.get(i, 0) > 0 and (
                self.pd[i] + debits.get(i, 0) + self.qd[i] + pending.get(i, 0) > self.pc[i] + credits.get(i, 0)
            ):
                return False
        return True


def _attempt(call):
    """(result, None) on success, (None, error code) when the service refused."""
    try:
        return call(), None
    except DomainError as exc:
        return None, exc.code


def _amount(c: int) -> Decimal:
    return Decimal(c) / 100


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_random_operations_keep_invariants_and_match_the_model(ops):
    with transaction.atomic():
        _run(ops)
        transaction.set_rollback(True)  # each example starts from empty books


def _run(ops):
    accounts = [
        services.account_open(
            owner_type="prop",
            owner_id=str(i),
            purpose="wallet",
            currency="USD",
            normal_side="credit",
            no_overdraft=i < 3,
        ).pk
        for i in range(N_ACCOUNTS)
    ]
    model = Model()
    for i in range(3):  # start funded so that holds and transfers mostly succeed and are worth checking
        services.deposit_record(
            idempotency_key=f"seed{i}", account_id=accounts[i], amount=Decimal("40.00"), currency="USD"
        )
        model.pc[i] += Decimal("40.00")
    holds: list[tuple[int, int, int, Decimal]] = []  # (hold id, debit idx, credit idx, amount) still pending
    entries: list[tuple[int, list[tuple[int, str, Decimal]]]] = []  # (entry id, [(idx, side, amount)])
    reversed_ids: set[int] = set()
    hold_posts: set[int] = set()  # part of a hold's lifecycle: an operator may not reverse them
    done_keys: list[tuple[str, dict]] = []

    for n, op in enumerate(ops):
        key = f"p{n}"
        kind = op[0]
        if kind == "deposit":
            _, a, c = op
            services.deposit_record(idempotency_key=key, account_id=accounts[a], amount=_amount(c), currency="USD")
            model.pc[a] += _amount(c)
            entries.append((-1, []))  # the clearing account is outside the model; not reversible here
        elif kind in ("transfer", "hold"):
            _, a, b, c = op
            amount = _amount(c)
            if a == b:
                with pytest.raises(DomainError, match="different accounts"):
                    services.transfer_create(
                        idempotency_key=key,
                        debit_account_id=accounts[a],
                        credit_account_id=accounts[b],
                        amount=amount,
                        currency="USD",
                    )
                continue
            posted = kind == "transfer"
            ok = model.fits({a: amount} if posted else {}, {} if posted else {a: amount}, {})
            kwargs = {
                "idempotency_key": key,
                "debit_account_id": accounts[a],
                "credit_account_id": accounts[b],
                "amount": amount,
                "currency": "USD",
            }
            service = services.transfer_create if posted else services.hold_create
            result, refused = _attempt(lambda service=service, kwargs=kwargs: service(**kwargs))
            if refused:
                assert not ok, refused
                assert refused == "insufficient_funds"
                continue
            assert ok, f"{kind} of {amount} from {a} should have been refused"
            done_keys.append((kind, kwargs))
            if posted:
                model.pd[a] += amount
                model.pc[b] += amount
                entries.append((result.pk, [(a, "debit", amount), (b, "credit", amount)]))
            else:
                model.qd[a] += amount
                model.qc[b] += amount
                holds.append((result.pk, a, b, amount))
        elif kind in ("post", "void") and holds:
            hold_id, a, b, amount = holds.pop(op[1] % len(holds))
            if kind == "post":
                part = amount if op[2] is None else min(_amount(op[2]), amount)
                entry = services.hold_post(hold_id=hold_id, idempotency_key=key, amount=part)
                model.pd[a] += part
                model.pc[b] += part
                entries.append((entry.pk, [(a, "debit", part), (b, "credit", part)]))
                hold_posts.add(entry.pk)
                with pytest.raises(DomainError) as caught:
                    services.hold_void(hold_id=hold_id, idempotency_key=key + "-late")
                assert caught.value.code == "hold_already_resolved"
            else:
                services.hold_void(hold_id=hold_id, idempotency_key=key)
            model.qd[a] -= amount
            model.qc[b] -= amount
        elif kind == "reverse" and entries:
            entry_id, lines = entries[op[1] % len(entries)]
            if entry_id < 0 or entry_id in reversed_ids:
                continue
            if entry_id in hold_posts:
                _, refused = _attempt(
                    lambda entry_id=entry_id, key=key: services.entry_reverse(
                        entry_id=entry_id, idempotency_key=key, reason="property test"
                    )
                )
                assert refused == "entry_not_reversible"
                continue
            debits = {i: amt for i, side, amt in lines if side == "credit"}
            credits = {i: amt for i, side, amt in lines if side == "debit"}
            ok = model.fits(debits, {}, credits)
            _, refused = _attempt(
                lambda entry_id=entry_id, key=key: services.entry_reverse(
                    entry_id=entry_id, idempotency_key=key, reason="property test"
                )
            )
            if refused:
                assert not ok, refused
                assert refused == "insufficient_funds"
                continue
            assert ok
            reversed_ids.add(entry_id)
            for i, amt in debits.items():
                model.pd[i] += amt
            for i, amt in credits.items():
                model.pc[i] += amt
        elif kind == "batch":
            legs = [(a, b, _amount(c)) for a, b, c in op[1] if a != b]
            if not legs:
                continue
            ok = True
            trial = Model(list(model.pd), list(model.pc), list(model.qd), list(model.qc))
            for a, b, amount in legs:  # each operation is checked in order against the state before it
                ok = ok and trial.fits({a: amount}, {}, {})
                trial.pd[a] += amount
                trial.pc[b] += amount
            batch = [TransferOp(accounts[a], accounts[b], amount, "USD") for a, b, amount in legs]
            _, refused = _attempt(
                lambda key=key, batch=batch: services.batch_execute(idempotency_key=key, operations=batch)
            )
            if refused:
                assert not ok, refused
                assert refused == "insufficient_funds"
                continue
            assert ok
            model = trial
        elif kind == "replay" and done_keys:
            what, kwargs = done_keys[op[1] % len(done_keys)]
            service = services.transfer_create if what == "transfer" else services.hold_create
            service(**kwargs)  # same key, same content: no second effect (checked by the model below)
            with pytest.raises(DomainError) as caught:
                service(**{**kwargs, "amount": kwargs["amount"] + Decimal("0.01")})
            assert caught.value.code == "idempotency_conflict"

        for i, account_id in enumerate(accounts):
            balance = account_balance(account_id=account_id)
            assert (balance.posted_debits, balance.posted_credits, balance.pending_debits, balance.pending_credits) == (
                model.pd[i],
                model.pc[i],
                model.qd[i],
                model.qc[i],
            ), (n, op)
            if i < 3:
                assert balance.available >= 0
    report = invariants_check()
    assert report.ok, report.breaches
