"""Each incident's full path through the loop, planned in working time, then cut.

The plan is timed against the class's time limit (:mod:`layers.incidents.sla`);
a case still running past its due time is escalated by the hourly timeout
sweep, as the live system does.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from layers.demo.incidents.actors import _notes, _roles
from layers.demo.incidents.catalogue import _CODES, STATUSES
from layers.demo.incidents.loop import (
    _ACTIONS,
    _AT_ONCE_P,
    _ESCALATION_NOTE,
    _FEEDBACK_H,
    _PACE,
    _PACE_SIGMA,
    _PARKED_DAYS,
    _REWORK_T,
    _RUNNING,
    _S,
    _STEP_WEIGHT,
    _SWEEP_S,
    _TEMPLATE_P,
    _TEMPLATES,
)
from layers.incidents.models import LEVELS
from layers.incidents.sla import WorkCalendar


@dataclass
class _History:
    events: pd.DataFrame  # seq, from_status, to_status, at, actor_role, note, action, detail
    length: np.ndarray
    draft: np.ndarray  # the path starts with a draft
    final: np.ndarray
    reported_at: pd.Series
    closed_at: pd.Series
    due_at: pd.Series
    escalated_at: pd.Series
    level: np.ndarray
    satisfaction: pd.Series


#: Naive Beijing seconds minus UTC seconds (China keeps one offset all year).
_BEIJING_S = 8 * 3600


def _to_shanghai(local_seconds: np.ndarray) -> pd.DatetimeIndex:
    """Naive local seconds -> tz-aware Asia/Shanghai (no DST since 1991, so exact)."""
    return pd.DatetimeIndex(local_seconds.astype("datetime64[s]")).tz_localize("Asia/Shanghai")


def _shanghai_or_nat(local_seconds: np.ndarray) -> pd.Series:
    """As :func:`_to_shanghai`, with NaT where the value is negative (none)."""
    out = pd.Series(_to_shanghai(np.maximum(local_seconds, 0)))
    out[local_seconds < 0] = pd.NaT
    return out


def _histories(
    rng: np.random.Generator,
    cat: np.ndarray,
    t_rep: np.ndarray,
    cutoff: int,
    limits: Mapping[str, tuple[int, str, str]],
    calendar: WorkCalendar,
) -> _History:
    """Plan each incident's full path through the loop in working time, then cut it.

    Each case gets a pace: the share of its category's time limit (working time,
    :mod:`layers.incidents.sla`) it takes from report to closure. The steps share
    that span by weight; urgent classes are often worked at once, in calendar time.
    A parked case's clock stands still while it waits. Whenever a case is still
    running after its due time, the hourly timeout sweep lifts it one level with a
    fresh limit (as ``escalate_overdue`` does), up to the county. The plan is then
    cut at ``cutoff``: recent cases stop wherever they would stand.
    """
    n = len(cat)
    tpl = rng.choice(len(_TEMPLATES), size=n, p=_TEMPLATE_P / _TEMPLATE_P.sum())
    max_len = max(len(t) for t in _TEMPLATES)
    mat = np.full((len(_TEMPLATES), max_len), -1, dtype=np.int64)
    for i, t in enumerate(_TEMPLATES):
        mat[i, : len(t)] = [_S[s] for s in t]
    status = mat[tpl]  # (n, max_len), -1 past the end
    valid = status >= 0
    prev = np.c_[np.full(n, -1), status[:, :-1]]
    prev2 = np.c_[np.full((n, 2), -1), status[:, :-2]]
    col = np.arange(max_len)

    per_day = calendar.minutes_per_day
    lim = [limits[c] for c in _CODES]
    limit_min = np.array([v * (60 if u == "hour" else per_day) for v, u, _ in lim])[cat]
    hourly = np.array([u == "hour" for _, u, _ in lim])[cat]
    base_level = np.array([LEVELS.index(h) for *_, h in lim])[cat]

    # Working minutes after the report at which each step happens.
    w = np.zeros((n, max_len))
    for name, weight in _STEP_WEIGHT.items():
        w[status == _S[name]] = weight
    w[(status == _S["in_progress"]) & (prev == _S["rework"])] = 0.05
    w[(status == _S["handled"]) & (prev2 == _S["rework"])] = 0.20
    w *= rng.gamma(3.0, 1 / 3, (n, max_len))
    closes = (status == _S["closed"]).any(axis=1)
    close_col = np.where(closes, np.argmax(status == _S["closed"], axis=1), max_len)
    total = (w * (col[None, :] <= close_col[:, None])).sum(axis=1)
    pace = _PACE[tpl] * rng.lognormal(0.0, _PACE_SIGMA, n)
    share = w / np.where(total > 0, total, 1.0)[:, None]
    step_min = np.where(w > 0, np.maximum(share * (pace * limit_min)[:, None], 1.0), 0.0)
    offset_s = np.round(np.cumsum(step_min, axis=1) * 60).astype(np.int64)

    rep_utc = t_rep - _BEIJING_S
    cut_utc = cutoff - _BEIJING_S
    tl = calendar.timeline(
        dt.datetime.fromtimestamp(int(rep_utc.min()) - 86400, dt.UTC),
        dt.datetime.fromtimestamp(int(cut_utc) + 2 * 366 * 86400, dt.UTC),
    )
    pos0 = tl.position(rep_utc)
    # A parked case resumed after a wait: the steps after it move by that wait.
    resumed = (status == _S["in_progress"]) & (prev == _S["parked"])
    after_resume = np.cumsum(resumed, axis=1) > 0
    wait_s = (_PARKED_DAYS * 86400 * rng.lognormal(0.0, 0.8, n)).astype(np.int64)
    park_col = np.argmax(status == _S["parked"], axis=1)
    park_pos = pos0 + offset_s[np.arange(n), park_col]
    shift_w = tl.position(tl.at(park_pos) + wait_s) - park_pos + 60
    worked = tl.at(pos0[:, None] + offset_s + after_resume * shift_w[:, None])
    at_once = hourly & (rng.random(n) < _AT_ONCE_P)
    now_s = rep_utc[:, None] + offset_s + after_resume * wait_s[:, None]
    times = np.where(offset_s > 0, np.where(at_once[:, None], now_s, worked), rep_utc[:, None])
    draft = status[:, 0] == _S["draft"]
    times[draft, 0] = rep_utc[draft] - rng.integers(300, 7200, int(draft.sum()))
    rows_fb, cols_fb = np.nonzero(status == _S["feedback_done"])
    fb_h = _FEEDBACK_H * rng.lognormal(0.0, 0.8, len(rows_fb))
    times[rows_fb, cols_fb] = times[rows_fb, cols_fb - 1] + np.maximum(fb_h * 3600, 60).astype(
        np.int64
    )
    times = np.where(valid, times, 0)
    due0 = tl.add(rep_utc, limit_min)

    # Due times after resumption, and the timeout sweep, case by case where it matters.
    last_step = np.where(valid & (status != _S["feedback_done"]), times, 0).max(axis=1)
    late = np.flatnonzero((last_step > due0) | resumed.any(axis=1))
    due_after = np.full((n, max_len), -1, dtype=np.int64)
    rr, cc = np.nonzero(status == _S["reported"])
    due_after[rr, cc] = due0[rr]
    escalations: list[tuple[int, int, int, int, int]] = []  # row, at, status, level, due
    top = len(LEVELS) - 1
    for i in late:
        k_end = int(valid[i].sum())
        st, tm = status[i, :k_end], times[i, :k_end]
        due, level = -1, int(base_level[i])
        for k in range(k_end):
            if st[k] == _S["reported"]:
                due = int(due0[i])
            elif resumed[i, k]:
                due += int(tm[k] - tm[k - 1])  # the clock stood still while parked
                due_after[i, k] = due
            if STATUSES[st[k]] not in _RUNNING or due < 0 or k + 1 >= k_end:
                continue
            while level < top:
                sweep = (max(due, int(tm[k])) // _SWEEP_S + 1) * _SWEEP_S
                if sweep >= tm[k + 1]:
                    break
                level += 1
                due = int(tl.add(sweep, limit_min[i]))
                escalations.append((int(i), sweep, int(st[k]), level, due))

    # Flat events: the planned steps, then the escalations, in time order, cut at cutoff.
    rows, cols = np.nonzero(valid)
    st = status[rows, cols]
    names = np.asarray(STATUSES, dtype=object)
    levels = np.asarray(LEVELS, dtype=object)
    esc = np.array(escalations, dtype=np.int64).reshape(-1, 5)
    role = _roles(rng, st, cat[rows])
    note = _notes(rng, st)
    action = np.array([_ACTIONS.get(s) for s in names[st]], dtype=object)
    action[cols == 0] = "report"
    action[(st == _S["reported"]) & (cols > 0)] = "submit"
    action[(st == _S["in_progress"]) & (prev[rows, cols] == _S["parked"])] = "resume"
    action[(st == _S["in_progress"]) & (prev[rows, cols] != _S["parked"])] = "start"
    detail = np.full(len(st), None, dtype=object)
    e_detail = [
        json.dumps({"from_level": levels[lv - 1], "to_level": levels[lv], "reason": "timeout"})
        for lv in esc[:, 3]
    ]
    all_rows = np.r_[rows, esc[:, 0]]
    all_t = np.r_[times[rows, cols], esc[:, 1]]
    all_st = np.r_[st, esc[:, 2]]
    all_due = np.r_[due_after[rows, cols], esc[:, 4]]
    all_level = np.r_[np.full(len(st), -1), esc[:, 3]]
    all_role = np.r_[role, np.full(len(esc), "system", dtype=object)]
    all_note = np.r_[note, np.full(len(esc), _ESCALATION_NOTE, dtype=object)]
    all_action = np.r_[action, np.full(len(esc), "escalate", dtype=object)]
    all_detail = np.r_[detail, np.asarray(e_detail, dtype=object)]
    order = np.lexsort((all_t, all_rows))
    order = order[all_t[order] < cut_utc]
    r_k, t_k, st_k = all_rows[order], all_t[order], all_st[order]
    length = np.bincount(r_k, minlength=n)  # a prefix of each plan: times increase along it
    first = np.r_[True, r_k[1:] != r_k[:-1]]
    seq = np.arange(len(r_k)) - np.repeat(np.flatnonzero(first), length[length > 0])
    from_st = np.where(first, -1, np.r_[-1, st_k[:-1]])

    # Per incident: final status, level, due and closing times as of the cutoff.
    last = np.cumsum(length) - 1
    final_code = st_k[last]
    due_k, level_k = all_due[order], all_level[order]
    due_at = _last_set(r_k, due_k, n)
    esc_at = _last_set(r_k, np.where(level_k >= 0, t_k, -1), n)
    level_at = _last_set(r_k, level_k, n)
    level = levels[np.where(level_at >= 0, level_at, base_level)]
    closed_t = _last_set(r_k, np.where(st_k == _S["closed"], t_k, -1), n)

    done = final_code == _S["feedback_done"]
    overdue = (closed_t >= 0) & ((closed_t > due_at) | (esc_at >= 0))
    reworked = np.isin(tpl, list(_REWORK_T)) | overdue
    sat = np.where(
        reworked,
        rng.choice(np.arange(1, 6), size=n, p=[0.05, 0.10, 0.25, 0.35, 0.25]),
        rng.choice(np.arange(1, 6), size=n, p=[0.01, 0.02, 0.07, 0.30, 0.60]),
    )
    satisfaction = pd.array(np.where(done, sat, 0), dtype="Int64")
    satisfaction[~done] = pd.NA
    note_k = all_note[order]
    fb = np.flatnonzero(st_k == _S["feedback_done"])
    note_k[fb] = [f"群众评价：{'★' * int(s)}" for s in sat[r_k[fb]]]

    local = _BEIJING_S
    events = pd.DataFrame(
        {
            "seq": seq.astype(np.int64),
            "from_status": np.where(from_st >= 0, names[np.maximum(from_st, 0)], None),
            "to_status": names[st_k],
            "at": _to_shanghai(t_k + local),
            "actor_role": all_role[order],
            "note": note_k,
            "action": all_action[order],
            "detail": all_detail[order],
        }
    )
    return _History(
        events,
        length,
        draft,
        names[final_code],
        pd.Series(_to_shanghai(t_rep)),
        _shanghai_or_nat(np.where(closed_t >= 0, closed_t + local, -1)),
        _shanghai_or_nat(np.where(due_at >= 0, due_at + local, -1)),
        _shanghai_or_nat(np.where(esc_at >= 0, esc_at + local, -1)),
        level,
        pd.Series(satisfaction),
    )


def _last_set(rows: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Per row (``rows`` sorted), the last of ``values`` that is not -1, else -1."""
    out = np.full(n, -1, dtype=np.int64)
    set_ = values >= 0
    # Later entries overwrite earlier ones: fancy assignment keeps the last write.
    out[rows[set_]] = values[set_]
    return out
