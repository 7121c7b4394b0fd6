"""Where a job's webhook may be called (against server-side request forgery): every address its
host resolves to must be public, or allowed by the operator in ``SCALER_WEBHOOK_ALLOWED_HOSTS``
(host names, IP addresses and CIDR networks). Checked at the door (``api/validation.py``) and again
when the runner calls the hook (``api/webhook.py``), which then connects only to the addresses it
checked, so a name that resolves elsewhere between the check and the call cannot redirect it."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# a host name and port -> the addresses it resolves to (``system_resolve``; tests pass their own)
Resolver = Callable[[str, int], list[IPAddress]]

ALLOW_VARIABLE = "SCALER_WEBHOOK_ALLOWED_HOSTS"
# a DNS name: letters, digits, '-' and '_' in dot-separated labels of 1-63, not all digits at the end
LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
HOST_NAME = re.compile(rf"(?=.{{1,253}}$)(?:{LABEL}\.)*(?![0-9]+$){LABEL}")
ADDRESS_LIKE = re.compile(r"[0-9a-fA-F.:]+(/[0-9]+)?")  # meant as an address or a network
# why an address is not public, in the order they are asked (loopback is also private, …)
REASONS: tuple[tuple[str, Callable[[IPAddress], bool]], ...] = (
    ("unspecified", lambda address: address.is_unspecified),
    ("loopback", lambda address: address.is_loopback),
    ("link-local", lambda address: address.is_link_local),
    ("multicast", lambda address: address.is_multicast),
    ("private", lambda address: address.is_private),
    ("reserved", lambda address: address.is_reserved),
    ("non-public", lambda address: not address.is_global),  # e.g. 100.64.0.0/10, shared by carriers
)


class WebhookTargetError(ValueError):
    """A webhook's URL the service will not call; the message says why and how to allow it."""


class UnresolvedWebhookError(ValueError):
    """A webhook's host that does not resolve (now): nothing to check, nothing to call."""


def allowed_entry(text: str) -> str:
    """One entry of the setting, normalised: a CIDR network (``10.0.0.0/8``), an IP address
    (``10.1.2.3``, ``::1``) or a host name (lower case, without a trailing dot); ValueError else."""
    entry = text.strip()
    if not entry:
        raise ValueError("an empty entry: write host names, IP addresses or CIDR networks between commas")
    try:
        return str(ipaddress.ip_network(entry) if "/" in entry else ipaddress.ip_address(entry))
    except ValueError as error:
        if ADDRESS_LIKE.fullmatch(entry) and not HOST_NAME.fullmatch(entry.lower()):
            raise ValueError(f"{entry!r} is not an IP address or CIDR network: {error}") from None
    name = entry.lower().removesuffix(".")
    if not HOST_NAME.fullmatch(name):
        raise ValueError(
            f"{entry!r} is not a host name, IP address or CIDR network (write hosts without scheme or port)"
        )
    return name


@dataclass(frozen=True)
class AllowedHosts:
    """What the operator allows besides public addresses: host names (whatever they resolve to)
    and networks (whatever name leads there)."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def of(cls, entries: Iterable[str]) -> AllowedHosts:
        """From the setting's entries (``allowed_entry``'s normal form)."""
        checked = [allowed_entry(entry) for entry in entries]
        names = frozenset(entry for entry in checked if HOST_NAME.fullmatch(entry))
        networks = tuple(ipaddress.ip_network(entry) for entry in checked if entry not in names)
        return cls(names, networks)

    def contains(self, address: IPAddress) -> bool:
        return any(address.version == network.version and address in network for network in self.networks)


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` is not public ("loopback", "private", …); None for a public address. An IPv6
    address that carries an IPv4 one (``::ffff:127.0.0.1``, 6to4 ``2002:7f00:1::``) is judged by it."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = address.ipv4_mapped or address.sixtofour
        if carried is not None and refusal(carried) is not None:
            return refusal(carried)
    return next((reason for reason, applies in REASONS if applies(address)), None)


def system_resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses the system resolver gives ``host`` (an IP address gives itself), in its order."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise UnresolvedWebhookError(f"{host} does not resolve: {error}") from None
    addresses: list[IPAddress] = []
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]))
        if address not in addresses:
            addresses.append(address)
    return addresses


def literal_address(host: str) -> IPAddress | None:
    """The IP address a URL's host writes in the usual form (``10.0.0.1``, ``::1``), else None."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@dataclass(frozen=True)
class WebhookTarget:
    """A webhook URL and the addresses it may be called at (each checked)."""

    url: str  # ASCII: an international name in its xn-- form
    host: str  # the URL's host: a name or an IP address, as the URL writes it
    port: int
    addresses: tuple[IPAddress, ...]


def webhook_target(url: str, allowed: AllowedHosts, resolve: Resolver = system_resolve) -> WebhookTarget:
    """The addresses the webhook at ``url`` may be called at: every one its host resolves to, each
    public or allowed (a host name in ``allowed`` allows all of its). ``WebhookTargetError`` says
    which address is not and how to allow it; ``UnresolvedWebhookError`` when the host does not
    resolve."""
    import httpx

    try:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError) as error:
        raise WebhookTargetError(f"not a valid URL: {error}") from None
    if parsed.scheme not in ("http", "https") or not host:
        raise WebhookTargetError("an http:// or https:// URL with a host")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = resolve(host, port)
    if not addresses:
        raise UnresolvedWebhookError(f"{host} resolves to no address")
    literal = literal_address(host)
    if host.lower().removesuffix(".") not in allowed.names:
        for address in addresses:
            reason = refusal(address)
            if reason is not None and not allowed.contains(address):
                leads = host if literal == address else f"{host} resolves to {address}, which"
                raise WebhookTargetError(
                    f"{leads} is not a public address ({reason}): webhooks are called only at public "
                    f"addresses unless the operator allows the host or its network in {ALLOW_VARIABLE}"
                )
    return WebhookTarget(str(parsed), host, port, tuple(addresses))
