"""Firehose: an endless "Select all" stream of consistent tenant activity, for load tests.

Every event type, in a realistic mix, as fast as it can be written. The
tenant keeps its size (hires balance leavers, new secrets balance deleted
ones) so memory stays flat. Runs until --events or --duration stops it;
--rate spaces the events' timestamps (default 1000 events per virtual second).
"""

ENDLESS = True
DEFAULTS = {"users": 1000, "rate": 1000}


def run(t):
    t.random_activity(1000)
