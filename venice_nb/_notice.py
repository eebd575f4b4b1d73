"""The "no API key: local backend" notice, shown so that saved notebooks stay stable.

In a terminal or a script it is a logging warning that names the backend's URL. In a notebook it
is a neutral note without the URL: the port changes on every run, and a warning would be stored
as a red stderr box in every tutorial that runs offline on purpose.
"""

from __future__ import annotations

import logging
import sys

from ._constants import API_KEY_ENV

log = logging.getLogger("venice_nb")

_TEXT = (
    "venice_nb: no {env} set, using the offline local backend (simulated edits, no cost). "
    "Set {env} to use Venice."
)


def local_backend_notice(url: str) -> None:
    """Tell the user that edits are simulated: a note in a notebook, a warning elsewhere."""
    if in_notebook():
        from IPython.display import display

        text = _TEXT.format(env=API_KEY_ENV)
        markdown = text.replace(API_KEY_ENV, f"`{API_KEY_ENV}`").replace("venice_nb:", "ℹ️")
        display({"text/markdown": markdown, "text/plain": text}, raw=True)
        log.info("local backend at %s", url)
        return
    log.warning(
        "venice_nb: no %s set, using the offline local backend at %s "
        "(simulated edits, no cost). Set %s to use Venice.",
        API_KEY_ENV, url, API_KEY_ENV,
    )


def in_notebook() -> bool:
    """True in a Jupyter kernel (a notebook or console attached to one), where rich output
    shows; not in a terminal IPython or a script."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"
