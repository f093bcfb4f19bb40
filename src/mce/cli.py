"""The `mce` command: run the platform, one service, migrations or the demo seed.

A bad setting stops any command with one line on stderr, `mce: <variable>: <what it may be>`, and exit status 2,
before anything is written.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mce import registry
from mce.kit.settings import ENV_PREFIX, SettingsError, load_settings

EXIT_BAD_SETTING = 2
# With --rate 0 (as fast as possible) event times still advance, this many events per second of event time.
DEFAULT_EVENT_RATE = 100.0


class CommandSettings(BaseSettings):
    """Settings of the `mce` command itself, from MCE_ variables."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)


class SeedSettings(CommandSettings):
    """How big a demo catalog `mce up` and `mce seed` make."""

    seed_products: int = Field(default=1200, ge=0, le=1_000_000)
    # Each seeded product gets a drawn photo, uploaded as an admin's is (false: none, for a quicker first start).
    seed_pictures: bool = True


class UpSettings(SeedSettings):
    """What `mce up` reads besides the services' own settings."""

    data_dir: Path = Path(".mce")
    env: Literal["local"] = "local"
    # A service whose /healthz has not answered 200 for this long is killed and started again.
    freeze_timeout_s: float = Field(default=20.0, ge=5, le=3600)

    @field_validator("env", mode="before")
    @classmethod
    def _local_only(cls, value: object) -> object:
        if value != "local":
            raise ValueError("`mce up` runs the platform on one machine on embedded backends; must be local")
        return value


class ServeSettings(CommandSettings):
    """What `mce serve NAME` reads besides the service's own settings."""

    port: int | None = Field(default=None, ge=1, le=65535)
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed: the load balancer's addresses. Empty trusts
    # none, so no client can pose as another (and dodge per-client limits) by sending the header itself.
    forwarded_allow_ips: str = ""

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses(cls, value: str) -> str:
        items = [item.strip() for item in value.split(",") if item.strip()]
        for item in items:
            if item == "*":
                continue
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    "must be IP addresses or networks separated by commas (e.g. 10.0.0.0/8,192.168.1.5), "
                    "* for any, or empty for none"
                ) from None
        return ",".join(items)


def _serve(args: argparse.Namespace) -> int:
    """Run one service in this process with uvicorn, its app built here so a bad setting stops it cleanly."""
    import uvicorn

    from mce.kit.heap import freeze_start_up_heap
    from mce.kit.logs import configure_logging

    spec = registry.BY_NAME[args.name]
    serve = load_settings(ServeSettings)
    settings = load_settings(spec.settings_class(), **({"host": args.host} if args.host else {}))
    port = args.port or serve.port or spec.local_port()
    configure_logging(spec.name, settings.log_level)
    app = spec.app_factory()(settings)
    trusted = serve.forwarded_allow_ips
    # Everything imported and built so far lives as long as the process: the collector need never walk it again.
    freeze_start_up_heap()
    uvicorn.run(
        app,
        host=settings.host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        timeout_graceful_shutdown=5,
    )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    """Bring a service's database to its newest schema."""
    spec = registry.BY_NAME[args.name]
    settings = load_settings(spec.settings_class())
    migrations = spec.load_migrations()
    url = settings.resolved_url()
    if migrations.is_current(url):
        print(f"{spec.name}: the database has the newest schema already")
        return 0
    migrations.apply(url)
    print(f"migrated {spec.name}")
    return 0


def _seed(args: argparse.Namespace) -> int:
    """Load the demo catalog into an empty product database."""
    from mce.services.product.seed import seed_demo_catalog

    count = load_settings(SeedSettings, **_given(seed_products=args.count)).seed_products
    settings = load_settings(registry.BY_NAME["product"].settings_class())
    added = seed_demo_catalog(settings, count=count, force=args.force)
    print(f"seeded {added} products" if added else "catalog not empty; nothing seeded (use --force to add anyway)")
    return 0


def _produce_events(args: argparse.Namespace) -> int:
    """Publish exactly --count synthetic activity events on the configured bus; print how fast they went."""
    import asyncio
    import contextlib
    import logging
    import time

    from mce.kit.bus.factory import build_bus
    from mce.kit.http import ServiceClient
    from mce.services.events_producer.catalog import read_catalog
    from mce.services.events_producer.domain import FALLBACK_CATALOG, ShopperSimulator, parse_mix
    from mce.services.events_producer.runner import produce_count
    from mce.services.events_producer.settings import ProducerSettings

    logging.basicConfig(level=logging.WARNING, format="mce: %(message)s")
    settings = load_settings(
        ProducerSettings,
        **_given(
            producer_users=args.users,
            producer_mix=args.mix,
            producer_out_of_order_fraction=args.out_of_order_fraction,
            producer_max_skew_s=args.max_skew_s,
            producer_late_fraction=args.late_fraction,
            producer_lateness_s=args.lateness_s,
        ),
    )
    if args.count < 0 or args.rate < 0 or (args.event_rate is not None and args.event_rate <= 0):
        raise SettingsError("--count and --rate must be 0 or more, --event-rate above 0")

    async def catalog():  # noqa: ANN202 - a Catalog
        client = ServiceClient("product", settings.product_url, timeout=settings.http_timeout)
        try:
            return await read_catalog(client)
        finally:
            await client.aclose()

    simulator = ShopperSimulator(
        seed=args.seed,
        users=settings.producer_users,
        mix=parse_mix(settings.producer_mix),
        disorder=settings.disorder(),
        catalog=FALLBACK_CATALOG if args.no_catalog else asyncio.run(catalog()),
    )
    start_s = args.start if args.start is not None else int(time.time())
    event_rate = args.event_rate or args.rate or DEFAULT_EVENT_RATE
    bus = build_bus(settings)
    with contextlib.ExitStack() as stack:
        stack.callback(bus.close)
        out = stack.enter_context(open(args.out, "wb")) if args.out else None  # noqa: SIM115 - closed by the stack
        report = produce_count(
            bus,
            settings.user_events_topic,
            simulator,
            count=args.count,
            start_s=start_s,
            event_rate=event_rate,
            rate=args.rate,
            out=out,
        )
    print(
        f"published {report.published} events to {settings.user_events_topic!r} in {report.seconds:.3f} s: "
        f"{report.rate:,.0f} events/s (seed {args.seed}, start {start_s}"
        f"{', catalog fallback' if simulator.catalog.fallback else ''})"
    )
    return 0


def _up(args: argparse.Namespace) -> int:
    """Start every service, wait until ready, print where they are, and supervise them."""
    from mce.supervisor import run_platform

    up = load_settings(UpSettings, **_given(seed_products=args.seed))
    # Every child runs `mce serve`: what would stop one stops `mce up` first, before anything is written.
    load_settings(ServeSettings)
    return run_platform(
        data_dir=up.data_dir,
        seed_count=up.seed_products,
        seed_pictures=up.seed_pictures,
        freeze_timeout_s=up.freeze_timeout_s,
    )


def _given(**options: object) -> dict[str, object]:
    """Command-line options that were given, to override the settings of the same name."""
    return {name: value for name, value in options.items() if value is not None}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mce", description="mce e-commerce platform")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="run every service on embedded backends")
    up.add_argument("--seed", type=int, help="products in the demo catalog on first start (MCE_SEED_PRODUCTS, 1200)")
    up.set_defaults(run=_up)

    serve = commands.add_parser("serve", help="run one service")
    serve.add_argument("name", choices=list(registry.BY_NAME))
    serve.add_argument("--port", type=int, help="default: MCE_PORT, else MCE_<NAME>_PORT, else the service's own")
    serve.add_argument("--host", help="default: MCE_HOST, else 127.0.0.1")
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="bring a service's database to its newest schema")
    migrate.add_argument("name", choices=[s.name for s in registry.SERVICES if s.migrations])
    migrate.set_defaults(run=_migrate)

    seed = commands.add_parser("seed", help="load the demo catalog")
    seed.add_argument("--count", type=int, help="products to add (MCE_SEED_PRODUCTS, 1200)")
    seed.add_argument("--force", action="store_true", help="add products even if the catalog has some")
    seed.set_defaults(run=_seed)

    produce = commands.add_parser(
        "produce-events", help="publish N synthetic shopper activity events on the configured bus (MCE_BUS)"
    )
    produce.add_argument("--count", type=int, required=True, help="events to publish, exactly")
    produce.add_argument("--seed", type=int, default=1, help="the same seed and start make the same events (1)")
    produce.add_argument("--users", type=int, help="synthetic shoppers (MCE_PRODUCER_USERS, 50)")
    produce.add_argument("--rate", type=float, default=0.0, help="events per second (0: as fast as it goes)")
    produce.add_argument("--mix", help="weights by event type, e.g. view_product=70,search=30 (MCE_PRODUCER_MIX)")
    produce.add_argument("--start", type=int, help="event time of the first event, in epoch seconds (default: now)")
    produce.add_argument(
        "--event-rate",
        type=float,
        help=f"events per second of event time (default: --rate, or {DEFAULT_EVENT_RATE} with --rate 0)",
    )
    produce.add_argument("--out-of-order-fraction", type=float, help="share moved back 1..--max-skew-s seconds (0)")
    produce.add_argument("--max-skew-s", type=int, help="the most an out-of-order event is moved back (4)")
    produce.add_argument("--late-fraction", type=float, help="share moved back by --lateness-s (0)")
    produce.add_argument("--lateness-s", type=int, help="how far back late events are, in seconds (120)")
    produce.add_argument("--out", help="also write each published event, as JSON lines, to this file")
    produce.add_argument("--no-catalog", action="store_true", help="do not read the catalog; use product ids 1..100")
    produce.set_defaults(run=_produce_events)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `mce` console script."""
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except SettingsError as exc:
        print(f"mce: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_BAD_SETTING
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
