"""The one place the version is written; the build (hatch) and ``venice_nb.__version__`` read it."""

__version__ = "0.1.0"
