"""HTTP plumbing shared by the API sources: dlt's RESTClient on dlt's retrying session, paced
by a client-side rate limiter per system, with request counts for progress and budgets.

What dlt, requests and urllib3 lack and this module adds: the limiter (RateLimiter, applied
in PacedAdapter below each retry attempt), request/429/token counts per system
(RequestStats), `fetch_each` (N per-record calls in flight inside one transformer call), no
credentials on a redirect to another host, JSON bodies read leniently (NaN) with errors that
name the URL, and paginators that stop when a page does not advance.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from email.utils import mktime_tz, parsedate_tz
from typing import Any, TypeVar
from urllib.parse import urlsplit

from dlt.sources.helpers.requests.retry import Client
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import (
    BasePaginator,
    JSONLinkPaginator,
    JSONResponseCursorPaginator,
    OffsetPaginator,
)
from requests import PreparedRequest, Request, RequestException, Response, Session
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from requests.exceptions import JSONDecodeError as RequestsJSONDecodeError

T = TypeVar("T")
R = TypeVar("R")

# share of the documented rate the limiter allows. The limiter's own windows already end no
# sooner than the server's (see RateLimiter); the margin keeps a Pipedrive window from being
# spent to its last request, which its headers would answer with a pause to the next second.
SAFETY = 0.975


class RateLimiter:
    """At most `requests` requests in any rolling `window_seconds`, less while the server's
    rate-limit headers say its window is spent; `requests=0` paces nothing but still honours
    what the server says.

    A request holds its slot from the moment it is sent until `window_seconds` after its
    response came back: the server counted it somewhere in between, so the client's window
    never ends before the server's (a sliding log counted at send time lets requests that
    reach the server late crowd the next window and draw 429s)."""

    def __init__(self, requests: float, window_seconds: float = 1.0) -> None:
        self.window = window_seconds
        self.capacity = max(1, round(requests * SAFETY)) if requests > 0 else 0
        self._slots: list[list[float]] = []  # [answered at], inf while in flight
        self._paused_until = 0.0
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    def acquire(self) -> list[float]:
        """Block until a request may be sent now; pass the result to `done` once answered."""
        slot = [math.inf]
        while True:
            with self._lock:
                now = time.monotonic()
                wait = self._paused_until - now
                if wait <= 0:
                    if not self.capacity:
                        return slot
                    self._slots = [s for s in self._slots if s[0] > now - self.window]
                    if len(self._slots) < self.capacity:
                        self._slots.append(slot)
                        return slot
                    oldest = min(s[0] for s in self._slots)
                    wait = oldest + self.window - now if oldest < math.inf else 0.005
                self.waited_seconds += wait
            time.sleep(wait)

    def done(self, slot: list[float]) -> None:
        slot[0] = time.monotonic()

    def pause(self, seconds: float) -> None:
        """Send nothing for `seconds` (the server said its window is spent)."""
        if seconds > 0:
            with self._lock:
                self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def observe(self, response: Response) -> None:
        """Adapt to the server: Pipedrive-style `x-ratelimit-remaining: 0` pauses until
        `x-ratelimit-reset`; a lower `x-ratelimit-limit` than configured lowers the pace; a 429
        pauses everyone for its Retry-After (or the reset) so the other threads do not pile
        on more 429s while the retrying one waits."""
        headers = response.headers
        limit = _number(headers.get("x-ratelimit-limit"))
        if limit and self.capacity and round(limit * SAFETY) < self.capacity:
            with self._lock:
                self.capacity = max(1, round(limit * SAFETY))
        reset = _number(headers.get("x-ratelimit-reset"))
        if response.status_code == 429:
            with self._lock:  # the window was fuller than counted here: one slot less
                self.capacity = max(1, self.capacity - 1) if self.capacity else 0
            retry_after = retry_after_seconds(headers.get("Retry-After"))
            self.pause(retry_after if retry_after is not None else (reset or 1.0))
        elif headers.get("x-ratelimit-remaining") == "0" and reset:
            self.pause(reset)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header (seconds or an HTTP date) as seconds from now, None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.replace(".", "", 1).isdigit():
        return float(value)
    parsed = parsedate_tz(value)
    return max(0.0, mktime_tz(parsed) - time.time()) if parsed else None


class RequestStats:
    """Requests sent (every attempt), rate-limit answers and budget units spent, per system."""

    def __init__(self, system: str, cost: Callable[[str], int] | None = None) -> None:
        self.system = system
        self.cost = cost
        self.requests = 0
        self.throttled = 0  # 429s (and Salesforce's 403 REQUEST_LIMIT_EXCEEDED)
        self.spent = 0  # budget units (Pipedrive: tokens); 0 when the vendor has no costs
        self.started = time.monotonic()
        # wall seconds with at least one request on the wire, and the sum of every request's
        # seconds: their ratio is how many requests overlapped on average
        self.network_seconds = 0.0
        self.request_seconds = 0.0
        self._in_flight = 0
        self._busy_since = 0.0
        self._lock = threading.Lock()

    def sent(self) -> float:
        """A request goes on the wire (after the limiter); returns its start for `answered`."""
        now = time.monotonic()
        with self._lock:
            if self._in_flight == 0:
                self._busy_since = now
            self._in_flight += 1
        return now

    def answered(self, since: float) -> None:
        now = time.monotonic()
        with self._lock:
            self._in_flight -= 1
            self.request_seconds += now - since
            if self._in_flight == 0:
                self.network_seconds += now - self._busy_since

    def record(self, request: PreparedRequest, response: Response) -> None:
        throttled = response.status_code == 429 or (
            response.status_code == 403 and b"REQUEST_LIMIT_EXCEEDED" in response.content[:500]
        )
        cost = self.cost(urlsplit(str(request.url)).path) if self.cost else 0
        with self._lock:
            self.requests += 1
            self.throttled += int(throttled)
            if not throttled:
                self.spent += cost


# The stats of the latest client made for each system (read by progress lines and benchmarks).
STATS: dict[str, RequestStats] = {}


class PacedAdapter(HTTPAdapter):
    """requests' adapter with the limiter before and the counting after each attempt (dlt's
    retries call it once per attempt), and at most `concurrency` requests in flight for the
    whole source (its resources and transformers may run side by side). With
    `endpoint_rate`, each endpoint (method and path) is also held to that many requests per
    second (Stripe: 25 per endpoint besides its global 100)."""

    def __init__(
        self,
        limiter: RateLimiter,
        stats: RequestStats,
        concurrency: int,
        endpoint_rate: float = 0.0,
    ) -> None:
        super().__init__(pool_connections=4, pool_maxsize=max(1, concurrency))
        self.limiter = limiter
        self.stats = stats
        self.endpoint_rate = endpoint_rate
        self._endpoints: dict[str, RateLimiter] = {}
        self._endpoints_lock = threading.Lock()
        self._in_flight = threading.BoundedSemaphore(max(1, concurrency))

    def endpoint_limiter(self, request: PreparedRequest) -> RateLimiter | None:
        if not self.endpoint_rate:
            return None
        key = f"{request.method} {urlsplit(str(request.url)).path}"
        with self._endpoints_lock:
            if key not in self._endpoints:
                self._endpoints[key] = RateLimiter(self.endpoint_rate)
            return self._endpoints[key]

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        with self._in_flight:
            endpoint = self.endpoint_limiter(request)
            endpoint_slot = endpoint.acquire() if endpoint is not None else None
            slot = self.limiter.acquire()
            on_wire = self.stats.sent()
            try:
                response = super().send(request, *args, **kwargs)
                # read the body inside the slot, so the connection is back in the pool on exit
                _ = response.content
            finally:
                self.stats.answered(on_wire)
                self.limiter.done(slot)
                if endpoint is not None and endpoint_slot is not None:
                    endpoint.done(endpoint_slot)
        self.stats.record(request, response)
        self.limiter.observe(response)
        return response


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


def explain_json(response: Response) -> Response:
    """Make `response.json()` read NaN and Infinity (requests decodes with simplejson when
    dlt installs it, which refuses them; the row checks then reject such a value naming its
    field: one row, not the run) and raise, for a body that is no JSON at all, requests'
    JSONDecodeError naming the URL, the status and the start of the body."""
    decode = response.json

    def json_or_explain(**options: Any) -> Any:
        if options:
            return decode(**options)
        try:
            return decode()
        except RequestsJSONDecodeError as exc:
            try:
                return json.loads(response.text)
            except ValueError:
                pass
            raise RequestsJSONDecodeError(
                f"response of {response.url} (status {response.status_code}, "
                f"{len(response.content)} bytes, starting {response.text[:80]!r}) is not "
                f"valid JSON: {exc.msg}",
                exc.doc,
                exc.pos,
            ) from None

    response.json = json_or_explain  # type: ignore[method-assign]
    return response


def make_client(
    base_url: str,
    headers: dict[str, str],
    *,
    system: str,
    auth: AuthBase | None = None,
    requests_per_second: float = 0.0,
    window_seconds: float = 1.0,
    endpoint_requests_per_second: float = 0.0,
    concurrency: int = 8,
    cost: Callable[[str], int] | None = None,
    timeout_seconds: float = 30.0,
    max_attempts: int = 6,
    backoff_factor: float = 0.5,
    max_retry_delay_seconds: float = 60.0,
) -> RESTClient:
    """A RESTClient on dlt's retrying session: 429 (waiting Retry-After), 5xx, timeouts and
    dropped connections retried with exponential backoff, a clear HTTPError when it gives up;
    every attempt paced to `requests_per_second` (as `rate x window` per rolling window). A
    redirect to another host stops with CrossHostRedirect (refuse_cross_host_redirects)."""
    session = Client(
        request_timeout=timeout_seconds,
        request_max_attempts=max_attempts,
        request_backoff_factor=backoff_factor,
        request_max_retry_delay=max_retry_delay_seconds,
        respect_retry_after_header=True,
        raise_for_status=False,
    ).session
    stats = STATS[system] = RequestStats(system, cost)
    limiter = RateLimiter(requests_per_second * window_seconds, window_seconds)
    adapter = PacedAdapter(limiter, stats, concurrency, endpoint_requests_per_second)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    refuse_cross_host_redirects(session)
    send = session.send  # dlt's retrying send

    def send_and_explain(request: PreparedRequest, **kwargs: Any) -> Response:
        return explain_json(send(request, **kwargs))

    session.send = send_and_explain  # type: ignore[method-assign]
    return RESTClient(base_url=base_url.rstrip("/"), headers=headers, auth=auth, session=session)


def get_json(client: RESTClient, path: str, params: dict[str, Any] | None = None) -> Any:
    """GET `path` of `client` and return the decoded body; an error status raises HTTPError."""
    response = client.get(path, params=params)
    response.raise_for_status()
    return response.json()


def fetch_each(fetch: Callable[[T], R], items: Iterable[T], max_workers: int) -> list[R]:
    """`[fetch(item) for item in items]` with up to `max_workers` calls in flight, results in
    input order (dlt parallelizes whole transformer calls, not the calls inside one). The
    first exception is raised once the calls already running are done; calls not yet
    started are cancelled."""
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


class StripePaginator(BasePaginator):
    """Stripe list paging: `has_more` plus `starting_after=<id of the last object>` (dlt's
    cursor paginators take the cursor from a response field, Stripe's is the last item)."""

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


class PagingStuck(RuntimeError):
    """A page says there is more but does not move the paging forward: requesting the next
    page would ask for the same page again, for ever."""


def stuck(url: Any, detail: str) -> PagingStuck:
    return PagingStuck(
        f"paging does not advance at {url}: {detail}; stopped instead of requesting the "
        "same page again"
    )


class GuardedCursorPaginator(JSONResponseCursorPaginator):
    """dlt's cursor paginator that stops on an empty page naming a next cursor, or a cursor
    it already sent (dlt's would request the same page for ever)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sent: set[str] = set()

    def init_request(self, request: Request) -> None:
        # dlt's rest_api reuses one paginator instance for every run of its resource
        self._sent.clear()
        super().init_request(request)

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        super().update_state(response, data)
        cursor = self._next_reference
        if cursor and not data:
            raise stuck(response.url, f"an empty page names next_cursor {cursor!r}")
        if cursor and cursor in self._sent:
            raise stuck(response.url, f"next_cursor {cursor!r} was already requested")
        if cursor:
            self._sent.add(str(cursor))


class GuardedOffsetPaginator(OffsetPaginator):
    """dlt's offset paginator that follows the API's next offset when it gives one
    (`next_offset_path`, e.g. Pipedrive v1's next_start) and stops when that offset is not
    past the current one (dlt's has no such check)."""

    def __init__(
        self, *args: Any, next_offset_path: str, has_more_path: str, **kwargs: Any
    ) -> None:
        super().__init__(*args, has_more_path=has_more_path, **kwargs)
        self.next_offset_keys = next_offset_path.split(".")
        self.has_more_keys = has_more_path.split(".")

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        start = int(self.current_value)
        body = response.json()
        super().update_state(response, data)
        if not _at(body, self.has_more_keys):
            return
        value = _at(body, self.next_offset_keys)
        if value is None:
            if not data:
                raise stuck(response.url, "an empty page says there are more items")
            return
        if int(value) <= start:
            raise stuck(response.url, f"more items, yet next offset {value} is not after {start}")
        self.current_value = int(value)
        self._has_next_page = True


def _at(body: Any, keys: list[str]) -> Any:
    for key in keys:
        body = body.get(key) if isinstance(body, dict) else None
    return body


class NextLinkPaginator(JSONLinkPaginator):
    """dlt's JSONLinkPaginator (the next page's URL in the body), raising PagingStuck when a
    page links to a URL already requested."""

    def __init__(self, next_url_path: str) -> None:
        super().__init__(next_url_path=next_url_path)
        self._requested: set[str] = set()

    def init_request(self, request: Request) -> None:
        # dlt's rest_api reuses one paginator instance for every run of its resource
        self._requested.clear()
        super().init_request(request)

    def update_request(self, request: Request) -> None:
        self._requested.add(str(request.url))
        super().update_request(request)
        if self._next_reference and str(request.url) in self._requested:
            raise stuck(request.url, "the next page link points to a page already requested")


def rest_api_client(client: RESTClient) -> dict[str, Any]:
    """The `client` block of a dlt rest_api config that runs on `client`'s session: the
    vendor's pace, retries and request counts of make_client."""
    return {
        "base_url": client.base_url,
        "headers": client.headers,
        "auth": client.auth,
        "session": client.session,
    }
