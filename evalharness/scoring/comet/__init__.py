"""COMET, the neural MT metric, scored by the real ``unbabel-comet`` in an environment of its own.

``settings`` (the config section), ``env`` (setup, finding and checking the environment), ``client`` (the
worker process), ``metric`` (the registered :class:`~evalharness.scoring.metrics.Metric`), ``worker`` (the
script the other environment runs; it imports nothing from evalharness).
"""
