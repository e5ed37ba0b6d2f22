"""Static tables that make entities look real: devices, secrets, groups, IdPs.

Faker supplies people and company names; these tables supply what Faker does
not know: which phone runs which OS version, what a Dell service tag looks
like, what a team calls its production database password.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

__all__ = [
    "DEVICE_KINDS",
    "GROUP_NAMES",
    "IDP_PROVIDERS",
    "SECRET_TEMPLATES",
    "DeviceKind",
    "SecretTemplate",
    "serial_for",
]

_UPPER_DIGITS = string.ascii_uppercase + string.digits
# Apple serials avoid letters that read like digits.
_APPLE = "CDFGHJKLMNPQRTVWXY0123456789"


@dataclass(frozen=True, slots=True)
class DeviceKind:
    """One kind of device: its schema type, models, OS name and versions, vendor serial shape."""

    type: str
    os_name: str
    models: tuple[str, ...]
    os_versions: tuple[str, ...]
    serial_shape: str
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
    "iphone": DeviceKind(
        "iphone", "iOS",
        ("iPhone 14", "iPhone 15", "iPhone 15 Pro", "iPhone 16", "iPhone 16 Pro", "iPhone 16 Pro Max",
         "iPhone SE (3rd generation)"),
        ("17.6.1", "17.7", "18.0.1", "18.1", "18.1.1", "18.2"),
        "apple", "{first}'s {model}", 1.0, 0.97, _APPLE_ENTITLEMENTS),
    "ipad": DeviceKind(
        "ipad", "iPadOS",
        ("iPad Air (M2)", "iPad Pro 11-inch (M4)", "iPad (10th generation)", "iPad mini (A17 Pro)"),
        ("17.6.1", "17.7", "18.1", "18.1.1"),
        "apple", "{first}'s {model}", 1.0, 0.95, _APPLE_ENTITLEMENTS),
    "mac": DeviceKind(
        "mac", "macOS",
        ("MacBook Pro (14-inch, M3)", "MacBook Pro (16-inch, M3 Max)", "MacBook Air (13-inch, M2)",
         "MacBook Air (15-inch, M3)", "Mac mini (M4)", "iMac (24-inch, M3)"),
        ("14.6.1", "14.7", "15.0.1", "15.1", "15.1.1"),
        "apple", "{first}'s {model_short}", 1.0, 0.93, _APPLE_ENTITLEMENTS[:2]),
    "android_phone": DeviceKind(
        "android_phone", "Android",
        ("Pixel 8", "Pixel 8 Pro", "Pixel 9", "Pixel 9 Pro", "Galaxy S24", "Galaxy S24 Ultra", "Galaxy A55"),
        ("14", "15"),
        "android", "{first}'s {model}", 1.0, 0.0, ()),
    "android_tablet": DeviceKind(
        "android_tablet", "Android",
        ("Galaxy Tab S9", "Galaxy Tab S9 FE", "Pixel Tablet"),
        ("14", "15"),
        "android", "{first}'s {model}", 1.0, 0.0, ()),
    "windows_pc": DeviceKind(
        "windows_pc", "Windows",
        ("Dell Latitude 7440", "Lenovo ThinkPad X1 Carbon Gen 12", "HP EliteBook 840 G10",
         "Microsoft Surface Laptop 6", "Dell XPS 13 9340"),
        ("11 23H2 (22631.4460)", "11 23H2 (22631.4602)", "11 24H2 (26100.2314)", "11 24H2 (26100.2454)"),
        "windows", "{FIRST}-LT{num}", 0.9, 0.0, ()),
    "linux_pc": DeviceKind(
        "linux_pc", "Linux",
        ("Framework Laptop 13", "Lenovo ThinkPad T14 Gen 4", "Dell XPS 13 Plus"),
        ("Ubuntu 24.04.1 LTS", "Fedora 41", "Debian 12.8", "Ubuntu 22.04.5 LTS"),
        "linux", "{first_lower}-{model_tag}", 0.7, 0.0, ()),
}

#: A user's usual devices: a phone first, then a computer, then a tablet; (type, weight).
PHONES = (("iphone", 0.68), ("android_phone", 0.32))
COMPUTERS = (("mac", 0.55), ("windows_pc", 0.35), ("linux_pc", 0.10))
TABLETS = (("ipad", 0.75), ("android_tablet", 0.25))


def serial_for(kind: DeviceKind, model: str, rng: random.Random) -> str:
    """A serial number in the vendor's shape (Apple, Pixel/Samsung, Dell/Lenovo/HP/Surface)."""
    shape = kind.serial_shape
    if shape == "apple":
        return "".join(rng.choices(_APPLE, k=rng.choice((10, 12))))
    if shape == "android":
        if model.startswith("Pixel"):
            return f"{rng.randint(1, 4)}{rng.randint(1000, 9999)}{''.join(rng.choices(string.ascii_uppercase, k=3))}" \
                   f"{rng.randint(1000, 9999)}{''.join(rng.choices(_UPPER_DIGITS, k=3))}"
        return "R" + str(rng.randint(3, 5)) + "C" + "".join(rng.choices(_UPPER_DIGITS, k=8))
    if shape == "windows":
        if model.startswith("Dell"):
            return "".join(rng.choices(_UPPER_DIGITS, k=7))
        if model.startswith("Lenovo"):
            return "PF" + "".join(rng.choices(_UPPER_DIGITS, k=6))
        if model.startswith("HP"):
            return "5CG" + str(rng.randint(3, 4)) + "".join(rng.choices(_UPPER_DIGITS, k=6))
        return "0" + "".join(rng.choices(string.digits, k=11))
    if model.startswith("Lenovo"):
        return "PF" + "".join(rng.choices(_UPPER_DIGITS, k=6))
    if model.startswith("Dell"):
        return "".join(rng.choices(_UPPER_DIGITS, k=7))
    return "FRA" + "".join(rng.choices(_UPPER_DIGITS, k=11))


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
