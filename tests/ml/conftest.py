from tests.engine.conftest import backend, spark_backend  # noqa: F401 - the engine's backend fixture
