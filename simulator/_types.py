"""Type aliases shared across modules, in one place."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeAlias

#: A decoded JSON object (an envelope, a ``data`` payload).
JSONObject: TypeAlias = dict[str, Any]
#: Any decoded JSON value.
JSONValue: TypeAlias = Any
#: An event as it travels through the pipeline: a decoded envelope.
Event: TypeAlias = JSONObject
#: Something that yields events.
EventStream: TypeAlias = Iterable[JSONObject]
#: A path given by a user.
PathLike: TypeAlias = str | os.PathLike[str]
#: A clock: returns the current time as an aware UTC datetime.
Clock: TypeAlias = Callable[[], datetime]
#: HTTP headers as a plain mapping.
Headers: TypeAlias = Mapping[str, str]
