"""The ``hal-jupyter`` command: ``hal-jupyter worker --db-url URL`` (see :mod:`.worker`),
``hal-jupyter offline`` (see :mod:`.offline.cli`)."""

from __future__ import annotations

import sys

COMMANDS = {
    "worker": "a headless engine that drives jobs from a shared job store",
    "offline": "local stand-ins of every cloud the providers use (needs hal-jupyter[offline])",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        lines = [f"  {name:10} {text}" for name, text in COMMANDS.items()]
        print("usage: hal-jupyter COMMAND [options]\n\ncommands:\n" + "\n".join(lines), file=sys.stderr if argv else sys.stdout)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    if argv[0] == "offline":
        from .offline import cli

        return cli.main(argv[1:])
    from . import worker

    return worker.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
