"""The planned read path: a query compiled once per document, then run as a plan.

A plan is built from a parsed and validated document (app.graphql.documents keeps it
beside them), for one operation and one set of @skip/@include values. Per level it
knows what to read (the same loaders, statements and visibility rules the resolvers
use) and how to write each field of the answer straight into the output, in field
order: no resolver call, no Strawberry object and no graphql-core machinery per field.

What a plan covers is listed in `compile.py`; anything else (and any request whose
arguments a rule refuses) runs through graphql-core's executor, so the answer, its
errors and its statements are the executor's in every case.
"""
