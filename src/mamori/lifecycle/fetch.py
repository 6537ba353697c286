"""One bounded HTTP fetch for the lifecycle's checks of the outside world (OCSP responders, CRL
distribution points, pages showing a site seal): a timeout, a size cap read in chunks, and one
readable error for whatever goes wrong."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import requests
import urllib3


class FetchError(Exception):
    """The URL could not be fetched; the message says why, in one line, with the URL."""


@dataclass(frozen=True)
class Fetched:
    content: bytes
    encoding: str | None


def fetch(
    url: str,
    *,
    limit: int,
    timeout: float,
    body: bytes | None = None,
    content_type: str = "",
    verify: bool = True,
) -> Fetched:
    """GET ``url`` (POST ``body`` when given); the content of a 200 answer of at most ``limit``
    bytes. Raises :class:`FetchError` for anything else."""
    headers = {"Content-Type": content_type} if content_type else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            response = requests.request(
                "GET" if body is None else "POST",
                url,
                data=body,
                headers=headers,
                timeout=timeout,
                stream=True,
                verify=verify,
            )
        with response:
            if response.status_code != 200:
                raise FetchError(f"{url} answered HTTP {response.status_code}")
            data = bytearray()
            for chunk in response.iter_content(65536):
                data += chunk
                if len(data) > limit:
                    raise FetchError(f"{url} sent more than {limit // 1024} KiB")
            return Fetched(bytes(data), response.encoding)
    except requests.RequestException as exc:
        raise FetchError(f"{url} could not be reached: {exc.__class__.__name__}: {exc}") from None
