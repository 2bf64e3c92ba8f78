"""`provoice credits`: the local account's balance, grants and ledger."""

from decimal import Decimal

import typer

from interfaces.cli.context import local_account, open_catalog
from interfaces.cli.output import command, out
from provoice.views import BalanceView, CreditEntryView

app = typer.Typer(help="Your credit balance and ledger.", no_args_is_help=True)


def _render_balance(view: BalanceView, prefix: str = "") -> None:
    from provoice.credits import format_credits

    def fmt(value: float) -> str:
        return format_credits(Decimal(str(value)))

    out.print(
        f"{prefix}available: {fmt(view.available)} credits (balance {fmt(view.balance)}, "
        f"held for PVCs in progress {fmt(view.held)})"
    )


def _render_granted(view: BalanceView) -> None:
    _render_balance(view, prefix="granted; ")


@command(app, "balance", render=_render_balance)
def balance() -> BalanceView:
    """The account's balance."""
    from provoice.credits import account_balance

    catalog = open_catalog()
    return BalanceView.of(account_balance(catalog, local_account(catalog)))


@command(app, "grant", render=_render_granted)
def grant(amount: float) -> BalanceView:
    """Add credits to the local account (an operator action)."""
    from provoice.credits import account_balance
    from provoice.credits import grant as add_credits
    from provoice.errors import InvalidSource

    catalog = open_catalog()
    account = local_account(catalog)
    try:
        add_credits(catalog, account, Decimal(str(amount)))
    except ValueError as exc:
        raise InvalidSource(str(exc)) from None
    return BalanceView.of(account_balance(catalog, account))


def _render_history(rows: list[CreditEntryView]) -> None:
    from provoice.credits import format_credits

    for r in rows:
        out.print(
            f"{r.created_at.isoformat()}  {r.kind:<13} {format_credits(Decimal(str(r.credits))):>12}  "
            f"{r.reference or ''}",
            markup=False,
        )


@command(app, "history", render=_render_history)
def history() -> list[CreditEntryView]:
    """The account's ledger, oldest first."""
    from provoice.credits import history as ledger

    catalog = open_catalog()
    return [CreditEntryView.of(e) for e in ledger(catalog, local_account(catalog))]
