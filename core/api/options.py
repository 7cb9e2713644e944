"""The options of an analysis: the keys of its ``[[section]]`` table, validated by pydantic.

Options fields typed :data:`Variable` or :data:`EndpointName` carry a reference marker; the
build reads it to check every such name against the cohort before any analysis runs, and to
load only the columns some section names.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict


class _Reference:
    """Marks an option field whose value names something in the cohort."""

    def __init__(self, kind: str):
        self.kind = kind

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<reference to a {self.kind}>"


#: An option that names a cohort variable (a column, a derived variable).
#: The core checks every such name before any analysis runs, and loads only those columns.
Variable = Annotated[str, _Reference("variable")]
#: An option that names an endpoint declared in ``[endpoints]``.
EndpointName = Annotated[str, _Reference("endpoint")]


class Options(BaseModel):
    """Base class of an analysis's options: the keys of its ``[[section]]`` table.

    Unknown keys are errors (with a "did you mean" suggestion); fields typed
    :data:`Variable` or :data:`EndpointName` are checked against the cohort before any
    analysis runs.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    def inapplicable_keys(self, config) -> list[tuple[str, str]]:
        """The options given that cannot apply where this section stands.

        A key that does not apply is an error, never ignored: ``validate`` and ``build``
        refuse the config with the first pair. Override to compare the options with the
        config (the forms of the endpoints they name, say); no statistics are run here.

        Parameters
        ----------
        config : cohortpress.config.schema.Config
            The whole validated config.

        Returns
        -------
        list of (str, str)
            ``(key, why)``: the option's key within the section (``"risk_table"``,
            ``"figure_captions.efs"``) and why it cannot apply.
        """
        return []

    def check_data(self, cohort) -> list[str]:
        """Check the options against the cohort, before any statistics are computed.

        ``cohortpress validate`` and ``build`` call it on the section's cohort (its subset
        applied) once the data is read: raise :class:`~cohortpress.common.errors.DataError`
        (or another user error) for what the analysis would refuse, with the same one line
        it would give; return warnings (landmarks beyond follow-up, say) as sentences.
        Only cheap checks belong here: counts, kinds, levels; no estimator.
        """
        return []
