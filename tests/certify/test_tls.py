"""An https listener on loopback with a certificate made by the test (openssl): the transport
facts, a private CA through --ca-file, --insecure graded as a warning, and a certificate that
does not verify refused in one line (a sender would refuse it too)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import Start

from simulator.cli import main
from simulator.testing import TEST_SECRET

pytestmark = pytest.mark.integration

ONLY = ["--only", "transport", "--only", "accepts/user.created/minimal", "--rate", "1000"]


def _certificate(folder: Path, days: int) -> tuple[Path, Path]:
    cert, key = folder / f"cert{days}.pem", folder / f"key{days}.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", str(days), "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("tls")
    return {days: _certificate(folder, days) for days in (90, 5)}


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["certify", *args, "--secret", TEST_SECRET])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_private_ca_given_with_ca_file_passes(start: Start, certs: dict[int, tuple[Path, Path]],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    cert, key = certs[90]
    code, out, _ = _run(capsys, start("correct", tls=(cert, key)), "--ca-file", str(cert), *ONLY)
    assert code == 0, out
    assert "PASS  accepts/user.created/minimal" in out
    assert "PASS  transport/scheme" in out
    assert "PASS  transport/certificate" in out
    assert "PASS  transport/tls-version" in out
    assert "got TLSv1.3" in out
    assert "PASS  transport/expiry" in out


def test_a_certificate_near_expiry_is_a_warning(start: Start, certs: dict[int, tuple[Path, Path]],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    cert, key = certs[5]
    code, out, _ = _run(capsys, start("correct", tls=(cert, key)), "--ca-file", str(cert), *ONLY)
    assert code == 0
    assert "WARN  transport/expiry" in out


def test_insecure_grades_the_certificate_as_a_warning(start: Start, certs: dict[int, tuple[Path, Path]],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, start("correct", tls=certs[90]), "--insecure", *ONLY)
    assert code == 0
    assert "WARN  transport/certificate" in out
    assert "PASS  accepts/user.created/minimal" in out
    assert err.splitlines()[0] == "chestsim: warning: --insecure: the listener's certificate is not verified"


def test_a_certificate_that_does_not_verify_is_one_line_and_exit_2(
        start: Start, certs: dict[int, tuple[Path, Path]], capsys: pytest.CaptureFixture[str]) -> None:
    url = start("correct", tls=certs[90])
    code, out, err = _run(capsys, url, *ONLY)
    assert code == 2
    assert out == ""
    [line] = err.strip().splitlines()
    assert line.startswith(f"chestsim: error: the certificate of {url} does not verify (")
    assert "--ca-file" in line
