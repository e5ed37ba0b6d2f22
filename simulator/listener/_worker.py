"""The record writer process: ``python -m simulator.listener._worker DB flags… PRELOAD``.

Reads length-prefixed pickled batches on stdin, judges and commits each one,
and answers ``("ok", outcomes)`` on stdout. It ignores SIGINT and SIGTERM (a
Ctrl-C reaches the whole process group): the listener decides when to stop,
by closing stdin once everything it acknowledged is committed.
"""

from __future__ import annotations

import pickle
import signal
import sys
from typing import Any, BinaryIO

from simulator._exceptions import InputError
from simulator.listener._records import BatchWriter

_HEADER = 4


def _send(out: BinaryIO, kind: str, value: Any) -> None:
    payload = pickle.dumps((kind, value), protocol=pickle.HIGHEST_PROTOCOL)
    out.write(len(payload).to_bytes(_HEADER, "little") + payload)
    out.flush()


def _read(stream: BinaryIO, size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    source, out = sys.stdin.buffer, sys.stdout.buffer
    path, fsync, strict, reject_invalid, preload = argv
    try:
        writer = BatchWriter(path, fsync=fsync == "--fsync", strict=strict == "--strict",
                             reject_invalid=reject_invalid == "--reject-invalid")
        ids = writer.acknowledged_ids(int(preload)) if int(preload) else []
    except InputError as exc:
        _send(out, "input-error", str(exc))
        return 2
    except Exception as exc:
        _send(out, "error", f"cannot open the record file {path!r}: {exc}")
        return 2
    _send(out, "ready", ids)
    try:
        # One turn per batch until the listener closes the pipe.
        while (header := _read(source, _HEADER)) is not None:
            payload = _read(source, int.from_bytes(header, "little"))
            if payload is None:
                break
            try:
                outcomes = writer.write(pickle.loads(payload))
            except Exception as exc:
                _send(out, "error", f"{type(exc).__name__}: {exc}")
                continue
            _send(out, "ok", outcomes)
    except BrokenPipeError:
        pass
    finally:
        writer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
