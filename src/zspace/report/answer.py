"""The answer table of the open question as HTML: one builder for the report and the notebook.

:func:`sampler_table` turns one run's ``question.json`` content into the
sampler table (floor, samplers by FD, ceiling) that both the HTML report
(:mod:`zspace.report.build`) and the notebook's ``Question`` view
(:mod:`zspace.notebook`) show; the rows themselves come from
:func:`zspace.science.question.table_rows`. Where the run was scored with a weights file of
torch-fidelity's Inception-v3, the standard columns follow (FID, KID, ...:
:func:`zspace.science.question.standard_table_rows`), each header naming its feature net.
"""

from __future__ import annotations

from typing import Any

from zspace.report.html import table
from zspace.science.quality.features import LABEL as FEATURE_NET_LABEL
from zspace.science.question import STANDARD_COLUMNS, standard_table_rows, standard_values, table_rows

#: the columns of the sampler table (zspace's own feature net); the standard ones follow when measured, and then
#: FD names its feature net
SAMPLER_COLUMNS = ("sampler", "FD", "x floor", "precision", "recall", "void share")


def sampler_table(answer: dict[str, Any], cls: str = "") -> str:
    """``<table>`` of one run's answer (question.json content); a void share not measured shows as ``-``.

    The standard columns (:data:`~zspace.science.question.STANDARD_COLUMNS`) follow when the answer has them.
    ``cls``: the table's CSS class ("" for none).
    """
    rows = [(*row[:5], "-" if row[5] is None else row[5]) for row in table_rows(answer)]
    standard = standard_table_rows(answer)
    if standard is None:
        return table(rows, list(SAMPLER_COLUMNS), cls=cls)
    rows = [(*row, *standard_values(extra)) for row, extra in zip(rows, standard)]
    columns = [SAMPLER_COLUMNS[0], f"FD ({FEATURE_NET_LABEL})", *SAMPLER_COLUMNS[2:], *STANDARD_COLUMNS]
    return table(rows, columns, cls=cls)


__all__ = ["SAMPLER_COLUMNS", "sampler_table"]
