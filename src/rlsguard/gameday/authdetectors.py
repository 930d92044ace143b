"""Detectors of the auth incidents (runbook sections 1, 3, 4, 5), on :class:`.authrig.AuthView`.

Thresholds are the runbook's, scaled to a drill: "auth_error rate > 10 per minute" becomes 10
per minute *extrapolated* from one tick's window; "long response times (> 10 seconds)" becomes
``latency_s`` (1 s); "bounce rate > 5%" is kept as is.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rlsguard.gameday.detectors import DETECTORS, Detector, Firing, Observation


class _AuthDetector(Detector):
    needs = "authsvc"


@DETECTORS.register("auth_health")
class AuthHealth(_AuthDetector):
    """§5 "Service unavailable" / "HTTP 503": ``curl -I .../health`` fails or is slow."""

    defaults: ClassVar[dict[str, Any]] = {"slow_s": 1.0}

    def check(self, obs: Observation) -> Firing | None:
        v = obs.authsvc
        if v.health == 200 and v.health_s < self.settings["slow_s"]:
            return None
        what = f"answered {v.health}" if v.health else "did not answer"
        return Firing(self.name or "auth_health", f"GET /auth/v1/health {what} "
                      f"({v.health_s:.2f}s)", {"status": v.health})  # fmt: skip


@DETECTORS.register("auth_error_rate")
class AuthErrorRate(_AuthDetector):
    """§1 "auth_error rate > 10 per minute": failed synthetic sign-ins (any non-200, or a token
    the data layer refuses), per minute extrapolated from the tick's window."""

    defaults: ClassVar[dict[str, Any]] = {"per_minute": 10}

    def check(self, obs: Observation) -> Firing | None:
        w = obs.authsvc.window
        failed = [s for s in w.samples if s.kind == "signin" and not s.ok]
        if not failed:
            return None
        rate = len(failed) / max(w.seconds, 0.05) * 60
        if rate <= self.settings["per_minute"]:
            return None
        data_layer = sum(1 for s in failed if s.status == 200)
        return Firing(
            "auth_error_rate",
            f"auth_error rate {rate:.0f}/min > {self.settings['per_minute']}/min "
            f"({len(failed)} failed sign-ins, {data_layer} refused by the data layer)",
            {"per_minute": round(rate, 1), "failed": len(failed), "by_status": w.by_status()},
        )


@DETECTORS.register("login_latency")
class LoginLatency(_AuthDetector):
    """§5 "Long response times (> 10 seconds)", scaled: sign-in p95 above ``latency_s``, or
    sign-ins that got no answer at all."""

    defaults: ClassVar[dict[str, Any]] = {"latency_s": 1.0}

    def check(self, obs: Observation) -> Firing | None:
        w = obs.authsvc.window
        signins = [s for s in w.samples if s.kind == "signin"]
        unanswered = sum(1 for s in signins if s.status == 0)
        if not signins or (w.p95_s <= self.settings["latency_s"] and not unanswered):
            return None
        return Firing(
            "login_latency",
            f"sign-in p95 {w.p95_s * 1000:.0f} ms, {unanswered} without an answer",
            {"p95_ms": round(w.p95_s * 1000, 1), "unanswered": unanswered},
        )


@DETECTORS.register("redis_ping")
class RedisPing(_AuthDetector):
    """§4 ``redis-cli ping``, with a 500 ms timeout (a frozen Redis never answers)."""

    def check(self, obs: Observation) -> Firing | None:
        if obs.authsvc.redis_ping:
            return None
        return Firing("redis_ping", "Redis does not answer PING within 500 ms")


@DETECTORS.register("limiter_errors")
class LimiterErrors(_AuthDetector):
    """§4 "Redis connection issues": the service logged limiter errors since the last tick."""

    def check(self, obs: Observation) -> Firing | None:
        n = obs.authsvc.limiter_errors
        if not n:
            return None
        return Firing("limiter_errors", f"{n} rate-limiter error(s) logged", {"errors": n})


@DETECTORS.register("ratelimit_no_ttl")
class RateLimitNoTtl(_AuthDetector):
    """§4 "bucket not refilling": ``ratelimit:*`` keys with no TTL (or one no bucket needs),
    found with ``SCAN`` — the runbook's ``KEYS "ratelimit:*"`` blocks Redis while it walks
    the whole keyspace."""

    def check(self, obs: Observation) -> Firing | None:
        stuck = obs.authsvc.stuck_keys
        if not stuck:
            return None
        return Firing(
            "ratelimit_no_ttl",
            f"{len(stuck)} ratelimit key(s) without a usable TTL: {stuck[0][0]}",
            {"keys": [k for k, _ in stuck]},
        )


@DETECTORS.register("premature_429")
class Premature429(_AuthDetector):
    """§4 "Too many requests errors prematurely": 429s to synthetic users who are, by
    construction, far below the intended limits."""

    defaults: ClassVar[dict[str, Any]] = {"share": 0.05}

    def check(self, obs: Observation) -> Firing | None:
        w = obs.authsvc.window
        signins = [s for s in w.samples if s.kind == "signin"]
        limited = sum(1 for s in signins if s.status == 429)
        if not signins or limited / len(signins) <= self.settings["share"]:
            return None
        return Firing(
            "premature_429",
            f"{limited} of {len(signins)} sign-ins under the limit got 429",
            {"limited": limited, "requests": len(signins)},
        )


@DETECTORS.register("mail_failures")
class MailFailures(_AuthDetector):
    """§3 "Bounce rate > 5%" (and send failures generally): failed SMTP attempts over all
    attempts since the drill began."""

    defaults: ClassVar[dict[str, Any]] = {"rate": 0.05}

    def check(self, obs: Observation) -> Firing | None:
        o = obs.authsvc.outbox
        attempts = o["attempts"] + o["pending"]  # a pending message is at least one attempt due
        if not o["failures"] or o["failures"] / max(attempts, 1) <= self.settings["rate"]:
            return None
        return Firing(
            "mail_failures",
            f"{o['failures']} failed SMTP attempt(s) ({o['bounces']} bounced) of {attempts}",
            {k: o[k] for k in ("failures", "bounces", "attempts")},
        )


@DETECTORS.register("outbox_age")
class OutboxAge(_AuthDetector):
    """§3 "Users report not receiving OTP emails", before they do: the oldest queued OTP is
    older than ``age_s``."""

    defaults: ClassVar[dict[str, Any]] = {"age_s": 1.0}

    def check(self, obs: Observation) -> Firing | None:
        o = obs.authsvc.outbox
        if not o["pending"] or o["oldest_age_s"] <= self.settings["age_s"]:
            return None
        return Firing(
            "outbox_age",
            f"{o['pending']} OTP(s) queued, the oldest for {o['oldest_age_s']:.1f}s",
            {"pending": o["pending"], "oldest_age_s": round(o["oldest_age_s"], 3)},
        )
