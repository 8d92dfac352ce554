"""Errors a user can fix. The CLI prints their message on one line and exits 2, no traceback."""


class UserError(Exception):
    """Bad input from the user: a file, a field, a flag. The message names what and where."""


class DataError(UserError):
    """A dataset, annotation or mask file is missing, malformed or corrupt."""


class MissingWeightsError(UserError):
    """A pretrained weight file is not where the suite expects it."""


class RegistryError(UserError):
    """The experiment registry (experiments/*.yaml) is malformed or inconsistent."""
