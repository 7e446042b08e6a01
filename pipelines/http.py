"""HTTP plumbing shared by the sources: a RESTClient with retries, a lean GET for endpoints
called once per record, and API paginators."""

from __future__ import annotations

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
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from dlt.sources.helpers.rest_client.utils import join_url
from requests import PreparedRequest, Request, Response, Session
from requests.auth import AuthBase
from requests.cookies import extract_cookies_to_jar
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


def decode_json_once(response: Response) -> Response:
    """Make `response.json()` decode the body on the first call and return the same object
    afterwards. RESTClient.paginate decodes every page twice (once to select the data, once
    in the paginator); pages of hundreds of records make that a visible cost. Nothing in the
    loaders mutates a decoded body (rows are copied before they change).

    A UTF-8 body is decoded with orjson (about 3x faster than requests' json/simplejson, same
    values); whatever orjson refuses (other encodings, NaN, invalid JSON) and bodies with a
    run of 19+ digits (orjson turns integers beyond 64 bits into floats) go to requests' own
    decoder, so results and errors are requests'."""
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
    return _decode_body(response.content, response.encoding, decode)


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


class PipedriveV1Paginator(BasePaginator):
    """Pipedrive v1 `start`/`limit` paging: `additional_data.pagination.next_start`."""

    def __init__(self, limit: int = 500) -> None:
        super().__init__()
        self.limit = limit
        self.start = 0

    def init_request(self, request: Request) -> None:
        request.params = {**(request.params or {}), "start": self.start, "limit": self.limit}

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        pagination = (response.json().get("additional_data") or {}).get("pagination") or {}
        if pagination.get("more_items_in_collection"):
            self.start = int(pagination.get("next_start", self.start + self.limit))
            self._has_next_page = True
        else:
            self._has_next_page = False

    def update_request(self, request: Request) -> None:
        request.params["start"] = self.start


class PipedriveV2Paginator(BasePaginator):
    """Pipedrive v2 cursor paging: `additional_data.next_cursor`, sent back as `cursor`."""

    def __init__(self) -> None:
        super().__init__()
        self.cursor: str | None = None

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        self.cursor = (response.json().get("additional_data") or {}).get("next_cursor")
        self._has_next_page = bool(self.cursor)

    def update_request(self, request: Request) -> None:
        request.params["cursor"] = self.cursor


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
        self.next_url = None if body.get("done", True) else body.get("nextRecordsUrl")
        self._has_next_page = bool(self.next_url)

    def update_request(self, request: Request) -> None:
        if self.next_url:
            request.url = self.instance_url + self.next_url
            request.params = {}
