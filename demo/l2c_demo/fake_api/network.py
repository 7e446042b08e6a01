"""What the fakes do on the network besides answering: a round-trip latency per request and
the vendors' rate limits and budgets (figures from pipelines/limits.py), enforced and answered
the way each vendor answers them:

- Pipedrive: a rolling 2-second burst window per token, `x-ratelimit-limit/-remaining/-reset`
  on every response, 429 past the window; a daily token budget (per-request costs), 429 with
  "daily token budget exceeded" past it.
- Salesforce: a daily API request allocation, `Sforce-Limit-Info: api-usage=used/limit` on
  every response, 403 `REQUEST_LIMIT_EXCEEDED` past it (no Retry-After).
- Stripe: read requests per second; 429 with `Stripe-Rate-Limited-Reason`, no Retry-After.
- Zendesk Sell: requests per hour per token; 429 past it, no rate-limit headers.
- Oracle CX: no documented limits, none enforced.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from l2c_demo.fake_api.responses import Response, pipedrive_error, stripe_error
from pipelines import limits


@dataclass
class NetworkSettings:
    """`latency_seconds`: slept before answering each request (a round trip).
    `enforce_limits`: answer over-limit requests as the vendor does. `rates` overrides a
    system's (requests, window seconds); `daily` its daily allowance (Pipedrive: tokens)."""

    latency_seconds: float = 0.0
    enforce_limits: bool = False
    rates: dict[str, tuple[int, float]] = field(default_factory=dict)
    daily: dict[str, int] = field(default_factory=dict)

    def rate(self, system: str) -> tuple[int, float]:
        if system in self.rates:
            return self.rates[system]
        rate = limits.vendor_limits(system).rate
        return rate.requests, rate.window_seconds

    def daily_allowance(self, system: str) -> int:
        if system in self.daily:
            return self.daily[system]
        return limits.vendor_limits(system).daily_budget


class SlidingWindow:
    """At most `limit` events in any rolling `window` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()

    def _expire(self, now: float) -> None:
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()

    def admit(self, now: float) -> bool:
        self._expire(now)
        if len(self._times) >= self.limit:
            return False
        self._times.append(now)
        return True

    def remaining(self, now: float) -> int:
        self._expire(now)
        return max(0, self.limit - len(self._times))

    def reset_seconds(self, now: float) -> float:
        """Seconds until the oldest event in the window leaves it."""
        self._expire(now)
        return max(0.0, self._times[0] + self.window - now) if self._times else 0.0


class VendorNetwork:
    """Latency and limits for every system of one fake server (thread-safe)."""

    def __init__(self, settings: NetworkSettings | None = None) -> None:
        self.settings = settings or NetworkSettings()
        self._lock = threading.Lock()
        self._windows: dict[str, SlidingWindow] = {}
        self._spent: dict[str, int] = {}
        self.rejected: dict[str, int] = {}

    def configure(self, settings: NetworkSettings) -> None:
        with self._lock:
            self.settings = settings
            self._windows.clear()
            self._spent.clear()
            self.rejected.clear()

    def spent(self, system: str) -> int:
        """Daily allowance spent so far (Pipedrive: tokens; others: requests)."""
        with self._lock:
            return self._spent.get(system, 0)

    def _window(self, system: str) -> SlidingWindow | None:
        requests, seconds = self.settings.rate(system)
        if requests <= 0:
            return None
        window = self._windows.get(system)
        if window is None:
            window = self._windows[system] = SlidingWindow(requests, seconds)
        return window

    def admit(self, system: str, path: str) -> tuple[Response | None, dict[str, str]]:
        """(a rejection to send instead of the answer, or None; headers for the answer)."""
        if not self.settings.enforce_limits:
            return None, {}
        now = time.monotonic()
        with self._lock:
            window = self._window(system)
            admitted = window.admit(now) if window is not None else True
            cost = limits.pipedrive_token_cost(path) if system == "pipedrive" else 1
            allowance = self.settings.daily_allowance(system)
            over_budget = bool(allowance) and self._spent.get(system, 0) + cost > allowance
            if admitted and not over_budget:
                self._spent[system] = self._spent.get(system, 0) + cost
            else:
                self.rejected[system] = self.rejected.get(system, 0) + 1
            headers = _headers(system, window, now, self._spent.get(system, 0), allowance)
        if over_budget:
            return _over_budget(system, headers), headers
        if not admitted:
            return _over_rate(system, headers), headers
        return None, headers

    def wait(self) -> None:
        if self.settings.latency_seconds > 0:
            time.sleep(self.settings.latency_seconds)


def _headers(
    system: str, window: SlidingWindow | None, now: float, spent: int, allowance: int
) -> dict[str, str]:
    if system == "pipedrive" and window is not None:
        return {
            "x-ratelimit-limit": str(window.limit),
            "x-ratelimit-remaining": str(window.remaining(now)),
            "x-ratelimit-reset": str(math.ceil(window.reset_seconds(now))),
        }
    if system == "salesforce" and allowance:
        return {"Sforce-Limit-Info": f"api-usage={spent}/{allowance}"}
    return {}


def _over_rate(system: str, headers: dict[str, str]) -> Response:
    if system == "pipedrive":
        resp = pipedrive_error(429, "Request over limit")
    elif system == "stripe":
        resp = stripe_error(429, "Too many requests hit the API too quickly.")
        resp.body["error"]["code"] = "rate_limit"
        resp.headers["Stripe-Rate-Limited-Reason"] = "global-rate"
    else:
        resp = Response(429, {"errors": [{"error": {"code": "rate_limit_exceeded"}}]})
    resp.headers.update(headers)
    return resp


def _over_budget(system: str, headers: dict[str, str]) -> Response:
    if system == "salesforce":
        body = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
        resp = Response(403, body)
    elif system == "pipedrive":
        resp = pipedrive_error(429, "Daily token budget exceeded")
    else:
        resp = Response(429, {"error": "daily request limit exceeded"})
    resp.headers.update(headers)
    return resp
