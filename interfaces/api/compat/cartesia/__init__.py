"""Cartesia's API under `/cartesia`, so Cartesia's official clients work against ProVoice by
changing their base URL (`Cartesia(api_key=KEY, base_url="http://host/cartesia",
websocket_base_url="ws://host/cartesia")`): speech as bytes, server-sent events or over a WebSocket,
voices, datasets and fine-tunes, answered by ProVoice's own services.

- A voice is a ProVoice voice id and always speaks with the model it belongs to: `model_id` is
  read and ignored (a Cartesia model name cannot move a voice to another model).
- Speech is metered by `interfaces.api.speech`: the text's cost is held first (402 when the balance
  does not cover it) and only what reached the client is charged, so the clients' retries never pay twice.
- A fine-tune is a PVC. Cartesia has no consent call, so creating one makes a PVC that starts
  training by itself once its speaker's consent is verified through the native routes; it never
  trains before. The fine-tune's `consent` field says what to do.
- Errors are Cartesia's `{error_code, title, message, request_id}` (events: `type: "error"` with
  the same fields); any `cartesia-version` header is accepted.

`router` holds every route; each module holds one family of them (`speech`, `websocket`, `voices`,
`datasets`, `fine_tunes`) and the shapes they share (`shapes`, `speech_requests`, `events`).
"""

from fastapi import APIRouter

from interfaces.api.compat.cartesia import datasets, fine_tunes, speech, voices, websocket
from interfaces.api.compat.cartesia.shapes import cartesia_error
from interfaces.api.errors import error_shape

PREFIX = "/cartesia"

#: Every Cartesia route. The prefix is given per family rather than to this router, because the
#: status route answers the bare prefix (`GET /cartesia`) and FastAPI refuses an empty path inside
#: a router included without a prefix.
router = APIRouter(tags=["Cartesia-compatible"])
router.include_router(speech.router, prefix=PREFIX)
router.include_router(websocket.router, prefix=PREFIX)
router.include_router(voices.router, prefix=PREFIX)
router.include_router(datasets.router, prefix=PREFIX)
router.include_router(fine_tunes.router, prefix=PREFIX)

error_shape(f"{PREFIX}/", cartesia_error)

__all__ = ["PREFIX", "router"]
