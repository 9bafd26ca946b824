"""aiohttp session for tweepy's AsyncClient that can point X API calls elsewhere.

tweepy 4.17 hard-codes ``"https://api.twitter.com" + route`` and its
``AsyncClient.__init__`` has no ``session`` parameter: the session returned
here must be assigned afterwards (``client.session = session``). tweepy never
closes a session it did not create, so the caller owns it and must close it.

Why a client middleware rewrites the URL (rather than the alternatives):

* Subclassing ``aiohttp.ClientSession`` (to override the private
  ``_request``) emits a DeprecationWarning at class creation and depends on a
  private method whose signature changes between aiohttp releases.
* A ``request_class`` subclass has to mirror ``ClientRequest.__init__``, which
  is internal and grows keyword arguments in almost every release.
* Trace configs can only observe a request, not change where it goes.
* A custom resolver keeps scheme ``https`` and port 443, so a local stand-in
  would need TLS certificates trusted by the client.
* Middlewares (public since aiohttp 3.12) run after tweepy has built and
  OAuth1-signed the URL and before the connector derives host, port and TLS
  from ``req.url``. Swapping only the origin there leaves method, raw path,
  raw query and the ``Authorization`` header byte-identical, so the signature
  stays valid for the original ``https://api.twitter.com`` URL.
"""

from __future__ import annotations

from aiohttp import ClientHandlerType, ClientRequest, ClientResponse, ClientSession, hdrs
from aiohttp.client_middlewares import ClientMiddlewareType
from yarl import URL

__all__ = ["X_API_HOSTS", "build_x_session", "rebase_x_url"]

# Only X's own API hosts are redirected, so a session that is also used for
# something else (media CDN, webhooks) is never silently hijacked.
X_API_HOSTS: frozenset[str] = frozenset({"api.twitter.com", "api.x.com"})


def _parse_base_url(base_url: str) -> URL:
    base = URL(base_url)
    # Fail at startup on a typo'd X_API_BASE_URL instead of on the first call.
    if base.scheme not in ("http", "https") or not base.raw_host:
        raise ValueError(f"X API base URL must be absolute http(s): {base_url!r}")
    if base.raw_query_string or base.raw_fragment:
        raise ValueError(f"X API base URL must not carry a query or fragment: {base_url!r}")
    return base


def rebase_x_url(url: URL, base: URL) -> URL:
    """Move ``url`` onto ``base``'s origin (and path prefix) if it targets X."""
    if url.raw_host not in X_API_HOSTS:
        return url
    # encoded=True keeps tweepy's percent-encoding (it escapes ':' by hand)
    # exactly as signed; re-encoding could change the signature base string.
    return URL.build(
        scheme=base.scheme,
        host=base.raw_host or "",
        port=base.explicit_port,
        path=base.raw_path.rstrip("/") + url.raw_path,
        query_string=url.raw_query_string,
        encoded=True,
    )


def _redirect_middleware(base: URL) -> ClientMiddlewareType:
    async def redirect(req: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        target = rebase_x_url(req.url, base)
        if target is not req.url:
            req.url = target
            # ClientRequest computed Host from the original URL in __init__.
            host = target.host_port_subcomponent
            if host is not None:
                req.headers[hdrs.HOST] = host
        return await handler(req)

    return redirect


def build_x_session(base_url: str | None = None) -> ClientSession:
    """Create the session to assign to ``AsyncClient.session``.

    ``base_url`` is the value of ``X_API_BASE_URL`` (read by the caller); when
    it is None or empty the session talks to the real X API unchanged.
    Must be called with a running event loop; close it with ``await
    session.close()`` (or ``async with``) when done.
    """
    if not base_url:
        return ClientSession()
    return ClientSession(middlewares=(_redirect_middleware(_parse_base_url(base_url)),))
