"""The HTTP clients and what only they use: request building, retries that follow the server's
hints, the per-caller failure guard, legacy-id aliases and the account asks."""

from ._account import AccountLimits, Balance
from ._client import AsyncClient, Client
from ._request import PreparedRequest

__all__ = ["AccountLimits", "AsyncClient", "Balance", "Client", "PreparedRequest"]
