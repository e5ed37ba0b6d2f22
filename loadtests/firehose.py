"""Firehose locustfile: signed simulator events posted to a "Select all" endpoint.

One machine::

    locust -f loadtests/firehose.py --headless -H http://127.0.0.1:8000 -u 50 -r 50 -t 1m \\
        --scenario firehose --signing-secret "$CHESTSIM_SECRET"

Many processes or machines work unchanged (``--processes 4``; ``--master`` /
``--worker``): each worker sends its own slice of the stream, with ids that no
other worker uses. Options (each also ``LOCUST_<NAME>`` in the environment):

``--scenario``       firehose | tenant-day | scim-sync (default firehose)
``--tenant-users``   tenant size handed to the simulator (default 1000)
``--seed``           the stream's seed (default 1)
``--events-file``    send a JSONL file of envelopes instead of a scenario
``--signing-secret`` ``whsec_…`` (also ``CHESTSIM_SECRET``; several, space-separated, for rotation)
``--token``          sent as ``Authorization: Bearer …`` (also ``CHESTSIM_TOKEN``)
``--webhook-path``   the endpoint's path on ``--host`` (default /webhooks)
``--shape``          steady | ramp | burst | business-day (``-u`` = peak, ``-t`` = length)
``--pool-size``      events prepared per worker before the loop (default 2000)
``--user-rate``      events/s per user; 0 = as fast as it can (default)

Statistics have one row per event type. Secrets and tokens are never logged;
the web UI masks them. Only light chestsim modules are imported here (no
asyncio, no aiohttp): Locust's gevent patches the whole process.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

# `locust -f path/to/loadtests/firehose.py` from any folder: make the `loadtests` package importable.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import gevent  # noqa: E402
import gevent.event  # noqa: E402
from locust import FastHttpUser, constant_throughput, events, task  # noqa: E402
from locust.exception import StopUser  # noqa: E402
from locust.runners import MasterRunner, WorkerRunner  # noqa: E402

from loadtests import shapes  # noqa: E402
from loadtests._config import DEFAULTS, SHAPE_NAMES, FirehoseConfig, secret_from_env, token_from_env  # noqa: E402
from loadtests._payloads import PayloadPool, build_pool, check_events_file  # noqa: E402
from simulator._exceptions import UsageError  # noqa: E402

logger = logging.getLogger("chestsim.firehose")


@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any) -> None:
    parser.add_argument("--scenario", type=str, default=DEFAULTS["scenario"], env_var="LOCUST_SCENARIO",
                        help="chestsim scenario to send: firehose, tenant-day, scim-sync (default firehose)")
    parser.add_argument("--tenant-users", type=int, default=DEFAULTS["tenant_users"],
                        env_var="LOCUST_TENANT_USERS", help="users in the simulated tenant (default 1000)")
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"], env_var="LOCUST_SEED",
                        help="seed of the event stream (default 1)")
    parser.add_argument("--events-file", type=str, default="", env_var="LOCUST_EVENTS_FILE",
                        help="JSONL file of event envelopes to send instead of a scenario")
    parser.add_argument("--signing-secret", type=str, default="", env_var="LOCUST_SIGNING_SECRET",
                        is_secret=True,
                        help="whsec_… signing secret (or CHESTSIM_SECRET); unsigned when absent")
    parser.add_argument("--token", type=str, default="", env_var="LOCUST_TOKEN", is_secret=True,
                        help="bearer token for the Authorization header (or CHESTSIM_TOKEN)")
    parser.add_argument("--webhook-path", type=str, default=DEFAULTS["webhook_path"],
                        env_var="LOCUST_WEBHOOK_PATH", help="endpoint path on --host (default /webhooks)")
    parser.add_argument("--shape", type=str, default="", env_var="LOCUST_SHAPE",
                        help=f"load shape: {', '.join(SHAPE_NAMES)} (-u is the peak, -t the length)")
    parser.add_argument("--pool-size", type=int, default=DEFAULTS["pool_size"], env_var="LOCUST_POOL_SIZE",
                        help="events each worker prepares before the request loop (default 2000)")
    parser.add_argument("--user-rate", type=float, default=DEFAULTS["user_rate"], env_var="LOCUST_USER_RATE",
                        help="events per second per user; 0 sends as fast as possible (default)")


def _fail(message: str, *, quiet: bool = False) -> None:
    """One line on stderr, then exit 2 (Locust's own option errors exit 2 as well)."""
    if not quiet:
        print(f"chestsim: error: {' '.join(message.split())}", file=sys.stderr, flush=True)
    raise SystemExit(2)


@events.init.add_listener
def _on_init(environment: Any, runner: Any = None, **_: Any) -> None:
    options = environment.parsed_options
    if options is None:  # Locust used as a library: nothing parsed, nothing to check
        return
    is_worker = isinstance(runner, WorkerRunner)
    if not is_worker:
        # Resolve the chestsim-wide variables here, so that workers get them with the master's options.
        options.signing_secret = options.signing_secret or secret_from_env() or ""
        options.token = options.token or token_from_env() or ""
    # A --processes child repeats its parent's options: let only the parent print the error.
    quiet = is_worker and bool(getattr(options, "processes", None))
    try:
        config = FirehoseConfig.from_options(options)
        if config.events_file is not None:
            check_events_file(config.events_file)
    except UsageError as exc:
        _fail(str(exc), quiet=quiet)
        return
    if not is_worker and options.headless and not environment.host:
        _fail("--host is missing; pass the listener's base URL, like -H http://127.0.0.1:8000")
    if is_worker and getattr(options, "processes", None):
        # A --processes child has its master's options already: prepare in the background (the
        # master may start any moment, heartbeats must go on); test_start waits for it. Other
        # workers get their options with the test, so they prepare in test_start.
        index, count = _slice(runner, options, at_init=True)
        gevent.spawn(_prepare_quietly, config, index, count)
    elif runner is not None and not is_worker and not isinstance(runner, MasterRunner):
        # One process: prepare now, before Locust's run-time clock starts; test_start reuses it.
        try:
            _pool_for(config, 0, 1, in_thread=False)
        except UsageError as exc:
            _fail(str(exc), quiet=quiet)
        # The build blocked the hub; refresh its cached clock, or `-t` timers would fire early.
        gevent.get_hub().loop.update_now()
    if is_worker:
        return
    if config.shape:
        shape = shapes.make_shape(config.shape, peak=options.num_users, duration=options.run_time)
        shape.runner = runner
        environment.shape_class = shape
        logger.info("chestsim firehose: shape %r", shape)
    logger.info(config.describe())


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    runner = environment.runner
    options = environment.parsed_options
    if isinstance(runner, MasterRunner):
        # The master runs no users; it sends its options to the workers right after this event.
        # The web UI's form may have blanked the secret: fall back to the chestsim variables again.
        options.signing_secret = options.signing_secret or secret_from_env() or ""
        options.token = options.token or token_from_env() or ""
        return
    index, count = _slice(runner, options)
    if index >= count:
        logger.warning("chestsim firehose: worker index %d ≥ --expect-workers %d; its events repeat "
                       "another worker's slice (ids stay unique)", index, count)
    try:
        config = FirehoseConfig.from_options(options)
        pool = _pool_for(config, index, count)
    except UsageError as exc:
        logger.error("chestsim: error: %s", " ".join(str(exc).split()))
        environment.process_exit_code = 2
        gevent.spawn(runner.quit)
        return
    FirehoseUser.configure(pool, config)
    # Move the model's leftovers and the pool out of the collector's way: the request loop makes
    # garbage all the time, and full collections would otherwise walk every prepared payload.
    gc.collect()
    gc.freeze()
    logger.info("chestsim firehose: worker %d of %d sends %d prepared events (%d types), ids %s…",
                index, count, len(pool), len(pool.types), pool.id_prefix)


# The pool of this process, keyed by what it was built from: (config, worker index, worker count).
_prepared: dict[tuple[FirehoseConfig, int, int], gevent.event.AsyncResult] = {}


def _slice(runner: Any, options: Any, *, at_init: bool = False) -> tuple[int, int]:
    """(this worker's index, how many slices the stream is cut into)."""
    if not isinstance(runner, WorkerRunner):
        return 0, 1
    index = max(runner.worker_index, 0)
    if at_init and getattr(options, "processes", None):
        # A --processes child: its master will expect exactly that many workers.
        return index, max(int(options.processes), 1)
    return index, max(int(getattr(options, "expect_workers", 1) or 1), 1)


def _prepare_quietly(config: FirehoseConfig, index: int, count: int) -> None:
    # A failure stays in _prepared: test_start meets it again and reports it in one line.
    with contextlib.suppress(Exception):
        _pool_for(config, index, count)


def _pool_for(config: FirehoseConfig, index: int, count: int, *, in_thread: bool = True) -> PayloadPool:
    """The pool for this slice, built once; a second caller waits for the first one's build.

    A worker builds it in a native thread (gevent's thread pool): the tenant model
    holds the CPU for seconds, and the worker's heartbeats to the master must go on.
    """
    key = (config, index, count)
    pending = _prepared.get(key)
    if pending is None:
        _prepared.clear()
        pending = _prepared[key] = gevent.event.AsyncResult()
        build = partial(build_pool, scenario=config.scenario, seed=config.seed,
                        tenant_users=config.tenant_users, events_file=config.events_file,
                        pool_size=config.pool_size, worker_index=index, worker_count=count,
                        secrets=config.secrets, token=config.token)
        try:
            pool = gevent.get_hub().threadpool.apply(build) if in_thread else build()
        except BaseException as exc:
            pending.set_exception(exc)
            raise
        pending.set(pool)
    result: PayloadPool = pending.get()
    return result


class FirehoseUser(FastHttpUser):
    """Posts the prepared events, back to back, one request per event."""

    pool: ClassVar[PayloadPool | None] = None
    path: ClassVar[str] = DEFAULTS["webhook_path"]
    _pace: ClassVar[Any] = None

    @classmethod
    def configure(cls, pool: PayloadPool, config: FirehoseConfig) -> None:
        """Hand every user of this process the pool of the current test."""
        cls.pool = pool
        # Set once on each user's client, so a request only carries what changes per delivery.
        cls.default_headers = pool.static_headers
        cls.path = config.webhook_path
        cls._pace = constant_throughput(config.user_rate) if config.user_rate > 0 else None

    def wait_time(self) -> float:
        pace = self._pace
        return pace(self) if pace is not None else 0.0

    @task
    def post_event(self) -> None:
        pool = self.pool
        if pool is None:  # test_start failed; the runner is quitting
            raise StopUser
        name, body, headers = pool.take()
        self.client.post(self.path, data=body, headers=headers, name=name)
