"""Maps the top-level folders core/, sessions/, tui/ onto the tunebook.* namespace.

pyproject.toml cannot prefix discovered packages, so the list is computed here; every
sub-package added under a layer is picked up without editing this file.
"""

from setuptools import find_packages, setup

LAYERS = ("core", "sessions", "tui")

setup(
    packages=[
        f"tunebook.{name}"
        for layer in LAYERS
        for name in find_packages(include=[layer, f"{layer}.*"])
    ],
    package_dir={f"tunebook.{layer}": layer for layer in LAYERS},
)
