"""``chestsim validate``: check captured or generated events against the payload contract."""

from __future__ import annotations

import contextlib
import enum
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import typer

from simulator._exceptions import UsageError
from simulator._units import parse_size
from simulator.cli._app import app
from simulator.cli._output import drop_stdout, to_stdout

_EPILOG = (
    "Exit codes: 0 every event valid; 1 some events invalid (including lines that are not JSON, "
    "truncated, or too long: the rest of the file is still checked); 2 bad options or an input that "
    "cannot be read at all (missing, a directory, binary, empty). "
    "--sequence checks the rules that span the stream (references exist and are not deleted, shares "
    "complete after they began, pending shares resolve once); a reference to something the stream never "
    "introduced is a warning, since a capture may start mid-life; --sequence-strict makes it an error. "
    "--snapshot gives the tenant as it was before the stream: a JSON object of lists "
    '({"users": [...], "devices": [...], "secrets": [...], ...}) or an earlier JSONL stream.'
)


class ValidateFormat(enum.StrEnum):
    """What ``validate`` prints."""

    text = "text"
    json = "json"
    jsonl = "jsonl"


class Show(enum.StrEnum):
    """How the text report lists problems."""

    groups = "groups"
    all = "all"


#: Each worker is a whole process (~100 MB peak here): a big machine's default stops at 8; --jobs 0 takes all.
_DEFAULT_MAX_JOBS = 8


@app.command("validate", epilog=_EPILOG)
def validate_command(
    paths: list[str] = typer.Argument(None, metavar="PATH", show_default=False,
                                      help=".json (one event or an array) or .jsonl files; - or nothing "
                                      "reads stdin"),
    strict: bool = typer.Option(False, "--strict", help="unknown fields are errors (default: warnings)"),
    sequence: bool = typer.Option(False, "--sequence", help="also check the sequence rules across the stream; "
                                  "references the stream never introduced are warnings"),
    sequence_strict: bool = typer.Option(False, "--sequence-strict", help="--sequence, with references the "
                                         "stream never introduced (nor the snapshot) as errors"),
    snapshot: str | None = typer.Option(None, "--snapshot", metavar="FILE",
                                        help="tenant state before the stream, for --sequence"),
    format: ValidateFormat = typer.Option(ValidateFormat.text, "--format",
                                          help="text (problems grouped), json (groups and every problem) or "
                                          "jsonl (one problem a line, as found: for huge captures)"),
    show: Show = typer.Option(Show.groups, "--show", help="text: groups (count, first places, most frequent "
                              "first) or all (one line per problem, up to --max-errors)"),
    max_errors: int | None = typer.Option(None, "--max-errors", metavar="N", show_default=False,
                                          help="keep at most N problems for --show all and json (0 = all) "
                                          "[default: 1000 for text, all for json]; groups and totals always "
                                          "count everything"),
    max_line_size: str = typer.Option("8MB", "--max-line-bytes", metavar="BYTES",
                                      help="skip (and report) lines longer than this: bytes, 1e8, 512k, 64MB"),
    drift: bool = typer.Option(False, "--drift", help="report how the capture differs from the contract: "
                               "unknown fields (count, types, formats, a redacted example, first and last "
                               "place), enum values outside it, optional fields present in every event"),
    drift_patch: str | None = typer.Option(None, "--drift-patch", metavar="FILE",
                                           help="write the RFC 6902 JSON Patches (one per schema file) that "
                                           "make the contract accept the drift"),
    patched_schemas: str | None = typer.Option(None, "--patched-schemas", metavar="DIR",
                                               help="write a copy of the contract with those patches applied "
                                               "(a new or empty folder), for --schemas DIR"),
    schemas: str | None = typer.Option(None, "--schemas", metavar="DIR",
                                       help="check against this contract folder, laid out like schemas/ "
                                       "(envelope.json, definitions.json, events/<type>.json) "
                                       "[default: the shipped contract]"),
    jobs: int | None = typer.Option(None, "--jobs", "-j", metavar="N", show_default=False,
                                    help="check JSONL files of 8 MiB or more in N processes; 0 = one per CPU "
                                    f"[default: one per CPU, at most {_DEFAULT_MAX_JOBS}; 1 with --sequence, "
                                    "whose rules need the stream in order]"),
) -> None:
    """Validate webhook events: schemas, semantic rules, leak guard, and optionally sequences."""
    from simulator.validation import SequenceMode, validate

    mode: SequenceMode | None = "strict" if sequence_strict else ("lenient" if sequence or snapshot else None)
    if max_errors is None:
        max_errors = 1000 if format is ValidateFormat.text else 0
    if max_errors < 0:
        raise UsageError(f"--max-errors={max_errors} must be 0 (no limit) or a positive number")
    if jobs is not None and jobs < 0:
        raise UsageError(f"--jobs={jobs} must be 0 (one per CPU) or a positive number of processes")
    if mode is not None and jobs is not None and jobs != 1:
        raise UsageError(f"--jobs={jobs} cannot be used with --sequence: its rules need the stream in order")
    if mode is not None:
        jobs = 1
    max_line_bytes = parse_size(max_line_size, option="--max-line-bytes")
    if max_line_bytes < 1024:
        raise UsageError(f"--max-line-bytes={max_line_bytes} must be at least 1024")
    if patched_schemas is not None:
        target = Path(patched_schemas)
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise UsageError(f"--patched-schemas={patched_schemas!r} must be a new or empty folder; "
                             "pick another name or empty it")
    for option, value in (("--drift-patch", drift_patch), ("--patched-schemas", patched_schemas)):
        if value is not None and not Path(value).resolve().parent.is_dir():
            raise UsageError(f"{option}={value!r}: the folder {str(Path(value).resolve().parent)!r} does not "
                             "exist; create it first")
    with _contract(schemas):
        sources = list(paths or []) or ["-"]
        if sources.count("-") > 1:
            raise UsageError("- (stdin) can be given once")
        if "-" in sources and (sys.stdin is None or getattr(sys.stdin, "closed", False)):
            raise UsageError("- reads standard input, which is closed; pipe events in "
                             "(… | chestsim validate -) or give .json/.jsonl paths")
        if sys.stdout is None or getattr(sys.stdout, "closed", False):
            raise UsageError("standard output is closed: the report has nowhere to go; "
                             "redirect it (> report.txt) instead of closing it")
        if sources == ["-"] and sys.stdin.isatty():
            raise UsageError("no input: give .json/.jsonl paths, or pipe events into `chestsim validate -`")
        on_problem = _jsonl_writer() if format is ValidateFormat.jsonl else None
        with _progress(sources) as progress:
            try:
                report = validate(sources, strict=strict, sequence=mode, snapshot=snapshot,
                                  max_errors=max_errors or None, max_line_bytes=max_line_bytes,
                                  jobs=_cpus() if jobs == 0 else jobs or min(_cpus(), _DEFAULT_MAX_JOBS),
                                  on_problem=on_problem, progress=progress, drift=drift)
            except BrokenPipeError:
                raise
            except OSError as exc:
                if on_problem is None:
                    raise
                drop_stdout()
                raise UsageError(f"cannot write problems to standard output: {exc.strerror or exc}; "
                                 "redirect it to a file with room (> problems.jsonl)") from None
        for message in report.input_errors:
            print(f"chestsim: error: {message}", file=sys.stderr)
        if (drift_patch or patched_schemas) and report.drift is not None:
            _write_patch(report.drift, drift_patch, patched_schemas)
        def write() -> None:
            if format is ValidateFormat.json:
                report.write_json()
            elif format is ValidateFormat.jsonl:
                sys.stdout.buffer.write(orjson.dumps({"summary": _summary(report)}) + b"\n")
            else:
                report.write_text(show=show.value)

        to_stdout(write, "report", "> report.txt")
        raise typer.Exit(report.exit_code)


def _jsonl_writer() -> Callable[[Any], None]:
    write = sys.stdout.buffer.write

    def on_problem(entry: Any) -> None:
        write(orjson.dumps(entry.as_dict()) + b"\n")

    return on_problem


def _summary(report: Any) -> dict[str, Any]:
    doc: dict[str, Any] = report.as_dict()
    doc.pop("problems", None)
    return doc


@contextlib.contextmanager
def _progress(sources: list[str]) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on a terminal's stderr, shown once a run has taken more than a second."""
    if not sys.stderr.isatty() or sources == ["-"]:
        yield None
        return
    total = sum(os.path.getsize(s) for s in sources if s != "-" and os.path.isfile(s))
    start = time.monotonic()
    state: dict[str, Any] = {"done": 0, "bar": None, "task": None}

    def advance(size: int) -> None:
        state["done"] += size
        bar = state["bar"]
        if bar is None:
            if time.monotonic() - start < 1.0:
                return
            from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

            # No refresh thread: a threaded parent would have to spawn --jobs workers instead of forking.
            bar = state["bar"] = Progress("checking", BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                                          console=_stderr_console(), transient=True, auto_refresh=False)
            bar.start()
            state["task"] = bar.add_task("validate", total=total or None)
        bar.update(state["task"], completed=state["done"])
        bar.refresh()

    try:
        yield advance
    finally:
        if state["bar"] is not None:
            state["bar"].stop()


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


@contextlib.contextmanager
def _contract(folder: str | None) -> Iterator[None]:
    """Validators compiled from ``folder`` (``--schemas``) for the command, the shipped contract after."""
    if folder is None:
        yield
        return
    from simulator.validation._registry import use_schemas

    try:
        use_schemas(folder)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        yield
    finally:
        use_schemas(None)


def _write_patch(drift: Any, patch_file: str | None, folder: str | None) -> None:
    from simulator.validation._drift import apply_patch
    from simulator.validation._registry import schema_folder

    source = schema_folder()
    patch = drift.patch(source)
    try:
        if patch_file is not None:
            Path(patch_file).write_bytes(orjson.dumps(patch, option=orjson.OPT_INDENT_2) + b"\n")
        if folder is not None:
            apply_patch(source, patch, Path(folder))
    except OSError as exc:
        raise UsageError(f"cannot write the drift patch: {exc.strerror or exc} ({exc.filename}); "
                         "choose a writable place") from None
    operations = sum(len(ops) for ops in patch.values())
    print(f"drift patch: {operations} operation{'s' if operations != 1 else ''} on {len(patch)} schema "
          f"file{'s' if len(patch) != 1 else ''}" + (f" in {patch_file}" if patch_file else "")
          + (f"; patched contract in {folder} (check again with --schemas {folder})" if folder else ""),
          file=sys.stderr)



def _cpus() -> int:
    """The CPUs this process may run on (its affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
