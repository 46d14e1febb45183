"""Labels, operators and countries: the server's reference lists."""

from __future__ import annotations

from ..core import decode, requests
from ..models import Country, Label, Operator
from ..sender import Sender

__all__ = ["CountriesApi", "LabelsApi", "OperatorsApi"]


class LabelsApi:
    """``epmm.labels``: all labels, default (negative ids) and custom."""

    def __init__(self, sender: Sender) -> None:
        """Bind to the client's sender."""
        self._sender = sender

    async def list(self) -> list[Label]:
        """Every label, whether or not in use (empty list when the server has none)."""
        resp = await self._sender.send(requests.labels())
        if resp.no_data is not None:
            return []
        return decode.decode_labels(resp.body, resp.format)


class OperatorsApi:
    """``epmm.operators``: the operators known to the server."""

    def __init__(self, sender: Sender) -> None:
        """Bind to the client's sender."""
        self._sender = sender

    async def list(self) -> list[Operator]:
        """Every operator, enabled or not."""
        resp = await self._sender.send(requests.operators())
        if resp.no_data is not None:
            return []
        return decode.decode_operators(resp.body, resp.format)


class CountriesApi:
    """``epmm.countries``: the countries known to the server."""

    def __init__(self, sender: Sender) -> None:
        """Bind to the client's sender."""
        self._sender = sender

    async def list(self) -> list[Country]:
        """Every country, enabled for registration or not."""
        resp = await self._sender.send(requests.countries())
        if resp.no_data is not None:
            return []
        return decode.decode_countries(resp.body, resp.format)
