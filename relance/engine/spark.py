"""Spark for the engine: a SparkSession from a master URL, and Arrow tables as temporary views.

pyspark is an optional extra (``pip install -e ".[spark]"``, Java 17+); this module imports it
only when a session is asked for, so the rest of the engine never needs it.

Masters, as Spark spells them: ``local[N]`` / ``local[*]`` (in this process's JVM, N threads),
``spark://host:7077`` (a standalone cluster), ``yarn``, ``k8s://…``; or ``sc://host:15002``
for Spark Connect (needs ``pyspark[connect]``). ``SPARK_REMOTE`` in the environment, as in
pyspark itself, means Spark Connect to that address. A local session is kept small and quiet:
few shuffle partitions, no web UI, logs at ERROR, bound to the loopback address. Every session
works in UTC: the engine's business dates must not move with the JVM's time zone.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    import ibis.expr.types as ir
    from ibis.backends import BaseBackend

ERROR_NO_PYSPARK = (
    "the Spark backend needs pyspark and Java 17+: pip install -e '.[spark]' (pyspark is not installed)"
)
ERROR_NO_JAVA = "the Spark backend needs Java 17+: no java on PATH and JAVA_HOME is not set"
DEFAULT_LOCAL_MASTER = "local[*]"
DEFAULT_DRIVER_MEMORY = "2g"
LOCAL_SHUFFLE_PARTITIONS = 4
# Log4j 2 for a quiet driver: errors only, and none of Spark's start-up chatter.
_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""

# Materialised intermediate results (see ``materialise``), by view name, so they can be freed.
_FRAMES: dict[str, Any] = {}


@dataclass(frozen=True)
class SparkOptions:
    """How to start a session; ignored when one is already running in this process."""

    master: str = DEFAULT_LOCAL_MASTER
    driver_memory: str = ""  # "" = RELANCE_SPARK_DRIVER_MEMORY, else DEFAULT_DRIVER_MEMORY
    shuffle_partitions: int | None = None  # None = LOCAL_SHUFFLE_PARTITIONS locally, Spark's otherwise
    app_name: str = "relance-engine"
    settings: tuple[tuple[str, str], ...] = ()  # any other Spark settings, applied last


def pyspark_available() -> str | None:
    """None when a Spark session can be started here; otherwise why not (a message for a skip)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:  # the one optional extra (.[spark]): every other app is always installed
        return ERROR_NO_PYSPARK
    if os.environ.get("SPARK_REMOTE"):
        return None
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return None
    from shutil import which

    return None if which("java") else ERROR_NO_JAVA


def is_local(master: str) -> bool:
    return master == "local" or master.startswith("local[")


def _log_config() -> str:
    path = Path(tempfile.gettempdir()) / "relance-spark-log4j2.properties"
    if not path.exists() or path.read_text() != _LOG4J2:
        path.write_text(_LOG4J2)
    return str(path)


def spark_session(options: SparkOptions | None = None) -> Any:
    """The process's SparkSession: the running one, or a new one configured from ``options``."""
    options = options or SparkOptions()
    reason = pyspark_available()
    if reason:
        from relance.core.errors import ValidationFailed

        raise ValidationFailed(reason)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    remote = options.master if options.master.startswith("sc://") else os.environ.get("SPARK_REMOTE", "")
    if remote:
        return SparkSession.builder.remote(remote).appName(options.app_name).getOrCreate()
    builder = SparkSession.builder.master(options.master).appName(options.app_name)
    settings = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.driver.memory": options.driver_memory
        or os.environ.get("RELANCE_SPARK_DRIVER_MEMORY", DEFAULT_DRIVER_MEMORY),
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{_log_config()} "
        "-Duser.timezone=UTC",
        "spark.sql.warehouse.dir": str(Path(tempfile.gettempdir()) / "relance-spark-warehouse"),
    }
    partitions = options.shuffle_partitions
    if is_local(options.master):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # no "resolves to a loopback" warning
        settings["spark.driver.bindAddress"] = "127.0.0.1"
        settings["spark.driver.host"] = "127.0.0.1"
        partitions = partitions or LOCAL_SHUFFLE_PARTITIONS
    if partitions:
        settings["spark.sql.shuffle.partitions"] = str(partitions)
    for key, value in [*settings.items(), *options.settings]:
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def spark_backend(options: SparkOptions | None = None) -> BaseBackend:
    """Ibis's PySpark backend on ``spark_session(options)``."""
    import ibis

    return ibis.pyspark.connect(spark_session(options))


def register_arrow(backend: BaseBackend, name: str, arrow: pa.Table) -> ir.Table:
    """``arrow`` as the temporary view ``name`` (replacing one of that name) on a Spark backend."""
    session = backend._session
    frame = session.createDataFrame(arrow)
    frame.createOrReplaceTempView(name)
    return backend.table(name)


def read_parquet(backend: BaseBackend, path: Path | str, name: str) -> ir.Table:
    """A Parquet file, or a directory of them (partitioned or not), as the temporary view ``name``."""
    session = backend._session
    session.read.parquet(str(path)).createOrReplaceTempView(name)
    return backend.table(name)


def materialise(backend: BaseBackend, prefix: str, expr: ir.Table) -> tuple[str, ir.Table]:
    """Compute ``expr`` now and keep it as a temporary view (``drop`` frees it).

    A local checkpoint rather than a cache: it also cuts the query plan, so the queries reading
    it stay small to analyse.
    """
    name = f"relance_{prefix}_{uuid.uuid4().hex[:12]}"
    session = backend._session
    frame = session.sql(backend.compile(expr)).localCheckpoint(eager=True)
    frame.createOrReplaceTempView(name)
    _FRAMES[name] = frame
    return name, backend.table(name)


def drop(backend: BaseBackend, name: str) -> None:
    """Free a view made by ``materialise`` or ``register_arrow``."""
    backend._session.catalog.dropTempView(name)
    frame = _FRAMES.pop(name, None)
    if frame is not None:
        frame.unpersist()
