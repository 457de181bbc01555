"""The order-events contract is declared once (lakehouse/contract.py): its event types, required
fields, currencies, rates and reasons are not written again as literals in the Flink SQL or in the
modules that apply them; those take them from the contract, and this test fails on any copy."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from lakehouse import contract, sql
from lakehouse.lake import read_model
from lakehouse.quality import suites as quality_suites

REPO = Path(__file__).resolve().parents[2]
# Modules that apply the contract: they must name its values through lakehouse/contract.py.
MODULES = (
    *(str(p.relative_to(REPO)) for p in sorted((REPO / "lakehouse" / "quality").glob("*.py"))),
    "lakehouse/lake/read_model.py",
    "udfs/currency.py",
    *(str(p.relative_to(REPO)) for p in sorted((REPO / "jobs").glob("*.py"))),
)
REASONS = sorted({value for name, value in vars(contract).items() if name.startswith("REASON_")})
PER_FIELD = (contract.reason_missing(""), contract.reason_wrong_type(""), contract.reason_invalid_text(""))
WORDS = {*contract.EVENT_TYPES, *contract.CURRENCIES, *REASONS, *PER_FIELD}
RATES = {rate for rate in contract.RATES_PER_EUR.values() if rate != 1.0}


def _sql_literals(text: str) -> set[str]:
    code = "\n".join(line.split("--", 1)[0] for line in text.splitlines())
    return {m.replace("''", "'") for m in re.findall(r"'((?:[^']|'')*)'", code)}


@pytest.mark.parametrize("path", sorted((sql.SQL_DIR / "flink").glob("*.sql")), ids=lambda p: p.name)
def test_no_flink_statement_writes_a_contract_value_by_hand(path):
    literals = _sql_literals(path.read_text())
    # The change-record reasons of stg_customers / stg_products (lakehouse/sources/cdc.py) share the
    # per-field prefixes; an order field's reason may not be written here.
    per_field = {prefix + f.name for prefix in PER_FIELD for f in contract.FIELDS}
    # Their own reasons (checked against tests/reference_cdc.py by test_cdc.py) include one spelled
    # like the contract's.
    own = {contract.REASON_BAD_JSON} if path.stem in ("stg_customers", "stg_products") else set()
    assert literals & (WORDS | per_field) - own == set(), (
        f"{path.name}: use the {{{{placeholders}}}} of contract.sql_values()"
    )
    code = "\n".join(line.split("--", 1)[0] for line in path.read_text().splitlines())
    for rate in RATES:
        assert not re.search(rf"(?<![\d.]){re.escape(repr(rate))}(?![\d])", code), f"{path.name}: rate {rate}"


def _constants(tree: ast.AST) -> list[ast.Constant]:
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and id(n) not in docstrings]


@pytest.mark.parametrize("module", MODULES)
def test_no_module_that_applies_the_contract_writes_its_values_by_hand(module):
    constants = _constants(ast.parse((REPO / module).read_text()))
    # The read model's statuses are its own words; three of them are spelled like event types.
    own = {*read_model.STEPS, read_model.CANCELLED} if module == "lakehouse/lake/read_model.py" else set()
    copied = sorted({c.value for c in constants if isinstance(c.value, str) and c.value in WORDS - own})
    assert copied == [], f"{module}: name these through lakehouse/contract.py"
    prefixes = [c.value for c in constants if isinstance(c.value, str) and any(p in c.value for p in PER_FIELD)]
    assert prefixes == [], f"{module}: build per-field reasons with contract.reason_*()"
    rates = sorted({c.value for c in constants if isinstance(c.value, float) and c.value in RATES})
    assert rates == [], f"{module}: rates come from contract.RATES_PER_EUR"


def test_the_quality_suites_and_the_read_model_cover_exactly_the_contracts_event_types():
    required = {t: contract.required_columns(t) for t in contract.EVENT_TYPES if contract.required_columns(t)}
    assert quality_suites.REQUIRED_BY_TYPE == required
    assert set(read_model._HANDLERS) == set(contract.EVENT_TYPES)
    assert required[contract.ORDER_PLACED] == ("customer_id", "product_id", "quantity", "amount", "currency")
    assert required[contract.CANCELLED] == ("cancel_reason",)
    assert contract.DELIVERED not in required  # a signature is optional


def test_the_quarantine_suite_accepts_exactly_the_contracts_reasons():
    pattern = _quarantine_reason_pattern()
    for reason in [*REASONS, contract.reason_missing("currency"), contract.reason_wrong_type("amount")]:
        assert re.match(pattern, reason), reason
    for reason in ["unknown reason", contract.reason_missing("") + "a b", contract.REASON_EMPTY + "!"]:
        assert not re.match(pattern, reason), reason


def _quarantine_reason_pattern() -> str:
    import pandas as pd

    frame = pd.DataFrame({"record_id": [], "source_stream": [], "reason": [], "payload": []})
    inputs = quality_suites.Inputs(settings=None, table="bronze.quarantine", version=0, frame=frame, load=None)
    [check] = [c for c in quality_suites.quarantine(inputs) if c.name == "rows"]
    [regex] = [e.regex for e in check.expectations if getattr(e, "regex", None)]
    return regex


def test_the_conversion_is_the_contracts_everywhere():
    from udfs.currency import to_eur

    for amount, currency in [(108.0, "USD"), (85.0, "GBP"), (19.99, "EUR"), (10.0, "USD")]:
        assert to_eur(amount, currency) == contract.to_eur(amount, currency) == read_model._to_eur(amount, currency)
