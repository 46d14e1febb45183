"""The fleet itself (:class:`Fleet`): the devices in listing order, their users, labels,
carriers and countries, the indexes that find them, and registration of new devices."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator

from epmm_async.enums import DeviceStatus, UserSource

from .device import SimDevice
from .generate import Minter, make_users, phone_key, random_devices
from .labels import SimLabel, default_labels, label_counts
from .records import SimCountry, SimOperator, SimProfile, SimUser
from .reference import BASE_EPOCH, COUNTRIES, OPERATORS

__all__ = ["Fleet"]


class Fleet:
    """The simulated server's data: devices (in listing order), users, labels, operators."""

    def __init__(self, devices: int = 1000, seed: int = 7) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.countries: list[SimCountry] = list(COUNTRIES)
        self.operators: list[SimOperator] = list(OPERATORS)
        self.labels: list[SimLabel] = default_labels()
        self.users: dict[str, SimUser] = {}
        self.devices: dict[str, SimDevice] = {}
        self._by_mac: dict[str, SimDevice] = {}
        self._by_phone: dict[str, list[SimDevice]] = {}
        self._by_user: dict[str, list[SimDevice]] = {}
        self._ids = Minter(self.rng)
        owners = make_users(self._ids, max(1, int(devices * 0.75)))
        self.users.update((user.principal, user) for user in owners)
        for device in random_devices(self._ids, devices, owners, self.operators):
            self._index(device)

    def _index(self, device: SimDevice) -> None:
        self.devices[device.uuid] = device
        self._by_mac[device.wifi_mac] = device
        if device.phone_number:
            self._by_phone.setdefault(phone_key(device.phone_number), []).append(device)
        self._by_user.setdefault(device.user.principal, []).append(device)

    # ---------------------------------------------------------------- registration
    def register(
        self,
        *,
        kind: str,
        platform: str,
        phone_number: str | None,
        user: SimUser,
        country: SimCountry,
        operator: SimOperator | None,
        employee_owned: bool,
    ) -> SimDevice:
        """Create a device in VERIFICATION_PENDING with empty details and append it."""
        ids = self._ids
        if phone_number:
            ids.claim_phone(phone_number)
        device = SimDevice(
            id=ids.take_id(),
            uuid=ids.uuid(),
            kind=kind,
            platform=platform,
            status=DeviceStatus.VERIFICATION_PENDING,
            phone_number=phone_number,
            wifi_mac=ids.mac(),
            user=user,
            country=country,
            operator=operator,
            manufacturer="",
            model="",
            seed=ids.rng.getrandbits(32),
            registered_at=int(time.time()),
            last_connected_at=int(time.time()),
        )
        device.employee_owned = employee_owned
        self.users.setdefault(user.principal, user)
        self._index(device)
        return device

    def new_user(self, principal: str, first: str, last: str, email: str, ldap: bool) -> SimUser:
        """Create (and remember) a user."""
        user = SimUser(
            principal,
            first,
            last,
            email,
            self._ids.uuid(),
            UserSource.LDAP if ldap else UserSource.LOCAL,
        )
        self.users[principal] = user
        return user

    # ---------------------------------------------------------------- lookups
    def by_mac(self, mac: str) -> SimDevice | None:
        """The device with Wi-Fi MAC ``mac`` (12 upper-case hex digits)."""
        return self._by_mac.get(mac)

    def by_phone(self, phone: str) -> list[SimDevice]:
        """Devices registered with ``phone`` (a leading ``+`` on either side is ignored)."""
        return list(self._by_phone.get(phone_key(phone), ()))

    def by_user(self, principal: str) -> list[SimDevice]:
        """Devices of user ``principal``."""
        return list(self._by_user.get(principal, ()))

    def label_named(self, name: str) -> SimLabel | None:
        """The label called ``name`` (case-insensitive)."""
        low = name.lower()
        for label in self.labels:
            if label.name.lower() == low:
                return label
        return None

    def label_by_id(self, label_id: int) -> SimLabel | None:
        """The label with id ``label_id``."""
        for label in self.labels:
            if label.id == label_id:
                return label
        return None

    # ---------------------------------------------------------------- label changes
    def create_label(
        self,
        name: str,
        description: str,
        *,
        static: bool,
        query: str = "",
        matcher: Callable[[SimDevice], bool] | None = None,
    ) -> SimLabel:
        """Add an admin label (the next positive id) at the end of :attr:`labels`."""
        next_id = max((lb.id for lb in self.labels if lb.id > 0), default=0) + 1
        label = SimLabel(next_id, name, description, static, query, False, matcher=matcher)
        self.labels.append(label)
        return label

    def delete_label(self, label: SimLabel) -> None:
        """Remove ``label`` and every device's membership of it."""
        self.labels[:] = [lb for lb in self.labels if lb.id != label.id]
        for device in self.devices.values():
            if label.id in device.labels:
                device.labels = tuple(i for i in device.labels if i != label.id)

    def set_member(self, label: SimLabel, device: SimDevice, member: bool) -> bool:
        """Put ``device`` in static ``label`` (or take it out); whether that changed it."""
        if (label.id in device.labels) == member:
            return False
        if member:
            device.labels = (*device.labels, label.id)
        else:
            device.labels = tuple(i for i in device.labels if i != label.id)
        return True

    def with_status(self, status: DeviceStatus) -> Iterator[SimDevice]:
        """Devices with ``status``, in fleet order."""
        return (d for d in self.devices.values() if d.status == status)

    def label_counts(self) -> dict[int, int]:
        """Number of devices in each label."""
        return label_counts(self.labels, self.devices.values())

    def profiles(self, device: SimDevice) -> list[SimProfile]:
        """The profiles applied to ``device`` (stable per device)."""
        base = BASE_EPOCH * 1000 - 86_400_000
        out = [
            SimProfile(
                -7,
                "misystem-default-docs-policy",
                "Default Docs@Work Policy",
                "DOCS",
                "POLICY",
                base + 739,
            ),
            SimProfile(
                -3,
                "misystem-default-security-policy",
                "Default Security Policy",
                "SECURITY",
                "POLICY",
                base + 5503,
            ),
            SimProfile(
                -2,
                "misystem-default-privacy-policy",
                "Default Privacy Policy",
                "PRIVACY",
                "POLICY",
                base + 731,
            ),
        ]
        if device.kind == "ios":
            out.append(SimProfile(-2, None, "System - iOS MDM", "MDM", "APP", base + 5501))
        out.append(
            SimProfile(
                3 + device.seed % 5,
                None,
                "Corporate Wi-Fi",
                "WIFI",
                "APP",
                base + device.seed % 100_000,
            )
        )
        return out
