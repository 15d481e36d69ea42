"""Which kind of host a connection's base URL names: Kling's own API hosts, the default reseller, or another.

What a host serves (models, ``external_task_id``, ``GET /tasks``) depends on who runs it; this module
is the one place that tells them apart from the base URL. No I/O.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

#: Kling's own API hosts (``api-singapore.klingai.com``, ``api-beijing.klingai.com`` ...).
KLING_HOST_SUFFIX = ".klingai.com"
#: The reseller that is the connection's default host (``https://www.kkiai.com/kling``).
RESELLER_HOSTS = ("www.kkiai.com", "kkiai.com")

#: ``kling``: Kling's own hosts; ``reseller``: the default reseller; ``None``: any other host.
HostFamily = Literal["kling", "reseller"]
HOST_FAMILY_NAMES: dict[str, str] = {"kling": "Kling's own hosts", "reseller": "the reseller (www.kkiai.com)"}


def host_family(base_url: str) -> HostFamily | None:
    """``kling`` for Kling's own API hosts, ``reseller`` for the default reseller, ``None`` otherwise."""
    host = (urlsplit(base_url).hostname or "").lower()
    if host.endswith(KLING_HOST_SUFFIX):
        return "kling"
    if host in RESELLER_HOSTS:
        return "reseller"
    return None


def is_klings_own_host(base_url: str) -> bool:
    """Whether ``base_url`` is one of Kling's own API hosts (they behave as Kling documents)."""
    return host_family(base_url) == "kling"


def known_support(setting: str, base_url: str) -> bool | None:
    """Whether a host has a feature Kling documents (``external_task_id``, ``GET /tasks``): as the
    connection extra says (``yes``/``no``), else yes on Kling's own hosts, else None (find out)."""
    if setting in ("yes", "no"):
        return setting == "yes"
    return True if is_klings_own_host(base_url) else None


#: Kling's own host of each region (the connection's ``region`` extra). Keys are issued per site and
#: do not cross regions: a Singapore key fails in Beijing (one third party says so; Kling's own
#: statement was not found: UNCONFIRMED).
REGION_HOSTS: dict[str, str] = {
    "singapore": "https://api-singapore.klingai.com",
    "beijing": "https://api-beijing.klingai.com",
}
#: Which region a Kling host serves (``api.klingai.com``, the old global host, became Singapore's).
_REGION_OF_HOST = {
    "api-singapore.klingai.com": "singapore",
    "api.klingai.com": "singapore",
    "api-beijing.klingai.com": "beijing",
}


def region_of(base_url: str) -> str | None:
    """The region a base URL's Kling host serves; ``None`` for any other host."""
    return _REGION_OF_HOST.get((urlsplit(base_url).hostname or "").lower())


def region_base_url(host: str, region: str | None) -> str:
    """The base URL of a connection naming ``region``: that region's Kling host when ``host`` is
    empty, else ``host`` itself, unless it is Kling's host of the other region (ValueError: keys do
    not cross regions, UNCONFIRMED)."""
    if region is None:
        return host
    if not host:
        return REGION_HOSTS[region]
    other = region_of(host)
    if other is not None and other != region:
        raise ValueError(
            f"the host {host} is Kling's {other} site but the region extra says {region}: keys are "
            "issued per site and do not cross regions (UNCONFIRMED); leave the host empty to use "
            f"{REGION_HOSTS[region]}, or set the region to {other}"
        )
    return host
