"""Who may read the pages: the API's read check, with two more places a browser can
carry the token.

A browser cannot add an ``Authorization`` header to a link or to an ``EventSource``,
so the pages also take the read token once as ``?token=``: the hub then sets it as an
HttpOnly cookie and redirects to the same URL without it (so that it does not stay in
the address bar, the history or a shared link).  Later requests, the event streams
included, carry the cookie.  The check itself is the API's ``reader``: the token from
the query or the cookie is handed to it as the header it expects.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

__all__ = ["COOKIE", "Access"]

COOKIE = "gator_hub_token"


def _with_bearer(request: Request, token: str) -> Request:
    """The same request, saying ``Authorization: Bearer <token>``."""
    headers = [(key, value) for key, value in request.scope["headers"] if key != b"authorization"]
    headers.append((b"authorization", b"Bearer " + token.encode("utf-8", "replace")))
    return Request({**request.scope, "headers": headers})


class Access:
    """The read check of the pages, their JSON and their event streams."""

    def __init__(self, reader: Callable[[Request], None]) -> None:
        self.reader = reader

    def check(self, request: Request) -> None:
        """Allow a valid ``Authorization`` header, else a valid cookie; raise Unauthorized."""
        cookie = request.cookies.get(COOKIE)
        if "authorization" in request.headers or not cookie:
            self.reader(request)
        else:
            self.reader(_with_bearer(request, cookie))

    def take_query_token(self, request: Request) -> Response | None:
        """When the URL carries ``?token=``: check it, and answer with a redirect to the URL
        without it that sets the cookie.  None when there is no such parameter."""
        token = request.query_params.get("token")
        if token is None:
            return None
        self.reader(_with_bearer(request, token))  # Unauthorized when wrong
        kept = urlencode([(key, value) for key, value in request.query_params.multi_items() if key != "token"])
        location = quote(request.url.path, safe="/:@!$&'()*+,;=-._~") + (f"?{kept}" if kept else "")
        answer = RedirectResponse(location, status_code=303)
        answer.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                          secure=request.url.scheme == "https")
        return answer
