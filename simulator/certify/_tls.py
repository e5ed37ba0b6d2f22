"""Transport facts of an https listener: certificate chain and host name, TLS version, expiry.

One TLS handshake with the URL's own host and port (no HTTP request), verified as a
sender verifies (the system's roots, or ``--ca-file``); when verification fails the
handshake is repeated unverified only to read the version and the expiry date.
"""

from __future__ import annotations

import socket
import ssl
import time
from typing import Any

from simulator.certify._cases import Case
from simulator.certify._report import CaseResult

__all__ = ["grade", "probe"]

_WARN_DAYS = 14


def _handshake(host: str, port: int, context: ssl.SSLContext) -> dict[str, Any]:
    with socket.create_connection((host, port), timeout=10.0) as raw, \
            context.wrap_socket(raw, server_hostname=host) as tls:
        der = tls.getpeercert(binary_form=True)
        decoded = tls.getpeercert() or {}
        return {"version": tls.version(), "der": der, "decoded": decoded}


def probe(host: str, port: int, *, ca_file: str | None = None, insecure: bool = False) -> dict[str, Any]:
    """What one handshake shows: ``verified``, ``error``, ``version``, ``not_after``, ``days_left``."""
    verified = ssl.create_default_context(cafile=ca_file)
    facts: dict[str, Any] = {"host": host, "port": port}
    try:
        seen = _handshake(host, port, verified)
        facts.update(verified=True, error=None)
    except ssl.SSLCertVerificationError as exc:
        facts.update(verified=False, error=str(exc.verify_message or exc.reason or "verification failed"))
        seen = _unverified(host, port)
    except (OSError, ssl.SSLError) as exc:
        facts.update(verified=False, error=f"no TLS handshake: {exc}"[:200], version=None, not_after=None,
                     days_left=None)
        return facts
    facts["version"] = seen["version"]
    not_after = seen["decoded"].get("notAfter") or _not_after_of(seen["der"])
    facts["not_after"] = not_after
    if not_after:
        expires = ssl.cert_time_to_seconds(not_after)
        facts["days_left"] = round((expires - time.time()) / 86400, 1)
    else:
        facts["days_left"] = None
    return facts


def _unverified(host: str, port: int) -> dict[str, Any]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    seen = _handshake(host, port, context)
    return seen


def _not_after_of(der: bytes | None) -> str | None:
    """An unverified peer's ``getpeercert()`` is empty: read notAfter through a throw-away PEM file."""
    if not der:
        return None
    import os
    import tempfile

    pem = ssl.DER_cert_to_PEM_cert(der)
    fd, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(pem)
        decoded = ssl._ssl._test_decode_cert(path)  # type: ignore[attr-defined]
        value = decoded.get("notAfter")
        return str(value) if value else None
    except (OSError, ssl.SSLError, AttributeError):
        return None
    finally:
        os.unlink(path)


def grade(case: Case, facts: dict[str, Any], *, insecure: bool) -> CaseResult:
    """The verdict of one https transport case from the probe's facts."""
    if case.id == "transport/certificate":
        if facts.get("verified"):
            return CaseResult(case.id, case.section, case.owed, "valid", "pass",
                              f"chain and host name verified for {facts['host']}", case.hint)
        verdict = "warn" if insecure and facts.get("version") else "fail"
        why = facts.get("error") or "not verified"
        extra = " (--insecure: delivered anyway)" if insecure else ""
        return CaseResult(case.id, case.section, case.owed, "not valid", verdict, f"{why}{extra}", case.hint)
    if case.id == "transport/tls-version":
        version = facts.get("version")
        ok = version in ("TLSv1.2", "TLSv1.3")
        return CaseResult(case.id, case.section, case.owed, str(version or "none"), "pass" if ok else "fail",
                          "" if ok else "TLS before 1.2 is broken; enable 1.2 and 1.3", case.hint)
    days = facts.get("days_left")
    if days is None:
        return CaseResult(case.id, case.section, case.owed, "unknown", "fail",
                          facts.get("error") or "no certificate", case.hint)
    verdict = "fail" if days <= 0 else ("warn" if days < _WARN_DAYS else "pass")
    return CaseResult(case.id, case.section, case.owed, f"{facts['not_after']}", verdict,
                      f"{days:g} days left", case.hint)
