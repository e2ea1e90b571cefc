"""``hal-jupyter offline [--env-file PATH] [--faults RATE] [--only NAME ...]``.

Starts the stand-ins on 127.0.0.1, writes the provider variables that reach
them to the env file (default ``.env``, which a Jupyter server started in the
same folder reads), prints what runs where, and runs until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any

from .stack import PROVIDERS, OfflineClouds

HEADER = "# written by hal-jupyter offline: the provider variables of its local stand-ins of the clouds"


def _rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a share of requests from 0 to 1 (0.1: one request in ten)")
    return rate


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hal-jupyter offline", description="Local stand-ins of every cloud the providers talk to, driven by the real SDKs.")
    p.add_argument("--env-file", default=".env", help="write the provider variables to this file (default: .env; '-' writes none)")
    p.add_argument("--faults", type=_rate, default=0.0, metavar="RATE",
                   help="inject throttling (429), 503, lost answers and slow answers into this share of requests (0 to 1)")
    p.add_argument("--only", nargs="+", choices=PROVIDERS, metavar="NAME", help=f"start only these providers' stand-ins: {', '.join(PROVIDERS)}")
    return p


def write_env_file(path: str, env: dict[str, str]) -> None:
    lines = [HEADER, *(f"{name}={value}" for name, value in env.items())]
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(tmp, 0o600)  # it holds the (stand-ins') credentials
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    stop = threading.Event()
    previous: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        clouds = OfflineClouds(only=tuple(args.only or PROVIDERS), faults=args.faults)
    except ValueError as exc:
        print(f"hal-jupyter offline: {exc}", file=sys.stderr)
        return 2
    try:
        clouds.start()
        print(f"hal-jupyter offline: {len(clouds.stand_ins)} stand-in(s) on 127.0.0.1" + (f", {args.faults:.0%} of requests faulty" if args.faults else ""))
        for name, stand_in in clouds.stand_ins.items():
            print(f"  {name:20} {stand_in.url:24} {stand_in.service}")
        if args.env_file != "-":
            write_env_file(args.env_file, clouds.env)
            print(f"wrote {len(clouds.env)} provider variables to {args.env_file}: a Jupyter server started in its folder uses these stand-ins")
        else:
            print("provider variables:\n" + "\n".join(f"  {k}={v}" for k, v in clouds.env.items()))
        print("counters: GET <url>/__offline__/stats; Ctrl-C stops them", flush=True)
        while not stop.wait(3600):
            pass
        print("stopping the stand-ins", flush=True)
        return 0
    finally:
        clouds.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
