"""The operator's entry point."""

from __future__ import annotations

from kopf._core.intents.causes import Activity

from modelyard.main import default_registry


def test_the_default_registry_can_log_in():
    # Found on the real control plane: with a plain OperatorRegistry, `modelyard operator` failed
    # at start with "Ran out of valid credentials" (no login handler at all).
    logins = default_registry()._activities.get_handlers(activity=Activity.AUTHENTICATION)
    assert [h.id for h in logins] == ["login_via_client"]
