"""What `stack up`, `down` and `status` report, service by service."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stack.paths import KAFKA, PROMETHEUS, REDIS


@dataclass(frozen=True)
class ServiceStatus:
    """One service as `up`, `down` or `status` left it.

    ``action`` is what this call did or found, in words for the report: "started",
    "already running", "stopped", "not running", "external, reachable", ...
    ``pid`` is None for external services and for services that are not running.
    """

    name: str
    address: str
    external: bool
    running: bool
    pid: int | None
    action: str
    log: Path | None = None


@dataclass(frozen=True)
class StackReport:
    """What one `up`, `down` or `status` call did, service by service."""

    command: str
    services: tuple[ServiceStatus, ...]
    elapsed_s: float

    def service(self, name: str) -> ServiceStatus:
        for svc in self.services:
            if svc.name == name:
                return svc
        raise KeyError(name)

    @property
    def kafka(self) -> ServiceStatus:
        return self.service(KAFKA)

    @property
    def redis(self) -> ServiceStatus:
        return self.service(REDIS)

    @property
    def all_running(self) -> bool:
        return all(svc.running for svc in self.services)

    def render(self) -> str:
        """A short human report, one line per service."""
        lines = []
        for svc in self.services:
            state = "running" if svc.running else "stopped"
            where = "external" if svc.external else "local"
            pid = f"pid {svc.pid}" if svc.pid else "-"
            lines.append(
                f"{svc.name:<10} {state:<8} {pid:<11} {where:<9} {svc.address}  ({svc.action})"
            )
            if svc.log is not None and svc.running and not svc.external:
                lines.append(f"{'':<10} log: {svc.log}")
            if svc.name == PROMETHEUS and svc.running:
                lines.append(f"{'':<10} graphs: {svc.address}/graph  alerts: {svc.address}/alerts")
        lines.append(f"{self.command} took {self.elapsed_s:.1f} s")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()
