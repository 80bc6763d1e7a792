"""``charger-sim``: placeholder entry point until the simulator issue lands."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("charger-sim: the simulator is not built yet (see issue 4)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
