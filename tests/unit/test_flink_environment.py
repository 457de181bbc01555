import pytest

from lakehouse.pipeline import flink_cluster


def test_pyflinks_variables_go_but_the_stacks_ports_stay(monkeypatch):
    monkeypatch.setenv("FLINK_HOME", "/somewhere/pyflink")
    monkeypatch.setenv("PYFLINK_GATEWAY_PORT", "1234")
    monkeypatch.setenv("JVM_ARGS", "-Xmx1g")
    monkeypatch.setenv("FLINK_REST_PORT", "8181")
    monkeypatch.setenv("FLINK_TM_RPC_PORTS", "6230-6249")
    env = flink_cluster.clean_environment()
    assert "FLINK_HOME" not in env and "PYFLINK_GATEWAY_PORT" not in env and "JVM_ARGS" not in env
    assert env["FLINK_REST_PORT"] == "8181" and env["FLINK_TM_RPC_PORTS"] == "6230-6249"


def test_only_the_beam_workers_hang_up_at_job_end_is_kept_quiet(monkeypatch):
    import threading

    from lakehouse.pipeline import flink_env

    printed = []
    monkeypatch.setattr(threading, "excepthook", lambda args: printed.append((args.thread.name, args.exc_type)))
    flink_env.quiet_beam_hangup()
    flink_env.quiet_beam_hangup()  # twice: one filter, not two

    class Status:
        name = "CANCELLED"

    class Hangup(Exception):
        def code(self):
            return Status()

    def raise_in(name: str, error: Exception) -> None:
        def run():
            raise error

        thread = threading.Thread(target=run, name=name)
        thread.start()
        thread.join()

    raise_in("read_grpc_client_inputs", Hangup("Multiplexer hanging up"))
    raise_in("read_grpc_client_inputs", ValueError("a real failure"))
    raise_in("other", Hangup("cancelled elsewhere"))
    assert printed == [("read_grpc_client_inputs", ValueError), ("other", Hangup)]


def test_flink_options_are_set_last_and_a_malformed_entry_names_the_setting():
    from dataclasses import replace

    import pytest

    from lakehouse import config
    from lakehouse.pipeline import flink_env

    settings = replace(
        config.load("embedded"), flink_options="state.storage.fs.memory-threshold=1mb; pipeline.name = other"
    )
    options = flink_env._options(settings)
    assert options["state.storage.fs.memory-threshold"] == "1mb" and options["pipeline.name"] == "other"
    with pytest.raises(ValueError, match="flink_options: 'no-equals-sign' is not key=value"):
        flink_env._options(replace(settings, flink_options="no-equals-sign"))


def test_prebuilt_job_jars_are_taken_as_named_and_a_missing_one_is_an_error(tmp_path):
    from lakehouse import config
    from lakehouse.pipeline import flink_env

    udfs, connector = tmp_path / "udfs.jar", tmp_path / "connector.jar"
    udfs.write_bytes(b"PK")
    connector.write_bytes(b"PK")
    settings = config.load("embedded", job_jars=f"{udfs}; {connector};")
    assert flink_env.job_jars(settings) == [udfs, connector]
    missing = config.load("embedded", job_jars=f"{udfs};{tmp_path / 'gone.jar'}")
    with pytest.raises(FileNotFoundError, match="gone.jar"):
        flink_env.job_jars(missing)
