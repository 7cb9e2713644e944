"""Layer 4: the plugin author's types and the hook specifications.

:mod:`~cohortpress.api.options` (the options model and the ``Variable``/``EndpointName``
markers), :mod:`~cohortpress.api.blocks` (tables, figures, paragraphs, error and custom
blocks), :mod:`~cohortpress.api.results` (the records of ``results.json``),
:mod:`~cohortpress.api.sections` (``Analysis``, ``Section``, ``SectionContext``) and
:mod:`~cohortpress.api.hookspecs`. Plugin authors import the types from :mod:`cohortpress`
itself.
"""
