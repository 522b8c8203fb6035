"""The outbound address rules: every address class a URL may hide behind is refused unless allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from csghub.config import ConfigError, load_settings
from csghub.net.client import git_connection_config
from csghub.net.guard import AddressRules, OutboundRefused, check_url, resolve_checked

PUBLIC = "93.184.216.34"


def fixed(*addresses: str) -> AddressRules:
    """Rules whose resolver answers `addresses` for every name (no DNS in unit tests)."""
    return AddressRules(resolve=lambda host, port: list(addresses))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.8.9.10:8080/api",
        "http://[::1]/",
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://172.31.255.254/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[fd12:3456::1]/",
        "http://0.0.0.0/",
        "http://[::]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "https://255.255.255.255/",
    ],
)
def test_check_url_refuses_non_public_address(url: str) -> None:
    with pytest.raises(OutboundRefused) as caught:
        check_url(url, fixed(PUBLIC))
    assert caught.value.status == 400 and caught.value.code == "OutboundRefused"
    assert "outbound_allow_hosts" in caught.value.message


def test_check_url_refuses_name_resolving_to_loopback() -> None:
    with pytest.raises(OutboundRefused, match=r"127.0.0.1"):
        check_url("https://innocent.example.com/", fixed("127.0.0.1"))


def test_check_url_refuses_when_any_resolved_address_is_private() -> None:
    with pytest.raises(OutboundRefused, match=r"10.0.0.7"):
        check_url("https://hub.example.com/", fixed(PUBLIC, "10.0.0.7"))


def test_check_url_refuses_localhost_with_the_system_resolver() -> None:
    with pytest.raises(OutboundRefused, match="loopback"):
        check_url("http://localhost:8080/", AddressRules())


def test_check_url_allows_public_host() -> None:
    check_url("https://huggingface.example/api", fixed(PUBLIC))
    assert resolve_checked("huggingface.example", 443, fixed(PUBLIC)) == [PUBLIC]


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "gopher://example.com/", "ftp://example.com/x", "javascript:alert(1)", "//example.com"],
)
def test_check_url_refuses_other_schemes(url: str) -> None:
    with pytest.raises(OutboundRefused, match="Only http and https"):
        check_url(url, fixed(PUBLIC))


@pytest.mark.parametrize("url", ["http://user:pw@example.com/", "http://user@example.com/", "https://:t@example.com/"])
def test_check_url_refuses_userinfo(url: str) -> None:
    with pytest.raises(OutboundRefused, match="user name or password"):
        check_url(url, fixed(PUBLIC))


@pytest.mark.parametrize("url", ["http://exa mple.com/", "http://[::1/", "http://example.com:99999/", "http:///x"])
def test_check_url_refuses_malformed_url(url: str) -> None:
    with pytest.raises(OutboundRefused):
        check_url(url, fixed(PUBLIC))


def test_allow_hosts_lets_named_host_through() -> None:
    rules = AddressRules(allow_hosts=["hub.internal"], resolve=lambda host, port: ["10.0.0.5"])
    check_url("http://hub.internal/", rules)
    with pytest.raises(OutboundRefused):
        check_url("http://other.internal/", rules)


def test_allow_hosts_wildcard_matches_subdomains_only() -> None:
    rules = AddressRules(allow_hosts=["*.corp.example"], resolve=lambda host, port: ["10.0.0.5"])
    check_url("http://hub.corp.example/", rules)
    with pytest.raises(OutboundRefused):
        check_url("http://corp.example.evil/", rules)


def test_allow_hosts_lets_address_and_network_through() -> None:
    check_url("http://127.0.0.1:9000/", AddressRules(allow_hosts=["127.0.0.1"]))
    check_url("http://10.9.8.7/", AddressRules(allow_hosts=["10.0.0.0/8"]))
    # The same address in another spelling is the same address.
    check_url("http://2130706433/", AddressRules(allow_hosts=["127.0.0.1"]))
    with pytest.raises(OutboundRefused):
        check_url("http://127.0.0.2/", AddressRules(allow_hosts=["127.0.0.1"]))


def test_deny_wins_over_allow() -> None:
    resolve = fixed(PUBLIC).resolve
    by_name = AddressRules(allow_hosts=["hub.example.com"], deny_hosts=["hub.example.com"], resolve=resolve)
    with pytest.raises(OutboundRefused, match="outbound_deny_hosts"):
        check_url("https://hub.example.com/", by_name)
    by_network = AddressRules(allow_hosts=["*.example.com"], deny_hosts=[f"{PUBLIC}/32"], resolve=resolve)
    with pytest.raises(OutboundRefused, match="outbound_deny_hosts"):
        check_url("https://a.example.com/", by_network)


def test_allow_private_opens_private_and_loopback_but_not_metadata() -> None:
    rules = AddressRules(allow_private=True)
    check_url("http://127.0.0.1/", rules)
    check_url("http://192.168.0.10/", rules)
    with pytest.raises(OutboundRefused, match="link-local"):
        check_url("http://169.254.169.254/", rules)
    with pytest.raises(OutboundRefused, match="unspecified"):
        check_url("http://0.0.0.0/", rules)


def test_malformed_pattern_is_refused_where_rules_are_made() -> None:
    with pytest.raises(ValueError, match="not an address or a network"):
        AddressRules(allow_hosts=["10.0.0.0/33"])
    with pytest.raises(ValueError):
        AddressRules(deny_hosts=["http://x"])


def test_settings_read_outbound_lists_from_env() -> None:
    settings = load_settings(
        {"CSGHUB_OUTBOUND_ALLOW_HOSTS": "127.0.0.1, *.corp.example", "CSGHUB_OUTBOUND_ALLOW_PRIVATE": "yes"}
    )
    assert settings.outbound_allow_hosts == ("127.0.0.1", "*.corp.example")
    assert settings.outbound_deny_hosts == () and settings.outbound_allow_private is True
    hash(settings)  # still a value: frozen all the way down


def test_settings_malformed_host_pattern_is_fatal_naming_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="outbound_deny_hosts"):
        load_settings({"CSGHUB_OUTBOUND_DENY_HOSTS": "ok.example, bad host"})
    toml = tmp_path / "csghub.toml"
    toml.write_text('outbound_allow_hosts = ["hub.corp.example", "10.0.0.0/8"]\n')
    assert load_settings({}, toml).outbound_allow_hosts == ("hub.corp.example", "10.0.0.0/8")
    toml.write_text('outbound_allow_hosts = "10.0.0.0/33"\n')
    with pytest.raises(ConfigError, match="outbound_allow_hosts"):
        load_settings({}, toml)
    toml.write_text("outbound_allow_hosts = [1, 2]\n")
    with pytest.raises(ConfigError, match="outbound_allow_hosts"):
        load_settings({}, toml)


def test_git_connection_config_pins_checked_address_and_hides_token() -> None:
    env = git_connection_config("https://hub.example.com/org/model", fixed(PUBLIC), "secret-token")
    options = {env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"] for i in range(int(env["GIT_CONFIG_COUNT"]))}
    assert options["http.curloptResolve"] == f"hub.example.com:443:{PUBLIC}"
    assert options["http.followRedirects"] == "false"
    assert options["protocol.allow"] == "never" and options["protocol.https.allow"] == "always"
    assert options["http.extraHeader"] == "Authorization: Bearer secret-token"
    with pytest.raises(OutboundRefused):
        git_connection_config("https://hub.example.com/x", fixed("127.0.0.1"))
