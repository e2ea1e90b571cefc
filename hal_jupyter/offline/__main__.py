"""``python -m tests.emulators [--env-file .env]``: every cloud emulator, for offline demos.

Prints the provider variables that reach them; with ``--env-file`` also writes
them to that file, which the HAL reads at start (``HalExtension.env_file``), so
``jupyter lab`` started next to it uses the emulators.
"""

from __future__ import annotations

import argparse
import time

from .offline import start_all


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.emulators", description=__doc__.splitlines()[0])
    parser.add_argument("--env-file", help="also write the variables to this .env file")
    args = parser.parse_args()
    env = start_all()
    lines = [f"{name}={value}" for name, value in env.items()]
    if args.env_file:
        with open(args.env_file, "w") as handle:
            handle.write("# written by python -m tests.emulators: offline stand-ins of the cloud providers\n" + "\n".join(lines) + "\n")
        print(f"wrote {len(lines)} variables to {args.env_file}")
    print("export " + " ".join(lines))
    print("emulators running; Ctrl-C stops them", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
