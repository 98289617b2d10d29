"""The one error of the translation data layer: bad language roles, bad raw data or a bad prepared
corpus. Every data module raises it with a message that names the culprit, and the CLI reports it
as one line; it lives in a module of its own so that the lowest of them (language codes, set ids,
source strings) can raise it without importing the roles."""


class CorpusError(ValueError):
    """Bad roles, bad raw data or a bad prepared corpus; the message names the culprit."""
