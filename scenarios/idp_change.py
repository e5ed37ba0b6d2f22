"""IdP change: administrators change identity provider settings (rare, so each one matters).

An episode rotates the SAML signing certificate, toggles SSO enforcement,
and now and then migrates to another identity provider; each change sends
idp.settings_updated with the settings before and after and the changed fields.
"""

DEFAULTS = {"users": 4}


def run(t):
    admin = t.admin
    t.update_idp(by=admin)
    t.wait("2h")
    t.update_idp(by=admin, enforce_sso=not t.idp["enforce_sso"])
    if t.rng.random() < 0.3:
        t.wait("1d")
        new_provider = "entra_id" if t.idp["provider"] != "entra_id" else "okta"
        t.update_idp(by=admin, provider=new_provider)
