"""Errors the CLI turns into exit status 2 with a one-line message."""


class DetectorError(Exception):
    """A usage error or unreadable input: the message says what was wrong and where."""


class InputError(DetectorError):
    """Input that cannot be read at all (a missing path, an unreadable file)."""


class ConfigError(DetectorError):
    """A settings value that is missing, of the wrong type or out of range."""
