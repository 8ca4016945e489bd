"""The command line's console, shared by lawm_jax.main and tools/: errors the user can fix
as one line (`run_main`; `--debug` for their traceback), the configs section of `--help`
(`describe_configs`) and the config flags' parsing errors as one line.

    from lawm_jax.cli import run_main
    if __name__ == "__main__":
        run_main(main)   # app.run(main), user errors as one line, --debug for their traceback
"""
from __future__ import annotations

import ast
import difflib
import errno
import glob
import importlib
import os
import re
import sys
import textwrap

from lawm_jax.config import JOBS, KINDS
from lawm_jax.errors import ConfigError, DataError
from lawm_jax.progress import end_bar_line

# Optional dependencies (setup.py's extras) -> how to install them.
OPTIONAL_PACKAGES = {
    "mujoco": 'pip install -e ".[sim]"', "skimage": 'pip install -e ".[sim]"',
    "tensorflow_datasets": 'pip install -e ".[tfds]"',
    "torch": 'pip install -e ".[convert]" (CPU-only machines: install torch from its CPU index first)',
    "transformers": 'pip install -e ".[convert]"', "safetensors": 'pip install -e ".[convert]"',
    "av": "pip install av",
}
_FILE_ERRORS = (FileNotFoundError, FileExistsError, PermissionError, NotADirectoryError, IsADirectoryError)
_FILE_ERRNOS = (errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES, errno.ENOENT)


def user_error_message(e: BaseException) -> str | None:
    """One line for an error the user can fix: a bad flag or config value, data that
    cannot feed the job, a path that is missing or cannot be written, a missing optional
    package, a diverged run. None for anything else (a bug: it keeps its traceback)."""
    from absl import app
    if isinstance(e, app.UsageError):
        return f"{e} (--help shows the usage)"
    if isinstance(e, (ConfigError, DataError, FloatingPointError)):
        return str(e)
    if isinstance(e, ImportError):
        package = (e.name or "").split(".")[0]
        if package not in OPTIONAL_PACKAGES:
            return None
        if "pip install" in str(e):  # raised by lawm_jax, already saying what to do
            return str(e)
        return (f"this needs the optional package {package}, which cannot be imported ({e}): "
                f"{OPTIONAL_PACKAGES[package]}")
    if isinstance(e, OSError) and (isinstance(e, _FILE_ERRORS) or e.errno in _FILE_ERRNOS):
        if e.filename is None or not e.strerror:
            return str(e)  # raised by lawm_jax with its own message
        to = f" -> {e.filename2}" if e.filename2 else ""
        todo = {errno.EEXIST: "choose another path, or move it away",
                errno.ENOSPC: "free some space, or choose another disk"}.get(
            e.errno, "check the path, and that you may read and write there")
        return f"{e.filename}{to}: {e.strerror}; {todo}"
    return None


def print_user_error(prog: str, message: str) -> None:
    """`prog: message` on stderr, on a line of its own (after any progress bar)."""
    end_bar_line()
    sys.stderr.write(f"{prog}: {message}\n")
    sys.stderr.flush()


def report_user_error(prog: str, e: BaseException) -> bool:
    """Prints `prog: <one line>` to stderr if `e` is a user error; False (nothing
    printed) otherwise."""
    message = user_error_message(e)
    if message is None:
        return False
    print_user_error(prog, message)
    return True


def debug_requested(argv) -> bool:
    """Whether the command line asks for tracebacks (--debug, --debug=true), read before
    absl has parsed it."""
    return any(re.fullmatch(r"--?debug(=(true|1|yes))?", a, re.IGNORECASE) for a in argv)


def run_main(main, prog: str | None = None, **run_kwargs) -> None:
    """absl's app.run(main) for the command line and the tools: an error the user can fix
    (user_error_message) prints one line naming what is wrong and exits with status 1;
    `--debug` shows its Python traceback instead. Anything else keeps its traceback."""
    from absl import app, flags
    prog = prog or os.path.splitext(os.path.basename(sys.argv[0]))[0]
    if "debug" not in flags.FLAGS:
        flags.DEFINE_bool("debug", False, "show the Python traceback of errors you can fix (bad values, "
                          "missing paths or packages), not only of bugs", module_name=sys.argv[0])

    def guarded(argv):
        try:
            return main(argv)
        except Exception as e:  # noqa: BLE001 -- user errors become one line; the rest is re-raised
            if flags.FLAGS.debug or not report_user_error(prog, e):
                raise
            return 1

    try:
        app.run(guarded, **run_kwargs)
    except SystemExit as e:
        if e.code == 1 and help_requested(sys.argv):  # absl exits with 1 after printing the help
            sys.exit(0)
        raise


def help_requested(argv) -> bool:
    return any(re.fullmatch(r"--?(help|helpshort|helpfull|\?)", a) for a in argv[1:])


def check_workdir(job: str, workdir: str) -> None:
    """Creates --workdir (the evaluate job's must hold a run) and checks it is writable."""
    if job == "evaluate" and not os.path.isdir(workdir):
        raise ConfigError(f"--workdir={workdir} does not exist: the evaluate job reads the training run there")
    if os.path.exists(workdir) and not os.path.isdir(workdir):
        raise ConfigError(f"--workdir={workdir} is a file: name a folder (a new one is created)")
    try:
        os.makedirs(workdir, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--workdir={workdir}: cannot create it ({e.strerror}); choose a folder you can "
                          "write to") from None
    if not os.access(workdir, os.W_OK | os.X_OK):
        raise ConfigError(f"--workdir={workdir}: not writable; choose a folder you can write to")

# configs/*.py, shipped beside the package (imported as configs.tiny, ...)
CONFIGS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")


def _first_line(path: str) -> str:
    try:
        doc = ast.get_docstring(ast.parse(open(path, encoding="utf-8").read())) or ""
    except (OSError, SyntaxError, ValueError):
        return ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _is_config(c) -> bool:
    try:
        return c.job in JOBS and c.model.bottleneck.kind in KINDS
    except (AttributeError, KeyError):
        return False


def config_args(module, candidates) -> tuple[list[str], list[str]]:
    """(args, same): of `candidates`, the `:arg` values that `module.get_config` accepts
    (returns a run config with a known job and bottleneck), found by trying each, and
    those whose config is the one without an argument."""
    try:
        default = module.get_config().to_dict()
    except Exception:  # noqa: BLE001 -- a config that cannot be built lists no arguments
        return [], []
    args, same = [], []
    for arg in candidates:
        try:
            c = module.get_config(arg)
        except Exception:  # noqa: BLE001 -- e.g. ValueError("choose one of ...")
            continue
        if _is_config(c):
            args.append(arg)
            if c.to_dict() == default:
                same.append(arg)
    return args, same


def describe_configs(folder: str = CONFIGS_DIR) -> str:
    """The configs section of `--help`: each `folder`/*.py, the first line of its
    docstring, and its `:arg` values (tried: every module's ARGS, the bottleneck kinds,
    and every `configs/NAME.py:ARG` any of the docstrings mentions)."""
    paths = sorted(p for p in glob.glob(os.path.join(folder, "*.py")) if not p.endswith("__init__.py"))
    if not paths:
        return f"Configs: none found in {folder}\n"
    package = os.path.basename(folder)
    root = os.path.dirname(os.path.abspath(folder))
    added = root not in sys.path
    if added:
        sys.path.insert(0, root)
    modules, candidates = {}, list(KINDS)
    try:
        for path in paths:
            name = os.path.splitext(os.path.basename(path))[0]
            try:
                modules[path] = importlib.import_module(f"{package}.{name}")
            except Exception as e:  # noqa: BLE001 -- listed with the reason
                modules[path] = e
                continue
            candidates += [a for a in getattr(modules[path], "ARGS", ()) if isinstance(a, str)]
            candidates += re.findall(r"\.py:(\w+)", modules[path].__doc__ or "")
    finally:
        if added:
            sys.path.remove(root)
    candidates = list(dict.fromkeys(candidates))
    shown = os.path.relpath(folder) if not os.path.relpath(folder).startswith("..") else folder
    lines = [f"Configs (--config={shown}/NAME.py[:ARG]; ARG picks a variant, --config.FIELD=VALUE "
             "overrides any field):"]
    names = {path: f"{shown}/{os.path.basename(path)}" for path in paths}
    indent = " " * (4 + max(len(n) for n in names.values()))
    for path in paths:
        about = _first_line(path)
        module = modules[path]
        if isinstance(module, Exception):
            about += f" (cannot be imported: {type(module).__name__}: {module})"
        else:
            args, same = config_args(module, candidates)
            if args:
                about += "\n:ARG = " + ", ".join(f"{a} (the default)" if a in same else a for a in args)
        first = f"  {names[path]:<{len(indent) - 2}}"
        for i, par in enumerate(about.splitlines()):
            lines += textwrap.wrap(par, width=100, initial_indent=first if i == 0 else indent,
                                   subsequent_indent=indent, break_long_words=False,
                                   break_on_hyphens=False)  # whole words, also past a long path's indent
    return "\n".join(lines) + "\n"


def unknown_override(config, argv) -> str | None:
    """For a `--config.a.b=v` in `argv` naming a field that `config` lacks: a message
    naming it (and the nearest existing field); None if every override resolves."""
    for arg in argv:
        m = re.match(r"--?(?:no)?config\.([\w.]+)(=|$)", arg)
        if not m:
            continue
        node, done = config, []
        for key in m.group(1).split("."):
            keys = list(node.keys()) if hasattr(node, "keys") else []
            if key not in keys:
                where = "config" + "".join(f".{k}" for k in done)
                if not hasattr(node, "keys"):
                    return f"{arg}: {where} is a value ({node!r}), not a section with fields"
                close = difflib.get_close_matches(key, [str(k) for k in keys], n=1)
                hint = f"did you mean {where}.{close[0]}?" if close else f"its fields are {sorted(keys)}"
                return f"{arg}: {where} has no field {key!r}; {hint}"
            node, done = node[key], done + [key]
    return None


def config_file_arg(argv) -> str:
    """The value of --config in a command line ("" if none)."""
    for i, arg in enumerate(argv):
        if re.fullmatch(r"--?config", arg) and i + 1 < len(argv):
            return argv[i + 1]
        if re.match(r"--?config=", arg):
            return arg.split("=", 1)[1]
    return ""


def config_flag_error(e: Exception, argv) -> str | None:
    """One line for an error in parsing the command line's config flags: a missing config
    file, an :ARG its get_config rejects, a misspelt --config.FIELD, a bad flag value. An
    exception raised inside a config file's get_config (absl wraps it) also becomes its
    last line, naming the file: usually a rejected argument, and --debug shows the
    traceback of a real bug. None for anything else (re-raised with its traceback)."""
    from absl import flags
    from ml_collections.config_flags import config_flags
    spec = config_file_arg(argv)
    path = spec.split(":", 1)[0]
    if isinstance(e, ModuleNotFoundError) and (e.name or "").split(".")[0] == "configs":
        return f"--config={spec} imports the configs package: run from the folder that holds configs/"
    if isinstance(e, OSError) and path and not os.path.isfile(path):
        return f"--config={spec}: no such file (--help lists the configs)"

    def without_overrides():  # the config file's own config, or None if it cannot be built
        try:
            return config_flags.ConfigFileFlagParser("config").parse(spec)
        except Exception:  # noqa: BLE001 -- then the error is not (only) in an override
            return None

    if isinstance(e, (AttributeError, KeyError, flags.UnrecognizedFlagError)) and path:
        config = without_overrides()  # to find the override that names no field
        return None if config is None else unknown_override(config, argv)
    bad_value = re.match(r"flag --(config\.[\w.]+)=(.*?): ", str(e))
    if isinstance(e, flags.IllegalFlagValueError) and bad_value and path:
        value = without_overrides()  # the field's type
        for key in bad_value.group(1).split(".")[1:]:
            if not hasattr(value, "keys") or key not in value:
                return str(e)  # absl's own message
            value = value[key]
        return (f"--{bad_value.group(1)}={bad_value.group(2)}: {bad_value.group(1)} takes a value of type "
                f"{type(value).__name__} (this config has {value!r})")
    if isinstance(e, flags.Error):
        if "Error whilst parsing config file" in str(e):  # get_config raised; absl adds its traceback
            last = re.sub(r"^[\w.]+Error: ", "", str(e).strip().splitlines()[-1])
            return last if path in last else f"--config={spec}: {last}"
        return str(e)
    return None
