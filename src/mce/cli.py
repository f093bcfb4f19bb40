"""The `mce` command: run the platform, one service, migrations or the demo seed."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mce.registry import BY_NAME, SERVICES

MIGRATED = ("product",)


def _serve(args: argparse.Namespace) -> int:
    """Run one service in this process with uvicorn."""
    import uvicorn

    from mce.kit.logs import configure_logging

    spec = BY_NAME[args.name]
    port = args.port or int(os.environ.get("MCE_PORT") or spec.local_port())
    host = args.host or os.environ.get("MCE_HOST", "127.0.0.1")
    configure_logging(spec.name, os.environ.get("MCE_LOG_LEVEL", "INFO"))
    uvicorn.run(
        spec.factory,
        factory=True,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    """Bring a service's database to the latest schema."""
    from mce.kit.db import migrate
    from mce.kit.settings import load_settings
    from mce.services.product.settings import ProductSettings
    from mce.services.product.store.tables import MIGRATIONS

    settings = load_settings(ProductSettings)
    migrate(settings.resolved_database_url(), MIGRATIONS)
    print(f"migrated {args.name}")
    return 0


def _seed(args: argparse.Namespace) -> int:
    """Load the demo catalog into an empty product database."""
    from mce.kit.settings import load_settings
    from mce.services.product.seed import seed_demo_catalog
    from mce.services.product.settings import ProductSettings

    added = seed_demo_catalog(load_settings(ProductSettings), count=args.count, force=args.force)
    print(f"seeded {added} products" if added else "catalog not empty; nothing seeded (use --force to add anyway)")
    return 0


def _up(args: argparse.Namespace) -> int:
    """Start every service, wait until ready, print where they are, and supervise them."""
    from mce.supervisor import run_platform

    return run_platform(data_dir=Path(os.environ.get("MCE_DATA_DIR", ".mce")), seed_count=args.seed)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mce", description="mce e-commerce platform")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="run every service on embedded backends")
    up.add_argument(
        "--seed",
        type=int,
        default=int(os.environ.get("MCE_SEED_PRODUCTS", "1200")),
        help="products in the demo catalog on first start (MCE_SEED_PRODUCTS)",
    )
    up.set_defaults(run=_up)

    serve = commands.add_parser("serve", help="run one service")
    serve.add_argument("name", choices=[s.name for s in SERVICES])
    serve.add_argument("--port", type=int, help="default: MCE_PORT, else MCE_<NAME>_PORT, else the service's own")
    serve.add_argument("--host", help="default: MCE_HOST, else 127.0.0.1")
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("name", choices=MIGRATED)
    migrate.set_defaults(run=_migrate)

    seed = commands.add_parser("seed", help="load the demo catalog")
    seed.add_argument("--count", type=int, default=int(os.environ.get("MCE_SEED_PRODUCTS", "1200")))
    seed.add_argument("--force", action="store_true", help="add products even if the catalog has some")
    seed.set_defaults(run=_seed)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `mce` console script."""
    args = _parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
