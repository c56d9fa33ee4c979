"""What every command shares: docopt parsing, flag values, the device, and one-line errors with an exit code."""
import math
import os
import re
import sys

from docopt import DocoptExit, docopt, parse_defaults

from .deferred import deferred_import
from .errors import PnfError

torch = deferred_import("torch")

#: Exit status for a mistake the user can fix (bad flag, missing file, ...).
EXIT_USAGE = 2
#: Exit status when the reader of standard output went away (``pnf-train --help | head``): the
#: shell's for a process ended by SIGPIPE, 128 + 13.
EXIT_BROKEN_PIPE = 141


def parse_args(usage, argv):
    """docopt over ``argv`` (None: sys.argv[1:]).

    A usage mistake raises :class:`DocoptExit` whose message names it (an unknown option, or
    how many arguments were given against the usage) followed by the usage lines.
    """
    try:
        return docopt(usage, argv=argv, help=True)
    except DocoptExit as e:
        given = sys.argv[1:] if argv is None else list(argv)
        raise DocoptExit(f"error: {usage_mistake(usage, given)}") from None     # DocoptExit adds the usage lines


def usage_mistake(usage, argv):
    """One line naming what in ``argv`` does not fit ``usage``: the first unknown option, else the positionals."""
    known = {o.long for o in parse_defaults(usage)} | {o.short for o in parse_defaults(usage)}
    known |= set(re.findall(r"(--?[\w-]+)(?==|\b)", usage.split("Options:")[0]))
    for arg in argv:
        if arg == "--":
            break
        name = arg.split("=", 1)[0]
        if arg.startswith("-") and len(arg) > 1 and name not in known:
            return f"unknown option {name} (see --help)"
    positionals = [a for a in argv if not a.startswith("-")]
    return (f"the arguments fit no usage line below ({len(positionals)} positional arguments given: "
            f"{' '.join(positionals[:6])}{' ...' if len(positionals) > 6 else ''}; options need their values)")


def run(main, argv=None):
    """Call ``main(argv)``; a :class:`PnfError` prints ``error: <message>`` and exits with 2.

    Used by every command's ``if __name__ == "__main__"`` block and console entry point,
    so that library code never exits the process itself. When whatever reads standard output
    closes it early (``| head``), the command ends quietly with :data:`EXIT_BROKEN_PIPE`, as
    programs killed by SIGPIPE do, instead of printing a traceback.
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
    except BrokenPipeError:
        silence_stdout()
        sys.exit(EXIT_BROKEN_PIPE)
    sys.exit(status or 0)


def silence_stdout():
    """Point standard output at the null device, so that the interpreter's last flush of what is
    still buffered for a closed pipe raises nothing more on the way out."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):        # no file descriptor behind sys.stdout (e.g. captured)
        pass


def parse_int(value, flag, minimum=None):
    """``value`` as an int, or a :class:`PnfError` naming ``flag``."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise PnfError(f"{flag}={value} is not an integer") from None
    if minimum is not None and number < minimum:
        raise PnfError(f"{flag}={value} must be at least {minimum}")
    return number


def parse_float(value, flag, positive=True):
    """``value`` as a finite float (positive if asked), or a :class:`PnfError` naming ``flag``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise PnfError(f"{flag}={value} is not a number") from None
    if not math.isfinite(number) or (positive and number <= 0):
        raise PnfError(f"{flag}={value} must be a {'positive ' if positive else ''}finite number")
    return number


def resolve_device(flag):
    """The torch device for ``--device`` (None: CUDA when available, else the CPU)."""
    if flag in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(flag)
    except RuntimeError:
        raise PnfError(f"--device={flag} is not a device: use cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise PnfError(f"--device={flag}: CUDA is not available on this machine; use --device cpu")
    if device.type not in ("cpu", "cuda"):
        raise PnfError(f"--device={flag}: only cpu and cuda are supported")
    return str(device)


def describe_device(device):
    """A line saying where sampling runs, e.g. ``cuda: 2 x NVIDIA H100 (DataParallel)``."""
    if torch.device(device).type == "cuda":
        count = torch.cuda.device_count()
        return f"{device}: {count} x {torch.cuda.get_device_name(0)} (DataParallel over {count} GPU(s))"
    return f"cpu: {torch.get_num_threads()} threads"
