"""An upload handler that stops keeping a photo once it passes the size limit.

Django writes an upload to memory (small files) or to a temporary file (large ones) as it reads the
request. Placed first, this handler passes each chunk on only while the file is within the limit;
past it, the file is skipped (``SkipFile``): the rest of it is read from the connection and dropped,
never kept in memory or on disk, and the view says the file is too large.
"""

from __future__ import annotations

from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest


class PhotoSizeLimit(FileUploadHandler):
    def __init__(self, request: HttpRequest | None = None, *, max_bytes: int) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes
        self.too_large = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > self.max_bytes:
            self.too_large = True
            raise SkipFile()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler (memory or temporary file) makes the file
