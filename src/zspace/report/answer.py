"""The answer table of the open question as HTML: one builder for the report and the notebook.

:func:`sampler_table` turns one run's ``question.json`` content into the
sampler table (floor, samplers by FD, ceiling) that both the HTML report
(:mod:`zspace.report.build`) and the notebook's ``Question`` view
(:mod:`zspace.notebook`) show; the rows themselves come from
:func:`zspace.science.question.table_rows`.
"""

from __future__ import annotations

from typing import Any

from zspace.report.html import table
from zspace.science.question import table_rows

#: the columns of the sampler table
SAMPLER_COLUMNS = ("sampler", "FD", "x floor", "precision", "recall", "void share")


def sampler_table(answer: dict[str, Any], cls: str = "") -> str:
    """``<table>`` of one run's answer (question.json content); a void share not measured shows as ``-``.

    ``cls``: the table's CSS class ("" for none).
    """
    rows = [(*row[:5], "-" if row[5] is None else row[5]) for row in table_rows(answer)]
    return table(rows, list(SAMPLER_COLUMNS), cls=cls)


__all__ = ["SAMPLER_COLUMNS", "sampler_table"]
