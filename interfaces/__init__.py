"""How people and machines reach ProVoice: the `provoice` CLI (`cli/`), the HTTP API (`api/`) and
`make demo` (`demo`). Nothing below this layer imports it."""
