"""What a person's terminal shows while flows run: the command's own output, not Prefect's logs.

Flow and task runs still log at INFO to the Prefect API (the UI shows every line); only Prefect's
console handler is quietened. Prefect reads these when it configures logging on import, so they
are set before anything imports it; a user's own setting wins.
"""

import os


def quiet_prefect_console() -> None:
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
