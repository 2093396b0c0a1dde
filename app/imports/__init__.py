"""Bulk import from CSV: parse as a stream, COPY into a staging table, check the rows
there with the mutations' own rules, then merge in one statement per batch, writing
audit records and outbox events as the single mutations do.

    formats.py   what a file of each entity holds, modes and error policies
    rules.py     the input models' limits, as SQL checks on the staging table
    csvfile.py   reading a CSV file: encoding, header, records with their line numbers
    staging.py   the temporary tables, COPY, and the checks that fill the error table
    merge.py     the set-based write, with its audit records and events
    run.py       one import, start to end: `import_csv`
"""
