"""`python -m toolkit`: the `toolkit` command."""

import sys

try:  # a Ctrl-C before main() runs (while Python imports the command line) is an interruption too
    from .cli import main
except KeyboardInterrupt:
    print("\ninterrupted", file=sys.stderr)
    raise SystemExit(130) from None

raise SystemExit(main())
