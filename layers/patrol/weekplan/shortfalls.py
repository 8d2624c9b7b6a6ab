"""Bilingual notes on the requirements a week plan does not meet, and whether it is proved."""

from __future__ import annotations

from layers.patrol.weekplan.plan import WeekPlan


def _notes(plan: WeekPlan, p, min_prize_share, max_overlap, freq_tol) -> tuple[str, ...]:
    """Bilingual shortfalls, saying when a requirement was proved unattainable."""
    m = plan.metrics(p)
    notes = []
    if m["prize_share"] < min_prize_share - 1e-9:
        notes.append(
            f"平均奖励仅为最佳路线的 {m['prize_share']:.0%}（要求 {min_prize_share:.0%}） / "
            f"mean prize is {m['prize_share']:.0%} of the best route's "
            f"(floor {min_prize_share:.0%})"
        )
    if not m["freq_ok"]:
        why_zh = why_en = ""
        if "targets" in plan.proved_infeasible:
            why_zh = "：已证明在奖励下限内无法同时达到所有目标"
            why_en = ": proved unattainable together with the prize floor"
        notes.append(
            f"有热点的巡逻次数偏离目标（允许 ±{freq_tol:.0%}）{why_zh} / "
            f"some hotspots' visits are off their targets (tolerance ±{freq_tol:.0%}){why_en}"
        )
    if m["overlap_stops"] > max_overlap + 1e-9:
        if "overlap" in plan.proved_infeasible:
            notes.append(
                f"不同日路线重合度 {m['overlap_stops']:.2f} 高于 {max_overlap:.2f}：已证明"
                f"保持奖励下限和巡逻频次目标时重合度至少为 {plan.overlap_bound:.2f} / "
                f"day-to-day overlap {m['overlap_stops']:.2f} is above {max_overlap:.2f}: "
                f"with the prize floor and visit targets kept it is proved to be at least "
                f"{plan.overlap_bound:.2f}"
            )
        else:
            notes.append(
                f"不同日路线重合度 {m['overlap_stops']:.2f} 高于 {max_overlap:.2f} / "
                f"day-to-day overlap {m['overlap_stops']:.2f} is above {max_overlap:.2f}"
            )
    return tuple(notes)
