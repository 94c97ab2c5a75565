"""Cheat (or accident): pytest.importorskip of a package that is not installed."""

import pytest

pytest.importorskip("no_such_package_anywhere")
