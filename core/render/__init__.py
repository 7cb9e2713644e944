"""Layer 6: from finished sections to files.

:mod:`~cohortpress.render.context` gathers what the page shows (sections, the methods text of
:mod:`~cohortpress.render.methods`, the provenance of :mod:`~cohortpress.render.provenance`,
the styles) and renders it with the environment of :mod:`~cohortpress.render.jinja`;
:mod:`~cohortpress.render.weasy` turns the HTML into a PDF, in the process of
:mod:`~cohortpress.render.pdfworker` when it is ready; :mod:`~cohortpress.render.exports`
writes the tables as CSV, XLSX and DOCX; :mod:`~cohortpress.render.write` writes every file
of a build atomically. :mod:`~cohortpress.render.job` names what this layer needs to know
about a build, so that it never imports :mod:`cohortpress.app` or the plugins.
"""
