"""Policy → set-based SQL (R13, R17): pure functions, no engine imported.

The SQL reads the frame tables `persons`, `facts` and `children` (docs/policy.md §1.1) and is
written in DuckDB's dialect; another engine translates it. Every number is an integer: weights
in ten-thousandths, points 0–100, scores in hundredths, thresholds compared by
cross-multiplication, so engines agree on every grade at a cut-off.

The plan is wide: one row per person with one column group per indicator. Facts are read in
one grouped pass per kind of fact (never once per indicator), then the children's sums,
families and birth spacing; one last statement joins them to the persons and computes values,
points, the bonus rule ("counted only when it raises the score", §1.6), dimension scores, the
total and the grade in nested projections, so no stage of ~150 columns is stored, and no sort
or window over 28 × persons rows is needed: the bonus rule is arithmetic inside the row.

Birth dates are read by the month (docs/policy.md §1.1): every one is taken as the last day of
its month (`facts._birth`), so the scores beside a masked file cannot tell the day of a birth.

The modules: `sql` (SQL text helpers), `dates` (calendar helpers, shared with the
explanations), `facts` (the grouped passes over the frame), `indicators` (per-indicator values,
statuses and points), `bonus` (the bonus rule inside a row), `wide` (the last statement) and
`plan` (`compile_policy`: the steps and the result queries).
"""

from fpcredit.evaluate.compile.dates import add_months, birth_month_end
from fpcredit.evaluate.compile.plan import STATUS, Plan, compile_policy

__all__ = ["STATUS", "Plan", "add_months", "birth_month_end", "compile_policy"]
