"""The provider registry: every provider comes from the ``hal_jupyter.providers``
entry-point group, the built-in ones included (as datasette does with plugins).

A provider that fails to import is still listed, unavailable, with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

from .contract import Availability, Provider, Settings
from .boundary import describe, provider_calls
from .errors import HalError, ProviderNotFound, ProviderUnavailable
from .models import ProviderInfo

GROUP = "hal_jupyter.providers"
log = logging.getLogger("hal_jupyter")


class Registry:
    """Loads providers on first use and applies the allowed/blocked filters."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        allowed: Iterable[str] | None = None,
        blocked: Iterable[str] = (),
        extra: dict[str, type[Provider]] | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self._allowed = set(allowed) if allowed else None
        self._blocked = set(blocked)
        self._points: dict[str, EntryPoint] = {ep.name: ep for ep in entry_points(group=GROUP)}
        self._classes: dict[str, type[Provider]] = dict(extra or {})
        self._broken: dict[str, str] = {}
        self._instances: dict[str, Provider] = {}

    def names(self) -> list[str]:
        found = set(self._points) | set(self._classes)
        return sorted(n for n in found if self._permitted(n))

    def _permitted(self, name: str) -> bool:
        return name not in self._blocked and (self._allowed is None or name in self._allowed)

    def _class(self, name: str) -> type[Provider] | None:
        if name in self._classes:
            return self._classes[name]
        if name in self._broken:
            return None
        try:
            cls = self._points[name].load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the server
            package = self._points[name].value.split(":")[0].split(".")[0]
            self._broken[name] = f"the provider failed to import ({type(exc).__name__}: {exc}); reinstall {package}"
            log.warning("hal_jupyter: provider %s unavailable: %s", name, self._broken[name])
            return None
        self._classes[name] = cls
        return cls

    def get(self, name: str) -> Provider:
        """The provider instance; :class:`ProviderNotFound` if unknown or filtered out."""
        if name in self._instances:
            return self._instances[name]
        if not self._permitted(name) or (name not in self._points and name not in self._classes):
            raise ProviderNotFound(f"unknown provider {name!r}; known providers: {', '.join(self.names())}")
        cls = self._class(name)
        if cls is None:
            raise ProviderUnavailable(f"provider {name!r} is unavailable: {self._broken[name]}")
        with provider_calls(name, "start"):
            instance = cls(self.settings)
        self._instances[name] = instance
        return instance

    def require(self, name: str) -> Provider:
        """The provider, ready for jobs: also :class:`ProviderUnavailable` (503)."""
        provider = self.get(name)
        availability = self.availability(provider)
        if not availability.available:
            raise ProviderUnavailable(f"provider {name!r} is unavailable: {availability.reason}")
        return provider

    def availability(self, provider: Provider) -> Availability:
        """The provider's availability; an availability check that raises (an SDK
        refusing its configuration) says the provider is unavailable, and why."""
        try:
            return provider.availability()
        except HalError as exc:
            return Availability(False, exc.message)
        except Exception as exc:  # noqa: BLE001 - a misconfigured SDK must not take the listing down
            return Availability(False, f"its configuration was refused: {describe(exc)}")

    def info(self) -> list[ProviderInfo]:
        """What ``GET /providers`` lists (blocking: availability may look at the SDK)."""
        out = []
        for name in self.names():
            try:
                provider = self.get(name)
            except HalError as exc:  # failed to import or to start: listed, unavailable, with the reason
                cls = self._classes.get(name)
                availability = Availability(False, exc.message)
                kind = getattr(cls, "kind", "quantum")
                description = getattr(cls, "description", "")
            else:
                availability = self.availability(provider)
                kind, description = provider.kind, provider.description
            out.append(
                ProviderInfo(
                    name=name,
                    kind=kind,
                    available=availability.available,
                    reason=availability.reason,
                    description=description,
                    status="available" if availability.available else "unavailable",
                )
            )
        return out

    def close(self) -> None:
        for provider in self._instances.values():
            try:
                provider.close()
            except Exception:  # noqa: BLE001
                log.exception("hal_jupyter: closing provider %s failed", provider.name)
