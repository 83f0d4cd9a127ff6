"""The error an upload is refused with (shared by the reader's private modules)."""

from __future__ import annotations

from pipeline.errors import InputError


class UploadError(InputError):
    """An uploaded file is refused; the message names the file and the reason.

    Parameters
    ----------
    file_name : str
        The upload's name, as given.
    reason : str
        Why it is refused.
    """

    def __init__(self, file_name: str, reason: str) -> None:
        self.file_name = file_name
        self.reason = reason
        super().__init__(f"file {file_name!r}: {reason}")
