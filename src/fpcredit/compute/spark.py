"""Apache Spark in local mode: one session per process, started when first asked for and
stopped, with everything it wrote, at exit (`stop_spark`).

pyspark is imported only here and only when Spark is used (it is an optional extra); a missing
pyspark, a missing Java or a JVM that will not start is one `ConfigError` line. Each caller gets
a session of its own over the shared context (`spark_call`), so temporary views and UDFs do not
outlive the call. The driver's heap is `FPCREDIT_SPARK_MEMORY` (`Settings.spark_memory`).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fpcredit.compute.base import EngineErrors
from fpcredit.config import Settings
from fpcredit.errors import ConfigError
from fpcredit.messages import text

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["errors", "spark_call", "stop_spark"]


@dataclass(frozen=True)
class _LocalSpark:
    session: SparkSession
    # Everything Spark writes (shuffle and spill blocks, Splink's Parquet files, the JVM's log)
    # goes under this temporary directory, which `stop_spark` deletes.
    root: Path


_spark: _LocalSpark | None = None
_spark_lock = threading.Lock()
_spark_call_lock = threading.Lock()


def _java_found() -> bool:
    # spark-submit runs $JAVA_HOME/bin/java, else the java on PATH.
    home = os.environ.get("JAVA_HOME")
    if home:
        return (Path(home) / "bin" / "java").is_file()
    return shutil.which("java") is not None


def _start_failure(log_path: Path, error: Exception) -> str:
    """One line saying why the JVM did not start: from its output, else from `error`."""
    output = log_path.read_text("utf-8", "replace") if log_path.exists() else ""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    # The first error is the cause (e.g. UnsupportedClassVersionError from an old Java); the
    # launcher script's own complaint about it comes last.
    errors = [ln for ln in lines if "error" in ln.lower() or "exception" in ln.lower()]
    own = str(error).strip().splitlines()
    return (errors or lines or own or [type(error).__name__])[0]


def _spawn(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
    """Popen for pyspark's JVM launch, without its preexec_fn.

    pyspark keeps Ctrl-C away from the JVM with a preexec_fn, which makes CPython fork().
    By the time linking starts, this process has reserved a large address space (the ADBC
    SQLite driver alone reserves some 230 GB of virtual memory while reading the store), and
    under Linux's default overcommit heuristic that fork fails with ENOMEM. Without a
    preexec_fn CPython uses vfork(), which copies nothing; a process group of its own keeps
    the terminal's Ctrl-C away from the JVM just as well."""
    kwargs.pop("preexec_fn", None)
    return subprocess.Popen(*args, process_group=0, **kwargs)


def _start_spark(memory: str) -> _LocalSpark:
    try:
        import pyspark
        from pyspark import SparkConf, SparkContext, java_gateway
        from pyspark.java_gateway import launch_gateway
        from pyspark.sql import SparkSession
        from splink.backends.spark import similarity_jar_location
    except ImportError as e:
        raise ConfigError(text("link.spark_missing")) from e
    # Splink hands Arrow tables to Spark; only Spark 4 accepts them (3.x would need pandas).
    if int(pyspark.__version__.split(".")[0]) < 4:
        raise ConfigError(text("link.spark_missing"))
    if not _java_found():
        raise ConfigError(text("link.java_missing"))
    root = Path(tempfile.mkdtemp(prefix="fpcredit-spark-"))
    conf = SparkConf().setAll(
        [
            ("spark.master", "local[2]"),
            ("spark.app.name", "fpcredit-link"),
            ("spark.driver.memory", memory),
            # A JVM out of memory otherwise lingers half-dead and the caller waits forever;
            # exiting makes the call fail with an error instead.
            ("spark.driver.extraJavaOptions", "-XX:+ExitOnOutOfMemoryError"),
            # Few, larger partitions: two cores, and Splink repartitions by this number.
            ("spark.sql.shuffle.partitions", "4"),
            ("spark.default.parallelism", "2"),
            ("spark.ui.enabled", "false"),
            ("spark.ui.showConsoleProgress", "false"),
            # Splink's Jaro-Winkler UDF ships inside the splink package: nothing is downloaded.
            ("spark.jars", similarity_jar_location()),
            # Names are decrypted in memory for comparison. Spark's scratch space (shuffle
            # files, spills, cached blocks) is a fresh temporary directory, deleted when the
            # session stops; I/O encryption seals those blocks with a key that lives only in the
            # JVM's memory, so they hold no readable names even if the process is killed. With
            # it on, PySpark also hands tables to the JVM over a local socket, not a file.
            # (Splink's own Parquet files are the exception: see `spark_call`.)
            ("spark.local.dir", str(root / "local")),
            ("spark.io.encryption.enabled", "true"),
            ("spark.sql.warehouse.dir", str(root / "warehouse")),
            ("spark.sql.catalogImplementation", "in-memory"),
            ("spark.driver.host", "127.0.0.1"),
            ("spark.driver.bindAddress", "127.0.0.1"),
            ("spark.sql.session.timeZone", "UTC"),
        ]
    )
    log_path = root / "spark.log"
    try:
        with log_path.open("wb") as jvm_log:
            # The JVM's own chatter (start-up warnings, log4j) goes to a file, not the terminal:
            # the CLI prints one line per failure, and task errors could quote data values.
            launch: Callable[..., Any] = launch_gateway  # untyped in pyspark
            gateway = None
            if SparkContext._gateway is None:
                # Swapped only for this call, under `_spark_lock` (see `_spawn`).
                names = vars(java_gateway)
                popen, names["Popen"] = names["Popen"], _spawn
                try:
                    gateway = launch(conf, popen_kwargs={"stdout": jvm_log, "stderr": jvm_log})
                finally:
                    names["Popen"] = popen
            context = SparkContext(conf=conf, gateway=gateway)
    except Exception as e:
        reason = _start_failure(log_path, e)
        shutil.rmtree(root, ignore_errors=True)
        raise ConfigError(text("link.spark_failed", reason=reason)) from e
    context.setLogLevel("ERROR")
    return _LocalSpark(SparkSession(context), root)


def _local_spark() -> _LocalSpark:
    """The process's local session, started at the first call (`stop_spark` ends it)."""
    global _spark
    with _spark_lock:
        if _spark is None:
            _spark = _start_spark(Settings().spark_memory)
            atexit.unregister(stop_spark)  # once, however often a session is restarted
            atexit.register(stop_spark)
        return _spark


def stop_spark() -> None:
    """Stop the local Spark session, if one was started, and delete everything it wrote."""
    global _spark
    with _spark_lock:
        if _spark is None:
            return
        spark, _spark = _spark, None
    from pyspark import SparkContext

    try:
        spark.session.stop()
        gateway = SparkContext._gateway
        if gateway is not None:
            # Stopping the context leaves the JVM running; closing the gateway ends it, so a
            # long-lived process gets its memory back. The next start launches a new one.
            gateway.shutdown()
            proc = getattr(gateway, "proc", None)
            if proc is not None and proc.stdin is not None:
                proc.stdin.close()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            SparkContext._gateway = None
            SparkContext._jvm = None
    finally:
        shutil.rmtree(spark.root, ignore_errors=True)


@contextmanager
def spark_call() -> Iterator[SparkSession]:
    """A session of its own for one call, over the process's local Spark, with a checkpoint
    directory of its own; its temporary views, cache and checkpoint files go when it ends."""
    base = _local_spark()  # first: it says clearly when pyspark or Java is missing
    # One call at a time: the checkpoint directory belongs to the whole Spark context.
    with _spark_call_lock:
        # Splink cuts the lineage of its intermediate tables by writing them as Parquet to the
        # checkpoint directory. ("persist" writes nothing but keeps whole plans alive: EM
        # training on 36,000 mentions ran out of a 2 GB heap, and took 8× as long in 8 GB.)
        # Those files hold decrypted names, so they go to this call's own temporary directory,
        # deleted when the call ends, however it ends.
        scratch = Path(tempfile.mkdtemp(prefix="call-", dir=base.root))
        base.session.sparkContext.setCheckpointDir(str(scratch))
        session = base.session.newSession()
        try:
            yield session
        finally:
            for table in session.catalog.listTables():
                if table.isTemporary:
                    session.catalog.dropTempView(table.name)
            session.catalog.clearCache()
            shutil.rmtree(scratch, ignore_errors=True)


def errors() -> EngineErrors:
    """What Spark raises: Py4J's errors (the JVM failed or went away) and pyspark's own
    (analysis, parse and task errors). None when pyspark is missing: then no call started."""
    try:
        from py4j.protocol import Py4JError  # type: ignore[import-untyped]  # no py.typed
        from pyspark.errors import PySparkException
    except ImportError:
        return ()
    return (Py4JError, PySparkException)
