"""The demo's patrol schedule: twice a day before the demo's date, with its misses and delays."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from layers.demo.generate import DEFAULT_AS_OF, DEFAULT_SEED
from layers.demo.patrols import PHONES, PLANNED_WEEKS, SCHEDULE_COLUMNS, TEAMS, patrol_schedule
from layers.patrol.service import LOCAL
from layers.patrol.weekplan import DEFAULT_WINDOWS


@pytest.fixture(scope="module")
def schedule() -> pd.DataFrame:
    return patrol_schedule(DEFAULT_AS_OF, DEFAULT_SEED)


def test_twice_a_day_for_each_teams_weeks_before_as_of(schedule):
    assert list(schedule.columns) == list(SCHEDULE_COLUMNS)
    for k, team in enumerate(TEAMS):
        mine = schedule[schedule["team"] == k]
        days = sorted(set(mine["day"]))
        first = DEFAULT_AS_OF - dt.timedelta(days=7 * team.weeks)
        assert days == [first + dt.timedelta(days=d) for d in range(7 * team.weeks)]
        assert mine.groupby("day")["slot"].apply(lambda s: sorted(s) == [0, 1]).all()
        # The last weeks follow the week plan; before, fixed routes at routine times.
        planned = mine[mine["planned"]]
        assert set(planned["day"]) == set(days[-7 * PLANNED_WEEKS :])
        assert set(planned["route"]) == {"plan"}
        assert planned["routine_start"].isna().all()
        fixed = mine[~mine["planned"]]
        assert set(fixed["route"]) <= {"morning", "afternoon", "cover"}
        for row in fixed.itertuples():
            lo, hi = DEFAULT_WINDOWS[row.slot]
            start = row.routine_start.astimezone(LOCAL)
            assert start.date() == row.day
            assert lo <= start.hour * 60 + start.minute <= hi
            assert row.route in ("cover", ("morning", "afternoon")[row.slot])
        covers = fixed[fixed["route"] == "cover"]
        if team.cover_weekday is None:
            assert covers.empty
        else:
            # Every other week, on the team's weekday, in the morning.
            assert len(covers) == (team.weeks - PLANNED_WEEKS + 1) // 2
            assert {d.weekday() for d in covers["day"]} == {team.cover_weekday}
            assert set(covers["slot"]) == {0}


def test_most_patrols_walked_some_skipped_short_or_late(schedule):
    for k, team in enumerate(TEAMS):
        mine = schedule[schedule["team"] == k]
        share = mine["outcome"].value_counts(normalize=True)
        assert share["walked"] > 0.6
        for outcome, expected in (("short", team.short), ("late", team.late)):
            # Rain can turn any patrol into a skipped one, never the other way.
            assert 0 < share[outcome] <= expected + 1 / len(mine)
        assert share["skipped"] >= team.skip - 1 / len(mine)
        late = mine[mine["outcome"] == "late"]["delay_s"]
        on_time = mine[mine["outcome"] != "late"]["delay_s"]
        assert late.between(12 * 60, 40 * 60).all()
        assert on_time.abs().max() <= 8 * 60
        short = mine[mine["outcome"] == "short"]["keep"]
        assert short.between(0.35, 0.75).all()
        whole = mine[(mine["outcome"] != "short") & (mine["route"] != "cover")]["keep"]
        assert (whole == 1.0).all()
        lo, hi = team.speed_mps
        assert mine["speed_mps"].between(lo, hi).all()


def test_rain_keeps_the_volunteers_home_not_the_police(schedule):
    for k, team in enumerate(TEAMS):
        mine = schedule[schedule["team"] == k]
        skipped = int((mine["outcome"] == "skipped").sum())
        quota = round(team.skip * len(mine))
        both = mine.groupby("day")["outcome"].apply(lambda o: (o == "skipped").all())
        if team.rain_skips:
            assert skipped > quota  # rainy days on top of the usual misses
            assert both.any()  # a whole day at home
        else:
            assert skipped == quota


def test_each_phone_keeps_its_fix_interval_and_noise(schedule):
    assert schedule["walker"].between(0, PHONES - 1).all()
    assert set(schedule["interval_s"]) <= {5.0, 10.0, 15.0}
    assert schedule["sigma_m"].between(5.0, 10.0).all()
    per_phone = schedule.groupby(["team", "walker"])[["interval_s", "sigma_m"]].nunique()
    assert (per_phone == 1).all().all()


def test_deterministic_for_seed_and_date(schedule):
    pd.testing.assert_frame_equal(schedule, patrol_schedule(DEFAULT_AS_OF, DEFAULT_SEED))
    other = patrol_schedule(DEFAULT_AS_OF, DEFAULT_SEED + 1)
    assert not other["seed"].equals(schedule["seed"])
    later = patrol_schedule(DEFAULT_AS_OF + dt.timedelta(days=30), DEFAULT_SEED)
    assert max(later["day"]) == DEFAULT_AS_OF + dt.timedelta(days=29)
