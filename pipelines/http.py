"""HTTP plumbing shared by the sources: a RESTClient with retries, a lean GET for endpoints
called once per record, and API paginators."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import orjson
from dlt.common.jsonpath import JSONPath, TJsonPath, compile_path
from dlt.sources.helpers.requests.retry import Client
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import BasePaginator, JSONLinkPaginator
from dlt.sources.helpers.rest_client.utils import join_url
from requests import PreparedRequest, Request, RequestException, Response, Session
from requests.auth import AuthBase
from requests.cookies import extract_cookies_to_jar
from requests.exceptions import JSONDecodeError as RequestsJSONDecodeError
from requests.utils import get_encoding_from_headers, requote_uri
from urllib3 import BaseHTTPResponse

from pipelines.lean_get import Fallback, LeanTransport, RetrySettings

T = TypeVar("T")
R = TypeVar("R")


class _EnvironmentSettings:
    """`Session.merge_environment_settings`, resolved once per scheme and host.

    requests reads the proxy variables (all of os.environ, twice) and the CA bundle variables
    on every request; for a loader making tens of thousands of calls to one host that is a
    large share of its CPU. The result depends only on the URL's scheme and host (no_proxy
    matches hosts) and on the environment, which does not change during a load, so it is
    computed on first use per host. Calls that pass their own proxies, stream, verify or cert
    are not cached."""

    def __init__(self, session: Session) -> None:
        self._merge = session.merge_environment_settings
        self._cache: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def __call__(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        if proxies or stream is not None or verify is not None or cert is not None:
            return self._merge(url, proxies, stream, verify, cert)
        parts = urlsplit(str(url))
        key = (parts.scheme, parts.netloc)
        with self._lock:
            settings = self._cache.get(key)
            if settings is None:
                settings = self._cache[key] = self._merge(url, {}, None, None, None)
        return {**settings, "proxies": dict(settings["proxies"])}


class CrossHostRedirect(RequestException):
    """A response redirected to another host; the redirect is not followed."""


def refuse_cross_host_redirects(session: Session) -> None:
    """Make `session` stop at a redirect to another host instead of following it.

    On a redirect requests drops only the Authorization header (and only when the host
    changes); a credential sent as another header (Pipedrive's x-api-token) or a query
    parameter would go to the new host. `rebuild_auth` is the step of requests' redirect
    loop that decides this, before the next request is sent: it now raises instead, with
    requests' own rule for "another host" (`should_strip_auth`: another host name or port,
    or https to http; http to https on the default ports is the same host)."""
    rebuild_auth = session.rebuild_auth

    def rebuild_auth_on_the_same_host(prepared: PreparedRequest, response: Response) -> None:
        source, target = str(response.request.url), str(prepared.url)
        if session.should_strip_auth(source, target):
            origin, other = urlsplit(source), urlsplit(target)
            raise CrossHostRedirect(
                f"{source} redirects ({response.status_code}) to {target}: not followed, "
                f"credentials for {origin.scheme}://{origin.netloc} are never sent to "
                f"another host ({other.scheme}://{other.netloc})",
                request=prepared,
                response=response,
            )
        rebuild_auth(prepared, response)

    session.rebuild_auth = rebuild_auth_on_the_same_host  # type: ignore[method-assign]


def decode_json_once(response: Response) -> Response:
    """Make `response.json()` decode the body on the first call and return the same object
    afterwards. RESTClient.paginate decodes every page twice (once to select the data, once
    in the paginator); pages of hundreds of records make that a visible cost. Nothing in the
    loaders mutates a decoded body (rows are copied before they change).

    A UTF-8 body is decoded with orjson (about 3x faster than requests' json/simplejson, same
    values); whatever orjson refuses (other encodings, NaN, invalid JSON) and bodies with a
    run of 19+ digits (orjson turns integers beyond 64 bits into floats) go to requests' own
    decoder, read leniently and with a clearer error (_decode_or_explain)."""
    decode = response.json
    decoded: list[Any] = []

    def json(**options: Any) -> Any:
        if options:
            return decode(**options)
        if not decoded:
            decoded.append(_fast_decode(response, decode))
        return decoded[0]

    response.json = json  # type: ignore[method-assign]
    return response


_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_DIGITS = b"0" * 19


def _fast_decode(response: Response, decode: Callable[[], Any]) -> Any:
    return _decode_body(
        response.content, response.encoding, lambda: _decode_or_explain(response, decode)
    )


def _decode_body(body: bytes, encoding: str | None, decode: Callable[[], Any]) -> Any:
    if (
        (encoding or "utf-8").lower().replace("_", "-") in ("utf-8", "utf8")
        and body
        and body.translate(_DIGITS_AS_ZERO).find(_NINETEEN_DIGITS) < 0
    ):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return decode()


def _decode_or_explain(response: Response, decode: Callable[[], Any]) -> Any:
    """requests' decoding of the body, read leniently where it refuses NaN and Infinity, and
    an error that names the URL when the body is no JSON at all.

    requests decodes with simplejson when it is installed (dlt installs it), which refuses
    NaN, Infinity and -Infinity; some APIs write a number so. Python's json module reads
    them, and the row checks then reject such a value naming its field (one row, not the
    run). Anything else that does not decode raises requests' JSONDecodeError, its message
    naming the URL, the status and the start of the body (a truncated page, an HTML error
    page answered 200)."""
    try:
        return decode()
    except RequestsJSONDecodeError as exc:
        try:
            return json.loads(response.text)
        except ValueError:
            pass
        start = response.text[:80]
        raise RequestsJSONDecodeError(
            f"response of {response.url} (status {response.status_code}, "
            f"{len(response.content)} bytes, starting {start!r}) is not valid JSON: {exc.msg}",
            exc.doc,
            exc.pos,
        ) from None


@lru_cache(maxsize=64)
def compiled_path(selector: str) -> JSONPath:
    """A JSONPath compiled once (dlt compiles string paths with a new parser each time)."""
    return compile_path(selector)


class LoaderClient(RESTClient):
    """RESTClient whose data selectors are compiled once: dlt parses a string selector (with
    a freshly built jsonpath parser) on every page. `retry`: make_client's retry settings,
    for JsonGetter's lean path."""

    retry: RetrySettings | None = None

    def extract_response(self, response: Response, data_selector: TJsonPath) -> list[Any]:
        if isinstance(data_selector, str):
            data_selector = compiled_path(data_selector)
        return super().extract_response(response, data_selector)


def make_client(
    base_url: str,
    headers: dict[str, str],
    *,
    auth: AuthBase | None = None,
    timeout_seconds: float = 30.0,
    max_attempts: int = 6,
    backoff_factor: float = 0.5,
    max_retry_delay_seconds: float = 60.0,
) -> RESTClient:
    """A RESTClient that retries 429 (honouring Retry-After), 5xx, timeouts and dropped
    connections with exponential backoff, and raises a clear HTTPError when it gives up.
    A redirect to another host stops with CrossHostRedirect (refuse_cross_host_redirects).

    Pass credentials as `auth` rather than as a header: with no auth, requests looks for a
    ~/.netrc entry on every request. Proxy and CA-bundle environment variables are honoured
    (read once per host, see _EnvironmentSettings)."""
    session = Client(
        request_timeout=timeout_seconds,
        request_max_attempts=max_attempts,
        request_backoff_factor=backoff_factor,
        request_max_retry_delay=max_retry_delay_seconds,
        respect_retry_after_header=True,
        raise_for_status=False,
    ).session
    session.merge_environment_settings = _EnvironmentSettings(session)  # type: ignore[method-assign]
    refuse_cross_host_redirects(session)
    send = session.send  # dlt's retrying send

    def send_and_decode_once(request: PreparedRequest, **kwargs: Any) -> Response:
        return decode_json_once(send(request, **kwargs))

    session.send = send_and_decode_once  # type: ignore[method-assign]
    client = LoaderClient(
        base_url=base_url.rstrip("/"), headers=headers, auth=auth, session=session
    )
    client.retry = RetrySettings(max_attempts, backoff_factor, max_retry_delay_seconds)
    return client


class JsonGetter:
    """GET a path of a RESTClient and return the decoded JSON body: for endpoints called once
    per record (a deal's flow, an order's line items), where building a request from scratch
    (`RESTClient.get`: header merging, URL parsing, cookie jar, auth) costs as much CPU as the
    request itself.

    The session's default headers merged with the client's are prepared once; each call copies
    them, sets the URL, applies the session's cookies and the client's auth. A client from
    make_client sends it on the session's own urllib3 pool (lean_get: the same TLS settings,
    timeout and retries - 429 with Retry-After, 5xx, timeouts, dropped connections - without
    requests' per-call machinery); a host behind a proxy, a redirect, response hooks or
    another client go through the session as every other request. A response that is still
    an error after the retries raises requests.HTTPError naming the URL."""

    def __init__(self, client: RESTClient) -> None:
        if client.auth is None:
            raise ValueError("JsonGetter needs a client with explicit auth (see make_client)")
        self._client = client
        # a no-op auth keeps requests from looking up ~/.netrc for the template
        request = Request("GET", client.base_url + "/", headers=client.headers, auth=_no_auth)
        self._template = client.session.prepare_request(request)
        self._template.headers.pop("Cookie", None)  # set per request, from the session's jar
        self._base = str(self._template.url).rstrip("/")
        retry = getattr(client, "retry", None)
        self._lean = LeanTransport(client.session, retry) if retry is not None else None

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """The URL RESTClient would request for `path` (relative to base_url, or absolute,
        e.g. a next-page link) and `params`; built directly for a relative ASCII path, where
        requests' URL parsing costs a tenth of a per-record request."""
        # a path starting with "/" has no scheme (the common case: no parsing)
        absolute = not path.startswith("/") and urlsplit(path).scheme in ("http", "https")
        if absolute or not path.isascii():
            prepared = PreparedRequest()
            prepared.prepare_url(
                path if absolute else join_url(self._client.base_url, path), dict(params or {})
            )
            return str(prepared.url)
        url = f"{self._base}/{path.lstrip('/')}"
        query = tuple((key, value) for key, value in (params or {}).items() if value is not None)
        if query:
            url += ("&" if "?" in url else "?") + _query_string(query)
        return requote_uri(url)

    def _prepared(self, url: str) -> PreparedRequest:
        session = self._client.session
        prepared = self._template.copy()
        # copy() shares the hook lists; an auth may register a hook per request
        prepared.hooks = {event: list(hooks) for event, hooks in self._template.hooks.items()}
        prepared.url = url
        if session.cookies:
            prepared.prepare_cookies(session.cookies)
        prepared.prepare_auth(self._client.auth)
        return prepared

    def __call__(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        prepared = self._prepared(self.url(path, params))
        if self._lean is not None and not any(prepared.hooks.get("response") or ()):
            try:
                raw = self._lean.send(prepared, _host_key(str(prepared.url)))
            except Fallback:
                pass
            else:
                return self._lean_body(prepared, raw)
        session = self._client.session
        settings = session.merge_environment_settings(prepared.url, {}, None, None, None)
        response = session.send(prepared, **settings)
        response.raise_for_status()
        return response.json()

    def _lean_body(self, prepared: PreparedRequest, raw: BaseHTTPResponse) -> Any:
        assert self._lean is not None
        lean = self._lean
        if raw.status >= 400:
            lean.response(prepared, raw).raise_for_status()
        if "set-cookie" in raw.headers:
            extract_cookies_to_jar(self._client.session.cookies, prepared, raw)
        return _decode_body(
            raw.data,
            get_encoding_from_headers(raw.headers),  # type: ignore[arg-type]
            lambda: decode_json_once(lean.response(prepared, raw)).json(),
        )


def _query_string(query: tuple[tuple[Any, Any], ...]) -> str:
    """urlencode(query, doseq=True), remembered for queries of str keys and str or int values
    (no two such queries are equal unless they encode the same; True == 1 would be): the
    per-record calls repeat the same few (the first page of every deal's flow)."""
    if all(type(k) is str and type(v) in (str, int) for k, v in query):
        return _cached_query_string(query)
    return urlencode(query, doseq=True)


@lru_cache(maxsize=256)
def _cached_query_string(query: tuple[tuple[Any, Any], ...]) -> str:
    return urlencode(query, doseq=True)


def _host_key(url: str) -> tuple[str, str]:
    scheme, _, rest = url.partition("://")
    return scheme.lower(), rest.split("/", 1)[0].split("?", 1)[0]


def _no_auth(request: PreparedRequest) -> PreparedRequest:
    return request


def fetch_each(fetch: Callable[[T], R], items: Iterable[T], max_workers: int) -> list[R]:
    """`[fetch(item) for item in items]` with up to `max_workers` calls in flight (results in
    input order). The first exception is raised once the calls already running are done;
    calls not yet started are cancelled."""
    todo = list(items)
    if max_workers <= 1 or len(todo) <= 1:
        return [fetch(item) for item in todo]
    with ThreadPoolExecutor(max_workers=min(max_workers, len(todo))) as pool:
        futures = [pool.submit(fetch, item) for item in todo]
        try:
            return [future.result() for future in futures]
        finally:
            for future in futures:
                future.cancel()


class PagingStuck(RuntimeError):
    """A page says there is more but does not move the paging forward: requesting the next
    page would ask for the same page again, for ever."""


def stuck(url: Any, detail: str) -> PagingStuck:
    return PagingStuck(
        f"paging does not advance at {url}: {detail}; stopped instead of requesting the "
        "same page again"
    )


def v1_next_start(body: Any, start: int, limit: int, url: Any) -> int | None:
    """The `start` of the next page of a Pipedrive v1 listing (None: this was the last), from
    `additional_data.pagination`. A next start that is not past this page's start raises
    PagingStuck (dlt's paginators have no such check)."""
    pagination = ((body or {}).get("additional_data") or {}).get("pagination") or {}
    if not pagination.get("more_items_in_collection"):
        return None
    next_start = int(pagination.get("next_start", start + limit))
    if next_start <= start:
        raise stuck(url, f"more items, yet next_start {next_start} is not after start {start}")
    return next_start


class PipedriveV1Paginator(BasePaginator):
    """Pipedrive v1 `start`/`limit` paging: `additional_data.pagination.next_start`."""

    def __init__(self, limit: int = 500) -> None:
        super().__init__()
        self.limit = limit
        self.start = 0

    def init_request(self, request: Request) -> None:
        request.params = {**(request.params or {}), "start": self.start, "limit": self.limit}

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        next_start = v1_next_start(response.json(), self.start, self.limit, response.url)
        self._has_next_page = next_start is not None
        if next_start is not None:
            self.start = next_start

    def update_request(self, request: Request) -> None:
        request.params["start"] = self.start


class PipedriveV2Paginator(BasePaginator):
    """Pipedrive v2 cursor paging: `additional_data.next_cursor`, sent back as `cursor`.
    An empty page that names a next cursor, or a cursor already sent, raises PagingStuck."""

    def __init__(self) -> None:
        super().__init__()
        self.cursor: str | None = None
        self._sent: set[str] = set()

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        body = response.json()
        cursor = (body.get("additional_data") or {}).get("next_cursor")
        if cursor and not body.get("data"):
            raise stuck(response.url, f"an empty page names next_cursor {cursor!r}")
        if cursor and cursor in self._sent:
            raise stuck(response.url, f"next_cursor {cursor!r} was already requested")
        self.cursor = cursor
        self._has_next_page = bool(cursor)

    def update_request(self, request: Request) -> None:
        if self.cursor:
            self._sent.add(self.cursor)
        request.params["cursor"] = self.cursor


class NextLinkPaginator(JSONLinkPaginator):
    """dlt's JSONLinkPaginator (the next page's URL in the body), raising PagingStuck when a
    page links to a URL already requested."""

    def __init__(self, next_url_path: TJsonPath) -> None:
        super().__init__(next_url_path=next_url_path)
        self._requested: set[str] = set()

    def update_request(self, request: Request) -> None:
        self._requested.add(str(request.url))
        super().update_request(request)
        if self._next_reference and str(request.url) in self._requested:
            raise stuck(request.url, "the next page link points to a page already requested")


class StripePaginator(BasePaginator):
    """Stripe list paging: `has_more` plus `starting_after=<id of the last object>`."""

    def __init__(self) -> None:
        super().__init__()
        self.last_id: str | None = None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        body = response.json()
        items = body.get("data") or []
        self._has_next_page = bool(body.get("has_more")) and bool(items)
        if items:
            self.last_id = items[-1].get("id")

    def update_request(self, request: Request) -> None:
        request.params["starting_after"] = self.last_id


class SalesforceQueryPaginator(BasePaginator):
    """Salesforce SOQL query paging: while `done` is false, GET `nextRecordsUrl` (a path such
    as /services/data/v62.0/query/01gxx-2000, relative to the org's instance URL)."""

    def __init__(self, instance_url: str) -> None:
        super().__init__()
        self.instance_url = instance_url.rstrip("/")
        self.next_url: str | None = None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        body = response.json()
        next_url = None if body.get("done", True) else body.get("nextRecordsUrl")
        if next_url and next_url == self.next_url:
            raise stuck(response.url, f"nextRecordsUrl {next_url!r} was already requested")
        self.next_url = next_url
        self._has_next_page = bool(next_url)

    def update_request(self, request: Request) -> None:
        if self.next_url:
            request.url = self.instance_url + self.next_url
            request.params = {}
