"""Runs a Python transform's `WitWorld` natively for `weir test`, under the
host's CPython, as the component runs it: the same `init`, `process` and
`finish` calls with the same texts, driven by the host over a pipe.

Embedded in the `weir` binary (runtime/src/pipeline/python.rs) and run as
`python -B -c <this> PROJECT_DIR MODULE ASSETS_DIR`. One JSON object per line
each way, ASCII only (`\\u` escapes), so a record's text never breaks the
framing:

    host   {"op": "init", "config": "..."}     -> {"ok": true} | {"error": "..."}
    host   {"op": "fields"}                    -> {"fields": null | {"reads": [...], "writes": [...]}}
    host   {"op": "process", "input": "..."}   -> {"output": "...", "outcomes": [n | {"failed": "..."}]}
    host   {"op": "finish"}                    -> {"output": "..."} | {"error": "..."}

The first line the driver writes is {"ready": true, "python": "3.11.7"}, or
{"import_error": "..."} (Python's own message: file, line, caret) before it
exits. Before the app is imported the driver makes the process look like the
sandbox where Python code can tell: the wall clock reads
2000-01-01T00:00:00Z and the monotonic clock 0, `random` and `os.urandom`
are seeded, `/assets` is the case's assets folder, and what the transform
prints goes to stderr, never into the protocol.
"""

import datetime as _datetime
import io
import json
import os
import sys
import time
import traceback

# What the sandbox's clocks read (runtime/engine/src/sandbox.rs).
FROZEN_WALL_SECONDS = 946_684_800
SEED = 0x5745_4952  # "WEIR": any fixed value; the component's streams differ


def freeze_clocks() -> None:
    real_localtime, real_gmtime = time.localtime, time.gmtime
    real_strftime, real_ctime, real_asctime = time.strftime, time.ctime, time.asctime
    time.time = lambda: float(FROZEN_WALL_SECONDS)
    time.time_ns = lambda: FROZEN_WALL_SECONDS * 1_000_000_000
    for name in ("monotonic", "perf_counter"):
        setattr(time, name, lambda: 0.0)
        setattr(time, name + "_ns", lambda: 0)
    time.localtime = lambda secs=None: real_localtime(FROZEN_WALL_SECONDS if secs is None else secs)
    time.gmtime = lambda secs=None: real_gmtime(FROZEN_WALL_SECONDS if secs is None else secs)
    time.ctime = lambda secs=None: real_ctime(FROZEN_WALL_SECONDS if secs is None else secs)
    time.asctime = lambda t=None: real_asctime(real_localtime(FROZEN_WALL_SECONDS) if t is None else t)
    time.strftime = lambda fmt, t=None: real_strftime(
        fmt, real_localtime(FROZEN_WALL_SECONDS) if t is None else t
    )

    real_datetime, real_date = _datetime.datetime, _datetime.date

    class datetime(real_datetime):  # noqa: N801 - stands in for datetime.datetime
        @classmethod
        def now(cls, tz=None):
            if tz is None:  # the sandbox's local time is UTC
                return cls(2000, 1, 1)
            return cls.fromtimestamp(FROZEN_WALL_SECONDS, tz)

        @classmethod
        def utcnow(cls):
            return cls(2000, 1, 1)

        @classmethod
        def today(cls):
            return cls(2000, 1, 1)

    class date(real_date):  # noqa: N801 - stands in for datetime.date
        @classmethod
        def today(cls):
            return cls(2000, 1, 1)

    for cls, real in ((datetime, real_datetime), (date, real_date)):
        cls.__name__ = cls.__qualname__ = real.__name__
        cls.__module__ = "datetime"
    _datetime.datetime, _datetime.date = datetime, date


def seed_random() -> None:
    import random

    stream = random.Random(SEED)
    os.urandom = stream.randbytes
    random._urandom = stream.randbytes  # SystemRandom and secrets
    random.seed(SEED)


def map_assets(assets: str) -> None:
    """`/assets/...` paths open the case's assets folder, as in the sandbox."""
    import builtins

    def mapped(path):
        text = os.fspath(path) if isinstance(path, (str, os.PathLike)) else None
        if isinstance(text, str) and (text == "/assets" or text.startswith("/assets/")):
            return assets + text[len("/assets") :]
        return path

    def wrap(function):
        return lambda path, *args, **kwargs: function(mapped(path), *args, **kwargs)

    builtins.open = io.open = wrap(io.open)
    for name in ("listdir", "scandir", "stat", "lstat"):
        setattr(os, name, wrap(getattr(os, name)))


def describe(error: BaseException) -> str:
    """The lines Python prints for an uncaught `error`, without the frames of
    this driver."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == "<string>":
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(error), error, tb)).rstrip()


def main() -> None:
    project, module, assets = sys.argv[1:4]
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "w", encoding="ascii", newline="\n")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # what the transform prints goes to stderr

    def reply(message: dict) -> None:
        replies.write(json.dumps(message) + "\n")
        replies.flush()

    freeze_clocks()
    seed_random()
    if assets:
        map_assets(assets)
    sys.path.insert(0, project)
    try:
        app = __import__(module)
        world = app.WitWorld
    except AttributeError:
        reply({"import_error": f"{module}.py defines no `WitWorld` (assign weir_guest.export(...) to it)"})
        return
    except BaseException as e:  # noqa: BLE001 - reported to the host, which fails the case
        reply({"import_error": describe(e)})
        return
    reply({"ready": True, "python": sys.version.split()[0]})
    instance = world()
    for line in requests:
        request = json.loads(line)
        op = request["op"]
        try:
            if op == "init":
                instance.init(request["config"])
                reply({"ok": True})
            elif op == "fields":
                spec = instance.fields() if hasattr(instance, "fields") else None
                reply({"fields": None if spec is None else {"reads": list(spec.reads), "writes": list(spec.writes)}})
            elif op == "process":
                processed = instance.process(request["input"])
                reply(
                    {
                        "output": processed.output,
                        "outcomes": [
                            o.value if isinstance(o.value, int) else {"failed": o.value}
                            for o in processed.outcomes
                        ],
                    }
                )
            elif op == "finish":
                reply({"output": instance.finish()})
            else:
                reply({"error": f"unknown request {op!r}"})
        except Exception as e:  # noqa: BLE001 - the SDK's Err, or a bug the host reports
            reply({"error": str(e.value) if hasattr(e, "value") else describe(e)})


main()
