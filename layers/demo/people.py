"""Synthetic people: household sizes, one head per household, and the role holders.

Every row is fake on purpose (see :mod:`layers.demo.names`). Surnames follow the
clan pattern of plain villages: a few surnames dominate a village, and a clan
lane (刘家胡同) is mostly lived on by that clan.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from layers.demo.names import SURNAMES, fake_id_numbers, fake_names, fake_phones

#: People per household 1..7; mean 3.84 before the exact adjustment below.
_HH_P = np.array([0.06, 0.14, 0.20, 0.28, 0.18, 0.10, 0.04])
#: People per household on average in the source town: 30,600 people / 8,000 households.
PEOPLE_PER_HOUSEHOLD = 30_600 / 8_000


def household_people(rng: np.random.Generator, n: int) -> np.ndarray:
    """Household sizes with total exactly ``round(n * 3.825)``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    n : int
        Number of households.

    Returns
    -------
    numpy.ndarray of int (each >= 1)
    """
    people = rng.choice(np.arange(1, 8), size=n, p=_HH_P)
    target = round(n * PEOPLE_PER_HOUSEHOLD)
    diff = target - int(people.sum())
    # Nudge random households by one person until the town total matches.
    if diff > 0:
        idx = rng.choice(np.flatnonzero(people < 8), size=diff, replace=False)
        people[idx] += 1
    elif diff < 0:
        idx = rng.choice(np.flatnonzero(people > 1), size=-diff, replace=False)
        people[idx] -= 1
    return people


@dataclass
class PeopleTables:
    """Persons, roles, and lookups the incident generator needs."""

    persons: pd.DataFrame
    roles: pd.DataFrame
    head_key: np.ndarray  # person key of each household's head
    worker_key: dict[str, str]  # level-2 grid code -> grid worker key
    police_key: dict[str, str]  # level-2 grid code -> community police key
    cadre_key: dict[str, str]  # village code -> first village cadre key


def _births(
    rng: np.random.Generator, as_of: dt.date, n: int, lo: float, hi: float, mean: float, sd: float
) -> np.ndarray:
    """Birth dates (datetime64[D]) for ages ~ N(mean, sd) within [lo, hi] years."""
    age = rng.normal(mean, sd, n)
    out = (age < lo) | (age > hi)
    # Redraw outliers uniformly rather than clipping: clipping would pile many
    # people onto one birth date and exhaust the ID sequence numbers of that day.
    age[out] = rng.uniform(lo, hi, int(out.sum()))
    age_days = age * 365.2425
    return np.datetime64(as_of, "D") - age_days.astype(np.int64)


def make_people(
    rng: np.random.Generator,
    as_of: dt.date,
    household_keys: np.ndarray,
    household_village: np.ndarray,
    household_clan: np.ndarray,
    household_people_n: np.ndarray,
    household_l2: np.ndarray,
    village_codes: list[str],
    level2_codes: list[str],
    level2_village: np.ndarray,
) -> PeopleTables:
    """Household heads, 铁三角 teams per level-2 grid, cadres and patrol per village.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    as_of : datetime.date
        Reference date for ages.
    household_keys : numpy.ndarray of str
        Household keys.
    household_village : numpy.ndarray of int
        Village index per household.
    household_clan : numpy.ndarray of int
        Clan surname of the household's lane (index into SURNAMES) or -1.
    household_people_n : numpy.ndarray of int
        People per household.
    household_l2 : numpy.ndarray of int
        Level-2 grid index per household.
    village_codes : list of str
        Village codes, by village index.
    level2_codes : list of str
        Level-2 grid codes, by level-2 index.
    level2_village : numpy.ndarray of int
        Village index per level-2 grid.

    Returns
    -------
    PeopleTables
    """
    n_h = len(household_keys)
    n_v = len(village_codes)
    n_s = len(SURNAMES)
    # Zipf-like national surname mix, plus three dominant clans per village.
    general = 1.0 / (np.arange(n_s) + 6.0)
    general /= general.sum()
    clans = np.array([rng.choice(n_s, size=3, replace=False, p=general) for _ in range(n_v)])

    def surnames(village: np.ndarray, lane_clan: np.ndarray | None) -> np.ndarray:
        m = len(village)
        out = rng.choice(n_s, size=m, p=general)
        u = rng.random(m)
        pick = np.minimum((u / 0.17).astype(np.int64), 3)  # 17 % per dominant clan
        dom = pick < 3
        out[dom] = clans[village[dom], pick[dom]]
        if lane_clan is not None:
            on_clan = (lane_clan >= 0) & (rng.random(m) < 0.55)
            out[on_clan] = lane_clan[on_clan]
        return out

    # Heads: mostly men (as registered), aged 24..88.
    head_male = rng.random(n_h) < 0.8
    blocks = [
        dict(
            village=household_village,
            household=np.arange(n_h),
            surname=surnames(household_village, household_clan),
            male=head_male,
            birth=_births(rng, as_of, n_h, 24, 88, 53, 13),
        )
    ]
    # Residents holding a role live in a household of their village with room for them.
    roomy = household_people_n >= 2
    by_village = [np.flatnonzero((household_village == v) & roomy) for v in range(n_v)]

    # A grid worker lives in the grid they serve (local knowledge is the point).
    n_l2 = len(level2_codes)
    by_l2 = [np.flatnonzero((household_l2 == g) & roomy) for g in range(n_l2)]
    worker_home = np.array(
        [
            rng.choice(by_l2[g]) if len(by_l2[g]) else rng.choice(by_village[level2_village[g]])
            for g in range(n_l2)
        ],
        dtype=np.int64,
    )
    taken = np.zeros(n_h, dtype=bool)
    taken[worker_home] = True

    def residents(village: np.ndarray) -> np.ndarray:
        """One distinct household per role holder, so no household overflows."""
        out = np.empty(len(village), dtype=np.int64)
        for v in np.unique(village):
            slots = np.flatnonzero(village == v)
            free = by_village[v][~taken[by_village[v]]]
            pool = free if len(free) >= len(slots) else np.flatnonzero(household_village == v)
            out[slots] = rng.choice(pool, size=len(slots), replace=len(pool) < len(slots))
            taken[out[slots]] = True
        return out

    cad_v = np.repeat(np.arange(n_v), 2)
    n_patrol = rng.integers(4, 7, n_v)
    pat_v = np.repeat(np.arange(n_v), n_patrol)
    role_specs = [
        # (village per person, household or -1, male prob, age lo/hi/mean/sd)
        ("village_cadre", cad_v, residents(cad_v), 0.75, (33, 62, 48, 7)),
        ("patrol_member", pat_v, residents(pat_v), 0.6, (60, 76, 66, 4)),
        ("community_police", level2_village, np.full(n_l2, -1), 0.85, (26, 52, 36, 7)),
        ("grid_worker", level2_village, worker_home, 0.45, (24, 55, 36, 8)),
    ]
    for _, village, hh, p_male, (lo, hi, mean, sd) in role_specs:
        m = len(village)
        blocks.append(
            dict(
                village=village,
                household=hh,
                surname=surnames(village, None),
                male=rng.random(m) < p_male,
                birth=_births(rng, as_of, m, lo, hi, mean, sd),
            )
        )
    village = np.concatenate([b["village"] for b in blocks])
    household = np.concatenate([b["household"] for b in blocks])
    surname = np.concatenate([b["surname"] for b in blocks])
    male = np.concatenate([b["male"] for b in blocks])
    birth = np.concatenate([b["birth"] for b in blocks])
    n = len(village)
    serial = np.arange(1, n + 1)
    keys = np.array([f"P{s:07d}" for s in serial], dtype=object)
    hh_key = np.where(household >= 0, household_keys[np.maximum(household, 0)], None)
    persons = pd.DataFrame(
        {
            "key": keys,
            "name": fake_names(surname, serial),
            "phone": fake_phones(serial),
            "id_number": fake_id_numbers(birth, male),
            "gender": np.where(male, "M", "F"),
            "birth_date": birth.astype(object),
            "household_key": hh_key,
            "village_code": np.asarray(village_codes, dtype=object)[village],
        }
    )

    # Roles: offsets of each block in the persons table.
    starts = np.cumsum([0] + [len(b["village"]) for b in blocks])
    cadre_idx = np.arange(starts[1], starts[2])
    patrol_idx = np.arange(starts[2], starts[3])
    police_idx = np.arange(starts[3], starts[4])
    worker_idx = np.arange(starts[4], starts[5])
    vcodes = np.asarray(village_codes, dtype=object)
    l2codes = np.asarray(level2_codes, dtype=object)
    # Each level-2 team's cadre is one of the village's two cadres, taking turns.
    turn = np.zeros(n_l2, dtype=np.int64)
    seen: dict[int, int] = {}
    for g, v in enumerate(level2_village):
        turn[g] = seen.get(int(v), 0) % 2
        seen[int(v)] = seen.get(int(v), 0) + 1
    team_cadre = cadre_idx[2 * level2_village + turn]
    roles = pd.DataFrame(
        {
            "person_key": np.concatenate(
                [
                    keys[cadre_idx],
                    keys[patrol_idx],
                    keys[police_idx],
                    keys[team_cadre],
                    keys[worker_idx],
                ]
            ),
            "role": np.repeat(
                [
                    "village_cadre",
                    "patrol_member",
                    "community_police",
                    "village_cadre",
                    "grid_worker",
                ],
                [len(cadre_idx), len(patrol_idx), n_l2, n_l2, n_l2],
            ),
            "area_type": np.repeat(
                ["village", "village", "grid", "grid", "grid"],
                [len(cadre_idx), len(patrol_idx), n_l2, n_l2, n_l2],
            ),
            "area_code": np.concatenate([vcodes[cad_v], vcodes[pat_v], l2codes, l2codes, l2codes]),
        }
    )
    return PeopleTables(
        persons=persons,
        roles=roles,
        head_key=keys[:n_h],
        worker_key=dict(zip(level2_codes, keys[worker_idx], strict=True)),
        police_key=dict(zip(level2_codes, keys[police_idx], strict=True)),
        cadre_key=dict(zip(village_codes, keys[cadre_idx[::2]], strict=True)),
    )
