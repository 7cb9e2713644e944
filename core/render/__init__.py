"""Layer 6: from finished sections to files — the methods text, HTML, PDF, table exports,
results.json, written atomically.

Imports the layers below it, never :mod:`cohortpress.app` or the plugins.
"""
