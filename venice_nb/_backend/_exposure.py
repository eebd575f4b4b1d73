"""Who may use a local backend served beyond loopback (``venice-nb serve --host``).

On loopback only this machine can connect, so the backend stays open (no key needed). Bound to
any other address it is reachable from the network: then it requires the key given in
``VENICE_NB_SERVE_KEY`` unless auth is switched off explicitly. URL fetching for remote callers
is a separate switch (see ``_inputs.fetch_refusal``).
"""

from __future__ import annotations

from .._errors import ValidationError
from .._net import is_loopback_host

SERVE_KEY_ENV = "VENICE_NB_SERVE_KEY"


def serve_auth(host: str, require_auth: bool | None, key: str | None) -> frozenset[str]:
    """The keys the server accepts (empty: any key, or none if auth is off) for a bind address,
    the ``--require-auth/--no-require-auth`` choice (None: not given) and the configured key."""
    if key:
        return frozenset((key,))
    exposed = not is_loopback_host(host)
    if exposed and require_auth is not False:
        raise ValidationError(
            f"serving on {host} makes the backend reachable from other machines, so it needs "
            "a key",
            action=f"set {SERVE_KEY_ENV} to a secret and send it as 'Authorization: Bearer "
            "<key>', or pass --no-require-auth to let anyone who can reach the port use it",
            field="host",
        )
    return frozenset()
