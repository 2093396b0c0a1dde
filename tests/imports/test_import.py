"""Importing CSV files through importProducts/importUsers, in-process, on real PostgreSQL:
the policies, upsert counts, dry runs, audit records and events, the mutations' codes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.errors import InvalidInput
from app.services.products import NewProduct
from app.services.validation import validate
from tests.conftest import Api, running_app
from tests.dbtools import fetch_all, fetch_value
from tests.graphql.mutations import CREATE_PRODUCT
from tests.imports.uploads import IMPORT_USERS, upload

GOOD = b"sku,name,price,stock\nimp-1,Oak desk,199.90,3\nimp-2,Lamp,19,0\n"


async def count(api: Api, sql: str, **params: object) -> int:
    value: int = await fetch_value(api.url, sql, **params)
    return value


async def imported(api: Api) -> int:
    return await count(api, "SELECT count(*) FROM products WHERE sku LIKE 'IMP-%'")


async def test_import_creates_products_with_one_audit_record_and_event_each(wapi: Api) -> None:
    payload = await upload(wapi, GOOD)
    assert payload == {
        "created": 2, "updated": 0, "unchanged": 0, "failed": 0,
        "written": True, "dryRun": False, "errors": [],
    }  # fmt: skip
    rows = await fetch_all(
        wapi.url, "SELECT sku, name, price, stock, version FROM products WHERE sku LIKE 'IMP-%' "
        "ORDER BY sku"
    )  # fmt: skip
    assert [tuple(r) for r in rows] == [
        ("IMP-1", "Oak desk", Decimal("199.90"), 3, 1),
        ("IMP-2", "Lamp", Decimal("19.00"), 0, 1),
    ]
    audit = await fetch_all(
        wapi.url,
        "SELECT a.action, a.actor_kind, u.email, a.changes FROM audit_events a "
        "JOIN users u ON u.id = a.actor_id JOIN products p ON p.id = a.entity_id "
        "WHERE p.sku = 'IMP-1'",
    )
    assert [tuple(r) for r in audit] == [
        (
            "product.created",
            "user",
            "admin@example.com",
            {
                "sku": {"before": None, "after": "IMP-1"},
                "name": {"before": None, "after": "Oak desk"},
                "description": {"before": None, "after": ""},
                "price": {"before": None, "after": "199.90"},
                "stock": {"before": None, "after": 3},
            },
        )
    ]
    events = await fetch_all(
        wapi.url,
        "SELECT e.type, e.changed_fields, e.data->>'sku' AS sku, e.data->>'price' AS price "
        "FROM (SELECT type, changed_fields, data FROM outbox UNION ALL "
        "SELECT type, changed_fields, data FROM events) e "
        "WHERE e.data->>'sku' LIKE 'IMP-%' ORDER BY 3",
    )
    assert [tuple(r) for r in events] == [
        ("CREATED", [], "IMP-1", "199.90"),
        ("CREATED", [], "IMP-2", "19.00"),
    ]


async def test_upsert_counts_created_updated_and_unchanged_and_audits_only_changes(
    wapi: Api,
) -> None:
    await upload(wapi, GOOD)
    payload = await upload(
        wapi,
        b"sku,name,price,stock\nimp-1,Oak desk,199.90,3\nimp-2,Lamp,19,5\nimp-3,Rug,7.5,1\n",
        mode="UPSERT",
    )
    assert (payload["created"], payload["updated"], payload["unchanged"]) == (1, 1, 1)
    lamp = await fetch_all(
        wapi.url,
        "SELECT p.stock, p.version, a.changes FROM products p JOIN audit_events a "
        "ON a.entity_id = p.id AND a.action = 'product.updated' WHERE p.sku = 'IMP-2'",
    )
    assert [tuple(r) for r in lamp] == [(5, 2, {"stock": {"before": 0, "after": 5}})]
    desk_audits = await count(
        wapi,
        "SELECT count(*) FROM audit_events a JOIN products p ON p.id = a.entity_id "
        "WHERE p.sku = 'IMP-1'",
    )
    assert desk_audits == 1  # created only: the unchanged row wrote nothing
    fields = await fetch_value(
        wapi.url,
        "SELECT changed_fields FROM (SELECT type, changed_fields, data FROM outbox UNION ALL "
        "SELECT type, changed_fields, data FROM events) e "
        "WHERE type = 'UPDATED' AND data->>'sku' = 'IMP-2'",
    )
    assert fields == ["stock", "inStock"]


async def test_insert_refuses_a_sku_that_exists_with_the_mutations_code(wapi: Api) -> None:
    await upload(wapi, GOOD)
    payload = await upload(wapi, b"sku,name,price\nIMP-1,Again,1\n")
    assert payload["written"] is False
    assert [(e["line"], e["column"], e["code"]) for e in payload["errors"]] == [
        (2, "sku", "SKU_TAKEN")
    ]


BAD_ROWS = (
    b"sku,name,price,stock\n"
    b"imp-1,Oak desk,199.90,3\n"
    b"imp-2,,1.999,-1\n"
    b"imp-3,Lamp,19,0\n"
    b"!,Bad sku,1,1\n"
)
BAD_ROW_ERRORS = [
    (3, "name", "TOO_SHORT"),
    (3, "price", "TOO_PRECISE"),
    (3, "stock", "TOO_SMALL"),
    (5, "sku", "INVALID_FORMAT"),
]


async def test_reject_everything_writes_nothing_when_a_row_is_bad(wapi: Api) -> None:
    audits = await count(wapi, "SELECT count(*) FROM audit_events")
    payload = await upload(wapi, BAD_ROWS, policy="REJECT_EVERYTHING")
    assert (payload["created"], payload["failed"], payload["written"]) == (0, 2, False)
    assert [(e["line"], e["column"], e["code"]) for e in payload["errors"]] == BAD_ROW_ERRORS
    assert await imported(wapi) == 0
    assert await count(wapi, "SELECT count(*) FROM audit_events") == audits


async def test_reject_failed_rows_writes_the_good_rows_and_lists_the_bad(wapi: Api) -> None:
    payload = await upload(wapi, BAD_ROWS, policy="REJECT_FAILED_ROWS")
    assert (payload["created"], payload["failed"], payload["written"]) == (2, 2, True)
    assert [(e["line"], e["column"], e["code"]) for e in payload["errors"]] == BAD_ROW_ERRORS
    assert await imported(wapi) == 2


async def test_ignore_failed_writes_the_good_rows_and_only_counts_the_bad(wapi: Api) -> None:
    payload = await upload(wapi, BAD_ROWS, policy="IGNORE_FAILED")
    assert (payload["created"], payload["failed"], payload["errors"]) == (2, 2, [])
    assert await imported(wapi) == 2


async def test_a_dry_run_counts_what_it_would_do_and_writes_nothing(wapi: Api) -> None:
    outbox = await count(wapi, "SELECT count(*) FROM outbox")
    audits = await count(wapi, "SELECT count(*) FROM audit_events")
    payload = await upload(wapi, GOOD, dryRun=True)
    assert (payload["created"], payload["written"], payload["dryRun"]) == (2, False, True)
    assert await imported(wapi) == 0
    assert await count(wapi, "SELECT count(*) FROM audit_events") == audits
    assert await count(wapi, "SELECT count(*) FROM outbox") == outbox


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("sku", "a"),
        ("sku", "-ab"),
        ("sku", "x" * 41),
        ("name", ""),
        ("name", "n" * 101),
        ("description", "d" * 5001),
        ("price", "abc"),
        ("price", "-1"),
        ("price", "0.001"),
        ("price", "123456789.12"),
        ("stock", "1.5"),
        ("stock", "-1"),
        ("stock", "1000000001"),
    ],
)
async def test_a_bad_value_gets_the_code_and_message_the_mutation_gives(
    wapi: Api, column: str, value: str
) -> None:
    row = {"sku": "imp-9", "name": "Thing", "description": "", "price": "1", "stock": "0"}
    row[column] = value
    with pytest.raises(InvalidInput) as mutation:
        validate(NewProduct, **row)
    content = ("sku,name,description,price,stock\n" + ",".join(row.values()) + "\n").encode()
    payload = await upload(wapi, content)
    [problem] = mutation.value.problems
    assert [(e["column"], e["code"], e["message"]) for e in payload["errors"]] == [
        (column, problem.code, problem.message)
    ]


async def test_users_import_normalises_emails_as_create_user_does(wapi: Api) -> None:
    payload = await upload(
        wapi,
        b"email,name,role\n Ann@Example.COM ,Ann,admin\nnot-an-email,Bob,user\n"
        b"c@example.com,Cy,boss\n",
        document=IMPORT_USERS,
        policy="REJECT_FAILED_ROWS",
    )
    assert payload["created"] == 1
    assert [(e["line"], e["column"], e["code"]) for e in payload["errors"]] == [
        (3, "email", "INVALID_EMAIL"),
        (4, "role", "INVALID"),
    ]
    row = await fetch_all(
        wapi.url,
        "SELECT role, email_verified_at IS NOT NULL AS trusted FROM users "
        "WHERE email = 'ann@example.com'",
    )
    assert [tuple(r) for r in row] == [("admin", True)]


async def test_imported_audit_record_and_event_are_shaped_as_the_mutation_writes_them(
    wapi: Api,
) -> None:
    """The merge builds audit `changes` and event `data` in SQL: byte for byte what
    createProduct writes, apart from the row's own id, sku and times."""
    await wapi.data(
        CREATE_PRODUCT,
        {"input": {"sku": "MUT-1", "name": "Oak desk", "description": "", "price": "199.9",
                   "stock": 3}},
    )  # fmt: skip
    await upload(wapi, b"sku,name,description,price,stock\nimp-1,Oak desk,,199.9,3\n")
    rows = await fetch_all(
        wapi.url,
        "SELECT p.sku, a.changes, o.data FROM products p "
        "JOIN audit_events a ON a.entity_id = p.id "
        "JOIN (SELECT entity_id, data FROM outbox UNION ALL SELECT entity_id, data FROM events) "
        "o ON o.entity_id = p.id WHERE p.sku IN ('MUT-1', 'IMP-1') ORDER BY p.sku",
    )
    (_, imported_changes, imported_data), (_, mutation_changes, mutation_data) = rows
    assert imported_changes.pop("sku") == {"before": None, "after": "IMP-1"}
    assert mutation_changes.pop("sku") == {"before": None, "after": "MUT-1"}
    assert imported_changes == mutation_changes
    own = {"id", "sku", "created_at", "updated_at"}
    assert set(imported_data) == set(mutation_data)
    assert {k: v for k, v in imported_data.items() if k not in own} == {
        k: v for k, v in mutation_data.items() if k not in own
    }


async def test_upsert_leaves_unchanged_rows_unlocked_and_unwritten(wapi: Api) -> None:
    """A row the file leaves as it is is compared before any lock: no tuple lock (which
    would dirty its page and hold up other writers), no new version."""
    await upload(wapi, GOOD)
    before = await fetch_all(wapi.url, "SELECT sku, ctid::text, xmax::text FROM products "
                             "WHERE sku LIKE 'IMP-%' ORDER BY sku")  # fmt: skip
    payload = await upload(wapi, b"sku,name,price,stock\nimp-1,Oak desk,199.90,3\n", mode="UPSERT")
    assert (payload["created"], payload["updated"], payload["unchanged"]) == (0, 0, 1)
    after = await fetch_all(wapi.url, "SELECT sku, ctid::text, xmax::text FROM products "
                            "WHERE sku LIKE 'IMP-%' ORDER BY sku")  # fmt: skip
    assert [tuple(r) for r in after] == [tuple(r) for r in before]
    assert after[0][2] == "0"


async def test_skus_at_the_length_bounds_are_accepted_as_the_mutation_accepts_them(
    wapi: Api,
) -> None:
    """The SKU pattern's {1,39} is checked as * and a length range (rules._pattern_test):
    the shortest and longest SKUs it allows still pass, one over still fails."""
    skus = ["i2", "i-", "I" + "-" * 39, "IMP-" + "x" * 36]
    for sku in skus:
        validate(NewProduct, sku=sku, name="Thing", price="1")
    content = "sku,name,price\n" + "".join(f"{sku},Thing,1\n" for sku in skus)
    payload = await upload(wapi, content.encode())
    assert (payload["created"], payload["errors"]) == (4, [])
    too_long = await upload(wapi, ("sku,name,price\n" + "I" * 41 + ",Thing,1\n").encode())
    assert [e["code"] for e in too_long["errors"]] == ["INVALID_FORMAT"]


async def test_a_large_import_is_not_cut_off_by_the_api_statement_timeout(wapi: Api) -> None:
    """DB_STATEMENT_TIMEOUT_MS bounds the API's statements; one merge batch of an import
    takes longer than a small bound, and the import must still complete."""
    lines = "".join(f"big-{n},Product {n},{n % 500}.25,{n % 7}\n" for n in range(40_000))
    async with running_app(wapi.url, db_statement_timeout_ms=50) as api:
        payload = await upload(api, ("sku,name,price,stock\n" + lines).encode())
    assert (payload["created"], payload["failed"]) == (40_000, 0)
    assert await count(wapi, "SELECT count(*) FROM products WHERE sku LIKE 'BIG-%'") == 40_000
