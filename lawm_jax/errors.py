"""The errors a user can cause and fix, in one leaf module that imports nothing. Their
messages name the field, file or value and what to do; the command line prints them as
one line (lawm_jax.cli)."""


class ConfigError(ValueError):
    """A config field or flag has a value the run cannot use."""


class DataError(ValueError):
    """The data a run was pointed at cannot feed it (the message says what to do)."""
