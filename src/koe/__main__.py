"""The ``koe`` command (``python -m koe``): the command line wired to the composition root.

``koe.cli`` sits beside ``koe.api`` under ``koe.app`` in the layer map and imports
neither; this launcher, outside the layers, hands it the builder and the HTTP app factory.
"""

from __future__ import annotations

from collections.abc import Sequence

from koe.api.app import create_api
from koe.app import build
from koe.cli.main import main as cli_main
from koe.cli.runtime import Wiring

WIRING = Wiring(build=build, create_api=create_api)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``koe`` console script."""
    cli_main(WIRING, argv)


if __name__ == "__main__":
    main()
