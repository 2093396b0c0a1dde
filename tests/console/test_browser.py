"""The console and GraphiQL in Debian's Chromium (Playwright), against a real server
process, PostgreSQL and Redis. Each test runs one scenario of tests/node/console_e2e.mjs;
what it checks is listed there, check by check, and every check must pass."""

from __future__ import annotations

from tests.console.conftest import Console, run_scenario


def test_sign_in_keeps_the_token_for_the_tab_not_in_a_cookie(console: Console) -> None:
    run = run_scenario(console, "signin")
    assert "the token is not in a cookie" in run.checks
    assert "a bad token is refused with the reason" in run.checks


def test_orders_sort_filter_and_scroll_past_the_first_page_without_duplicates(
    console: Console,
) -> None:
    run = run_scenario(console, "orders")
    assert "no order is shown twice" in run.checks
    assert "every order of the total is shown" in run.checks
    assert "sorted by total, ascending" in run.checks


def test_status_change_is_optimistic_and_rolled_back_on_conflict(console: Console) -> None:
    run = run_scenario(console, "status")
    assert "the new status shows at once (optimistic)" in run.checks
    assert "the server has it" in run.checks
    assert "CONFLICT is shown as changed by someone else" in run.checks
    assert "the optimistic PAID is rolled back" in run.checks


def test_stock_edit_is_optimistic_and_rolled_back_on_conflict(console: Console) -> None:
    run = run_scenario(console, "stock")
    assert "a stock edit is saved" in run.checks
    assert "and the stock goes back" in run.checks
    assert "nothing was written" in run.checks


def test_product_form_shows_client_checks_and_the_servers_field_error(console: Console) -> None:
    run = run_scenario(console, "product_form")
    assert "a price with three decimals is refused before sending" in run.checks
    assert "the server's SKU_TAKEN shows next to the SKU" in run.checks
    assert "an edit over someone else's is a conflict" in run.checks


def test_create_user_form_checks_like_the_server_and_shows_email_taken(
    console: Console,
) -> None:
    run = run_scenario(console, "user_form")
    assert "a malformed email is refused next to the field" in run.checks
    assert "a 101-character name is refused next to the field" in run.checks
    assert "nothing was sent while the client's checks fail" in run.checks
    assert "the server's EMAIL_TAKEN shows next to the email" in run.checks
    assert "and no second user was written" in run.checks
    assert "the server stored it trimmed and lowercased, with the 100-character name" in run.checks


def test_user_page_exports_and_erases_after_a_confirmation(console: Console) -> None:
    run = run_scenario(console, "users")
    assert "the personal data export downloads as JSON" in run.checks
    assert "erasing waits for the typed confirmation" in run.checks
    assert "the user is erased (pseudonymous now)" in run.checks


def test_audit_trail_filters_and_sorts(console: Console) -> None:
    run = run_scenario(console, "audit")
    assert "the audit trail filters by action" in run.checks


def test_search_autocompletes_a_product_by_a_stemmed_word(console: Console) -> None:
    run = run_scenario(console, "search")
    assert "the stemmed word finds a chair" in run.checks
    assert "the match is highlighted" in run.checks
    assert "a suggestion opens from the keyboard" in run.checks


def test_csv_export_rows_match_the_table(console: Console) -> None:
    run = run_scenario(console, "export")
    assert "the CSV has the table's rows, in its order" in run.checks
    assert "an order's invoice downloads" in run.checks


def test_json_export_has_the_views_rows_in_its_order(console: Console) -> None:
    run = run_scenario(console, "export_json")
    assert "the JSON has the table's rows, in its order" in run.checks
    assert "every record matches the view's filter" in run.checks
    assert "the products JSON has the searched table's rows, in its order" in run.checks


def test_import_shows_the_bad_rows_line_number(console: Console) -> None:
    run = run_scenario(console, "import")
    assert "the bad row is listed with its line number" in run.checks


def test_an_order_from_another_client_appears_in_the_feed_and_the_table(
    console: Console,
) -> None:
    run = run_scenario(console, "live")
    assert "another client's order appears in the table, in its place (newest first)" in run.checks
    assert "a status changed elsewhere changes the row in place" in run.checks


def test_a_row_moved_out_of_a_filtered_view_by_another_client_leaves_it(
    console: Console,
) -> None:
    run = run_scenario(console, "live_filter")
    assert "an order paid elsewhere leaves the pending view" in run.checks
    assert "and totalCount goes down by one" in run.checks
    assert "the count shown is the server's" in run.checks
    assert "a product sold out elsewhere leaves the in-stock view" in run.checks
    assert "a price cut elsewhere moves the row to the top of the price-sorted view" in run.checks
    assert "the view is the server's, row for row" in run.checks


def test_the_feed_resumes_with_after_when_the_socket_comes_back(console: Console) -> None:
    run = run_scenario(console, "resume")
    assert "after reconnecting, the missed order arrives (resumed with after)" in run.checks


def test_graphiql_runs_a_typed_query_with_nothing_but_loopback(console: Console) -> None:
    run = run_scenario(console, "graphiql")
    assert "a query typed into GraphiQL returns data" in run.checks
    assert "the headers editor holds the console's token" in run.checks
