"""Run the fake APIs in the foreground: python -m l2c_demo.fake_api --seed 42 --deals 3000."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from l2c_demo.fake_api.network import NetworkSettings
from l2c_demo.fake_api.server import FakeApiServer
from l2c_demo.simulator import DemoCompany, SimConfig
from l2c_demo.simulator.crms import CRM_WEIGHTS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m l2c_demo.fake_api", description=__doc__)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--deals", type=int, default=3000)
    parser.add_argument(
        "--crms", nargs="+", default=["pipedrive"], help="CRMs of the company's business units"
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path, default=None)
    parser.add_argument("--pipedrive-token", default="demo-pipedrive-token")
    parser.add_argument("--stripe-key", default="sk_test_demo")
    parser.add_argument(
        "--equal-weights", action="store_true", help="the same share of deals for every CRM"
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument(
        "--limits", action="store_true", help="enforce the vendors' documented rate limits"
    )
    parser.add_argument(
        "--pipedrive-daily-tokens", type=int, default=None, help="Pipedrive daily token budget"
    )
    parser.add_argument(
        "--subscription-share",
        type=float,
        default=0.0,
        help="share of won deals also sold a Stripe subscription (0: none)",
    )
    args = parser.parse_args(argv)
    weights = tuple(1.0 if args.equal_weights else CRM_WEIGHTS.get(c, 0.1) for c in args.crms)
    daily = (
        {} if args.pipedrive_daily_tokens is None else {"pipedrive": args.pipedrive_daily_tokens}
    )
    network = NetworkSettings(args.latency, args.limits, daily=daily)
    company = DemoCompany(
        SimConfig(
            seed=args.seed,
            n_deals=args.deals,
            crms=tuple(args.crms),
            crm_weights=weights,
            subscription_share=args.subscription_share,
        )
    )
    server = FakeApiServer(
        company,
        args.port,
        pipedrive_token=args.pipedrive_token,
        stripe_key=args.stripe_key,
        network=network,
    )
    server.render_views()  # before the port is announced: loads timed against it time loading
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.stop).start())
    print(server.base_url, flush=True)
    if args.port_file is not None:
        tmp = args.port_file.with_suffix(args.port_file.suffix + ".tmp")
        tmp.write_text(str(server.port))
        tmp.replace(args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
