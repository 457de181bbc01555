from pathlib import Path

import pytest

from lakehouse import rules

REPO = Path(__file__).resolve().parents[2]


def test_the_shipped_rules_file_loads():
    loaded = rules.load(REPO / "config" / "anomaly_rules.toml")
    assert {r.level for r in loaded.static} <= set(rules.LEVELS)
    assert loaded.adaptive, "at least one adaptive rule ships"


@pytest.mark.parametrize(
    ("op", "value", "fires"),
    [
        (">", 11.0, True),
        (">", 10.0, False),
        (">=", 10.0, True),
        ("<", 9.0, True),
        ("<", 10.0, False),
        ("<=", 10.0, True),
    ],
)
def test_static_rule_comparisons(op, value, fires):
    rule = rules.StaticRule(id="r", level="1m", metric="order_count", op=op, threshold=10.0)
    assert rule.fires(value) is fires


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[static]]\nid="a"\nlevel="2m"\nmetric="order_count"\nop=">"\nthreshold=1', "level must be one of"),
        ('[[static]]\nid="a"\nlevel="1m"\nmetric="profit"\nop=">"\nthreshold=1', "metric must be one of"),
        ('[[static]]\nid="a"\nlevel="1m"\nmetric="order_count"\nop="!="\nthreshold=1', "op must be one of"),
        ('[[adaptive]]\nid="a"\nlevel="1m"\nmetric="revenue_eur"\nk=3\ntrailing=3\nmin_history=5', "min_history"),
        (
            '[[static]]\nid="a"\nlevel="1m"\nmetric="order_count"\nop=">"\nthreshold=1\n'
            '[[adaptive]]\nid="a"\nlevel="1m"\nmetric="revenue_eur"\nk=3',
            "duplicate rule ids",
        ),
        ('[[thresholds]]\nid="a"', "unknown sections"),
    ],
)
def test_a_bad_rule_is_a_clear_error(tmp_path, text, message):
    path = tmp_path / "rules.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        rules.load(path)
