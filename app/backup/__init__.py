"""Backups and restores: `ordergraph backup` and `ordergraph restore`.

binaries.py   which pg_dump / pg_restore suits the server
pg.py         what the tools and the checks ask PostgreSQL
manifest.py   what a backup says about itself
container.py  the file: header, manifest, payload
crypto.py     streaming AES-256-GCM for --encrypt
dump.py       taking a backup
restore.py    checking and restoring one
erasures.py   the hook that re-applies erasures recorded after a backup
"""
