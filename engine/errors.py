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
