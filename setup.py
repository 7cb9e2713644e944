"""Package discovery for the product's layout: ``core/`` is ``cohortpress``, ``plugins/`` is
``cohortpress.plugins`` and ``templates/`` is ``cohortpress.templates``.

Everything else about the package is in pyproject.toml. setuptools cannot discover packages
under a renamed root by itself, so the list is computed here from the folders: a new
subpackage is in the wheel without anyone listing it (tests/test_packaging.py checks).
"""

from setuptools import find_packages, setup

ROOTS = {"cohortpress": "core", "cohortpress.plugins": "plugins",
         "cohortpress.templates": "templates"}


def discovered_packages() -> list[str]:
    packages = []
    for name, folder in ROOTS.items():
        packages.append(name)
        packages += [f"{name}.{sub}" for sub in find_packages(folder)]
    return packages


setup(packages=discovered_packages(), package_dir=ROOTS)
