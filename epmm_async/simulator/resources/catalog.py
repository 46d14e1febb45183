"""The catalog: ``GET /labels``, ``/operators`` and ``/countries``."""

from __future__ import annotations

from aiohttp import web

from ..fleet import SimLabel
from ..replies import messages
from ..wire import Tree
from .base import Resource, Route

__all__ = ["Catalog"]


def _label_tree(label: SimLabel, count: int) -> Tree:
    return {
        "@id": label.id,
        "name": label.name,
        "description": label.description,
        "staticLabel": label.static,
        "query": label.query or None,
        "deviceCount": count,
        "isESSearch": 116 if label.es_search else 102,
    }


class Catalog(Resource):
    """The lists of labels, carriers and countries."""

    def routes(self) -> list[Route]:
        """The catalog's lists."""
        return [
            Route("GET", "/labels", self.h_labels),
            Route("GET", "/operators", self.h_operators),
            Route("GET", "/countries", self.h_countries),
        ]

    def _listing(
        self,
        request: web.Request,
        rows: list[Tree],
        noun: str,
        element: tuple[str, str],
        empty: str | None = None,
    ) -> web.Response:
        """``rows`` as ``{plural: {singular: rows}}`` after "N ``noun`` returned"; when there
        are none and ``empty`` is given, the empty answer with that message."""
        plural, singular = element
        tree: Tree = {
            "messages": messages(f"{len(rows)} {noun} returned"),
            plural: {singular: rows},
        }
        if not rows and empty is not None:
            return self.empty(request, tree, empty)
        return self.reply(request, tree)

    async def h_labels(self, request: web.Request) -> web.Response:
        """GET /labels."""
        fleet = self.state.fleet
        counts = fleet.label_counts()
        labels = [_label_tree(lb, counts[lb.id]) for lb in fleet.labels]
        return self._listing(request, labels, "Label (s)", ("labels", "label"), "No labels found.")

    async def h_operators(self, request: web.Request) -> web.Response:
        """GET /operators."""
        ops: list[Tree] = [
            {
                "carrierShortName": op.short_name,
                "carrierType": op.carrier_type,
                "countryCode": op.country.code,
                "countryId": op.country.id,
                "countryName": op.country.name,
                "enabled": op.enabled,
                "id": op.id,
            }
            for op in self.state.fleet.operators
        ]
        return self._listing(request, ops, "Operator (s)", ("operators", "operator"))

    async def h_countries(self, request: web.Request) -> web.Response:
        """GET /countries."""
        countries: list[Tree] = [
            {
                "countryName": c.name,
                "countryCode": c.code,
                "isoAlpha2Code": c.iso,
                "enabledForRegistration": 116 if c.enabled else 102,
                "countryId": c.id,
            }
            for c in self.state.fleet.countries
        ]
        return self._listing(request, countries, "Countries", ("countries", "country"))
