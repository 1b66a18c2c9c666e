"""Bad input gets a typed CoreError (or CatalogError) with a clear message, and
nothing is written: the row count of every table is unchanged. Idempotency keys:
the same key and request replay the first receipt and write nothing; the same
key with another request is ``idempotency_mismatch``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.errors import CatalogError, CoreError
from core.plans import load_catalog
from tests.conftest import DAY, new_account

SHIPPED_FREE = """
currency = "USD"
[plans.free]
name = "Free"
price = "0"
credits = 0
daily_free_credits = 100
"""


async def refused(counts, call, code: str, *words: str) -> CoreError:
    """Run ``call``; it must raise CoreError ``code`` naming ``words``, and write nothing."""
    before = await counts()
    with pytest.raises(CoreError) as err:
        await call()
    assert err.value.code == code, err.value
    for word in words:
        assert word in err.value.message, (word, err.value.message)
    assert await counts() == before
    return err.value


# ----- unknown names, bad amounts ---------------------------------------------------------

async def test_unknown_plan(core, key, counts):
    acc = await new_account(core, key, plan="basic")
    await refused(counts, lambda: core.change_plan(acc.account_id, "gold", "now", key=key()), "not_found", "gold")
    await refused(counts, lambda: core.quote_plan_change(acc.account_id, "gold"), "not_found", "gold")
    await refused(counts, lambda: core.create_account("x@example.com", key=key(), plan="gold"), "not_found", "gold")
    await refused(counts, lambda: core.admin_change_plan(acc.account_id, "gold", key=key(), actor="m", reason="r"),
                  "not_found", "gold")


async def test_unknown_timing(core, key, counts):
    acc = await new_account(core, key, plan="basic")
    await refused(counts, lambda: core.change_plan(acc.account_id, "pro", "tomorrow", key=key()), "invalid", "timing")


async def test_unknown_bundle(core, key, counts):
    acc = await new_account(core, key)
    await refused(counts, lambda: core.buy_topup(acc.account_id, "credits_1", key=key()), "not_found", "credits_1")


@pytest.mark.parametrize("amount", [0, -1, -500, 1.5, "10", True, None])
async def test_a_spend_that_is_not_a_whole_number_above_zero(core, key, counts, amount):
    acc = await new_account(core, key)
    await refused(counts, lambda: core.spend_credits(acc.account_id, amount, key=key()), "invalid", "above zero")
    assert (await core.snapshot(acc.account_id)).credits.free_today == 100


@pytest.mark.parametrize("delta", [0, 2.5, False])
async def test_a_moderator_adjustment_of_nothing(core, key, counts, delta):
    acc = await new_account(core, key)
    await refused(counts, lambda: core.adjust_credits(acc.account_id, delta, key=key(), actor="m", reason="r"), "invalid")


async def test_a_moderator_removal_beyond_the_balance(core, key, counts):
    acc = await new_account(core, key)
    await refused(counts, lambda: core.adjust_credits(acc.account_id, -101, key=key(), actor="m", reason="r"),
                  "insufficient_credits")


async def test_unknown_account(core, key, counts):
    ghost = "0" * 32
    await refused(counts, lambda: core.snapshot(ghost), "not_found", "account")
    await refused(counts, lambda: core.spend_credits(ghost, 1, key=key()), "not_found", "account")
    await refused(counts, lambda: core.cancel(ghost, "other", key=key()), "not_found", "account")
    await refused(counts, lambda: core.buy_topup(ghost, "credits_500", key=key()), "not_found", "account")
    await refused(counts, lambda: core.change_plan(ghost, "basic", key=key()), "not_found", "account")
    assert await core.find_account("nobody@example.com") is None


async def test_a_charge_of_another_account_is_not_found(core, key, counts):
    a = await new_account(core, key, plan="basic")
    b = await new_account(core, key)
    [invoice] = await core.invoices(a.account_id)
    await refused(counts, lambda: core.cases.open_refund(b.account_id, invoice.id, "other", None, key=key()), "not_found")


async def test_bad_refund_reason_and_details(core, key, counts):
    acc = await new_account(core, key, plan="basic")
    [invoice] = await core.invoices(acc.account_id)
    await refused(counts, lambda: core.cases.open_refund(acc.account_id, invoice.id, "whim", None, key=key()),
                  "invalid", "whim")
    await refused(counts, lambda: core.cases.open_refund(acc.account_id, invoice.id, "other", "x" * 1001, key=key()),
                  "invalid", "1000")


async def test_bad_email_and_duplicate_email(core, key, counts):
    await refused(counts, lambda: core.create_account("not-an-email", key=key()), "invalid", "email")
    await new_account(core, key, "taken")
    await refused(counts, lambda: core.create_account("TAKEN@example.com", key=key()), "already_exists", "taken@example.com")


# ----- link codes -------------------------------------------------------------------------------

async def test_a_link_code_works_once(core, key, counts):
    acc = await new_account(core, key)
    code, expires = await core.issue_link_code(acc.account_id, key=key())
    assert expires == core.clock.now() + timedelta(minutes=30)
    linked = await core.link_discord(code.lower(), "1001", key=key())  # case-insensitive
    assert linked.discord_id == "1001"
    await refused(counts, lambda: core.link_discord(code, "2002", key=key()), "code_invalid", "already used")


async def test_an_expired_link_code(core, clock, key, counts):
    acc = await new_account(core, key)
    code, _ = await core.issue_link_code(acc.account_id, key=key())
    clock.advance(timedelta(minutes=30))
    await refused(counts, lambda: core.link_discord(code, "1001", key=key()), "code_invalid", "expired")
    assert (await core.snapshot(acc.account_id)).discord_id is None


async def test_an_unknown_link_code(core, key, counts):
    await new_account(core, key)
    await refused(counts, lambda: core.link_discord("ABCD-EFGH", "1001", key=key()), "code_invalid", "unknown")


async def test_a_discord_user_links_to_one_account_only(core, key, counts):
    a = await new_account(core, key, discord="1001")
    b = await new_account(core, key)
    code, _ = await core.issue_link_code(b.account_id, key=key())
    await refused(counts, lambda: core.link_discord(code, "1001", key=key()), "already_linked")
    assert a.discord_id == "1001"


# ----- a corrupt catalog -------------------------------------------------------------------------

CORRUPT_CATALOGS = {
    "invalid TOML": ('currency = "USD"\n[plans.free\nname = "Free"\n', "not valid TOML"),
    "a float price": (SHIPPED_FREE + '[plans.basic]\nname = "Basic"\nprice = 9.99\ncredits = 1500\n', "quoted decimal"),
    "no free plan": ('currency = "USD"\n[plans.basic]\nname = "Basic"\nprice = "9.99"\ncredits = 1500\n', "plans.free"),
    "negative credits": (SHIPPED_FREE + '[plans.basic]\nname = "Basic"\nprice = "9.99"\ncredits = -5\n', "'credits'"),
    "negative price": (SHIPPED_FREE + '[plans.basic]\nname = "Basic"\nprice = "-9.99"\ncredits = 5\n', "negative"),
    "sub-cent price": (SHIPPED_FREE + '[plans.basic]\nname = "Basic"\nprice = "9.999"\ncredits = 5\n', "9.999"),
    "a paid plan for nothing": (SHIPPED_FREE + '[plans.basic]\nname = "Basic"\nprice = "0"\ncredits = 5\n', "above 0"),
    "a priced free plan": (SHIPPED_FREE.replace('price = "0"', 'price = "1.00"'), "free plan must cost 0"),
    "no currency": (SHIPPED_FREE.replace('currency = "USD"', ""), "currency"),
    "a bad period": (SHIPPED_FREE + '[plans.basic]\nname = "Basic"\nprice = "9.99"\nperiod = "week"\n', "period"),
    "a nameless plan": (SHIPPED_FREE + '[plans.basic]\nprice = "9.99"\ncredits = 5\n', "name"),
    "a bundle of no credits": (SHIPPED_FREE + '[bundles.b]\ncredits = 0\nprice = "1.00"\n', "'credits'"),
    "a float bundle price": (SHIPPED_FREE + '[bundles.b]\ncredits = 10\nprice = 1.0\n', "quoted decimal"),
    "bundles not a table": ('bundles = [1, 2]\n' + SHIPPED_FREE, "bundles"),
    "a fractional seat count": (SHIPPED_FREE.replace("daily_free_credits = 100", "daily_free_credits = 100\nseats = 1.5"),
                                "'seats'"),
}


@pytest.mark.parametrize("kind", list(CORRUPT_CATALOGS))
def test_a_corrupt_catalog_is_a_catalog_error_naming_the_problem(tmp_path, kind):
    text, words = CORRUPT_CATALOGS[kind]
    path = tmp_path / "plans.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    assert isinstance(err.value, CoreError) and err.value.code == "bad_catalog"
    assert words in err.value.message and str(path) in err.value.message


def test_a_missing_or_unreadable_catalog_is_a_catalog_error(tmp_path):
    with pytest.raises(CatalogError, match="not found"):
        load_catalog(tmp_path / "nope.toml")
    with pytest.raises(CatalogError, match="cannot be read"):
        load_catalog(tmp_path)  # a directory
    (tmp_path / "latin1.toml").write_bytes('currency = "USD" # caf\xe9\n'.encode("latin-1"))
    with pytest.raises(CatalogError, match="not valid TOML"):
        load_catalog(tmp_path / "latin1.toml")


def test_the_minimal_valid_catalog_loads(tmp_path):
    path = tmp_path / "plans.toml"
    path.write_text(SHIPPED_FREE, encoding="utf-8")
    catalog = load_catalog(path)
    assert list(catalog.plans) == ["free"] and catalog.bundles == {}


# ----- idempotency ---------------------------------------------------------------------------------

async def _setup_for(core, key, op):
    """An account ready for ``op``; returns (account_id, call(k) → receipt or value)."""
    plan = {"resume": "plus", "cancel": "plus", "cancel_change": "basic", "upgrade_now": "basic",
            "upgrade_end": "basic", "decide": "basic", "open_refund": "basic"}.get(op, "free")
    acc = await new_account(core, key, plan=plan)
    aid = acc.account_id
    if op == "resume":
        await core.cancel(aid, "other", key=key())
    if op == "cancel_change":
        await core.change_plan(aid, "plus", "end", key=key())
    invoice = (await core.invoices(aid))[0].id if plan != "free" else None
    case = None
    if op == "decide":
        case = await core.cases.open_refund(aid, invoice, "service_problem", None, key=key())
    calls = {
        "spend": lambda k: core.spend_credits(aid, 30, key=k),
        "topup": lambda k: core.buy_topup(aid, "credits_500", key=k),
        "subscribe": lambda k: core.change_plan(aid, "plus", key=k),
        "upgrade_now": lambda k: core.change_plan(aid, "pro", "now", key=k),
        "upgrade_end": lambda k: core.change_plan(aid, "pro", "end", key=k),
        "cancel": lambda k: core.cancel(aid, "too_expensive", "meh", key=k),
        "resume": lambda k: core.resume(aid, key=k),
        "cancel_change": lambda k: core.cancel_scheduled_change(aid, key=k),
        "adjust": lambda k: core.adjust_credits(aid, 50, key=k, actor="m", reason="gift"),
        "open_refund": lambda k: core.cases.open_refund(aid, invoice, "other", None, key=k),
        "decide": lambda k: core.cases.decide(case.id, True, key=k, actor="m", reason="outage"),
        "create_account": lambda k: core.create_account("again@example.com", key=k),
    }
    return aid, calls[op]


IDEMPOTENT_OPS = ["spend", "topup", "subscribe", "upgrade_now", "upgrade_end", "cancel", "resume", "cancel_change",
                  "adjust", "open_refund", "decide", "create_account"]


@pytest.mark.parametrize("op", IDEMPOTENT_OPS)
async def test_the_same_key_and_request_returns_the_first_result_and_writes_nothing(core, clock, key, counts, op):
    _, call = await _setup_for(core, key, op)
    k = key("confirm")
    first = await call(k)
    after_first = await counts()
    charges = dict(core.payments.charges)
    clock.advance(timedelta(minutes=3))  # a late double click
    for _ in range(3):
        assert await call(k) == first
    assert await counts() == after_first
    assert core.payments.charges == charges


async def test_the_same_key_replays_the_first_receipt_even_after_the_account_moved_on(core, clock, key):
    acc = await new_account(core, key)
    first = await core.spend_credits(acc.account_id, 30, key="spend-1")
    await core.spend_credits(acc.account_id, 50, key="spend-2")
    clock.advance(DAY)
    assert await core.spend_credits(acc.account_id, 30, key="spend-1") == first
    assert first.balance == 70
    assert (await core.snapshot(acc.account_id)).credits.free_today == 100


@pytest.mark.parametrize("op", ["spend", "topup", "cancel", "subscribe"])
async def test_the_same_key_with_another_request_is_idempotency_mismatch(core, key, counts, op):
    aid, call = await _setup_for(core, key, op)
    await call("shared-key")
    other = {
        "spend": lambda: core.spend_credits(aid, 31, key="shared-key"),
        "topup": lambda: core.buy_topup(aid, "credits_2000", key="shared-key"),
        "cancel": lambda: core.cancel(aid, "other", key="shared-key"),
        "subscribe": lambda: core.change_plan(aid, "pro", "now", key="shared-key"),
    }[op]
    await refused(counts, other, "idempotency_mismatch", "different request")


async def test_a_key_reused_on_another_account_or_operation_is_idempotency_mismatch(core, key, counts):
    a = await new_account(core, key)
    b = await new_account(core, key)
    await core.spend_credits(a.account_id, 10, key="k")
    await refused(counts, lambda: core.spend_credits(b.account_id, 10, key="k"), "idempotency_mismatch")
    await refused(counts, lambda: core.buy_topup(a.account_id, "credits_500", key="k"), "idempotency_mismatch")
    await refused(counts, lambda: core.create_account("c@example.com", key="k"), "idempotency_mismatch")


async def test_a_help_request_key_reused_with_another_request_is_idempotency_mismatch(core, key, counts):
    acc = await new_account(core, key, discord="42")
    asked = {"topic": "help", "details": "my card was charged"}
    first = await core.cases.open_help("42", acc.account_id, asked, key="help-1")
    after_first = await counts()
    assert await core.cases.open_help("42", acc.account_id, dict(asked), key="help-1") == first  # a double click
    assert await counts() == after_first
    other = {"topic": "help", "details": "something else"}
    await refused(counts, lambda: core.cases.open_help("42", acc.account_id, other, key="help-1"),
                  "idempotency_mismatch", "different request")
    await refused(counts, lambda: core.cases.open_help("43", None, asked, key="help-1"), "idempotency_mismatch")
    await refused(counts, lambda: core.spend_credits(acc.account_id, 1, key="help-1"), "idempotency_mismatch")


@pytest.mark.parametrize("bad_key", ["", "x" * 256])
async def test_a_missing_or_oversized_key_is_refused(core, key, counts, bad_key):
    acc = await new_account(core, key)
    await refused(counts, lambda: core.spend_credits(acc.account_id, 1, key=bad_key), "invalid", "idempotency key")
