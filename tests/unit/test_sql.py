import pytest

from lakehouse import sql


def test_every_flink_statement_is_one_statement_with_a_header():
    files = sorted((sql.SQL_DIR / "flink").glob("*.sql"))
    assert files
    for path in files:
        text = path.read_text()
        assert text.startswith("--"), f"{path.name} needs a header comment stating its grain"
        assert "grain" in text.lower(), f"{path.name} header does not state the grain"
        body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
        assert body.rstrip().count(";") == 0, f"{path.name} holds more than one statement"


def test_placeholders_are_filled_and_a_missing_one_is_an_error():
    text = sql.load("flink/gold_order_metrics", level="5m")
    assert "fct_order_metrics_5m" in text and "{{" not in text
    with pytest.raises(KeyError, match="level"):
        sql.load("flink/gold_order_metrics")


def test_connector_options_are_quoted():
    rendered = sql.with_options({"path": "/data/it's", "format": "raw"})
    assert "'/data/it''s'" in rendered
