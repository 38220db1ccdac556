"""`neon-checkpoints ui`: serve the timeline page on loopback with the user's own kubeconfig.

The page holds no credentials: every Kubernetes call is made here with the kubeconfig's user, so the page can
do exactly what `kubectl` could; the meta database URL is read as for `neon-checkpoints timeline`. With the
user's Neon API key (as for `diff --data`: --neon-api-key-file or $NEON_API_KEY) this process also runs data
diffs; the key stays here. It prints its URL and opens nothing (no browser is started).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

from neon_checkpoints.cli import neon_key
from neon_checkpoints.ui import csrf

if TYPE_CHECKING:
    from neon_checkpoints.runtime.kube import Kube

DEFAULT_PORT = 8765


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ui",
        help="serve a local web page of each app's checkpoint timeline, with preview, restore and undo",
        description="Serve a page on 127.0.0.1 showing each app's checkpoints and restores as a timeline, "
        "with Preview, Restore and Undo actions done with your own kubeconfig's permissions. Prints the URL; "
        "opens nothing.",
    )
    parser.add_argument(
        "--namespace", "-n", help="namespace (default: the kubeconfig context's, else default)"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free one)"
    )
    parser.add_argument(
        "--address",
        help="address to listen on (default 127.0.0.1). Anything but loopback lets others on the network act "
        "with YOUR Kubernetes credentials; a warning is printed",
    )
    parser.add_argument(
        "--kubeconfig", default=None, help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)"
    )
    parser.add_argument("--context", default=None, help="kubeconfig context (default: the current one)")
    parser.add_argument(
        "--meta-database-url",
        default=os.environ.get("META_DATABASE_URL"),
        help="PostgreSQL URL of the meta database (default: $META_DATABASE_URL)",
    )
    parser.add_argument("--poll-seconds", type=float, default=2.0, help="how often the page refreshes itself")
    neon_key.add_arguments(parser, "for the page's data diff (Compare data)")
    parser.set_defaults(func=run)


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def context_namespace(kubeconfig: str | None, context: str | None) -> str:
    """The namespace of the kubeconfig's context, as kubectl would use it."""
    from kubernetes.aio import config  # the Kubernetes client only where used: it is slow to import

    try:
        contexts, current = config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    except (config.ConfigException, OSError):
        return "default"
    chosen = next((c for c in contexts if c["name"] == context), None) if context else current
    namespace = ((chosen or {}).get("context") or {}).get("namespace")
    return str(namespace or "default")


async def _kube(kubeconfig: str | None, context: str | None) -> Kube:
    """The user's own client: the kubeconfig only (never an in-cluster service account)."""
    from kubernetes.aio import client, config

    from neon_checkpoints.runtime.kube import Kube

    configuration = client.Configuration()
    await config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=kubeconfig, context=context, client_configuration=configuration
    )
    return Kube(client.ApiClient(configuration))


async def serve(args: argparse.Namespace, address: str, namespace: str, key: str | None) -> int:
    from aiohttp import web

    from neon_checkpoints.ui.app import make_app
    from neon_checkpoints.ui.datadiff import DataDiffs

    kube = await _kube(args.kubeconfig, args.context)
    hosts = {*csrf.LOOPBACK_HOSTS, address.lower()}
    url = neon_key.api_url(args.neon_api_url)
    diffs = DataDiffs(url, key, hint=neon_key.hint("neon-checkpoints ui"))
    app = make_app(
        kube, args.meta_database_url, namespace, hosts=hosts, poll_seconds=args.poll_seconds, data_diffs=diffs
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, address, args.port)
        await site.start()
        port = runner.addresses[0][1]
        shown = f"[{address}]" if ":" in address else address
        print(f"neon-checkpoints ui: namespace {namespace}, serving http://{shown}:{port}/", flush=True)
        data = f"with your Neon API key ({url})" if key else "off (no Neon API key given)"
        print(f"Data diffs: {data}.", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
        await kube.close()
    return 0


def run(args: argparse.Namespace) -> int:
    if not args.meta_database_url:
        print("error: no meta database: pass --meta-database-url or set META_DATABASE_URL", file=sys.stderr)
        return 2
    address = args.address or "127.0.0.1"
    if not is_loopback(address):
        print(
            f"warning: serving on {address}, not loopback: anyone who can reach it acts with your Kubernetes "
            "credentials (each action still needs the page's CSRF token and same-origin requests)",
            file=sys.stderr,
        )
    try:
        key = neon_key.resolve(args.neon_api_key_file)
    except neon_key.KeyFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    namespace = args.namespace or context_namespace(args.kubeconfig, args.context)
    try:
        return asyncio.run(serve(args, address, namespace, key))
    except OSError as exc:
        print(f"error: cannot listen on {address}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
