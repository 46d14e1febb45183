"""Thin typed API methods: build a request (core), send it (transport), decode (core)."""

from .bulk import BulkApi
from .catalog import CountriesApi, LabelsApi, OperatorsApi
from .devices import DeviceLike, DevicesApi

__all__ = ["BulkApi", "CountriesApi", "DeviceLike", "DevicesApi", "LabelsApi", "OperatorsApi"]
