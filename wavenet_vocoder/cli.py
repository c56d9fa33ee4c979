"""What every command shares: docopt parsing and turning user errors into one line and an exit code."""
import sys

from docopt import DocoptExit, docopt

from .errors import PnfError

#: Exit status for a mistake the user can fix (bad flag, missing file, ...).
EXIT_USAGE = 2


def parse_args(usage, argv):
    """docopt over ``argv`` (None: sys.argv[1:]); a usage mistake raises SystemExit with the usage."""
    return docopt(usage, argv=argv, help=True)


def run(main, argv=None):
    """Call ``main(argv)``; a :class:`PnfError` prints ``error: <message>`` and exits with 2.

    Used by every command's ``if __name__ == "__main__"`` block and console entry point,
    so that library code never exits the process itself.
    """
    try:
        status = main(argv)
    except PnfError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except DocoptExit as e:
        print(str(e), file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(status or 0)
