"""Layer 4: the plugin author's types (options, blocks, results, sections) and the hook
specifications. Plugin authors import these from :mod:`cohortpress` itself.
"""
