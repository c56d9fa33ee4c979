"""Typed errors for mistakes a user can fix: commands print them as one line and exit non-zero."""


class PnfError(Exception):
    """Base class: the message alone (no traceback) tells the user what to do."""


class PresetError(PnfError, ValueError):
    """A preset file or an --hparams override is unreadable, unknown or malformed."""


class CheckpointError(PnfError):
    """A checkpoint file is missing, unreadable or does not fit the preset."""


class MissingCheckpointError(CheckpointError, FileNotFoundError):
    """A noise level of the schedule has no checkpoint under the root folder."""


class AudioError(PnfError):
    """An audio or feature file is missing, unreadable, empty or unusable."""
