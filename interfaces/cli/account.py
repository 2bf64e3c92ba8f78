"""`provoice account`: API keys for the HTTP API."""

from typing import Optional

import typer

from interfaces.cli.context import local_account, open_catalog
from interfaces.cli.output import command, out, say
from provoice.views import ApiKeyCreated

app = typer.Typer(help="Accounts and their API keys.", no_args_is_help=True)


def _render(key: ApiKeyCreated) -> None:
    out.print(f"API key {key.key_id} for account {key.account_id}:", highlight=False)
    out.print(key.secret, markup=False, highlight=False, soft_wrap=True)
    say("Store it now: it cannot be shown again. Send it in the X-API-Key header.")


@command(app, "create-key", render=_render)
def create_key(account: Optional[str] = typer.Option(None, "--account", help="account id; default: the local account")
               ) -> ApiKeyCreated:
    """Create an API key for the HTTP API; its secret is shown this once and only its hash is stored."""
    from provoice.accounts import create_api_key

    catalog = open_catalog()
    account_id = account or local_account(catalog)
    key_id, secret = create_api_key(catalog, account_id)
    return ApiKeyCreated(account_id=account_id, key_id=key_id, secret=secret)
