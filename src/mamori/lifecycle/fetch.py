"""One bounded HTTP fetch for the lifecycle's checks of the outside world (OCSP responders, CRL
distribution points, pages showing a site seal): a timeout, a size cap read in chunks, an address
policy, and one readable error for whatever goes wrong.

The URLs come from certificates and pages a client controls, so every connection the fetch opens
(redirects included) is checked against the policy when it opens (:mod:`mamori.probe.netguard`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import requests
import urllib3

from mamori.probe import netguard
from mamori.probe.netguard import AddressPolicy


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
    policy: AddressPolicy | None,
) -> Fetched:
    """GET ``url`` (POST ``body`` when given); the content of a 200 answer of at most ``limit``
    bytes. Connections go only to addresses ``policy`` allows (None: any). Raises
    :class:`FetchError` for anything else."""
    headers = {"Content-Type": content_type} if content_type else {}
    try:
        with netguard.guarded(policy), warnings.catch_warnings():
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
        refused = netguard.refusal_in(exc)
        if refused is not None:
            raise FetchError(f"{url} was not fetched: {refused}") from None
        raise FetchError(f"{url} could not be reached: {exc.__class__.__name__}: {exc}") from None
