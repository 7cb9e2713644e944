"""Layer 8: the application — plugin manager, plan, running sections, build, validate,
verify and the plugin scaffold. The command line and :mod:`cohortpress.testing` sit on it.
"""
