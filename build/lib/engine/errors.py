"""The one exception type a user can cause, and the control-flow exceptions of long work."""


class UnlearnError(Exception):
    """A problem the user can fix: a bad spec, missing data files, a malformed upload.

    The message says what is wrong and what to do. Pages show it with ``st.error``; the CLI prints it
    on one line and exits non-zero.
    """


class Cancelled(UnlearnError):
    """Raised inside long work when its cancel token was set; nothing half-done is stored."""


class Diverged(UnlearnError):
    """Raised when a loss or a weight becomes NaN or infinite during training or unlearning."""


class DataMissing(UnlearnError):
    """A data set's files are not where the loader looks. The message says which files go where;
    ``downloadable`` says whether torchvision can fetch them (the CLI's ``--download``, with a network)."""

    def __init__(self, message: str, downloadable: bool = False) -> None:
        super().__init__(message)
        self.downloadable = downloadable
