"""Synthetic flow generator whose congestion label follows a latent per-link load process."""

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .schema import (
    BYTES_SENT, DEST_IP, FLOW_COLUMNS, HOUR, LABEL, P_TRUE, PACKET_SIZE, PROTOCOL, SOURCE_IP, TIMESTAMP,
)
from .windows import compute_aggregates

BASE_EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z, a Monday
SPAN_DAYS = 14
EPISODE_SHARE = 0.35  # share of flows belonging to bursty load episodes
PROTOCOLS = np.array(["TCP", "UDP", "ICMP", "GRE", "ESP", "SCTP"])
_DAY_MIX = np.array([0.70, 0.20, 0.05, 0.02, 0.02, 0.01])
_NIGHT_MIX = np.array([0.50, 0.34, 0.06, 0.04, 0.04, 0.02])
_SHIFTED_MIX = np.array([0.20, 0.30, 0.05, 0.15, 0.15, 0.15])
_PROTO_LOGIT = np.array([0.0, 0.3, -0.6, 0.5, 0.5, 0.2])
_CAPACITY_UNIT = 400_000  # bytes per 600 s window for a "medium" link
_DEFAULT_SCENARIO = {
    "load_multiplier": 1.0, "peak_hour_shift": 0, "protocol_mix_shift": 0.0,
    "new_subnets": 0, "label_prior_shift": 0.0, "start_timestamp": None,
}


def _dest_subnets(n_new: int) -> tuple[list[str], np.ndarray]:
    """Destination /24 prefixes (two IPv6 /64s among them) and their link capacities."""
    prefixes = [f"172.16.{k}." for k in range(14)] + ["2001:db8:a::", "2001:db8:b::"]
    prefixes += [f"172.31.{k}." for k in range(n_new)]
    # Link capacity follows the site (contiguous prefixes): small branch, medium campus, large core.
    classes = np.array([0.5] * 5 + [1.0] * 6 + [2.0] * 3 + [1.0] * 2 + [0.5] * n_new)
    return prefixes, classes * _CAPACITY_UNIT


def _intensity(minutes: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Diurnal (office and evening peaks) and weekly (quiet weekend) flow intensity."""
    h = (minutes / 60.0 - shift) % 24
    day = (minutes // 1440) % 7
    diurnal = 0.25 + np.exp(-(((h - 14) / 3.5) ** 2)) + 0.5 * np.exp(-(((h - 20.5) / 1.8) ** 2))
    return diurnal * np.where(day >= 5, 0.55, 1.0)


def _sample_times(rng: np.random.Generator, n: int, weights: np.ndarray) -> np.ndarray:
    """Sample n second offsets from a per-minute intensity."""
    minutes = rng.choice(len(weights), size=n, p=weights / weights.sum())
    return minutes * 60 + rng.integers(0, 60, size=n)


def _timestamps(rng: np.random.Generator, rows: int, scen: Mapping, start: int) -> tuple[np.ndarray, np.ndarray]:
    """Background plus episode flow times (seconds from start) and each flow's episode id (-1 none)."""
    minutes = np.arange(SPAN_DAYS * 1440)
    after = minutes * 60 + start >= _scenario_start(scen, start)
    lam = _intensity(minutes, np.where(after, float(scen["peak_hour_shift"]), 0.0))
    n_ep_flows = int(round(EPISODE_SHARE * rows))
    n_episodes = max(3, rows // 120)
    ep_start = _sample_times(rng, n_episodes, lam**2)  # episodes cluster at busy hours
    ep_dur = rng.uniform(300, 1800, size=n_episodes)
    ep_of_flow = rng.choice(n_episodes, size=n_ep_flows, p=ep_dur / ep_dur.sum())
    ep_times = ep_start[ep_of_flow] + (rng.random(n_ep_flows) * ep_dur[ep_of_flow]).astype(np.int64)
    bg_times = _sample_times(rng, rows - n_ep_flows, lam)
    times = np.concatenate([bg_times, ep_times])
    episode = np.concatenate([np.full(rows - n_ep_flows, -1), ep_of_flow])
    return times, episode


def _scenario_start(scen: Mapping, start: int) -> int:
    """First timestamp the scenario knobs apply to."""
    return start if scen.get("start_timestamp") is None else int(scen["start_timestamp"])


def _hosts(rng: np.random.Generator, n: int, episode: np.ndarray, n_episodes: int) -> np.ndarray:
    """Source IPs: client /24s plus a few heavy hitters that also drive some episodes."""
    heavy = np.array([f"10.9.0.{k}" for k in (7, 23, 42, 77, 101)])
    clients = np.array([f"10.{1 + k // 8}.{k % 8 * 16}.{h}" for k in range(40) for h in range(1, 25)])
    src = clients[rng.integers(0, len(clients), size=n)]
    heavy_pick = rng.random(n) < 0.12
    src[heavy_pick] = heavy[rng.integers(0, len(heavy), size=heavy_pick.sum())]
    driver = rng.integers(0, len(heavy), size=max(n_episodes, 1))
    driven = (episode >= 0) & (rng.random(n) < 0.5) & (driver[np.maximum(episode, 0)] % 2 == 0)
    src[driven] = heavy[driver[episode[driven]]]
    return src


def _dest(rng: np.random.Generator, n: int, episode: np.ndarray, after: np.ndarray, n_new: int) -> tuple[np.ndarray, np.ndarray]:
    """Destination IPs and capacities; each episode targets one subnet, new subnets appear after start."""
    prefixes, caps = _dest_subnets(n_new)
    n_base = len(prefixes) - n_new
    popularity = np.linspace(2.0, 0.5, n_base)
    sub = rng.choice(n_base, size=n, p=popularity / popularity.sum())
    ep_sub = rng.choice(n_base, size=max(episode.max() + 1, 1), p=popularity / popularity.sum())
    sub = np.where(episode >= 0, ep_sub[np.maximum(episode, 0)], sub)
    # Drawn whatever n_new is, so the random stream (hence all pre-scenario flows) stays the same.
    moved = after & (rng.random(n) < n_new / (n_new + n_base))
    pick = (rng.random(n) * max(n_new, 1)).astype(np.int64)  # integers(0, 1) would draw nothing
    sub[moved] = n_base + pick[moved]
    host = rng.integers(1, 30, size=n)
    pref = np.array(prefixes, dtype=object)[sub]
    dest = np.array([p + (format(h, "x") if p.endswith("::") else str(h)) for p, h in zip(pref, host)])
    return dest, caps[sub]


def _protocols(rng: np.random.Generator, hours: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Protocol per flow, from an hour-dependent mix optionally shifted towards rarer protocols."""
    night = ((hours < 7) | (hours >= 22))[:, None]
    mix = np.where(night, _NIGHT_MIX, _DAY_MIX)
    mix = (1 - shift[:, None]) * mix + shift[:, None] * _SHIFTED_MIX
    u = rng.random(len(hours))[:, None]
    return np.minimum((u > np.cumsum(mix, axis=1)).sum(axis=1), len(PROTOCOLS) - 1)


def _sizes(rng: np.random.Generator, proto: np.ndarray, heavy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heavy-tailed bytes per flow and protocol-shaped packet sizes."""
    n = len(proto)
    mu = np.where(heavy, 10.5, 9.0) + np.where(proto == 2, -3.0, 0.0)
    nbytes = np.exp(rng.normal(mu, 1.5)).astype(np.int64) + 40
    small = rng.integers(40, 90, size=n)
    large = rng.integers(1200, 1501, size=n)
    mid = rng.integers(100, 1400, size=n)
    size = np.where(proto == 0, np.where(rng.random(n) < 0.4, small, large), mid)
    size = np.where(proto == 2, rng.integers(64, 99, size=n), size)
    size = np.where((proto == 3) | (proto == 4), large, size)
    return size, nbytes


def _logit(df: pd.DataFrame, caps: np.ndarray, proto: np.ndarray) -> np.ndarray:
    """Congestion log-odds (without intercept) from realised link load and context."""
    agg = compute_aggregates(df, [60, 600], 24)
    load = agg["dst_subnet_bytes_600s"].to_numpy() / caps
    burst = np.log1p(agg["src_flows_60s"].to_numpy())
    hours = df[HOUR].to_numpy()
    weekday = ((df[TIMESTAMP].to_numpy() // 86_400) + 3) % 7 < 5
    office = ((hours >= 9) & (hours <= 18) & weekday).astype(float)
    return 1.8 * np.log(load + 0.05) + 0.6 * office + _PROTO_LOGIT[proto] + 0.4 * burst


def _calibrate(logit: np.ndarray, rate: float) -> float:
    """Intercept such that the mean true probability equals rate (bisection)."""
    lo, hi = -30.0, 30.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if np.mean(1 / (1 + np.exp(-(logit + mid)))) < rate:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def generate_flows(rows: int, seed: int, positive_rate: float = 0.15, scenario: dict | None = None) -> pd.DataFrame:
    """Generate a deterministic, time-sorted flow frame with `congestion` and its true probability `p_true`."""
    if rows < 1 or not 0 < positive_rate < 1:
        raise ValueError("rows must be >= 1 and positive_rate in (0, 1)")
    scen = {**_DEFAULT_SCENARIO, **{k: v for k, v in (scenario or {}).items() if v is not None}}
    rng = np.random.default_rng(seed)
    start = BASE_EPOCH
    offsets, episode = _timestamps(rng, rows, scen, start)
    order = np.argsort(offsets, kind="stable")
    offsets, episode = offsets[order], episode[order]
    ts = start + offsets.astype(np.int64)
    after = ts >= _scenario_start(scen, start)
    hours = (ts // 3600) % 24
    src = _hosts(rng, rows, episode, int(episode.max()) + 1)
    dest, caps = _dest(rng, rows, episode, after, int(scen["new_subnets"]))
    proto = _protocols(rng, hours, np.where(after, float(scen["protocol_mix_shift"]), 0.0))
    size, nbytes = _sizes(rng, proto, np.char.startswith(src.astype(str), "10.9.0."))
    df = pd.DataFrame({
        PACKET_SIZE: size.astype(np.int64), BYTES_SENT: nbytes, SOURCE_IP: src.astype(object),
        DEST_IP: dest.astype(object), PROTOCOL: PROTOCOLS[proto].astype(object), TIMESTAMP: ts, HOUR: hours.astype(np.int64),
    })
    # Calibrate on pre-scenario traffic (all of it when the scenario covers everything), so the
    # scenario shifts the rate instead of being calibrated away.
    base = _logit(df, caps, proto)
    intercept = _calibrate(base[~after] if (~after).any() else base, positive_rate)
    mult = float(scen["load_multiplier"])
    if mult != 1.0:
        df[BYTES_SENT] = np.where(after, np.round(nbytes * mult), nbytes).astype(np.int64)
    logit = _logit(df, caps, proto) + intercept + np.where(after, float(scen["label_prior_shift"]), 0.0)
    p_true = 1 / (1 + np.exp(-logit))
    df[LABEL] = (rng.random(rows) < p_true).astype(np.int64)
    df[P_TRUE] = p_true
    return df[list(FLOW_COLUMNS) + [LABEL, P_TRUE]]
