"""The tenant's devices: which devices people register and what their metadata says (the
page's "Post Meta Data Of Personal Device").

A device belongs to one user (``user.devices``, appended here and nowhere else); no event
removes one, so the registry only adds.
"""

from __future__ import annotations

from bisect import bisect
from collections.abc import Sequence

from simulator.model._catalogs import COMPUTERS, DEVICE_KINDS, PHONES, TABLETS
from simulator.model._context import Context
from simulator.model._entities import Device, ModelError, User
from simulator.model._hardware import device_spec

__all__ = ["DeviceRegistry"]

_APP_VERSIONS = ("4.11.3", "4.12.0", "4.12.1", "4.13.0")

Weighted = tuple[tuple[str, ...], tuple[float, ...]]


def _weighted(table: Sequence[tuple[str, float]]) -> Weighted:
    total = sum(w for _, w in table)
    cumulative, running = [], 0.0
    for _, w in table:
        running += w / total
        cumulative.append(running)
    return tuple(name for name, _ in table), tuple(cumulative)


def _pick_weighted(table: Weighted, r: float) -> str:
    names, cumulative = table
    return names[min(bisect(cumulative, r), len(names) - 1)]


_PHONES = _weighted(PHONES)
_COMPUTERS = _weighted(COMPUTERS)
_TABLETS = _weighted(TABLETS)
_ANY_DEVICE = _weighted(COMPUTERS + PHONES)


class DeviceRegistry:
    """Registers users' devices (``device.registered``) with metadata that fits together.

    >>> from simulator.model import Tenant
    >>> t = Tenant(seed=1, users=2)
    >>> device = t.device_registry.register(t.users[0], "mac")
    >>> device.os_name
    'macOS'
    """

    def __init__(self, ctx: Context, *, devices_per_user: int) -> None:
        self._ctx = ctx
        self.devices_per_user = devices_per_user

    def plan(self) -> list[str]:
        """A user's devices: a phone, a computer, then a tablet, then more of either."""
        rand = self._ctx.random
        plan = [_pick_weighted(_PHONES, rand()), _pick_weighted(_COMPUTERS, rand())]
        while len(plan) < self.devices_per_user:
            plan.append(_pick_weighted(_TABLETS if len(plan) == 2 else _ANY_DEVICE, rand()))
        return plan[: self.devices_per_user]

    def check_type(self, type_: str) -> None:
        if type_ not in DEVICE_KINDS:
            raise ModelError(f"device type {type_!r} is not one of {', '.join(DEVICE_KINDS)}")

    def register(self, user: User, dtype: str) -> Device:
        """Register a device of type ``dtype`` for ``user`` (``device.registered``)."""
        ctx = self._ctx
        rng = ctx.rng
        kind = DEVICE_KINDS[dtype]
        now = ctx.tick(1000, 60_000)
        spec = device_spec(dtype, now, rng)
        model = spec.model
        short = model.split(" (")[0]
        name = kind.name_pattern.format(
            first=user.given_name, model=model, model_short=short, os=spec.os_name,
            FIRST=(user.email.split(".")[0][:8]).upper(), num=rng.randint(100, 999),
            first_lower=user.email.split(".")[0], model_tag=short.split()[0].lower())
        device = Device(
            id=ctx.ids.uuid(), owner=user, type=dtype, model=model, name=name[:128],
            os_name=spec.os_name, os_version=spec.os_version, serial_number=spec.serial_number,
            bluetooth_available=rng.random() < kind.bluetooth,
            apns_enabled=rng.random() < kind.apns,
            entitlements=kind.entitlements if rng.random() < 0.97 else (),
            app_version=rng.choice(_APP_VERSIONS), registered_at=now, ref={}, browser=spec.browser)
        device.ref = {"id": device.id, "type": device.type, "name": device.name}
        user.devices.append(device)
        iso = ctx.iso(now)
        ctx.emit("device.registered", {"device": device.as_json(iso)}, iso)
        return device
