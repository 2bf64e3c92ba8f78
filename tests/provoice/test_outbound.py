"""Webhook destinations: only public http(s) hosts, checked on the address that will be called."""

import socket

import pytest

from provoice.outbound import DestinationRefused, check_destination


@pytest.mark.parametrize(
    "url, rule",
    [
        ("http://127.0.0.1:9000/hook", "loopback"),
        ("http://localhost/hook", "loopback"),
        ("http://app.localhost/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://10.0.0.1/hook", "private"),
        ("http://192.168.1.20/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://224.0.0.1/hook", "multicast"),
        ("file:///etc/passwd", "must be http:// or https://"),
        ("gopher://example.com/", "must be http:// or https://"),
        ("https://user:pw@example.com/", "user name or password"),
        ("http:///nohost", "has no host"),
        ("http://example.com:99999/", "not a valid URL"),
    ],
)
def test_non_public_destinations_are_refused_with_the_rule(url, rule):
    with pytest.raises(DestinationRefused, match=rule):
        check_destination(url)


def test_a_name_is_judged_by_the_address_it_resolves_to(monkeypatch):
    def resolve(host, port, *args, **kwargs):
        address = {"rebind.example": "127.0.0.1", "public.example": "93.184.216.34"}[host]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(DestinationRefused, match=r"rebind.example \(127.0.0.1\) is a loopback"):
        check_destination("https://rebind.example/hook")
    dest = check_destination("https://public.example/hook")
    assert (dest.host, dest.port, dest.address) == ("public.example", 443, "93.184.216.34")
    # Without resolving (when a URL is stored), a name passes; it is checked again when used.
    assert check_destination("https://rebind.example/hook", resolve=False).address == "rebind.example"


def test_an_unresolvable_host_is_refused(monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(DestinationRefused, match="does not resolve"):
        check_destination("https://nowhere.example/hook")


def test_listed_hosts_are_allowed():
    assert check_destination("http://127.0.0.1:8080/hook", allow_hosts=["127.0.0.1"]).address == "127.0.0.1"
    assert check_destination("http://localhost/hook", allow_hosts=["LOCALHOST."]).address == "127.0.0.1"
    with pytest.raises(DestinationRefused):
        check_destination("http://10.0.0.2/hook", allow_hosts=["10.0.0.1"])
