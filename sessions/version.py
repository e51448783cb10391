"""The installed tunebook version, recorded in every session file it writes."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tunebook")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
