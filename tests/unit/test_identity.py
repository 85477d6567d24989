"""The identity model's tokens and rules, and the refusal to run with a known secret (no infra)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import jwt
import pytest

from shared.config import DEV_SIGNING_KEYS
from shared.identity import Permission, Principal, SigningKeys, integration, member, operator
from tests.support import REPO

KEYS = SigningKeys(DEV_SIGNING_KEYS)


def test_a_token_names_its_principal_and_every_key_of_the_set_verifies_it() -> None:
    sara = operator("sara", "support", "analyst")
    found = KEYS.verify(KEYS.issue(sara, 60))
    assert found == sara
    assert found.may(Permission.POINTS_ADJUST) and found.may(Permission.INSIGHT_READ)
    assert not found.may(Permission.PROGRAM_WRITE)
    # Rotation by overlap: a token of the old key still verifies while both are in the set, and new
    # tokens are signed with the first.
    old = SigningKeys("old:" + "o" * 40)
    both = SigningKeys("new:" + "n" * 40 + ",old:" + "o" * 40)
    assert both.verify(old.issue(sara, 60)) == sara
    assert jwt.get_unverified_header(both.issue(sara, 60))["kid"] == "new"
    assert SigningKeys("new:" + "n" * 40).verify(old.issue(sara, 60)) == "unknown signing key"


def test_expired_forged_and_unsigned_tokens_are_refused_with_the_reason() -> None:
    sara = operator("sara", "admin")
    assert KEYS.verify(KEYS.issue(sara, -120)) == "expired"
    forged = jwt.encode(
        {"sub": "sara", "kind": "operator", "roles": ["admin"]}, "x" * 40, headers={"kid": "dev"}
    )
    assert KEYS.verify(forged) == "invalid"
    unsigned = jwt.encode({"iss": "vafa", "sub": "sara", "kind": "operator", "exp": 2**40, "iat": 0}, None,
                          algorithm="none", headers={"kid": "dev"})  # fmt: skip
    assert KEYS.verify(unsigned) == "invalid"
    assert KEYS.verify("not a token") == "malformed"


def test_a_member_acts_only_for_themselves_and_an_integration_only_within_its_scopes() -> None:
    m = member("m-1")
    assert m.may(Permission.MEMBER_READ, "m-1") and not m.may(Permission.MEMBER_READ, "m-2")
    assert not m.may(Permission.MEMBER_READ) and not m.may(Permission.POINTS_ADJUST, "m-1")
    till = integration("chain", "redeem", chain_id="hyperstar")
    assert till.may(Permission.MEMBER_ACT, "anyone") and not till.may(Permission.EVENTS_SEND)
    assert integration("chain", chain_id="hyperstar").permissions == {Permission.EVENTS_SEND}
    # A service asks another only what it needs: notify, a member's address.
    assert Principal("service", "notify").permissions == {Permission.CONTACT_READ}
    assert Principal("service", "points").permissions == frozenset()


def test_signing_keys_must_be_long_enough_to_mean_something() -> None:
    with pytest.raises(ValueError, match="32"):
        SigningKeys("k1:short")


def test_a_service_started_with_a_default_secret_outside_dev_exits_saying_which() -> None:
    env = {"PATH": "/usr/bin:/bin", "VAFA_ENV": "production", "VAFA_PG_PASSWORD": "a-real-one"}
    run = [sys.executable, "-m", "services.points"]
    done = subprocess.run(run, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "refusing to start with the repository's default VAFA_AUTH_SIGNING_KEYS" in done.stderr


@pytest.mark.parametrize("service", ["ingest", "points", "tiers", "notify", "analytics"])
def test_every_service_refuses_each_known_default(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module(f"services.{service}.main")
    settings_class = type(importlib.import_module(f"services.{service}.main").create().state.settings)
    monkeypatch.setenv("VAFA_ENV", "production")
    for env, named in (
        ({"VAFA_PG_PASSWORD": "a-real-one"}, "VAFA_AUTH_SIGNING_KEYS"),
        ({"VAFA_AUTH_SIGNING_KEYS": "k1:" + "s" * 40}, "VAFA_PG_PASSWORD"),
    ):
        with monkeypatch.context() as patched:
            for name, value in env.items():
                patched.setenv(name, value)
            with pytest.raises(SystemExit, match=named):
                module.create(settings_class())
    monkeypatch.setenv("VAFA_PG_PASSWORD", "a-real-one")
    monkeypatch.setenv("VAFA_AUTH_SIGNING_KEYS", "k1:" + "s" * 40)
    if service == "ingest":  # its own: the member lookup's key
        with pytest.raises(SystemExit, match="VAFA_INGEST_LOOKUP_KEY"):
            module.create(settings_class())
        monkeypatch.setenv("VAFA_INGEST_LOOKUP_KEY", "a-real-one")
    assert module.create(settings_class()).state.settings.env == "production"
