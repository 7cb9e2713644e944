"""Bottom layer: what every other layer may use — errors, number formatting, the version.

Nothing here imports another part of cohortpress.
"""
