"""The hosted services' APIs, answered with ProVoice's voices, so their official clients work by
changing a base URL: OpenAI under `/v1`, Cartesia under `/cartesia`, ElevenLabs under `/elevenlabs`.

Each module maps one service's requests onto ProVoice's own services and answers in that service's
shapes (errors included); speech goes through `interfaces.api.speech`, so the money rules are
those of `POST /tts`.
"""

from interfaces.api.compat import cartesia, elevenlabs, openai

ROUTERS = (openai.router, cartesia.router, elevenlabs.router)

#: The compatible routes' own sections in /docs, each saying which base URL its client takes.
OPENAPI_TAGS = [
    {
        "name": "OpenAI-compatible",
        "description": '`OpenAI(base_url="http://HOST:PORT/v1", api_key=KEY)`: speech with a ProVoice voice id '
        "as `voice`; errors in OpenAI's shape.",
    },
    {
        "name": "Cartesia-compatible",
        "description": '`Cartesia(base_url="http://HOST:PORT/cartesia", api_key=KEY)`: speech, voices, datasets '
        "and fine-tunes (which wait for the speaker's consent); errors in Cartesia's shape.",
    },
    {
        "name": "ElevenLabs-compatible",
        "description": '`ElevenLabs(base_url="http://HOST:PORT/elevenlabs", api_key=KEY)`: speech, voices and '
        "Professional Voice Cloning; errors in ElevenLabs' shape.",
    },
]

__all__ = ["OPENAPI_TAGS", "ROUTERS"]
