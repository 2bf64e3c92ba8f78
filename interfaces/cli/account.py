"""`provoice account`: API keys for the HTTP API: create one, list them, revoke one."""

import typer

from interfaces.cli.context import local_account, open_catalog
from interfaces.cli.output import command, out, say
from provoice.views import ApiKeyCreated, ApiKeyView

app = typer.Typer(help="Accounts and their API keys.", no_args_is_help=True)
keys = typer.Typer(help="The API keys of an account: list, revoke.", no_args_is_help=True)
app.add_typer(keys, name="keys")
ACCOUNT_OPTION = typer.Option(None, "--account", help="account id; default: the local account")


def _render(key: ApiKeyCreated) -> None:
    out.print(f"API key {key.key_id} for account {key.account_id}:", highlight=False)
    out.print(key.secret, markup=False, highlight=False, soft_wrap=True)
    say("Store it now: it cannot be shown again. Send it in the X-API-Key header.")


@command(app, "create-key", render=_render)
def create_key(account: str | None = ACCOUNT_OPTION) -> ApiKeyCreated:
    """Create an API key for the HTTP API; its secret is shown this once and only its hash is stored."""
    from provoice.accounts import create_api_key

    catalog = open_catalog()
    account_id = account or local_account(catalog)
    key_id, secret = create_api_key(catalog, account_id)
    return ApiKeyCreated(account_id=account_id, key_id=key_id, secret=secret)


def _key_line(key: ApiKeyView) -> str:
    state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M} UTC" if key.revoked_at else "active"
    return f"{key.key_id}  {key.prefix}…  created {key.created_at:%Y-%m-%d %H:%M} UTC  {state}"


def _render_keys(rows: list[ApiKeyView]) -> None:
    for key in rows:
        out.print(_key_line(key), markup=False, highlight=False)
    if not rows:
        say("no API keys; `provoice account create-key` makes one")


@command(keys, "list", render=_render_keys)
def list_keys(account: str | None = ACCOUNT_OPTION) -> list[ApiKeyView]:
    """The account's API keys, oldest first: id, the secret's first characters, and whether revoked."""
    from provoice.accounts import get_account, list_api_keys

    catalog = open_catalog()
    account_id = get_account(catalog, account).id if account else local_account(catalog)
    return [ApiKeyView.of(k) for k in list_api_keys(catalog, account_id)]


def _render_revoked(key: ApiKeyView) -> None:
    out.print(
        f"revoked API key {key.key_id} ({key.prefix}…) of account {key.account_id}; requests with it "
        "are refused from now on",
        markup=False,
        highlight=False,
    )


@command(keys, "revoke", render=_render_revoked)
def revoke_key(key_id: str = typer.Argument(..., help="the key's id (`provoice account keys list`)")) -> ApiKeyView:
    """Revoke an API key for good (an operator action, for any account); revoking it again changes nothing."""
    from provoice.accounts import revoke_api_key

    return ApiKeyView.of(revoke_api_key(open_catalog(), key_id))
