"""A simulated fleet of Pulp installations, for the demo, the benchmarks and the tests.

The fleet looks like the real one: every system runs pulpcore and a few plugins whose versions
come out in waves and are adopted with a lag, a share of throw-away CI systems report once, a
few run development versions, systems stop reporting, and some still send the old
``Telemetry`` layout. Everything is decided by a seeded random generator, so a seed gives the
same fleet every time.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from receiver.analytics_pb2 import Analytics

# plugin: (share of systems that install it, first X.Y, days between X.Y releases)
PLUGINS: dict[str, tuple[float, tuple[int, int], int]] = {
    "core": (1.0, (3, 40), 45),
    "file": (0.75, (3, 40), 45),
    "rpm": (0.5, (3, 25), 60),
    "container": (0.4, (2, 18), 60),
    "ansible": (0.25, (0, 20), 75),
    "certguard": (0.2, (3, 40), 45),
    "deb": (0.15, (3, 2), 90),
    "python": (0.2, (3, 11), 90),
    "gem": (0.05, (0, 5), 120),
    "maven": (0.03, (0, 8), 120),
    "ostree": (0.05, (2, 3), 120),
}
PATCH_EVERY_DAYS = 10
POSTGRESQL = (
    (0, 3),
    (120015, 5),
    (130004, 25),
    (130014, 15),
    (140005, 20),
    (150002, 20),
    (160001, 12),
)
CI_SHARE = 0.15  # new systems per day, as a share of the fleet, that report once and vanish
DEV_SHARE = 0.03  # systems running a development build
TELEMETRY_SHARE = 0.08  # systems on pulpcore 3.18-3.21 sending the old layout
QUIT_RATE = 0.004  # chance per day that a system stops reporting for good


HISTORY_DAYS = 730  # releases began this long before the simulation's first day


def release(plugin: str, day_index: int) -> tuple[int, int, int]:
    """The newest (X, Y, Z) of ``plugin`` on a day of the simulation (day 0 is its first day).

    The first X.Y of ``PLUGINS`` came out ``HISTORY_DAYS`` before day 0, so on day 0 a system
    that lags behind finds older releases to run.
    """
    _, (x, y), every = PLUGINS[plugin]
    age = max(0, day_index + HISTORY_DAYS)
    return x, y + age // every, (age % every) // PATCH_EVERY_DAYS


@dataclass
class System:
    system_id: str
    plugins: tuple[str, ...]
    lag_days: int  # how far behind the newest release this system upgrades to
    postgresql: int
    telemetry: bool
    dev: bool
    workers: tuple[int, int]
    content_apps: tuple[int, int]
    rbac: tuple[int, int, int, int, int]
    joined: int  # day index of its first report
    once: bool = False  # a CI system: reports on the day it joined, then never again
    pinned: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    def versions(self, day_index: int) -> list[tuple[str, str]]:
        out = []
        for plugin in self.plugins:
            x, y, z = release(plugin, day_index - self.lag_days)
            if self.telemetry and plugin == "core":
                x, y = 3, min(y, 21)  # old clients are stuck on pulpcore 3.18-3.21
            version = f"{x}.{y}.{z}"
            if self.dev and plugin == "core":
                version = f"{x}.{y + 1}.0.dev"
            out.append((plugin, version))
        return out

    def message(self, day_index: int) -> bytes:
        msg = Analytics(system_id=self.system_id)
        for name, version in self.versions(day_index):
            msg.components.add(name=name, version=version)
        msg.online_workers.processes, msg.online_workers.hosts = self.workers
        msg.online_content_apps.processes, msg.online_content_apps.hosts = self.content_apps
        if not self.telemetry:
            msg.postgresql_version = self.postgresql
            users, groups, domains, policies, roles = self.rbac
            msg.rbac_stats.users = users
            msg.rbac_stats.groups = groups
            msg.rbac_stats.domains = domains
            msg.rbac_stats.custom_access_policies = policies
            msg.rbac_stats.custom_roles = roles
        return msg.SerializeToString()


class Fleet:
    """Systems that join, report daily, upgrade and leave, day by day.

    With ``joining_days`` the long-lived systems start reporting on staggered days, spread
    evenly over the first ``joining_days`` days, as installations do when a receiver opens and
    they upgrade to a pulpcore that reports; otherwise all of them report from day 0 (and are
    treated as having run for a while before it). Systems that stop reporting are replaced by
    new ones, so the fleet grows to ``systems`` and stays there.
    """

    def __init__(self, systems: int, seed: int = 0, joining_days: int = 0) -> None:
        self.rng = random.Random(seed)
        self.size = systems
        self.active: list[System] = []
        self.waiting: list[int] = []  # first days, ascending, of systems yet to report
        if joining_days > 1:
            self.waiting = sorted(self.rng.randrange(joining_days) for _ in range(systems))
        else:
            self.active = [
                self._new_system(joined=-self.rng.randint(1, 400)) for _ in range(systems)
            ]

    def _new_system(self, joined: int, once: bool = False) -> System:
        rng = self.rng
        plugins = tuple(p for p, (share, _, _) in PLUGINS.items() if rng.random() < share)
        workers = rng.choice((1, 1, 2, 2, 2, 4, 4, 8, 16))
        hosts = max(1, min(workers, rng.choice((1, 1, 1, 2, 2, 3, 4))))
        return System(
            system_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            plugins=plugins,
            lag_days=int(rng.expovariate(1 / 120)),
            postgresql=rng.choices([v for v, _ in POSTGRESQL], [w for _, w in POSTGRESQL])[0],
            telemetry=rng.random() < TELEMETRY_SHARE,
            dev=rng.random() < DEV_SHARE,
            workers=(workers, hosts),
            content_apps=(max(1, workers // 2), hosts),
            rbac=(
                int(rng.lognormvariate(1.2, 1.1)),
                int(rng.expovariate(0.5)),
                rng.choice((0, 0, 0, 0, 1, 2, 5)),
                rng.choice((0, 0, 0, 1)),
                int(rng.expovariate(1.0)),
            ),
            joined=joined,
            once=once,
        )

    def day(self, day_index: int) -> Iterator[tuple[System, bytes]]:
        """Each system reporting on a day, with its message; then the fleet moves on a day."""
        while self.waiting and self.waiting[0] <= day_index:
            self.waiting.pop(0)
            self.active.append(self._new_system(day_index))
        ci = [
            self._new_system(day_index, once=True)
            for _ in range(int(len(self.active) * CI_SHARE * self.rng.uniform(0.5, 1.5)))
        ]
        for system in self.active + ci:
            yield system, system.message(day_index)
        self.active = [s for s in self.active if self.rng.random() >= QUIT_RATE]
        joining = self.size - len(self.waiting) - len(self.active)
        self.active += [self._new_system(day_index + 1) for _ in range(joining)]


def days_back(today: date, days: int) -> list[date]:
    """The ``days`` calendar days ending with ``today``, oldest first."""
    return [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
