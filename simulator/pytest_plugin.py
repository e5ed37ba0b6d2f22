"""chestsim's pytest plugin (registered through the ``pytest11`` entry point).

Kept free of heavy imports: fixtures import what they need when they run.
"""
