"""The grades dashboard: an official evaluation's distribution and fairness tables, labelled.

Nothing is counted twice: the grade distribution and the A-rates by region type and by
occupation with the four-fifths ratio are the evaluation's own summary (`run.summarise`,
stored with the run, the tables `fpcredit evaluate` prints); this module only reads them and
names each group in the reader's language (region types from the catalogue, occupations from
the standard's code table).

The results carry no region, so the figures are province-wide for every caller; a city or
county clerk sees the province's distribution, which names nobody (docs/services.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fpcredit.evaluate.policy_model import GROUPS
from fpcredit.evaluate.run import FOUR_FIFTHS
from fpcredit.messages import Language, text
from fpcredit.standard.elements import load_standard

__all__ = ["grade_figures"]


def _group_label(value: str, lang: Language) -> str:
    return text(f"evaluation.group_{value}", lang) if value in GROUPS else str(value)


def _occupation_label(value: str, lang: Language) -> str:
    if value == "unknown":
        return text("evaluation.occupation_unknown", lang)
    return load_standard().label("occupation", value, lang) or value


def _rows(rows: list[dict[str, Any]], by: str, best: str, lang: Language) -> list[dict[str, Any]]:
    label = _group_label if by == "group" else _occupation_label
    return [
        {
            "code": str(row[by]),
            "label": label(str(row[by]), lang),
            "persons": row["persons"],
            "best_rate": row[f"{best}_rate"],
            "ratio_to_best": row["ratio_to_best"],
            "four_fifths": row["four_fifths"],
        }
        for row in rows
    ]


def grade_figures(run: Mapping[str, Any], lang: Language = "zh") -> dict[str, Any]:
    """The dashboard of an evaluation (its `evaluations` row, as `Results.run()` gives it)."""
    summary = run["summary"]
    summary = json.loads(summary) if isinstance(summary, str) else dict(summary)
    grades: dict[str, int] = summary["grades"]
    best = next(iter(grades))
    persons = int(summary["persons"])
    return {
        "evaluation": int(run["id"]),
        "as_of": run["as_of"],
        "score_date": run["score_date"],
        "grade_date": run["grade_date"],
        "policy_id": run["policy_id"],
        "policy_version": run["policy_version"],
        "policy_sha256": run["policy_sha256"],
        "scope": "province",
        "persons": persons,
        "ungraded": int(summary.get("ungraded", 0)),
        "best_grade": best,
        "four_fifths_threshold": FOUR_FIFTHS,
        "grades": [
            {"grade": g, "persons": n, "share": round(n / persons, 6) if persons else None}
            for g, n in grades.items()
        ],
        "by_region_type": _rows(summary["by_group"], "group", best, lang),
        "by_occupation": _rows(summary["by_occupation"], "occupation", best, lang),
    }
