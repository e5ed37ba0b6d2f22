"""Locust load tests for "Select all" firehose endpoints.

``firehose.py`` is the locustfile (a ``FastHttpUser`` posting signed simulator
events); ``shapes.py`` holds the load shapes; ``run.py`` is ``make loadtest``.
The private modules (``_config``, ``_payloads``, ``_profiles``) never import
Locust, so the pytest process can test them directly.
"""
