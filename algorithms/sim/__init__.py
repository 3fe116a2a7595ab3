"""The simulated clock and its timing models.

:mod:`.timing` draws how long each computation takes (fixed, exponential, lognormal,
uniform, time-varying h_{t,i}, failures, late joins); :mod:`.clock` (:class:`SimClock`)
turns those durations into exact finish times, broadcasts and reduces. The aggregation
procedures (:mod:`algorithms.aggregation`) plan rounds on it; the simulated backend
(:mod:`algorithms.backends.simulated`) hands it to the methods.
"""
