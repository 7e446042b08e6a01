"""A GET sent on urllib3's connection pool directly, with make_client's retries: for endpoints
called once per record, where requests' Session.send (hooks, redirects, cookie extraction,
Response building) and tenacity's per-call setup cost as much CPU as the HTTP exchange.

The pool is the one requests itself would use for the URL (the session's adapter: its TLS
verification, CA bundle and client certificate settings), so https is verified exactly as
for every other request. What the lean path does not do, requests does: a host reached
through a proxy (HTTP(S)_PROXY, not excluded by NO_PROXY), a redirect, an auth or session
with response hooks all go through the session, as before.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from email.utils import mktime_tz, parsedate_tz
from time import sleep
from typing import Any

from requests import PreparedRequest, Response, Session
from requests.adapters import HTTPAdapter
from requests.exceptions import (
    ConnectionError,
    ConnectTimeout,
    InvalidHeader,
    ProxyError,
    ReadTimeout,
    RetryError,
    SSLError,
    Timeout,
)
from requests.utils import select_proxy
from urllib3 import BaseHTTPResponse, HTTPConnectionPool
from urllib3.exceptions import (
    ClosedPoolError,
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.exceptions import (
    InvalidHeader as Urllib3InvalidHeader,
)
from urllib3.exceptions import ProxyError as Urllib3ProxyError
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.util import Retry
from urllib3.util import Timeout as Urllib3Timeout

RETRY_STATUS = frozenset((429, *range(500, 600)))  # dlt's DEFAULT_RETRY_STATUS
REDIRECT_STATUS = frozenset((301, 302, 303, 307, 308))


@dataclass(frozen=True)
class RetrySettings:
    """make_client's retry settings, applied as dlt's retrying session applies them: up to
    `max_attempts` attempts on 429, 5xx, connection errors and timeouts; between attempts
    the Retry-After header's seconds (or date) when given and positive, capped at
    `max_delay_seconds`, else `backoff_factor * 2 ** (attempt - 1)`, also capped."""

    max_attempts: int
    backoff_factor: float
    max_delay_seconds: float

    def wait_seconds(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            seconds = _parse_retry_after(retry_after)
            if seconds is not None:
                return max(0.0, min(self.max_delay_seconds, seconds))
        return max(0.0, min(self.backoff_factor * 2 ** (attempt - 1), self.max_delay_seconds))


def _parse_retry_after(value: str) -> float | None:
    """Seconds to wait per a Retry-After header, as dlt (after urllib3) reads it: an integer
    or an HTTP date; None when absent, unreadable or not in the future."""
    seconds: float
    if re.match(r"^\s*[0-9]+\s*$", value):
        seconds = int(value)
    else:
        parsed = parsedate_tz(value)
        if parsed is None:
            return None
        seconds = mktime_tz(parsed) - time.time()
    return seconds if seconds > 0 else None


def path_url(request: PreparedRequest) -> str:
    """`request.path_url` (path and query of the URL) without parsing the URL, where that is
    plainly the rest after the host; otherwise requests' own."""
    url = str(request.url)
    start = url.find("://")
    slash = url.find("/", start + 3) if start >= 0 else -1
    if slash < 0 or "?" in url[:slash] or "#" in url or url.endswith("?"):
        return str(request.path_url)
    return url[slash:]


class Fallback(Exception):
    """This request is for the session (a proxy, a redirect): the caller sends it there."""


class LeanTransport:
    """Sends prepared GETs of one session on its adapter's urllib3 pools."""

    def __init__(self, session: Session, retry: RetrySettings) -> None:
        self._session = session
        self._retry = retry
        self._pools: dict[tuple[str, str], HTTPConnectionPool | None] = {}
        self._lock = threading.Lock()
        # urllib3 retries nothing itself (as requests' adapter): the loop below does
        self._no_retries = Retry(0, read=False)
        timeout: Any = getattr(session, "timeout", None)
        if isinstance(timeout, tuple):
            self._timeout = Urllib3Timeout(connect=timeout[0], read=timeout[1])
        else:
            self._timeout = Urllib3Timeout(connect=timeout, read=timeout)

    def _pool(self, request: PreparedRequest, key: tuple[str, str]) -> HTTPConnectionPool | None:
        """The pool requests would send `request` on, or None when requests would send it
        through a proxy (or the session's adapter is not requests' own)."""
        with self._lock:
            if key in self._pools:
                return self._pools[key]
        url = str(request.url)
        settings = self._session.merge_environment_settings(url, {}, None, None, None)
        adapter = self._session.get_adapter(url)
        pool: HTTPConnectionPool | None = None
        if type(adapter) is HTTPAdapter and not select_proxy(url, settings["proxies"]):
            verify, cert = settings["verify"], settings["cert"]
            pool = adapter.get_connection_with_tls_context(request, verify, proxies=None, cert=cert)
            adapter.cert_verify(pool, url, verify, cert)
        with self._lock:
            self._pools[key] = pool
        return pool

    def _forget(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._pools.pop(key, None)

    def send(self, request: PreparedRequest, key: tuple[str, str]) -> BaseHTTPResponse:
        """The response to `request` (body read) after make_client's retries: the last
        response when every attempt got 429/5xx; the last error (as requests raises it) when
        every attempt failed to get a response. Raises Fallback for the session's path."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._send_once(request, key)
            except (ConnectionError, Timeout):
                if attempt >= self._retry.max_attempts:
                    raise
                sleep(self._retry.wait_seconds(attempt, None))
                continue
            if response.status in RETRY_STATUS and attempt < self._retry.max_attempts:
                retry_after = response.headers.get("Retry-After")
                sleep(self._retry.wait_seconds(attempt, retry_after))
                continue
            if response.status in REDIRECT_STATUS and response.headers.get("Location"):
                raise Fallback()
            return response

    def _send_once(self, request: PreparedRequest, key: tuple[str, str]) -> BaseHTTPResponse:
        for _ in range(2):  # a pool the manager has closed since (evicted): get it again
            pool = self._pool(request, key)
            if pool is None:
                raise Fallback()
            try:
                return self._urlopen(pool, request)
            except ClosedPoolError:
                self._forget(key)
        raise ConnectionError("connection pool closed", request=request)

    def _urlopen(self, pool: HTTPConnectionPool, request: PreparedRequest) -> BaseHTTPResponse:
        """pool.urlopen with requests' error mapping (HTTPAdapter.send)."""
        try:
            return pool.urlopen(
                method="GET",
                url=path_url(request),
                body=None,
                headers=request.headers,  # type: ignore[arg-type]
                redirect=False,
                assert_same_host=False,
                preload_content=True,
                decode_content=True,
                retries=self._no_retries,
                timeout=self._timeout,
            )
        except ClosedPoolError:
            raise
        except (ProtocolError, OSError) as err:
            raise ConnectionError(err, request=request) from err
        except MaxRetryError as err:
            reason = err.reason
            if isinstance(reason, ConnectTimeoutError) and not isinstance(
                reason, NewConnectionError
            ):
                raise ConnectTimeout(err, request=request) from err
            if isinstance(reason, ResponseError):
                raise RetryError(err, request=request) from err
            if isinstance(reason, Urllib3ProxyError):
                raise ProxyError(err, request=request) from err
            if isinstance(reason, Urllib3SSLError):
                raise SSLError(err, request=request) from err
            raise ConnectionError(err, request=request) from err
        except Urllib3ProxyError as err:
            raise ProxyError(err) from err
        except Urllib3SSLError as err:
            raise SSLError(err, request=request) from err
        except ReadTimeoutError as err:
            raise ReadTimeout(err, request=request) from err
        except Urllib3InvalidHeader as err:
            raise InvalidHeader(err, request=request) from err
        except HTTPError:
            raise

    def response(self, request: PreparedRequest, raw: BaseHTTPResponse) -> Response:
        """The requests Response for a lean exchange (for errors and unusual bodies)."""
        adapter = self._session.get_adapter(str(request.url))
        response = adapter.build_response(request, raw)
        response._content = raw.data
        response._content_consumed = True
        return response
