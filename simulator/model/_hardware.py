"""Devices that exist: models with their release dates and supported OS range, OS releases with
their dates, and the browsers an extension runs in, so that a device registered on a given day
is one a person could hold that day, running an OS it supports.

A model lists the OS major it shipped with and the last major it supports (``None``: still
supported). A device registered at time *t* is a model released by *t*; its OS version is a
release out by *t*, no older than the one the model shipped with, within its supported range:
most people run the latest release their device takes, some lag a release or two. So OS
versions age with the clock: ``--start 2025-06-01`` gives iOS 18.x, November 2026 gives 26.x.

Release dates are public (Apple, Google, Samsung, Microsoft, the distributions, Chrome's and
Firefox's four-week schedules); the tables stop at the releases known in December 2025, and
the latest known release stays current after that.

>>> from simulator.model._clock import parse_instant
>>> import random
>>> spec = device_spec("iphone", parse_instant("2026-11-30T08:00Z"), random.Random(1))
>>> spec.os_name, spec.os_version.split(".")[0]
('iOS', '26')
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

__all__ = [
    "BROWSERS",
    "DEVICE_TYPES",
    "MOBILE_OS",
    "DeviceSpec",
    "Model",
    "OsRelease",
    "device_spec",
    "os_releases",
]

#: OS names a browser extension never runs on (phones and tablets have no extension of ours).
MOBILE_OS = frozenset({"iOS", "iPadOS", "Android"})

_DAY_MS = 86_400_000


def _ms(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class OsRelease:
    """One OS release: its track (``iOS``, ``Android/samsung``…), major, version string, date."""

    track: str
    major: str
    version: str
    released: int


@dataclass(frozen=True, slots=True)
class Model:
    """A device model: its type, release date, OS track, and first and last supported OS majors."""

    type: str
    name: str
    released: int
    track: str
    first_os: str
    last_os: str | None


def _releases(track: str, rows: str) -> tuple[OsRelease, ...]:
    out = []
    for row in rows.split(";"):
        version, day = row.split()
        major = version.split(" ")[0]
        out.append(OsRelease(track, major.split(".")[0], version.replace("_", " "), _ms(day)))
    return tuple(sorted(out, key=lambda r: r.released))


_APPLE_MOBILE = (
    "17.0 2023-09-18;17.1 2023-10-25;17.2 2023-12-11;17.3 2024-01-22;17.4 2024-03-05;17.5 2024-05-13;"
    "17.6 2024-07-29;17.6.1 2024-08-07;17.7 2024-09-16;18.0 2024-09-16;18.0.1 2024-10-03;18.1 2024-10-28;"
    "18.1.1 2024-11-19;18.2 2024-12-11;18.3 2025-01-27;18.4 2025-03-31;18.5 2025-05-12;18.6 2025-07-29;"
    "18.6.2 2025-08-20;18.7 2025-09-15;26.0 2025-09-15;26.0.1 2025-09-29;26.1 2025-11-03;26.2 2025-12-12")
_MACOS = (
    "14.0 2023-09-26;14.1 2023-10-25;14.2 2023-12-11;14.3 2024-01-22;14.4 2024-03-07;14.5 2024-05-13;"
    "14.6 2024-07-29;14.7 2024-09-16;15.0 2024-09-16;15.1 2024-10-28;15.2 2024-12-11;15.3 2025-01-27;"
    "15.4 2025-03-31;15.5 2025-05-12;15.6 2025-07-29;15.7 2025-09-15;26.0 2025-09-15;26.0.1 2025-09-29;"
    "26.1 2025-11-03;26.2 2025-12-12")

#: OS releases by track, oldest first.
_OS: dict[str, tuple[OsRelease, ...]] = {
    "iOS": _releases("iOS", _APPLE_MOBILE),
    "iPadOS": _releases("iPadOS", _APPLE_MOBILE),
    "macOS": _releases("macOS", _MACOS),
    "Android/pixel": _releases("Android/pixel", "14 2023-10-04;15 2024-10-15;16 2025-06-10"),
    "Android/samsung": _releases("Android/samsung", "14 2023-10-30;15 2025-02-07;16 2025-09-15"),
    # Windows 11 feature updates with a cumulative update's build (major = the feature update).
    "Windows": tuple(sorted((
        OsRelease("Windows", "23H2", "11 23H2 (22631.2715)", _ms("2023-11-14")),
        OsRelease("Windows", "23H2", "11 23H2 (22631.4460)", _ms("2024-11-12")),
        # 24H2 shipped first on Copilot+ PCs (Surface Laptop 7), before its general release.
        OsRelease("Windows", "24H2", "11 24H2 (26100.712)", _ms("2024-06-18")),
        OsRelease("Windows", "24H2", "11 24H2 (26100.2314)", _ms("2024-11-12")),
        OsRelease("Windows", "24H2", "11 24H2 (26100.2605)", _ms("2024-12-10")),
        OsRelease("Windows", "24H2", "11 24H2 (26100.4349)", _ms("2025-06-10")),
        OsRelease("Windows", "25H2", "11 25H2 (26200.6584)", _ms("2025-09-30")),
        OsRelease("Windows", "25H2", "11 25H2 (26200.7171)", _ms("2025-11-11")),
    ), key=lambda r: r.released)),
    # Distributions run side by side: the "major" is the distribution, any model runs any.
    "Linux": tuple(sorted((
        OsRelease("Linux", "Linux", "Ubuntu 22.04.3 LTS", _ms("2023-08-10")),
        OsRelease("Linux", "Linux", "Fedora 39", _ms("2023-11-07")),
        OsRelease("Linux", "Linux", "Debian 12.4", _ms("2023-12-10")),
        OsRelease("Linux", "Linux", "Ubuntu 22.04.5 LTS", _ms("2024-09-12")),
        OsRelease("Linux", "Linux", "Ubuntu 24.04.1 LTS", _ms("2024-08-29")),
        OsRelease("Linux", "Linux", "Debian 12.8", _ms("2024-11-09")),
        OsRelease("Linux", "Linux", "Fedora 41", _ms("2024-10-29")),
        OsRelease("Linux", "Linux", "Fedora 42", _ms("2025-04-15")),
        OsRelease("Linux", "Linux", "Ubuntu 24.04.3 LTS", _ms("2025-08-07")),
        OsRelease("Linux", "Linux", "Debian 13.1", _ms("2025-09-06")),
        OsRelease("Linux", "Linux", "Ubuntu 25.10", _ms("2025-10-09")),
        OsRelease("Linux", "Linux", "Fedora 43", _ms("2025-10-28")),
    ), key=lambda r: r.released)),
}

#: The OS name a track reports.
_OS_NAME = {"iOS": "iOS", "iPadOS": "iPadOS", "macOS": "macOS", "Android/pixel": "Android",
            "Android/samsung": "Android", "Windows": "Windows", "Linux": "Linux"}


def _models(type_: str, track: str, rows: tuple[tuple[str, str, str, str | None], ...]) -> tuple[Model, ...]:
    return tuple(Model(type_, name, _ms(day), track, first, last) for name, day, first, last in rows)


#: Models by device type: (name, release date, first OS major, last OS major or None).
MODELS: dict[str, tuple[Model, ...]] = {
    "iphone": _models("iphone", "iOS", (
        ("iPhone XS", "2018-09-21", "12", "18"),
        ("iPhone 12", "2020-10-23", "14", None),
        ("iPhone 13", "2021-09-24", "15", None),
        ("iPhone SE (3rd generation)", "2022-03-18", "15", None),
        ("iPhone 14", "2022-09-16", "16", None),
        ("iPhone 14 Pro", "2022-09-16", "16", None),
        ("iPhone 15", "2023-09-22", "17", None),
        ("iPhone 15 Pro", "2023-09-22", "17", None),
        ("iPhone 16", "2024-09-20", "18", None),
        ("iPhone 16 Pro", "2024-09-20", "18", None),
        ("iPhone 16 Pro Max", "2024-09-20", "18", None),
        ("iPhone 16e", "2025-02-28", "18", None),
        ("iPhone 17", "2025-09-19", "26", None),
        ("iPhone Air", "2025-09-19", "26", None),
        ("iPhone 17 Pro", "2025-09-19", "26", None),
        ("iPhone 17 Pro Max", "2025-09-19", "26", None),
    )),
    "ipad": _models("ipad", "iPadOS", (
        ("iPad (9th generation)", "2021-09-24", "15", None),
        ("iPad (10th generation)", "2022-10-26", "16", None),
        ("iPad Air (M2)", "2024-05-15", "17", None),
        ("iPad Pro 11-inch (M4)", "2024-05-15", "17", None),
        ("iPad mini (A17 Pro)", "2024-10-23", "18", None),
        ("iPad (A16)", "2025-03-12", "18", None),
        ("iPad Air (M3)", "2025-03-12", "18", None),
        ("iPad Pro 11-inch (M5)", "2025-10-22", "26", None),
    )),
    "mac": _models("mac", "macOS", (
        ("MacBook Air (13-inch, M2)", "2022-07-15", "12", None),
        ("MacBook Pro (14-inch, M3)", "2023-11-07", "14", None),
        ("MacBook Air (15-inch, M3)", "2024-03-08", "14", None),
        ("Mac mini (M4)", "2024-11-08", "15", None),
        ("iMac (24-inch, M4)", "2024-11-08", "15", None),
        ("MacBook Pro (16-inch, M4 Max)", "2024-11-08", "15", None),
        ("MacBook Air (13-inch, M4)", "2025-03-12", "15", None),
        ("MacBook Pro (14-inch, M5)", "2025-10-22", "26", None),
    )),
    "android_phone": (
        *_models("android_phone", "Android/pixel", (
            ("Pixel 8", "2023-10-12", "14", None),
            ("Pixel 8 Pro", "2023-10-12", "14", None),
            ("Pixel 9", "2024-08-22", "14", None),
            ("Pixel 9 Pro", "2024-08-22", "14", None),
            ("Pixel 9a", "2025-04-10", "15", None),
            ("Pixel 10", "2025-08-28", "16", None),
            ("Pixel 10 Pro", "2025-08-28", "16", None),
        )),
        *_models("android_phone", "Android/samsung", (
            ("Galaxy S24", "2024-01-31", "14", None),
            ("Galaxy S24 Ultra", "2024-01-31", "14", None),
            ("Galaxy A55", "2024-03-15", "14", None),
            ("Galaxy S25", "2025-02-07", "15", None),
            ("Galaxy S25 Ultra", "2025-02-07", "15", None),
            ("Galaxy A56", "2025-03-10", "15", None),
        )),
    ),
    "android_tablet": (
        *_models("android_tablet", "Android/pixel", (("Pixel Tablet", "2023-06-20", "14", None),)),
        *_models("android_tablet", "Android/samsung", (
            ("Galaxy Tab S9", "2023-08-11", "14", None),
            ("Galaxy Tab S9 FE", "2023-10-05", "14", None),
            ("Galaxy Tab S10 FE", "2025-04-03", "15", None),
        )),
    ),
    "windows_pc": _models("windows_pc", "Windows", (
        ("Dell Latitude 7440", "2023-05-15", "23H2", None),
        ("HP EliteBook 840 G10", "2023-05-01", "23H2", None),
        ("Lenovo ThinkPad X1 Carbon Gen 12", "2024-02-26", "23H2", None),
        ("Dell XPS 13 9340", "2024-02-20", "23H2", None),
        ("Microsoft Surface Laptop 7", "2024-06-18", "24H2", None),
        ("HP EliteBook 840 G11", "2024-05-01", "23H2", None),
        ("Lenovo ThinkPad X1 Carbon Gen 13", "2024-12-01", "24H2", None),
    )),
    "linux_pc": _models("linux_pc", "Linux", (
        ("Framework Laptop 13", "2023-06-01", "Linux", None),
        ("Lenovo ThinkPad T14 Gen 4", "2023-06-01", "Linux", None),
        ("Dell XPS 13 Plus", "2023-03-01", "Linux", None),
        ("Lenovo ThinkPad T14 Gen 5", "2024-05-01", "Linux", None),
    )),
}

#: Device types in the schema's ``device_type`` enum the simulator registers.
DEVICE_TYPES = (*MODELS, "browser_extension")

_CHROME_EPOCH = ("140", "2025-09-02")

#: Browsers an extension runs in: (name, weight, hosts it runs on).
BROWSERS: tuple[tuple[str, float, frozenset[str]], ...] = (
    ("Chrome", 0.58, frozenset({"macOS", "Windows", "Linux"})),
    ("Edge", 0.17, frozenset({"Windows", "macOS"})),
    ("Firefox", 0.1, frozenset({"macOS", "Windows", "Linux"})),
    ("Safari", 0.15, frozenset({"macOS"})),
)

_APPLE = "CDFGHJKLMNPQRTVWXY0123456789"
_UPPER_DIGITS = string.ascii_uppercase + string.digits


def os_releases(track: str) -> tuple[OsRelease, ...]:
    """The known releases of an OS track, oldest first."""
    return _OS[track]


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """What a new device is: model, OS and version, and a serial or (for an extension) a browser."""

    model: str
    os_name: str
    os_version: str
    serial_number: str | None
    browser: tuple[str, str] | None


def _available(models: tuple[Model, ...], now: int) -> tuple[Model, ...]:
    return _available_on(models, now // _DAY_MS)


@lru_cache(maxsize=512)
def _available_on(models: tuple[Model, ...], day: int) -> tuple[Model, ...]:
    # Out by that day, and not older than about six years (people replace them).
    now = day * _DAY_MS
    fits = tuple(m for m in models if m.released <= now and now - m.released < 6 * 365 * _DAY_MS)
    return fits or (min(models, key=lambda m: m.released),)


def _os_for(model: Model, now: int, rng: random.Random) -> OsRelease:
    out = _releases_for(model, now // _DAY_MS)
    # Most run the latest release their device takes; some lag a release or two.
    position = len(out) - 1
    while position > 0 and rng.random() < 0.3:
        position -= 1
    return out[position]


@lru_cache(maxsize=4096)
def _releases_for(model: Model, day: int) -> tuple[OsRelease, ...]:
    """The releases a device of ``model`` may run on ``day``: out by then, within its range."""
    now = day * _DAY_MS
    releases = _OS[model.track]
    majors = list(dict.fromkeys(r.major for r in releases))
    low = majors.index(model.first_os) if model.first_os in majors else 0
    high = majors.index(model.last_os) if model.last_os in majors else len(majors) - 1
    allowed = set(majors[low:high + 1])
    out = [r for r in releases if r.major in allowed and r.released <= now]
    shipped = [r for r in out if r.released <= model.released]
    if shipped:
        out = out[out.index(shipped[-1]):]
    if not out:
        # The clock runs before the table: the model's first known release.
        out = [next((r for r in releases if r.major in allowed), releases[0])]
    return tuple(out)


def _serial(model: str, track: str, rng: random.Random) -> str:
    """A serial number in the vendor's shape (Apple, Pixel, Samsung, Dell/Lenovo/HP/Surface)."""
    if track in ("iOS", "iPadOS", "macOS"):
        return "".join(rng.choices(_APPLE, k=rng.choice((10, 12))))
    if model.startswith("Pixel"):
        return f"{rng.randint(1, 4)}{rng.randint(1000, 9999)}{''.join(rng.choices(string.ascii_uppercase, k=3))}" \
               f"{rng.randint(1000, 9999)}{''.join(rng.choices(_UPPER_DIGITS, k=3))}"
    if model.startswith("Galaxy"):
        return "R" + str(rng.randint(3, 5)) + "C" + "".join(rng.choices(_UPPER_DIGITS, k=8))
    if model.startswith("Dell"):
        return "".join(rng.choices(_UPPER_DIGITS, k=7))
    if model.startswith("Lenovo"):
        return "PF" + "".join(rng.choices(_UPPER_DIGITS, k=6))
    if model.startswith("HP"):
        return "5CG" + str(rng.randint(3, 5)) + "".join(rng.choices(_UPPER_DIGITS, k=6))
    if model.startswith("Microsoft"):
        return "0" + "".join(rng.choices(string.digits, k=11))
    return "FRA" + "".join(rng.choices(_UPPER_DIGITS, k=11))


def _browser_version(name: str, host: OsRelease, now: int, rng: random.Random) -> str:
    if name == "Safari":
        # Safari ships with macOS: Safari 18.x on macOS 15.x, 26.x on macOS 26.x.
        host_major, _, minor = host.version.partition(".")
        return f"{18 if host_major == '15' else host_major}.{minor.split('.')[0] or '0'}"
    # Chrome, Edge and Firefox ship every four weeks; most browsers update themselves.
    behind = 1 if rng.random() < 0.2 else 0
    if name == "Firefox":
        major = 143 + (now - _ms("2025-09-16")) // (28 * _DAY_MS) - behind
        return f"{major}.0.{rng.randint(1, 2)}" if rng.random() < 0.5 else f"{major}.0"
    major = int(_CHROME_EPOCH[0]) + (now - _ms(_CHROME_EPOCH[1])) // (28 * _DAY_MS) - behind
    if name == "Edge":
        return f"{major}.0.{3485 + 55 * (major - 140)}.{rng.randint(40, 120)}"
    return f"{major}.0.{7339 + 53 * (major - 140)}.{rng.randint(50, 210)}"


def device_spec(type_: str, now: int, rng: random.Random) -> DeviceSpec:
    """A device of ``type_`` as one registered at ``now`` (ms) would be."""
    if type_ == "browser_extension":
        host_type = "mac" if rng.random() < 0.55 else ("windows_pc" if rng.random() < 0.8 else "linux_pc")
        host = _os_for(rng.choice(_available(MODELS[host_type], now)), now, rng)
        os_name = _OS_NAME[host.track]
        names = [(n, w) for n, w, hosts in BROWSERS if os_name in hosts]
        browser = rng.choices([n for n, _ in names], [w for _, w in names])[0]
        return DeviceSpec(f"{browser} extension", os_name, host.version, None,
                          (browser, _browser_version(browser, host, now, rng)))
    model = rng.choice(_available(MODELS[type_], now))
    release = _os_for(model, now, rng)
    return DeviceSpec(model.name, _OS_NAME[model.track], release.version,
                      _serial(model.name, model.track, rng), None)
