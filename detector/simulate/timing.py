"""Arrival-time models (vectorised with numpy). All times are epoch seconds (float, UTC).

Profiles are 24 hourly weights in *local* time; :func:`utc_weights` shifts them by the
account's timezone so that a user in Tokyo and one in Chicago peak at different UTC hours.
"""

from __future__ import annotations

import numpy as np

DAY_S = 86_400.0

#: Local-time hourly activity of a person (quiet at night, evening peak). Unitless weights.
PERSONAL = np.array([1.2, 0.6, 0.3, 0.2, 0.2, 0.3, 0.8, 1.8, 2.8, 3.4, 3.8, 4.0,
                     4.1, 4.0, 3.9, 3.8, 3.9, 4.1, 4.4, 4.8, 5.0, 4.6, 3.6, 2.2])
#: Local-time office hours (weekdays); a little spill-over early and late.
BUSINESS = np.array([0.05, 0.02, 0.02, 0.02, 0.02, 0.05, 0.2, 0.8, 3.0, 5.0, 5.5, 5.2,
                     3.8, 4.8, 5.4, 5.3, 4.8, 3.6, 1.5, 0.6, 0.4, 0.3, 0.2, 0.1])
#: An online service's end users spread over many timezones: a soft daily cycle.
SERVICE = np.array([2.6, 2.3, 2.1, 2.0, 2.0, 2.2, 2.6, 3.0, 3.4, 3.7, 3.9, 4.0,
                    4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 3.9, 3.8, 3.6, 3.4, 3.1, 2.8])


def utc_weights(local_profile: np.ndarray, tz_offset_h: float) -> np.ndarray:
    """Hourly weights indexed by UTC hour for an account ``tz_offset_h`` hours east of UTC."""
    shift = int(round(tz_offset_h)) % 24
    w = np.roll(local_profile, -shift)
    return w / w.sum()


def in_hours(rng: np.random.Generator, day_start: float, n: int, weights: np.ndarray) -> np.ndarray:
    """``n`` independent arrival times in the day starting at ``day_start``, hour ~ ``weights``."""
    hours = rng.choice(24, size=n, p=weights)
    return day_start + hours * 3600.0 + rng.random(n) * 3600.0


def sessions(rng: np.random.Generator, day_start: float, n: int, weights: np.ndarray,
             mean_len: float, gap_median_s: float) -> tuple[np.ndarray, np.ndarray]:
    """``n`` requests grouped in sessions of mean length ``mean_len`` (geometric lengths).

    Session starts follow ``weights``; gaps inside a session are log-normal around
    ``gap_median_s`` (reading/typing time). Returns (times, session index per request).
    """
    if n <= 0:
        return np.empty(0), np.empty(0, dtype=np.int64)
    lens = []
    left = n
    while left > 0:
        k = int(min(left, rng.geometric(1.0 / max(mean_len, 1.0))))
        lens.append(k)
        left -= k
    lens_a = np.array(lens)
    starts = in_hours(rng, day_start, len(lens_a), weights)
    sid = np.repeat(np.arange(len(lens_a)), lens_a)
    gaps = rng.lognormal(np.log(gap_median_s), 0.8, size=n)
    first = np.r_[0, np.cumsum(lens_a)[:-1]]
    gaps[first] = 0.0
    offs = np.cumsum(gaps)
    offs -= np.repeat(offs[first], lens_a)
    return starts[sid] + offs, sid


def flat(rng: np.random.Generator, start: float, end: float, n: int, regular: bool) -> np.ndarray:
    """``n`` arrivals spread evenly over [start, end): a jittered grid when ``regular`` (a
    scheduler or worker pool), else a Poisson process (uniform order statistics)."""
    if n <= 0:
        return np.empty(0)
    if regular:
        step = (end - start) / n
        return start + (np.arange(n) + rng.uniform(0.1, 0.9, size=n)) * step
    return np.sort(rng.uniform(start, end, size=n))


#: How a harvesting job's requests fall over its day, and how often each kind is drawn. Real
#: jobs run around the clock, paced under a rate limit, in cron-like batches, or only while an
#: operator's office is open: no timing pattern is a harvester's signature (the model must not
#: learn one), so every kind is in the training traffic.
JOB_CLOCKS = (("flat", 0.45), ("paced", 0.15), ("batches", 0.3), ("office", 0.1))


def job_clock(r, tz_offset_h: float, paced: bool = False) -> dict:
    """A harvesting job's clock, drawn once per account with ``r`` (random.Random).

    ``paced`` forces the paced kind (a scheduler). Batches: 2-6 windows a day of 20-90 minutes
    each (concurrent workers started by a timer), at hours drawn once."""
    kinds, weights = zip(*JOB_CLOCKS, strict=True)
    kind = "paced" if paced else r.choices(kinds, weights)[0]
    clock: dict = {"kind": kind, "tz": tz_offset_h}
    if kind == "batches":
        k = r.randint(2, 6)
        clock["windows"] = [(r.uniform(0, 23), r.uniform(20, 90) * 60.0) for _ in range(k)]
    return clock


def job_times(rng: np.random.Generator, clock: dict, day_start: float, n: int) -> np.ndarray:
    """``n`` arrival times in the day starting at ``day_start`` on a :func:`job_clock`."""
    kind = clock["kind"]
    if n <= 0:
        return np.empty(0)
    if kind in ("flat", "paced"):
        return flat(rng, day_start, day_start + 86_400.0, n, kind == "paced")
    if kind == "office":
        return np.sort(in_hours(rng, day_start, n, utc_weights(BUSINESS, clock["tz"])))
    windows = clock["windows"]
    which = rng.integers(0, len(windows), size=n)
    starts = np.array([w[0] for w in windows]) * 3600.0
    lengths = np.array([w[1] for w in windows])
    t = day_start + starts[which] + rng.random(n) * lengths[which]
    return np.sort(np.minimum(t, day_start + 86_399.0))


def burst(rng: np.random.Generator, start: float, duration_s: float, n: int) -> np.ndarray:
    """``n`` arrivals packed in one window (concurrent workers): uniform inside it."""
    return np.sort(start + rng.random(n) * duration_s)


def round_robin(rng: np.random.Generator, start: float, end: float, n: int,
                k: int) -> tuple[np.ndarray, np.ndarray]:
    """A load balancer spreading one regular stream of ``n`` requests over ``k`` accounts.

    Returns (times, member index). Each cycle visits every member once in a shuffled order,
    so members get near-identical counts and interleave tightly.
    """
    times = flat(rng, start, end, n, regular=True)
    cycles = -(-n // k)
    order = np.concatenate([rng.permutation(k) for _ in range(cycles)])[:n]
    return times, order
