"""Static tables that make entities look real: devices, secrets, groups, IdPs.

Faker supplies people and company names; these tables supply what Faker does
not know: how people name their devices, what a team calls its production
database password. Which devices exist, and which OS they run, is in ``_hardware.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DEVICE_KINDS",
    "GROUP_NAMES",
    "IDP_PROVIDERS",
    "OFFICES",
    "SECRET_TEMPLATES",
    "DeviceKind",
    "SecretTemplate",
]



@dataclass(frozen=True, slots=True)
class DeviceKind:
    """One kind of device: its schema type, how people name it, what it has (models, OS versions
    and serials come from :mod:`~simulator.model._hardware`)."""

    type: str
    name_pattern: str
    bluetooth: float
    apns: float
    entitlements: tuple[str, ...]


_APPLE_ENTITLEMENTS = (
    "com.apple.developer.associated-domains",
    "keychain-access-groups",
    "com.apple.developer.authentication-services.autofill-credential-provider",
)

#: Device kinds by schema ``device_type``.
DEVICE_KINDS: dict[str, DeviceKind] = {
    "iphone": DeviceKind("iphone", "{first}'s {model}", 1.0, 0.97, _APPLE_ENTITLEMENTS),
    "ipad": DeviceKind("ipad", "{first}'s {model}", 1.0, 0.95, _APPLE_ENTITLEMENTS),
    "mac": DeviceKind("mac", "{first}'s {model_short}", 1.0, 0.93, _APPLE_ENTITLEMENTS[:2]),
    "android_phone": DeviceKind("android_phone", "{first}'s {model}", 1.0, 0.0, ()),
    "android_tablet": DeviceKind("android_tablet", "{first}'s {model}", 1.0, 0.0, ()),
    "windows_pc": DeviceKind("windows_pc", "{FIRST}-LT{num}", 0.9, 0.0, ()),
    "linux_pc": DeviceKind("linux_pc", "{first_lower}-{model_tag}", 0.7, 0.0, ()),
    # An extension has no radio of its own and no push; it names the browser it runs in.
    "browser_extension": DeviceKind("browser_extension", "{first}'s {model} ({os})", 0.0, 0.0, ()),
}

#: A user's usual devices: a phone first, then a computer (or only the browser extension),
#: then a tablet; (type, weight).
PHONES = (("iphone", 0.68), ("android_phone", 0.32))
COMPUTERS = (("mac", 0.48), ("windows_pc", 0.3), ("linux_pc", 0.08), ("browser_extension", 0.14))
TABLETS = (("ipad", 0.75), ("android_tablet", 0.25))


@dataclass(frozen=True, slots=True)
class SecretTemplate:
    """What a secret is called and where it is used: name, kind, folder, tags, origin."""

    name: str
    kind: str
    folder: str
    tags: tuple[str, ...]
    origin: str


def _s(name: str, kind: str, folder: str, tags: str, origin: str) -> SecretTemplate:
    return SecretTemplate(name, kind, folder, tuple(tags.split()), origin)


#: Secrets a company keeps, by the names people give them.
SECRET_TEMPLATES: tuple[SecretTemplate, ...] = (
    _s("GitHub deploy key", "ssh_key", "Engineering", "github ci", "ssh://github.com"),
    _s("Prod Postgres", "database_credential", "Infrastructure", "db prod", "postgres://db.internal"),
    _s("Staging Postgres", "database_credential", "Infrastructure", "db staging", "postgres://db-staging.internal"),
    _s("AWS production root", "api_key", "Infrastructure", "aws prod", "https://console.aws.amazon.com"),
    _s("AWS staging access key", "api_key", "Infrastructure", "aws staging", "https://console.aws.amazon.com"),
    _s("Stripe live API key", "api_key", "Payments", "stripe prod", "https://dashboard.stripe.com"),
    _s("Datadog API key", "api_key", "Observability", "datadog", "https://app.datadoghq.com"),
    _s("PagerDuty integration key", "api_key", "Observability", "oncall", "https://app.pagerduty.com"),
    _s("Okta admin", "password", "IT", "okta admin", "https://login.okta.com"),
    _s("Google Workspace admin", "passkey", "IT", "google admin", "https://admin.google.com"),
    _s("GitHub passkey", "passkey", "Engineering", "github", "https://github.com"),
    _s("GitHub 2FA", "totp", "Engineering", "github 2fa", "https://github.com"),
    _s("Slack workspace owner", "password", "IT", "slack", "https://app.slack.com"),
    _s("Jenkins service account", "password", "Engineering", "ci", "https://ci.internal"),
    _s("Kubernetes cluster admin", "certificate", "Infrastructure", "k8s prod", "https://k8s.internal"),
    _s("VPN client certificate", "certificate", "IT", "vpn", "com.cisco.anyconnect"),
    _s("Office wifi", "password", "IT", "wifi office", "wifi:office"),
    _s("Corporate Amex", "credit_card", "Finance", "card travel", "https://www.americanexpress.com"),
    _s("Payroll portal", "password", "Finance", "payroll", "https://app.gusto.com"),
    _s("Salesforce admin", "password", "Sales", "crm", "https://login.salesforce.com"),
    _s("Domain registrar", "password", "IT", "dns", "https://dash.cloudflare.com"),
    _s("Root CA recovery codes", "secure_note", "Security", "pki recovery", "app:secretchest"),
    _s("Break-glass procedure", "secure_note", "Security", "incident", "app:secretchest"),
    _s("Snowflake analytics", "database_credential", "Data", "warehouse", "https://app.snowflake.com"),
    _s("Terraform Cloud token", "api_key", "Infrastructure", "iac", "https://app.terraform.io"),
    _s("npm publish token", "api_key", "Engineering", "npm release", "https://www.npmjs.com"),
    _s("Apple Developer account", "passkey", "Mobile", "apple release", "https://developer.apple.com"),
    _s("Google Play console", "password", "Mobile", "android release", "https://play.google.com"),
    _s("Bastion SSH key", "ssh_key", "Infrastructure", "ssh prod", "ssh://bastion.internal"),
    _s("Figma team owner", "password", "Design", "figma", "https://www.figma.com"),
)

#: Where a company's offices are, by Faker locale (IANA time zones); a tenant's main office is one
#: of its locale's, and some tenants have a second office elsewhere.
OFFICES: dict[str, tuple[str, ...]] = {
    "en_US": ("America/New_York", "America/Chicago", "America/Los_Angeles", "America/Denver"),
    "en_GB": ("Europe/London",), "en_CA": ("America/Toronto", "America/Vancouver"),
    "en_AU": ("Australia/Sydney", "Australia/Melbourne"), "en_IN": ("Asia/Kolkata",),
    "de_DE": ("Europe/Berlin",), "de_AT": ("Europe/Vienna",), "de_CH": ("Europe/Zurich",),
    "fr_FR": ("Europe/Paris",), "es_ES": ("Europe/Madrid",), "it_IT": ("Europe/Rome",),
    "nl_NL": ("Europe/Amsterdam",), "pl_PL": ("Europe/Warsaw",), "sv_SE": ("Europe/Stockholm",),
    "ru_RU": ("Europe/Moscow",), "ja_JP": ("Asia/Tokyo",), "zh_CN": ("Asia/Shanghai",),
    "ko_KR": ("Asia/Seoul",), "pt_BR": ("America/Sao_Paulo",), "es_MX": ("America/Mexico_City",),
}
#: Second offices, anywhere.
REMOTE_OFFICES = ("Europe/London", "America/New_York", "America/Los_Angeles", "Europe/Berlin",
                  "Asia/Singapore", "Asia/Kolkata")

#: Teams, with what they are for; a tenant uses the first N.
GROUP_NAMES: tuple[tuple[str, str], ...] = (
    ("Platform Engineering", "On-call and infrastructure owners"),
    ("Security", "Security engineering and incident response"),
    ("IT Admins", "Identity, devices and SaaS administration"),
    ("Finance", "Accounting, payroll and corporate cards"),
    ("Mobile", "iOS and Android release owners"),
    ("Data", "Warehouse and analytics"),
    ("SRE", "Production reliability"),
    ("Customer Support", "Support tooling accounts"),
    ("Sales Ops", "CRM and sales tooling"),
    ("Design", "Design tools"),
    ("Backend", "API and services"),
    ("Frontend", "Web application"),
    ("QA", "Test environments and accounts"),
    ("Leadership", "Executive break-glass access"),
    ("Contractors", "Time-limited access for contractors"),
)

#: IdP providers with their protocol and URL shapes ({sub} = tenant slug, {app} = app id).
IDP_PROVIDERS: dict[str, tuple[str, str, str]] = {
    "okta": ("saml", "https://{sub}.okta.com/app/secretchest/{app}/sso/saml", "http://www.okta.com/{app}"),
    "entra_id": ("saml", "https://login.microsoftonline.com/{tid}/saml2", "https://sts.windows.net/{tid}/"),
    "google_workspace": ("saml", "https://accounts.google.com/o/saml2/idp?idpid={app}",
                         "https://accounts.google.com/o/saml2?idpid={app}"),
    "onelogin": ("oidc", "https://{sub}.onelogin.com/oidc/2/auth", "https://{sub}.onelogin.com/oidc/2"),
    "jumpcloud": ("saml", "https://sso.jumpcloud.com/saml2/secretchest-{sub}", "JumpCloud"),
}
