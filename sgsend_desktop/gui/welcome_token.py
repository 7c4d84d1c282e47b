"""Welcome links (``…/welcome/#ID/KEY``): the access token they carry, for the window to import.

The window asks ``plan.question`` first; ``collect`` (blocking: network and a key derivation, so on the
BackgroundRunner) fetches the token as the web UI's welcome page does and asks the server's
``check-token`` about it; ``False`` refuses it, ``None`` (the server cannot say) proceeds as the web UI
does. Saving it (keyring, settings) and applying it is the window's ``apply_settings``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sgsend_desktop.core.links import ShareLink, parse_link
from sgsend_desktop.gui.rules import Question


@dataclass(frozen=True)
class WelcomePlan:
    link: ShareLink
    server: str  # the server the token is for (the link's own)
    host: str
    question: Question


def plan_import(link: str, key: str | None, current_server: str) -> WelcomePlan | str:
    """What importing the welcome ``link`` means, or why it cannot be imported (a sentence).
    ``current_server``: the server new transfers go to now ("" for the local server)."""
    parsed = parse_link(link, key)
    server = (parsed.base_url or current_server).rstrip("/")
    if not server:
        return "This welcome link names no server: open the whole link you were sent."
    host = urlsplit(server).netloc or server
    switch = server != current_server
    question = Question(
        f"Use the access token from this link for {host}?",
        "This is a welcome link: it holds an access token for sending files through "
        f"{server}, not a file. The token is saved in your keyring as this app's access token"
        + (f", and {host} becomes the server new transfers go to" if switch else "")
        + ". Collecting it counts as one download of the link.",
        "Use this token",
        "Cancel",
    )
    return WelcomePlan(parsed, server, host, question)


def collect(plan: WelcomePlan) -> tuple[str, bool | None]:
    """Blocking: the token, and whether the server says it is valid (None: it cannot say)."""
    from sgsend_desktop.core.api import SendApi
    from sgsend_desktop.core.welcome import check_access_token, fetch_welcome_token

    api = SendApi(plan.server)
    try:
        token = fetch_welcome_token(api, plan.link)
        return token, check_access_token(api, token)
    finally:
        api.close()


def saved_text(host: str, valid: bool | None) -> str:
    unknown = " (the server could not confirm it now; sending will tell)" if valid is None else ""
    return (
        f"The access token for {host} is saved{unknown}. "
        "New transfers use it; Settings shows how many uses it has left."
    )


def refused_text(host: str, error: BaseException | None) -> str:
    if error is not None:
        return str(error)
    return f"{host} says this access token is not valid (used up, revoked or unknown)."
