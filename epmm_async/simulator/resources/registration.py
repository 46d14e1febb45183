"""Registration: ``PUT /register``, a new device in VERIFICATION_PENDING."""

from __future__ import annotations

import random
import re

from aiohttp import web

from epmm_async.enums import DeviceStatus

from ..fleet import SimUser
from ..params import params, parse_bool
from ..replies import Bad, messages
from .base import Resource, Route

__all__ = ["Registration"]

_PHONE_RE = re.compile(r"\+?[0-9]{3,20}")
_PLATFORMS = {
    "A": ("android", "Android 14"),
    "I": ("ios", "iOS 17.4.1"),
    "E": ("windows", "Windows 10.0.22631"),
    "M": ("windows", "Windows Phone 8.1"),
    "L": ("macos", "macOS 14.4.1"),
}


class Registration(Resource):
    """``PUT /register`` (also with a trailing slash)."""

    def routes(self) -> list[Route]:
        """Registration."""
        return [
            Route("PUT", "/register", self.h_register),
            Route("PUT", "/register/", self.h_register),
        ]

    async def h_register(self, request: web.Request) -> web.Response:
        """PUT /register: create a device in VERIFICATION_PENDING."""
        try:
            return self._register(request, params(request))
        except Bad as err:
            return self.bad(request, err)

    def _register(self, request: web.Request, p: dict[str, str]) -> web.Response:
        state = self.state
        fleet = state.fleet
        errors: list[str] = []
        user_id = (p.get("userid") or "").strip()
        if not user_id:
            errors.append("userId is required.")
        letter = (p.get("platform") or "").strip().upper()
        if not letter:
            errors.append("platform is required.")
        elif letter not in _PLATFORMS:
            errors.append(f"Invalid platform: {p['platform']} (expected A, I, E, M or L).")
        dtype = (p.get("devicetype") or "Phone").strip().lower()
        if dtype not in ("phone", "pda"):
            errors.append(f"Invalid deviceType: {p['devicetype']} (expected Phone or PDA).")
        pda = dtype == "pda"
        phone = (p.get("phonenumber") or "").strip()
        if pda and phone.upper() in ("", "PDA"):
            phone = ""
        elif not phone:
            errors.append("phoneNumber is required for a Phone.")
        elif not _PHONE_RE.fullmatch(phone):
            errors.append(f"Invalid phoneNumber: {phone}")
        phone = phone.lstrip("+")
        code_raw = (p.get("countrycode") or "").strip()
        country = None
        if not code_raw:
            errors.append("countryCode is required.")
        else:
            country = next(
                (c for c in fleet.countries if str(c.code) == code_raw.lstrip("+")), None
            )
            if country is None:
                errors.append(f"Invalid countryCode: {code_raw}")
        employee = parse_bool(p.get("isemployeeowned"), "isEmployeeOwned", False)
        ldap = parse_bool(p.get("importuserfromldap"), "importUserFromLdap", False)
        parse_bool(p.get("notifyuser"), "notifyUser", False)
        parse_bool(p.get("notifyuserbysms"), "notifyuserbysms", False)
        user: SimUser | None = fleet.users.get(user_id) if user_id else None
        first = (p.get("userfirstname") or "").strip()
        last = (p.get("userlastname") or "").strip()
        email = (p.get("useremailaddress") or "").strip()
        if user_id and user is None and not ldap:
            for value, name in (
                (first, "userFirstName"),
                (last, "userLastName"),
                (email, "userEmailAddress"),
            ):
                if not value:
                    errors.append(f"{name} is required for a local user.")
        if phone and not errors and fleet.by_phone(phone):
            if any(d.status != DeviceStatus.RETIRED for d in fleet.by_phone(phone)):
                errors.append(f"Phone number {phone} is already registered.")
        if errors or country is None:
            raise Bad(400, *errors)
        if user is None:
            user = fleet.new_user(
                user_id,
                first or user_id,
                last or "LDAP",
                email or f"{user_id}@example.com",
                bool(ldap),
            )
        kind, platform = _PLATFORMS[letter]
        operator = None
        if phone:
            ops = [o for o in fleet.operators if o.country.id == country.id and o.enabled]
            wanted = (p.get("operator") or "").strip().lower()
            operator = next(
                (o for o in ops if o.short_name.lower() == wanted), ops[0] if ops else None
            )
        d = fleet.register(
            kind=kind,
            platform=platform,
            phone_number=phone or None,
            user=user,
            country=country,
            operator=operator,
            employee_owned=bool(employee),
        )
        rng = random.Random(f"{state.seed}:{d.uuid}:register")
        state.ledger.record(d.uuid, "REGISTER", "single", user.principal)
        status = "SUCESS" if state.quirks.misspelled_sucess else "SUCCESS"
        return self.reply(
            request,
            {
                "phoneNumber": phone or "PDA",
                "registration": {
                    "messages": messages(),
                    "deviceUuid": d.uuid,
                    "status": status,
                    "passcode": f"{rng.randrange(10000, 100000)}",
                    "passcodeTTL": 72,
                    "registrationUrl": f"{state.url}/v/{rng.getrandbits(20):05x}",
                },
            },
        )
